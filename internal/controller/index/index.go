// Package index holds the field indexes that more than one reconciler looks
// objects up by, and the lookups that use them. Register them once per
// manager, before the reconcilers start.
package index

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

const (
	// PromotionsByStage indexes Promotions by spec.stage.
	PromotionsByStage = "spec.stage"
	// PoliciesByStage indexes PromotionPolicies by the Stage they name.
	PoliciesByStage = "stage"
)

// PromotionStage extracts PromotionsByStage.
func PromotionStage(o client.Object) []string { return []string{o.(*kargoapi.Promotion).Spec.Stage} }

// PolicyStage extracts PoliciesByStage.
func PolicyStage(o client.Object) []string { return []string{o.(*kargoapi.PromotionPolicy).Stage} }

// Register adds the indexes to a manager's (or a test client's) indexer.
func Register(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &kargoapi.Promotion{}, PromotionsByStage, PromotionStage); err != nil {
		return fmt.Errorf("index Promotions by Stage: %w", err)
	}
	if err := idx.IndexField(ctx, &kargoapi.PromotionPolicy{}, PoliciesByStage, PolicyStage); err != nil {
		return fmt.Errorf("index PromotionPolicies by Stage: %w", err)
	}
	return nil
}

// PromotionsOf lists the Promotions of a Stage in the order they run
// (SortPromotions).
func PromotionsOf(ctx context.Context, c client.Reader, namespace, stage string) ([]kargoapi.Promotion, error) {
	list := &kargoapi.PromotionList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{PromotionsByStage: stage}); err != nil {
		return nil, fmt.Errorf("list Promotions of Stage %s: %w", stage, err)
	}
	SortPromotions(list.Items)
	return list.Items, nil
}

// PoliciesOf lists the PromotionPolicies that name a Stage.
func PoliciesOf(ctx context.Context, c client.Reader, namespace, stage string) ([]kargoapi.PromotionPolicy, error) {
	list := &kargoapi.PromotionPolicyList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{PoliciesByStage: stage}); err != nil {
		return nil, fmt.Errorf("list PromotionPolicies of Stage %s: %w", stage, err)
	}
	return list.Items, nil
}

// SortPromotions orders Promotions by creation time, then name: the order in
// which they run.
func SortPromotions(p []kargoapi.Promotion) {
	sort.SliceStable(p, func(i, j int) bool {
		ti, tj := p[i].CreationTimestamp, p[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return p[i].Name < p[j].Name
	})
}
