package steps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// gitFixture is a Git server with one repository (app: main holds
// base/app.yaml), a Git cache allowed to reach it, and Stage demo/test
// created at t0.
type gitFixture struct {
	srv    *gitserver.Server
	repo   string
	src    string
	cache  *git.Cache
	client client.Client
	deps   Deps
	stage  *kargoapi.Stage
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newGitFixture(t *testing.T, objs ...client.Object) *gitFixture {
	t.Helper()
	srv := gitserver.New(t)
	f := &gitFixture{srv: srv, repo: srv.CreateRepo("app")}
	f.src = srv.Commit(t, "app", "main", map[string]string{"base/app.yaml": "image: nginx:1.26.0\n"}, "init")
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})
	f.cache = git.NewCache(t.TempDir(), git.Options{Egress: policy})
	f.stage = objects.Stage("demo", "test")
	f.stage.UID = "stage-test"
	f.stage.CreationTimestamp = metav1.NewTime(t0)
	s, err := scheme.New()
	require.NoError(t, err)
	f.client = fake.NewClientBuilder().WithScheme(s).WithObjects(append(objs, f.stage)...).Build()
	f.deps = Deps{Git: f.cache, Client: f.client}
	return f
}

func (f *gitFixture) stepContext(t *testing.T, promotion string) *engine.StepContext {
	p := objects.Promotion("demo", promotion, "test", "f1", objects.PromotionCreated(t0.Add(time.Hour)))
	p.UID = types.UID("uid-" + promotion)
	fr := objects.Freight("demo", objects.Image("nginx", "1.26.0"))
	fr.Alias = "brave-fox"
	return &engine.StepContext{WorkDir: filepath.Join(t.TempDir(), "work"), Project: "demo", Stage: "test", Promotion: p, Freight: []*kargoapi.Freight{fr}}
}

func step(t *testing.T, uses, as, cfg string) kargoapi.PromotionStep {
	t.Helper()
	require.True(t, json.Valid([]byte(cfg)), cfg)
	return kargoapi.PromotionStep{Uses: uses, As: as, Config: &kargoapi.StepConfig{Raw: []byte(cfg)}}
}

// renderProcess clones the Freight's commit and the Stage's branch,
// replaces the branch's content with base/, commits and pushes: the
// rendered-branch pattern of Kargo's docs.
func (f *gitFixture) renderProcess(t *testing.T, push string) engine.Process {
	return engine.Process{Steps: []kargoapi.PromotionStep{
		step(t, "git-clone", "clone", `{"repoURL": "`+f.repo+`", "checkout": [
			{"commit": "`+f.src+`", "path": "./src"},
			{"branch": "stages/test", "create": true, "path": "./out", "as": "out"}]}`),
		step(t, "git-clear", "", `{"path": "./out"}`),
		step(t, "copy", "", `{"inPath": "./src/base", "outPath": "./out"}`),
		step(t, "git-commit", "commit", `{"path": "./out", "message": "render ${{ ctx.stage }}"}`),
		step(t, "git-push", "push", push),
	}}
}

func outputs(t *testing.T, status *kargoapi.PromotionStatus) map[string]map[string]any {
	t.Helper()
	var out map[string]map[string]any
	require.NoError(t, json.Unmarshal(status.State.Raw, &out))
	return out
}

