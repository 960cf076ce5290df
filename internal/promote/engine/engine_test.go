package engine

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

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// writeFile is a replayable step: it writes config.content to config.path.
type writeFile struct{ runs *int }

func (w writeFile) Replayable() {}

func (w writeFile) Run(_ context.Context, sc *StepContext, cfg Config) (Result, error) {
	*w.runs++
	var c struct{ Path, Content string }
	if err := cfg.Decode(&c); err != nil {
		return Result{}, err
	}
	p, err := sc.Path(c.Path)
	if err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(p, []byte(c.Content), 0o600); err != nil {
		return Result{}, err
	}
	return Result{Message: "wrote " + c.Path, Output: map[string]any{"content": c.Content}}, nil
}

// remote stands for a step that acts outside the work directory: it reads
// a file of the work directory and records what it "sent", failing as
// told.
type remote struct {
	sent  *[]string
	fails *int
	wait  *int
}

func (r remote) Run(_ context.Context, sc *StepContext, cfg Config) (Result, error) {
	if *r.fails > 0 {
		*r.fails--
		return Result{}, errors.New("503 from the server")
	}
	if *r.wait > 0 {
		*r.wait--
		return Result{Waiting: true, Message: "pull request open", RequeueAfter: time.Second}, nil
	}
	var c struct{ Path string }
	if err := cfg.Decode(&c); err != nil {
		return Result{}, err
	}
	p, err := sc.Path(c.Path)
	if err != nil {
		return Result{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Result{}, err
	}
	*r.sent = append(*r.sent, string(b))
	return Result{Message: "sent " + string(b), Output: map[string]any{"commit": "abc123"}}, nil
}

// compose is compose-output as the engine sees it: its configuration is
// its output, and in a task the task's output.
type compose struct{}

func (compose) TaskOutput() {}

func (compose) Run(_ context.Context, _ *StepContext, cfg Config) (Result, error) {
	return Result{Output: map[string]any(cfg)}, nil
}

type fixture struct {
	engine       *Engine
	sc           *StepContext
	status       *kargoapi.PromotionStatus
	saves        []bool
	writes       int
	sent         []string
	fails, waits int
	now          time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC), status: &kargoapi.PromotionStatus{}}
	f.engine = &Engine{
		Steps: Registry{"write": writeFile{runs: &f.writes}, "send": remote{sent: &f.sent, fails: &f.fails, wait: &f.waits}, "compose": compose{}},
		Now:   func() time.Time { return f.now },
	}
	fr := objects.Freight("demo", objects.Image("nginx", "1.25.0"))
	p := objects.Promotion("demo", "p1", "test", fr.Name)
	p.UID = "uid-1"
	f.sc = &StepContext{WorkDir: filepath.Join(t.TempDir(), "work"), Project: "demo", Stage: "test", Promotion: p, Freight: []*kargoapi.Freight{fr}}
	return f
}

func (f *fixture) run(t *testing.T, proc Process) Outcome {
	t.Helper()
	out, err := f.engine.Run(context.Background(), f.sc, proc, f.status, func(durable bool) error { f.saves = append(f.saves, durable); return nil })
	require.NoError(t, err)
	return out
}

func step(uses, as string, cfg map[string]any) kargoapi.PromotionStep {
	b, _ := json.Marshal(cfg)
	return kargoapi.PromotionStep{Uses: uses, As: as, Config: &kargoapi.StepConfig{Raw: b}}
}

