package stage

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestSecretRefs(t *testing.T) {
	value := "literal"
	st := &kargoapi.Stage{Spec: kargoapi.StageSpec{Verification: &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{
		{Name: "a", Headers: []kargoapi.HTTPHeader{{Name: "X-Plain", Value: &value}, {Name: "Authorization", ValueFrom: &kargoapi.SecretKeyRef{Name: "token", Key: "k"}}}},
		{Name: "b", Headers: []kargoapi.HTTPHeader{{Name: "X-Db", ValueFrom: &kargoapi.SecretKeyRef{Name: "db", Key: "k"}}}},
	}}}}
	require.Equal(t, []SecretRef{
		{Field: "spec.verification.http[0].headers[1].valueFrom", Secret: "token", SentTo: `header Authorization of HTTP check "a"`},
		{Field: "spec.verification.http[1].headers[0].valueFrom", Secret: "db", SentTo: `header X-Db of HTTP check "b"`},
	}, SecretRefs(st))
	require.Empty(t, SecretRefs(&kargoapi.Stage{}))
}

func TestSameTarget(t *testing.T) {
	prod := WriteTarget{RepoURL: "https://github.com/example/gitops.git", Branch: "stages/prod"}
	for _, tc := range []struct {
		other WriteTarget
		same  bool
	}{
		{WriteTarget{RepoURL: "https://GitHub.com/example/gitops", Branch: "stages/prod"}, true},
		{WriteTarget{RepoURL: "git@github.com:example/gitops.git", Branch: "stages/prod"}, true},
		{WriteTarget{RepoURL: "https://github.com/example/gitops/", Branch: "stages/prod"}, true},
		{WriteTarget{RepoURL: "https://github.com/example/gitops.git", Branch: "stages/uat"}, false},
		{WriteTarget{RepoURL: "https://github.com/example/other.git", Branch: "stages/prod"}, false},
	} {
		require.Equal(t, tc.same, SameTarget(prod, tc.other), "%+v", tc.other)
	}
}
