package security

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func stepsConfig(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }

// Promotion steps run with the controller's rights, so who decides them
// matters: only someone who may promote into a Stage may change its steps,
// directly or through a PromotionTask it uses, and a Promotion runs its
// Stage's steps whatever its creator wrote into it.
func TestStepsAreTheStagesOwn(t *testing.T) {
	ns := admissionProject(t, "steps")
	ctx := context.Background()
	// carol may write every kargo kind, PromotionTasks too, but not promote.
	taskEditor := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "task-editor", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotiontasks"},
			Verbs: []string{"create", "get", "update", "patch"},
		}},
	}
	require.NoError(t, env.Admin.Create(ctx, taskEditor))
	env.Bind(t, ns, kubetest.Carol, "Role", taskEditor.Name)
	task := &kargoapi.PromotionTask{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "render"},
		Spec: kargoapi.PromotionTaskSpec{Steps: []kargoapi.PromotionStep{
			{Uses: "compose-output", As: "out", Config: stepsConfig(`{"stage": "${{ ctx.stage }}"}`)},
		}},
	}
	require.NoError(t, env.Admin.Create(ctx, task))
	uat := objects.Stage(ns, "uat", objects.UpstreamStages("test"))
	uat.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Task: &kargoapi.PromotionTaskReference{Name: "render"}, As: "render"},
	}}}
	require.NoError(t, env.Admin.Create(ctx, uat))

	t.Run("carol, who may edit tasks but not promote, changes a task uat uses", func(t *testing.T) {
		got := &kargoapi.PromotionTask{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(task), got))
		got.Spec.Steps[0].Config = stepsConfig(`{"stage": "pwned"}`)
		admissionRefused(t, env.As(t, kubetest.Carol).Update(ctx, got), 403, "PromotionTask render", "uat")
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(task), got))
		require.JSONEq(t, `{"stage": "${{ ctx.stage }}"}`, string(got.Spec.Steps[0].Config.Raw), "the task is unchanged")
	})

	t.Run("carol changes uat's steps", func(t *testing.T) {
		st := admissionStage(t, ns, "uat")
		st.Spec.PromotionTemplate.Spec.Steps = append(st.Spec.PromotionTemplate.Spec.Steps, kargoapi.PromotionStep{Uses: "delete", Config: stepsConfig(`{"path": "x"}`)})
		admissionRefused(t, env.As(t, kubetest.Carol).Update(ctx, st), 403)
		require.Len(t, admissionStage(t, ns, "uat").Spec.PromotionTemplate.Spec.Steps, 1)
	})

	t.Run("bob, promoter of uat, brings steps of his own and names another creator", func(t *testing.T) {
		p := objects.Promotion(ns, "bobs", "uat", objects.Freight(ns).Name)
		p.Annotations = map[string]string{kargoapi.PromotionCreatedByAnnotationKey: kubetest.Alice}
		p.Spec.Steps = []kargoapi.PromotionStep{{Uses: "delete", As: "mine", Config: stepsConfig(`{"path": "."}`)}}
		p.Spec.Vars = []kargoapi.ExpressionVariable{{Name: "x", Value: "y"}}
		require.NoError(t, env.As(t, kubetest.Bob).Create(ctx, p))
		got := &kargoapi.Promotion{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(p), got))
		require.Equal(t, kubetest.Bob, got.Annotations[kargoapi.PromotionCreatedByAnnotationKey])
		require.Empty(t, got.Spec.Vars)
		require.Len(t, got.Spec.Steps, 1)
		require.Equal(t, "compose-output", got.Spec.Steps[0].Uses, "the Stage's steps, tasks expanded, not bob's")
		require.Equal(t, "render::out", got.Spec.Steps[0].As)
	})

	t.Run("a step that does not exist, or an expression that does not parse, is refused with where it is", func(t *testing.T) {
		st := admissionStage(t, ns, "uat")
		st.Spec.PromotionTemplate.Spec.Steps = []kargoapi.PromotionStep{
			{Uses: "git-clown", As: "clone"},
			{Uses: "compose-output", Config: stepsConfig(`{"a": "${{ ctx.stage + }}"}`)},
		}
		err := env.Admin.Update(ctx, st)
		admissionRefused(t, err, 422, `spec.promotionTemplate.spec.steps[0] (clone).uses: there is no step "git-clown"`,
			`spec.promotionTemplate.spec.steps[1].config.a: expression "ctx.stage +" does not parse`)
	})
}
