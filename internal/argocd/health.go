package argocd

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

// Health reads every Application the Stage's argoCDAppUpdates name and
// aggregates what Argo CD reports about them. The worst state wins:
// Unhealthy, then Unknown, then Progressing, then Healthy; Issues holds the
// message of every Application that is not Healthy, sorted. A Stage with no
// argoCDAppUpdates is Healthy, having nothing that could be otherwise.
//
// An Application is read only when it lets the Stage change it (the
// kargo.akuity.io/authorized-stage annotation, as Apply requires): the
// health and messages of someone else's Application are not copied into a
// Stage that anyone who may name it could create. One that does not opt in
// is Unknown, with a message saying how to opt it in.
//
// defaultNamespace is the namespace of Applications whose update names
// none; empty means DefaultNamespace.
func Health(ctx context.Context, r client.Reader, st *kargoapi.Stage, defaultNamespace string) kargoapi.Health {
	if defaultNamespace == "" {
		defaultNamespace = DefaultNamespace
	}
	updates := Updates(st)
	h := kargoapi.Health{Status: kargoapi.HealthStateHealthy}
	for _, a := range groupByApp(updates, defaultNamespace) {
		ah := readAppHealth(ctx, r, st, a.key, a.sourceUpdates)
		if severity(ah.Status) > severity(h.Status) {
			h.Status = ah.Status
		}
		if ah.Status != kargoapi.HealthStateHealthy {
			h.Issues = append(h.Issues, ah.Message)
		}
		h.Applications = append(h.Applications, ah)
	}
	slices.Sort(h.Issues)
	return h
}

type appUpdates struct {
	key           client.ObjectKey
	sourceUpdates []kargoapi.ArgoCDSourceUpdate
}

// groupByApp merges the updates that name the same Application, so that it
// is read and reported once.
func groupByApp(updates []kargoapi.ArgoCDAppUpdate, defaultNamespace string) []appUpdates {
	var apps []appUpdates
	for _, u := range updates {
		key := client.ObjectKey{Namespace: u.AppNamespace, Name: u.AppName}
		if key.Namespace == "" {
			key.Namespace = defaultNamespace
		}
		i := slices.IndexFunc(apps, func(a appUpdates) bool { return a.key == key })
		if i < 0 {
			apps = append(apps, appUpdates{key: key})
			i = len(apps) - 1
		}
		apps[i].sourceUpdates = append(apps[i].sourceUpdates, u.SourceUpdates...)
	}
	return apps
}

func readAppHealth(ctx context.Context, r client.Reader, st *kargoapi.Stage, key client.ObjectKey, sus []kargoapi.ArgoCDSourceUpdate) kargoapi.ApplicationHealth {
	ah := kargoapi.ApplicationHealth{Namespace: key.Namespace, Name: key.Name, Status: kargoapi.HealthStateUnknown}
	app := &argocdv1.Application{}
	if err := r.Get(ctx, key, app); err != nil {
		if apierrors.IsNotFound(err) {
			ah.Message = fmt.Sprintf("Application %s not found", key)
		} else {
			ah.Message = fmt.Sprintf("get Application %s: %v", key, err)
		}
		return ah
	}
	// The annotation's value is not repeated: it names another project's
	// Stage when the Application belongs to someone else.
	if want := st.Namespace + ":" + st.Name; app.Annotations[kargoapi.AuthorizedStageAnnotationKey] != want {
		ah.Message = fmt.Sprintf("Application %s does not let Stage %s/%s change it, so its health is not read: add the annotation %s: %q to it",
			key, st.Namespace, st.Name, kargoapi.AuthorizedStageAnnotationKey, want)
		return ah
	}
	ah.Status, ah.Message = appHealth(app, sus)
	ah.HealthStatus = string(app.Status.Health.Status)
	ah.SyncStatus = string(app.Status.Sync.Status)
	switch {
	case len(app.Status.Sync.Revisions) > 0:
		ah.Revisions = slices.Clone(app.Status.Sync.Revisions)
	case app.Status.Sync.Revision != "":
		ah.Revisions = []string{app.Status.Sync.Revision}
	}
	return ah
}

