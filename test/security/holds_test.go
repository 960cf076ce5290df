package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// holdsStage reads a Stage as the admin.
func holdsStage(t *testing.T, project, name string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, st))
	return st
}

// holdsFreight creates another Freight of w in project.
func holdsFreight(t *testing.T, project, tag string) *kargoapi.Freight {
	t.Helper()
	images := []kargoapi.Image{{RepoURL: "registry.invalid/app", Tag: tag, Digest: "sha256:" + strings.Repeat(tag[len(tag)-1:], 64)}}
	origin := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}
	f := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(origin, nil, images, nil), Namespace: project},
		Origin:     origin, Images: images,
	}
	require.NoError(t, env.Admin.Create(context.Background(), f))
	return f
}

// holdsPromotion reads a Promotion as the admin.
func holdsPromotion(t *testing.T, project, name string) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, p))
	return p
}

// holdsPromote promotes f into stage through kargo's API server as the
// token's owner and returns the Promotion's name.
func holdsPromote(t *testing.T, call func(token, method, path string, body any) apiserverResponse, token, project, stage string, req apitypes.PromoteRequest) string {
	t.Helper()
	r := call(token, http.MethodPost, "/api/v1/projects/"+project+"/stages/"+stage+"/promote", req)
	require.Equal(t, http.StatusCreated, r.code, string(r.body))
	var p kargoapi.Promotion
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p.Name
}

