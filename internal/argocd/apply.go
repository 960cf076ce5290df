package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// DefaultNamespace is where Applications are looked for when an update
// names no namespace: the namespace of a default Argo CD install.
const DefaultNamespace = "argocd"

// RefreshAnnotationKey asks Argo CD to refresh an Application. The value
// "hard" makes it regenerate manifests rather than trust its cache, which
// matters when only a Git branch or a chart moved and the Application's spec
// looks unchanged to Argo CD.
const RefreshAnnotationKey = "argocd.argoproj.io/refresh"

// Initiator is the user name Argo CD shows as having asked for kargo's syncs.
const Initiator = "kargo"

var applicationGVK = argocdv1.GroupVersion.WithKind("Application")

// ErrSyncRunning means an Application is in the middle of a sync. kargo does
// not ask for another then: Argo CD clears the operation field when the
// running sync ends, which would drop kargo's request unseen. Retrying once
// the sync ends succeeds.
var ErrSyncRunning = errors.New("a sync is running")

// Updater carries out a Stage's argoCDAppUpdates.
type Updater struct {
	// Client reads and patches Applications.
	Client client.Client
	// DefaultNamespace is the namespace of Applications whose update names
	// none. Empty means DefaultNamespace.
	DefaultNamespace string
	// Written learns of every Application written, as the API server
	// returned it (a Reader, so that health is never read from a cache
	// older than the write); nil tells no one.
	Written interface{ Wrote(client.Object) }
}

// Apply changes each Application that updates names, in order, as the
// Stage st's promotion of Freight f requires, and asks Argo CD to refresh
// and sync it. heads maps a Git repository URL to the commit a Git mechanism
// of the same promotion has just pushed there; a source whose targetRevision
// is updated points at that commit rather than at the Freight's.
//
// Every Application is read and checked before any is written, so that a
// mistake in the Stage's spec (an Application that does not opt in, a source
// or image that does not exist) changes nothing; such mistakes wrap
// sourceerr.ErrInvalid. Nothing is changed either while one of the
// Applications is in the middle of a sync (the error wraps ErrSyncRunning);
// a sync requested but not yet started is replaced by kargo's.
//
// Apply returns one summary line per Application changed. When a write
// fails, it returns the summaries of the Applications already changed along
// with the error.
func (u *Updater) Apply(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, updates []kargoapi.ArgoCDAppUpdate, heads map[string]string) ([]string, error) {
	plans := make([]*plan, len(updates))
	for i, upd := range updates {
		p, err := u.plan(ctx, st, f, upd, heads)
		if err != nil {
			return nil, err
		}
		plans[i] = p
	}
	summaries := make([]string, 0, len(updates))
	for i, upd := range updates {
		p := plans[i]
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if p == nil {
				// Someone else wrote the Application since it was read (Argo
				// CD itself, often, or an earlier update of this same list):
				// redo the edit on what is there now.
				var err error
				if p, err = u.plan(ctx, st, f, upd, heads); err != nil {
					return err
				}
			}
			// The optimistic lock puts metadata.resourceVersion in the patch,
			// so the lists kargo rewrites whole cannot overwrite a change made
			// since the read.
			err := u.Client.Patch(ctx, p.edited, client.MergeFromWithOptions(p.orig, client.MergeFromWithOptimisticLock{}))
			if err != nil {
				key := p.key
				p = nil
				return fmt.Errorf("patch Application %s: %w", key, err)
			}
			if u.Written != nil {
				u.Written.Wrote(p.edited)
			}
			return nil
		})
		if err != nil {
			return summaries, err
		}
		summaries = append(summaries, p.summary())
	}
	return summaries, nil
}

