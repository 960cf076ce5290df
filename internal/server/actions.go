package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/transport"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/freight"
)

// impersonating returns clients that act as u: the Kubernetes API server
// authorizes their requests, and kargo's admission webhooks judge them, as
// u's own, exactly as for kubectl.
func (s *Server) impersonating(u authenticationv1.UserInfo) (client.Client, *dynamic.DynamicClient, error) {
	extra := make(map[string][]string, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = v
	}
	hc := &http.Client{
		Transport: transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{
			UserName: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		}, s.base.Transport),
		Timeout: s.base.Timeout,
	}
	c, err := client.New(s.opts.Config, client.Options{Scheme: s.scheme, Mapper: s.mapper, HTTPClient: hc})
	if err != nil {
		return nil, nil, fmt.Errorf("client acting as %s: %w", u.Username, err)
	}
	d, err := dynamic.NewForConfigAndClient(s.opts.Config, hc)
	if err != nil {
		return nil, nil, fmt.Errorf("dynamic client acting as %s: %w", u.Username, err)
	}
	return c, d, nil
}

// promote creates a Promotion of the Freight into the Stage, as the
// caller: the promotions webhook checks the caller's promote verb once
// more.
func (s *Server) promote(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, stage := r.PathValue("project"), r.PathValue("stage")
	var req apitypes.PromoteRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if (req.Freight == "") == (req.FreightAlias == "") {
		return badRequest("name the Freight to promote with exactly one of freight (its name) or freightAlias")
	}
	if err := s.authz.checkPromote(ctx, u, project, stage); err != nil {
		return err
	}
	if err := s.authz.check(ctx, u, kargoAccess("create", promotionKind.resource, project, "")); err != nil {
		return err
	}
	var f *kargoapi.Freight
	if req.FreightAlias != "" {
		var err error
		if f, err = s.freightByAlias(ctx, project, req.FreightAlias); err != nil {
			return s.orMissingProject(ctx, project, err)
		}
	} else {
		obj, err := s.read(ctx, freightKind, project, req.Freight)
		if err != nil {
			if perr := s.orMissingProject(ctx, project, nil); perr != nil {
				return perr
			}
			if apierrors.IsNotFound(err) && !isFreightName(req.Freight) {
				return notFound("Freight %q not found in project %q; a Freight's name is its 40-character fingerprint: to name it by alias, pass freightAlias", req.Freight, project)
			}
			return err
		}
		f = obj.(*kargoapi.Freight)
	}
	note := noteOf(ctx)
	note.target.Freight = f.Name
	note.detail("freightAlias", req.FreightAlias)
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, GenerateName: promotionPrefix(stage, f.Name)},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: f.Name},
	}
	if req.OverrideWindow {
		// The promotions webhook lets it through only for a caller with
		// the override-window verb on the Stage.
		promo.Annotations = map[string]string{kargoapi.OverrideWindowAnnotationKey: kargoapi.LabelTrueValue}
		note.detail("overrideWindow", "true")
	}
	// Once asked, the Promotion is created even if the caller hangs up.
	if err := c.Create(context.WithoutCancel(ctx), promo); err != nil {
		return err
	}
	note.detail("promotion", promo.Name)
	s.awaitCache(ctx, promo)
	return writeObject(w, http.StatusCreated, promo, promotionKind)
}

// promotionPrefix is the generateName of a Promotion: the Stage and the
// start of the Freight's name, which Kubernetes makes unique.
func promotionPrefix(stage, freight string) string {
	if len(stage) > 200 {
		stage = strings.TrimRight(stage[:200], "-.")
	}
	return stage + "-" + freight[:min(len(freight), 7)] + "-"
}