func TestGitStepsRenderABranch(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	status := &kargoapi.PromotionStatus{}
	e := &engine.Engine{Steps: New(f.deps)}
	outcome, err := e.Run(context.Background(), sc, f.renderProcess(t, `{"path": "./out"}`), status, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)

	out := outputs(t, status)
	require.Equal(t, map[string]any{"./src": f.src, "out": ""}, out["clone"]["commits"])
	head := f.srv.BranchHead(t, "app", "stages/test")
	require.Equal(t, head, out["commit"]["commit"])
	require.Equal(t, map[string]any{"branch": "stages/test", "commit": head}, out["push"], "no commitURL for a host of unknown layout")
	log := f.srv.Log(t, "app", "stages/test")
	require.Len(t, log, 1)
	require.Equal(t, "render test\n\nKargo-Freight: "+sc.Freight[0].Name+"\nKargo-Freight-Alias: brave-fox\nKargo-Stage: demo/test\nKargo-Promotion: uid-p1\n", log[0].Message)
	require.Equal(t, []string{"app.yaml"}, log[0].Files)
	require.Equal(t, "Kargo <kargo@localhost>", log[0].Author)

	// The next Promotion finds the branch and commits onto it; content
	// that is already there makes no commit and no push.
	sc2 := f.stepContext(t, "p2")
	status2 := &kargoapi.PromotionStatus{}
	outcome, err = e.Run(context.Background(), sc2, f.renderProcess(t, `{"path": "./out"}`), status2, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	require.Equal(t, head, outputs(t, status2)["push"]["commit"])
	require.Equal(t, map[string]any{"./src": f.src, "out": head}, outputs(t, status2)["clone"]["commits"])
	require.Len(t, f.srv.Log(t, "app", "stages/test"), 1)
	require.Contains(t, status2.Steps[4].Message, "already holds")
}

// A controller killed after git-push pushed and before the Promotion's
// status recorded it resumes, on a fresh work directory, without pushing
// a second time, and git-push's output is the commit it pushed.
func TestGitPushAfterRestartDoesNotPushAgain(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	proc := f.renderProcess(t, `{"path": "./out"}`)
	e := &engine.Engine{Steps: New(f.deps)}
	status := &kargoapi.PromotionStatus{}
	// What the API server holds is the controller's last durable save:
	// the steps before git-push change only the work directory, so their
	// records wait for the next write, the one after git-push.
	saved := status.DeepCopy()
	killed := errors.New("controller killed")
	_, err := e.Run(context.Background(), sc, proc, status, func(durable bool) error {
		if status.CurrentStep == 5 {
			// git-push ended; the controller dies before the status
			// update that would have recorded it.
			return killed
		}
		if durable {
			saved = status.DeepCopy()
		}
		return nil
	})
	require.ErrorIs(t, err, killed)
	require.Zero(t, saved.CurrentStep, "nothing that acted outside the work directory had ended before git-push, so nothing was written")
	pushed := f.srv.BranchHead(t, "app", "stages/test")
	require.NotEmpty(t, pushed)
	pushes := f.srv.Counts("app").Pushes
	require.Equal(t, 1, pushes)

	// Another replica: the work directory is gone.
	sc.WorkDir = filepath.Join(t.TempDir(), "work")
	outcome, err := e.Run(context.Background(), sc, proc, saved, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	require.Equal(t, pushes, f.srv.Counts("app").Pushes, "no second push")
	require.Len(t, f.srv.Log(t, "app", "stages/test"), 1)
	require.Equal(t, pushed, outputs(t, saved)["push"]["commit"])
	require.Contains(t, saved.Steps[4].Message, "pushed for this Promotion before a restart")
	require.Equal(t, pushed, outputs(t, saved)["commit"]["commit"], "git-commit, run again, made the same commit")
}

func TestGitPushGeneratedBranch(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	status := &kargoapi.PromotionStatus{}
	proc := engine.Process{Steps: []kargoapi.PromotionStep{
		step(t, "git-clone", "", `{"repoURL": "`+f.repo+`", "author": {"name": "Release Bot", "email": "bot@example.com"}, "checkout": [{"branch": "main", "path": "./out"}]}`),
		step(t, "yaml-update", "edit", `{"path": "./out/base/app.yaml", "updates": [{"key": "image", "value": "nginx:1.27.0"}]}`),
		step(t, "git-commit", "", `{"path": "./out", "messageFromSteps": ["edit"]}`),
		step(t, "git-push", "push", `{"path": "./out", "generateTargetBranch": true}`),
	}}
	outcome, err := (&engine.Engine{Steps: New(f.deps)}).Run(context.Background(), sc, proc, status, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	push := outputs(t, status)["push"]
	require.Equal(t, "kargo/promotion/p1", push["branch"])
	require.Equal(t, f.srv.BranchHead(t, "app", "kargo/promotion/p1"), push["commit"])
	require.Equal(t, f.src, f.srv.BranchHead(t, "app", "main"), "main is untouched")
	log := f.srv.Log(t, "app", "kargo/promotion/p1")
	require.Equal(t, []string{f.src}, log[0].Parents)
	require.Equal(t, "Release Bot <bot@example.com>", log[0].Author)
	require.Contains(t, log[0].Message, "set image to nginx:1.27.0")
	require.Equal(t, "image: nginx:1.27.0\n", f.srv.Show(t, "app", "kargo/promotion/p1", "base/app.yaml"))
}

// git-push's rules, each refused with nothing pushed.
func TestGitPushRefusals(t *testing.T) {
	older := objects.Stage("demo", "prod")
	older.UID, older.CreationTimestamp = "stage-prod", metav1.NewTime(t0.Add(-time.Hour))
	newer := objects.Stage("demo", "uat")
	newer.UID, newer.CreationTimestamp = "stage-uat", metav1.NewTime(t0.Add(time.Hour))
	wh := objects.Warehouse("demo", "w")
	f := newGitFixture(t, older, newer, wh)
	wh.Spec.Subscriptions.Git = []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(f.repo), Branch: "main"}}
	require.NoError(t, f.client.Update(context.Background(), wh))
	f.stage.Spec.Subscriptions = &kargoapi.Subscriptions{Warehouse: "w"}
	require.NoError(t, f.client.Update(context.Background(), f.stage))
	f.srv.Commit(t, "app", "stages/prod", map[string]string{"a": "1"}, "prod\n\nKargo-Stage: demo/prod\nKargo-Promotion: x")
	f.srv.Commit(t, "app", "stages/uat", map[string]string{"a": "1"}, "uat\n\nKargo-Stage: demo/uat\nKargo-Promotion: y")

	push := func(t *testing.T, branch string) (engine.Result, error) {
		sc := f.stepContext(t, "p1")
		require.NoError(t, os.MkdirAll(sc.WorkDir, 0o700))
		cfg := func(s string) engine.Config {
			var c engine.Config
			require.NoError(t, json.Unmarshal([]byte(s), &c))
			return c
		}
		reg := New(f.deps)
		_, err := reg["git-clone"].Run(context.Background(), sc, cfg(`{"repoURL": "`+f.repo+`", "checkout": [{"branch": "`+branch+`", "path": "out"}]}`))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(sc.WorkDir, "out", "b"), []byte("new"), 0o644))
		_, err = reg["git-commit"].Run(context.Background(), sc, cfg(`{"path": "out"}`))
		require.NoError(t, err)
		return reg["git-push"].Run(context.Background(), sc, cfg(`{"path": "out"}`))
	}
	for _, tc := range []struct{ branch, want string }{
		{"stages/prod", "Stage prod writes branch stages/prod of " + f.repo + " too, and was created first"},
		{"main", "git-push writes to branch main of " + f.repo + ", which this Stage's Freight comes from"},
	} {
		t.Run(tc.branch, func(t *testing.T) {
			head := f.srv.BranchHead(t, "app", tc.branch)
			_, err := push(t, tc.branch)
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, head, f.srv.BranchHead(t, "app", tc.branch), "nothing pushed")
		})
	}
	t.Run("a branch a Stage created later wrote first", func(t *testing.T) {
		_, err := push(t, "stages/uat")
		require.NoError(t, err)
		require.Contains(t, f.srv.Log(t, "app", "stages/uat")[0].Message, "Kargo-Stage: demo/test")
	})
	require.Zero(t, f.srv.Counts("app").Pushes-1, "only the allowed push reached the server")
}

