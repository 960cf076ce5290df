package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubernetes' note that CEL rules went unchecked tells a user nothing to
// change: it is taken out of what the server answers, and the rest kept.
func TestDropUncheckedRules(t *testing.T) {
	unchecked := metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Message: "Invalid value: null: " + uncheckedRules, Field: "<nil>"}
	required := metav1.StatusCause{Type: metav1.CauseTypeFieldValueRequired, Message: "Required value", Field: "spec.stage"}
	enum := metav1.StatusCause{Type: metav1.CauseTypeFieldValueNotSupported, Message: `Unsupported value: "X"`, Field: "spec.x"}
	for _, tc := range []struct {
		name          string
		message, want string
		causes, left  []metav1.StatusCause
	}{
		{
			name:    "one cause left",
			message: `Promotion.kargo.akuity.io "p" is invalid: spec.stage: Required value, <nil>: Invalid value: null: ` + uncheckedRules,
			want:    `Promotion.kargo.akuity.io "p" is invalid: spec.stage: Required value`,
			causes:  []metav1.StatusCause{required, unchecked}, left: []metav1.StatusCause{required},
		},
		{
			name:    "a list of one",
			message: `Stage.kargo.akuity.io "s" is invalid: [spec.stage: Required value, <nil>: Invalid value: "null": ` + uncheckedRules + `]`,
			want:    `Stage.kargo.akuity.io "s" is invalid: spec.stage: Required value`,
			causes:  []metav1.StatusCause{required, unchecked}, left: []metav1.StatusCause{required},
		},
		{
			name:    "a list of two",
			message: `Stage.kargo.akuity.io "s" is invalid: [spec.stage: Required value, spec.x: Unsupported value: "X", <nil>: Invalid value: "null": ` + uncheckedRules + `]`,
			want:    `Stage.kargo.akuity.io "s" is invalid: [spec.stage: Required value, spec.x: Unsupported value: "X"]`,
			causes:  []metav1.StatusCause{required, enum, unchecked}, left: []metav1.StatusCause{required, enum},
		},
		{
			name:    "nothing to drop",
			message: `Stage.kargo.akuity.io "s" is invalid: spec.stage: Required value`,
			want:    `Stage.kargo.akuity.io "s" is invalid: spec.stage: Required value`,
			causes:  []metav1.StatusCause{required}, left: []metav1.StatusCause{required},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := metav1.Status{Message: tc.message, Details: &metav1.StatusDetails{Causes: tc.causes}}
			dropUncheckedRules(&s)
			require.Equal(t, tc.want, s.Message)
			require.Equal(t, tc.left, s.Details.Causes)
		})
	}
}
