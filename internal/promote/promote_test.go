package promote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// promoteAll does what the steps of st's promotionMechanisms do (Process)
// with its Git updates: Check, then each update, returning their lines.
func promoteAll(p *Promoter, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion) ([]string, error) {
	lines, err := p.Check(context.Background(), st, f)
	if err != nil {
		return nil, err
	}
	for i := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		line, _, err := p.UpdateRepo(context.Background(), st, f, promo, i)
		if err != nil {
			return lines, err
		}
		lines = append(lines, line)
	}
	return lines, nil
}

var testFreight = &kargoapi.Freight{
	ObjectMeta: metav1.ObjectMeta{Name: "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"},
	Alias:      "mortal-dragonfly",
	Images:     []kargoapi.Image{{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:abc"}},
	Charts:     []kargoapi.Chart{{RepoURL: "https://charts.example.com", Name: "redis", Version: "18.1.0"}},
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return string(b)
}

func TestApply(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"stages/test/kustomization.yaml": "resources:\n- ../../base\n",
		"stages/prod/values.yaml":        "image:\n  repository: nginx # the image\n  tag: '1.24.0'\n",
		"charts/umbrella/Chart.yaml":     "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: redis\n  repository: https://charts.example.com\n  version: 17.0.0\n",
	})
	u := kargoapi.GitRepoUpdate{
		Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/test"}}},
		Helm: &kargoapi.HelmPromotionMechanism{
			Images: []kargoapi.HelmImageUpdate{
				{Image: "nginx", ValuesFilePath: "stages/prod/values.yaml", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag},
			},
			Charts: []kargoapi.HelmChartDependencyUpdate{{Repository: "https://charts.example.com", Name: "redis", ChartPath: "charts/umbrella"}},
		},
	}
	changes, err := Apply(dir, u, testFreight)
	require.NoError(t, err)
	require.Equal(t, []string{
		"set image nginx:1.25.0 in stages/test/kustomization.yaml",
		"set image.tag to 1.25.0 in stages/prod/values.yaml",
		"set dependency redis to 18.1.0 in charts/umbrella/Chart.yaml",
	}, changes)
	require.Contains(t, read(t, dir, "stages/test/kustomization.yaml"), "images:\n- name: nginx\n  newTag: 1.25.0\n")
	require.Equal(t, "image:\n  repository: nginx # the image\n  tag: '1.25.0'\n", read(t, dir, "stages/prod/values.yaml"))
	require.Contains(t, read(t, dir, "charts/umbrella/Chart.yaml"), "version: 18.1.0\n")

	// Applying again changes nothing: the edit is idempotent.
	changes, err = Apply(dir, u, testFreight)
	require.NoError(t, err)
	require.Empty(t, changes)

	u = kargoapi.GitRepoUpdate{Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/test", UseDigest: true}}}}
	changes, err = Apply(dir, u, testFreight)
	require.NoError(t, err)
	require.Equal(t, []string{"set image nginx@sha256:abc in stages/test/kustomization.yaml"}, changes)
	require.Contains(t, read(t, dir, "stages/test/kustomization.yaml"), "digest: sha256:abc")
}

func TestApplyRefusals(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"values.yaml":                    "image:\n  tag: 1.0.0\n",
		"stages/test/kustomization.yaml": "resources: []\n",
	})
	require.NoError(t, os.Symlink("/etc", filepath.Join(dir, "escape")))
	cases := []struct {
		name string
		u    kargoapi.GitRepoUpdate
		want string
	}{
		{"missing key", kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{Images: []kargoapi.HelmImageUpdate{{Image: "nginx", ValuesFilePath: "values.yaml", Key: "image.version", Value: kargoapi.ImageUpdateValueTag}}}}, "image.version"},
		{"missing file", kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{Images: []kargoapi.HelmImageUpdate{{Image: "nginx", ValuesFilePath: "nope.yaml", Key: "a", Value: kargoapi.ImageUpdateValueTag}}}}, "nope.yaml does not exist"},
		{"no kustomization", kargoapi.GitRepoUpdate{Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/uat"}}}}, "no kustomization.yaml in stages/uat"},
		{"symlink out of the repository", kargoapi.GitRepoUpdate{Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "escape"}}}}, "escape"},
		{"dot-dot", kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{Images: []kargoapi.HelmImageUpdate{{Image: "nginx", ValuesFilePath: "../values.yaml", Key: "a", Value: kargoapi.ImageUpdateValueTag}}}}, "../values.yaml"},
		{"image the Freight lacks", kargoapi.GitRepoUpdate{Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "redis", Path: "stages/test"}}}}, "has no image redis (it has: nginx)"},
		{"chart the Freight lacks", kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{Charts: []kargoapi.HelmChartDependencyUpdate{{Repository: "https://x", Name: "y", ChartPath: "c"}}}}, "has no chart y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(dir, tc.u, testFreight)
			require.Error(t, err)
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	require.Equal(t, "image:\n  tag: 1.0.0\n", read(t, dir, "values.yaml"), "a refused edit writes nothing")
}

