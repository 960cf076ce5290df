// Package promotion reconciles Promotions: one at a time per Stage, in
// creation order, it checks that the Freight is available to the Stage,
// runs the Promotion's steps (its Stage's promotionTemplate, or the steps of
// its Stage's promotionMechanisms) through the step engine, and records the
// outcome in the Promotion, the Stage and the Freight.
package promotion

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/collection"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/shard"
	"github.com/kargohq/kargo/internal/verification"
)

// DefaultHistoryLimit is how many entries per origin a Stage's
// status.history keeps unless configured otherwise.
const DefaultHistoryLimit = 10

// Lander tells what a Stage's Git write branches hold of a Promotion, which
// may no longer exist (promote.Promoter.Landing).
type Lander interface {
	Landing(ctx context.Context, st *kargoapi.Stage, uid types.UID) (promote.Landing, error)
}

// Reconciler reconciles Promotions.
type Reconciler struct {
	Client client.Client
	// Reader reads Promotions straight from the API server, to make sure
	// that one a Stage's claim names is gone before the claim is released;
	// Client when nil.
	Reader client.Reader
	// Lander reads what a deleted Promotion left on its Stage's branches.
	Lander Lander
	// Steps runs every Promotion's steps: those copied from its Stage's
	// promotionTemplate, or those of its Stage's promotionMechanisms
	// (promote.Process). Nil fails every Promotion that has steps.
	Steps *engine.Engine
	// WorkDir holds each running Promotion's work directory, named by its
	// UID; it should survive restarts (the engine rebuilds what is lost).
	WorkDir  string
	Recorder events.EventRecorder
	// HistoryLimit bounds status.history of each Stage; DefaultHistoryLimit
	// when zero.
	HistoryLimit int
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// RunningAfter is how long a Promotion runs before its Running phase is
	// written on its own (runningNote); DefaultRunningAfter when zero.
	RunningAfter time.Duration
	// Shard is the projects this controller set owns; nil owns all.
	Shard *shard.Shard
}

// SetupWithManager registers the reconciler. A Promotion is reconciled when
// it is created, and again when another Promotion of its Stage ends; a
// Promotion that no longer exists is reconciled when a Stage's claim names
// it, which releases the claim.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.HistoryLimit <= 0 {
		r.HistoryLimit = DefaultHistoryLimit
	}
	return r.watchStops(ctrl.NewControllerManagedBy(mgr).
		For(&kargoapi.Promotion{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, abortAsked())))).
		Watches(&kargoapi.Promotion{}, handler.EnqueueRequestsFromMapFunc(r.queuedBehind)).
		Watches(&kargoapi.Promotion{}, handler.EnqueueRequestsFromMapFunc(r.olderQueued), builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(event.UpdateEvent) bool { return false }, DeleteFunc: func(event.DeleteEvent) bool { return false },
		})).
		Watches(&kargoapi.Freight{}, handler.EnqueueRequestsFromMapFunc(r.approvalWaiters)).
		Watches(&kargoapi.ApprovalPolicy{}, handler.EnqueueRequestsFromMapFunc(r.approvalWaiters)).
		Watches(&kargoapi.Stage{}, handler.EnqueueRequestsFromMapFunc(r.approvalWaiters),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&kargoapi.Stage{}, handler.EnqueueRequestsFromMapFunc(r.orphanedClaim)).
		Watches(&kargoapi.Project{}, shard.EnqueueAll(r.Client, func() client.ObjectList { return &kargoapi.PromotionList{} }),
			builder.WithPredicates(shard.OwnerChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8}).
		Complete(r)
}

// queuedBehind maps a Promotion to the waiting Promotions of its Stage, so
// that the next one starts when it ends.
func (r *Reconciler) queuedBehind(ctx context.Context, o client.Object) []reconcile.Request {
	p := o.(*kargoapi.Promotion)
	if !p.Status.Phase.IsTerminal() {
		return nil
	}
	list := &kargoapi.PromotionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(p.Namespace), client.MatchingFields{index.PromotionsByStage: p.Spec.Stage}); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if !list.Items[i].Status.Phase.IsTerminal() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// orphanedClaim maps a Stage whose status.currentPromotion names a
// Promotion the cache does not hold (deleted while it ran, perhaps while
// the controller was down, which no delete event tells) to that
// Promotion's name, whose reconcile releases the claim. At start, every
// Stage passes through here once.
func (r *Reconciler) orphanedClaim(ctx context.Context, o client.Object) []reconcile.Request {
	st := o.(*kargoapi.Stage)
	ref := st.Status.CurrentPromotion
	if ref == nil {
		return nil
	}
	p := &kargoapi.Promotion{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: ref.Name}, p)
	if (err == nil && claims(ref, p)) || (err != nil && !apierrors.IsNotFound(err)) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: st.Namespace, Name: ref.Name}}}
}

