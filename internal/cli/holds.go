package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/flowgate"
)

func newHoldCommand(g *globals) *cobra.Command {
	var proj, reason string
	hold := &cobra.Command{
		Use:   "hold",
		Short: "Hold a Stage: no Promotion into it starts until it is released",
	}
	stage := &cobra.Command{
		Use:   "stage NAME --reason REASON",
		Short: "Hold a Stage: no Promotion into it starts until it is released",
		Long: `Hold the Stage: no Promotion into it, automatic or manual, starts until someone
releases it (kargo release stage). A running Promotion finishes; the ones
queued, and any made meanwhile, wait, Pending, with a message naming the hold,
and run in order once it is released. kargo get stages shows the hold, who set
it and why. It takes the hold verb on the Stage (kargo-promoter and
kargo-admin have it); kargo records you as who held it.`,
		Example:           `  kargo hold stage prod --project kargo-demo --reason "checkout errors since 14:02, investigating"`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeNames(stageType, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{errors.New("say why with --reason: everyone whose promotions wait reads it")}
			}
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			st, err := c.HoldStage(cmd.Context(), p, args[0], reason)
			if err != nil {
				return holdError(err, "hold Stage "+args[0], args[0], p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Stage %s held by %s: no Promotion into it starts until kargo release stage %s\n", args[0], st.Status.Hold.By, args[0])
			return nil
		},
	}
	stage.Flags().StringVar(&proj, "project", "", "project of the Stage (default: the configured default project)")
	stage.Flags().StringVar(&reason, "reason", "", "why promotions stop (required; at most 1024 characters)")
	registerProjectCompletion(g, stage)
	hold.AddCommand(stage)
	return hold
}

func newReleaseCommand(g *globals) *cobra.Command {
	var proj string
	release := &cobra.Command{
		Use:   "release",
		Short: "Release a Stage's hold",
	}
	stage := &cobra.Command{
		Use:   "stage NAME",
		Short: "Release a Stage's hold: its waiting Promotions run, in order",
		Long: `Release the Stage's hold (kargo hold stage): the Promotions that waited run,
one at a time, in the order they were made. It takes the release verb on the
Stage (kargo-admin has it).`,
		Example:           `  kargo release stage prod --project kargo-demo`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeNames(stageType, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			if _, err := c.ReleaseStage(cmd.Context(), p, args[0]); err != nil {
				return holdError(err, "release Stage "+args[0], args[0], p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Stage %s released\n", args[0])
			return nil
		},
	}
	stage.Flags().StringVar(&proj, "project", "", "project of the Stage (default: the configured default project)")
	registerProjectCompletion(g, stage)
	release.AddCommand(stage)
	return release
}

// newFreezeCommand returns kargo freeze (freeze) or kargo unfreeze.
func newFreezeCommand(g *globals, freeze bool) *cobra.Command {
	var proj, reason string
	verb, short := "unfreeze", "Unfreeze a project: its waiting Promotions run, in order"
	long := `Unfreeze the project (kargo freeze project): the Promotions that waited run,
in each Stage one at a time in the order they were made (a Stage that is also
held waits for its release). It takes the unfreeze verb on every Stage of the
project (kargo-admin has it).`
	example := `  kargo unfreeze project kargo-demo`
	if freeze {
		verb, short = "freeze", "Freeze a project: no Promotion in it starts until it is unfrozen"
		long = `Freeze the project ("stop the line"): no Promotion into any of its Stages,
automatic or manual, starts until someone unfreezes it (kargo unfreeze
project). Running Promotions finish; the others wait, Pending, with a message
naming the freeze. kargo get stages shows it. It takes the freeze verb on
every Stage of the project (kargo-admin has it); kargo records you as who
froze it.`
		example = `  kargo freeze project kargo-demo --reason "incident 4711: payments down"`
	}
	top := &cobra.Command{Use: verb, Short: short}
	cmd := &cobra.Command{
		Use:     "project [NAME]",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if proj != "" && proj != args[0] {
					return usageError{fmt.Errorf("name the project once: %s or --project %s", args[0], proj)}
				}
				proj = args[0]
			}
			if freeze && reason == "" {
				return usageError{errors.New("say why with --reason: everyone whose promotions wait reads it")}
			}
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			if freeze {
				got, err := c.Freeze(cmd.Context(), p, reason)
				if err != nil {
					return holdError(err, "freeze project "+p, "", p)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Project %s frozen by %s: no Promotion in it starts until kargo unfreeze project %s\n", p, got.Status.Freeze.By, p)
				return nil
			}
			if _, err := c.Unfreeze(cmd.Context(), p); err != nil {
				return holdError(err, "unfreeze project "+p, "", p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Project %s unfrozen\n", p)
			return nil
		},
	}
	cmd.Flags().StringVar(&proj, "project", "", "the project (default: the configured default project)")
	if freeze {
		cmd.Flags().StringVar(&reason, "reason", "", "why promotions stop (required; at most 1024 characters)")
	}
	top.AddCommand(cmd)
	return top
}

// holdError is the error of a hold, release, freeze or unfreeze: the
// server's own message for a refusal, a conflict (held already) or a bad
// request, which say what to do.
func holdError(err error, what, stage, p string) error {
	switch {
	case stage != "" && apiclient.IsNotFound(err):
		return notFound(err, stageType, stage, p)
	case apiclient.IsForbidden(err), apiclient.IsUnauthorized(err), apiclient.IsNotFound(err), apiclient.IsConflict(err), isBadRequest(err):
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// maxStopCell bounds the STOP column's width: a reason may be long.
const maxStopCell = 60

// stopCell is the STOP column of a Stage: its hold, else the project's
// freeze, else the window that keeps promotions out, or nothing.
func stopCell(st *kargoapi.Stage, freeze *kargoapi.Hold, windows []kargoapi.PromotionWindow, now time.Time) string {
	var project *kargoapi.Project
	if freeze != nil {
		project = &kargoapi.Project{}
		project.Status.Freeze = freeze
	}
	stop := flowgate.Check(st, project, windows, now, false)
	if stop == nil {
		return ""
	}
	cell := stop.Short()
	if h := stop.Hold; h != nil {
		verb := "held"
		if stop.Kind == flowgate.StopFreeze {
			verb = "frozen"
		}
		cell = fmt.Sprintf("%s by %s %s ago: %s", verb, h.By, duration.HumanDuration(now.Sub(h.At.Time)), h.Reason)
	}
	if utf8.RuneCountInString(cell) > maxStopCell {
		cell = string([]rune(cell)[:maxStopCell-1]) + "…"
	}
	return cell
}

// withStops returns the Stage table with a STOP column, before AGE, when
// something keeps Promotions out of one of the Stages listed: their holds,
// the project's freeze and its windows, read once for the listing (and its
// watch). What the caller may not read is left out: the column then shows
// holds alone. Without any stop the table is the usual one.
func withStops(ctx context.Context, c *apiclient.Client, proj string, rt *resourceType, now func() time.Time) *resourceType {
	freeze, _ := c.GetFreeze(ctx, proj)
	var windows []kargoapi.PromotionWindow
	if items, err := c.ListAll(ctx, apiclient.PromotionWindows, proj, apiclient.ListOptions{}); err == nil {
		if objs, err := decodeObjects(promotionWindowType, items); err == nil {
			for _, o := range objs {
				windows = append(windows, *o.typed.(*kargoapi.PromotionWindow))
			}
		}
	}
	return stopsTable(rt, freeze, windows, now)
}

// stopsTable is withStops once the freeze and windows are read.
func stopsTable(rt *resourceType, freeze *kargoapi.Hold, windows []kargoapi.PromotionWindow, now func() time.Time) *resourceType {
	out := *rt
	last := len(rt.columns) - 1 // AGE
	columns := append(append(append([]string{}, rt.columns[:last]...), "STOP"), rt.columns[last:]...)
	out.several = &tableVariant{
		when: func(objs []client.Object) bool {
			for _, o := range objs {
				if stopCell(o.(*kargoapi.Stage), freeze, windows, now()) != "" {
					return true
				}
			}
			return false
		},
		columns: columns,
		row: func(o client.Object, now time.Time) []string {
			row := rt.row(o, now)
			return append(append(append([]string{}, row[:last]...), stopCell(o.(*kargoapi.Stage), freeze, windows, now)), row[last:]...)
		},
	}
	return &out
}

var promotionWindowType = &resourceType{
	api: apiclient.PromotionWindows, kind: "PromotionWindow", aliases: []string{"promotionwindow", "window", "windows"},
	newObject: func() client.Object { return &kargoapi.PromotionWindow{} },
	columns:   []string{"NAME", "KIND", "TIME ZONE", "OPEN NOW", "AGE"},
	row: func(o client.Object, now time.Time) []string {
		w := o.(*kargoapi.PromotionWindow)
		tz := w.Spec.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		open := "invalid"
		if pw, err := flowgate.ParseWindow(w); err == nil {
			open = "no"
			if ok, _ := pw.Open(now); ok {
				open = "yes"
			}
		}
		return []string{w.Name, string(w.Spec.Kind), tz, open, age(w, now)}
	},
}

func isBadRequest(err error) bool {
	st, ok := apiclient.StatusOf(err)
	return ok && st.Code == http.StatusBadRequest
}
