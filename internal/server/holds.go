package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

// maxHoldReason bounds a hold's reason, as the CRD schema does.
const maxHoldReason = 1024

// maxHoldAttempts bounds the retries of a hold that races with other
// writes of the object's status.
const maxHoldAttempts = 5

// holdRoutes are the endpoints of holds and freezes. Each takes a virtual
// verb on stages (checked as the caller) and writes, with the server's own
// identity, one field of a status no user role may write: status.hold of
// the Stage, status.freeze of the Project. Who set it is the caller as
// authenticated, never anything the request says.
func (s *Server) holdRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/stages/{name}/hold", handle: s.holdStage,
			audit: auditing(kargoapi.AuditActionHold, "Stage", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/stages/{name}/release", handle: s.releaseStage,
			audit: auditing(kargoapi.AuditActionRelease, "Stage", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/freeze", handle: s.freezeProject,
			audit: auditing(kargoapi.AuditActionFreeze, "Project", "project")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/unfreeze", handle: s.unfreezeProject,
			audit: auditing(kargoapi.AuditActionUnfreeze, "Project", "project")},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/freeze", handle: s.getFreeze},
	}
}

// getFreeze answers the project's freeze to whoever may list its Stages:
// they see why their promotions wait, though a RoleBinding in the project
// does not let them get the cluster-scoped Project itself.
func (s *Server) getFreeze(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	project := r.PathValue("project")
	if err := s.authz.check(r.Context(), u, kargoAccess("list", stageKind.resource, project, "")); err != nil {
		return err
	}
	obj, err := s.read(r.Context(), projectKind, "", project)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return notFound("project %q not found", project)
		}
		return err
	}
	writeJSON(w, http.StatusOK, apitypes.Freeze{Freeze: obj.(*kargoapi.Project).Status.Freeze})
	return nil
}

// holdReason reads and checks the reason of a hold or freeze request.
func holdReason(w http.ResponseWriter, r *http.Request) (string, error) {
	var req apitypes.HoldRequest
	if err := decodeBody(w, r, &req); err != nil {
		return "", err
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		return "", badRequest("say why with reason: it is shown to everyone whose promotions wait")
	}
	if len(reason) > maxHoldReason {
		return "", badRequest("reason has %d characters; at most %d", len(reason), maxHoldReason)
	}
	noteOf(r.Context()).detail("reason", reason)
	return reason, nil
}

func (s *Server) holdStage(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := s.authz.check(r.Context(), u, kargoAccess(kargoapi.HoldVerb, stageKind.resource, project, name)); err != nil {
		return err
	}
	reason, err := holdReason(w, r)
	if err != nil {
		return err
	}
	hold := &kargoapi.Hold{Reason: reason, By: u.Username, At: metav1.NewTime(time.Now().UTC().Truncate(time.Second))}
	return s.setStageHold(w, r, u, project, name, hold)
}

func (s *Server) releaseStage(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := s.authz.check(r.Context(), u, kargoAccess(kargoapi.ReleaseVerb, stageKind.resource, project, name)); err != nil {
		return err
	}
	return s.setStageHold(w, r, u, project, name, nil)
}

// setStageHold sets (hold) or lifts (nil) the Stage's hold: a Stage held
// already is not held again (that would rewrite who held it), and one not
// held is not released. The write carries the resourceVersion read, so two
// callers racing cannot both succeed.
func (s *Server) setStageHold(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo, project, name string, hold *kargoapi.Hold) error {
	ctx := context.WithoutCancel(r.Context())
	key := client.ObjectKey{Namespace: project, Name: name}
	for attempt := 1; ; attempt++ {
		st := &kargoapi.Stage{}
		if err := s.direct.Get(ctx, key, st); err != nil {
			if apierrors.IsNotFound(err) {
				return s.orMissingProject(ctx, project, notFoundIn(stageKind, project, name))
			}
			return fmt.Errorf("read Stage %s: %w", name, err)
		}
		if cur := st.Status.Hold; hold != nil && cur != nil {
			return newError(http.StatusConflict, metav1.StatusReasonConflict,
				"Stage %q is held already, by %s since %s (%q); release it first to hold it again", name, cur.By, cur.At.UTC().Format(time.RFC3339), cur.Reason)
		}
		if hold == nil && st.Status.Hold == nil {
			return newError(http.StatusConflict, metav1.StatusReasonConflict, "Stage %q is not held", name)
		}
		if hold == nil {
			noteOf(r.Context()).detail("heldBy", st.Status.Hold.By)
		}
		err := s.patchStatus(ctx, st, st.ResourceVersion, "hold", hold)
		if err == nil {
			s.awaitCache(ctx, st)
			return s.answerHeld(ctx, w, u, st)
		}
		if !apierrors.IsConflict(err) || attempt == maxHoldAttempts {
			return fmt.Errorf("write the hold of Stage %s: %w", name, err)
		}
	}
}