// claims says whether ref, a Stage's claim, is p's. A claim recorded before
// claims carried UIDs is matched by name.
func claims(ref *kargoapi.PromotionReference, p *kargoapi.Promotion) bool {
	return ref.Name == p.Name && (ref.UID == "" || ref.UID == p.UID)
}

// Reconcile advances one Promotion, or, for one that no longer exists,
// releases the claims Stages still hold for it. It runs named steps:
//
//   - load the Promotion;
//   - gather what deciding needs (its Stage, the Stage's queue, its Freight),
//     reading only;
//   - decide, in a pure function (decide), whether it ends, waits its turn,
//     or runs;
//   - claim the Stage, an optimistic-lock write, so that two controllers (or
//     a stale cache) never run two Promotions of one Stage at once, and mark
//     the Promotion Running;
//   - run its steps through the engine, each recorded in its status;
//   - record the outcome in the Stage, the Freight and the Promotion.
//
// Every write step can be repeated: a restarted controller finishes a
// Promotion it was in the middle of, without a second commit.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	if owned, err := r.Shard.Owns(ctx, req.Namespace); !owned || err != nil {
		return ctrl.Result{}, err
	}
	promo := &kargoapi.Promotion{}
	if err := r.Client.Get(ctx, req.NamespacedName, promo); err != nil {
		if apierrors.IsNotFound(err) {
			return r.releaseClaims(ctx, req)
		}
		return ctrl.Result{}, err
	}
	if promo.Status.Phase.IsTerminal() || !promo.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := promo.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(before.Status, promo.Status) {
			return
		}
		if patchErr := r.Client.Status().Patch(ctx, promo, client.MergeFrom(before)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = errors.Join(err, fmt.Errorf("patch status of Promotion %s: %w", req.NamespacedName, patchErr))
		}
	}()
	promo.Status.ObservedGeneration = promo.Generation

	in, err := r.gather(ctx, promo)
	if err != nil {
		return ctrl.Result{}, err
	}
	if by, ok := abortRequested(promo); ok {
		return r.abort(ctx, in, by)
	}
	d := decide(in, r.Now())
	noteApprovalWait(promo, d, r.Now())
	switch d.next {
	case stepEnd:
		// One that had claimed its Stage (its Freight deleted or no longer
		// available when a restarted controller resumed it) releases the
		// claim first, or the Stage's next Promotions would wait for it.
		if in.stage != nil && in.stage.Status.CurrentPromotion != nil && claims(in.stage.Status.CurrentPromotion, promo) {
			if err := r.releaseEnded(ctx, in.stage, kargoapi.PromotionPhaseFailed); err != nil {
				if apierrors.IsConflict(err) {
					return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
				}
				return ctrl.Result{}, err
			}
		}
		r.end(promo, kargoapi.PromotionPhaseFailed, d.message)
		return ctrl.Result{}, nil
	case stepAbort:
		promo.Status.AbortedBy = replacedBy
		r.end(promo, kargoapi.PromotionPhaseAborted, d.message)
		return ctrl.Result{}, nil
	case stepWait:
		r.wait(promo, d.message)
		return ctrl.Result{RequeueAfter: d.after}, nil
	case stepReleaseStale:
		if err := r.releaseClaim(ctx, in.stage); err != nil && !apierrors.IsConflict(err) {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	case stepReleaseEnded:
		if err := r.releaseEnded(ctx, in.stage, d.endedPhase); err != nil && !apierrors.IsConflict(err) {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}

	if err := r.claim(ctx, in.stage, promo, in.freight); err != nil {
		if apierrors.IsConflict(err) {
			// The Stage's status changed under us (its controller writes
			// it too): read it again soon, not after the failure back-off.
			return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
		}
		return ctrl.Result{}, err
	}
	r.markRunning(ctx, promo, in)
	note := r.noteRunning(ctx, before, promo)
	defer note.stop()
	// A step's record is written before the next step starts when it must
	// be durable (engine.Save); otherwise it goes with the next write, the
	// Promotion's end at the latest (the deferred patch), with Running.
	save := func(durable bool) error {
		if !durable || equality.Semantic.DeepEqual(before.Status, promo.Status) {
			return nil
		}
		note.stop()
		if err := r.Client.Status().Patch(ctx, promo, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("record the steps of Promotion %s: %w", promo.Name, err)
		}
		before = promo.DeepCopy()
		return nil
	}
	return r.run(ctx, in, r.abortable(ctx, promo, save))
}

// processOf returns what a Promotion runs: the steps copied into its spec
// from its Stage's promotionTemplate; else the steps of its Stage's
// promotionMechanisms, derived now (derived is then true). Those are derived
// from the Stage when the Promotion runs, not copied at admission, so that a
// Promotion created before kargo ran mechanisms as steps runs them the same
// way as one created after, and a Stage with neither runs no step.
func processOf(promo *kargoapi.Promotion, st *kargoapi.Stage) (proc engine.Process, derived bool) {
	if len(promo.Spec.Steps) > 0 {
		return engine.Process{Vars: promo.Spec.Vars, Steps: promo.Spec.Steps}, false
	}
	return engine.Process{Steps: promote.Process(st.Spec.PromotionMechanisms)}, true
}

// changedUnder says why a derived process no longer matches the steps the
// Promotion recorded, when its Stage's promotionMechanisms gained or lost
// updates while it ran; "" when it matches.
func changedUnder(proc engine.Process, status *kargoapi.PromotionStatus) string {
	for i, rec := range status.Steps {
		if i >= len(proc.Steps) || engine.Alias(proc.Steps[i], i) != rec.Alias {
			var now []string
			for j, s := range proc.Steps {
				now = append(now, engine.Alias(s, j))
			}
			return fmt.Sprintf("its Stage's promotionMechanisms changed while it ran: step %d was %s and is now %s",
				i+1, rec.Alias, strings.Join(now, ", "))
		}
	}
	return ""
}

// run runs the Promotion's steps through the engine and, when they end,
// records the outcome.
func (r *Reconciler) run(ctx context.Context, in inputs, save engine.Save) (ctrl.Result, error) {
	promo, st, f := in.promo, in.stage, in.freight
	proc, derived := processOf(promo, st)
	if derived && isCurrent(st, f) {
		return ctrl.Result{}, r.finish(ctx, st, f, promo, kargoapi.PromotionPhaseSucceeded,
			fmt.Sprintf("%s is already the current Freight of %s; nothing changed", describe(f), st.Name))
	}
	if r.Steps == nil && len(proc.Steps) > 0 {
		return ctrl.Result{}, r.finish(ctx, st, f, promo, kargoapi.PromotionPhaseFailed,
			"this controller was started without the promotion step engine, so the Stage's promotion steps cannot run")
	}
	if why := changedUnder(proc, &promo.Status); derived && why != "" {
		r.Recorder.Eventf(promo, st, corev1.EventTypeWarning, "PromotionErrored", "Promote", "%s", why)
		return ctrl.Result{}, r.finish(ctx, st, f, promo, kargoapi.PromotionPhaseErrored,
			"Promotion errored: "+why+"; what its steps did is in status.steps; promote again")
	}
	sc := r.stepContext(promo, st, f)
	out := engine.Outcome{Phase: kargoapi.PromotionPhaseSucceeded}
	if len(proc.Steps) > 0 {
		var err error
		out, err = r.Steps.Run(ctx, sc, proc, &promo.Status, save)
		if a := (abortedError{}); errors.As(err, &a) {
			return r.abort(ctx, in, a.by)
		}
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	if out.Phase == kargoapi.PromotionPhaseRunning {
		promo.Status.Message = out.Message
		if derived {
			promo.Status.Message = "Waiting: " + promo.Status.Steps[promo.Status.CurrentStep].Message
		}
		return ctrl.Result{RequeueAfter: out.RequeueAfter}, nil
	}
	if err := r.Steps.RemoveWorkDir(sc.WorkDir); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "remove a finished Promotion's work directory", "dir", sc.WorkDir)
	}
	if derived {
		msg, why := mechanismsOutcome(f, st, out.Phase, &promo.Status)
		if out.Phase != kargoapi.PromotionPhaseSucceeded {
			r.Recorder.Eventf(promo, st, corev1.EventTypeWarning, "Promotion"+string(out.Phase), "Promote", "%s", why)
		}
		return ctrl.Result{}, r.finish(ctx, st, f, promo, out.Phase, msg)
	}
	msg := fmt.Sprintf("Promoted %s into %s: %s", describe(f), st.Name, out.Message)
	if out.Phase != kargoapi.PromotionPhaseSucceeded {
		r.Recorder.Eventf(promo, st, corev1.EventTypeWarning, "Promotion"+string(out.Phase), "Promote", "%s", out.Message)
		msg = "Promotion " + strings.ToLower(string(out.Phase)) + ": " + out.Message
	}
	return ctrl.Result{}, r.finish(ctx, st, f, promo, out.Phase, msg)
}

