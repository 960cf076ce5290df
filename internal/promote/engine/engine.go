// Package engine runs a Promotion's steps: in order, each with its
// expressions evaluated just before it runs, its if condition, retries and
// timeout, recording each step's state and outputs in the Promotion's status
// so that a restarted controller resumes where it stopped. What each step
// does is in internal/promote/steps; the engine knows steps only by name.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// Step is a kind of step, such as git-clone.
type Step interface {
	// Run does the step's work. cfg is the step's configuration with its
	// expressions evaluated.
	Run(ctx context.Context, sc *StepContext, cfg Config) (Result, error)
}

// Replayable is a Step that changes only the work directory. When a
// restarted controller finds the work directory gone, it runs the
// replayable steps that had ended again to rebuild it; a step that acts
// elsewhere (a push, a pull request, an Argo CD update) is never run twice:
// its recorded outputs stand.
type Replayable interface {
	Step
	Replayable()
}

// ReadOnly is a Step that changes nothing, neither the work directory nor
// anything elsewhere: it only checks (as the check that comes before a
// promotionMechanisms write). Run again after a restart it does no harm,
// so its record need not be durable before the next step starts, and a
// lost work directory needs nothing of it.
type ReadOnly interface {
	Step
	ReadOnly()
}

// Save makes a running process's record in the Promotion's status
// durable, or lets the caller keep it for its next write. Run calls it
// after each step with durable true when the record must reach the API
// server before anything else happens: after a step that may have acted
// outside the work directory (neither Replayable nor ReadOnly), which must
// never run twice, and before Run returns while a step waits or is tried
// again. With durable false, a restarted controller that lost the record
// would only run steps again that change nothing outside the work
// directory, so the caller may leave the record for its next write (the
// next durable save, or the Promotion's end); Run calls it then so that
// the caller can stop the run between two steps (an abort) by returning an
// error. When the process ends, Run makes no save after the last step
// unless that step acted outside the work directory: the caller writes the
// outcome, records included.
type Save func(durable bool) error

// Releaser is a Step that keeps something for later Promotions in the
// work directory, such as git-clone's work trees, which it takes back
// before the directory is removed (Engine.RemoveWorkDir).
type Releaser interface {
	Step
	Release(workDir string)
}

// Result is what a step did.
type Result struct {
	// Waiting says the step has not finished (a pull request is still open,
	// say); the engine runs it again after RequeueAfter.
	Waiting      bool
	RequeueAfter time.Duration
	// Message says what the step did or waits for.
	Message string
	// Output is what later steps read as outputs.ALIAS.
	Output map[string]any
}

// Config is a step's evaluated configuration.
type Config map[string]any

// Decode reads the configuration into a step's typed configuration,
// refusing fields the step does not know, with the field's name.
func (c Config) Decode(into any) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("config: %w: %w", err, sourceerr.ErrInvalid)
	}
	return nil
}

// StepContext is what a step knows of its Promotion.
type StepContext struct {
	// WorkDir is the Promotion's work directory, shared by its steps;
	// paths in configurations are relative to it.
	WorkDir string
	Project string
	Stage   string
	// StageObject is the Stage promoted into, for the steps that act on
	// its behalf (argocd-update checks that Applications opt in to it).
	StageObject *kargoapi.Stage
	Promotion   *kargoapi.Promotion
	// Freight is the Freight being promoted, then the Stage's current
	// Freight of other origins.
	Freight []*kargoapi.Freight
	// Alias is the running step's alias.
	Alias string
	// Outputs are the outputs of the steps that have ended, by alias.
	Outputs map[string]any
	// Now tells the time, the engine's (Engine.Now).
	Now func() time.Time
}

// Path resolves a path of a configuration inside the work directory, with
// every symlink along it resolved: a path that leaves the work directory,
// by ".." or through a symlink a repository holds (to /etc, say), is
// refused. So is a path into a .git directory: the git steps keep their
// repositories there, and git runs commands that a repository's
// configuration names, so no step may write one.
func (sc *StepContext) Path(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("a path is empty: %w", sourceerr.ErrInvalid)
	}
	resolved, err := git.ResolveInRepo(sc.WorkDir, p)
	if errors.Is(err, git.ErrUnsafePath) {
		return "", fmt.Errorf("path %q leaves the promotion's work directory: %w: %w", p, err, sourceerr.ErrInvalid)
	}
	if err != nil {
		return "", err
	}
	if root, rerr := filepath.EvalSymlinks(sc.WorkDir); rerr == nil {
		if rel, rerr := filepath.Rel(root, resolved); rerr == nil {
			for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
				if strings.EqualFold(part, ".git") {
					return "", fmt.Errorf("path %q is inside a .git directory, which only the git steps may change: %w", p, sourceerr.ErrInvalid)
				}
			}
		}
	}
	return resolved, nil
}

