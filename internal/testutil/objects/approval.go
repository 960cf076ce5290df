package objects

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Requires makes the Stage ask for required approvals from the named
// groups (anyone with the approve verb when none).
func Requires(required int32, groups ...string) Option[kargoapi.Stage] {
	return func(s *kargoapi.Stage) {
		s.Spec.Approval = &kargoapi.ApprovalRequirement{Required: required, Groups: groups}
	}
}

// ApprovedBy records user's approval of the Freight for stage at at, as
// the API server records it, with user's groups.
func ApprovedBy(stage, user string, at time.Time, groups ...string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) {
		if f.Status.Approvals == nil {
			f.Status.Approvals = map[string][]kargoapi.FreightApproval{}
		}
		f.Status.Approvals[stage] = append(f.Status.Approvals[stage], kargoapi.FreightApproval{User: user, Groups: groups, At: metav1.NewTime(at)})
	}
}

// CreatedBy sets the Promotion's creator, as kargo's mutating webhook
// records it.
func CreatedBy(user string) Option[kargoapi.Promotion] {
	return func(p *kargoapi.Promotion) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[kargoapi.PromotionCreatedByAnnotationKey] = user
	}
}

// AutoPromoted marks the Promotion as created by the PromotionPolicy
// policy's auto-promotion.
func AutoPromoted(policy string) Option[kargoapi.Promotion] {
	return func(p *kargoapi.Promotion) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[kargoapi.AutoPromotedByLabelKey] = policy
	}
}

// ApprovalPolicy returns a policy of namespace selecting the Stages named
// (or matched by the globs) names, asking for required approvals from the
// groups.
func ApprovalPolicy(namespace, name string, names []string, required int32, groups ...string) *kargoapi.ApprovalPolicy {
	return &kargoapi.ApprovalPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: kargoapi.ApprovalPolicySpec{
			Stages:              kargoapi.ApprovalStageSelector{Names: names},
			ApprovalRequirement: kargoapi.ApprovalRequirement{Required: required, Groups: groups},
		},
	}
}