// mechanismsOutcome is how a Promotion by promotionMechanisms ended, in the
// words the mechanisms always used: on success, what each step did; on
// failure, the failed step's error, then what was pushed before it, or that
// the repositories and the Stage are unchanged. why is the error alone.
func mechanismsOutcome(f *kargoapi.Freight, st *kargoapi.Stage, phase kargoapi.PromotionPhase, status *kargoapi.PromotionStatus) (msg, why string) {
	done, why := stepsDone(status)
	if phase == kargoapi.PromotionPhaseSucceeded {
		msg = fmt.Sprintf("Promoted %s into %s", describe(f), st.Name)
		if len(done) > 0 {
			msg += ": " + strings.Join(done, "; ")
		}
		return msg, ""
	}
	unchanged := "the repositories and the Stage are unchanged"
	if len(done) > 0 {
		// A Git update pushed before a later step failed.
		unchanged = "before that: " + strings.Join(done, "; ") + "; the Stage is unchanged"
	}
	return "Promotion " + strings.ToLower(string(phase)) + ": " + why + "; " + unchanged, why
}

// stepsDone returns the messages of the steps that succeeded before the
// first that failed, and that one's message.
func stepsDone(status *kargoapi.PromotionStatus) (done []string, failed string) {
	for _, s := range status.Steps {
		switch {
		case s.Status == kargoapi.StepStatusFailed:
			return done, s.Message
		case s.Status == kargoapi.StepStatusSucceeded && s.Message != "":
			done = append(done, s.Message)
		}
	}
	return done, ""
}