func TestStepsRunInOrderWithExpressions(t *testing.T) {
	f := newFixture(t)
	out := f.run(t, Process{
		Vars: []kargoapi.ExpressionVariable{{Name: "dir", Value: "out"}, {Name: "file", Value: "${{ vars.dir }}-${{ ctx.stage }}.txt"}},
		Steps: []kargoapi.PromotionStep{
			step("write", "w", map[string]any{"path": "${{ vars.file }}", "content": "${{ imageFrom('nginx').Tag }} for ${{ ctx.targetFreight.name }}"}),
			step("send", "push", map[string]any{"path": "${{ vars.file }}"}),
			step("write", "", map[string]any{"path": "commit.txt", "content": "${{ outputs.push.commit }}"}),
		},
	})
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	require.Equal(t, []string{"1.25.0 for " + f.sc.Freight[0].Name}, f.sent)
	b, err := os.ReadFile(filepath.Join(f.sc.WorkDir, "commit.txt"))
	require.NoError(t, err)
	require.Equal(t, "abc123", string(b))
	require.EqualValues(t, 3, f.status.CurrentStep)
	require.Len(t, f.status.Steps, 3)
	require.Equal(t, "step-3", f.status.Steps[2].Alias)
	for _, s := range f.status.Steps {
		require.Equal(t, kargoapi.StepStatusSucceeded, s.Status)
	}
	require.Equal(t, []bool{false, true}, f.saves, "the push is saved before the next step starts; the writes to the work directory go with the next write or the end")
}

func TestExpressionValues(t *testing.T) {
	fr := objects.Freight("demo", objects.Image("nginx", "1.25.0"))
	env := &Env{Ctx: map[string]any{"stage": "test"}, Vars: map[string]any{"n": 41.0}, Freight: []*kargoapi.Freight{fr}}
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"plain", "plain"},
		{"${{ 40 + 2 }}", 42},
		{"${{ quote(40 + 2) }}", "42"},
		{"${{ quote('abc') }}", "abc"},
		{"${{ unsafeQuote('abc') }}", `"abc"`},
		{"stage/${{ ctx.stage }}", "stage/test"},
		{"${{ vars.n + 1 }}", 42.0},
		{"${{ true }}", true},
		{`${{ "{\"a\": 1}" }}`, map[string]any{"a": 1.0}},
		{"${{ imageFrom('docker.io/library/nginx').Digest }}", objects.Digest("1.25.0")},
		{"${{ commitFrom('https://git.example/none') ?? 'none' }}", "none"},
		{"${{ imageFrom('nginx', warehouse('other')) == nil }}", true},
	} {
		got, err := env.EvaluateString(tc.in)
		require.NoError(t, err, tc.in)
		require.EqualValues(t, tc.want, got, tc.in)
	}
	_, err := env.EvaluateString("${{ ctx.stage ")
	require.ErrorContains(t, err, "never closes it")
	_, err = env.EvaluateString("${{ nosuch( }}")
	require.ErrorContains(t, err, "does not compile")
}

func TestIfAndFailures(t *testing.T) {
	f := newFixture(t)
	f.fails = 1
	out := f.run(t, Process{Steps: []kargoapi.PromotionStep{
		step("write", "a", map[string]any{"path": "a", "content": "a"}),
		func() kargoapi.PromotionStep {
			s := step("send", "tolerated", map[string]any{"path": "a"})
			s.ContinueOnError = true
			return s
		}(),
		func() kargoapi.PromotionStep {
			s := step("write", "skipped", map[string]any{"path": "b", "content": "b"})
			s.If = "${{ outputs.a.content == 'x' }}"
			return s
		}(),
		step("send", "after", map[string]any{"path": "a"}),
		func() kargoapi.PromotionStep {
			s := step("write", "cleanup", map[string]any{"path": "c", "content": "c"})
			s.If = "failure()"
			return s
		}(),
	}})
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, "a step that continues on error does not fail the process: %s", out.Message)
	st := f.status.Steps
	require.Equal(t, kargoapi.StepStatusErrored, st[1].Status)
	require.Contains(t, st[1].Message, "503")
	require.Equal(t, kargoapi.StepStatusSkipped, st[2].Status)
	require.Equal(t, kargoapi.StepStatusSkipped, st[3].Status, "without if, a step runs only when nothing failed before it")
	require.Equal(t, kargoapi.StepStatusSucceeded, st[4].Status, "if: failure() runs after a failure")
	require.NoFileExists(t, filepath.Join(f.sc.WorkDir, "b"))

	g := newFixture(t)
	g.fails = 1
	out = g.run(t, Process{Steps: []kargoapi.PromotionStep{step("send", "push", map[string]any{"path": "nope"})}})
	require.Equal(t, kargoapi.PromotionPhaseErrored, out.Phase, "a transient error errs the Promotion")
	require.Contains(t, out.Message, "step push failed: 503")

	h := newFixture(t)
	out = h.run(t, Process{Steps: []kargoapi.PromotionStep{step("write", "", map[string]any{"path": "../../escape", "content": "x"})}})
	require.Equal(t, kargoapi.PromotionPhaseFailed, out.Phase)
	require.Contains(t, out.Message, "leaves the promotion's work directory")

	h = newFixture(t)
	out = h.run(t, Process{Steps: []kargoapi.PromotionStep{step("write", "", map[string]any{"path": "a", "content": "x"}), step("nosuch", "", nil)}})
	require.Equal(t, kargoapi.PromotionPhaseFailed, out.Phase)
	require.Contains(t, out.Message, `there is no step "nosuch"`)

	i := newFixture(t)
	out = i.run(t, Process{Steps: []kargoapi.PromotionStep{step("write", "", map[string]any{"path": "a", "contents": "typo"})}})
	require.Equal(t, kargoapi.PromotionPhaseFailed, out.Phase)
	require.Contains(t, out.Message, `unknown field "contents"`)
}

