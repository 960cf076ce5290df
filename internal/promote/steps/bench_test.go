package steps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/bygit"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// benchLayout is a GitOps repository of 200 files: a kustomization, Helm
// values, a JSON file and a base manifest, plus filler.
func benchLayout() map[string]string {
	files := map[string]string{
		"base/app.yaml":                  "kind: Deployment\nimage: nginx:1.0.0\n",
		"stages/test/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\n",
		"stages/test/values.yaml":        "replicaCount: 2 # two\nimage:\n  tag: \"1.0.0\"\n",
		"stages/test/config.json":        "{\n  \"version\": \"1.0.0\",\n  \"replicas\": 2\n}\n",
		"stages/test/notes.yaml":         "notes: []\nlast: none\n",
	}
	for i := range 195 {
		files[fmt.Sprintf("apps/app-%03d/deployment.yaml", i)] = fmt.Sprintf("kind: Deployment\nname: app-%03d\n", i)
	}
	return files
}

// tenSteps is a ten-step promotion of tag into the test Stage of the
// benchmark repository, committed and pushed to main.
func tenSteps(tb testing.TB, repo string) engine.Process {
	s := func(uses, as, cfg string) kargoapi.PromotionStep {
		return kargoapi.PromotionStep{Uses: uses, As: as, Config: &kargoapi.StepConfig{Raw: []byte(cfg)}}
	}
	return engine.Process{Steps: []kargoapi.PromotionStep{
		s("git-clone", "clone", `{"repoURL": "`+repo+`", "checkout": [{"branch": "main", "path": "./out"}]}`),
		s("kustomize-set-image", "", `{"path": "./out/stages/test", "images": [{"image": "nginx"}]}`),
		s("yaml-update", "", `{"path": "./out/stages/test/values.yaml", "updates": [{"key": "image.tag", "value": "${{ imageFrom('nginx').Tag }}"}]}`),
		s("json-update", "", `{"path": "./out/stages/test/config.json", "updates": [{"key": "version", "value": "${{ imageFrom('nginx').Tag }}"}]}`),
		s("copy", "", `{"inPath": "./out/base/app.yaml", "outPath": "./out/stages/test/app.yaml"}`),
		s("delete", "", `{"path": "./out/stages/test/app.yaml"}`),
		s("compose-output", "note", `{"line": "promoted ${{ ctx.targetFreight.alias }}"}`),
		s("yaml-update", "", `{"path": "./out/stages/test/notes.yaml", "updates": [{"key": "last", "value": "${{ outputs.note.line }}"}]}`),
		s("git-commit", "commit", `{"path": "./out", "message": "promote ${{ ctx.targetFreight.alias }} to ${{ ctx.stage }}"}`),
		s("git-push", "push", `{"path": "./out"}`),
	}}
}

