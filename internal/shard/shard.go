// Package shard divides projects among several controller sets, for
// installations that outgrow one controller: each set runs with a name and
// a label selector on Projects (--shard-name, --shard-selector) and
// reconciles only the projects it owns.
//
// Ownership is recorded in the Project's status.shard, so that two sets
// whose selectors both match a project never both reconcile it: the first
// set whose selector matches claims the project (an optimistic-lock write,
// which only one can win); the owner gives the claim up when its selector
// stops matching, and another matching set claims it then. The set without
// a name (an installation's default set) never claims: it owns exactly the
// projects no set has claimed, and namespaces without a Project object. A
// project that no set selects is therefore reconciled by the default set,
// and by nobody when there is none.
package shard

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Shard is one controller set's share of the projects. A nil *Shard owns
// every project and claims none: a set that does not know of shards.
type Shard struct {
	// Name is the set's name, recorded in the Projects it claims; empty
	// for the default set.
	Name string
	// Selector selects the Projects, by their labels, the set may claim;
	// ignored for the default set.
	Selector labels.Selector
	// Reader reads Projects, from the informer cache.
	Reader client.Reader
}

// New returns the shard named name that selects by selector (a label
// selector such as "kargo.akuity.io/shard=b"); both empty make the default
// set's. A name needs a selector and the reverse.
func New(name, selector string, reader client.Reader) (*Shard, error) {
	if (name == "") != (selector == "") {
		return nil, fmt.Errorf("a shard needs both a name and a selector (got name %q, selector %q)", name, selector)
	}
	sel := labels.Nothing()
	if selector != "" {
		var err error
		if sel, err = labels.Parse(selector); err != nil {
			return nil, fmt.Errorf("parse the shard selector %q: %w", selector, err)
		}
	}
	return &Shard{Name: name, Selector: sel, Reader: reader}, nil
}

// Owns says whether this set reconciles the objects of project (a
// namespace name).
func (s *Shard) Owns(ctx context.Context, project string) (bool, error) {
	if s == nil {
		return true, nil
	}
	p := &kargoapi.Project{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
		if apierrors.IsNotFound(err) {
			// A namespace labelled as a project without a Project
			// object: nobody can claim it.
			return s.Name == "", nil
		}
		return false, fmt.Errorf("get Project %s: %w", project, err)
	}
	return s.OwnsProject(p), nil
}

// OwnsProject says whether this set reconciles p.
func (s *Shard) OwnsProject(p *kargoapi.Project) bool {
	if s == nil {
		return true
	}
	if s.Name == "" {
		return p.Status.Shard == ""
	}
	return p.Status.Shard == s.Name && s.Selector.Matches(labels.Set(p.Labels))
}

// Claim is what this set does about a Project's claim.
type Claim int

const (
	// Keep leaves status.shard as it is.
	Keep Claim = iota
	// Take sets status.shard to this set's name: the Project is selected
	// and unclaimed.
	Take
	// GiveUp clears status.shard: this set holds the claim but no longer
	// selects the Project.
	GiveUp
)

// Decide says what this set does about p's claim.
func (s *Shard) Decide(p *kargoapi.Project) Claim {
	if s == nil || s.Name == "" {
		return Keep
	}
	selected := s.Selector.Matches(labels.Set(p.Labels))
	switch {
	case selected && p.Status.Shard == "":
		return Take
	case !selected && p.Status.Shard == s.Name:
		return GiveUp
	}
	return Keep
}

// OwnerChanged passes updates of a Project whose claim changed: the
// controllers of namespaced kinds watch Projects through it, so that the
// set that takes a project over reconciles its objects at once.
func OwnerChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*kargoapi.Project)
			after, ok2 := e.ObjectNew.(*kargoapi.Project)
			return ok1 && ok2 && before.Status.Shard != after.Status.Shard
		},
	}
}

// EnqueueAll returns a handler that maps a Project to every object that
// list (a fresh empty list of one kind) holds in its namespace.
func EnqueueAll(c client.Reader, list func() client.ObjectList) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		l := list()
		if err := c.List(ctx, l, client.InNamespace(o.GetName())); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		_ = meta.EachListItem(l, func(obj runtime.Object) error {
			if co, ok := obj.(client.Object); ok {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(co)})
			}
			return nil
		})
		return reqs
	})
}
