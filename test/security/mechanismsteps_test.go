package security

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The steps a Stage's promotionMechanisms run as (promote.Process) act on
// that Stage's mechanisms with the controller's rights. Nobody names them
// anywhere else: not in a promotionTemplate, not in a PromotionTask, not in
// a Promotion.
func TestMechanismStepsAreNotForTemplates(t *testing.T) {
	ns := admissionProject(t, "mechsteps")
	ctx := context.Background()
	uat := objects.Stage(ns, "uat", objects.UpstreamStages("test"))
	uat.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "compose-output", As: "out", Config: stepsConfig(`{"stage": "${{ ctx.stage }}"}`)},
	}}}
	require.NoError(t, env.Admin.Create(ctx, uat))

	for _, uses := range []string{promote.StepCheck, promote.StepGitUpdate, promote.StepArgoCDUpdate} {
		t.Run("bob, promoter of uat, names "+uses+" in uat's promotionTemplate", func(t *testing.T) {
			err := admissionEdit(t, env.As(t, kubetest.Bob), ns, "uat", func(st *kargoapi.Stage) {
				st.Spec.PromotionTemplate.Spec.Steps = append(st.Spec.PromotionTemplate.Spec.Steps,
					kargoapi.PromotionStep{Uses: uses, As: "mine", Config: stepsConfig(`{"index": 0}`)})
			})
			admissionRefused(t, err, 422, `spec.promotionTemplate.spec.steps[1] (mine).uses: there is no step "`+uses+`"`)
			require.Len(t, admissionStage(t, ns, "uat").Spec.PromotionTemplate.Spec.Steps, 1, "the Stage is unchanged")
		})
	}

	t.Run("the admin writes a PromotionTask that names "+promote.StepGitUpdate, func(t *testing.T) {
		task := &kargoapi.PromotionTask{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mechanisms"},
			Spec:       kargoapi.PromotionTaskSpec{Steps: []kargoapi.PromotionStep{{Uses: promote.StepGitUpdate, Config: stepsConfig(`{"index": 0}`)}}},
		}
		admissionRefused(t, env.Admin.Create(ctx, task), 422, `there is no step "`+promote.StepGitUpdate+`"`)
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKeyFromObject(task), &kargoapi.PromotionTask{})), "no task was written")
	})

	t.Run("bob, promoter of uat, brings "+promote.StepGitUpdate+" in his Promotion", func(t *testing.T) {
		p := objects.Promotion(ns, "bobs-mechanisms", "uat", objects.Freight(ns).Name)
		p.Spec.Steps = []kargoapi.PromotionStep{{Uses: promote.StepGitUpdate, As: "git-update-0", Config: stepsConfig(`{"index": 0}`)}}
		require.NoError(t, env.As(t, kubetest.Bob).Create(ctx, p))
		got := &kargoapi.Promotion{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(p), got))
		require.Len(t, got.Spec.Steps, 1)
		require.Equal(t, "compose-output", got.Spec.Steps[0].Uses, "the Stage's steps, not bob's")
	})
}