// stepContext is what the steps of promo know of it: its work directory,
// its Stage, and the Freight promoted, then the Freight the Stage holds of
// its other origins.
func (r *Reconciler) stepContext(promo *kargoapi.Promotion, st *kargoapi.Stage, f *kargoapi.Freight) *engine.StepContext {
	freights := []*kargoapi.Freight{f}
	for _, held := range collection.Held(st) {
		if held != nil && held.ID != f.Name && (f.Origin == nil || held.Origin == nil || *held.Origin != *f.Origin) {
			freights = append(freights, &kargoapi.Freight{
				ObjectMeta: metav1.ObjectMeta{Namespace: st.Namespace, Name: held.ID},
				Alias:      held.Alias, Origin: held.Origin, Commits: held.Commits, Images: held.Images, Charts: held.Charts,
			})
		}
	}
	return &engine.StepContext{
		WorkDir:     filepath.Join(r.WorkDir, string(promo.UID)),
		Project:     promo.Namespace,
		Stage:       st.Name,
		StageObject: st,
		Promotion:   promo,
		Freight:     freights,
	}
}

// inputs is what a Promotion's decision is made from, gathered by reads
// alone. stage and freight are nil when they do not exist.
type inputs struct {
	promo   *kargoapi.Promotion
	stage   *kargoapi.Stage
	freight *kargoapi.Freight
	// queue is the Stage's Promotions in the order they run.
	queue []kargoapi.Promotion
	// stops are the project's freeze and windows (holds.go).
	stops stops
	// approvalPolicies are the project's ApprovalPolicies (approval.go).
	approvalPolicies []kargoapi.ApprovalPolicy
	// replacement is a newer auto-promotion that replaces this one, for a
	// Stage set to ReplaceWithNewest (abort.go).
	replacement *kargoapi.Promotion
}

// gather reads the Promotion's Stage, the Stage's queue and the Freight.
func (r *Reconciler) gather(ctx context.Context, promo *kargoapi.Promotion) (inputs, error) {
	in := inputs{promo: promo}
	st := &kargoapi.Stage{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: promo.Namespace, Name: promo.Spec.Stage}, st); {
	case err == nil:
		in.stage = st
	case !apierrors.IsNotFound(err):
		return in, err
	default:
		return in, nil
	}
	queue, err := index.PromotionsOf(ctx, r.Client, promo.Namespace, promo.Spec.Stage)
	if err != nil {
		return in, err
	}
	in.queue = queue
	if in.stops, err = r.gatherStops(ctx, promo.Namespace); err != nil {
		return in, err
	}
	f := &kargoapi.Freight{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: promo.Namespace, Name: promo.Spec.Freight}, f); {
	case err == nil:
		in.freight = f
	case !apierrors.IsNotFound(err):
		return in, err
	}
	if err := r.gatherApproval(ctx, &in); err != nil {
		return in, err
	}
	if err := r.gatherReplacement(ctx, &in); err != nil {
		return in, err
	}
	return in, nil
}

// step is what a Promotion does next.
type step int

const (
	// stepRun claims the Stage and promotes.
	stepRun step = iota
	// stepEnd ends the Promotion Failed, without running it.
	stepEnd
	// stepWait leaves the Promotion Pending behind another one.
	stepWait
	// stepReleaseStale releases the Stage's claim by an earlier, deleted
	// Promotion of the same name before this one runs.
	stepReleaseStale
	// stepAbort ends the Promotion Aborted before it ran: a newer
	// auto-promotion replaces it.
	stepAbort
	// stepReleaseEnded releases the Stage's claim by another Promotion
	// that has ended without releasing it, before this one runs.
	stepReleaseEnded
)