// Check reads and checks every Application that updates name as Apply
// would, without writing anything, so that a promotion learns of a mistake
// in the Stage's spec, or of a sync already running, before it commits to
// Git. pushing lists the repositories the promotion's Git updates will
// push to: a source of one of them that updateTargetRevision points at the
// pushed commit needs no commit from the Freight. Errors are those of
// Apply.
func (u *Updater) Check(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, updates []kargoapi.ArgoCDAppUpdate, pushing []string) error {
	heads := make(map[string]string, len(pushing))
	for _, repo := range pushing {
		heads[repo] = "(the commit this promotion pushes)"
	}
	for _, upd := range updates {
		if _, err := u.plan(ctx, st, f, upd, heads); err != nil {
			return err
		}
	}
	return nil
}

func (u *Updater) namespace() string {
	if u.DefaultNamespace != "" {
		return u.DefaultNamespace
	}
	return DefaultNamespace
}

// plan is one Application as read and as kargo wants it.
type plan struct {
	key     client.ObjectKey
	orig    *unstructured.Unstructured
	edited  *unstructured.Unstructured
	changes []string
}

func (p *plan) summary() string {
	return fmt.Sprintf("updated Application %s: %s", p.key, strings.Join(append(slices.Clone(p.changes), "sync requested"), ", "))
}

// plan reads the Application as a plain JSON document, which keeps every
// field, and edits a copy of it; the slim types only help decide.
func (u *Updater) plan(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, upd kargoapi.ArgoCDAppUpdate, heads map[string]string) (*plan, error) {
	key := client.ObjectKey{Namespace: upd.AppNamespace, Name: upd.AppName}
	if key.Namespace == "" {
		key.Namespace = u.namespace()
	}
	orig := &unstructured.Unstructured{}
	orig.SetGroupVersionKind(applicationGVK)
	if err := u.Client.Get(ctx, key, orig); err != nil {
		if apierrors.IsNotFound(err) {
			// Terminal for the Promotion: retrying cannot create the
			// Application, and nothing has been written yet.
			return nil, fmt.Errorf("Application %s not found: create it, or fix appName and appNamespace in Stage %s/%s: %w: %w",
				key, st.Namespace, st.Name, sourceerr.ErrNotFound, sourceerr.ErrInvalid)
		}
		return nil, fmt.Errorf("get Application %s: %w", key, err)
	}
	edited := orig.DeepCopy()
	changes, err := edit(edited.Object, key.String(), st, f, upd, heads)
	if err != nil {
		return nil, err
	}
	return &plan{key: key, orig: orig, edited: edited, changes: changes}, nil
}

