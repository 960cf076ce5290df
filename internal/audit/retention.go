package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Defaults of Retention.
const (
	// DefaultKeep is how many records a project keeps: some months of a
	// busy project's promotions, at well under a kilobyte each.
	DefaultKeep = 5000
	// DefaultMaxAge is how long a record is kept at most.
	DefaultMaxAge = 90 * 24 * time.Hour
)

// Retention deletes, every Interval, the records of each project beyond
// the newest Keep and those older than MaxAge. Records are listed as
// metadata only, live: the controller keeps no cache of them.
type Retention struct {
	// Reader lists Projects and AuditRecords; the manager's APIReader, so
	// that no cache of every record is kept.
	Reader client.Reader
	// Writer deletes AuditRecords.
	Writer client.Writer
	// Keep is the most records a project keeps; DefaultKeep when zero.
	Keep int
	// MaxAge is the age past which a record is deleted; DefaultMaxAge
	// when zero, no bound when negative.
	MaxAge time.Duration
	// Interval is the time between two passes.
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NeedLeaderElection makes retention run on the leader only.
func (r *Retention) NeedLeaderElection() bool { return true }

// Start runs a pass every Interval (with up to a tenth of jitter) until
// ctx ends; a failed pass is logged and retried at the next.
func (r *Retention) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("audit-retention")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.Interval + rand.N(r.Interval/10+1)):
		}
		n, err := r.Trim(ctx)
		if err != nil {
			log.Error(err, "audit retention pass failed")
			continue
		}
		if n > 0 {
			log.Info("audit records past retention deleted", "records", n)
		}
	}
}

// Trim makes one pass over every project and returns how many records it
// deleted.
func (r *Retention) Trim(ctx context.Context) (int, error) {
	projects := &kargoapi.ProjectList{}
	if err := r.Reader.List(ctx, projects); err != nil {
		return 0, fmt.Errorf("list Projects: %w", err)
	}
	total := 0
	var errs []error
	for _, p := range projects.Items {
		n, err := r.trimProject(ctx, p.Name)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (r *Retention) trimProject(ctx context.Context, project string) (int, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(kargoapi.GroupVersion.WithKind("AuditRecordList"))
	if err := r.Reader.List(ctx, list, client.InNamespace(project)); err != nil {
		return 0, fmt.Errorf("list AuditRecords of project %s: %w", project, err)
	}
	doomed := r.beyond(list.Items)
	n := 0
	for _, m := range doomed {
		uid := m.UID
		err := r.Writer.Delete(ctx, &m, client.Preconditions{UID: &uid})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return n, fmt.Errorf("delete AuditRecord %s/%s: %w", project, m.Name, err)
		}
		n++
	}
	return n, nil
}

// beyond returns the records past the bounds: all but the newest Keep,
// and those older than MaxAge. Records are ordered by creation (whole
// seconds), then name.
func (r *Retention) beyond(items []metav1.PartialObjectMetadata) []metav1.PartialObjectMetadata {
	keep := r.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	maxAge := r.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i].CreationTimestamp.Time, items[j].CreationTimestamp.Time
		if !a.Equal(b) {
			return a.After(b)
		}
		return items[i].Name > items[j].Name
	})
	var out []metav1.PartialObjectMetadata
	for i, m := range items {
		if i >= keep || (maxAge > 0 && now().Sub(m.CreationTimestamp.Time) > maxAge) {
			out = append(out, m)
		}
	}
	return out
}
