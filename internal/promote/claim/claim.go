// Package claim decides which Stage may write a Git branch, for every
// path that writes one (gitRepoUpdates and the git-push step), and names
// the trailers that record on each commit who wrote it.
//
// Two rules keep promotions from fighting over a branch. Two Stages never
// write one branch: of two writers, the one created first keeps writing,
// so a Stage made later can never take over a branch. And a Stage never
// writes a branch its own Freight comes from, which would promote its own
// commits in a loop.
package claim

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// Trailers kargo writes on promotion commits.
const (
	TrailerFreight      = "Kargo-Freight"
	TrailerFreightAlias = "Kargo-Freight-Alias"
	TrailerStage        = "Kargo-Stage"
	TrailerPromotion    = "Kargo-Promotion"
)

// Trailers are the trailers of a commit that Promotion uid of Stage
// namespace/stage makes for f. Freight without an alias (removing one is
// allowed) gets no alias trailer: a trailer cannot be empty.
func Trailers(namespace, stage string, f *kargoapi.Freight, uid types.UID) [][2]string {
	var t [][2]string
	if f != nil {
		t = append(t, [2]string{TrailerFreight, f.Name})
		if f.Alias != "" {
			t = append(t, [2]string{TrailerFreightAlias, f.Alias})
		}
	}
	return append(t,
		[2]string{TrailerStage, namespace + "/" + stage},
		[2]string{TrailerPromotion, string(uid)},
	)
}

// Branch is a branch of a repository that a Stage is about to write.
type Branch struct {
	RepoURL string
	Branch  string
	// LastWriter is the Stage ("namespace/name", from the Kargo-Stage
	// trailer) of the newest kargo commit on the branch, or "".
	LastWriter string
}

// Check refuses st's writing any of branches when another Stage, created
// before st, writes it too: by a gitRepoUpdate of its spec, or, for a
// branch written by steps, because it made the branch's newest kargo
// commit. The admission webhook refuses Stages whose gitRepoUpdates share
// a branch, but two requests can race past it, Stages from before the rule
// may share one, and steps name their branches only when they run. The
// refusal names the oldest writer (the one that keeps writing), and only
// when it is in st's project; it wraps sourceerr.ErrInvalid. A nil reader
// checks nothing.
func Check(ctx context.Context, c client.Reader, st *kargoapi.Stage, branches ...Branch) error {
	if c == nil || len(branches) == 0 {
		return nil
	}
	stages := &kargoapi.StageList{}
	if err := c.List(ctx, stages); err != nil {
		return fmt.Errorf("list Stages: %w", err)
	}
	var oldest *kargoapi.Stage
	var shared Branch
	for i := range stages.Items {
		other := &stages.Items[i]
		if other.UID == st.UID || !CreatedBefore(other, st) {
			continue
		}
		if oldest != nil && !CreatedBefore(other, oldest) {
			continue
		}
		name := other.Namespace + "/" + other.Name
		for _, b := range branches {
			if (b.LastWriter != "" && b.LastWriter == name) || writesBranch(other, b) {
				oldest, shared = other, b
				break
			}
		}
	}
	if oldest == nil {
		return nil
	}
	holder := "a Stage of another project"
	if oldest.Namespace == st.Namespace {
		holder = "Stage " + oldest.Name
	}
	return fmt.Errorf("%s writes branch %s of %s too, and was created first; two Stages never write one branch, so write Stage %s to a branch of its own, such as stages/%s: %w",
		holder, shared.Branch, shared.RepoURL, st.Name, st.Name, sourceerr.ErrInvalid)
}

// writesBranch says whether a gitRepoUpdate of st writes b.
func writesBranch(st *kargoapi.Stage, b Branch) bool {
	if st.Spec.PromotionMechanisms == nil {
		return false
	}
	for _, u := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		if string(u.WriteBranch) == b.Branch && repourl.Same(string(u.RepoURL), b.RepoURL) {
			return true
		}
	}
	return false
}

// CreatedBefore orders Stages by creation, then by namespace and name, so
// that of two Stages exactly one comes first.
func CreatedBefore(a, b *kargoapi.Stage) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// Watched returns the repository branches st's Freight comes from, as
// BranchKey keys: its own repos subscriptions, or those of its Warehouses
// (the one it subscribes to, or every one it requests Freight from). A
// Warehouse that does not exist watches nothing; a nil reader reads none.
func Watched(ctx context.Context, c client.Reader, st *kargoapi.Stage) (map[string]bool, error) {
	var git []kargoapi.GitSubscription
	var warehouses []string
	subs := st.Spec.Subscriptions
	switch {
	case subs != nil && subs.Repos != nil:
		git = subs.Repos.Git
	case subs != nil && subs.Warehouse != "":
		warehouses = []string{subs.Warehouse}
	}
	for _, o := range availability.Origins(st) {
		if o.Kind == kargoapi.FreightOriginWarehouse {
			warehouses = append(warehouses, o.Name)
		}
	}
	for _, name := range warehouses {
		if c == nil {
			break
		}
		wh := &kargoapi.Warehouse{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: name}, wh); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("get Warehouse %s: %w", name, err)
		}
		git = append(git, wh.Spec.Subscriptions.Git...)
	}
	out := map[string]bool{}
	for _, g := range git {
		if g.Branch != "" {
			out[BranchKey(string(g.RepoURL), string(g.Branch))] = true
		}
	}
	return out, nil
}

// BranchKey identifies branch of repo whatever the spelling of repo.
func BranchKey(repo, branch string) string { return repourl.Key(repo) + "#" + branch }

// LoopError is the refusal to write branch of repo, which st's Freight
// comes from.
func LoopError(st *kargoapi.Stage, what, repo, branch string) error {
	return fmt.Errorf("%s writes to branch %s of %s, which this Stage's Freight comes from: the Stage would promote its own commits in a loop; write to a Stage-specific branch such as stages/%s: %w",
		what, branch, repo, st.Name, sourceerr.ErrInvalid)
}
