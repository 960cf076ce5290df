package promote

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/collection"
)

func whOrigin(name string) *kargoapi.FreightOrigin {
	return &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}
}

func multiStage(origins ...string) *kargoapi.Stage {
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test"}}
	for _, o := range origins {
		st.Spec.RequestedFreight = append(st.Spec.RequestedFreight, kargoapi.FreightRequest{
			Origin: *whOrigin(o), Sources: kargoapi.FreightSources{Direct: true},
		})
	}
	st.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{
		GitRepoUpdates: []kargoapi.GitRepoUpdate{{
			RepoURL: "https://git.example.com/gitops.git", WriteBranch: "stages/test",
			Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{
				{Image: "api", Path: "stages/test"}, {Image: "web", Path: "stages/test"},
			}},
		}},
		ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{AppName: "test", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
			RepoURL: "https://git.example.com/config.git", UpdateTargetRevision: true,
			Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "web"}}},
		}}}},
	}
	return st
}

func originFreight(name, origin string, images []kargoapi.Image, commits []kargoapi.GitCommit) *kargoapi.Freight {
	return &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Name: name}, Origin: whOrigin(origin), Images: images, Commits: commits}
}

// The updates of a promotion read the promoted Freight and what the Stage
// holds of its other origins; the promoted Freight wins where both carry an
// artifact.
func TestViewCarriesTheOtherOrigins(t *testing.T) {
	st := multiStage("api", "web", "config")
	web := originFreight("web-1", "web", []kargoapi.Image{{RepoURL: "web", Tag: "2.0.0"}}, nil)
	cfg := originFreight("cfg-1", "config", nil, []kargoapi.GitCommit{{RepoURL: "https://git.example.com/gitops.git", ID: "c1"}})
	oldAPI := originFreight("api-1", "api", []kargoapi.Image{{RepoURL: "api", Tag: "1.0.0"}}, nil)
	for _, f := range []*kargoapi.Freight{web, cfg, oldAPI} {
		collection.Record(st, simple(f), 10)
	}
	api := originFreight("api-2", "api", []kargoapi.Image{{RepoURL: "api", Tag: "1.1.0"}, {RepoURL: "web", Tag: "9.9.9"}}, nil)
	v, missing := View(st, api)
	require.Empty(t, missing)
	require.Equal(t, "api-2", v.Name, "the promoted Freight names the commit")
	require.Equal(t, []kargoapi.Image{{RepoURL: "api", Tag: "1.1.0"}, {RepoURL: "web", Tag: "9.9.9"}}, v.Images, "the promoted Freight's image wins; the old api Freight is gone")
	require.Equal(t, "c1", v.Commits[0].ID, "the config Freight's commit is what the update reads from")
	require.Equal(t, "c1", readRef(st.Spec.PromotionMechanisms.GitRepoUpdates[0], v))

	pm, left := Trim(st.Spec.PromotionMechanisms, v, missing)
	require.Empty(t, left)
	require.Same(t, st.Spec.PromotionMechanisms, pm, "with every origin held, the spec is applied as written")
}

// Edits that need Freight of an origin the Stage holds nothing of yet are
// left out, each with a line that says so; the rest apply.
func TestTrimLeavesMissingOriginsAlone(t *testing.T) {
	st := multiStage("api", "web", "config")
	api := originFreight("api-1", "api", []kargoapi.Image{{RepoURL: "api", Tag: "1.0.0"}}, nil)
	v, missing := View(st, api)
	require.Equal(t, []kargoapi.FreightOrigin{*whOrigin("web"), *whOrigin("config")}, missing)
	pm, left := Trim(st.Spec.PromotionMechanisms, v, missing)
	require.Equal(t, []kargoapi.KustomizeImageUpdate{{Image: "api", Path: "stages/test"}}, pm.GitRepoUpdates[0].Kustomize.Images)
	su := pm.ArgoCDAppUpdates[0].SourceUpdates[0]
	require.Nil(t, su.Kustomize)
	require.False(t, su.UpdateTargetRevision)
	require.Len(t, left, 3)
	require.Contains(t, left[0], "left image web in stages/test of https://git.example.com/gitops.git as it is: the Stage holds no Freight yet from Warehouse web, Warehouse config")
	require.Len(t, st.Spec.PromotionMechanisms.GitRepoUpdates[0].Kustomize.Images, 2, "the Stage's spec is untouched")
}

func simple(f *kargoapi.Freight) kargoapi.SimpleFreight {
	return kargoapi.SimpleFreight{ID: f.Name, Origin: f.Origin, Images: f.Images, Commits: f.Commits, Charts: f.Charts}
}