// decision is decide's answer.
type decision struct {
	next    step
	message string
	// after is when to look again, for stepWait; zero waits for the
	// Promotion ahead to end (its end enqueues this one).
	after time.Duration
	// awaitingApproval is set when the wait is for approvals.
	awaitingApproval bool
	// endedPhase is how the Promotion that still holds the Stage's claim
	// ended, for stepReleaseEnded.
	endedPhase kargoapi.PromotionPhase
}

// decide says what the Promotion does next: one at a time per Stage, in
// creation order, and only with Freight available to the Stage (or already
// its current Freight, which succeeds without a change).
func decide(in inputs, now time.Time) decision {
	promo, st, f := in.promo, in.stage, in.freight
	if st == nil {
		return decision{next: stepEnd, message: fmt.Sprintf("Stage %s does not exist in project %s; create it, or promote into an existing Stage", promo.Spec.Stage, promo.Namespace)}
	}
	if d, ok := replacementGate(in); ok {
		return d
	}
	if d, ok := stopped(in, now); ok {
		return d
	}
	if head := headOf(in.queue, st, promo.Name); head != promo.Name {
		return decision{next: stepWait, message: fmt.Sprintf("Waiting for Promotion %s to finish", head)}
	}
	if cur := st.Status.CurrentPromotion; cur != nil && !claims(cur, promo) {
		if cur.Name == promo.Name {
			return decision{next: stepReleaseStale}
		}
		if phase, ended := endedClaim(in.queue, cur); ended {
			return decision{next: stepReleaseEnded, endedPhase: phase}
		}
		// The Stage records another Promotion as running; it must end
		// first (the cache may not show it yet).
		return decision{next: stepWait, message: fmt.Sprintf("Waiting for Promotion %s to finish", cur.Name), after: 250 * time.Millisecond}
	}
	if f == nil {
		return decision{next: stepEnd, message: fmt.Sprintf("Freight %s does not exist in project %s; list what Stage %s can receive with `kargo get freight --project %s`", promo.Spec.Freight, promo.Namespace, st.Name, promo.Namespace)}
	}
	if ok, why := availability.Check(st, f, now); !ok && !isCurrent(st, f) {
		return decision{next: stepEnd, message: "Freight is not available to Stage " + st.Name + ": " + why}
	}
	if d, ok := approvalGate(in, now); ok {
		return d
	}
	return decision{next: stepRun}
}

// headOf returns the name of the Promotion of a Stage's queue that runs now
// or runs next: a Running one, else the one the Stage's claim names (it
// started, though Running may not be written yet: markRunning), else the
// oldest one that has not ended; name when there is none.
func headOf(queue []kargoapi.Promotion, st *kargoapi.Stage, name string) string {
	for _, p := range queue {
		if p.Status.Phase == kargoapi.PromotionPhaseRunning {
			return p.Name
		}
	}
	if cur := st.Status.CurrentPromotion; cur != nil {
		for i := range queue {
			if p := &queue[i]; claims(cur, p) && !p.Status.Phase.IsTerminal() {
				return p.Name
			}
		}
	}
	for _, p := range queue {
		if !p.Status.Phase.IsTerminal() {
			return p.Name
		}
	}
	return name
}

// markRunning records that the Promotion runs, once (a Promotion resumed
// by a restarted controller keeps its start time), in memory: the Stage's
// claim, written already, is what keeps a second Promotion from running and
// tells a restarted controller that this one started (started), so the
// Running phase needs no write of its own. The first write that must be
// durable (after a step that acts outside the work directory, or while a
// step waits) carries it, else the Promotion's end; a Promotion that runs
// longer than RunningAfter before either has it written then (runningNote),
// so that it never looks Pending while it runs.
func (r *Reconciler) markRunning(ctx context.Context, promo *kargoapi.Promotion, in inputs) {
	if promo.Status.Phase == kargoapi.PromotionPhaseRunning {
		return
	}
	now := metav1.NewTime(r.Now())
	promo.Status.Phase = kargoapi.PromotionPhaseRunning
	promo.Status.StartTime = &now
	promo.Status.Message = fmt.Sprintf("Promoting %s into %s", describe(in.freight), in.stage.Name)
	ctrl.LoggerFrom(ctx).Info("promotion started", "stage", in.stage.Name, "freight", in.freight.Name, "alias", in.freight.Alias)
}

