package approval

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func approvalOf(user string, at time.Time, groups ...string) kargoapi.FreightApproval {
	return kargoapi.FreightApproval{User: user, Groups: groups, At: metav1.NewTime(at)}
}

func TestCounts(t *testing.T) {
	hour := &metav1.Duration{Duration: time.Hour}
	for _, tc := range []struct {
		name string
		req  kargoapi.ApprovalRequirement
		a    kargoapi.FreightApproval
		ok   bool
		why  string
	}{
		{"anyone with the verb, when nobody is named", kargoapi.ApprovalRequirement{}, approvalOf("carol", t0), true, ""},
		{"the promoter's own approval", kargoapi.ApprovalRequirement{}, approvalOf("alice", t0), false, "alice created the Promotion"},
		{"the promoter's own, even named", kargoapi.ApprovalRequirement{Users: []string{"alice"}}, approvalOf("alice", t0), false, "nobody approves their own promotion"},
		{"a named user", kargoapi.ApprovalRequirement{Users: []string{"carol"}}, approvalOf("carol", t0), true, ""},
		{"a user not named", kargoapi.ApprovalRequirement{Users: []string{"carol"}}, approvalOf("dave", t0), false, "not one of the approvers"},
		{"a member of a named group", kargoapi.ApprovalRequirement{Groups: []string{"release"}}, approvalOf("ava", t0, "release", "system:authenticated"), true, ""},
		{"a member of another group", kargoapi.ApprovalRequirement{Groups: []string{"release"}}, approvalOf("ava", t0, "dev"), false, "not one of the approvers"},
		{"a ServiceAccount, nobody named", kargoapi.ApprovalRequirement{}, approvalOf("system:serviceaccount:p:ci", t0), false, "ServiceAccount"},
		{"a ServiceAccount in a named group", kargoapi.ApprovalRequirement{Groups: []string{"release"}}, approvalOf("system:serviceaccount:p:ci", t0, "release"), false, "ServiceAccount"},
		{"a ServiceAccount named", kargoapi.ApprovalRequirement{Users: []string{"system:serviceaccount:p:ci"}}, approvalOf("system:serviceaccount:p:ci", t0), true, ""},
		{"within its expiry", kargoapi.ApprovalRequirement{ExpireAfter: hour}, approvalOf("carol", t0.Add(-59*time.Minute)), true, ""},
		{"expired", kargoapi.ApprovalRequirement{ExpireAfter: hour}, approvalOf("carol", t0.Add(-time.Hour)), false, "expired after 1h0m0s"},
		{"no approver recorded", kargoapi.ApprovalRequirement{}, approvalOf("", t0), false, "no approver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := Counts(tc.req, tc.a, "alice", t0)
			require.Equal(t, tc.ok, ok, why)
			require.Contains(t, why, tc.why)
		})
	}
}

func TestRequirementsAndSelection(t *testing.T) {
	prod := objects.Stage("p", "prod-eu", objects.Requires(1))
	prod.Labels = map[string]string{"tier": "prod"}
	policies := []kargoapi.ApprovalPolicy{
		*objects.ApprovalPolicy("p", "z-glob", []string{"prod-*"}, 2, "release"),
		*objects.ApprovalPolicy("p", "a-exact", []string{"prod-eu"}, 1),
		*objects.ApprovalPolicy("p", "other-stage", []string{"uat"}, 1),
		*objects.ApprovalPolicy("other-project", "same-name", []string{"prod-eu"}, 1),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "labels"}, Spec: kargoapi.ApprovalPolicySpec{
			Stages: kargoapi.ApprovalStageSelector{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "bad-glob"}, Spec: kargoapi.ApprovalPolicySpec{
			Stages: kargoapi.ApprovalStageSelector{Names: []string{"[prod"}},
		}},
	}
	var sources []string
	for _, r := range Requirements(prod, policies) {
		sources = append(sources, r.Source)
	}
	require.Equal(t, []string{"Stage prod-eu", "ApprovalPolicy a-exact", "ApprovalPolicy labels", "ApprovalPolicy z-glob"}, sources)
	require.Empty(t, Requirements(objects.Stage("p", "test"), policies[:1]), "a glob that does not match selects nothing")
}

func TestCheckAndDescribe(t *testing.T) {
	reqs := []Requirement{
		{ApprovalRequirement: kargoapi.ApprovalRequirement{Required: 2, Groups: []string{"release"}}, Source: "Stage prod"},
		{ApprovalRequirement: kargoapi.ApprovalRequirement{Users: []string{"carol"}}, Source: "ApprovalPolicy cab"},
	}
	approvals := []kargoapi.FreightApproval{
		approvalOf("alice", t0, "release"), // the promoter
		approvalOf("ava", t0, "release"),
		approvalOf("ava", t0, "release"), // counted once
	}
	unmet := Check(reqs, approvals, "alice", t0)
	require.Len(t, unmet, 2)
	require.Equal(t, 1, unmet[0].Have)
	msg := Describe(unmet, NotCounted(unmet, approvals, "alice", t0), "alice")
	require.Contains(t, msg, "1 more approval from group release (Stage prod asks for 2)")
	require.Contains(t, msg, "1 more approval from user carol (ApprovalPolicy cab asks for 1)")
	require.Contains(t, msg, "alice's own approval does not count")
	require.Contains(t, msg, "not counted: alice created the Promotion")

	approvals = append(approvals, approvalOf("abe", t0, "release"), approvalOf("carol", t0))
	require.Empty(t, Check(reqs, approvals, "alice", t0))
	require.Len(t, Check(reqs, approvals, "carol", t0), 1, "carol's approval does not count for carol's Promotion")
}
