// Package notify turns what happens in a project (Freight created,
// promotions started and ended, verifications failed) into the events of
// NotificationSubscriptions, keeps each subscription's queue, and delivers
// events to generic webhooks (signed), Slack and Microsoft Teams.
//
// Events are derived from the objects themselves, not from Kubernetes
// Events: those expire within the hour and are dropped under load, while a
// Promotion's phase and times stay in its status. Each subscription keeps
// its own durable queue in its status, so a receiver that is down for a
// while misses nothing, and events reach it in the order they were queued.
package notify

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
)

// Collect lists the project's Freight, Promotions and Stages with c and
// returns every event they imply, oldest first.
func Collect(ctx context.Context, c client.Reader, project string) ([]kargoapi.NotificationEvent, error) {
	fs := &kargoapi.FreightList{}
	if err := c.List(ctx, fs, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Freight of project %s: %w", project, err)
	}
	ps := &kargoapi.PromotionList{}
	if err := c.List(ctx, ps, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Promotions of project %s: %w", project, err)
	}
	ss := &kargoapi.StageList{}
	if err := c.List(ctx, ss, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Stages of project %s: %w", project, err)
	}
	proj := &kargoapi.Project{}
	if err := c.Get(ctx, client.ObjectKey{Name: project}, proj); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get Project %s: %w", project, err)
		}
		proj = nil
	}
	return inOrder(append(Events(fs.Items, ps.Items, ss.Items), HoldEvents(proj, ss.Items)...)), nil
}

// Events returns the events the objects imply, oldest first (by time, then
// ID). An event's ID is the same whenever it is derived again, which is
// what keeps it from being queued twice.
func Events(fs []kargoapi.Freight, ps []kargoapi.Promotion, ss []kargoapi.Stage) []kargoapi.NotificationEvent {
	var out []kargoapi.NotificationEvent
	aliases := map[string]string{}
	for i := range fs {
		f := &fs[i]
		aliases[f.Name] = f.Alias
		at := freight.DiscoveredAt(f)
		if at.IsZero() {
			at = f.CreationTimestamp.Time
		}
		msg := "New Freight " + label(f.Name, f.Alias)
		if f.Origin != nil {
			msg += fmt.Sprintf(" from %s %s", f.Origin.Kind, f.Origin.Name)
		}
		out = append(out, kargoapi.NotificationEvent{
			ID: "freight/" + string(f.UID), Type: kargoapi.NotificationFreightCreated, Time: metav1.NewMicroTime(at),
			Freight: f.Name, FreightAlias: f.Alias, Message: msg,
		})
	}
	for i := range ps {
		p := &ps[i]
		base := kargoapi.NotificationEvent{
			Stage: p.Spec.Stage, Freight: p.Spec.Freight, FreightAlias: aliases[p.Spec.Freight], Promotion: p.Name,
			Actor: p.Annotations[kargoapi.PromotionCreatedByAnnotationKey],
		}
		if t := p.Status.StartTime; t != nil {
			e := base
			e.ID, e.Type, e.Time = "promotion/"+string(p.UID)+"/started", kargoapi.NotificationPromotionStarted, metav1.NewMicroTime(t.Time)
			e.Message = fmt.Sprintf("Promotion %s of Freight %s into Stage %s started", p.Name, label(p.Spec.Freight, e.FreightAlias), p.Spec.Stage)
			out = append(out, e)
		}
		if a := p.Status.Approval; a != nil && a.WaitingSince != nil {
			e := base
			e.ID, e.Type, e.Time = "promotion/"+string(p.UID)+"/waiting-for-approval", kargoapi.NotificationPromotionWaitingForApproval, metav1.NewMicroTime(a.WaitingSince.Time)
			e.Message = fmt.Sprintf("Promotion %s of Freight %s into Stage %s: %s", p.Name, label(p.Spec.Freight, e.FreightAlias), p.Spec.Stage, a.Missing)
			out = append(out, e)
		}
		if !p.Status.Phase.IsTerminal() {
			continue
		}
		at := p.CreationTimestamp.Time
		if t := p.Status.CompletionTime; t != nil {
			at = t.Time
		}
		e := base
		e.Time, e.Message = metav1.NewMicroTime(at), p.Status.Message
		switch p.Status.Phase {
		case kargoapi.PromotionPhaseSucceeded:
			e.ID, e.Type = "promotion/"+string(p.UID)+"/succeeded", kargoapi.NotificationPromotionSucceeded
		case kargoapi.PromotionPhaseAborted:
			// The actor of an abort is who aborted.
			e.ID, e.Type, e.Actor = "promotion/"+string(p.UID)+"/aborted", kargoapi.NotificationPromotionAborted, p.Status.AbortedBy
		default:
			e.ID, e.Type = "promotion/"+string(p.UID)+"/failed", kargoapi.NotificationPromotionFailed
		}
		if e.Message == "" {
			e.Message = fmt.Sprintf("Promotion %s of Freight %s into Stage %s %s", p.Name, label(p.Spec.Freight, e.FreightAlias), p.Spec.Stage, p.Status.Phase)
		}
		out = append(out, e)
	}
	for i := range ss {
		st := &ss[i]
		seen := map[string]bool{}
		var vs []kargoapi.VerificationInfo
		if st.Status.Verification != nil {
			vs = append(vs, *st.Status.Verification)
		}
		vs = append(vs, st.Status.VerificationHistory...)
		for _, v := range vs {
			if seen[v.ID] || (v.Phase != kargoapi.VerificationPhaseFailed && v.Phase != kargoapi.VerificationPhaseError) {
				continue
			}
			seen[v.ID] = true
			at := st.CreationTimestamp.Time
			if v.FinishTime != nil {
				at = v.FinishTime.Time
			}
			msg := fmt.Sprintf("Verification of Freight %s in Stage %s: %s", label(v.Freight, aliases[v.Freight]), st.Name, v.Phase)
			if v.Message != "" {
				msg += ": " + v.Message
			}
			out = append(out, kargoapi.NotificationEvent{
				ID: "verification/" + string(st.UID) + "/" + v.ID, Type: kargoapi.NotificationVerificationFailed, Time: metav1.NewMicroTime(at),
				Stage: st.Name, Freight: v.Freight, FreightAlias: aliases[v.Freight], Message: msg,
			})
		}
	}
	return inOrder(out)
}

