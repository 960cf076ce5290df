// Package notification is the controller of NotificationSubscriptions: it
// queues the events of the subscription's project in its status
// (internal/notify derives them from Freight, Promotions and Stages) and
// delivers them in order, one at a time, retrying the head of the queue
// with back-off until the receiver takes it.
package notification

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/notify"
)

// Defaults of the back-off between attempts at one event.
const (
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 10 * time.Minute
)

// maxPerPass bounds the deliveries of one reconcile, so that one busy
// subscription does not hold a worker for long; the rest follow at once.
const maxPerPass = 50

// Reconciler reconciles NotificationSubscriptions.
type Reconciler struct {
	// Client lists the project's objects from the cache and writes status.
	Client client.Client
	// Reader reads subscriptions and Secrets live: a subscription's queue
	// must never be read stale, or an event would be delivered twice.
	Reader client.Reader
	// Sender sends events through the outbound policy.
	Sender *notify.Sender
	// BackoffBase and BackoffMax bound the back-off: the n-th failed
	// attempt waits BackoffBase*2^(n-1), at most BackoffMax.
	BackoffBase, BackoffMax time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// SetupWithManager registers the reconciler: a subscription is reconciled
// when its spec changes and whenever a Freight, Promotion or Stage of its
// project does.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toSubs := handler.EnqueueRequestsFromMapFunc(r.subscriptionsOf)
	return ctrl.NewControllerManagedBy(mgr).
		Named("notificationsubscription").
		For(&kargoapi.NotificationSubscription{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&kargoapi.Freight{}, toSubs).
		Watches(&kargoapi.Promotion{}, toSubs).
		Watches(&kargoapi.Stage{}, toSubs).
		// A project's freeze is a HoldSet event of its subscriptions.
		Watches(&kargoapi.Project{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
			ns := &kargoapi.Stage{}
			ns.Namespace = obj.GetName()
			return r.subscriptionsOf(ctx, ns)
		})).
		Complete(r)
}

