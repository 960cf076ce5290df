package steps

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The steps of promotionMechanisms act on the mechanisms of the Stage
// promoted into and nothing else: a template may not name them, and,
// named anyway (its admission bypassed), they refuse a Stage without
// mechanisms, whatever their configuration says.
func TestMechanismStepsActOnTheStagesMechanismsOnly(t *testing.T) {
	for _, name := range []string{promote.StepCheck, promote.StepGitUpdate, promote.StepArgoCDUpdate} {
		require.False(t, Known(name), "%s is not for templates", name)
		require.Contains(t, New(Deps{}), name, "the engine runs %s", name)

		sc := stepContext(t, nil)
		sc.Stage, sc.StageObject = "uat", objects.Stage("demo", "uat")
		sc.StageObject.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{}
		sc.Promotion = objects.Promotion("demo", "p", "uat", sc.Freight[0].Name)
		cfg := `{}`
		if name == promote.StepGitUpdate {
			cfg = `{"index": 0}`
		}
		_, err := run(t, name, sc, cfg)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "Stage uat has none")

		_, err = run(t, name, sc, `{"repoURL": "https://elsewhere.example/x.git"}`)
		require.ErrorContains(t, err, `unknown field "repoURL"`, "%s takes nothing from its configuration but an index", name)
	}
	require.True(t, Known("git-push"))
}
