package verification

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/verification/analysis"
	"github.com/kargohq/kargo/internal/verification/httpcheck"
)

// HistoryLimit bounds a Stage's status.verificationHistory.
const HistoryLimit = 10

// Verifier advances the verification of each Stage's current Freight:
// it waits for the Stage to be healthy, runs the checks of
// spec.verification, and marks the Freight verified in the Stage when every
// one passed.
type Verifier struct {
	// Client reads Freight and writes Freight status.
	Client client.Client
	// Secrets reads the Secrets HTTP check headers name, live: the
	// controller's cache holds only credential Secrets. Client when nil.
	Secrets client.Reader
	// Health aggregates the health of the Stage's Argo CD Applications;
	// it is only asked about Stages that have some.
	Health func(ctx context.Context, st *kargoapi.Stage) kargoapi.Health
	// HTTP makes the HTTP checks' requests.
	HTTP *httpcheck.Client
	// Analysis runs Argo Rollouts analysis; nil refuses analysis templates.
	Analysis *analysis.Runner
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	runs map[string]*httpRun
	// last is, per Stage, the verification as this process last moved it
	// past Pending. The Stage's status write can be lost (another writer
	// changed the Stage first); the next pass then reads the verification
	// as it was and adopts this copy rather than starting or ending it a
	// second time.
	last map[string]kargoapi.VerificationInfo
}

// httpRun is the HTTP checks of one verification, running in goroutines
// of this process. A restarted controller starts them again.
type httpRun struct {
	cancel  context.CancelFunc
	mu      sync.Mutex
	results []kargoapi.CheckResult
}

func (r *httpRun) snapshot() []kargoapi.CheckResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kargoapi.CheckResult(nil), r.results...)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Step moves st's verification on by what can be decided now, recording it
// in st.Status (which the caller writes), and returns when to look again
// (zero: only when something changes).
func (v *Verifier) Step(ctx context.Context, st *kargoapi.Stage) (time.Duration, error) {
	cur := st.Status.CurrentFreight
	if cur == nil || st.Status.CurrentPromotion != nil || !Needed(st) {
		return 0, nil
	}
	var requeue time.Duration
	var health *kargoapi.Health
	if hasApps(st) {
		h := v.Health(ctx, st)
		health = &h
		recordHealth(st, h)
		// Argo CD's view changes without kargo hearing of it through a
		// watch when no Application watch is possible; look periodically.
		requeue = 30 * time.Second
	}

	vi := st.Status.Verification
	// A verification made in this pass runs nothing until its ID is
	// written: that ID is how a later pass recognises a start whose
	// status write was lost.
	created := false
	if vi == nil || vi.Freight != cur.ID {
		v.archive(st)
		vi = v.fresh(cur.ID)
		created = true
	} else {
		v.adopt(st, vi)
	}
	if tok := st.Annotations[kargoapi.ReverifyAnnotationKey]; tok != "" && tok != st.Status.LastHandledReverify {
		st.Status.LastHandledReverify = tok
		if !vi.Phase.IsTerminal() {
			v.stop(ctx, st, vi, "superseded by a new verification")
		}
		st.Status.Verification = vi
		v.archive(st)
		vi = v.fresh(cur.ID)
		created = true
	}
	st.Status.Verification = vi
	if tok := st.Annotations[kargoapi.AbortVerificationAnnotationKey]; tok != "" && tok != st.Status.LastHandledAbort {
		st.Status.LastHandledAbort = tok
		if !vi.Phase.IsTerminal() {
			v.stop(ctx, st, vi, "aborted on request")
		}
	}

	switch vi.Phase {
	case kargoapi.VerificationPhasePending:
		if health != nil && health.Status != kargoapi.HealthStateHealthy {
			vi.Message = "waiting for the Stage to become healthy: " + describeHealth(*health)
			requeue = shorter(requeue, 5*time.Second)
			break
		}
		if created {
			requeue = shorter(requeue, 10*time.Millisecond)
			break
		}
		if err := v.start(ctx, st, vi); err != nil {
			return requeue, err
		}
		if !vi.Phase.IsTerminal() {
			requeue = shorter(requeue, 2*time.Second)
		}
	case kargoapi.VerificationPhaseRunning:
		if health != nil && health.Status == kargoapi.HealthStateUnhealthy {
			v.stop(ctx, st, vi, "")
			v.end(st, vi, kargoapi.VerificationPhaseFailed, "the Stage became unhealthy during verification: "+describeHealth(*health))
			break
		}
		if err := v.gather(ctx, st, vi); err != nil {
			return requeue, err
		}
		if !vi.Phase.IsTerminal() {
			requeue = shorter(requeue, 2*time.Second)
		}
	}

	v.remember(st, vi)
	setPhaseAndCondition(st, vi)
	switch vi.Phase {
	case kargoapi.VerificationPhaseSuccessful:
		if err := v.markVerified(ctx, st, vi); err != nil {
			return requeue, err
		}
	case kargoapi.VerificationPhaseFailed:
		if err := v.markUnverified(ctx, st, vi); err != nil {
			return requeue, err
		}
	}
	return requeue, nil
}

