package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

// abortPromotion is kargo promote --abort: it asks the server to abort the
// Promotion and, with wait, follows it until it has ended. A Promotion that
// ended Aborted is the success of this command; one that ended otherwise
// first (it finished before its next safe point) is reported as such.
func (g *globals) abortPromotion(cmd *cobra.Command, proj, name string, wait bool, timeout time.Duration) error {
	ctx := cmd.Context()
	c, cfg, err := g.connect()
	if err != nil {
		return err
	}
	p, err := project(proj, cfg)
	if err != nil {
		return err
	}
	promo, err := c.AbortPromotion(ctx, p, name)
	if err != nil {
		return apiError(err, "abort Promotion "+name, promotionType, name, p)
	}
	out := cmd.OutOrStdout()
	if !wait {
		_, err := fmt.Fprintf(out, "Promotion %s will stop at its next safe point (asked by %s)\n", promo.Name, promo.Annotations[kargoapi.AbortAnnotationKey])
		return err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	err = g.waitForPromotion(ctx, c, out, p, promo)
	if failed, ok := err.(*promotionFailedError); ok && failed.phase == kargoapi.PromotionPhaseAborted {
		_, err := fmt.Fprintf(out, "Promotion %s Aborted: %s\n", failed.name, failed.message)
		return err
	}
	if err == nil {
		return fmt.Errorf("promotion %s Succeeded before it reached a safe point to stop at", name)
	}
	return waitError(err, timeout, "Promotion "+name)
}

// followPromotion is kargo promote --follow: it follows a Promotion that
// exists already until it ends and, with verified, its Stage until the
// Freight is verified there.
func (g *globals) followPromotion(cmd *cobra.Command, proj, name string, verified bool, timeout time.Duration) error {
	ctx := cmd.Context()
	c, cfg, err := g.connect()
	if err != nil {
		return err
	}
	p, err := project(proj, cfg)
	if err != nil {
		return err
	}
	raw, err := c.Get(ctx, apiclient.Promotions, p, name)
	if err != nil {
		return apiError(err, "read Promotion "+name, promotionType, name, p)
	}
	promo := &kargoapi.Promotion{}
	if err := json.Unmarshal(raw, promo); err != nil {
		return fmt.Errorf("decode Promotion %s: %w", name, err)
	}
	out := cmd.OutOrStdout()
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	if err := waitError(g.waitForPromotion(ctx, c, out, p, promo), timeout, "Promotion "+name); err != nil || !verified {
		return err
	}
	return waitError(g.waitForVerified(ctx, c, out, p, promo.Spec.Stage, promo.Spec.Freight), timeout, "verification in Stage "+promo.Spec.Stage)
}
