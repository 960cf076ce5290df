package stage

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/collection"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/freight"
)

// Auto-promotion retries: an auto-promotion that ended Errored (a transient
// failure, such as a Git server answering 503) is tried again after
// AutoPromotionRetryBase, then twice as long each time up to
// AutoPromotionRetryMax, at most MaxAutoPromotionAttempts times in all.
const (
	AutoPromotionRetryBase   = 10 * time.Second
	AutoPromotionRetryMax    = 5 * time.Minute
	MaxAutoPromotionAttempts = 10
)

// AutoPromotion is what auto-promotion should do for a Stage now.
type AutoPromotion struct {
	// Freight is the Freight to promote now, or "".
	Freight string
	// Attempt counts the auto-promotions of Freight into the Stage,
	// this one included: 1 unless earlier ones errored.
	Attempt int
	// RetryAt, when set, is when an errored auto-promotion of the newest
	// Freight may be tried again; nothing is promoted before.
	RetryAt time.Time
}

// AutoPromotionCandidate decides what auto-promotion should do for st now:
// promote newest, the newest available Freight that kargo's controller
// produced (see NewestAutoPromotable), unless a Promotion for st is still
// in flight, or that Freight is already current, or it was in st before
// (so a manual rollback to older Freight is not undone until newer Freight
// appears), or it was the subject of an earlier Promotion into st. The one
// exception is an earlier auto-promotion of it that ended Errored, the
// latest Promotion into st: it is retried with back-off (see
// AutoPromotionRetryBase), so a Git server that answered 503 once does not
// leave the Stage behind. A Failed one (the spec is wrong) is not retried,
// nor is any after a person promoted into st since, nor a manual
// Promotion: a person's choice stands. promos are st's Promotions, oldest
// first.
func AutoPromotionCandidate(st *kargoapi.Stage, newest string, promos []kargoapi.Promotion, now time.Time) AutoPromotion {
	for _, p := range promos {
		if !p.Status.Phase.IsTerminal() {
			return AutoPromotion{}
		}
	}
	if newest == "" || collection.Holds(st, newest) {
		return AutoPromotion{}
	}
	for _, h := range st.Status.History {
		if h.ID == newest {
			return AutoPromotion{}
		}
	}
	var errored int
	var last *kargoapi.Promotion
	for i := range promos {
		p := &promos[i]
		if p.Spec.Freight != newest {
			continue
		}
		if p.Labels[kargoapi.AutoPromotedByLabelKey] == "" || p.Status.Phase != kargoapi.PromotionPhaseErrored {
			return AutoPromotion{}
		}
		errored++
		last = p
	}
	if errored == 0 {
		return AutoPromotion{Freight: newest, Attempt: 1}
	}
	if last != &promos[len(promos)-1] || errored >= MaxAutoPromotionAttempts {
		return AutoPromotion{}
	}
	ended := last.CreationTimestamp.Time
	if last.Status.CompletionTime != nil {
		ended = last.Status.CompletionTime.Time
	}
	if at := ended.Add(RetryDelay(errored)); now.Before(at) {
		return AutoPromotion{RetryAt: at}
	}
	return AutoPromotion{Freight: newest, Attempt: errored + 1}
}

// RetryDelay is how long to wait after the n-th errored auto-promotion of
// one Freight before the next.
func RetryDelay(n int) time.Duration {
	d := AutoPromotionRetryBase
	for i := 1; i < n && d < AutoPromotionRetryMax; i++ {
		d *= 2
	}
	return min(d, AutoPromotionRetryMax)
}

// NewestAutoPromotablePerRequest returns, for each of st's Requests (one per
// requested origin; see availability.Requests), the name of the newest
// Freight it holds among all that NewestAutoPromotable would choose, or "".
// Each origin is auto-promoted on its own.
func NewestAutoPromotablePerRequest(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time) []string {
	newest := availability.NewestPerRequest(st, all, now, freight.ProducedByController)
	out := make([]string, len(newest))
	for i, f := range newest {
		if f != nil {
			out[i] = f.Name
		}
	}
	return out
}

// NewestAutoPromotable returns the name of the newest Freight among all
// (the Freight of st's namespace) that st may receive at now and that
// kargo's controller produced, or "". Freight anyone else created, even
// claiming a Warehouse as its origin, even verified upstream or approved
// for st, is never auto-promoted: someone who may promote into st must
// choose it. Nor does it hide the controller's Freight, however much of it
// there is or however new it claims to be.
func NewestAutoPromotable(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time) string {
	if f := availability.Newest(st, all, now, freight.ProducedByController); f != nil {
		return f.Name
	}
	return ""
}

