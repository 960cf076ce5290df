package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// auditRecords returns the project's records, as the admin reads them.
func auditRecords(t *testing.T, project string) []kargoapi.AuditRecord {
	t.Helper()
	list := &kargoapi.AuditRecordList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(project)))
	return list.Items
}

// auditFingerprint is what must not change when an attack fails: every
// record's name and resourceVersion.
func auditFingerprint(t *testing.T, project string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range auditRecords(t, project) {
		m[r.Name] = r.ResourceVersion
	}
	return m
}

// auditNewSince returns the records of project not in before.
func auditNewSince(t *testing.T, project string, before map[string]string) []kargoapi.AuditRecord {
	t.Helper()
	var out []kargoapi.AuditRecord
	for _, r := range auditRecords(t, project) {
		if _, ok := before[r.Name]; !ok {
			out = append(out, r)
		}
	}
	return out
}

// auditForged is a record as an attacker would write it: the project's
// administrator approving a Freight, which never happened.
func auditForged(project string) *kargoapi.AuditRecord {
	return &kargoapi.AuditRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, GenerateName: "forged-"},
		Time:       metav1.NewMicroTime(time.Now()),
		Actor:      kargoapi.AuditActor{Username: kubetest.Adam},
		Action:     kargoapi.AuditActionApprove,
		Target:     kargoapi.AuditTarget{Kind: "Freight", Name: "f", Stage: "prod"},
		Outcome:    kargoapi.AuditOutcome{Result: kargoapi.AuditResultSucceeded, Code: 200},
	}
}

