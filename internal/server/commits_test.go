package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The branches a Promotion wrote come from the Promotion's own process and
// outputs (or, without steps, its Stage's gitRepoUpdates), never from
// anything else.
func TestPromotionTargets(t *testing.T) {
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	withSteps := func(vars []kargoapi.ExpressionVariable, state string, steps ...kargoapi.PromotionStep) *kargoapi.Promotion {
		p := objects.Promotion("p", "x", "test", "f")
		p.Spec.Vars, p.Spec.Steps = vars, steps
		if state != "" {
			p.Status.State = cfg(state)
		}
		return p
	}
	mechanisms := objects.Stage("p", "test")
	mechanisms.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{
		{RepoURL: "https://git.example.com/a.git", WriteBranch: "refs/heads/stages/test"},
	}}
	for _, tc := range []struct {
		name  string
		promo *kargoapi.Promotion
		stage *kargoapi.Stage
		want  []commitTarget
		notes int
	}{
		{name: "promotionMechanisms: the Stage's write branches", promo: withSteps(nil, ""), stage: mechanisms,
			want: []commitTarget{{RepoURL: "https://git.example.com/a.git", Branch: "stages/test"}}},
		{name: "no steps and no Stage", promo: withSteps(nil, "")},
		{name: "steps: the cloned repository and the pushed branch",
			promo: withSteps(nil, `{"push": {"branch": "stages/test", "commit": "abc"}}`,
				kargoapi.PromotionStep{Uses: "git-clone", Config: cfg(`{"repoURL": "https://git.example.com/b.git"}`)},
				kargoapi.PromotionStep{Uses: "git-push", As: "push", Config: cfg(`{"path": "./out"}`)}),
			stage: mechanisms,
			want:  []commitTarget{{RepoURL: "https://git.example.com/b.git", Branch: "stages/test"}}},
		{name: "steps: a repository in a variable",
			promo: withSteps([]kargoapi.ExpressionVariable{{Name: "repo", Value: "https://git.example.com/c.git"}}, `{"step-2": {"branch": "main"}}`,
				kargoapi.PromotionStep{Uses: "git-clone", Config: cfg(`{"repoURL": "${{ vars.repo }}"}`)},
				kargoapi.PromotionStep{Uses: "git-push", Config: cfg(`{"path": "./out"}`)}),
			want: []commitTarget{{RepoURL: "https://git.example.com/c.git", Branch: "main"}}},
		{name: "steps: a repository from another expression is not evaluated",
			promo: withSteps(nil, `{"push": {"branch": "main"}}`,
				kargoapi.PromotionStep{Uses: "git-clone", Config: cfg(`{"repoURL": "${{ ctx.stage + 'x' }}"}`)},
				kargoapi.PromotionStep{Uses: "git-push", As: "push"}),
			notes: 1},
		{name: "steps: a push that has not run yet",
			promo: withSteps(nil, "",
				kargoapi.PromotionStep{Uses: "git-clone", Config: cfg(`{"repoURL": "https://git.example.com/b.git"}`)},
				kargoapi.PromotionStep{Uses: "git-push", As: "push"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, notes := promotionTargets(tc.promo, tc.stage)
			require.Equal(t, tc.want, got)
			require.Len(t, notes, tc.notes)
		})
	}
}