// edit changes doc, an Application's JSON document, in place and returns
// what it changed, for the summary.
func edit(doc map[string]any, app string, st *kargoapi.Stage, f *kargoapi.Freight, upd kargoapi.ArgoCDAppUpdate, heads map[string]string) ([]string, error) {
	typed, err := decode(doc)
	if err != nil {
		return nil, fmt.Errorf("read Application %s: %w", app, err)
	}
	if err := authorize(typed.Annotations, app, st); err != nil {
		return nil, err
	}
	if op := typed.Status.OperationState; op != nil && (op.Phase == argocdv1.OperationRunning || op.Phase == argocdv1.OperationTerminating) {
		since := ""
		if !op.StartedAt.IsZero() {
			since = ", since " + op.StartedAt.UTC().Format(time.RFC3339)
		}
		return nil, fmt.Errorf("Application %s: %w (phase %s%s); kargo asks for its sync once that one ends",
			app, ErrSyncRunning, op.Phase, since)
	}
	spec, err := childObject(doc, "spec")
	if err != nil {
		return nil, fmt.Errorf("read Application %s: %w", app, err)
	}
	raws, srcs, multi, err := sources(spec, typed.Spec)
	if err != nil {
		return nil, fmt.Errorf("read Application %s: %w", app, err)
	}
	var changes []string
	for _, su := range upd.SourceUpdates {
		idx := matchSources(srcs, su)
		if len(idx) == 0 {
			return nil, fmt.Errorf("Application %s has no source with repoURL %s%s (its sources: %s); fix sourceUpdates in Stage %s/%s: %w",
				app, su.RepoURL, chartSuffix(su.Chart), describeSources(srcs), st.Namespace, st.Name, sourceerr.ErrInvalid)
		}
		if su.Kustomize != nil || su.Helm != nil {
			if !slices.ContainsFunc(idx, func(i int) bool { return renders(raws[i]) }) {
				return nil, fmt.Errorf("Application %s has no source with repoURL %s%s that renders manifests (only a ref source for values files); kustomize and helm changes need one: %w",
					app, su.RepoURL, chartSuffix(su.Chart), sourceerr.ErrInvalid)
			}
		}
		for _, t := range []struct {
			tool, other string
			asked       bool
		}{{"kustomize", "helm", su.Kustomize != nil}, {"helm", "kustomize", su.Helm != nil}} {
			tool, other := t.tool, t.other
			if t.asked && !slices.ContainsFunc(idx, func(i int) bool { return renders(raws[i]) && sourceKind(raws[i]) != other }) {
				return nil, fmt.Errorf("Application %s's sources with repoURL %s%s are all %s sources, so the %s changes of the Stage would apply to none: fix sourceUpdates in Stage %s/%s: %w",
					app, su.RepoURL, chartSuffix(su.Chart), other, tool, st.Namespace, st.Name, sourceerr.ErrInvalid)
			}
		}
		kinds, err := sourceKinds(raws, idx, su)
		if err != nil {
			return nil, fmt.Errorf("Application %s: %w", app, err)
		}
		for _, i := range idx {
			c, err := updateSource(raws[i], kinds[i], srcs[i], su, f, heads)
			if err != nil {
				return nil, fmt.Errorf("source %s%s of Application %s: %w", srcs[i].RepoURL, chartSuffix(srcs[i].Chart), app, err)
			}
			for _, s := range c {
				if !slices.Contains(changes, s) {
					changes = append(changes, s)
				}
			}
		}
	}
	meta, err := childObject(doc, "metadata")
	if err != nil {
		return nil, fmt.Errorf("read Application %s: %w", app, err)
	}
	annotations, err := childObject(meta, "annotations")
	if err != nil {
		return nil, fmt.Errorf("read Application %s: %w", app, err)
	}
	annotations[RefreshAnnotationKey] = "hard"
	doc["operation"] = syncOperation(spec, raws, multi, fmt.Sprintf("Promotion of Freight %s to Stage %s", freightName(f), st.Name))
	return changes, nil
}

func decode(doc map[string]any) (*argocdv1.Application, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	app := &argocdv1.Application{}
	if err := json.Unmarshal(raw, app); err != nil {
		return nil, err
	}
	return app, nil
}

// authorize lets st change the Application only when the Application says
// so: whoever may edit a Stage must not thereby gain control of any
// Application in the cluster.
func authorize(annotations map[string]string, app string, st *kargoapi.Stage) error {
	want := st.Namespace + ":" + st.Name
	got, ok := annotations[kargoapi.AuthorizedStageAnnotationKey]
	switch {
	case ok && got == want:
		return nil
	case ok:
		return fmt.Errorf("Application %s lets %q change it, not Stage %s/%s: set its annotation %s to %q: %w",
			app, got, st.Namespace, st.Name, kargoapi.AuthorizedStageAnnotationKey, want, sourceerr.ErrInvalid)
	default:
		return fmt.Errorf("Application %s does not let Stage %s/%s change it: add the annotation %s: %q to Application %s: %w",
			app, st.Namespace, st.Name, kargoapi.AuthorizedStageAnnotationKey, want, app, sourceerr.ErrInvalid)
	}
}