// mayGet says whether u may read the object: the answer of an action made
// with the server's own rights (approve, verify) shows the object only
// then, since the promote verb those take grants no read.
func (s *Server) mayGet(ctx context.Context, u authenticationv1.UserInfo, k *kind, namespace, name string) (bool, error) {
	err := s.authz.check(ctx, u, kargoAccess("get", k.resource, namespace, name))
	var refused *apiError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &refused) && refused.status.Code == http.StatusForbidden:
		return false, nil
	}
	return false, err
}

// answerFreight answers an approval: the Freight when u may read it, and
// otherwise only what the caller already knows (its name, the alias they
// named it by) and what they did (the approval for stage).
func (s *Server) answerFreight(ctx context.Context, w http.ResponseWriter, u authenticationv1.UserInfo, f *kargoapi.Freight, ref, stage string) error {
	ok, err := s.mayGet(ctx, u, freightKind, f.Namespace, f.Name)
	if err != nil {
		return err
	}
	if ok {
		return writeObject(w, http.StatusOK, f, freightKind)
	}
	minimal := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Namespace: f.Namespace},
		Status:     kargoapi.FreightStatus{},
	}
	if a, ok := f.Status.ApprovedFor[stage]; ok {
		minimal.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{stage: a}
	}
	if list, ok := f.Status.Approvals[stage]; ok {
		minimal.Status.Approvals = map[string][]kargoapi.FreightApproval{stage: list}
	}
	if ref != f.Name && ref == f.Alias {
		minimal.Alias = ref
		minimal.Labels = map[string]string{kargoapi.AliasLabelKey: ref}
	}
	return writeObject(w, http.StatusOK, minimal, freightKind)
}

// maxAliasAttempts bounds the retries of an alias change that races with
// other changes of the Freight.
const maxAliasAttempts = 5

// setAlias gives the Freight a new alias (or, with an empty one, removes
// it), as the caller: the Freight webhooks keep the label in sync and
// refuse an alias another Freight holds.
func (s *Server) setAlias(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, ref := r.PathValue("project"), r.PathValue("name")
	var req apitypes.AliasRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Alias != "" {
		if err := freight.CheckAlias(req.Alias); err != nil {
			return badRequest("%s", err.Error())
		}
	}
	note := noteOf(ctx)
	note.details = map[string]string{"alias": req.Alias}
	authzName := ""
	if isFreightName(ref) {
		authzName = ref
	}
	if err := s.authz.check(ctx, u, kargoAccess("update", freightKind.resource, project, authzName)); err != nil {
		return err
	}
	f, err := s.resolveFreight(ctx, project, ref)
	if err != nil {
		return s.orMissingProject(ctx, project, err)
	}
	note.target.Name, note.target.Freight = f.Name, f.Name
	note.detail("previousAlias", f.Alias)
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	key := client.ObjectKeyFromObject(f)
	for attempt := 1; ; attempt++ {
		live := &kargoapi.Freight{}
		if err := s.direct.Get(ctx, key, live); err != nil {
			if apierrors.IsNotFound(err) {
				return notFoundIn(freightKind, project, f.Name)
			}
			return fmt.Errorf("read Freight %s: %w", f.Name, err)
		}
		sent := live.ResourceVersion
		live.Alias = req.Alias
		if req.Alias == "" {
			delete(live.Labels, kargoapi.AliasLabelKey)
		} else {
			if live.Labels == nil {
				live.Labels = map[string]string{}
			}
			live.Labels[kargoapi.AliasLabelKey] = req.Alias
		}
		err := c.Update(ctx, live)
		if err == nil {
			s.awaitCache(ctx, live)
			return writeObject(w, http.StatusOK, live, freightKind)
		}
		if !apierrors.IsConflict(err) || attempt == maxAliasAttempts {
			return err
		}
		// A conflict is either the optimistic lock (the Freight changed
		// since it was read: try again) or the webhook's refusal of an
		// alias another Freight holds (final). Only the first leaves a
		// newer resourceVersion behind.
		now := &kargoapi.Freight{}
		if gerr := s.direct.Get(ctx, key, now); gerr != nil || now.ResourceVersion == sent {
			return err
		}
	}
}