// TestHoldsAttacks attacks holds, freezes and promotion windows as the
// users who should not get past them: someone who may edit Stages but not
// hold them (carol), a promoter (alice, who may hold but not release), a
// promoter of one Stage (bob), a viewer (vera), an API token
// (a ServiceAccount with kargo-promoter), and nobody. Each attack asserts
// the refusal and that the hold, the freeze and the Promotions are as they
// were.
func TestHoldsAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, f := apiserverProject(t, "holds")
	require.NoError(t, env.Admin.Create(ctx, objects.Stage(project, "prod", objects.SubscribesTo("w"))))
	env.BindAccessUsers(t, project)
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-promoter")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "test-promoter"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"test"}, Verbs: []string{"promote"},
		}, {
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create", "get", "list", "watch"},
		}},
	}))
	env.Bind(t, project, kubetest.Bob, "Role", "test-promoter")
	ci := apiserverServiceAccount(t, project, "ci", "kargo-promoter")
	ciUser := "system:serviceaccount:" + project + ":ci"
	call := func(token, method, path string, body any) apiserverResponse {
		return apiserverCall(t, srv, token, method, path, body)
	}
	tok := kubetest.Token
	base := "/api/v1/projects/" + project

	// alice holds test, with a body that names someone else as its setter.
	forged := map[string]any{"reason": "checkout errors", "by": kubetest.Adam, "at": "1999-01-01T00:00:00Z"}
	r := call(tok(kubetest.Alice), http.MethodPost, base+"/stages/test/hold", forged)
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	held := holdsStage(t, project, "test").Status.Hold
	require.NotNil(t, held)
	require.Equal(t, kubetest.Alice, held.By, "who held it is who the server authenticated, never the body")
	require.Equal(t, "checkout errors", held.Reason)
	require.WithinDuration(t, time.Now(), held.At.Time, time.Minute)

	t.Run("forging who set a hold: holding again rewrites nothing", func(t *testing.T) {
		r := call(tok(kubetest.Adam), http.MethodPost, base+"/stages/test/hold", apitypes.HoldRequest{Reason: "mine now"})
		require.Equal(t, http.StatusConflict, r.code, string(r.body))
		require.Equal(t, held, holdsStage(t, project, "test").Status.Hold)
	})

	t.Run("someone who may edit Stages lifts the hold by writing the Stage, its status, or by deleting it", func(t *testing.T) {
		carol := env.As(t, kubetest.Carol)
		err := carol.Status().Patch(ctx, objects.Stage(project, "test"), client.RawPatch("application/merge-patch+json", []byte(`{"status":{"hold":null}}`)))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		st := holdsStage(t, project, "test")
		st.Status.Hold = nil
		st.Labels = map[string]string{"edited": "by-carol"}
		require.NoError(t, carol.Update(ctx, st), "carol may edit the Stage itself")
		err = carol.Delete(ctx, objects.Stage(project, "test"))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		require.Contains(t, err.Error(), "is held by alice")
		r := call(tok(kubetest.Carol), http.MethodPost, base+"/stages/test/release", nil)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Equal(t, held, holdsStage(t, project, "test").Status.Hold, "the hold survives the edit")
	})

	t.Run("a promoter may hold but not release", func(t *testing.T) {
		r := call(tok(kubetest.Alice), http.MethodPost, base+"/stages/test/release", nil)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Contains(t, string(r.body), `may not release stages.kargo.akuity.io \"test\"`)
		require.Equal(t, held, holdsStage(t, project, "test").Status.Hold)
	})

	t.Run("a promoter of one Stage, a viewer and nobody hold nothing", func(t *testing.T) {
		for _, u := range []string{kubetest.Bob, kubetest.Vera, kubetest.Nobody} {
			r := call(tok(u), http.MethodPost, base+"/stages/prod/hold", apitypes.HoldRequest{Reason: "mine"})
			require.Equal(t, http.StatusForbidden, r.code, "%s: %s", u, r.body)
			for _, path := range []string{"/freeze", "/unfreeze"} {
				r := call(tok(u), http.MethodPost, base+path, apitypes.HoldRequest{Reason: "mine"})
				require.Equal(t, http.StatusForbidden, r.code, "%s %s: %s", u, path, r.body)
			}
		}
		require.Nil(t, holdsStage(t, project, "prod").Status.Hold)
		p := &kargoapi.Project{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: project}, p))
		require.Nil(t, p.Status.Freeze)
		r := call(tok(kubetest.Nobody), http.MethodGet, base+"/freeze", nil)
		require.Equal(t, http.StatusForbidden, r.code, "nobody learns of the freeze: %s", r.body)
	})

	t.Run("a ServiceAccount token holds as itself, and may not release or freeze", func(t *testing.T) {
		r := call(ci, http.MethodPost, base+"/stages/prod/hold", map[string]any{"reason": "pipeline red", "by": kubetest.Adam})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Equal(t, ciUser, holdsStage(t, project, "prod").Status.Hold.By)
		r = call(ci, http.MethodPost, base+"/stages/prod/release", nil)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		r = call(ci, http.MethodPost, base+"/freeze", apitypes.HoldRequest{Reason: "x"})
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		r = call(tok(kubetest.Adam), http.MethodPost, base+"/stages/prod/release", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
	})

	t.Run("queued Promotions wait for the hold, and run in order once it is released", func(t *testing.T) {
		f2 := holdsFreight(t, project, "1.0.2")
		first := holdsPromote(t, call, tok(kubetest.Alice), project, "test", apitypes.PromoteRequest{Freight: f.Name})
		second := holdsPromote(t, call, tok(kubetest.Bob), project, "test", apitypes.PromoteRequest{Freight: f2.Name})
		for _, name := range []string{first, second} {
			kubetest.Eventually(t, 30*time.Second, name+" waits, naming the hold", func() (bool, string) {
				p := holdsPromotion(t, project, name)
				return p.Status.Phase == kargoapi.PromotionPhasePending && strings.Contains(p.Status.Message, "held by alice"), p.Status.Message
			})
		}
		require.Nil(t, holdsStage(t, project, "test").Status.CurrentFreight, "nothing ran while held")

		r := call(tok(kubetest.Adam), http.MethodPost, base+"/stages/test/release", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		kubetest.Eventually(t, 60*time.Second, "both run once released", func() (bool, string) {
			a, b := holdsPromotion(t, project, first), holdsPromotion(t, project, second)
			return a.Status.Phase == kargoapi.PromotionPhaseSucceeded && b.Status.Phase == kargoapi.PromotionPhaseSucceeded, fmt.Sprint(a.Status.Phase, b.Status.Phase, b.Status.Message)
		})
		// The queue's order is creation time (to the second), then name.
		a, b := holdsPromotion(t, project, first), holdsPromotion(t, project, second)
		if b.CreationTimestamp.Before(&a.CreationTimestamp) || (b.CreationTimestamp.Equal(&a.CreationTimestamp) && b.Name < a.Name) {
			a, b = b, a
		}
		require.False(t, b.Status.StartTime.Before(a.Status.CompletionTime), "in order: %s started after %s ended", b.Name, a.Name)
		require.Equal(t, b.Spec.Freight, holdsStage(t, project, "test").Status.CurrentFreight.ID, "the later one's Freight is current")
	})

	t.Run("a promoter of the Stage overrides a window without the override verb", func(t *testing.T) {
		w := objects.PromotionWindow(project, "always-closed", kargoapi.PromotionWindowDeny, "Europe/Berlin", "00:00", "00:00")
		w.Spec.Stages.Names = []string{"test"}
		require.NoError(t, env.Admin.Create(ctx, w))
		before := apiserverPromotions(t, project)
		for _, token := range []string{tok(kubetest.Bob), tok(kubetest.Alice), ci} {
			r := call(token, http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name, OverrideWindow: true})
			require.Equal(t, http.StatusForbidden, r.code, string(r.body))
			require.Contains(t, string(r.body), kargoapi.OverrideWindowVerb)
		}
		require.ElementsMatch(t, before, apiserverPromotions(t, project), "no Promotion was created")

		// Nor by adding the override to a waiting Promotion of their own.
		waiting := holdsPromote(t, call, tok(kubetest.Alice), project, "test", apitypes.PromoteRequest{Freight: f.Name})
		kubetest.Eventually(t, 30*time.Second, waiting+" waits, naming the window", func() (bool, string) {
			p := holdsPromotion(t, project, waiting)
			return p.Status.Phase == kargoapi.PromotionPhasePending && strings.Contains(p.Status.Message, "always-closed"), p.Status.Message
		})
		err := env.As(t, kubetest.Alice).Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: waiting}},
			client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}}}`, kargoapi.OverrideWindowAnnotationKey)))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		require.Empty(t, holdsPromotion(t, project, waiting).Annotations[kargoapi.OverrideWindowAnnotationKey])

		// The admin, who holds the verb, does; the waiting Promotion is
		// ahead of it in the queue, so it is deleted first.
		require.NoError(t, env.Admin.Delete(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: waiting}}))
		kubetest.Eventually(t, 30*time.Second, "the deleted Promotion is gone", func() (bool, string) {
			err := env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: waiting}, &kargoapi.Promotion{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		f3 := holdsFreight(t, project, "1.0.3")
		name := holdsPromote(t, call, tok(kubetest.Adam), project, "test", apitypes.PromoteRequest{Freight: f3.Name, OverrideWindow: true})
		kubetest.Eventually(t, 30*time.Second, name+" runs through the window", func() (bool, string) {
			p := holdsPromotion(t, project, name)
			return p.Status.Phase == kargoapi.PromotionPhaseSucceeded, string(p.Status.Phase) + " " + p.Status.Message
		})
		require.NoError(t, env.Admin.Delete(ctx, w))
	})

	t.Run("a freeze stops every Stage; viewers see it; only unfreeze lifts it", func(t *testing.T) {
		r := call(tok(kubetest.Adam), http.MethodPost, base+"/freeze", map[string]any{"reason": "incident 4711", "by": kubetest.Alice})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		r = call(tok(kubetest.Vera), http.MethodGet, base+"/freeze", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var fr apitypes.Freeze
		require.NoError(t, json.Unmarshal(r.body, &fr))
		require.Equal(t, kubetest.Adam, fr.Freeze.By)
		name := holdsPromote(t, call, tok(kubetest.Alice), project, "prod", apitypes.PromoteRequest{Freight: f.Name})
		kubetest.Eventually(t, 30*time.Second, name+" waits, naming the freeze", func() (bool, string) {
			p := holdsPromotion(t, project, name)
			return p.Status.Phase == kargoapi.PromotionPhasePending && strings.Contains(p.Status.Message, "frozen by adam"), p.Status.Message
		})
		err := env.As(t, kubetest.Carol).Status().Patch(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: project}},
			client.RawPatch("application/merge-patch+json", []byte(`{"status":{"freeze":null}}`)))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		r = call(tok(kubetest.Alice), http.MethodPost, base+"/unfreeze", nil)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Equal(t, kargoapi.PromotionPhasePending, holdsPromotion(t, project, name).Status.Phase)

		r = call(tok(kubetest.Adam), http.MethodPost, base+"/unfreeze", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		kubetest.Eventually(t, 30*time.Second, name+" runs once unfrozen", func() (bool, string) {
			p := holdsPromotion(t, project, name)
			return p.Status.Phase == kargoapi.PromotionPhaseSucceeded, string(p.Status.Phase) + " " + p.Status.Message
		})
	})

	t.Run("the audit trail records who held, released, froze and was refused", func(t *testing.T) {
		got := map[string][]string{}
		for _, rec := range auditRecords(t, project) {
			switch rec.Action {
			case kargoapi.AuditActionHold, kargoapi.AuditActionRelease, kargoapi.AuditActionFreeze, kargoapi.AuditActionUnfreeze:
				got[rec.Action] = append(got[rec.Action], rec.Actor.Username+" "+string(rec.Outcome.Result))
				if rec.Action == kargoapi.AuditActionHold && rec.Outcome.Result == kargoapi.AuditResultSucceeded && rec.Actor.Username == kubetest.Alice {
					require.Equal(t, "checkout errors", rec.Details["reason"])
				}
			}
		}
		require.Contains(t, got[kargoapi.AuditActionHold], kubetest.Alice+" Succeeded")
		require.Contains(t, got[kargoapi.AuditActionHold], ciUser+" Succeeded")
		require.Contains(t, got[kargoapi.AuditActionHold], kubetest.Adam+" Failed", "holding a held Stage: 409")
		require.Contains(t, got[kargoapi.AuditActionRelease], kubetest.Alice+" Refused")
		require.Contains(t, got[kargoapi.AuditActionRelease], kubetest.Adam+" Succeeded")
		require.Contains(t, got[kargoapi.AuditActionFreeze], kubetest.Adam+" Succeeded")
		require.Contains(t, got[kargoapi.AuditActionUnfreeze], kubetest.Adam+" Succeeded")
		for _, recs := range got {
			for _, r := range recs {
				require.NotContains(t, r, kubetest.Nobody, "nobody fills the trail")
			}
		}
	})
}
