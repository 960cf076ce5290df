package shard

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func project(labels map[string]string, claim string) *kargoapi.Project {
	return &kargoapi.Project{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels},
		Status:     kargoapi.ProjectStatus{Shard: claim},
	}
}

func TestOwnershipAndClaims(t *testing.T) {
	a, err := New("a", "team=a", nil)
	require.NoError(t, err)
	def, err := New("", "", nil)
	require.NoError(t, err)
	teamA := map[string]string{"team": "a"}
	teamB := map[string]string{"team": "b"}
	for _, tc := range []struct {
		name  string
		s     *Shard
		p     *kargoapi.Project
		owns  bool
		claim Claim
	}{
		{"selected, unclaimed: take it, not yet owned", a, project(teamA, ""), false, Take},
		{"selected, claimed by us: owned", a, project(teamA, "a"), true, Keep},
		{"selected, claimed by another set: not ours", a, project(teamA, "b"), false, Keep},
		{"not selected, claimed by us: give it up", a, project(teamB, "a"), false, GiveUp},
		{"not selected, unclaimed: nothing", a, project(teamB, ""), false, Keep},
		{"default set, unclaimed: owned", def, project(teamB, ""), true, Keep},
		{"default set, claimed: not ours", def, project(teamA, "a"), false, Keep},
		{"no shards at all: owned", nil, project(teamA, "a"), true, Keep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.owns, tc.s.OwnsProject(tc.p))
			require.Equal(t, tc.claim, tc.s.Decide(tc.p))
		})
	}
}

func TestNewRefusesHalfAShard(t *testing.T) {
	_, err := New("a", "", nil)
	require.ErrorContains(t, err, "both a name and a selector")
	_, err = New("", "team=a", nil)
	require.ErrorContains(t, err, "both a name and a selector")
	_, err = New("a", "team in (a", nil)
	require.ErrorContains(t, err, "parse the shard selector")
}
