package freight

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Producer creates Freight for discovered artifacts, at most once per set of
// artifacts, with an alias unique in the project.
type Producer struct {
	// Client creates Freight and reads it from the controller's cache, which
	// answers most lookups without a request.
	Client client.Client
	// Reader reads Freight straight from the API server, not from a cache,
	// so that a Freight or alias created a moment ago is seen.
	Reader client.Reader

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per namespace: alias choice and creation are one step
}

// Produce returns the Freight for these artifacts, creating it with origin
// when it does not exist yet. created says whether this call created it.
// Existing Freight is returned as it is: nothing is overwritten or lost.
func (p *Producer) Produce(ctx context.Context, namespace string, origin kargoapi.FreightOrigin, commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) (f *kargoapi.Freight, created bool, err error) {
	name := Fingerprint(&origin, commits, images, charts)
	existing := &kargoapi.Freight{}
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if err := p.Client.Get(ctx, key, existing); err == nil {
		return existing, false, nil
	}
	// Freight named before the origin and commit tags counted keeps its
	// name; it is this Freight if it has this origin and these artifacts
	// (tags included). Such Freight is old, so the cache holds it.
	legacy := &kargoapi.Freight{}
	if err := p.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: LegacyFingerprint(commits, images, charts)}, legacy); err == nil && legacy.Origin != nil && FingerprintOf(legacy) == name {
		return legacy, false, nil
	}
	// The cache may lag behind a Freight created a moment ago.
	err = p.Reader.Get(ctx, key, existing)
	switch {
	case err == nil:
		return existing, false, nil
	case !apierrors.IsNotFound(err):
		return nil, false, fmt.Errorf("get Freight %s: %w", name, err)
	}

	lock := p.namespaceLock(namespace)
	lock.Lock()
	defer lock.Unlock()

	alias, err := p.freeAlias(ctx, namespace, name)
	if err != nil {
		return nil, false, err
	}
	f = &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{kargoapi.AliasLabelKey: alias},
			Annotations: map[string]string{
				kargoapi.DiscoveredAtAnnotationKey: time.Now().UTC().Format(time.RFC3339Nano),
			},
		},
		Alias:   alias,
		Origin:  &origin,
		Commits: commits,
		Images:  images,
		Charts:  charts,
	}
	if err := p.Client.Create(ctx, f); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another producer (a Stage with the same subscriptions, or a
			// second replica) got there first: that Freight is the same one.
			if err := p.Reader.Get(ctx, client.ObjectKeyFromObject(f), existing); err != nil {
				return nil, false, fmt.Errorf("get Freight %s: %w", name, err)
			}
			return existing, false, nil
		}
		return nil, false, fmt.Errorf("create Freight %s: %w", name, err)
	}
	freightCreated.WithLabelValues(namespace, string(origin.Kind), origin.Name).Inc()
	return f, true, nil
}

func (p *Producer) namespaceLock(ns string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l, ok := p.locks[ns]
	if !ok {
		l = &sync.Mutex{}
		p.locks[ns] = l
	}
	return l
}

// freeAlias returns the first alias candidate for name that no Freight in
// the namespace holds.
func (p *Producer) freeAlias(ctx context.Context, namespace, name string) (string, error) {
	for attempt := 0; ; attempt++ {
		alias := AliasCandidate(name, attempt)
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(kargoapi.GroupVersion.WithKind("FreightList"))
		if err := p.Reader.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{kargoapi.AliasLabelKey: alias}, client.Limit(1)); err != nil {
			return "", fmt.Errorf("check whether alias %s is taken: %w", alias, err)
		}
		if len(list.Items) == 0 {
			return alias, nil
		}
		if attempt > MaxAliasAttempts+8 {
			return "", fmt.Errorf("find a free alias for Freight %s: %d candidates are taken", name, attempt+1)
		}
	}
}