// A Promotion promoted twice, as after a controller crash between push and
// status update, makes exactly one commit.
func TestPromoteIsIdempotentPerPromotion(t *testing.T) {
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "init")
	p := &Promoter{Git: git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})}
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo"},
		Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
			RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), ReadBranch: "main", WriteBranch: "stages/test",
			Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/test"}}},
		}}}},
	}
	promo := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "0b5e7d4e-1111-2222-3333-444455556666"}}
	out, err := promoteAll(p, st, testFreight, promo)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Contains(t, out[0], "committed")
	head := gs.BranchHead(t, "gitops", "stages/test")

	out, err = promoteAll(p, st, testFreight, promo)
	require.NoError(t, err)
	require.Contains(t, out[0], "committed before a restart")
	require.Equal(t, head, gs.BranchHead(t, "gitops", "stages/test"), "exactly one commit")
	msg := gs.Git(t, "gitops", "", "log", "-1", "--format=%B", "stages/test")
	require.Contains(t, msg, "Promote mortal-dragonfly to test")
	require.Contains(t, msg, "Kargo-Freight: f5f87aa23c9e97f43eb83dd63768ee41f5ba3766")
	require.Contains(t, msg, "Kargo-Freight-Alias: mortal-dragonfly")
	require.Contains(t, msg, "Kargo-Promotion: 0b5e7d4e-1111-2222-3333-444455556666")

	// A Stage that would write to the branch its Freight comes from is refused.
	st.Spec.Subscriptions = &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), Branch: "stages/test"}}}}
	_, err = promoteAll(p, st, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{UID: "other"}})
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.Contains(t, err.Error(), "in a loop")
}

// Freight whose alias was removed (a documented operation) is promoted like
// any other: its commit names it by its fingerprint and carries no alias
// trailer, since a trailer cannot be empty.
func TestPromoteFreightWithoutAlias(t *testing.T) {
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "init")
	p := &Promoter{Git: git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})}
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo"},
		Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
			RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), ReadBranch: "main", WriteBranch: "stages/test",
			Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/test"}}},
		}}}},
	}
	f := testFreight.DeepCopy()
	f.Alias = ""
	out, err := promoteAll(p, st, f, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "5e0b4f3c-aaaa-bbbb-cccc-ddddeeeeffff"}})
	require.NoError(t, err)
	require.Contains(t, out[0], "committed")
	msg := gs.Git(t, "gitops", "", "log", "-1", "--format=%B", "stages/test")
	require.Contains(t, msg, "Promote f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 to test")
	require.Contains(t, msg, "Kargo-Freight: f5f87aa23c9e97f43eb83dd63768ee41f5ba3766")
	require.NotContains(t, msg, "Kargo-Freight-Alias")
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.25.0")
}

// Landing tells whether the write branch holds a Promotion's commit as the
// newest commit made for the Stage.
func TestLanding(t *testing.T) {
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "init")
	p := &Promoter{Git: git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})}
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo"},
		Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
			RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), ReadBranch: "main", WriteBranch: "stages/test",
			Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/test"}}},
		}}}},
	}
	where := gs.RepoURL("gitops") + " stages/test"

	l, err := p.Landing(context.Background(), st, "uid-1")
	require.NoError(t, err)
	require.Equal(t, Landing{Missing: []string{where}}, l, "no branch yet")

	_, err = promoteAll(p, st, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "p1", UID: "uid-1"}})
	require.NoError(t, err)
	head := gs.BranchHead(t, "gitops", "stages/test")
	l, err = p.Landing(context.Background(), st, "uid-1")
	require.NoError(t, err)
	require.Equal(t, Landing{Landed: []string{where + " @ " + head[:7]}}, l)

	l, err = p.Landing(context.Background(), st, "uid-2")
	require.NoError(t, err)
	require.Equal(t, Landing{Missing: []string{where}}, l, "another Promotion's commit is not this one's")
}

