package freight

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Producer creates Freight for discovered artifacts, at most once per set of
// artifacts, with an alias unique in the project.
//
// Producers run in parallel, even in one project: nothing is locked across
// a request. An alias is chosen among the candidates derived from the
// Freight's name (AliasCandidate) by skipping those the cache shows taken,
// and the Freight webhook, which admits one alias at a time (AliasClaims in
// internal/webhook/freight), refuses the creation with a Conflict when
// another Freight took it meanwhile; the Producer then tries the next
// candidate. The Freight's name is its fingerprint, so two producers of the
// same Freight create it once (AlreadyExists) and both return it.
type Producer struct {
	// Client creates Freight and reads it from the controller's cache, which
	// answers most lookups without a request.
	Client client.Client
	// Reader reads Freight straight from the API server, not from a cache,
	// so that a Freight created a moment ago is seen.
	Reader client.Reader
	// Candidate returns the attempt-th alias to try for the Freight named
	// name; AliasCandidate when nil. Tests make candidates collide.
	Candidate func(name string, attempt int) string
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

	f = &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Annotations: map[string]string{
				kargoapi.DiscoveredAtAnnotationKey: time.Now().UTC().Format(time.RFC3339Nano),
			},
		},
		Origin:  &origin,
		Commits: commits,
		Images:  images,
		Charts:  charts,
	}
	for attempt := 0; ; attempt++ {
		alias, next, err := p.freeAlias(ctx, namespace, name, attempt)
		if err != nil {
			return nil, false, err
		}
		attempt = next
		try := f.DeepCopy()
		try.Alias = alias
		try.Labels = map[string]string{kargoapi.AliasLabelKey: alias}
		err = p.Client.Create(ctx, try)
		switch {
		case err == nil:
			f = try
		case apierrors.IsAlreadyExists(err):
			// Another producer (a Stage with the same subscriptions, or a
			// second replica) got there first: that Freight is the same one.
			if err := p.Reader.Get(ctx, client.ObjectKeyFromObject(f), existing); err != nil {
				return nil, false, fmt.Errorf("get Freight %s: %w", name, err)
			}
			return existing, false, nil
		case apierrors.IsConflict(err) && attempt < MaxAliasAttempts+8:
			// The webhook refused the alias: another Freight took it
			// since the cache was read.
			continue
		default:
			return nil, false, fmt.Errorf("create Freight %s: %w", name, err)
		}
		break
	}
	freightCreated.WithLabelValues(namespace, string(origin.Kind), origin.Name).Inc()
	return f, true, nil
}

// freeAlias returns the first alias candidate for name, from attempt on,
// that no Freight in the controller's cache holds, and its attempt number.
func (p *Producer) freeAlias(ctx context.Context, namespace, name string, attempt int) (string, int, error) {
	candidate := p.Candidate
	if candidate == nil {
		candidate = AliasCandidate
	}
	for ; ; attempt++ {
		alias := candidate(name, attempt)
		// The Freight themselves, from the cache the controllers keep of
		// them anyway: a list of their metadata would make the cache keep
		// a second copy of every Freight's metadata for this alone.
		list := &kargoapi.FreightList{}
		if err := p.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{kargoapi.AliasLabelKey: alias}, client.UnsafeDisableDeepCopy); err != nil {
			return "", 0, fmt.Errorf("check whether alias %s is taken: %w", alias, err)
		}
		if len(list.Items) == 0 || attempt >= MaxAliasAttempts+8 {
			// Past the candidates with a suffix from the name, the
			// webhook has the last word.
			return alias, attempt, nil
		}
	}
}