// started says whether the Promotion has started: it is Running, or its
// Stage's claim names it (a controller that stopped before writing Running
// leaves only the claim). A Promotion that has started finishes: holds,
// approvals and replacements stop only what has not begun.
func started(in inputs) bool {
	if in.promo.Status.Phase == kargoapi.PromotionPhaseRunning {
		return true
	}
	if in.stage == nil {
		return false
	}
	cur := in.stage.Status.CurrentPromotion
	return cur != nil && claims(cur, in.promo)
}

func (r *Reconciler) wait(promo *kargoapi.Promotion, msg string) {
	promo.Status.Phase = kargoapi.PromotionPhasePending
	promo.Status.Message = msg
}

// end ends a Promotion that never ran.
func (r *Reconciler) end(promo *kargoapi.Promotion, phase kargoapi.PromotionPhase, msg string) {
	now := metav1.NewTime(r.Now())
	promo.Status.Phase = phase
	promo.Status.Message = msg
	promo.Status.CompletionTime = &now
	observe(promo, phase, r.Now())
	r.Recorder.Eventf(promo, nil, corev1.EventTypeWarning, "Promotion"+string(phase), "Promote", "%s", msg)
}

// claim records promo as the Stage's current Promotion.
func (r *Reconciler) claim(ctx context.Context, st *kargoapi.Stage, promo *kargoapi.Promotion, f *kargoapi.Freight) error {
	if cur := st.Status.CurrentPromotion; cur != nil && claims(cur, promo) {
		return nil
	}
	base := st.DeepCopy()
	sf := freight.Simple(f)
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: promo.Name, UID: promo.UID, Freight: &sf, Phase: kargoapi.PromotionPhaseRunning}
	st.Status.Phase = kargoapi.StagePhasePromoting
	if err := r.Client.Status().Patch(ctx, st, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("claim Stage %s for Promotion %s: %w", st.Name, promo.Name, err)
	}
	return nil
}

// endedClaim says whether the Promotion ref names is in queue and has
// ended, and how. The cache may lag behind the API server, but an ended
// Promotion never runs again, so one seen ended has ended.
func endedClaim(queue []kargoapi.Promotion, ref *kargoapi.PromotionReference) (kargoapi.PromotionPhase, bool) {
	for i := range queue {
		if p := &queue[i]; claims(ref, p) && p.Status.Phase.IsTerminal() {
			return p.Status.Phase, true
		}
	}
	return "", false
}

// liveReader reads from the API server, past the cache: Reader, else
// Client (tests without a cache).
func (r *Reconciler) liveReader() client.Reader {
	if r.Reader != nil {
		return r.Reader
	}
	return r.Client
}

// releaseEnded releases st's claim by a Promotion that ended (or, deleted,
// is recorded) as phase without the outcome recorded in the Stage: the
// Stage keeps its current
// Freight, records the Promotion as its last, and is Failed unless the
// Promotion was aborted. An optimistic-lock write: a claim taken meanwhile
// is not released.
func (r *Reconciler) releaseEnded(ctx context.Context, st *kargoapi.Stage, phase kargoapi.PromotionPhase) error {
	base := st.DeepCopy()
	last := st.Status.CurrentPromotion.DeepCopy()
	last.Phase = phase
	st.Status.CurrentPromotion = nil
	st.Status.LastPromotion = last
	st.Status.Phase = kargoapi.StagePhaseFailed
	if phase == kargoapi.PromotionPhaseAborted {
		st.Status.Phase = kargoapi.StagePhaseSteady
	}
	if err := r.Client.Status().Patch(ctx, st, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("release Stage %s from Promotion %s, %s: %w", st.Name, last.Name, strings.ToLower(string(phase)), err)
	}
	return nil
}

// finish records the outcome in the Stage (current Freight and history on
// success; the last Promotion either way), marks the Freight verified in the
// Stage when nothing else decides its health, and ends the Promotion. Every
// step can be repeated, so a restarted controller finishes a Promotion it was
// in the middle of.
func (r *Reconciler) finish(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion, phase kargoapi.PromotionPhase, msg string) error {
	if err := r.recordInStage(ctx, st, f, promo, phase); err != nil {
		return err
	}

	// Without Argo CD Applications or verifications to wait for, a
	// successful promotion is all the verification there is. Otherwise the
	// Stage controller verifies once the Stage is healthy.
	if phase == kargoapi.PromotionPhaseSucceeded && !verification.Needed(st) {
		if _, ok := f.Status.VerifiedIn[st.Name]; !ok {
			fbase := f.DeepCopy()
			if f.Status.VerifiedIn == nil {
				f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{}
			}
			at := metav1.NewTime(r.Now())
			f.Status.VerifiedIn[st.Name] = kargoapi.VerifiedStage{VerifiedAt: &at}
			if err := r.Client.Status().Patch(ctx, f, client.MergeFrom(fbase)); err != nil {
				return fmt.Errorf("mark Freight %s verified in Stage %s: %w", f.Name, st.Name, err)
			}
		}
	}

	now := metav1.NewTime(r.Now())
	promo.Status.Phase = phase
	promo.Status.Message = msg
	promo.Status.CompletionTime = &now
	observe(promo, phase, r.Now())
	ctrl.LoggerFrom(ctx).Info("promotion ended", "promotion", promo.Name, "stage", st.Name, "freight", f.Name, "alias", f.Alias, "phase", phase, "message", msg)
	if phase == kargoapi.PromotionPhaseSucceeded {
		r.Recorder.Eventf(promo, st, corev1.EventTypeNormal, "PromotionSucceeded", "Promote", "%s", msg)
	}
	return nil
}

