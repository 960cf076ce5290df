package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// approvalsProject creates a project like the seed's (alice promotes
// everywhere, bob into uat only) with Stages test and prod, both fed by
// Warehouse w, where prod asks for one approval from the approvers' group
// (ava and abe, bound to kargo-approver). It returns the project and
// Freight of w.
func approvalsProject(t *testing.T, name string) (string, *kargoapi.Freight) {
	t.Helper()
	ctx := context.Background()
	env.CreateProject(t, name)
	env.Bind(t, name, alice, "ClusterRole", "kargo-promoter")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "uat-promoter"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create", "get", "list", "patch", "update", "watch"}},
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"uat"}, Verbs: []string{"promote"}},
		},
	}))
	env.Bind(t, name, bob, "Role", "uat-promoter")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "approvers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-approver"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: kubetest.ApproversGroup}},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: name},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
		},
	}))
	for _, st := range []*kargoapi.Stage{
		objects.Stage(name, "test", objects.SubscribesTo("w")),
		objects.Stage(name, "prod", objects.SubscribesTo("w"), objects.Requires(1, kubetest.ApproversGroup)),
	} {
		require.NoError(t, env.Admin.Create(ctx, st))
	}
	f := createFreight(t, name, "1.0.0")
	kubetest.Eventually(t, 10*time.Second, "the server serves Stage prod", func() (bool, string) {
		r := call(t, kubetest.Ava, http.MethodGet, "/api/v1/projects/"+name+"/stages/prod", nil)
		return r.code == http.StatusOK, string(r.body)
	})
	return name, f
}

// approvalsPromotion reads a Promotion as the admin.
func approvalsPromotion(t *testing.T, project, name string) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, p))
	return p
}

// approvalsUntil polls the Promotion until ok says it is as wanted.
func approvalsUntil(t *testing.T, project, name, what string, ok func(*kargoapi.Promotion) bool) *kargoapi.Promotion {
	t.Helper()
	var p *kargoapi.Promotion
	kubetest.Eventually(t, 30*time.Second, "Promotion "+name+" "+what, func() (bool, string) {
		p = approvalsPromotion(t, project, name)
		return ok(p), string(p.Status.Phase) + ": " + p.Status.Message
	})
	return p
}