func TestGitStepsConfiguration(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	require.NoError(t, os.MkdirAll(filepath.Join(sc.WorkDir, "taken"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(sc.WorkDir, "taken", "x"), nil, 0o600))
	reg := New(f.deps)
	runWith := func(reg engine.Registry, name, cfg string) error {
		var c engine.Config
		require.NoError(t, json.Unmarshal([]byte(cfg), &c))
		_, err := reg[name].Run(context.Background(), sc, c)
		return err
	}
	for _, tc := range []struct{ step, cfg, want string }{
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "."}]}`, "whole work directory"},
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "taken"}]}`, "is not empty"},
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "a", "branch": "nope"}]}`, `branch "nope" does not exist; to start it with this promotion, set create`},
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "a", "branch": "main", "tag": "v1"}]}`, "one of a branch, a tag and a commit"},
		{"git-clone", `{"repoURL": "` + f.repo + `", "recurseSubmodules": true, "checkout": [{"path": "a"}]}`, "submodules"},
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "a", "sparse": ["../x"]}]}`, "sparse directory"},
		{"git-clone", `{"repoURL": "` + f.repo + `", "checkout": [{"path": "a", "depth": 1}]}`, `unknown field "depth"`},
		{"git-commit", `{"path": "taken"}`, "not a work tree checked out by git-clone"},
		{"git-commit", `{"path": "taken", "message": "m", "messageFromSteps": ["x"]}`, "exclude each other"},
		{"git-push", `{"path": "taken", "targetBranch": "x", "generateTargetBranch": true}`, "exclude each other"},
		{"git-push", `{"path": "taken", "tag": "v1"}`, "branches only"},
		{"git-clear", `{"path": "taken"}`, "not a work tree of git-clone"},
	} {
		require.ErrorContains(t, runWith(reg, tc.step, tc.cfg), tc.want, tc.step+" "+tc.cfg)
	}
	for _, name := range []string{"git-clone", "git-commit", "git-push"} {
		require.ErrorContains(t, runWith(New(Deps{}), name, `{"path": "a", "repoURL": "`+f.repo+`", "checkout": [{"path": "a"}]}`), "started without")
	}

	// A sparse checkout writes only its directories, and a commit keeps
	// the others.
	f.srv.Commit(t, "app", "main", map[string]string{"other/x.yaml": "x\n"}, "more")
	require.NoError(t, runWith(reg, "git-clone", `{"repoURL": "`+f.repo+`", "checkout": [{"path": "sparse", "branch": "main", "sparse": ["base"]}]}`))
	require.FileExists(t, filepath.Join(sc.WorkDir, "sparse/base/app.yaml"))
	require.NoDirExists(t, filepath.Join(sc.WorkDir, "sparse/other"))
	require.NoError(t, os.WriteFile(filepath.Join(sc.WorkDir, "sparse/base/app.yaml"), []byte("image: nginx:1.27.0\n"), 0o644))
	require.NoError(t, runWith(reg, "git-commit", `{"path": "sparse", "message": "sparse"}`))
	require.NoError(t, runWith(reg, "git-push", `{"path": "sparse"}`))
	require.Equal(t, "x\n", f.srv.Show(t, "app", "main", "other/x.yaml"))
	require.Equal(t, "image: nginx:1.27.0\n", f.srv.Show(t, "app", "main", "base/app.yaml"))
}

// No step may write into a work tree's repository, whose configuration
// git would obey (core.fsmonitor runs a program).
func TestStepsCannotWriteIntoGitDirectories(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	require.NoError(t, os.MkdirAll(sc.WorkDir, 0o700))
	var c engine.Config
	require.NoError(t, json.Unmarshal([]byte(`{"repoURL": "`+f.repo+`", "checkout": [{"branch": "main", "path": "out"}]}`), &c))
	_, err := New(f.deps)["git-clone"].Run(context.Background(), sc, c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(sc.WorkDir, "evil"), []byte("[core]\n\tfsmonitor = touch /tmp/pwned\n"), 0o644))
	require.NoError(t, os.Symlink(".git", filepath.Join(sc.WorkDir, "out", "innocent")))
	config, err := os.ReadFile(filepath.Join(sc.WorkDir, "out/.git/config"))
	require.NoError(t, err)
	for _, tc := range []struct{ step, cfg string }{
		{"copy", `{"inPath": "evil", "outPath": "out/.git/config"}`},
		{"copy", `{"inPath": "evil", "outPath": "out/innocent/config"}`},
		{"copy", `{"inPath": "evil", "outPath": "out/.GIT/config"}`},
		{"delete", `{"path": "out/.git"}`},
		{"git-clear", `{"path": "out/.git"}`},
	} {
		_, err := run(t, tc.step, sc, tc.cfg)
		require.ErrorContains(t, err, "inside a .git directory", tc.step+" "+tc.cfg)
	}
	after, err := os.ReadFile(filepath.Join(sc.WorkDir, "out/.git/config"))
	require.NoError(t, err)
	require.Equal(t, string(config), string(after))
}

func TestCommitURL(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct{ repo, provider, want string }{
		{"https://github.com/example/app.git", "", "https://github.com/example/app/commit/" + sha},
		{"git@github.com:example/app.git", "", "https://github.com/example/app/commit/" + sha},
		{"https://gitlab.com/group/sub/app", "", "https://gitlab.com/group/sub/app/-/commit/" + sha},
		{"https://bitbucket.org/team/app.git", "", "https://bitbucket.org/team/app/commits/" + sha},
		{"https://dev.azure.com/org/proj/_git/app", "", "https://dev.azure.com/org/proj/_git/app/commit/" + sha},
		{"https://git.example.com:3000/org/app.git", "gitea", "https://git.example.com:3000/org/app/commit/" + sha},
		{"https://git.example.com/org/app.git", "", ""},
	} {
		require.Equal(t, tc.want, commitURL(tc.repo, tc.provider, sha), tc.repo)
	}
}

// The work directory rebuilt after a restart can differ from the one that
// was pushed (here the branch it was cloned from moved): the push is still
// found by the Promotion's trailer and not made again.
func TestGitPushAfterRestartFindsItsCommitByTrailer(t *testing.T) {
	f := newGitFixture(t)
	sc := f.stepContext(t, "p1")
	proc := engine.Process{Steps: []kargoapi.PromotionStep{
		step(t, "git-clone", "", `{"repoURL": "`+f.repo+`", "checkout": [{"branch": "main", "path": "./out"}]}`),
		step(t, "yaml-update", "", `{"path": "./out/base/app.yaml", "updates": [{"key": "image", "value": "nginx:1.27.0"}]}`),
		step(t, "git-commit", "", `{"path": "./out"}`),
		step(t, "git-push", "push", `{"path": "./out", "targetBranch": "stages/test"}`),
	}}
	e := &engine.Engine{Steps: New(f.deps)}
	status := &kargoapi.PromotionStatus{}
	saved := status.DeepCopy()
	_, err := e.Run(context.Background(), sc, proc, status, func(durable bool) error {
		if status.CurrentStep == 4 {
			return errors.New("controller killed")
		}
		if durable {
			saved = status.DeepCopy()
		}
		return nil
	})
	require.Error(t, err)
	pushed := f.srv.BranchHead(t, "app", "stages/test")
	f.srv.Commit(t, "app", "main", map[string]string{"README": "later\n"}, "main moves on")

	sc.WorkDir = filepath.Join(t.TempDir(), "work")
	outcome, err := e.Run(context.Background(), sc, proc, saved, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	require.Equal(t, 1, f.srv.Counts("app").Pushes, "no second push")
	require.Equal(t, pushed, f.srv.BranchHead(t, "app", "stages/test"))
	require.Equal(t, pushed, outputs(t, saved)["push"]["commit"])
}