// BenchmarkTenStepPromotion measures a Promotion of ten steps (clone, four
// edits, copy, delete, an output, commit, push) through the engine with a
// warm Git cache, against the same change made by hand with the git CLI in
// a warm plain clone of an identical repository: fetch, fast-forward, the
// same edits written directly, commit, push. x-raw is the median promotion
// ÷ the median by-hand time; each Promotion has its own work directory, as
// the controller gives it, removed as the controller removes it (which
// keeps its work tree for the next). git-procs/promotion counts the git
// commands the cache started and git-requests/promotion the HTTP requests
// the server answered, per promotion after the first.
func BenchmarkTenStepPromotion(b *testing.B) {
	srv := gitserver.New(b)
	srv.CreateRepo("ours")
	srv.Commit(b, "ours", "main", benchLayout(), "layout")
	out, err := exec.Command("cp", "-a", srv.Dir("ours"), srv.Dir("raw")).CombinedOutput()
	require.NoError(b, err, string(out))

	s, err := scheme.New()
	require.NoError(b, err)
	st := objects.Stage("demo", "test")
	cache := git.NewCache(b.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})})
	deps := Deps{
		Git:    cache,
		Client: fake.NewClientBuilder().WithScheme(s).WithObjects(st).Build(),
	}
	e := &engine.Engine{Steps: New(deps)}
	proc := tenSteps(b, srv.RepoURL("ours"))
	work := b.TempDir()
	var procs int64
	var requests, promotions int
	promote := func(i int) {
		procs0, requests0 := cache.Processes(), srv.Requests("ours")
		tag := fmt.Sprintf("1.%d.0", i)
		f := objects.Freight("demo", objects.Image("nginx", tag))
		f.Alias = fmt.Sprintf("fox-%d", i)
		p := objects.Promotion("demo", fmt.Sprintf("test-%d", i), "test", f.Name)
		p.UID = types.UID(fmt.Sprintf("uid-%d", i))
		sc := &engine.StepContext{WorkDir: filepath.Join(work, string(p.UID)), Project: "demo", Stage: "test", StageObject: st, Promotion: p, Freight: []*kargoapi.Freight{f}}
		status := &kargoapi.PromotionStatus{}
		outcome, err := e.Run(context.Background(), sc, proc, status, func(bool) error { return nil })
		if err != nil || outcome.Phase != kargoapi.PromotionPhaseSucceeded {
			b.Fatalf("promotion %d: %+v: %v", i, outcome, err)
		}
		// As the controller does once a Promotion has ended, which gives
		// its work trees back for the next.
		require.NoError(b, e.RemoveWorkDir(sc.WorkDir))
		if i > 0 {
			procs += cache.Processes() - procs0
			requests += srv.Requests("ours") - requests0
			promotions++
		}
	}

	clone := filepath.Join(b.TempDir(), "clone")
	bygit.Run(b, filepath.Dir(clone), "clone", "--quiet", srv.RepoURL("raw"), clone)
	byHand := func(i int) {
		tag := fmt.Sprintf("1.%d.0", i)
		bygit.Run(b, clone, "fetch", "--quiet", "origin")
		bygit.Run(b, clone, "merge", "--quiet", "--ff-only", "origin/main")
		write := func(name, content string) {
			require.NoError(b, os.WriteFile(filepath.Join(clone, name), []byte(content), 0o644))
		}
		write("stages/test/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\nimages:\n- name: nginx\n  newTag: "+tag+"\n")
		write("stages/test/values.yaml", "replicaCount: 2 # two\nimage:\n  tag: \""+tag+"\"\n")
		write("stages/test/config.json", "{\n  \"version\": \""+tag+"\",\n  \"replicas\": 2\n}\n")
		write("stages/test/notes.yaml", fmt.Sprintf("notes: []\nlast: promoted fox-%d\n", i))
		bygit.Run(b, clone, "add", "-A")
		bygit.Run(b, clone, "commit", "--quiet", "-m", fmt.Sprintf("promote fox-%d to test", i))
		bygit.Run(b, clone, "push", "--quiet", "origin", "HEAD:main")
	}
	// The first promotion makes the cache's mirror.
	last := bygit.Compare(b, promote, byHand)
	b.ReportMetric(float64(procs)/float64(promotions), "git-procs/promotion")
	b.ReportMetric(float64(requests)/float64(promotions), "git-requests/promotion")
	// The edits landed: the last promotion's tag is in main.
	require.Contains(b, srv.Show(b, "ours", "main", "stages/test/values.yaml"), fmt.Sprintf("1.%d.0", last))
	require.Contains(b, srv.Show(b, "ours", "main", "stages/test/kustomization.yaml"), fmt.Sprintf("newTag: 1.%d.0", last))
}

