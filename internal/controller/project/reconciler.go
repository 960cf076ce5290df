// Package project reconciles Projects: each Project owns the namespace of the
// same name, labelled kargo.akuity.io/project: "true", that holds its Stages,
// Warehouses and Freight.
package project

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/shard"
)

// recheckInterval is how soon the controller looks again at a namespace that
// is on its way out or not yet in the cache. The Namespace watch normally
// reports the change first; the requeue does not depend on it.
const recheckInterval = 5 * time.Second

// Reconciler reconciles Projects.
type Reconciler struct {
	Client client.Client
	// Recorder records an event each time a Project's Ready condition
	// changes; nil records none.
	Recorder events.EventRecorder
	// Shard is the projects this controller set owns; nil owns all.
	Shard *shard.Shard
}

// SetupWithManager registers the reconciler. Besides Projects it watches
// Namespaces, each mapped to the Project of the same name, so that a
// namespace deleted, created or relabelled behind the controller's back is
// noticed at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargoapi.Project{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(projectOfNamespace)).
		Complete(r)
}

// projectOfNamespace maps a Namespace to the Project of the same name. Most
// namespaces have no Project; their requests end at the first Get.
func projectOfNamespace(_ context.Context, ns client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: ns.GetName()}}}
}

// Reconcile makes sure the Project's namespace exists and is labelled as a
// Kargo project, creating it if it is missing, and reports the outcome in
// the Project's phase and Ready condition.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	p := &kargoapi.Project{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Nothing to clean up: a namespace this controller created carries an
	// ownerReference to the Project, so Kubernetes' garbage collector
	// deletes it with the Project. An adopted namespace carries none and
	// outlives the Project, as it was there before it.
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if c := r.Shard.Decide(p); c != shard.Keep {
		// The write brings the Project back here (or, given up, to the
		// set that claims it next).
		return ctrl.Result{}, r.claim(ctx, p, c)
	}
	if !r.Shard.OwnsProject(p) {
		return ctrl.Result{}, nil
	}

	before := p.DeepCopy()
	// note is the event recorded if the Ready condition changes; the
	// condition's message unless this pass has more to say.
	var note string
	defer func() {
		if equality.Semantic.DeepEqual(before.Status, p.Status) {
			return
		}
		if patchErr := r.Client.Status().Patch(ctx, p, client.MergeFrom(before)); patchErr != nil {
			if !apierrors.IsNotFound(patchErr) {
				err = errors.Join(err, fmt.Errorf("patch status of Project %s: %w", p.Name, patchErr))
			}
			// No event for a status that was not written: the next
			// pass sees the same transition and records it then.
			return
		}
		r.recordTransition(p, before.Status.Conditions, note)
	}()

	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: p.Name}, ns); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get namespace %s: %w", p.Name, err)
		}
		ns = nil
	}

	switch classify(ns) {
	case namespaceMissing:
		if err := r.Client.Create(ctx, newNamespace(p)); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// The cache has not seen the namespace yet; its
				// arrival enqueues this Project again, and the
				// requeue covers a watch that is slow to say so.
				return ctrl.Result{RequeueAfter: recheckInterval}, nil
			}
			return ctrl.Result{}, fmt.Errorf("create namespace %s: %w", p.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("created namespace", "namespace", p.Name)
		note = fmt.Sprintf("created namespace %q", p.Name)
		setReady(p)
	case namespaceTerminating:
		setTerminating(p)
		return ctrl.Result{RequeueAfter: recheckInterval}, nil
	case namespaceForeign:
		// Not an error: retrying cannot help until someone labels the
		// namespace or deletes the Project, and the Namespace watch
		// brings the Project back here when they do.
		setNotAProject(p)
	case namespaceOfProject:
		// Adopted or created earlier; either way nothing to write. An
		// adopted namespace gets no ownerReference: it was not this
		// Project's to delete.
		setReady(p)
	}
	return ctrl.Result{}, nil
}

// claim takes or gives up this controller set's claim on p. Of two sets
// taking an unclaimed Project at once, the optimistic lock lets one win;
// the other sees the winner's claim on its next pass.
func (r *Reconciler) claim(ctx context.Context, p *kargoapi.Project, c shard.Claim) error {
	before := p.DeepCopy()
	reason, note := "ShardClaimed", fmt.Sprintf("controller set %q reconciles this project", r.Shard.Name)
	p.Status.Shard = r.Shard.Name
	if c == shard.GiveUp {
		p.Status.Shard = ""
		reason, note = "ShardReleased", fmt.Sprintf("controller set %q no longer selects this project", r.Shard.Name)
	}
	err := r.Client.Status().Patch(ctx, p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return nil // changed meanwhile: the change brings it back here
	case err != nil:
		return fmt.Errorf("record the shard of Project %s: %w", p.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("project shard", "shard", r.Shard.Name, "reason", reason)
	if r.Recorder != nil {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, reason, "Shard", "%s", note)
	}
	return nil
}

// newNamespace is the namespace a Project creates for itself. Its
// ownerReference makes the namespace go when the Project goes. It is neither
// a controller reference nor blocks the Project's deletion: blocking would
// need permission to update projects/finalizers, and nothing needs to wait
// for the namespace to be gone.
func newNamespace(p *kargoapi.Project) *corev1.Namespace {
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			Name:   p.Name,
			Labels: map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         kargoapi.GroupVersion.String(),
				Kind:               "Project",
				Name:               p.Name,
				UID:                p.UID,
				Controller:         new(false),
				BlockOwnerDeletion: new(false),
			}},
		},
	}
}

// recordTransition records an event when the Project's Ready condition
// changed status or reason since old. The note defaults to the condition's
// message.
func (r *Reconciler) recordTransition(p *kargoapi.Project, old []metav1.Condition, note string) {
	if r.Recorder == nil {
		return
	}
	ready, changed := readyTransition(old, p.Status.Conditions)
	if !changed {
		return
	}
	eventType := corev1.EventTypeNormal
	if ready.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
	}
	if note == "" {
		note = ready.Message
	}
	r.Recorder.Eventf(p, nil, eventType, ready.Reason, "InitializeNamespace", "%s", note)
}
