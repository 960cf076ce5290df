package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func TestProcessOfExpandsTasks(t *testing.T) {
	s, err := scheme.New()
	require.NoError(t, err)
	task := &kargoapi.PromotionTask{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "render"},
		Spec: kargoapi.PromotionTaskSpec{
			Vars: []kargoapi.ExpressionVariable{{Name: "dir", Value: "default"}},
			Steps: []kargoapi.PromotionStep{
				step("write", "w", map[string]any{"path": "${{ vars.dir }}/a", "content": "x"}),
				{Uses: "send", If: "${{ vars.dir != 'skip' }}"},
			},
		},
	}
	cluster := &kargoapi.ClusterPromotionTask{
		ObjectMeta: metav1.ObjectMeta{Name: "notify"},
		Spec:       kargoapi.PromotionTaskSpec{Steps: []kargoapi.PromotionStep{{Uses: "send"}}},
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(task, cluster).Build()
	st := objects.Stage("demo", "test")
	st.Spec.Vars = []kargoapi.ExpressionVariable{{Name: "repo", Value: "r"}}
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{
		Vars: []kargoapi.ExpressionVariable{{Name: "repo", Value: "r2"}},
		Steps: []kargoapi.PromotionStep{
			{Uses: "write", As: "first"},
			{Task: &kargoapi.PromotionTaskReference{Name: "render"}, As: "prod", If: "ctx.stage == 'test'", Vars: []kargoapi.ExpressionVariable{{Name: "dir", Value: "out"}}},
			{Task: &kargoapi.PromotionTaskReference{Name: "notify", Kind: "ClusterPromotionTask"}},
		},
	}}
	proc, err := ProcessOf(context.Background(), c, st)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.ExpressionVariable{{Name: "repo", Value: "r"}, {Name: "repo", Value: "r2"}}, proc.Vars, "the template's vars come after the Stage's, and win")
	var aliases, ifs []string
	for i, s := range proc.Steps {
		aliases = append(aliases, Alias(s, i))
		ifs = append(ifs, s.If)
	}
	require.Equal(t, []string{"first", "prod::w", "prod::step-2", "step-3::step-1"}, aliases)
	require.Equal(t, []string{"", "ctx.stage == 'test'", "(ctx.stage == 'test') && (vars.dir != 'skip')", ""}, ifs)
	require.Equal(t, []kargoapi.ExpressionVariable{{Name: "dir", Value: "out"}}, proc.Steps[1].Vars, "the step's value, not the task's default")

	// As in Kargo, a task's input takes the template's value over its
	// default, and one without a default must be given.
	task.Spec.Vars = []kargoapi.ExpressionVariable{{Name: "repo", Value: "task-default"}, {Name: "dir", Value: "default"}, {Name: "branch"}}
	require.NoError(t, c.Update(context.Background(), task))
	_, err = ProcessOf(context.Background(), c, st)
	require.ErrorContains(t, err, "steps[1] (prod): task render needs vars.branch, which has no default: name it in this step's vars or the template's")
	st.Spec.PromotionTemplate.Spec.Steps[1].Vars = append(st.Spec.PromotionTemplate.Spec.Steps[1].Vars, kargoapi.ExpressionVariable{Name: "branch", Value: "main"})
	proc, err = ProcessOf(context.Background(), c, st)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.ExpressionVariable{{Name: "dir", Value: "out"}, {Name: "branch", Value: "main"}}, proc.Steps[1].Vars,
		"repo is the template's (no default comes after it); dir and branch are the step's")
	st.Spec.PromotionTemplate.Spec.Vars = nil
	st.Spec.Vars = nil
	proc, err = ProcessOf(context.Background(), c, st)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.ExpressionVariable{{Name: "repo", Value: "task-default"}, {Name: "dir", Value: "out"}, {Name: "branch", Value: "main"}}, proc.Steps[1].Vars)

	st.Spec.PromotionTemplate.Spec.Steps[1].Task.Name = "nosuch"
	_, err = ProcessOf(context.Background(), c, st)
	require.ErrorContains(t, err, "steps[1] (prod): PromotionTask nosuch does not exist in project demo")
}

func TestValidate(t *testing.T) {
	known := func(n string) bool { return n == "write" }
	problems := Validate("spec.promotionTemplate.spec.steps", []kargoapi.PromotionStep{
		step("write", "a", map[string]any{"path": "${{ vars.x ", "content": "${{ 1 + }}"}),
		{Uses: "write", As: "a"},
		{Uses: "nosuch", If: "${{ ctx.stage == }}"},
		{As: "b::c"},
	}, known)
	require.ElementsMatch(t, []string{
		`spec.promotionTemplate.spec.steps[0] (a).config.path: "${{ vars.x " opens an expression with ${{ and never closes it with }}`,
		`spec.promotionTemplate.spec.steps[0] (a).config.content: expression "1 +" does not parse: unexpected token EOF (1:3)`,
		`spec.promotionTemplate.spec.steps[1] (a).as: alias "a" is used by spec.promotionTemplate.spec.steps[0] too; aliases name outputs, so each is unique`,
		`spec.promotionTemplate.spec.steps[2].uses: there is no step "nosuch"; docs/promotions.md lists the steps`,
		`spec.promotionTemplate.spec.steps[2].if: expression "ctx.stage ==" does not parse: unexpected token EOF (1:12)`,
		`spec.promotionTemplate.spec.steps[3] (b::c).as: "b::c" holds "::", which kargo uses to name a task's steps`,
		`spec.promotionTemplate.spec.steps[3] (b::c): a step names uses (a step such as git-clone) or task (a PromotionTask)`,
	}, problems)
}