// autoPromote creates a Promotion for the auto-promotion candidate when a
// PromotionPolicy enables auto-promotion into st. Each origin st requests
// has its own candidate (see NewestAutoPromotablePerRequest), decided by
// AutoPromotionCandidate over the Promotions of that origin's Freight;
// one Promotion runs at a time, so at most one is created per pass and the
// next origin's follows when it ends. It returns how long to wait before an
// errored auto-promotion may be retried, or zero.
func (r *Reconciler) autoPromote(ctx context.Context, st *kargoapi.Stage, listFreight func() ([]kargoapi.Freight, error), promos []kargoapi.Promotion, now time.Time) (time.Duration, error) {
	policies, err := index.PoliciesOf(ctx, r.Client, st.Namespace, st.Name)
	if err != nil {
		return 0, err
	}
	var policy *kargoapi.PromotionPolicy
	for i := range policies {
		if policies[i].EnableAutoPromotion {
			policy = &policies[i]
			break
		}
	}
	if policy == nil {
		return 0, nil
	}
	for _, p := range promos {
		if !p.Status.Phase.IsTerminal() {
			return 0, nil
		}
	}
	all, err := listFreight()
	if err != nil {
		return 0, err
	}
	newest := NewestAutoPromotablePerRequest(st, all, now)
	var next AutoPromotion
	var retry time.Duration
	for i, n := range newest {
		c := AutoPromotionCandidate(st, n, promotionsOfRequest(st, all, promos, i), now)
		if !c.RetryAt.IsZero() {
			if d := c.RetryAt.Sub(now) + 100*time.Millisecond; retry == 0 || d < retry {
				retry = d
			}
		}
		if c.Freight != "" {
			next = c
			break
		}
	}
	if next.Freight == "" {
		return retry, nil
	}
	candidate := next.Freight
	short := candidate
	if len(short) > 12 {
		short = short[:12]
	}
	name := fmt.Sprintf("%s-auto-%s", st.Name, short)
	if next.Attempt > 1 {
		name = fmt.Sprintf("%s-%d", name, next.Attempt)
	}
	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: st.Namespace,
			Labels:    map[string]string{kargoapi.AutoPromotedByLabelKey: policy.Name},
		},
		Spec: kargoapi.PromotionSpec{Stage: st.Name, Freight: candidate},
	}
	if err := r.Client.Create(ctx, promo); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("create auto-promotion of %s into Stage %s: %w", candidate, st.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("auto-promotion created", "promotion", promo.Name, "freight", candidate, "policy", policy.Name, "attempt", next.Attempt)
	if next.Attempt > 1 {
		r.Recorder.Eventf(st, promo, corev1.EventTypeNormal, "AutoPromotionRetried", "Promote",
			"PromotionPolicy %s created Promotion %s of Freight %s, attempt %d of %d: the previous one errored", policy.Name, promo.Name, candidate, next.Attempt, MaxAutoPromotionAttempts)
		return 0, nil
	}
	r.Recorder.Eventf(st, promo, corev1.EventTypeNormal, "AutoPromotionCreated", "Promote",
		"PromotionPolicy %s created Promotion %s of Freight %s", policy.Name, promo.Name, candidate)
	return 0, nil
}

// promotionsOfRequest returns those of promos (st's Promotions) whose
// Freight, found in all, is of the origin st's i-th Request holds: an
// errored auto-promotion of one origin is retried whatever happened to the
// others since. A Stage with a single Request has all of them, whatever
// their Freight.
func promotionsOfRequest(st *kargoapi.Stage, all []kargoapi.Freight, promos []kargoapi.Promotion, i int) []kargoapi.Promotion {
	reqs := availability.Requests(st)
	if len(reqs) < 2 {
		return promos
	}
	origins := make(map[string]*kargoapi.FreightOrigin, len(promos))
	for _, p := range promos {
		origins[p.Spec.Freight] = nil
	}
	for j := range all {
		if _, ok := origins[all[j].Name]; ok {
			origins[all[j].Name] = all[j].Origin
		}
	}
	var out []kargoapi.Promotion
	for _, p := range promos {
		if o := origins[p.Spec.Freight]; o != nil && reqs[i].Holds(o) {
			out = append(out, p)
		}
	}
	return out
}