// inOrder sorts events oldest first, by time and then ID.
func inOrder(out []kargoapi.NotificationEvent) []kargoapi.NotificationEvent {
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(&out[j].Time) {
			return out[i].Time.Before(&out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func label(name, alias string) string {
	if alias == "" {
		return name
	}
	return fmt.Sprintf("%s (%s)", alias, name)
}

// Wants says whether spec asks for e.
func Wants(spec kargoapi.NotificationSubscriptionSpec, e kargoapi.NotificationEvent) bool {
	if len(spec.Events) > 0 && !contains(spec.Events, e.Type) {
		return false
	}
	return e.Stage == "" || len(spec.Stages) == 0 || contains(spec.Stages, e.Stage)
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Bounds of a subscription's status.
const (
	// MaxQueue is the most events queued; beyond it the oldest is dropped
	// and counted, so that a receiver gone for good cannot grow the
	// subscription past what etcd stores.
	MaxQueue = 1000
	// MaxSent is the most sent events remembered; Horizon moves forward as
	// the oldest are forgotten.
	MaxSent = 1000
	// MaxLog is the length of the delivery log.
	MaxLog = 20
)

// Enqueue adds to st's queue each event of events that spec wants, that
// happened at or after st's horizon (the subscription's creation, created, when
// it has none) and that is neither queued nor sent already. It returns
// whether st changed.
func Enqueue(st *kargoapi.NotificationSubscriptionStatus, spec kargoapi.NotificationSubscriptionSpec, created time.Time, events []kargoapi.NotificationEvent, now time.Time) bool {
	changed := false
	if st.Horizon == nil {
		h := metav1.NewMicroTime(created)
		st.Horizon = &h
		changed = true
	}
	known := map[string]bool{}
	for _, e := range st.Queue {
		known[e.ID] = true
	}
	for _, s := range st.Sent {
		known[s.ID] = true
	}
	for _, e := range events {
		// Promotions and verifications keep whole seconds: an event in the
		// horizon's second counts, or one that ended in the second the
		// subscription was created would be lost.
		if known[e.ID] || e.Time.Time.Before(st.Horizon.Time) || !Wants(spec, e) {
			continue
		}
		known[e.ID] = true
		st.Queue = append(st.Queue, e)
		changed = true
	}
	for len(st.Queue) > MaxQueue {
		dropped := st.Queue[0]
		st.Queue = st.Queue[1:]
		st.Dropped++
		Sent(st, dropped)
		Log(st, kargoapi.NotificationDelivery{
			EventID: dropped.ID, Type: dropped.Type, Time: metav1.NewTime(now), Attempt: dropped.Attempts,
			Result: kargoapi.NotificationDropped, Message: fmt.Sprintf("dropped unsent: more than %d events were queued", MaxQueue),
		})
	}
	st.Queued = int32(len(st.Queue))
	return changed
}

// Sent records that e left the queue, trimming the record of sent events
// to MaxSent by moving the horizon past the oldest.
func Sent(st *kargoapi.NotificationSubscriptionStatus, e kargoapi.NotificationEvent) {
	st.Sent = append(st.Sent, kargoapi.SentNotification{ID: e.ID, Time: e.Time})
	if len(st.Sent) <= MaxSent {
		return
	}
	sort.SliceStable(st.Sent, func(i, j int) bool { return st.Sent[i].Time.Before(&st.Sent[j].Time) })
	cut := len(st.Sent) - MaxSent
	// Just past the newest forgotten event: it and its elders are behind
	// the horizon now.
	h := metav1.NewMicroTime(st.Sent[cut-1].Time.Add(time.Microsecond))
	if st.Horizon == nil || h.After(st.Horizon.Time) {
		st.Horizon = &h
	}
	st.Sent = append([]kargoapi.SentNotification(nil), st.Sent[cut:]...)
	for len(st.Sent) > 0 && st.Sent[0].Time.Time.Before(st.Horizon.Time) {
		st.Sent = st.Sent[1:]
	}
}

// Log adds d to the head of st's delivery log, keeping MaxLog entries.
func Log(st *kargoapi.NotificationSubscriptionStatus, d kargoapi.NotificationDelivery) {
	st.Deliveries = append([]kargoapi.NotificationDelivery{d}, st.Deliveries...)
	if len(st.Deliveries) > MaxLog {
		st.Deliveries = st.Deliveries[:MaxLog]
	}
}
