package security

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
)

// approvalsProject is a project with a Warehouse w and Freight f of it
// (apiserverProject), a Stage prod subscribed to w that asks for one
// approval from kubetest.ApproversGroup, and the users: alice promotes
// everywhere (kargo-promoter) and may approve too (kargo-approver), bob
// promotes into uat only, ava and abe are approvers through their group,
// carol edits everything without promote or approve, adam is kargo-admin,
// nobody has nothing.
func approvalsProject(t *testing.T, prefix string, approval *kargoapi.ApprovalRequirement) (string, *kargoapi.Freight) {
	t.Helper()
	ctx := context.Background()
	project, f := apiserverProject(t, prefix)
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: project, Labels: map[string]string{"tier": "prod"}},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}, Approval: approval},
	}))
	env.BindAccessUsers(t, project)
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-promoter")
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-approver")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "uat-promoter"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create", "get", "list", "patch", "update", "watch"}},
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"uat"}, Verbs: []string{"promote", "approve"}},
		},
	}))
	env.Bind(t, project, kubetest.Bob, "Role", "uat-promoter")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "approvers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-approver"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: kubetest.ApproversGroup}},
	}))
	approvalsAwaitRight(t, kubetest.Ava, project)
	return project, f
}

// approvalsAwaitRight waits until RBAC lets user, in the approvers'
// group, approve for prod (the authorizer's view of new bindings catches
// up).
func approvalsAwaitRight(t *testing.T, user, project string) {
	t.Helper()
	az := &authz.Authorizer{Client: env.Admin}
	who := authenticationv1.UserInfo{Username: user, Groups: []string{kubetest.ApproversGroup, "system:authenticated"}}
	kubetest.Eventually(t, 10*time.Second, user+" may approve for prod", func() (bool, string) {
		err := az.AuthorizeApprove(context.Background(), who, project, "prod")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// approvalsPromote promotes f into prod through the API as user and returns
// the Promotion's name.
func approvalsPromote(t *testing.T, srv *apiserver.Server, user, project string, f *kargoapi.Freight) string {
	t.Helper()
	r := apiserverCall(t, srv, kubetest.Token(user), http.MethodPost, "/api/v1/projects/"+project+"/stages/prod/promote", apitypes.PromoteRequest{Freight: f.Name})
	require.Equal(t, http.StatusCreated, r.code, string(r.body))
	var p kargoapi.Promotion
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p.Name
}

// approvalsPromotion reads a Promotion as the admin.
func approvalsPromotion(t *testing.T, project, name string) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, p))
	return p
}

// approvalsWaiting waits until the Promotion waits for approval and
// returns what it says is missing.
func approvalsWaiting(t *testing.T, project, name string) string {
	t.Helper()
	var missing string
	kubetest.Eventually(t, 20*time.Second, "Promotion "+name+" waits for approval", func() (bool, string) {
		p := approvalsPromotion(t, project, name)
		if p.Status.Approval == nil {
			return false, string(p.Status.Phase) + ": " + p.Status.Message
		}
		missing = p.Status.Approval.Missing
		return p.Status.Phase == kargoapi.PromotionPhasePending, p.Status.Message
	})
	return missing
}

// approvalsStillWaiting waits until the Promotion's account of what it
// lacks says want (the controller has seen the Freight as the attack left
// it: why an approval does not count, say) and asserts that it still
// waits then and that nothing reached prod.
func approvalsStillWaiting(t *testing.T, project, name, want string) {
	t.Helper()
	kubetest.Eventually(t, 20*time.Second, "Promotion "+name+" says "+want, func() (bool, string) {
		p := approvalsPromotion(t, project, name)
		require.Equal(t, kargoapi.PromotionPhasePending, p.Status.Phase, "the Promotion ran: %s", p.Status.Message)
		if p.Status.Approval == nil {
			return false, p.Status.Message
		}
		return strings.Contains(p.Status.Approval.Missing, want), p.Status.Approval.Missing
	})
	require.Nil(t, admissionStage(t, project, "prod").Status.CurrentFreight, "nothing was promoted into prod")
}

// approvalsOf returns the Freight's approvals for prod.
func approvalsOf(t *testing.T, f *kargoapi.Freight) []kargoapi.FreightApproval {
	t.Helper()
	return apiserverFreight(t, f).Status.Approvals["prod"]
}