func TestRetriesAndWaiting(t *testing.T) {
	f := newFixture(t)
	f.fails, f.waits = 2, 1
	s := step("send", "push", map[string]any{"path": "a"})
	s.Retry = &kargoapi.PromotionStepRetry{ErrorThreshold: 3, Timeout: &metav1.Duration{Duration: time.Hour}}
	proc := Process{Steps: []kargoapi.PromotionStep{step("write", "", map[string]any{"path": "a", "content": "v1"}), s}}
	for range 2 {
		out := f.run(t, proc)
		require.Equal(t, kargoapi.PromotionPhaseRunning, out.Phase)
		require.Contains(t, out.Message, "failed and is tried again")
		require.Positive(t, out.RequeueAfter)
	}
	out := f.run(t, proc)
	require.Equal(t, kargoapi.PromotionPhaseRunning, out.Phase)
	require.Contains(t, out.Message, "pull request open")
	require.Equal(t, kargoapi.StepStatusRunning, f.status.Steps[1].Status)
	out = f.run(t, proc)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	require.Equal(t, []string{"v1"}, f.sent)
	require.Equal(t, 1, f.writes, "a step that ended is not run again while the work directory is there")

	g := newFixture(t)
	g.waits = 100
	s.Retry.Timeout = &metav1.Duration{Duration: time.Minute}
	out = g.run(t, proc)
	require.Equal(t, kargoapi.PromotionPhaseRunning, out.Phase)
	g.now = g.now.Add(2 * time.Minute)
	out = g.run(t, proc)
	require.Equal(t, kargoapi.PromotionPhaseFailed, out.Phase)
	require.Contains(t, out.Message, "did not finish within its timeout of 1m0s")
}

// A controller restarted where the work directory is gone rebuilds it by
// running the replayable steps that had ended again, and never repeats a
// step that acted elsewhere.
func TestResumeRebuildsTheWorkDirectory(t *testing.T) {
	f := newFixture(t)
	proc := Process{Steps: []kargoapi.PromotionStep{
		step("write", "", map[string]any{"path": "a", "content": "v1"}),
		step("send", "push", map[string]any{"path": "a"}),
		step("send", "notify", map[string]any{"path": "a"}),
	}}
	// The controller stops after the push was recorded.
	out := f.run(t, Process{Steps: proc.Steps[:2]})
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase)
	require.EqualValues(t, 2, f.status.CurrentStep)
	require.NoError(t, os.RemoveAll(f.sc.WorkDir), "the controller restarts on another node")

	out = f.run(t, proc)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	require.Equal(t, 2, f.writes, "the replayable step ran again to rebuild the work directory")
	require.Equal(t, []string{"v1", "v1"}, f.sent, "push once, notify once: the push was not repeated")
	require.Equal(t, map[string]any{"commit": "abc123"}, f.sc.Outputs["push"], "the push's recorded outputs stand")

	_, err := f.engine.Run(context.Background(), f.sc, proc, &kargoapi.PromotionStatus{}, func(bool) error { return errors.New("etcd is down") })
	require.ErrorContains(t, err, "etcd is down", "a status that cannot be saved stops the run")
}

