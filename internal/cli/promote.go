package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
)

// promotionFailedError is a Promotion, followed with --wait, that ended
// Failed or Errored; it has its own exit code so that scripts can tell it
// from the CLI failing.
type promotionFailedError struct {
	name    string
	phase   kargoapi.PromotionPhase
	message string
	// subject, when set, says what failed instead of "Promotion NAME",
	// such as the verification that --verified followed.
	subject string
}

func (e *promotionFailedError) Error() string {
	subject := e.subject
	if subject == "" {
		subject = "Promotion " + e.name
	}
	msg := fmt.Sprintf("%s %s", subject, e.phase)
	if e.message != "" {
		msg += ": " + e.message
	}
	return msg
}

func newPromoteCommand(g *globals) *cobra.Command {
	var proj, freight, alias, stage, abort, follow string
	var wait, verified, overrideWindow bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "promote --stage STAGE (--freight NAME | --freight-alias ALIAS) | promote (--abort | --follow) PROMOTION",
		Short: "Promote Freight into a Stage",
		Long: `Create a Promotion that moves the Freight into the Stage, and print its name.

With --wait, follow the Promotion until it ends: a progress line (rewritten in
place on a terminal) says where it is. The exit code is 0 when it Succeeded
and 3 when it Failed or Errored, with its message on stderr.

With --verified (which implies --wait), go on following the Stage once the
Promotion succeeded, until the Freight is verified there: its health (from
Argo CD, when the Stage updates Applications) turns Healthy and its
verification, if any, passes. The exit code is 3 when verification fails.

A Promotion into a held Stage, a frozen project or a Stage whose promotion
windows are closed waits, Pending, with a message naming the stop and when
it ends. With --override-window it runs through closed windows (never
through a hold or a freeze); that takes the override-window verb on the
Stage.

With --abort PROMOTION, abort that Pending or Running Promotion instead: it
stops at its next safe point (before it starts, or between two of its steps,
never in the middle of one) and ends Aborted, recording who aborted it. The
steps it ran are not undone. It takes the promote verb on the Promotion's Stage.
With --wait, follow it until it has stopped.

With --follow PROMOTION, follow a Promotion that exists already (one waiting
for approval, say) as --wait does, and with --verified on until its Freight is
verified.`,
		Example: `  kargo promote --project kargo-demo --freight-alias mortal-dragonfly --stage test
  kargo promote --project kargo-demo --freight f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --stage test --wait
  kargo promote --project kargo-demo --abort prod-f5f87aa-x7k2p
  kargo promote --project kargo-demo --follow prod-f5f87aa-x7k2p --verified`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if abort != "" || follow != "" {
				if freight != "" || alias != "" || stage != "" || (abort != "" && (verified || follow != "")) {
					return usageError{errors.New("--abort and --follow name a Promotion that exists; they take no --freight, --freight-alias or --stage, and --abort no --verified or --follow")}
				}
				if abort != "" {
					return g.abortPromotion(cmd, proj, abort, wait, timeout)
				}
				return g.followPromotion(cmd, proj, follow, verified, timeout)
			}
			c, p, f, err := g.freightAndStage(ctx, proj, freight, alias, stage, "say which Stage to promote into with --stage")
			if err != nil {
				return err
			}
			req := apitypes.PromoteRequest{OverrideWindow: overrideWindow}
			switch {
			case f != nil:
				req.Freight = f.Name
			case alias == "" && looksLikeFreightName(freight):
				req.Freight = freight
			default:
				req.FreightAlias = firstNonEmpty(alias, freight)
			}
			promo, err := c.Promote(ctx, p, stage, req)
			if err != nil {
				if f == nil && apiclient.IsNotFound(err) {
					// The server's message says whether the Stage or the
					// Freight is missing.
					return err
				}
				return apiError(err, fmt.Sprintf("promote Freight %s to Stage %s", firstNonEmpty(req.Freight, req.FreightAlias), stage), stageType, stage, p)
			}
			out := cmd.OutOrStdout()
			if _, err := fmt.Fprintln(out, promo.Name); err != nil {
				return err
			}
			if !wait && !verified {
				return nil
			}
			ctx, cancel := withTimeout(ctx, timeout)
			defer cancel()
			if err := waitError(g.waitForPromotion(ctx, c, out, p, promo), timeout, "Promotion "+promo.Name); err != nil || !verified {
				return err
			}
			return waitError(g.waitForVerified(ctx, c, out, p, stage, promo.Spec.Freight), timeout, "verification in Stage "+stage)
		},
	}
	f := cmd.Flags()
	f.StringVar(&proj, "project", "", "project of the Stage (default: the configured default project)")
	f.StringVar(&freight, "freight", "", "the Freight to promote, by name or alias")
	f.StringVar(&alias, "freight-alias", "", "the Freight to promote, by alias")
	f.StringVar(&stage, "stage", "", "the Stage to promote into")
	f.BoolVar(&wait, "wait", false, "follow the Promotion until it ends")
	f.StringVar(&abort, "abort", "", "abort this Promotion (by name) at its next safe point instead of promoting")
	f.StringVar(&follow, "follow", "", "follow this Promotion (by name), which exists already, as --wait does")
	f.BoolVar(&verified, "verified", false, "follow the Promotion, then the Stage, until the Freight is verified there (implies --wait)")
	f.BoolVar(&overrideWindow, "override-window", false, "run even while the Stage's promotion windows keep promotions out (needs the override-window verb on the Stage)")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long, such as 10m (default: never)")
	registerProjectCompletion(g, cmd)
	_ = cmd.RegisterFlagCompletionFunc("freight", g.completeFlag(freightType, true, true))
	_ = cmd.RegisterFlagCompletionFunc("freight-alias", g.completeFlag(freightType, false, true))
	_ = cmd.RegisterFlagCompletionFunc("stage", g.completeFlag(stageType, true, false))
	return cmd
}