// progress orders a verification's phases: Pending, then Running, then
// ended.
func progress(p kargoapi.VerificationPhase) int {
	switch {
	case p.IsTerminal():
		return 2
	case p == kargoapi.VerificationPhaseRunning:
		return 1
	}
	return 0
}

// remember keeps vi as this pass left it, once it has started.
func (v *Verifier) remember(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	if progress(vi.Phase) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last = map[string]kargoapi.VerificationInfo{}
	}
	v.last[st.Namespace+"/"+st.Name] = *vi.DeepCopy()
}

// Forget drops what the verifier remembers of a Stage that is gone.
func (v *Verifier) Forget(namespace, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.last, namespace+"/"+name)
}

// adopt replaces vi, read from st's status, with the copy this process
// moved further (started, or ended) when the write of that move was lost.
func (v *Verifier) adopt(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if last, ok := v.last[st.Namespace+"/"+st.Name]; ok && last.ID == vi.ID && progress(last.Phase) > progress(vi.Phase) {
		*vi = *last.DeepCopy()
	}
}

// fresh returns a new verification of freight, waiting to start.
func (v *Verifier) fresh(freight string) *kargoapi.VerificationInfo {
	return &kargoapi.VerificationInfo{
		ID:      fmt.Sprintf("%s-%s", v.now().UTC().Format("20060102t150405"), rand.String(5)),
		Freight: freight,
		Phase:   kargoapi.VerificationPhasePending,
	}
}

// archive moves the current verification, if any, into the history.
func (v *Verifier) archive(st *kargoapi.Stage) {
	old := st.Status.Verification
	if old == nil {
		return
	}
	if !old.Phase.IsTerminal() {
		v.cancelHTTP(st, old)
		v.end(st, old, kargoapi.VerificationPhaseAborted, "superseded: the Stage holds other Freight now")
	}
	st.Status.VerificationHistory = append([]kargoapi.VerificationInfo{*old}, st.Status.VerificationHistory...)
	if len(st.Status.VerificationHistory) > HistoryLimit {
		st.Status.VerificationHistory = st.Status.VerificationHistory[:HistoryLimit]
	}
	st.Status.Verification = nil
}

// start begins the checks of spec.verification, or ends the verification
// at once when there are none (health was all there was to wait for).
func (v *Verifier) start(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo) error {
	now := metav1.NewTime(v.now())
	vi.StartTime = &now
	vi.Message = ""
	verificationsStarted.WithLabelValues(st.Namespace, st.Name).Inc()
	spec := st.Spec.Verification
	if spec == nil {
		v.end(st, vi, kargoapi.VerificationPhaseSuccessful, "")
		return nil
	}
	vi.Phase = kargoapi.VerificationPhaseRunning
	if len(spec.HTTP) > 0 {
		if err := v.startHTTP(ctx, st, vi); err != nil {
			if sourceerr.Terminal(err) {
				v.end(st, vi, kargoapi.VerificationPhaseError, err.Error())
				return nil
			}
			return err
		}
	}
	if len(spec.AnalysisTemplates) > 0 {
		if v.Analysis == nil {
			v.cancelHTTP(st, vi)
			v.end(st, vi, kargoapi.VerificationPhaseError, "analysis templates need Argo Rollouts' AnalysisRun CRD, which this cluster does not serve")
			return nil
		}
		f := &kargoapi.Freight{}
		if err := v.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: vi.Freight}, f); err != nil {
			return fmt.Errorf("get Freight %s: %w", vi.Freight, err)
		}
		name, err := v.Analysis.Start(ctx, st, f, vi.ID)
		if err != nil {
			if sourceerr.Terminal(err) {
				v.cancelHTTP(st, vi)
				v.end(st, vi, kargoapi.VerificationPhaseError, err.Error())
				return nil
			}
			return err
		}
		vi.AnalysisRun = &kargoapi.AnalysisRunReference{Name: name}
	}
	return nil
}