// As in Kargo, what a task's compose-output composes is the output of the
// step that uses the task: the template reads outputs.TASKSTEP.NAME, while
// the task's own steps read each other's through task.outputs.
func TestTaskOutputsAreTheUsingStepsOutputs(t *testing.T) {
	f := newFixture(t)
	out := f.run(t, Process{Steps: []kargoapi.PromotionStep{
		step("write", "render::w", map[string]any{"path": "a", "content": "x"}),
		step("send", "render::push", map[string]any{"path": "a"}),
		step("compose", "render::out", map[string]any{"commit": "${{ task.outputs.push.commit }}", "branch": "main"}),
		step("compose", "render::more", map[string]any{"extra": "${{ task.outputs.out.branch }}"}),
		step("write", "", map[string]any{"path": "b", "content": "${{ outputs.render.commit }} on ${{ outputs.render.branch }} ${{ outputs.render.extra }}"}),
	}})
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	b, err := os.ReadFile(filepath.Join(f.sc.WorkDir, "b"))
	require.NoError(t, err)
	require.Equal(t, "abc123 on main main", string(b))
	require.NotContains(t, f.sc.Outputs["render"], "content", "only compose-output's outputs are the task's")

	// Recorded in the status, they survive a restart.
	state := map[string]map[string]any{}
	require.NoError(t, json.Unmarshal(f.status.State.Raw, &state))
	require.Equal(t, map[string]any{"commit": "abc123", "branch": "main", "extra": "main"}, state["render"])
}

// check is a ReadOnly step: it only reads.
type check struct{ runs *int }

func (check) ReadOnly() {}

func (c check) Run(context.Context, *StepContext, Config) (Result, error) {
	*c.runs++
	return Result{Message: "checked"}, nil
}

// A step's record must be durable before the next step starts only when
// the step may have acted outside the work directory, and before Run
// returns while a step waits; the records of the other steps go with the
// next write, and nothing is saved after the last step when it did not
// act outside.
func TestOnlyWhatActedOutsideIsSavedBeforeTheNextStep(t *testing.T) {
	f := newFixture(t)
	checks := 0
	f.engine.Steps["check"] = check{runs: &checks}
	skipped := step("send", "never", map[string]any{"path": "a"})
	skipped.If = "${{ false }}"
	out := f.run(t, Process{Steps: []kargoapi.PromotionStep{
		step("check", "check", nil),
		step("write", "", map[string]any{"path": "a", "content": "v1"}),
		skipped,
		step("send", "push", map[string]any{"path": "a"}),
		step("write", "", map[string]any{"path": "b", "content": "v2"}),
	}})
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	require.Equal(t, []bool{false, false, false, true}, f.saves, "check, write and the skipped step may wait; the push may not; nothing after the last step")

	g := newFixture(t)
	g.fails = 1
	out = g.run(t, Process{Steps: []kargoapi.PromotionStep{
		step("send", "push", map[string]any{"path": "a"}),
		step("write", "", map[string]any{"path": "a", "content": "v1"}),
	}})
	require.Equal(t, kargoapi.PromotionPhaseErrored, out.Phase, out.Message)
	require.Equal(t, []bool{true}, g.saves, "a failed step that acts outside may have done part of its work: saved before the skipped write")

	w := newFixture(t)
	w.waits = 1
	out = w.run(t, Process{Steps: []kargoapi.PromotionStep{
		step("write", "", map[string]any{"path": "a", "content": "v1"}),
		step("send", "push", map[string]any{"path": "a"}),
	}})
	require.Equal(t, kargoapi.PromotionPhaseRunning, out.Phase, out.Message)
	require.Equal(t, []bool{false, true}, w.saves, "a waiting step's record is saved before Run returns")
}