// sources returns the Application's sources both as JSON objects (to edit)
// and as slim types (to decide), in the same order. Argo CD uses
// spec.sources whenever it has entries and spec.source otherwise, and so
// does kargo.
func sources(spec map[string]any, typed argocdv1.ApplicationSpec) ([]map[string]any, []argocdv1.ApplicationSource, bool, error) {
	if len(typed.Sources) > 0 {
		list, err := childList(spec, "sources")
		if err != nil {
			return nil, nil, false, err
		}
		raws := make([]map[string]any, len(list))
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, nil, false, fmt.Errorf("spec.sources[%d] is a %T, not an object", i, e)
			}
			raws[i] = m
		}
		return raws, typed.Sources, true, nil
	}
	if typed.Source != nil {
		m, err := childObject(spec, "source")
		if err != nil {
			return nil, nil, false, err
		}
		return []map[string]any{m}, []argocdv1.ApplicationSource{*typed.Source}, false, nil
	}
	return nil, nil, false, nil
}

// matchSources returns the indexes of the sources su applies to.
func matchSources(srcs []argocdv1.ApplicationSource, su kargoapi.ArgoCDSourceUpdate) []int {
	var idx []int
	for i, s := range srcs {
		if su.Chart != "" && s.Chart != su.Chart {
			continue
		}
		if repourl.Same(s.RepoURL, su.RepoURL) {
			idx = append(idx, i)
		}
	}
	return idx
}

func chartSuffix(chart string) string {
	if chart == "" {
		return ""
	}
	return " (chart " + chart + ")"
}

func describeSources(srcs []argocdv1.ApplicationSource) string {
	if len(srcs) == 0 {
		return "none"
	}
	s := make([]string, len(srcs))
	for i, src := range srcs {
		s[i] = src.RepoURL + chartSuffix(src.Chart)
	}
	return strings.Join(s, ", ")
}

// updateSource applies su to one source and returns what it changed.
func updateSource(raw map[string]any, kind string, src argocdv1.ApplicationSource, su kargoapi.ArgoCDSourceUpdate, f *kargoapi.Freight, heads map[string]string) ([]string, error) {
	var changes []string
	if su.Kustomize != nil && renders(raw) && kind != "helm" {
		for _, ki := range su.Kustomize.Images {
			entry, err := kustomizeOverride(f, ki)
			if err != nil {
				return nil, err
			}
			if err := setKustomizeImage(raw, string(ki.Image), entry); err != nil {
				return nil, err
			}
			changes = append(changes, "image "+entry)
		}
	}
	if su.Helm != nil && renders(raw) && kind != "kustomize" {
		for _, hi := range su.Helm.Images {
			value, err := helmValue(f, hi)
			if err != nil {
				return nil, err
			}
			if err := setHelmParameter(raw, hi.Key, value); err != nil {
				return nil, err
			}
			changes = append(changes, "helm parameter "+hi.Key+"="+value)
		}
	}
	if su.UpdateTargetRevision {
		rev, err := targetRevision(f, src, heads)
		if err != nil {
			return nil, err
		}
		raw["targetRevision"] = rev
		changes = append(changes, "targetRevision "+shortRevision(rev))
	}
	return changes, nil
}

// sourceKind says which tool a source declares: "helm" for a chart or a
// helm block, "kustomize" for a kustomize block, "" when it declares none
// (Argo CD then decides from the files it finds). kargo gives a source
// kustomize images or helm parameters, never both: Argo CD refuses a source
// that has both.
func sourceKind(raw map[string]any) string {
	_, helm := raw["helm"].(map[string]any)
	_, kustomize := raw["kustomize"].(map[string]any)
	switch {
	case stringAt(raw, "chart") != "" || helm:
		return "helm"
	case kustomize:
		return "kustomize"
	}
	return ""
}