func runKey(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) string {
	return st.Namespace + "/" + st.Name + "/" + vi.ID
}

// startHTTP starts one goroutine per HTTP check of the verification.
func (v *Verifier) startHTTP(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo) error {
	checks := st.Spec.Verification.HTTP
	programs := make([]*httpcheck.Program, len(checks))
	headers := make([]map[string]string, len(checks))
	for i, c := range checks {
		p, err := httpcheck.Compile(c)
		if err != nil {
			return fmt.Errorf("http check %s: %w: %w", c.Name, err, sourceerr.ErrInvalid)
		}
		var secrets client.Reader = v.Client
		if v.Secrets != nil {
			secrets = v.Secrets
		}
		h, err := httpcheck.ResolveHeaders(ctx, secrets, st.Namespace, c.Headers)
		if err != nil {
			return fmt.Errorf("http check %s: %w: %w", c.Name, err, sourceerr.ErrInvalid)
		}
		programs[i], headers[i] = p, h
	}
	runCtx, cancel := context.WithCancel(context.Background())
	run := &httpRun{cancel: cancel, results: make([]kargoapi.CheckResult, len(checks))}
	for i, c := range checks {
		run.results[i] = kargoapi.CheckResult{Name: c.Name, Phase: kargoapi.VerificationPhaseRunning}
	}
	v.mu.Lock()
	if v.runs == nil {
		v.runs = map[string]*httpRun{}
	}
	v.runs[runKey(st, vi)] = run
	v.mu.Unlock()
	for i := range checks {
		go func() {
			report := func(r kargoapi.CheckResult) {
				run.mu.Lock()
				run.results[i] = r
				run.mu.Unlock()
			}
			report(httpcheck.Run(runCtx, v.HTTP, programs[i], headers[i], time.After, report))
		}()
	}
	vi.Checks = run.snapshot()
	return nil
}

// gather reads the results so far and ends the verification when they
// decide it.
func (v *Verifier) gather(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo) error {
	var phases []kargoapi.VerificationPhase
	var messages []string
	if len(st.Spec.Verification.HTTP) > 0 {
		v.mu.Lock()
		run := v.runs[runKey(st, vi)]
		v.mu.Unlock()
		if run == nil {
			// Started by a controller that has since restarted: the
			// measurements it made are lost, so the checks start over.
			if err := v.startHTTP(ctx, st, vi); err != nil {
				if sourceerr.Terminal(err) {
					v.end(st, vi, kargoapi.VerificationPhaseError, err.Error())
					return nil
				}
				return err
			}
			return nil
		}
		vi.Checks = run.snapshot()
		for _, c := range vi.Checks {
			phases = append(phases, c.Phase)
			if c.Phase == kargoapi.VerificationPhaseFailed || c.Phase == kargoapi.VerificationPhaseError {
				messages = append(messages, fmt.Sprintf("http check %s: %s", c.Name, c.Message))
			}
		}
	}
	if ar := vi.AnalysisRun; ar != nil {
		s, err := v.Analysis.Status(ctx, st.Namespace, ar.Name)
		if err != nil {
			return fmt.Errorf("read AnalysisRun %s: %w", ar.Name, err)
		}
		ar.Phase = s.Phase
		p := analysis.ToVerificationPhase(s)
		phases = append(phases, p)
		if p.IsTerminal() && p != kargoapi.VerificationPhaseSuccessful {
			m := fmt.Sprintf("AnalysisRun %s is %s", ar.Name, s.Phase)
			if p == kargoapi.VerificationPhaseAborted {
				m = fmt.Sprintf("AnalysisRun %s was terminated before its metrics finished", ar.Name)
			}
			if s.Message != "" {
				m += ": " + s.Message
			}
			messages = append(messages, m)
		}
	}
	if phase := Combine(phases); phase.IsTerminal() {
		if phase != kargoapi.VerificationPhaseSuccessful {
			v.stop(ctx, st, vi, "")
		}
		v.end(st, vi, phase, strings.Join(messages, "; "))
		v.forget(st, vi)
	}
	return nil
}