// TaskOutput is implemented by a step whose outputs, when it is one of a
// PromotionTask's steps, are also the outputs of the step that uses the
// task, as Kargo's compose-output: a template reads them as
// outputs.TASKSTEP.NAME, since the task's own aliases are the task's
// business.
type TaskOutput interface{ TaskOutput() }

// Registry maps step names (uses) to steps.
type Registry map[string]Step

// Process is what a Promotion runs: its variables and steps, tasks
// expanded.
type Process struct {
	Vars  []kargoapi.ExpressionVariable
	Steps []kargoapi.PromotionStep
}

// Outcome is where a run of the process stopped.
type Outcome struct {
	// Phase is Running while a step waits or retries, else how the
	// process ended.
	Phase        kargoapi.PromotionPhase
	Message      string
	RequeueAfter time.Duration
}

// Engine runs processes.
type Engine struct {
	Steps Registry
	// Reader reads the project's Stages and Freight for the expression
	// functions stageMetadata and freightMetadata; without it they fail.
	Reader client.Reader
	// Now tells the time; time.Now when nil.
	Now func() time.Time
}

// RemoveWorkDir removes a Promotion's work directory once the Promotion
// has ended, after the steps that keep something in it for later
// Promotions (Releaser) have taken it back. A nil Engine only removes it.
func (e *Engine) RemoveWorkDir(dir string) error {
	if e == nil {
		return os.RemoveAll(dir)
	}
	for _, s := range e.Steps {
		if r, ok := s.(Releaser); ok {
			r.Release(dir)
		}
	}
	return os.RemoveAll(dir)
}

// Alias is the alias of step i of a process.
func Alias(step kargoapi.PromotionStep, i int) string {
	if step.As != "" {
		return step.As
	}
	return "step-" + strconv.Itoa(i+1)
}