// sourceKinds decides, for each source of idx, the tool whose changes it
// gets when su asks for both kustomize and helm changes: the one it
// declares; for one that declares neither, the tool no other matching
// source declares. Argo CD refuses a source that carries both ("multiple
// application sources defined: Kustomize,Helm"), and where the sources do
// not say, only the repository's files would.
func sourceKinds(raws []map[string]any, idx []int, su kargoapi.ArgoCDSourceUpdate) (map[int]string, error) {
	kinds := map[int]string{}
	declared := map[string]bool{}
	for _, i := range idx {
		kinds[i] = sourceKind(raws[i])
		declared[kinds[i]] = true
	}
	if su.Kustomize == nil || su.Helm == nil {
		return kinds, nil
	}
	for _, i := range idx {
		if kinds[i] != "" || !renders(raws[i]) {
			continue
		}
		switch {
		case declared["helm"] && !declared["kustomize"]:
			kinds[i] = "kustomize"
		case declared["kustomize"] && !declared["helm"]:
			kinds[i] = "helm"
		default:
			return nil, fmt.Errorf("both kustomize and helm changes match its source %s, which declares neither: add `kustomize: {}` or `helm: {}` to that source in the Application, or split the sourceUpdates entry by chart or repository: %w",
				stringAt(raws[i], "repoURL"), sourceerr.ErrInvalid)
		}
	}
	return kinds, nil
}

// renders says whether Argo CD renders manifests from a source. A
// multi-source Application may hold a source that only lends its files to
// the others, with a ref and no path; kustomize and helm settings there would
// do nothing (or, to a reader, suggest something they do not do), so kargo
// changes only its targetRevision.
func renders(raw map[string]any) bool {
	return stringAt(raw, "ref") == "" || stringAt(raw, "path") != "" || stringAt(raw, "chart") != ""
}

// kustomizeOverride returns the kustomize override that pins the image to
// its version in the Freight.
func kustomizeOverride(f *kargoapi.Freight, u kargoapi.ArgoCDKustomizeImageUpdate) (string, error) {
	img, err := freightImage(f, string(u.Image))
	if err != nil {
		return "", err
	}
	if u.UseDigest {
		if img.Digest == "" {
			return "", fmt.Errorf("useDigest is set for %s, but Freight %s records no digest for it: %w", img.RepoURL, freightName(f), sourceerr.ErrInvalid)
		}
		return img.RepoURL + "=" + img.RepoURL + "@" + img.Digest, nil
	}
	if img.Tag == "" {
		return "", fmt.Errorf("Freight %s records no tag for %s: set useDigest: %w", freightName(f), img.RepoURL, sourceerr.ErrInvalid)
	}
	return img.RepoURL + "=" + img.RepoURL + ":" + img.Tag, nil
}

// helmValue returns the value of a Helm parameter set from an image.
func helmValue(f *kargoapi.Freight, u kargoapi.ArgoCDHelmImageUpdate) (string, error) {
	img, err := freightImage(f, string(u.Image))
	if err != nil {
		return "", err
	}
	needs := func(part, have string) error {
		if have != "" {
			return nil
		}
		return fmt.Errorf("value %s for parameter %s needs a %s, but Freight %s records none for %s: %w",
			u.Value, u.Key, part, freightName(f), img.RepoURL, sourceerr.ErrInvalid)
	}
	switch u.Value {
	case kargoapi.ImageUpdateValueImage:
		return img.RepoURL, nil
	case kargoapi.ImageUpdateValueTag:
		return img.Tag, needs("tag", img.Tag)
	case kargoapi.ImageUpdateValueImageAndTag:
		return img.RepoURL + ":" + img.Tag, needs("tag", img.Tag)
	case kargoapi.ImageUpdateValueDigest:
		return img.Digest, needs("digest", img.Digest)
	case kargoapi.ImageUpdateValueImageAndDigest:
		return img.RepoURL + "@" + img.Digest, needs("digest", img.Digest)
	default:
		return "", fmt.Errorf("unknown value %q for parameter %s: use Image, Tag, ImageAndTag, Digest or ImageAndDigest: %w", u.Value, u.Key, sourceerr.ErrInvalid)
	}
}