// oneFreightFlag checks that exactly one of --freight and --freight-alias
// was given.
func oneFreightFlag(freight, alias string) error {
	switch {
	case freight == "" && alias == "":
		return usageError{errors.New("say which Freight with --freight NAME (or alias) or --freight-alias ALIAS")}
	case freight != "" && alias != "":
		return usageError{errors.New("give --freight or --freight-alias, not both")}
	}
	return nil
}

// resolveFreight finds the Freight named, or aliased, nameOrAlias, or the
// one with alias alias. Commands resolve it first, rather than sending the
// alias along, so that a missing Freight gets a message of its own and not
// one that could be about the Stage.
func resolveFreight(ctx context.Context, c *apiclient.Client, project, nameOrAlias, alias string) (*kargoapi.Freight, error) {
	if alias == "" {
		f := &kargoapi.Freight{}
		if err := c.GetInto(ctx, apiclient.Freight, project, nameOrAlias, f); err != nil {
			return nil, apiError(err, "get Freight "+nameOrAlias, freightType, nameOrAlias, project)
		}
		return f, nil
	}
	page, err := c.List(ctx, apiclient.Freight, project, apiclient.ListOptions{Alias: alias})
	if err != nil {
		return nil, apiError(err, "find the Freight with alias "+alias, freightType, alias, project)
	}
	fs, err := apiclient.DecodeItems[kargoapi.Freight](page.Items)
	if err != nil {
		return nil, err
	}
	// The server filters by alias; checking again keeps a server that
	// ignored the parameter from handing us the wrong Freight. The field or
	// the label may match: right after a change only one has caught up.
	var found []*kargoapi.Freight
	var names []string
	for i := range fs {
		if fs[i].Alias == alias || fs[i].Labels[kargoapi.AliasLabelKey] == alias {
			found = append(found, &fs[i])
			names = append(names, fs[i].Name)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no Freight with alias %s in project %s; kargo get freight --project %s lists them", alias, project, project)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("alias %s is held by several Freight in project %s (%s); name the Freight instead", alias, project, strings.Join(names, ", "))
}

// resolveFreightToPromote is resolveFreight for the commands the server
// authorizes by the promote verb on the Stage alone: promote and approve.
// A caller who holds that verb but may not read Freight, as the seed's bob
// (the uat-promoter Role) may not, is refused by resolveFreight; then it
// returns nil, and the command names the Freight to the server as the user
// gave it, for the server to find.
func resolveFreightToPromote(ctx context.Context, c *apiclient.Client, project, nameOrAlias, alias string) (*kargoapi.Freight, error) {
	f, err := resolveFreight(ctx, c, project, nameOrAlias, alias)
	if apiclient.IsForbidden(err) {
		return nil, nil
	}
	return f, err
}

// looksLikeFreightName says whether s has the form of a Freight name (a
// SHA-1 fingerprint, 40 lowercase hex digits) rather than of an alias, as
// the server decides it.
func looksLikeFreightName(s string) bool {
	return len(s) == 40 && strings.Trim(s, "0123456789abcdef") == ""
}

// waitForPromotion follows the Promotion until it ends, drawing a progress
// line on out.
func (g *globals) waitForPromotion(ctx context.Context, c *apiclient.Client, out io.Writer, project string, promo *kargoapi.Promotion) error {
	pr := &progress{w: out, tty: g.isTerminal(out)}
	started := g.now()
	latest := promo
	draw := func() {
		pr.show(promotionLine(latest, g.now().Sub(started), pr.tty))
	}
	var ended *kargoapi.Promotion
	err := g.follow(ctx, c, apiclient.Promotions, project, promo.Name, func(raw json.RawMessage) (bool, error) {
		p := &kargoapi.Promotion{}
		if err := json.Unmarshal(raw, p); err != nil {
			return false, fmt.Errorf("decode Promotion %s: %w", promo.Name, err)
		}
		latest = p
		if p.Status.Phase.IsTerminal() {
			ended = p
			return true, nil
		}
		draw()
		return false, nil
	}, func() {
		if pr.tty {
			draw()
		}
	})
	if err != nil {
		pr.done("")
		return apiError(err, "follow Promotion "+promo.Name, promotionType, promo.Name, project)
	}
	if ended.Status.Phase == kargoapi.PromotionPhaseSucceeded {
		pr.done(promotionLine(ended, g.now().Sub(started), false))
		return nil
	}
	// The message goes to stderr, with the error; stdout only loses the
	// progress line.
	pr.done("")
	return &promotionFailedError{name: ended.Name, phase: ended.Status.Phase, message: ended.Status.Message}
}

// waitForVerified follows the Stage until freight is verified there or its
// verification fails, drawing a progress line with the Stage's health.
func (g *globals) waitForVerified(ctx context.Context, c *apiclient.Client, out io.Writer, project, stage, freight string) error {
	pr := &progress{w: out, tty: g.isTerminal(out)}
	var failed string
	var last *kargoapi.Stage
	var verifiedAt time.Time
	err := g.follow(ctx, c, apiclient.Stages, project, stage, func(raw json.RawMessage) (bool, error) {
		st := &kargoapi.Stage{}
		if err := json.Unmarshal(raw, st); err != nil {
			return false, fmt.Errorf("decode Stage %s: %w", stage, err)
		}
		last = st
		if cur := st.Status.CurrentFreight; cur == nil || cur.ID != freight {
			return false, nil
		}
		if v := st.Status.Verification; v != nil && v.Freight == freight && v.Phase == kargoapi.VerificationPhaseFailed {
			failed = v.Message
			return true, nil
		}
		f := &kargoapi.Freight{}
		if err := c.GetInto(ctx, apiclient.Freight, project, freight, f); err != nil {
			// A caller who may promote but not read Freight (the seed's
			// bob) learns it from the Stage's phase alone.
			if !apiclient.IsForbidden(err) {
				return false, err
			}
			if st.Status.Phase == kargoapi.StagePhaseSteady && st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy {
				return true, nil
			}
		} else if _, ok := f.Status.VerifiedIn[stage]; ok {
			// Argo CD's view can flicker for a moment after a sync: once
			// verified, wait briefly for the health to settle.
			if verifiedAt.IsZero() {
				verifiedAt = g.now()
			}
			return healthyOrUnwatched(st) || g.now().Sub(verifiedAt) > healthSettle, nil
		}
		pr.show(fmt.Sprintf("Stage %s: health %s, waiting for verification", stage, healthOf(st)))
		return false, nil
	}, nil)
	if err != nil {
		pr.done("")
		return apiError(err, "follow Stage "+stage, stageType, stage, project)
	}
	if failed != "" {
		pr.done("")
		return &promotionFailedError{subject: "verification of Freight " + freight + " in Stage " + stage, phase: "Failed", message: failed}
	}
	pr.done(fmt.Sprintf("Verified in %s: health %s", stage, healthOf(last)))
	return nil
}

// healthSettle is how long a command that waits for verification waits
// on for the Stage's health to read Healthy once the Freight is verified.
const healthSettle = 30 * time.Second

// healthyOrUnwatched says whether st reports no health (no Applications)
// or Healthy.
func healthyOrUnwatched(st *kargoapi.Stage) bool {
	return st.Status.Health == nil || st.Status.Health.Status == kargoapi.HealthStateHealthy
}

func healthOf(st *kargoapi.Stage) string {
	if st == nil || st.Status.Health == nil {
		return string(kargoapi.HealthStateUnknown)
	}
	h := stageHealth(st)
	if len(st.Status.Health.Issues) > 0 {
		h += " (" + strings.Join(st.Status.Health.Issues, "; ") + ")"
	}
	return h
}

// promotionLine says where a Promotion is: "Promotion test.01 is Running:
// message", with the time spent on a terminal, where it is redrawn every
// second and shows that the wait is alive.
func promotionLine(p *kargoapi.Promotion, elapsed time.Duration, tty bool) string {
	phase := p.Status.Phase
	if phase == "" {
		phase = kargoapi.PromotionPhasePending
	}
	var b strings.Builder
	if phase.IsTerminal() {
		fmt.Fprintf(&b, "Promotion %s %s", p.Name, phase)
	} else {
		fmt.Fprintf(&b, "Promotion %s is %s", p.Name, phase)
	}
	if tty {
		fmt.Fprintf(&b, " (%s)", elapsed.Round(time.Second))
	}
	if p.Status.Message != "" {
		b.WriteString(": " + p.Status.Message)
	}
	return b.String()
}

// progress is one line of progress: rewritten in place on a terminal,
// printed again only when it changes otherwise (a log or a pipe).
type progress struct {
	w    io.Writer
	tty  bool
	last string
}

func (p *progress) show(line string) {
	if p.tty {
		// \r back to the start, the line, then erase what a longer
		// previous line left behind.
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.last = line
		return
	}
	if line != p.last {
		fmt.Fprintln(p.w, line)
		p.last = line
	}
}

// done ends the progress line with a final one, or just clears it.
func (p *progress) done(final string) {
	switch {
	case p.tty && final != "":
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", final)
	case p.tty && p.last != "":
		fmt.Fprint(p.w, "\r\x1b[K")
	case final != "" && final != p.last:
		fmt.Fprintln(p.w, final)
	}
}

// freightAndStage checks the flags that promote and approve share, connects
// to the server and finds the Freight: it returns the client, the project
// and the Freight (nil when the user may promote but not read Freight; the
// server then finds it). noStage is the usage error for a missing --stage.
func (g *globals) freightAndStage(ctx context.Context, proj, freight, alias, stage, noStage string) (*apiclient.Client, string, *kargoapi.Freight, error) {
	if err := oneFreightFlag(freight, alias); err != nil {
		return nil, "", nil, err
	}
	if stage == "" {
		return nil, "", nil, usageError{errors.New(noStage)}
	}
	c, cfg, err := g.connect()
	if err != nil {
		return nil, "", nil, err
	}
	p, err := project(proj, cfg)
	if err != nil {
		return nil, "", nil, err
	}
	f, err := resolveFreightToPromote(ctx, c, p, freight, alias)
	if err != nil {
		return nil, "", nil, err
	}
	return c, p, f, nil
}