// TestApprovalAttacks attacks approval policies: the promoter approving
// for themselves, forged approvers (through the API, Freight status,
// annotations, the Promotion's creator), a ServiceAccount token, an
// approver of another Stage, an expired approval, and taking the policy
// away with edit rights.
func TestApprovalAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	one := &kargoapi.ApprovalRequirement{Required: 1, Groups: []string{kubetest.ApproversGroup}}

	t.Run("the promoter approves their own promotion", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-self", &kargoapi.ApprovalRequirement{Required: 1})
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod", Comment: "lgtm, says me"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Len(t, approvalsOf(t, f), 1, "alice's approval is recorded, as hers")
		approvalsStillWaiting(t, project, name, "not counted: alice created the Promotion")
		require.Contains(t, approvalsPromotion(t, project, name).Status.Approval.Missing, "alice's own approval does not count")
	})

	t.Run("forging the approver: a user field in the API request", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-body", one)
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		body := map[string]any{"stage": "prod", "user": kubetest.Ava, "groups": []string{kubetest.ApproversGroup}}
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", body,
			"Impersonate-User", kubetest.Ava, "Impersonate-Group", kubetest.ApproversGroup)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		got := approvalsOf(t, f)
		require.Len(t, got, 1)
		require.Equal(t, kubetest.Alice, got[0].User, "the approver is who the server authenticated")
		require.NotContains(t, got[0].Groups, kubetest.ApproversGroup)
		approvalsStillWaiting(t, project, name, "not counted: alice created the Promotion")
	})

	t.Run("forging the approver: writing Freight status with kubectl's rights", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-status", one)
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		before := apiserverFreight(t, f).ResourceVersion
		forged := []byte(`{"status":{"approvals":{"prod":[{"user":"ava","groups":["` + kubetest.ApproversGroup + `"],"at":"` + time.Now().UTC().Format(time.RFC3339) + `"}]}}}`)
		for _, u := range []string{kubetest.Alice, kubetest.Carol, kubetest.Adam, kubetest.Ava, kubetest.Nobody} {
			live := &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: f.Name}}
			err := env.As(t, u).Status().Patch(ctx, live, client.RawPatch(types.MergePatchType, forged))
			admissionRBACRefused(t, err)
		}
		require.Equal(t, before, apiserverFreight(t, f).ResourceVersion, "the Freight was not written")
		approvalsStillWaiting(t, project, name, "1 more approval from group "+kubetest.ApproversGroup)
	})

	t.Run("forging the approver: annotations on the Freight and the Stage", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-annot", one)
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		claim := []byte(`{"metadata":{"annotations":{"kargo.akuity.io/approved-by":"ava","kargo.akuity.io/approvals":"[{\"user\":\"ava\"}]"}}}`)
		require.NoError(t, env.As(t, kubetest.Carol).Patch(ctx, &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: f.Name}}, client.RawPatch(types.MergePatchType, claim)))
		require.NoError(t, env.As(t, kubetest.Carol).Patch(ctx, &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "prod"}}, client.RawPatch(types.MergePatchType, claim)))
		require.Empty(t, approvalsOf(t, f), "no approval was recorded")
		// alice's own approval, which does not count, shows that the
		// controller judged the Freight as the annotations left it.
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		approvalsStillWaiting(t, project, name, "not counted: alice created the Promotion")
	})

	t.Run("forging the promoter: changing the Promotion's creator so that one's own approval counts", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-creator", &kargoapi.ApprovalRequirement{Required: 1})
		alice := env.As(t, kubetest.Alice)
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, GenerateName: "prod-", Annotations: map[string]string{kargoapi.PromotionCreatedByAnnotationKey: kubetest.Carol}},
			Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: f.Name},
		}
		require.NoError(t, alice.Create(ctx, p))
		require.Equal(t, kubetest.Alice, p.Annotations[kargoapi.PromotionCreatedByAnnotationKey], "the webhook writes the creator")
		approvalsWaiting(t, project, p.Name)
		require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := approvalsPromotion(t, project, p.Name)
			live.Annotations[kargoapi.PromotionCreatedByAnnotationKey] = kubetest.Carol
			return alice.Update(ctx, live)
		}))
		require.NoError(t, alice.Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: p.Name}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+kargoapi.PromotionCreatedByAnnotationKey+`":null}}}`))))
		require.Equal(t, kubetest.Alice, approvalsPromotion(t, project, p.Name).Annotations[kargoapi.PromotionCreatedByAnnotationKey], "the creator is put back")
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		approvalsStillWaiting(t, project, p.Name, "not counted: alice created the Promotion")
	})

	t.Run("a ServiceAccount token with the approver role", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-sa", one)
		token := apiserverServiceAccount(t, project, "ci", "kargo-approver")
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		r := apiserverCall(t, srv, token, http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Equal(t, "system:serviceaccount:"+project+":ci", approvalsOf(t, f)[0].User)
		approvalsStillWaiting(t, project, name, "is a ServiceAccount, which counts only when named")
		// Nor can a policy name a system: group to let ServiceAccounts in.
		err := admissionEdit(t, env.As(t, kubetest.Adam), project, "prod", func(st *kargoapi.Stage) {
			st.Spec.Approval = &kargoapi.ApprovalRequirement{Groups: []string{"system:serviceaccounts"}}
		})
		require.ErrorContains(t, err, "may not name system: groups")
	})

	t.Run("an approver of another Stage", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-other", &kargoapi.ApprovalRequirement{Required: 1})
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		approvalsWaiting(t, project, name)
		before := apiserverFreight(t, f).ResourceVersion
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Bob), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod", Comment: "I approve uat, so prod too"})
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Contains(t, string(r.body), `may not promote to Stage \"prod\"`)
		require.Equal(t, before, apiserverFreight(t, f).ResourceVersion, "the Freight was not written")
		approvalsStillWaiting(t, project, name, "1 more approval")
	})

	t.Run("an expired approval", func(t *testing.T) {
		project, f := approvalsProject(t, "appr-expired", &kargoapi.ApprovalRequirement{Required: 1, Groups: []string{kubetest.ApproversGroup}, ExpireAfter: &metav1.Duration{Duration: 2 * time.Second}})
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Ava), http.MethodPost, "/api/v1/projects/"+project+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		at := approvalsOf(t, f)[0].At.Time
		kubetest.Eventually(t, 10*time.Second, "the approval is older than its expiry", func() (bool, string) { return time.Since(at) > 3*time.Second, "" })
		name := approvalsPromote(t, srv, kubetest.Alice, project, f)
		require.Contains(t, approvalsWaiting(t, project, name), "1 more approval from group "+kubetest.ApproversGroup)
		approvalsStillWaiting(t, project, name, "expired after 2s")
	})

	t.Run("taking the policy away with the right to edit and promote, but not approve", func(t *testing.T) {
		project, _ := approvalsProject(t, "appr-remove", one)
		require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "stage-editor-promoter"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages", "approvalpolicies"}, Verbs: []string{"get", "list", "update", "patch", "promote", "delete"}}},
		}))
		env.Bind(t, project, kubetest.Vera, "Role", "stage-editor-promoter")
		before := admissionStage(t, project, "prod")
		for _, u := range []string{kubetest.Carol, kubetest.Vera} {
			err := admissionEdit(t, env.As(t, u), project, "prod", func(st *kargoapi.Stage) { st.Spec.Approval = nil })
			admissionRefused(t, err, http.StatusForbidden, "spec.approval", `may not approve Freight for Stage "prod"`)
			err = admissionEdit(t, env.As(t, u), project, "prod", func(st *kargoapi.Stage) {
				st.Spec.Approval.Required = 1
				st.Spec.Approval.Groups = []string{"anyone-i-like"}
			})
			admissionRefused(t, err, http.StatusForbidden, "spec.approval")
		}
		require.Equal(t, before.Spec.Approval, admissionStage(t, project, "prod").Spec.Approval, "the policy is unchanged")
	})

	t.Run("taking the Stage out of a project ApprovalPolicy: relabelling it, changing or deleting the policy", func(t *testing.T) {
		project, _ := approvalsProject(t, "appr-policy", nil)
		policy := &kargoapi.ApprovalPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "prod-tier"},
			Spec: kargoapi.ApprovalPolicySpec{
				Stages:              kargoapi.ApprovalStageSelector{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}},
				ApprovalRequirement: kargoapi.ApprovalRequirement{Required: 2, Groups: []string{kubetest.ApproversGroup}},
			},
		}
		require.NoError(t, env.As(t, kubetest.Adam).Create(ctx, policy))
		require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "policy-editor"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"approvalpolicies"}, Verbs: []string{"get", "list", "update", "patch", "delete"}}},
		}))
		env.Bind(t, project, kubetest.Carol, "Role", "policy-editor")
		stageBefore := admissionStage(t, project, "prod").ResourceVersion
		err := admissionEdit(t, env.As(t, kubetest.Carol), project, "prod", func(st *kargoapi.Stage) { st.Labels["tier"] = "dev" })
		admissionRefused(t, err, http.StatusForbidden, `ApprovalPolicy prod-tier`, `may not approve Freight for Stage "prod"`)
		err = admissionEdit(t, env.As(t, kubetest.Carol), project, "prod", func(st *kargoapi.Stage) { st.Labels = nil })
		admissionRefused(t, err, http.StatusForbidden, `ApprovalPolicy prod-tier`)
		require.Equal(t, stageBefore, admissionStage(t, project, "prod").ResourceVersion, "the Stage was not written")

		carol := env.As(t, kubetest.Carol)
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := &kargoapi.ApprovalPolicy{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(policy), live))
			live.Spec.Required = 1
			return carol.Update(ctx, live)
		})
		admissionRefused(t, err, http.StatusForbidden, `ApprovalPolicy "prod-tier"`, `may not approve Freight for Stage "prod"`)
		admissionRefused(t, carol.Delete(ctx, policy.DeepCopy()), http.StatusForbidden, `ApprovalPolicy "prod-tier"`)
		live := &kargoapi.ApprovalPolicy{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(policy), live))
		require.EqualValues(t, 2, live.Spec.Required, "the policy is unchanged")

		// Relabelling a Stage the policy does not select is no business of
		// the policy's.
		require.NoError(t, admissionEdit(t, carol, project, "test", func(st *kargoapi.Stage) { st.Labels = map[string]string{"team": "a"} }))
	})
}