// recordInStage records the outcome in the Stage: its current Freight and
// history on success, the last Promotion either way, and the message of
// its Ready condition, which names the current Freight, as the Stage
// controller words it, so that the Stage controller's pass after this
// write has nothing to write. The write takes an optimistic lock, since
// the Stage controller writes the conditions too and a merge patch
// replaces the whole list; on a conflict the Stage is read again from the
// API server (the cache may lag) and the outcome recorded again.
func (r *Reconciler) recordInStage(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion, phase kargoapi.PromotionPhase) error {
	reader := r.liveReader()
	sf := freight.Simple(f)
	for attempt := 1; ; attempt++ {
		base := st.DeepCopy()
		if phase == kargoapi.PromotionPhaseSucceeded && !isCurrent(st, f) {
			// f replaces the Freight of its origin; the Stage keeps what
			// it holds of its other origins.
			collection.Record(st, sf, r.HistoryLimit)
		}
		st.Status.CurrentPromotion = nil
		st.Status.LastPromotion = &kargoapi.PromotionReference{Name: promo.Name, UID: promo.UID, Freight: &sf, Phase: phase}
		st.Status.Phase = kargoapi.StagePhaseSteady
		if phase != kargoapi.PromotionPhaseSucceeded && phase != kargoapi.PromotionPhaseAborted {
			st.Status.Phase = kargoapi.StagePhaseFailed
		}
		refreshReady(st)
		err := r.Client.Status().Patch(ctx, st, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == 5 {
			return fmt.Errorf("record Promotion %s in Stage %s: %w", promo.Name, st.Name, err)
		}
		if err := reader.Get(ctx, client.ObjectKeyFromObject(st), st); err != nil {
			return fmt.Errorf("read Stage %s again: %w", st.Name, err)
		}
	}
}

// refreshReady words the message of st's Ready condition anew
// (collection.ReadyMessage) when the Stage controller has reconciled the
// Stage's generation and says it is ready for that reason: a Promotion
// changes the Freight the message names, nothing else it says.
func refreshReady(st *kargoapi.Stage) {
	if subs := st.Spec.Subscriptions; subs != nil && subs.Repos != nil {
		return // the Stage's own discovery words it
	}
	ready := meta.FindStatusCondition(st.Status.Conditions, kargoapi.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != kargoapi.ReasonReconciled ||
		ready.ObservedGeneration != st.Generation || st.Status.ObservedGeneration != st.Generation {
		return
	}
	ready.Message = collection.ReadyMessage(st)
}

// releaseClaims releases the claims of the Stages of req's namespace that
// name req's Promotion, which no longer exists.
func (r *Reconciler) releaseClaims(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	stages := &kargoapi.StageList{}
	if err := r.Client.List(ctx, stages, client.InNamespace(req.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list Stages of %s: %w", req.Namespace, err)
	}
	for i := range stages.Items {
		st := &stages.Items[i]
		if ref := st.Status.CurrentPromotion; ref == nil || ref.Name != req.Name {
			continue
		}
		if err := r.releaseClaim(ctx, st); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
			}
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// releaseClaim releases st's claim when the Promotion it names no longer
// exists (asked of the API server: the cache may lag), so that the Stage's
// next Promotions can run, and records what that Promotion did as far as
// its Stage's Git write branches tell. When every one of them holds the
// Promotion's commit as the Stage's newest, the Promotion got that far
// before it was deleted: it is finished as a restarted controller finishes
// a Promotion (its Argo CD updates applied, the commits not made again) and
// the Freight becomes the Stage's current Freight, as the branches say it
// is. Otherwise the claim is released with the Promotion recorded as
// Errored, and an event says which branches hold its commit.
func (r *Reconciler) releaseClaim(ctx context.Context, st *kargoapi.Stage) error {
	ref := st.Status.CurrentPromotion
	if ref == nil {
		return nil
	}
	reader := r.liveReader()
	live := &kargoapi.Promotion{}
	switch err := reader.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: ref.Name}, live); {
	case err == nil && claims(ref, live):
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("get Promotion %s: %w", ref.Name, err)
	}
	gone := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: st.Namespace, UID: ref.UID},
		Spec:       kargoapi.PromotionSpec{Stage: st.Name},
	}
	var f *kargoapi.Freight
	if ref.Freight != nil {
		gone.Spec.Freight = ref.Freight.ID
		got := &kargoapi.Freight{}
		switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: ref.Freight.ID}, got); {
		case err == nil:
			f = got
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("get Freight %s: %w", ref.Freight.ID, err)
		}
	}
	var landing promote.Landing
	why := "its Stage has no Git write branches to tell what it did"
	switch {
	case f == nil:
		why = "its Freight no longer exists"
	case ref.UID == "":
		why = "it was claimed before claims recorded Promotion UIDs, so its commits cannot be recognised"
	default:
		var err error
		if landing, err = r.Lander.Landing(ctx, st, ref.UID); err != nil {
			return fmt.Errorf("read what deleted Promotion %s left on Stage %s's branches: %w", ref.Name, st.Name, err)
		}
	}
	if len(landing.Landed) > 0 && len(landing.Missing) == 0 {
		msg := fmt.Sprintf("Promotion %s was deleted while it ran, after its commits reached %s: %s is the current Freight, as the branches say",
			ref.Name, strings.Join(landing.Landed, ", "), describe(f))
		r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, "DeletedPromotionRecovered", "Recover", "%s", msg)
		phase, done, why, err := r.finishDeleted(ctx, st, f, gone)
		if err != nil {
			return err
		}
		if phase != kargoapi.PromotionPhaseSucceeded {
			r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "Promotion"+string(phase), "Recover", "finishing deleted Promotion %s: %s", ref.Name, why)
			return r.finish(ctx, st, f, gone, phase, "Promotion "+strings.ToLower(string(phase))+": "+why)
		}
		if len(done) > 0 {
			msg += ": " + strings.Join(done, "; ")
		}
		return r.finish(ctx, st, f, gone, kargoapi.PromotionPhaseSucceeded, msg)
	}
	switch {
	case len(landing.Landed) > 0:
		why = fmt.Sprintf("its commits reached %s but not %s", strings.Join(landing.Landed, ", "), strings.Join(landing.Missing, ", "))
	case len(landing.Missing) > 0:
		why = fmt.Sprintf("none of its commits reached %s", strings.Join(landing.Missing, ", "))
	}
	if err := r.releaseEnded(ctx, st, kargoapi.PromotionPhaseErrored); err != nil {
		return err
	}
	r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "DeletedPromotionReleased", "Recover",
		"Promotion %s was deleted while it ran and %s; the Stage is released, its current Freight unchanged; promote again to move it", ref.Name, why)
	return nil
}