// Combine decides a verification from its checks' phases: an Error (a
// check could not be made, which the user must fix) outranks a Failed
// check, and either decides it at once; it is Successful only when every
// check is.
func Combine(phases []kargoapi.VerificationPhase) kargoapi.VerificationPhase {
	failed, all := false, true
	for _, p := range phases {
		switch p {
		case kargoapi.VerificationPhaseError:
			return kargoapi.VerificationPhaseError
		case kargoapi.VerificationPhaseFailed, kargoapi.VerificationPhaseAborted:
			failed = true
		case kargoapi.VerificationPhaseSuccessful:
		default:
			all = false
		}
	}
	switch {
	case failed:
		return kargoapi.VerificationPhaseFailed
	case all:
		return kargoapi.VerificationPhaseSuccessful
	}
	return kargoapi.VerificationPhaseRunning
}

// stop stops the checks of a running verification; with a message, it also
// ends it as Aborted.
func (v *Verifier) stop(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo, abortMessage string) {
	v.cancelHTTP(st, vi)
	if vi.AnalysisRun != nil && v.Analysis != nil {
		// Best effort: an AnalysisRun left running only wastes its
		// measurements, since its result is no longer read.
		_ = v.Analysis.Abort(ctx, st.Namespace, vi.AnalysisRun.Name)
	}
	if abortMessage != "" {
		v.end(st, vi, kargoapi.VerificationPhaseAborted, abortMessage)
	}
}

func (v *Verifier) cancelHTTP(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	v.mu.Lock()
	run := v.runs[runKey(st, vi)]
	v.mu.Unlock()
	if run != nil {
		run.cancel()
		vi.Checks = run.snapshot()
	}
	v.forget(st, vi)
}

func (v *Verifier) forget(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.runs, runKey(st, vi))
}

// end ends vi, one of st's verifications, with phase.
func (v *Verifier) end(st *kargoapi.Stage, vi *kargoapi.VerificationInfo, phase kargoapi.VerificationPhase, msg string) {
	now := metav1.NewTime(v.now())
	vi.Phase = phase
	vi.Message = msg
	vi.FinishTime = &now
	observeEnd(st, vi)
}

// markVerified records in the Freight that it is verified in st, at the
// time the verification ended.
func (v *Verifier) markVerified(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo) error {
	// What was verified is the Stage as it stands: the promoted Freight and
	// what the Stage holds of its other origins. One of those promoted just
	// before may have had its own verification superseded by this one.
	names := []string{vi.Freight}
	for _, c := range st.Status.CurrentFreightByOrigin {
		if c.ID != vi.Freight {
			names = append(names, c.ID)
		}
	}
	for _, name := range names {
		f := &kargoapi.Freight{}
		if err := v.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: name}, f); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return err
			}
			continue
		}
		if _, ok := f.Status.VerifiedIn[st.Name]; ok {
			continue
		}
		base := f.DeepCopy()
		if f.Status.VerifiedIn == nil {
			f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{}
		}
		f.Status.VerifiedIn[st.Name] = kargoapi.VerifiedStage{VerifiedAt: vi.FinishTime}
		if err := v.Client.Status().Patch(ctx, f, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("mark Freight %s verified in Stage %s: %w", f.Name, st.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("freight verified", "freight", f.Name, "alias", f.Alias, "verification", vi.ID)
	}
	return nil
}