// TestAbortAttacks attacks the abort of a Promotion: by someone without
// promote on its Stage (carol, bob for prod, a viewer, nobody), forging
// who aborted, and undoing an abort.
func TestAbortAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, f := approvalsProject(t, "abort", &kargoapi.ApprovalRequirement{Required: 1, Groups: []string{kubetest.ApproversGroup}})
	name := approvalsPromote(t, srv, kubetest.Alice, project, f)
	approvalsWaiting(t, project, name)
	abort := []byte(`{"metadata":{"annotations":{"` + kargoapi.AbortAnnotationKey + `":"alice"}}}`)

	t.Run("aborting without promote on the Stage, through the API and kubectl", func(t *testing.T) {
		before := approvalsPromotion(t, project, name).ResourceVersion
		for _, u := range []string{kubetest.Bob, kubetest.Carol, kubetest.Vera, kubetest.Ava, kubetest.Nobody} {
			r := apiserverCall(t, srv, kubetest.Token(u), http.MethodPost, "/api/v1/projects/"+project+"/promotions/"+name+"/abort", apitypes.AbortRequest{})
			require.Equal(t, http.StatusForbidden, r.code, "%s: %s", u, r.body)
		}
		// carol and bob may patch Promotions (RBAC): the webhook refuses.
		for _, u := range []string{kubetest.Carol, kubetest.Bob} {
			err := env.As(t, u).Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}, client.RawPatch(types.MergePatchType, abort))
			admissionRefused(t, err, http.StatusForbidden, "aborting a Promotion", `may not promote to Stage "prod"`)
		}
		for _, u := range []string{kubetest.Vera, kubetest.Nobody} {
			err := env.As(t, u).Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}, client.RawPatch(types.MergePatchType, abort))
			admissionRBACRefused(t, err)
		}
		p := approvalsPromotion(t, project, name)
		require.Equal(t, before, p.ResourceVersion, "the Promotion was not written")
		require.NotContains(t, p.Annotations, kargoapi.AbortAnnotationKey)
	})

	t.Run("forging who aborted, then undoing the abort", func(t *testing.T) {
		forged := []byte(`{"metadata":{"annotations":{"` + kargoapi.AbortAnnotationKey + `":"ava"}}}`)
		require.NoError(t, env.As(t, kubetest.Alice).Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}, client.RawPatch(types.MergePatchType, forged)))
		require.Equal(t, kubetest.Alice, approvalsPromotion(t, project, name).Annotations[kargoapi.AbortAnnotationKey], "the webhook writes who asked")
		undo := []byte(`{"metadata":{"annotations":{"` + kargoapi.AbortAnnotationKey + `":null}}}`)
		require.NoError(t, env.As(t, kubetest.Adam).Patch(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}, client.RawPatch(types.MergePatchType, undo)))
		require.Equal(t, kubetest.Alice, approvalsPromotion(t, project, name).Annotations[kargoapi.AbortAnnotationKey], "an abort, once asked, stays")
		kubetest.Eventually(t, 20*time.Second, "the Promotion is aborted", func() (bool, string) {
			p := approvalsPromotion(t, project, name)
			return p.Status.Phase == kargoapi.PromotionPhaseAborted, string(p.Status.Phase)
		})
		require.Equal(t, kubetest.Alice, approvalsPromotion(t, project, name).Status.AbortedBy)
	})
}