// Run runs the process from status.CurrentStep until it ends or a step
// waits. After each step it records the step in status (currentStep, steps,
// state) and calls save (see Save for when the record must be durable), so
// that what a step that acts outside the work directory did is durable
// before the next one starts; a step interrupted before its save is run
// again, which the steps that act outside the work directory tolerate
// (git-push finds its commit, git-open-pr its pull request).
func (e *Engine) Run(ctx context.Context, sc *StepContext, proc Process, status *kargoapi.PromotionStatus, save Save) (Outcome, error) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	sc.Now = now
	outputs, err := readState(status)
	if err != nil {
		return Outcome{}, err
	}
	sc.Outputs = outputs
	if err := e.prepareWorkDir(ctx, sc, proc, status); err != nil {
		return Outcome{}, err
	}
	env := &Env{Ctx: ctxOf(sc), Outputs: outputs, Freight: sc.Freight, Metadata: e.metadataOf(ctx, sc.Project)}
	for i := range status.Steps[:min(int(status.CurrentStep), len(status.Steps))] {
		if s := status.Steps[i].Status; s == kargoapi.StepStatusFailed || s == kargoapi.StepStatusErrored {
			env.failed = true
		}
	}
	var failure *kargoapi.StepExecution
	for i := int(status.CurrentStep); i < len(proc.Steps); i++ {
		step := proc.Steps[i]
		alias := Alias(step, i)
		rec := record(status, i, alias)
		if rec.StartedAt == nil {
			t := metav1.NewTime(now())
			rec.StartedAt = &t
		}
		sc.Alias = alias
		vars, err := evalVars(env, proc.Vars, step.Vars)
		if err != nil {
			return e.end(status, rec, now, kargoapi.StepStatusFailed, err.Error(), i)
		}
		env.Vars = vars
		env.Task = taskEnv(alias, outputs)
		run := !env.failed
		if step.If != "" {
			if run, err = env.Condition(step.If); err != nil {
				return e.end(status, rec, now, kargoapi.StepStatusFailed, err.Error(), i)
			}
		}
		if !run {
			rec.Status, rec.Message = kargoapi.StepStatusSkipped, "skipped: "+skipReason(step)
			t := metav1.NewTime(now())
			rec.FinishedAt = &t
			status.CurrentStep = int64(i + 1)
			if err := e.between(save, false, i, proc); err != nil {
				return Outcome{}, err
			}
			continue
		}
		res, runErr := e.runStep(ctx, sc, env, step)
		switch {
		case runErr == nil && res.Waiting:
			if t := timeout(step); t > 0 && now().Sub(rec.StartedAt.Time) > t {
				runErr = fmt.Errorf("step %s did not finish within its timeout of %s: %s: %w", alias, t, res.Message, sourceerr.ErrInvalid)
				break
			}
			rec.Status, rec.Message = kargoapi.StepStatusRunning, res.Message
			if err := save(true); err != nil {
				return Outcome{}, err
			}
			return Outcome{Phase: kargoapi.PromotionPhaseRunning, Message: fmt.Sprintf("step %d of %d (%s): %s", i+1, len(proc.Steps), alias, res.Message), RequeueAfter: res.RequeueAfter}, nil
		case runErr == nil:
			outputs[alias] = res.Output
			if _, ok := e.Steps[step.Uses].(TaskOutput); ok {
				if task, _, inTask := cutLast(alias, TaskSeparator); inTask {
					// The task's outputs, for the template's later steps.
					own, _ := outputs[task].(map[string]any)
					if own == nil {
						own = map[string]any{}
					}
					for k, v := range res.Output {
						own[k] = v
					}
					outputs[task] = own
				}
			}
			if err := writeState(status, outputs); err != nil {
				return Outcome{}, err
			}
			rec.Status, rec.Message, rec.ErrorCount = kargoapi.StepStatusSucceeded, res.Message, 0
			t := metav1.NewTime(now())
			rec.FinishedAt = &t
			status.CurrentStep = int64(i + 1)
			if err := e.between(save, e.actsOutside(step), i, proc); err != nil {
				return Outcome{}, err
			}
			continue
		}
		// The step failed.
		rec.ErrorCount++
		if threshold := errorThreshold(step); rec.ErrorCount < threshold && !sourceerr.Terminal(runErr) {
			rec.Status, rec.Message = kargoapi.StepStatusRunning, fmt.Sprintf("error %d of %d allowed: %v", rec.ErrorCount, threshold, runErr)
			if err := save(true); err != nil {
				return Outcome{}, err
			}
			return Outcome{Phase: kargoapi.PromotionPhaseRunning, Message: fmt.Sprintf("step %d of %d (%s) failed and is tried again: %v", i+1, len(proc.Steps), alias, runErr), RequeueAfter: backoff(rec.ErrorCount)}, nil
		}
		t := metav1.NewTime(now())
		rec.FinishedAt = &t
		rec.Message = runErr.Error()
		env.failed = true
		status.CurrentStep = int64(i + 1)
		if step.ContinueOnError {
			rec.Status = kargoapi.StepStatusErrored
		} else {
			rec.Status = kargoapi.StepStatusFailed
			if failure == nil {
				failure = rec.DeepCopy()
				if !sourceerr.Terminal(runErr) {
					// Errored, not Failed: the Promotion may succeed when
					// created again.
					failure.ErrorCount = 0
				}
			}
		}
		// A step that acted outside may have done part of its work.
		if err := e.between(save, e.actsOutside(step), i, proc); err != nil {
			return Outcome{}, err
		}
	}
	if failure != nil {
		phase := kargoapi.PromotionPhaseFailed
		if failure.ErrorCount == 0 {
			phase = kargoapi.PromotionPhaseErrored
		}
		return Outcome{Phase: phase, Message: fmt.Sprintf("step %s failed: %s", failure.Alias, failure.Message)}, nil
	}
	return Outcome{Phase: kargoapi.PromotionPhaseSucceeded, Message: summary(status)}, nil
}

// RunDetached runs the process from its start with its record kept in
// memory, for a Promotion that has no status to write to (one deleted
// while it ran, finished on its behalf), and returns the record with the
// outcome.
func (e *Engine) RunDetached(ctx context.Context, sc *StepContext, proc Process) (Outcome, *kargoapi.PromotionStatus, error) {
	status := &kargoapi.PromotionStatus{}
	out, err := e.Run(ctx, sc, proc, status, func(bool) error { return nil })
	return out, status, err
}

func (e *Engine) runStep(ctx context.Context, sc *StepContext, env *Env, step kargoapi.PromotionStep) (Result, error) {
	impl, ok := e.Steps[step.Uses]
	if !ok {
		return Result{}, fmt.Errorf("there is no step %q; the steps are listed in docs/promotions.md: %w", step.Uses, sourceerr.ErrInvalid)
	}
	cfg, err := evalConfig(env, step.Config)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
	}
	if t := timeout(step); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	return impl.Run(ctx, sc, cfg)
}