// Of two Stages that write one branch (they raced past the webhook, or
// predate it), only the one created first writes; the other's promotions
// fail without a commit, naming the first when it is in the same project.
func TestOnlyTheFirstOfTwoWritersOfABranchWrites(t *testing.T) {
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/prod/kustomization.yaml": "resources: []\n"}, "init")
	writer := func(ns, name string, created time.Time, repoURL string) *kargoapi.Stage {
		return &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(ns + "/" + name), CreationTimestamp: metav1.NewTime(created)},
			Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: kargoapi.GitRepoURL(repoURL), ReadBranch: "main", WriteBranch: "stages/prod",
				Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: "stages/prod"}}},
			}}}},
		}
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	repo := gs.RepoURL("gitops")
	prod := writer("kargo-demo", "prod", t0, repo)
	// The same repository, spelled differently.
	test := writer("kargo-demo", "test", t0.Add(time.Minute), strings.TrimSuffix(repo, ".git")+"/")
	elsewhere := writer("other", "a", t0.Add(2*time.Minute), repo)
	// Created after prod and before late, and listed before prod: the
	// refusal still names the oldest writer, the one that keeps writing.
	second := writer("kargo-demo", "aardvark", t0.Add(30*time.Second), repo)
	late := writer("kargo-demo", "late", t0.Add(3*time.Minute), repo)
	scheme := runtime.NewScheme()
	require.NoError(t, kargoapi.AddToScheme(scheme))
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(prod, test, elsewhere, second, late).Build()
	p := &Promoter{Git: git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})}), Client: c}

	_, err := promoteAll(p, test, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{UID: "1"}})
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.Contains(t, err.Error(), "Stage prod writes branch stages/prod")
	_, err = promoteAll(p, elsewhere, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{UID: "2"}})
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.Contains(t, err.Error(), "a Stage of another project writes branch stages/prod")
	require.NotContains(t, err.Error(), "prod writes", "another project's Stage is not named")
	_, err = promoteAll(p, late, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{UID: "4"}})
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.Contains(t, err.Error(), "Stage prod writes branch stages/prod", "the oldest writer is named")
	require.Empty(t, gs.Git(t, "gitops", "", "branch", "--list", "stages/prod"), "nothing was written")

	out, err := promoteAll(p, prod, testFreight, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{UID: "3"}})
	require.NoError(t, err)
	require.Contains(t, out[0], "committed")
}

// The Stage, the Freight and Chart.yaml may spell one repository
// differently (repourl.Same): an image named docker.io/library/nginx is the
// Freight's nginx, and a chart dependency from https://Charts.example.com/
// is the Freight's chart from https://charts.example.com.
func TestApplyMatchesSpellingsOfOneRepository(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"values.yaml":                "image:\n  tag: 1.24.0\n",
		"charts/umbrella/Chart.yaml": "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: redis\n  repository: https://Charts.example.com/\n  version: 17.0.0\n",
	})
	u := kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{
		Images: []kargoapi.HelmImageUpdate{{Image: "docker.io/library/nginx", ValuesFilePath: "values.yaml", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}},
		Charts: []kargoapi.HelmChartDependencyUpdate{{Repository: "https://charts.example.com/", Name: "redis", ChartPath: "charts/umbrella"}},
	}}
	changes, err := Apply(dir, u, testFreight)
	require.NoError(t, err)
	require.Equal(t, []string{
		"set image.tag to 1.25.0 in values.yaml",
		"set dependency redis to 18.1.0 in charts/umbrella/Chart.yaml",
	}, changes)

	// Another registry's nginx is another image.
	u = kargoapi.GitRepoUpdate{Helm: &kargoapi.HelmPromotionMechanism{
		Images: []kargoapi.HelmImageUpdate{{Image: "ghcr.io/library/nginx", ValuesFilePath: "values.yaml", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}},
	}}
	_, err = Apply(dir, u, testFreight)
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.ErrorContains(t, err, "has no image ghcr.io/library/nginx (it has: nginx)")
}

func TestReadRefFindsTheFreightsCommitUnderAnySpelling(t *testing.T) {
	f := &kargoapi.Freight{Commits: []kargoapi.GitCommit{{RepoURL: "https://github.com/example/gitops.git", ID: "abc"}}}
	for url, want := range map[string]string{
		"git@github.com:example/gitops.git":              "abc",
		"https://GitHub.com/Example/GitOps/":             "abc",
		"ssh://git@github.com/example/gitops":            "abc",
		"https://github.com/example/gitops2":             "",
		"https://github.com.evil.example/example/gitops": "",
	} {
		require.Equal(t, want, readRef(kargoapi.GitRepoUpdate{RepoURL: kargoapi.GitRepoURL(url)}, f), url)
	}
}