// BenchmarkPromotionsIntoManyRepositories promotes once into each of 20
// repositories per iteration, each Promotion cloning its repository's
// main, editing one file, committing and pushing, as 20 Stages of 20
// repositories promoted together would. The repositories were promoted
// into before (the mirrors are warm and hold the files). With "current",
// the cache's CheckoutMaxAge is the controller's and nothing but these
// Promotions changes the repositories; with "fetching" every checkout
// fetches. git-requests/promotion counts every HTTP request the server
// answered and git-procs/promotion the git commands the cache started.
func BenchmarkPromotionsIntoManyRepositories(b *testing.B) {
	for _, bc := range []struct {
		name   string
		maxAge time.Duration
	}{{"current", git.DefaultCheckoutMaxAge}, {"fetching", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			const repos = 20
			srv := gitserver.New(b)
			for r := range repos {
				srv.CreateRepo(fmt.Sprintf("repo-%02d", r))
				srv.Commit(b, fmt.Sprintf("repo-%02d", r), "main", map[string]string{"stages/test/values.yaml": "image:\n  tag: \"1.0.0\"\n", "README.md": "demo\n"}, "layout")
			}
			s, err := scheme.New()
			require.NoError(b, err)
			st := objects.Stage("demo", "test")
			cache := git.NewCache(b.TempDir(), git.Options{CheckoutMaxAge: bc.maxAge, Egress: egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})})
			e := &engine.Engine{Steps: New(Deps{Git: cache, Client: fake.NewClientBuilder().WithScheme(s).WithObjects(st).Build()})}
			work := b.TempDir()
			n := 0
			round := func() {
				var wg sync.WaitGroup
				errs := make([]error, repos)
				n++
				for r := range repos {
					wg.Add(1)
					go func() {
						defer wg.Done()
						repo := srv.RepoURL(fmt.Sprintf("repo-%02d", r))
						p := objects.Promotion("demo", fmt.Sprintf("p-%d-%d", n, r), "test", "f")
						p.UID = types.UID(fmt.Sprintf("uid-%d-%d", n, r))
						sc := &engine.StepContext{WorkDir: filepath.Join(work, string(p.UID)), Project: "demo", Stage: "test", StageObject: st, Promotion: p}
						step := func(uses, as, cfg string) kargoapi.PromotionStep {
							return kargoapi.PromotionStep{Uses: uses, As: as, Config: &kargoapi.StepConfig{Raw: []byte(cfg)}}
						}
						proc := engine.Process{Steps: []kargoapi.PromotionStep{
							step("git-clone", "", `{"repoURL": "`+repo+`", "checkout": [{"branch": "main", "path": "./out"}]}`),
							step("yaml-update", "", fmt.Sprintf(`{"path": "./out/stages/test/values.yaml", "updates": [{"key": "image.tag", "value": "1.%d.0"}]}`, n)),
							step("git-commit", "", `{"path": "./out", "message": "promote"}`),
							step("git-push", "", `{"path": "./out"}`),
						}}
						out, err := e.Run(context.Background(), sc, proc, &kargoapi.PromotionStatus{}, func(bool) error { return nil })
						if err == nil && out.Phase != kargoapi.PromotionPhaseSucceeded {
							err = fmt.Errorf("promotion into %s: %s", repo, out.Message)
						}
						if err == nil {
							err = e.RemoveWorkDir(sc.WorkDir)
						}
						errs[r] = err
					}()
				}
				wg.Wait()
				for _, err := range errs {
					require.NoError(b, err)
				}
			}
			// The Promotions before: mirrors made, files fetched.
			round()
			requests := func() int {
				total := 0
				for r := range repos {
					total += srv.Requests(fmt.Sprintf("repo-%02d", r))
				}
				return total
			}
			procs0, requests0 := cache.Processes(), requests()
			promotions := 0
			for b.Loop() {
				round()
				promotions += repos
			}
			b.ReportMetric(float64(requests()-requests0)/float64(promotions), "git-requests/promotion")
			b.ReportMetric(float64(cache.Processes()-procs0)/float64(promotions), "git-procs/promotion")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(promotions/repos), "ms/round")
		})
	}
}