// TestAuditAttacks attacks the audit trail as the users who should only
// read it (or not even that): a promoter (alice), a user who may promote
// to one Stage only (bob), an editor without promote (carol), a viewer
// (vera), the project's administrator (adam), an API token with the
// kargo-admin role, and nobody. Records are written by kargo's API server
// under the shipped kargo-api role and nobody else.
func TestAuditAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, f := apiserverProject(t, "audit")
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: project},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}},
	}))
	env.BindAccessUsers(t, project)
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-promoter")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "test-promoter"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"test"}, Verbs: []string{"promote"},
		}},
	}))
	env.Bind(t, project, kubetest.Bob, "Role", "test-promoter")
	ci := apiserverServiceAccount(t, project, "ci", "kargo-admin")
	ciUser := "system:serviceaccount:" + project + ":ci"
	base := "/api/v1/projects/" + project

	// A record to attack: alice's promotion.
	r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name})
	require.Equal(t, http.StatusCreated, r.code, string(r.body))
	recs := auditRecords(t, project)
	require.Len(t, recs, 1)
	victim := recs[0]
	require.Equal(t, kubetest.Alice, victim.Actor.Username)
	require.Contains(t, victim.Actor.Groups, "system:authenticated")
	require.Equal(t, kargoapi.AuditActionPromote, victim.Action)
	require.Equal(t, kargoapi.AuditTarget{Kind: "Stage", Name: "test", Stage: "test", Freight: f.Name}, victim.Target)
	require.Equal(t, kargoapi.AuditResultSucceeded, victim.Outcome.Result)

	// Clients of every attacker, straight to Kubernetes.
	ciCfg := rest.AnonymousClientConfig(env.Config)
	ciCfg.BearerToken = ci
	ciClient, err := client.New(ciCfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	attackers := map[string]client.Client{ciUser: ciClient}
	for _, u := range []string{kubetest.Alice, kubetest.Bob, kubetest.Carol, kubetest.Vera, kubetest.Adam, kubetest.Nobody} {
		attackers[u] = env.As(t, u)
	}

	t.Run("no user writes a record through Kubernetes: create, update, patch, delete, deletecollection", func(t *testing.T) {
		before := auditFingerprint(t, project)
		for user, c := range attackers {
			err := c.Create(ctx, auditForged(project))
			require.True(t, apierrors.IsForbidden(err), "%s created a record: %v", user, err)

			changed := victim.DeepCopy()
			changed.Outcome.Result = kargoapi.AuditResultFailed
			changed.Actor.Username = kubetest.Nobody
			err = c.Update(ctx, changed)
			require.True(t, apierrors.IsForbidden(err), "%s updated a record: %v", user, err)

			err = c.Patch(ctx, victim.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"actor":{"username":"nobody"}}`)))
			require.True(t, apierrors.IsForbidden(err), "%s patched a record: %v", user, err)

			err = c.Delete(ctx, victim.DeepCopy())
			require.True(t, apierrors.IsForbidden(err), "%s deleted a record: %v", user, err)

			err = c.DeleteAllOf(ctx, &kargoapi.AuditRecord{}, client.InNamespace(project))
			require.True(t, apierrors.IsForbidden(err), "%s deleted every record: %v", user, err)
		}
		require.Equal(t, before, auditFingerprint(t, project), "nothing was written")

		// Not even a cluster administrator changes what a record says.
		changed := victim.DeepCopy()
		changed.Actor.Username = kubetest.Nobody
		err := env.Admin.Update(ctx, changed)
		require.True(t, apierrors.IsInvalid(err), "%v", err)
		require.Contains(t, err.Error(), "append-only")
		require.Equal(t, before, auditFingerprint(t, project))
	})

	t.Run("a project administrator cannot grant anyone the right to write records", func(t *testing.T) {
		for _, c := range []client.Client{attackers[kubetest.Adam], ciClient} {
			err := c.Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "audit-writer"},
				Rules: []rbacv1.PolicyRule{{
					APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"auditrecords"}, Verbs: []string{"create", "update", "delete"},
				}},
			})
			require.True(t, apierrors.IsForbidden(err), "RBAC refuses a Role granting more than its author holds: %v", err)
			// Nor by binding a ClusterRole that holds it (the controller's).
			err = c.Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "audit-writer"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-api"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: kubetest.Adam}},
			})
			require.True(t, apierrors.IsForbidden(err), "RBAC refuses to bind kargo-api: %v", err)
		}
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "audit-writer"}, &rbacv1.Role{})))
	})

	t.Run("no user writes a record through kargo's API (create, apply, delete of an AuditRecord manifest)", func(t *testing.T) {
		before := auditFingerprint(t, project)
		forged, err := json.Marshal(auditForged(project))
		require.NoError(t, err)
		victimRef := fmt.Sprintf(`{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"AuditRecord","metadata":{"name":%q,"namespace":%q},"time":"2000-01-01T00:00:00.000000Z","actor":{"username":"nobody"},"action":"promote","target":{"kind":"Stage"},"outcome":{"result":"Failed","code":500}}`, victim.Name, project)
		forgedNamed := fmt.Sprintf(`{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"AuditRecord","metadata":{"name":"forged","namespace":%q},"time":"2000-01-01T00:00:00.000000Z","actor":{"username":"adam"},"action":"approve","target":{"kind":"Freight"},"outcome":{"result":"Succeeded","code":200}}`, project)
		tokens := map[string]string{ciUser: ci}
		for _, u := range []string{kubetest.Alice, kubetest.Bob, kubetest.Carol, kubetest.Vera, kubetest.Adam, kubetest.Nobody} {
			tokens[u] = kubetest.Token(u)
		}
		for user, token := range tokens {
			for _, call := range []struct{ path, manifest string }{
				{"/api/v1/create", `{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"AuditRecord",` + string(forged[1:])},
				{"/api/v1/apply", forgedNamed},
				{"/api/v1/apply", victimRef},
				{"/api/v1/delete", victimRef},
			} {
				r := apiserverCall(t, srv, token, http.MethodPost, call.path, apitypes.ManifestRequest{Manifests: call.manifest})
				require.Equal(t, http.StatusOK, r.code, string(r.body))
				var res apitypes.ManifestResult
				require.NoError(t, json.Unmarshal(r.body, &res))
				require.Len(t, res.Results, 1)
				require.NotNil(t, res.Results[0].Error, "%s %s: %s", user, call.path, r.body)
				require.Equal(t, int32(http.StatusForbidden), res.Results[0].Error.Code, "%s %s: %s", user, call.path, r.body)
			}
		}
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "forged"}, &kargoapi.AuditRecord{})))
		for name, rv := range before {
			got := &kargoapi.AuditRecord{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, got), "record %s is still there", name)
			require.Equal(t, rv, got.ResourceVersion, "record %s unchanged", name)
		}
		// What was written is the trail of the attempts themselves: one
		// Refused record per attempt of each caller who may read the
		// trail, naming the caller as authenticated, and none for nobody
		// or bob, who may not.
		for _, rec := range auditNewSince(t, project, before) {
			require.Equal(t, kargoapi.AuditResultRefused, rec.Outcome.Result, "%+v", rec)
			require.Equal(t, "AuditRecord", rec.Target.Kind)
			require.NotEqual(t, kubetest.Nobody, rec.Actor.Username)
			require.NotEqual(t, kubetest.Bob, rec.Actor.Username)
		}
	})

	t.Run("nobody's refused requests leave nothing in the trail", func(t *testing.T) {
		before := auditFingerprint(t, project)
		nobody := kubetest.Token(kubetest.Nobody)
		for _, call := range []struct {
			path string
			body any
		}{
			{base + "/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name}},
			{base + "/freight/" + f.Name + "/approve", apitypes.ApproveRequest{Stage: "prod"}},
			{base + "/freight/" + f.Name + "/alias", apitypes.AliasRequest{Alias: "nobodys"}},
			{base + "/warehouses/w/refresh", nil},
			{base + "/stages/test/verify", apitypes.VerifyRequest{}},
		} {
			r := apiserverCall(t, srv, nobody, http.MethodPost, call.path, call.body)
			require.Equal(t, http.StatusForbidden, r.code, "%s: %s", call.path, r.body)
		}
		require.Equal(t, before, auditFingerprint(t, project), "a user with no role in the project cannot fill its trail")
	})

	t.Run("the actor is who authenticated: impersonation headers and body fields do not change it", func(t *testing.T) {
		before := auditFingerprint(t, project)
		body := map[string]any{"freight": f.Name, "actor": map[string]any{"username": kubetest.Adam}, "user": kubetest.Adam}
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, base+"/stages/test/promote", body,
			"Impersonate-User", kubetest.Adam, "Impersonate-Group", "system:masters")
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		added := auditNewSince(t, project, before)
		require.Len(t, added, 1)
		require.Equal(t, kubetest.Alice, added[0].Actor.Username)
		require.NotContains(t, added[0].Actor.Groups, "system:masters")
		var promo kargoapi.Promotion
		require.NoError(t, json.Unmarshal(r.body, &promo))
		require.Equal(t, promo.Name, added[0].Details["promotion"])
		got := &kargoapi.Promotion{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(&promo), got))
		require.Equal(t, kubetest.Alice, got.Annotations[kargoapi.PromotionCreatedByAnnotationKey], "the Promotion's creator, written by the webhook")
	})

	t.Run("a promoter's refusal is recorded; an approval records its approver where nobody can forge it", func(t *testing.T) {
		before := auditFingerprint(t, project)
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Vera), http.MethodPost, base+"/stages/prod/promote", apitypes.PromoteRequest{Freight: f.Name})
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		r = apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		added := auditNewSince(t, project, before)
		require.Len(t, added, 2)
		byUser := map[string]kargoapi.AuditRecord{}
		for _, rec := range added {
			byUser[rec.Actor.Username] = rec
		}
		require.Equal(t, kargoapi.AuditResultRefused, byUser[kubetest.Vera].Outcome.Result)
		require.Equal(t, int32(http.StatusForbidden), byUser[kubetest.Vera].Outcome.Code)
		require.Contains(t, byUser[kubetest.Vera].Outcome.Message, `may not promote`)
		require.Equal(t, kargoapi.AuditActionApprove, byUser[kubetest.Alice].Action)
		require.Equal(t, "prod", byUser[kubetest.Alice].Target.Stage)
		approval := apiserverFreight(t, f).Status.ApprovedFor["prod"]
		require.Equal(t, kubetest.Alice, approval.ApprovedBy)
		require.NotNil(t, approval.ApprovedAt)

		// Freight status is the controller's and the API server's alone:
		// the admin cannot rewrite who approved.
		for user, c := range attackers {
			err := c.Status().Patch(ctx, apiserverFreight(t, f), client.RawPatch(types.MergePatchType, []byte(`{"status":{"approvedFor":{"prod":{"approvedBy":"mallory"}}}}`)))
			require.True(t, apierrors.IsForbidden(err), "%s rewrote the approver: %v", user, err)
		}
		require.Equal(t, kubetest.Alice, apiserverFreight(t, f).Status.ApprovedFor["prod"].ApprovedBy)
	})

	t.Run("names of objects outside kargo's kinds are not in the trail", func(t *testing.T) {
		before := auditFingerprint(t, project)
		manifest := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: prod-db-password\n  namespace: %s\nstringData:\n  password: hunter2\n", project)
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: manifest})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		added := auditNewSince(t, project, before)
		require.Len(t, added, 1)
		require.Equal(t, kargoapi.AuditTarget{Kind: "Secret"}, added[0].Target, "kargo-admin holds no right on Secrets; a viewer must not learn their names either")
		raw, err := json.Marshal(added[0])
		require.NoError(t, err)
		require.NotContains(t, string(raw), "prod-db-password")
		require.NotContains(t, string(raw), "hunter2")
	})

	t.Run("the trail is read by the project's roles and nobody else", func(t *testing.T) {
		for user, want := range map[string]int{
			kubetest.Vera: http.StatusOK, kubetest.Alice: http.StatusOK, kubetest.Adam: http.StatusOK,
			kubetest.Nobody: http.StatusForbidden, kubetest.Bob: http.StatusForbidden,
		} {
			r := apiserverCall(t, srv, kubetest.Token(user), http.MethodGet, base+"/audit", nil)
			require.Equal(t, want, r.code, "%s: %s", user, r.body)
			err := attackers[user].List(ctx, &kargoapi.AuditRecordList{}, client.InNamespace(project))
			require.Equal(t, want == http.StatusForbidden, apierrors.IsForbidden(err), "%s lists through Kubernetes: %v", user, err)
		}
		r := apiserverCall(t, srv, ci, http.MethodGet, base+"/audit?stage=prod", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var l apitypes.List
		require.NoError(t, json.Unmarshal(r.body, &l))
		require.NotEmpty(t, l.Items)
		for _, raw := range l.Items {
			var rec kargoapi.AuditRecord
			require.NoError(t, json.Unmarshal(raw, &rec))
			require.Equal(t, "prod", rec.Target.Stage)
		}
		r = apiserverCall(t, srv, ci, http.MethodGet, base+"/audit?since=2999-01-01T00:00:00Z", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.NoError(t, json.Unmarshal(r.body, &l))
		require.Empty(t, l.Items)
		r = apiserverCall(t, srv, ci, http.MethodGet, base+"/audit?since=yesterday", nil)
		require.Equal(t, http.StatusBadRequest, r.code, string(r.body))
	})
}