// markUnverified withdraws from the Freight that it is verified in st: a
// verification of it there failed (a re-verification, since the first one
// to fail never marked it), so the Stages downstream of st must not
// receive it because of st until st verifies it again. An aborted or
// errored verification decides nothing and withdraws nothing.
func (v *Verifier) markUnverified(ctx context.Context, st *kargoapi.Stage, vi *kargoapi.VerificationInfo) error {
	f := &kargoapi.Freight{}
	if err := v.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: vi.Freight}, f); err != nil {
		return client.IgnoreNotFound(err)
	}
	if _, ok := f.Status.VerifiedIn[st.Name]; !ok {
		return nil
	}
	base := f.DeepCopy()
	delete(f.Status.VerifiedIn, st.Name)
	if err := v.Client.Status().Patch(ctx, f, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("withdraw Freight %s's verification in Stage %s: %w", f.Name, st.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("freight verification withdrawn", "freight", f.Name, "alias", f.Alias, "verification", vi.ID, "message", vi.Message)
	return nil
}

func hasApps(st *kargoapi.Stage) bool { return len(argocd.Updates(st)) > 0 }

// recordHealth shows h in the Stage's status, on its current Freight and
// its history entry, and as the Healthy condition.
func recordHealth(st *kargoapi.Stage, h kargoapi.Health) {
	st.Status.Health = h.DeepCopy()
	// The Freight references keep the summary: a Stage of many
	// Applications would otherwise carry each one four times.
	summary := func() *kargoapi.Health {
		c := h.DeepCopy()
		c.Applications = nil
		return c
	}
	st.Status.CurrentFreight.Health = summary()
	for i := range st.Status.CurrentFreightByOrigin {
		if st.Status.CurrentFreightByOrigin[i].ID == st.Status.CurrentFreight.ID {
			st.Status.CurrentFreightByOrigin[i].Health = summary()
		}
	}
	if len(st.Status.History) > 0 && st.Status.History[0].ID == st.Status.CurrentFreight.ID {
		st.Status.History[0].Health = summary()
	}
	cond := metav1.Condition{Type: kargoapi.ConditionHealthy, ObservedGeneration: st.Generation, Reason: string(h.Status), Message: describeHealth(h)}
	switch h.Status {
	case kargoapi.HealthStateHealthy:
		cond.Status = metav1.ConditionTrue
		cond.Message = "every Argo CD Application is synced to the promoted revision and healthy"
	case kargoapi.HealthStateUnknown, kargoapi.HealthStateProgressing:
		cond.Status = metav1.ConditionUnknown
	default:
		cond.Status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&st.Status.Conditions, cond)
}

func describeHealth(h kargoapi.Health) string {
	if len(h.Issues) == 0 {
		return string(h.Status)
	}
	return string(h.Status) + ": " + strings.Join(h.Issues, "; ")
}

// setPhaseAndCondition shows the verification in the Stage's phase and its
// Verified condition.
func setPhaseAndCondition(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	cond := metav1.Condition{Type: kargoapi.ConditionVerified, ObservedGeneration: st.Generation, Reason: string(vi.Phase)}
	switch vi.Phase {
	case kargoapi.VerificationPhaseSuccessful:
		st.Status.Phase = kargoapi.StagePhaseSteady
		cond.Status = metav1.ConditionTrue
		cond.Message = fmt.Sprintf("Freight %s is verified in %s", vi.Freight, st.Name)
	case kargoapi.VerificationPhaseFailed, kargoapi.VerificationPhaseError:
		st.Status.Phase = kargoapi.StagePhaseFailed
		cond.Status = metav1.ConditionFalse
		cond.Message = fmt.Sprintf("verification of Freight %s %s: %s; it stays unverified (re-verify with kargo verify stage %s)", vi.Freight, strings.ToLower(string(vi.Phase)), vi.Message, st.Name)
	case kargoapi.VerificationPhaseAborted:
		st.Status.Phase = kargoapi.StagePhaseSteady
		cond.Status = metav1.ConditionFalse
		cond.Message = fmt.Sprintf("verification of Freight %s was aborted: %s; it stays unverified", vi.Freight, vi.Message)
	default:
		st.Status.Phase = kargoapi.StagePhaseVerifying
		cond.Status = metav1.ConditionUnknown
		cond.Message = "verifying Freight " + vi.Freight
		if vi.Message != "" {
			cond.Message += ": " + vi.Message
		}
	}
	meta.SetStatusCondition(&st.Status.Conditions, cond)
}

func shorter(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