func freightImage(f *kargoapi.Freight, repo string) (kargoapi.Image, error) {
	have := make([]string, 0, len(f.Images))
	for _, img := range f.Images {
		if img.RepoURL == repo {
			return img, nil
		}
		have = append(have, img.RepoURL)
	}
	// Another spelling of one image (docker.io/library/nginx for nginx)
	// when no image is spelled as the update spells it.
	for _, img := range f.Images {
		if repourl.Same(img.RepoURL, repo) {
			return img, nil
		}
	}
	return kargoapi.Image{}, fmt.Errorf("Freight %s has no image %s (it has: %s); name an image the Freight carries: %w",
		freightName(f), repo, strings.Join(have, ", "), sourceerr.ErrInvalid)
}

// targetRevision returns what the source's targetRevision must be: the
// Freight's version of the chart for a chart source; for a Git source, the
// commit this promotion pushed there, or else the Freight's commit of that
// repository.
func targetRevision(f *kargoapi.Freight, src argocdv1.ApplicationSource, heads map[string]string) (string, error) {
	if src.Chart != "" {
		oci := strings.TrimRight(src.RepoURL, "/") + "/" + src.Chart
		for _, c := range f.Charts {
			// An OCI chart is recorded in Freight as one reference with no
			// name; Argo CD splits it into repoURL and chart.
			if (c.Name == src.Chart && repourl.Same(c.RepoURL, src.RepoURL)) || (c.Name == "" && repourl.Same(c.RepoURL, oci)) {
				return c.Version, nil
			}
		}
		return "", fmt.Errorf("updateTargetRevision is set, but Freight %s has no chart %s from %s: %w", freightName(f), src.Chart, src.RepoURL, sourceerr.ErrInvalid)
	}
	if head, ok := heads[src.RepoURL]; ok && head != "" {
		return head, nil
	}
	repos := make([]string, 0, len(heads))
	for repo := range heads {
		repos = append(repos, repo)
	}
	slices.Sort(repos) // the same answer every time, should two spellings of a URL both be present
	for _, repo := range repos {
		if repourl.Same(repo, src.RepoURL) && heads[repo] != "" {
			return heads[repo], nil
		}
	}
	for _, c := range f.Commits {
		if repourl.Same(c.RepoURL, src.RepoURL) && c.ID != "" {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("updateTargetRevision is set, but nothing says which commit of %s to point at: no gitRepoUpdate of this promotion pushed to it, and Freight %s has no commit from it: %w",
		src.RepoURL, freightName(f), sourceerr.ErrInvalid)
}

// syncOperation builds the operation that asks Argo CD to sync every source
// to its targetRevision. It carries the Application's own sync options and
// retry policy, as Argo CD's automated sync does, so that a sync kargo asks
// for behaves like one Argo CD starts (CreateNamespace=true,
// ServerSideApply=true and the like still apply).
func syncOperation(spec map[string]any, srcs []map[string]any, multi bool, reason string) map[string]any {
	sync := map[string]any{}
	switch {
	case multi:
		revs := make([]any, len(srcs))
		for i, s := range srcs {
			revs[i] = stringAt(s, "targetRevision")
		}
		sync["revisions"] = revs
	case len(srcs) == 1:
		if rev := stringAt(srcs[0], "targetRevision"); rev != "" {
			sync["revision"] = rev
		}
	}
	op := map[string]any{
		"sync":        sync,
		"initiatedBy": map[string]any{"username": Initiator},
		"info":        []any{map[string]any{"name": "Reason", "value": reason}},
	}
	if policy, ok := spec["syncPolicy"].(map[string]any); ok {
		if opts, ok := policy["syncOptions"]; ok && opts != nil {
			sync["syncOptions"] = runtime.DeepCopyJSONValue(opts)
		}
		if r, ok := policy["retry"]; ok && r != nil {
			op["retry"] = runtime.DeepCopyJSONValue(r)
		}
	}
	return op
}

func stringAt(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// shortRevision shortens a full Git commit hash for summaries, as git log
// --oneline does; chart versions and other revisions are kept whole.
func shortRevision(rev string) string {
	if len(rev) != 40 {
		return rev
	}
	for _, c := range rev {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return rev
		}
	}
	return rev[:7]
}

func freightName(f *kargoapi.Freight) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}