// patchStatus merge-patches one field of obj's status, under the
// optimistic lock of resourceVersion.
func (s *Server) patchStatus(ctx context.Context, obj client.Object, resourceVersion, field string, value *kargoapi.Hold) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": resourceVersion},
		"status":   map[string]any{field: value},
	})
	if err != nil {
		return err
	}
	return s.direct.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
}

// answerHeld answers a hold or release: the Stage when the caller may read
// it, and otherwise only its hold.
func (s *Server) answerHeld(ctx context.Context, w http.ResponseWriter, u authenticationv1.UserInfo, st *kargoapi.Stage) error {
	ok, err := s.mayGet(ctx, u, stageKind, st.Namespace, st.Name)
	if err != nil {
		return err
	}
	if !ok {
		st = &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: st.Name, Namespace: st.Namespace, ResourceVersion: st.ResourceVersion},
			Status:     kargoapi.StageStatus{Hold: st.Status.Hold},
		}
	}
	return writeObject(w, http.StatusOK, st, stageKind)
}

func (s *Server) freezeProject(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	project := r.PathValue("project")
	if err := s.authz.check(r.Context(), u, kargoAccess(kargoapi.FreezeVerb, stageKind.resource, project, "")); err != nil {
		return err
	}
	reason, err := holdReason(w, r)
	if err != nil {
		return err
	}
	freeze := &kargoapi.Hold{Reason: reason, By: u.Username, At: metav1.NewTime(time.Now().UTC().Truncate(time.Second))}
	return s.setFreeze(w, r, project, freeze)
}

func (s *Server) unfreezeProject(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	project := r.PathValue("project")
	if err := s.authz.check(r.Context(), u, kargoAccess(kargoapi.UnfreezeVerb, stageKind.resource, project, "")); err != nil {
		return err
	}
	return s.setFreeze(w, r, project, nil)
}

// setFreeze sets (freeze) or lifts (nil) the project's freeze, as
// setStageHold does a Stage's hold. The answer is the Project's name and
// freeze only: a project's members read it through its namespace, and may
// not be able to get the cluster-scoped Project itself.
func (s *Server) setFreeze(w http.ResponseWriter, r *http.Request, project string, freeze *kargoapi.Hold) error {
	ctx := context.WithoutCancel(r.Context())
	for attempt := 1; ; attempt++ {
		p := &kargoapi.Project{}
		if err := s.direct.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
			if apierrors.IsNotFound(err) {
				return notFound("project %q not found", project)
			}
			return fmt.Errorf("read Project %s: %w", project, err)
		}
		if cur := p.Status.Freeze; freeze != nil && cur != nil {
			return newError(http.StatusConflict, metav1.StatusReasonConflict,
				"project %q is frozen already, by %s since %s (%q); unfreeze it first to freeze it again", project, cur.By, cur.At.UTC().Format(time.RFC3339), cur.Reason)
		}
		if freeze == nil && p.Status.Freeze == nil {
			return newError(http.StatusConflict, metav1.StatusReasonConflict, "project %q is not frozen", project)
		}
		if freeze == nil {
			noteOf(r.Context()).detail("frozenBy", p.Status.Freeze.By)
		}
		err := s.patchStatus(ctx, p, p.ResourceVersion, "freeze", freeze)
		if err == nil {
			s.awaitCache(ctx, p)
			answer := &kargoapi.Project{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, ResourceVersion: p.ResourceVersion},
				Status:     kargoapi.ProjectStatus{Freeze: p.Status.Freeze},
			}
			return writeObject(w, http.StatusOK, answer, projectKind)
		}
		if !apierrors.IsConflict(err) || attempt == maxHoldAttempts {
			return fmt.Errorf("write the freeze of project %s: %w", project, err)
		}
	}
}
