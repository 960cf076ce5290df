package objects

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// HeldBy holds the Stage, as kargo's API server records a hold.
func HeldBy(by, reason string, at time.Time) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) {
		st.Status.Hold = &kargoapi.Hold{By: by, Reason: reason, At: metav1.NewTime(at)}
	}
}

// StageLabels sets labels of the Stage.
func StageLabels(kv ...string) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) {
		if st.Labels == nil {
			st.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			st.Labels[kv[i]] = kv[i+1]
		}
	}
}

// PromotionWindow returns a window of kind in time zone tz, open during
// span pairs of start and end ("Fri 16:00", "Mon 08:00"), selecting every
// Stage unless an option says.
func PromotionWindow(namespace, name string, kind kargoapi.PromotionWindowKind, tz string, startEnd ...string) *kargoapi.PromotionWindow {
	w := &kargoapi.PromotionWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       kargoapi.PromotionWindowSpec{Kind: kind, TimeZone: tz},
	}
	for i := 0; i+1 < len(startEnd); i += 2 {
		w.Spec.Spans = append(w.Spec.Spans, kargoapi.PromotionWindowSpan{Start: startEnd[i], End: startEnd[i+1]})
	}
	return w
}