// finishDeleted runs the steps of st's promotionMechanisms for gone, a
// Promotion deleted after its commits landed, as a restarted controller
// would (its commits are found by their trailer, not made again), with its
// record kept in memory: gone has no status to write to. It returns how
// they ended, what they did, and the error of the step that failed; a step
// that would wait (for an Argo CD sync) errs: nothing is left to wait.
func (r *Reconciler) finishDeleted(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, gone *kargoapi.Promotion) (_ kargoapi.PromotionPhase, done []string, why string, _ error) {
	if r.Steps == nil {
		return kargoapi.PromotionPhaseFailed, nil, "this controller was started without the promotion step engine", nil
	}
	sc := r.stepContext(gone, st, f)
	out, status, err := r.Steps.RunDetached(ctx, sc, engine.Process{Steps: promote.Process(st.Spec.PromotionMechanisms)})
	if rmErr := r.Steps.RemoveWorkDir(sc.WorkDir); rmErr != nil {
		ctrl.LoggerFrom(ctx).Error(rmErr, "remove a finished Promotion's work directory", "dir", sc.WorkDir)
	}
	if err != nil {
		return "", nil, "", err
	}
	done, why = stepsDone(status)
	if out.Phase == kargoapi.PromotionPhaseRunning {
		return kargoapi.PromotionPhaseErrored, done, status.Steps[status.CurrentStep].Message, nil
	}
	return out.Phase, done, why, nil
}

// isCurrent says whether st holds f now (of f's origin, for a Stage that
// requests several).
func isCurrent(st *kargoapi.Stage, f *kargoapi.Freight) bool {
	return collection.Holds(st, f.Name)
}

func describe(f *kargoapi.Freight) string {
	if f.Alias != "" {
		return "Freight " + f.Alias + " (" + f.Name + ")"
	}
	return "Freight " + f.Name
}