// subscriptionsOf maps an object to every subscription of its project.
func (r *Reconciler) subscriptionsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	subs := &kargoapi.NotificationSubscriptionList{}
	if err := r.Client.List(ctx, subs, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list NotificationSubscriptions", "namespace", obj.GetNamespace())
		return nil
	}
	out := make([]reconcile.Request, 0, len(subs.Items))
	for _, s := range subs.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
	}
	return out
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile queues new events and delivers the due ones.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sub := &kargoapi.NotificationSubscription{}
	if err := r.Reader.Get(ctx, req.NamespacedName, sub); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sub.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	events, err := notify.Collect(ctx, r.Client, sub.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	base := sub.DeepCopy()
	if notify.Enqueue(&sub.Status, sub.Spec, sub.CreationTimestamp.Time, events, r.now()) || sub.Status.ObservedGeneration != sub.Generation {
		sub.Status.ObservedGeneration = sub.Generation
		if len(sub.Status.Queue) == 0 && conditionsUnset(sub) {
			conditions.Ready(&sub.Status.Conditions, sub.Generation, kargoapi.ReasonDelivered, "No event is waiting for delivery")
		}
		if err := r.patch(ctx, base, sub); err != nil {
			return ctrl.Result{}, err
		}
	}
	var target *notify.Target
	for range maxPerPass {
		if len(sub.Status.Queue) == 0 {
			return ctrl.Result{}, nil
		}
		head := sub.Status.Queue[0]
		now := r.now()
		if head.NextAttempt != nil && now.Before(head.NextAttempt.Time) {
			return ctrl.Result{RequeueAfter: head.NextAttempt.Sub(now)}, nil
		}
		var out notify.Outcome
		if target == nil {
			target, out = r.resolve(ctx, sub)
		}
		if target != nil {
			out = r.Sender.Send(ctx, *target, sub.Namespace, sub.Name, head, now)
		}
		base := sub.DeepCopy()
		wait := r.apply(sub, out, r.now())
		if err := r.patch(ctx, base, sub); err != nil {
			return ctrl.Result{}, err
		}
		if wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	return ctrl.Result{Requeue: true}, nil
}

func conditionsUnset(sub *kargoapi.NotificationSubscription) bool {
	return len(sub.Status.Conditions) == 0
}

// apply records the outcome of an attempt at the head of the queue and
// returns how long to wait before the next attempt (0: go on).
func (r *Reconciler) apply(sub *kargoapi.NotificationSubscription, out notify.Outcome, now time.Time) time.Duration {
	st := &sub.Status
	head := &st.Queue[0]
	head.Attempts++
	notify.Log(st, kargoapi.NotificationDelivery{
		EventID: head.ID, Type: head.Type, Time: metav1.NewTime(now), Attempt: head.Attempts,
		Result: out.Result, Code: int32(out.Code), Message: out.Message,
	})
	if out.Result == kargoapi.NotificationFailed {
		wait := r.backoff(head.Attempts)
		next := metav1.NewTime(now.Add(wait))
		head.NextAttempt = &next
		conditions.Retrying(&st.Conditions, sub.Generation, out.Reason,
			fmt.Sprintf("Event %s (%s) not delivered after %d attempts, next at %s: %s", head.ID, head.Type, head.Attempts, next.UTC().Format(time.RFC3339), out.Message))
		return wait
	}
	done := *head
	st.Queue = st.Queue[1:]
	st.Queued = int32(len(st.Queue))
	notify.Sent(st, done)
	if out.Result == kargoapi.NotificationDelivered {
		conditions.Ready(&st.Conditions, sub.Generation, kargoapi.ReasonDelivered, fmt.Sprintf("Delivered event %s (%s)", done.ID, done.Type))
	} else {
		conditions.Ready(&st.Conditions, sub.Generation, kargoapi.ReasonDelivered, fmt.Sprintf("Event %s (%s) was not taken and is not retried: %s", done.ID, done.Type, out.Message))
	}
	return 0
}

// backoff is the wait after the n-th failed attempt, with a tenth of
// jitter.
func (r *Reconciler) backoff(n int32) time.Duration {
	base, most := r.BackoffBase, r.BackoffMax
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if most <= 0 {
		most = DefaultBackoffMax
	}
	d := base
	for i := int32(1); i < n && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	return d + rand.N(d/10+1)
}

// resolve reads the Secrets the receiver needs. The admission webhook has
// checked that the subscription's author may read them.
func (r *Reconciler) resolve(ctx context.Context, sub *kargoapi.NotificationSubscription) (*notify.Target, notify.Outcome) {
	spec := sub.Spec
	switch {
	case spec.Webhook != nil:
		t := &notify.Target{URL: spec.Webhook.URL, Shape: "webhook"}
		if ref := spec.Webhook.SigningSecret; ref != nil {
			v, out := r.secretValue(ctx, sub.Namespace, *ref)
			if v == nil {
				return nil, out
			}
			t.SigningKey = v
		}
		return t, notify.Outcome{}
	case spec.Slack != nil, spec.Teams != nil:
		ref, shape := spec.Slack, "slack"
		if ref == nil {
			ref, shape = spec.Teams, "teams"
		}
		v, out := r.secretValue(ctx, sub.Namespace, ref.URLFrom)
		if v == nil {
			return nil, out
		}
		return &notify.Target{URL: string(v), Shape: shape}, notify.Outcome{}
	}
	return nil, notify.Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonDeliveryFailed, Message: "the subscription names no receiver"}
}

func (r *Reconciler) secretValue(ctx context.Context, namespace string, ref kargoapi.SecretKeyRef) ([]byte, notify.Outcome) {
	s := &corev1.Secret{}
	err := r.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, notify.Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonSecretUnavailable, Message: fmt.Sprintf("Secret %q not found in the project", ref.Name)}
	case err != nil:
		return nil, notify.Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonSecretUnavailable, Message: fmt.Sprintf("read Secret %q: %v", ref.Name, err)}
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return nil, notify.Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonSecretUnavailable, Message: fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key)}
	}
	return v, notify.Outcome{}
}

// patch writes sub's status as a merge patch from base, with base's
// resourceVersion as an optimistic lock: a status written meanwhile by
// another pass makes this one fail and start again from the live object,
// so no event is delivered or queued twice on a stale queue.
func (r *Reconciler) patch(ctx context.Context, base, sub *kargoapi.NotificationSubscription) error {
	if err := r.Client.Status().Patch(ctx, sub, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("write status of NotificationSubscription %s/%s: %w", sub.Namespace, sub.Name, err)
	}
	return nil
}