// appHealth decides the health of one Application from what Argo CD
// reports, given the source updates a Stage applies to it. The checks run
// from "not finished yet" to "finished wrong", and the first that fails
// gives the answer.
//
// Suspended counts as Progressing: Argo CD reports it for resources paused
// on purpose (a canary waiting at a pause step, a suspended job), which
// neither failed nor finished; calling it Unhealthy would fail every
// promotion through a paused rollout, and calling it Healthy would let
// verification pass on a half-done rollout.
func appHealth(app *argocdv1.Application, sus []kargoapi.ArgoCDSourceUpdate) (kargoapi.HealthState, string) {
	name := app.Namespace + "/" + app.Name
	st := app.Status
	// Argo CD keeps the operation field set while it runs that operation,
	// and clears it when the operation ends: a running operation state
	// means syncing, and an operation beside a finished state is a request
	// Argo CD has not started yet.
	if op := st.OperationState; op != nil && (op.Phase == argocdv1.OperationRunning || op.Phase == argocdv1.OperationTerminating) {
		return kargoapi.HealthStateProgressing, withMessage(fmt.Sprintf("Application %s is syncing", name), op.Message)
	}
	if app.Operation != nil {
		return kargoapi.HealthStateProgressing, fmt.Sprintf("Application %s has a sync waiting for Argo CD", name)
	}
	if op := st.OperationState; op != nil && (op.Phase == argocdv1.OperationFailed || op.Phase == argocdv1.OperationError) {
		return kargoapi.HealthStateUnhealthy, withMessage(fmt.Sprintf("Application %s's last sync ended in %s", name, op.Phase), op.Message)
	}
	if op := st.OperationState; st.Health.Status == argocdv1.HealthStatusMissing && op != nil && op.Phase == argocdv1.OperationSucceeded &&
		op.FinishedAt != nil && now().Sub(op.FinishedAt.Time) < missingAfterSyncGrace {
		// Seen with the real Argo CD: for a moment after a sync that
		// created the resources, its cache has not seen them yet and it
		// reports them Missing. Unhealthy would fail a verification that
		// is running; wait for Argo CD to catch up.
		return kargoapi.HealthStateProgressing, fmt.Sprintf("Application %s was synced at %s and Argo CD does not see its resources yet", name, op.FinishedAt.UTC().Format(time.RFC3339))
	}
	switch st.Health.Status {
	case argocdv1.HealthStatusHealthy:
	case argocdv1.HealthStatusProgressing, argocdv1.HealthStatusSuspended:
		return kargoapi.HealthStateProgressing, withMessage(fmt.Sprintf("Application %s is %s", name, st.Health.Status), st.Health.Message)
	case "":
		return kargoapi.HealthStateUnknown, fmt.Sprintf("Application %s has no health yet", name)
	default: // Degraded, Missing, Unknown and anything newer
		return kargoapi.HealthStateUnhealthy, withMessage(fmt.Sprintf("Application %s is %s", name, st.Health.Status), st.Health.Message)
	}
	if st.Sync.Status != argocdv1.SyncStatusSynced {
		status := st.Sync.Status
		if status == "" {
			status = "not synced"
		}
		return kargoapi.HealthStateUnhealthy, fmt.Sprintf("Application %s is %s", name, status)
	}
	if want, got, ok := wrongRevision(app, sus); ok {
		return kargoapi.HealthStateUnhealthy, fmt.Sprintf("Application %s is synced to %s, not the promoted %s", name, orNothing(got), want)
	}
	return kargoapi.HealthStateHealthy, ""
}

// wrongRevision finds a source whose targetRevision kargo sets and whose
// synced revision differs from it. A source that no longer matches is
// skipped: Apply reports that when it next runs.
func wrongRevision(app *argocdv1.Application, sus []kargoapi.ArgoCDSourceUpdate) (want, got string, wrong bool) {
	var srcs []argocdv1.ApplicationSource
	var synced []string
	switch {
	case len(app.Spec.Sources) > 0:
		srcs, synced = app.Spec.Sources, app.Status.Sync.Revisions
	case app.Spec.Source != nil:
		srcs, synced = []argocdv1.ApplicationSource{*app.Spec.Source}, []string{app.Status.Sync.Revision}
	}
	for _, su := range sus {
		if !su.UpdateTargetRevision {
			continue
		}
		for _, i := range matchSources(srcs, su) {
			want := srcs[i].TargetRevision
			if want == "" {
				continue
			}
			var got string
			if i < len(synced) {
				got = synced[i]
			}
			if got != want {
				return want, got, true
			}
		}
	}
	return "", "", false
}

// missingAfterSyncGrace is how long after a successful sync Missing counts
// as Argo CD catching up rather than as resources gone.
const missingAfterSyncGrace = 30 * time.Second

// now is time.Now, replaced in tests.
var now = time.Now

// severity orders health states from best to worst.
func severity(s kargoapi.HealthState) int {
	switch s {
	case kargoapi.HealthStateHealthy:
		return 0
	case kargoapi.HealthStateProgressing:
		return 1
	case kargoapi.HealthStateUnknown:
		return 2
	default:
		return 3
	}
}

func withMessage(s, msg string) string {
	if msg == "" {
		return s
	}
	return s + ": " + msg
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
