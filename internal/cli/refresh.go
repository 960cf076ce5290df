package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

func newRefreshCommand(g *globals) *cobra.Command {
	refresh := &cobra.Command{
		Use:   "refresh",
		Short: "Make a Warehouse or Stage look for new artifacts now",
	}
	for _, rt := range []*resourceType{warehouseType, stageType} {
		var proj string
		var wait bool
		var timeout time.Duration
		cmd := &cobra.Command{
			Use:     rt.aliases[0] + " NAME",
			Aliases: []string{rt.plural()},
			Short:   "Make a " + rt.kind + " look for new artifacts now",
			Long: `Ask the ` + rt.kind + ` to ask every repository it subscribes to for new artifacts
now, instead of at its next interval. With --wait, wait until its controller
has done so (status.lastHandledRefresh shows the request's token).`,
			Example:           "  kargo refresh " + rt.aliases[0] + " NAME --project kargo-demo --wait",
			Args:              usageArgs(cobra.ExactArgs(1)),
			ValidArgsFunction: g.completeNames(rt, false),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, cfg, err := g.connect()
				if err != nil {
					return err
				}
				p, err := project(proj, cfg)
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				name := args[0]
				var obj client.Object
				if rt == warehouseType {
					obj, err = c.RefreshWarehouse(ctx, p, name)
				} else {
					obj, err = c.RefreshStage(ctx, p, name)
				}
				if err != nil {
					return apiError(err, fmt.Sprintf("refresh %s %s", rt.kind, name), rt, name, p)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Refresh of %s %s requested\n", rt.kind, name)
				if !wait {
					return nil
				}
				if st, ok := obj.(*kargoapi.Stage); ok && (st.Spec.Subscriptions == nil || st.Spec.Subscriptions.Repos == nil) {
					// Only Stages with repositories of their own poll;
					// the others would never acknowledge the token.
					fmt.Fprintf(out, "Stage %s subscribes to no repositories itself; there is nothing to wait for\n", name)
					return nil
				}
				token := obj.GetAnnotations()[kargoapi.RefreshAnnotationKey]
				if token == "" {
					return fmt.Errorf("wait for the refresh of %s %s: the server did not say which refresh token it set", rt.kind, name)
				}
				ctx, cancel := withTimeout(ctx, timeout)
				defer cancel()
				done, err := g.waitForRefresh(ctx, c, rt, p, name, token)
				if err != nil {
					return waitError(err, timeout, fmt.Sprintf("refresh of %s %s", rt.kind, name))
				}
				return reportRefresh(out, rt, done)
			},
		}
		cmd.Flags().StringVar(&proj, "project", "", "project of the "+rt.kind+" (default: the configured default project)")
		cmd.Flags().BoolVar(&wait, "wait", false, "wait until the controller has acted on the refresh")
		cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long, such as 2m (default: never)")
		registerProjectCompletion(g, cmd)
		refresh.AddCommand(cmd)
	}
	return refresh
}

// waitForRefresh waits until the object's status.lastHandledRefresh is
// token, and returns the object as it was then.
func (g *globals) waitForRefresh(ctx context.Context, c *apiclient.Client, rt *resourceType, project, name, token string) (client.Object, error) {
	var done client.Object
	err := g.follow(ctx, c, rt.api, project, name, func(raw json.RawMessage) (bool, error) {
		obj := rt.newObject()
		if err := json.Unmarshal(raw, obj); err != nil {
			return false, fmt.Errorf("decode %s %s: %w", rt.kind, name, err)
		}
		if lastHandledRefresh(obj) != token {
			return false, nil
		}
		done = obj
		return true, nil
	}, nil)
	if err != nil {
		return nil, apiError(err, fmt.Sprintf("follow %s %s", rt.kind, name), rt, name, project)
	}
	return done, nil
}

func lastHandledRefresh(obj client.Object) string {
	switch o := obj.(type) {
	case *kargoapi.Warehouse:
		return o.Status.LastHandledRefresh
	case *kargoapi.Stage:
		return o.Status.LastHandledRefresh
	}
	return ""
}

// reportRefresh says what the refresh found; a failed discovery, which
// leaves Ready False, is an error, since that is what the user waited to
// learn.
func reportRefresh(out io.Writer, rt *resourceType, obj client.Object) error {
	var conds []metav1.Condition
	last := ""
	switch o := obj.(type) {
	case *kargoapi.Warehouse:
		conds = o.Status.Conditions
		if f := o.Status.LastFreight; f != nil {
			last = describeFreight(f.Name, f.Alias)
		}
	case *kargoapi.Stage:
		conds = o.Status.Conditions
	}
	for _, c := range conds {
		if c.Type == kargoapi.ConditionReady && c.Status == metav1.ConditionFalse {
			return fmt.Errorf("%s %s refreshed, but it is not Ready: %s", rt.kind, obj.GetName(), c.Message)
		}
	}
	msg := fmt.Sprintf("%s %s refreshed", rt.kind, obj.GetName())
	if last != "" {
		msg += "; its newest Freight is " + last
	}
	_, err := fmt.Fprintln(out, msg)
	return err
}
