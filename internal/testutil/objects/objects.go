// Package objects builds kargo objects for tests, with options:
//
//	f := objects.Freight(ns, objects.Image("nginx", "1.25.0"), objects.VerifiedIn("test"))
//	st := objects.Stage(ns, "uat", objects.UpstreamStages("test"))
//
// Builders fill in what a test does not care about the way the controllers
// would (a Freight is named by its fingerprint, an image has a digest), so
// that tests say only what they are about.
package objects

import (
	"crypto/sha256"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
)

// Option changes an object being built.
type Option[T any] func(*T)

// DefaultWarehouse is the Warehouse Freight comes from unless FromWarehouse
// says otherwise.
const DefaultWarehouse = "w"

// Freight returns Freight of namespace, from DefaultWarehouse, named by its
// fingerprint (unless FreightName names it). Without an artifact option it
// holds nginx:1.25.0.
func Freight(namespace string, opts ...Option[kargoapi.Freight]) *kargoapi.Freight {
	f := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: DefaultWarehouse},
	}
	for _, o := range opts {
		o(f)
	}
	if len(f.Images)+len(f.Commits)+len(f.Charts) == 0 {
		Image("nginx", "1.25.0")(f)
	}
	if f.Name == "" {
		f.Name = freight.Fingerprint(f.Origin, f.Commits, f.Images, f.Charts)
	}
	return f
}

// Image adds an image, with a digest made from its tag.
func Image(repo, tag string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) {
		f.Images = append(f.Images, kargoapi.Image{RepoURL: repo, Tag: tag, Digest: Digest(tag)})
	}
}

// Digest is the digest Image gives tag: the SHA-256 of the tag itself.
func Digest(tag string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag))) }

// FreightName names the Freight instead of its fingerprint.
func FreightName(name string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) { f.Name = name }
}

// Alias sets the Freight's alias, field and label.
func Alias(alias string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) {
		f.Alias = alias
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[kargoapi.AliasLabelKey] = alias
	}
}

// FromWarehouse sets the Warehouse the Freight comes from.
func FromWarehouse(name string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) {
		f.Origin = &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}
	}
}

// VerifiedIn marks the Freight verified in stages, at no recorded time.
func VerifiedIn(stages ...string) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) {
		if f.Status.VerifiedIn == nil {
			f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{}
		}
		for _, s := range stages {
			f.Status.VerifiedIn[s] = kargoapi.VerifiedStage{}
		}
	}
}

// FreightCreated sets the Freight's creation time.
func FreightCreated(t time.Time) Option[kargoapi.Freight] {
	return func(f *kargoapi.Freight) { f.CreationTimestamp = metav1.NewTime(t) }
}

// Stage returns a Stage that subscribes to nothing until an option says.
func Stage(namespace, name string, opts ...Option[kargoapi.Stage]) *kargoapi.Stage {
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	for _, o := range opts {
		o(st)
	}
	return st
}

// SubscribesTo subscribes the Stage to a Warehouse.
func SubscribesTo(warehouse string) Option[kargoapi.Stage] {
	return Subscriptions(kargoapi.Subscriptions{Warehouse: warehouse})
}

// UpstreamStages subscribes the Stage to upstream Stages.
func UpstreamStages(stages ...string) Option[kargoapi.Stage] {
	subs := kargoapi.Subscriptions{}
	for _, s := range stages {
		subs.UpstreamStages = append(subs.UpstreamStages, kargoapi.StageSubscription{Name: s})
	}
	return Subscriptions(subs)
}

// Subscriptions sets the Stage's subscriptions.
func Subscriptions(subs kargoapi.Subscriptions) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) { st.Spec.Subscriptions = &subs }
}

// GitUpdates adds gitRepoUpdates to the Stage's promotion mechanisms.
func GitUpdates(updates ...kargoapi.GitRepoUpdate) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) {
		if st.Spec.PromotionMechanisms == nil {
			st.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{}
		}
		st.Spec.PromotionMechanisms.GitRepoUpdates = append(st.Spec.PromotionMechanisms.GitRepoUpdates, updates...)
	}
}

// ArgoCDUpdates adds argoCDAppUpdates to the Stage's promotion mechanisms.
func ArgoCDUpdates(updates ...kargoapi.ArgoCDAppUpdate) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) {
		if st.Spec.PromotionMechanisms == nil {
			st.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{}
		}
		st.Spec.PromotionMechanisms.ArgoCDAppUpdates = append(st.Spec.PromotionMechanisms.ArgoCDAppUpdates, updates...)
	}
}

// AnalysisTemplates makes the Stage verify with Argo Rollouts analysis
// templates.
func AnalysisTemplates(names ...string) Option[kargoapi.Stage] {
	return func(st *kargoapi.Stage) {
		if st.Spec.Verification == nil {
			st.Spec.Verification = &kargoapi.Verification{}
		}
		for _, n := range names {
			st.Spec.Verification.AnalysisTemplates = append(st.Spec.Verification.AnalysisTemplates, kargoapi.AnalysisTemplateReference{Name: n})
		}
	}
}

// Warehouse returns a Warehouse polling hourly, subscribed to the images of
// repos (registry.invalid/app without an option that subscribes).
func Warehouse(namespace, name string, opts ...Option[kargoapi.Warehouse]) *kargoapi.Warehouse {
	wh := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       kargoapi.WarehouseSpec{Interval: &metav1.Duration{Duration: time.Hour}},
	}
	for _, o := range opts {
		o(wh)
	}
	if len(wh.Spec.Subscriptions.Images)+len(wh.Spec.Subscriptions.Git)+len(wh.Spec.Subscriptions.Charts) == 0 {
		ImageSubscription("registry.invalid/app")(wh)
	}
	return wh
}

// GitSubscription subscribes the Warehouse to a branch of a Git repository.
func GitSubscription(repoURL, branch string) Option[kargoapi.Warehouse] {
	return func(wh *kargoapi.Warehouse) {
		wh.Spec.Subscriptions.Git = append(wh.Spec.Subscriptions.Git, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(repoURL), Branch: kargoapi.BranchName(branch)})
	}
}

// ImageSubscription subscribes the Warehouse to an image repository.
func ImageSubscription(repo string) Option[kargoapi.Warehouse] {
	return func(wh *kargoapi.Warehouse) {
		wh.Spec.Subscriptions.Images = append(wh.Spec.Subscriptions.Images, kargoapi.ImageSubscription{RepoURL: kargoapi.ImageRepoURL(repo)})
	}
}

// Promotion returns a Promotion of freight into stage.
func Promotion(namespace, name, stage, freight string, opts ...Option[kargoapi.Promotion]) *kargoapi.Promotion {
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: freight},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// PromotionCreated sets the Promotion's creation time, which orders a
// Stage's queue.
func PromotionCreated(t time.Time) Option[kargoapi.Promotion] {
	return func(p *kargoapi.Promotion) { p.CreationTimestamp = metav1.NewTime(t) }
}

// PromotionPolicy returns a policy for stage, auto-promoting when auto.
func PromotionPolicy(namespace, name, stage string, auto bool) *kargoapi.PromotionPolicy {
	return &kargoapi.PromotionPolicy{
		ObjectMeta:          metav1.ObjectMeta{Namespace: namespace, Name: name},
		Stage:               stage,
		EnableAutoPromotion: auto,
	}
}