// end ends the process at step i with a step that could not even start.
// Nothing acted, and the process ends: the caller writes the record with
// the outcome.
func (e *Engine) end(status *kargoapi.PromotionStatus, rec *kargoapi.StepExecution, now func() time.Time, s kargoapi.StepStatus, msg string, i int) (Outcome, error) {
	t := metav1.NewTime(now())
	rec.Status, rec.Message, rec.FinishedAt = s, msg, &t
	status.CurrentStep = int64(i + 1)
	return Outcome{Phase: kargoapi.PromotionPhaseFailed, Message: fmt.Sprintf("step %s failed: %s", rec.Alias, msg)}, nil
}

// between calls save after step i: durable when the step may have acted
// outside the work directory, whatever follows; otherwise only when
// another step follows (the caller writes the outcome with the records).
func (e *Engine) between(save Save, durable bool, i int, proc Process) error {
	if !durable && i+1 >= len(proc.Steps) {
		return nil
	}
	return save(durable)
}

// actsOutside says whether a step may act outside the work directory: it
// is neither Replayable nor ReadOnly (a step Run does not know is assumed
// to act outside).
func (e *Engine) actsOutside(step kargoapi.PromotionStep) bool {
	switch e.Steps[step.Uses].(type) {
	case Replayable, ReadOnly:
		return false
	}
	return true
}

// prepareWorkDir makes sure the work directory holds what the steps that
// ended left in it. A marker file names the Promotion; without it (a new
// Promotion, or a restart on another replica or after the directory was
// lost) the directory is made anew and the replayable steps that had ended
// run again, with the outputs they recorded kept.
func (e *Engine) prepareWorkDir(ctx context.Context, sc *StepContext, proc Process, status *kargoapi.PromotionStatus) error {
	marker := filepath.Join(sc.WorkDir, ".kargo-promotion")
	if b, err := os.ReadFile(marker); err == nil && string(b) == string(sc.Promotion.UID) {
		return nil
	}
	if err := os.RemoveAll(sc.WorkDir); err != nil {
		return fmt.Errorf("clear work directory: %w", err)
	}
	if err := os.MkdirAll(sc.WorkDir, 0o700); err != nil {
		return fmt.Errorf("make work directory: %w", err)
	}
	outputs := sc.Outputs
	env := &Env{Ctx: ctxOf(sc), Outputs: outputs, Freight: sc.Freight, Metadata: e.metadataOf(ctx, sc.Project)}
	for i := 0; i < int(status.CurrentStep) && i < len(proc.Steps) && i < len(status.Steps); i++ {
		step := proc.Steps[i]
		if status.Steps[i].Status != kargoapi.StepStatusSucceeded {
			continue
		}
		impl, ok := e.Steps[step.Uses].(Replayable)
		if !ok {
			continue
		}
		vars, err := evalVars(env, proc.Vars, step.Vars)
		if err != nil {
			return err
		}
		env.Vars = vars
		env.Task = taskEnv(Alias(step, i), outputs)
		cfg, err := evalConfig(env, step.Config)
		if err != nil {
			return err
		}
		sc.Alias = Alias(step, i)
		if _, err := impl.Run(ctx, sc, cfg); err != nil {
			return fmt.Errorf("rebuild the work directory: step %s: %w", Alias(step, i), err)
		}
	}
	return os.WriteFile(marker, []byte(sc.Promotion.UID), 0o600)
}

func record(status *kargoapi.PromotionStatus, i int, alias string) *kargoapi.StepExecution {
	for len(status.Steps) <= i {
		status.Steps = append(status.Steps, kargoapi.StepExecution{})
	}
	rec := &status.Steps[i]
	if rec.Alias == "" {
		rec.Alias = alias
		rec.Status = kargoapi.StepStatusRunning
	}
	return rec
}

// metadataOf reads the status.metadata of a Stage or Freight of project.
func (e *Engine) metadataOf(ctx context.Context, project string) func(kind, name string) (map[string]any, error) {
	return func(kind, name string) (map[string]any, error) {
		if e.Reader == nil {
			return nil, errors.New("this controller was started without an API client for expressions, so " + strings.ToLower(kind) + "Metadata cannot run")
		}
		var obj client.Object
		var md func() *kargoapi.StepConfig
		switch kind {
		case "Stage":
			st := &kargoapi.Stage{}
			obj, md = st, func() *kargoapi.StepConfig { return st.Status.Metadata }
		default:
			f := &kargoapi.Freight{}
			obj, md = f, func() *kargoapi.StepConfig { return f.Status.Metadata }
		}
		switch err := e.Reader.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, obj); {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("project %s has no %s %q", project, kind, name)
		case err != nil:
			return nil, fmt.Errorf("get %s %s: %w", kind, name, err)
		}
		m := map[string]any{}
		if raw := md(); raw != nil && len(raw.Raw) > 0 {
			if err := json.Unmarshal(raw.Raw, &m); err != nil {
				return nil, fmt.Errorf("the metadata of %s %s is not a JSON object", kind, name)
			}
		}
		return m, nil
	}
}

