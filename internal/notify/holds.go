package notify

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// HoldEvents returns the HoldSet events of the Stages' holds and of the
// project's freeze (project may be nil). Each hold is one event, named by
// its Stage's UID and when it was set, so a hold released and set again
// is a new event and one left in place is never sent twice.
func HoldEvents(project *kargoapi.Project, ss []kargoapi.Stage) []kargoapi.NotificationEvent {
	var out []kargoapi.NotificationEvent
	for i := range ss {
		st := &ss[i]
		h := st.Status.Hold
		if h == nil {
			continue
		}
		out = append(out, kargoapi.NotificationEvent{
			ID:   "hold/" + string(st.UID) + "/" + strconv.FormatInt(h.At.Unix(), 10),
			Type: kargoapi.NotificationHoldSet, Time: metav1.NewMicroTime(h.At.Time),
			Stage: st.Name, Actor: h.By,
			Message: fmt.Sprintf("Stage %s held by %s: %s", st.Name, h.By, h.Reason),
		})
	}
	if project != nil && project.Status.Freeze != nil {
		h := project.Status.Freeze
		out = append(out, kargoapi.NotificationEvent{
			ID:   "freeze/" + string(project.UID) + "/" + strconv.FormatInt(h.At.Unix(), 10),
			Type: kargoapi.NotificationHoldSet, Time: metav1.NewMicroTime(h.At.Time),
			Actor:   h.By,
			Message: fmt.Sprintf("Project %s frozen by %s: %s", project.Name, h.By, h.Reason),
		})
	}
	return out
}