// approvalsAudit returns the project's records of action, oldest first.
func approvalsAudit(t *testing.T, project, action string) []kargoapi.AuditRecord {
	t.Helper()
	list := &kargoapi.AuditRecordList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(project)))
	var out []kargoapi.AuditRecord
	for _, r := range list.Items {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// A Promotion into a Stage that asks for an approval waits, saying what is
// missing, until someone of the approvers' group approves; the promoter's
// own approval and refused ones do not count; the approval is recorded in
// the Freight's status and in the audit trail, with its comment.
func TestApprovalPolicyAsTheUsersWhoUseIt(t *testing.T) {
	project, f := approvalsProject(t, "approvals-flow")
	base := "/api/v1/projects/" + project
	promo := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost, base+"/stages/prod/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusCreated)
	p := approvalsUntil(t, project, promo.Name, "waits for approval", func(p *kargoapi.Promotion) bool { return p.Status.Approval != nil })
	require.Equal(t, kargoapi.PromotionPhasePending, p.Status.Phase)
	require.Equal(t, p.Status.Approval.Missing, p.Status.Message)
	require.Contains(t, p.Status.Message, "Waiting for approval: 1 more approval from group "+kubetest.ApproversGroup+" (Stage prod asks for 1)")
	require.Contains(t, p.Status.Message, "alice's own approval does not count")

	// alice may promote, not approve: her approval only lets Freight skip
	// upstream Stages (the seed's), which a policy does not count.
	got := decode[kargoapi.Freight](t, call(t, alice, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod", Comment: "mine"}), http.StatusOK)
	require.Contains(t, got.Status.ApprovedFor, "prod")
	require.Empty(t, got.Status.Approvals["prod"])

	// bob and nobody may do neither.
	s := refusal(t, call(t, bob, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "bob" may not promote to Stage "prod"`)
	refusal(t, call(t, nobody, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "prod"}), http.StatusForbidden)
	// An approver may approve only for a Stage that asks for approvals.
	s = refusal(t, call(t, kubetest.Ava, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "test"}), http.StatusConflict)
	require.Contains(t, s.Message, `Stage "test" asks for no approvals`)
	require.Equal(t, kargoapi.PromotionPhasePending, approvalsPromotion(t, project, promo.Name).Status.Phase)

	// ava, of the approvers' group, approves with a comment.
	got = decode[kargoapi.Freight](t, call(t, kubetest.Ava, http.MethodPost, base+"/freight/"+f.Name+"/approve",
		apitypes.ApproveRequest{Stage: "prod", Comment: "CAB-1234: change window agreed"}), http.StatusOK)
	require.Len(t, got.Status.Approvals["prod"], 1)
	a := got.Status.Approvals["prod"][0]
	require.Equal(t, kubetest.Ava, a.User)
	require.Contains(t, a.Groups, kubetest.ApproversGroup)
	require.Equal(t, "CAB-1234: change window agreed", a.Comment)
	require.WithinDuration(t, time.Now(), a.At.Time, time.Minute)
	p = approvalsUntil(t, project, promo.Name, "succeeds", func(p *kargoapi.Promotion) bool { return p.Status.Phase.IsTerminal() })
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Nil(t, p.Status.Approval)

	// The trail: ava's approval with her comment; bob's refusal is not
	// recorded (he may not read the trail), alice's approval is.
	recs := approvalsAudit(t, project, kargoapi.AuditActionApprove)
	var users []string
	for _, r := range recs {
		users = append(users, r.Actor.Username+":"+string(r.Outcome.Result))
		if r.Actor.Username == kubetest.Ava && r.Outcome.Result == kargoapi.AuditResultSucceeded && r.Target.Stage == "prod" {
			require.Equal(t, "CAB-1234: change window agreed", r.Details["comment"])
			require.Equal(t, "approval", r.Details["recorded"])
		}
	}
	require.Contains(t, users, "alice:Succeeded")
	require.Contains(t, users, "ava:Succeeded")
	require.NotContains(t, strings.Join(users, ","), "bob:")
}

// A Pending Promotion is aborted by someone who may promote into its
// Stage, and by nobody else; it ends Aborted, recording who, and the trail
// records the abort.
func TestAbortPromotionAsTheUsersWhoUseIt(t *testing.T) {
	project, f := approvalsProject(t, "approvals-abort")
	base := "/api/v1/projects/" + project
	promo := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost, base+"/stages/prod/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusCreated)
	approvalsUntil(t, project, promo.Name, "waits for approval", func(p *kargoapi.Promotion) bool { return p.Status.Approval != nil })

	s := refusal(t, call(t, bob, http.MethodPost, base+"/promotions/"+promo.Name+"/abort", apitypes.AbortRequest{}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "bob" may not promote to Stage "prod"`)
	refusal(t, call(t, kubetest.Ava, http.MethodPost, base+"/promotions/"+promo.Name+"/abort", apitypes.AbortRequest{}), http.StatusForbidden)
	refusal(t, call(t, nobody, http.MethodPost, base+"/promotions/"+promo.Name+"/abort", apitypes.AbortRequest{}), http.StatusForbidden)
	require.NotContains(t, approvalsPromotion(t, project, promo.Name).Annotations, kargoapi.AbortAnnotationKey)

	got := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost, base+"/promotions/"+promo.Name+"/abort", apitypes.AbortRequest{}), http.StatusOK)
	require.Equal(t, alice, got.Annotations[kargoapi.AbortAnnotationKey])
	p := approvalsUntil(t, project, promo.Name, "is aborted", func(p *kargoapi.Promotion) bool { return p.Status.Phase.IsTerminal() })
	require.Equal(t, kargoapi.PromotionPhaseAborted, p.Status.Phase)
	require.Equal(t, alice, p.Status.AbortedBy)
	require.Equal(t, "Aborted by alice before it started", p.Status.Message)
	require.NotNil(t, p.Status.CompletionTime)

	s = refusal(t, call(t, alice, http.MethodPost, base+"/promotions/"+promo.Name+"/abort", apitypes.AbortRequest{}), http.StatusConflict)
	require.Contains(t, s.Message, "has ended (Aborted)")

	recs := approvalsAudit(t, project, kargoapi.AuditActionAbortPromotion)
	var outcomes []string
	for _, r := range recs {
		require.Equal(t, kargoapi.AuditTarget{Kind: "Promotion", Name: promo.Name, Stage: "prod", Freight: f.Name}, r.Target)
		outcomes = append(outcomes, r.Actor.Username+":"+string(r.Outcome.Result))
	}
	// ava may read the trail, so her refusal is in it; bob and nobody may
	// not, so theirs are not.
	require.ElementsMatch(t, []string{"ava:Refused", "alice:Succeeded", "alice:Failed"}, outcomes)

	// The next Promotion is not held up by the aborted one.
	next := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusCreated)
	p = approvalsUntil(t, project, next.Name, "succeeds", func(p *kargoapi.Promotion) bool { return p.Status.Phase.IsTerminal() })
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
}