// refresher returns the endpoint that asks a Warehouse or Stage to look for
// new artifacts now, as the caller: setting the refresh annotation is a
// patch of the object, which the caller's role must allow.
func (s *Server) refresher(k *kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
		ctx := r.Context()
		project, name := r.PathValue("project"), r.PathValue("name")
		if err := s.authz.check(ctx, u, kargoAccess("patch", k.resource, project, name)); err != nil {
			return err
		}
		c, _, err := s.impersonating(u)
		if err != nil {
			return err
		}
		obj := k.newObject()
		obj.SetNamespace(project)
		obj.SetName(name)
		if err := c.Patch(context.WithoutCancel(ctx), obj, annotationPatch(kargoapi.RefreshAnnotationKey)); err != nil {
			if apierrors.IsNotFound(err) {
				return s.orMissingProject(ctx, project, notFoundIn(k, project, name))
			}
			return err
		}
		s.awaitCache(ctx, obj)
		return writeObject(w, http.StatusOK, obj, k)
	}
}

// verify asks the Stage to verify its current Freight again, or to abort
// the running verification. It takes the promote verb on the Stage, which
// promoters hold but not the right to change Stages, so the server sets
// the annotation with its own identity after checking.
func (s *Server) verify(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	var req apitypes.VerifyRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	key := kargoapi.ReverifyAnnotationKey
	if req.Abort {
		key = kargoapi.AbortVerificationAnnotationKey
		noteOf(ctx).action = kargoapi.AuditActionAbortVerification
	}
	if err := s.authz.checkPromote(ctx, u, project, name); err != nil {
		return err
	}
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}
	if err := s.direct.Patch(context.WithoutCancel(ctx), st, annotationPatch(key)); err != nil {
		if apierrors.IsNotFound(err) {
			return s.orMissingProject(ctx, project, notFoundIn(stageKind, project, name))
		}
		return fmt.Errorf("annotate Stage %s for verification: %w", name, err)
	}
	s.awaitCache(ctx, st)
	ok, err := s.mayGet(ctx, u, stageKind, project, name)
	if err != nil {
		return err
	}
	if !ok {
		// Only what the caller asked for: the annotation the controller
		// acts on.
		st = &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{
			Name: st.Name, Namespace: st.Namespace, ResourceVersion: st.ResourceVersion,
			Annotations: map[string]string{key: st.Annotations[key]},
		}}
	}
	return writeObject(w, http.StatusOK, st, stageKind)
}

// annotationPatch sets annotation key to a fresh token: the controllers
// act once on each new value.
func annotationPatch(key string) client.Patch {
	token := time.Now().UTC().Format(time.RFC3339Nano)
	raw := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, key, token)
	return client.RawPatch(types.MergePatchType, raw)
}

// cacheWait bounds how long an action waits for the server's cache to see
// its own write.
const cacheWait = 2 * time.Second

// awaitCache waits until the server's cache holds written at least at the
// resourceVersion the write returned, so that a client's next read (served
// from the cache) sees its own write: `kargo update freight` followed by
// `kargo get freight` must not show the old alias. It gives up quietly after
// cacheWait; the write itself has succeeded either way.
func (s *Server) awaitCache(ctx context.Context, written client.Object) {
	want, err := strconv.ParseUint(written.GetResourceVersion(), 10, 64)
	if err != nil {
		return // not a number: nothing to compare with
	}
	key := client.ObjectKeyFromObject(written)
	seen, ok := written.DeepCopyObject().(client.Object)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	_ = wait.PollUntilContextCancel(ctx, 5*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := s.cache.Get(ctx, key, seen); err != nil {
			return false, nil
		}
		got, err := strconv.ParseUint(seen.GetResourceVersion(), 10, 64)
		return err == nil && got >= want, nil
	})
}