func ctxOf(sc *StepContext) map[string]any {
	c := map[string]any{"project": sc.Project, "stage": sc.Stage}
	if p := sc.Promotion; p != nil {
		c["promotion"] = p.Name
		c["meta"] = map[string]any{"promotion": map[string]any{"actor": p.Annotations[kargoapi.PromotionCreatedByAnnotationKey]}}
	}
	if len(sc.Freight) > 0 {
		f := sc.Freight[0]
		origin := map[string]any{}
		if f.Origin != nil {
			origin["name"] = f.Origin.Name
			origin["kind"] = string(f.Origin.Kind)
		}
		c["targetFreight"] = map[string]any{"name": f.Name, "alias": f.Alias, "origin": origin}
	}
	return c
}

func evalVars(env *Env, lists ...[]kargoapi.ExpressionVariable) (map[string]any, error) {
	vars := map[string]any{}
	env.Vars = vars
	for _, list := range lists {
		for _, v := range list {
			val, err := env.EvaluateString(v.Value)
			if err != nil {
				return nil, fmt.Errorf("vars.%s: %w", v.Name, err)
			}
			vars[v.Name] = val
		}
	}
	return vars, nil
}

func evalConfig(env *Env, raw *kargoapi.StepConfig) (Config, error) {
	if raw == nil || len(raw.Raw) == 0 {
		return Config{}, nil
	}
	var v map[string]any
	if err := json.Unmarshal(raw.Raw, &v); err != nil {
		return nil, fmt.Errorf("config is not a JSON object: %w", err)
	}
	out, err := env.Evaluate(v)
	if err != nil {
		return nil, fmt.Errorf("config.%w", err)
	}
	return Config(out.(map[string]any)), nil
}

// taskEnv gives the steps of an expanded task (alias TASK::STEP) the
// outputs of the task's other steps as task.outputs.
func taskEnv(alias string, outputs map[string]any) map[string]any {
	prefix, _, ok := cutLast(alias, "::")
	if !ok {
		return nil
	}
	own := map[string]any{}
	for k, v := range outputs {
		if p, rest, ok := cutLast(k, "::"); ok && p == prefix {
			own[rest] = v
		}
	}
	return map[string]any{"outputs": own}
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return "", "", false
}

func readState(status *kargoapi.PromotionStatus) (map[string]any, error) {
	out := map[string]any{}
	if status.State == nil || len(status.State.Raw) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(status.State.Raw, &out); err != nil {
		return nil, fmt.Errorf("read status.state: %w", err)
	}
	return out, nil
}

func writeState(status *kargoapi.PromotionStatus, outputs map[string]any) error {
	b, err := json.Marshal(outputs)
	if err != nil {
		return fmt.Errorf("record outputs: %w", err)
	}
	status.State = &kargoapi.StepConfig{Raw: b}
	return nil
}

func timeout(step kargoapi.PromotionStep) time.Duration {
	if step.Retry != nil && step.Retry.Timeout != nil {
		return step.Retry.Timeout.Duration
	}
	return 0
}

func errorThreshold(step kargoapi.PromotionStep) uint32 {
	if step.Retry != nil && step.Retry.ErrorThreshold > 0 {
		return step.Retry.ErrorThreshold
	}
	return 1
}

func backoff(errors uint32) time.Duration {
	d := 5 * time.Second << min(errors, 6)
	return min(d, 5*time.Minute)
}

func skipReason(step kargoapi.PromotionStep) string {
	if step.If != "" {
		return "if " + step.If + " is false"
	}
	return "an earlier step failed"
}

// summary joins the messages of the steps that succeeded.
func summary(status *kargoapi.PromotionStatus) string {
	var msgs []string
	for _, s := range status.Steps {
		if s.Status == kargoapi.StepStatusSucceeded && s.Message != "" {
			msgs = append(msgs, s.Message)
		}
	}
	if len(msgs) == 0 {
		return "every step succeeded"
	}
	return strings.Join(msgs, "; ")
}
