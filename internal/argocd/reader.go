package argocd

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

// Reader reads the Applications Health asks about from an informer cache of
// Argo CD Applications, so that following the health of many Stages costs
// no request to the API server, and reads an Application live only when
// the cache cannot answer for it: it watches no Applications at all
// (Cache nil), not that Application's namespace, or holds it older than
// kargo's own last write to it (see Wrote). A promotion's argocd-update
// therefore never has its Stage verified on the Application as it was
// before the update, Synced and Healthy at the previous revision.
//
// Reader only changes where an Application is read from: Health still
// checks that the Application lets the Stage change it before using
// anything it says.
type Reader struct {
	// Cache is an informer cache of Applications; nil reads every
	// Application live.
	Cache client.Reader
	// Namespaces are those the cache watches; empty means every namespace.
	Namespaces []string
	// Live reads from the API server.
	Live client.Reader

	mu sync.Mutex
	// written is, per Application, the resourceVersion kargo's last write
	// to it returned, until the cache has seen that version.
	written map[client.ObjectKey]uint64
}

var _ client.Reader = (*Reader)(nil)

// Wrote records that kargo wrote app and the API server answered with
// app's resourceVersion: until the cache holds that version or a newer
// one, the Application is read live.
func (r *Reader) Wrote(app client.Object) {
	rv, err := strconv.ParseUint(app.GetResourceVersion(), 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[client.ObjectKey]uint64{}
	}
	key := client.ObjectKeyFromObject(app)
	if rv > r.written[key] {
		r.written[key] = rv
	}
}

// Get reads the Application key names into obj, from the cache when it is
// at least as new as kargo's last write to it, live otherwise.
func (r *Reader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if r.Cache == nil || !r.watches(key.Namespace) {
		return r.Live.Get(ctx, key, obj, opts...)
	}
	r.mu.Lock()
	wrote, ok := r.written[key]
	r.mu.Unlock()
	err := r.Cache.Get(ctx, key, obj, opts...)
	if !ok {
		return err
	}
	// The API server's resourceVersions are etcd revisions: numbers that
	// grow with every write, which the watch cache itself compares.
	if err == nil {
		if rv, perr := strconv.ParseUint(obj.GetResourceVersion(), 10, 64); perr == nil && rv >= wrote {
			r.mu.Lock()
			if r.written[key] == wrote {
				delete(r.written, key)
			}
			r.mu.Unlock()
			return nil
		}
	}
	return r.Live.Get(ctx, key, obj, opts...)
}

// List lists from the cache when it watches the namespace asked for, live
// otherwise.
func (r *Reader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	if r.Cache == nil || !r.watches(lo.Namespace) {
		return r.Live.List(ctx, list, opts...)
	}
	return r.Cache.List(ctx, list, opts...)
}

func (r *Reader) watches(ns string) bool {
	return len(r.Namespaces) == 0 || (ns != "" && slices.Contains(r.Namespaces, ns))
}

// WatchScope decides where kargo may keep an informer cache of Argo CD
// Applications with cfg's identity: every namespace (namespaces nil) when
// it may list and watch Applications cluster-wide, else only
// defaultNamespace when it may there. ok is false when the API server
// serves no Application type or kargo may watch none: Health then reads
// every Application live, as a watch that is refused would keep the cache
// from ever syncing.
func WatchScope(ctx context.Context, cfg *rest.Config, defaultNamespace string) (namespaces []string, ok bool, err error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("discovery client: %w", err)
	}
	resources, err := dc.ServerResourcesForGroupVersion(argocdv1.GroupVersion.String())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("discover %s: %w", argocdv1.GroupVersion, err)
	}
	if !slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == "applications" }) {
		return nil, false, nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("kubernetes client: %w", err)
	}
	mayWatch := func(ns string) (bool, error) {
		for _, verb := range []string{"list", "watch"} {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: argocdv1.GroupVersion.Group, Resource: "applications",
				},
			}}
			got, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return false, fmt.Errorf("ask whether kargo may %s Applications: %w", verb, err)
			}
			if !got.Status.Allowed {
				return false, nil
			}
		}
		return true, nil
	}
	if all, err := mayWatch(""); err != nil || all {
		return nil, all, err
	}
	if defaultNamespace == "" {
		defaultNamespace = DefaultNamespace
	}
	if one, err := mayWatch(defaultNamespace); err != nil || one {
		return []string{defaultNamespace}, one, err
	}
	return nil, false, nil
}
