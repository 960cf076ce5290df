package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

func newUpdateCommand(g *globals) *cobra.Command {
	update := &cobra.Command{
		Use:   "update",
		Short: "Change an object",
	}
	var proj, name, oldAlias, newAlias string
	freight := &cobra.Command{
		Use:     "freight (--name NAME | --old-alias ALIAS) --new-alias ALIAS",
		Aliases: []string{"freights"},
		Short:   "Give Freight a new alias",
		Long: `Give the Freight, named by its name or its current alias, a new alias. The
alias field and the kargo.akuity.io/alias label both change.`,
		Example: `  kargo update freight --project=kargo-demo --name=f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --new-alias=frozen-tauntaun
  kargo update freight --project=kargo-demo --old-alias=mortal-dragonfly --new-alias=frozen-tauntaun`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case name == "" && oldAlias == "":
				return usageError{errors.New("say which Freight with --name NAME or --old-alias ALIAS")}
			case name != "" && oldAlias != "":
				return usageError{errors.New("give --name or --old-alias, not both")}
			case newAlias == "":
				return usageError{errors.New("say what the new alias is with --new-alias")}
			}
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			f, err := resolveFreight(ctx, c, p, name, oldAlias)
			if err != nil {
				return err
			}
			before := freightAlias(f)
			if _, err := c.SetAlias(ctx, p, f.Name, newAlias); err != nil {
				return apiError(err, fmt.Sprintf("set the alias of Freight %s", f.Name), freightType, f.Name, p)
			}
			// The Stages that hold the Freight show its alias in their
			// status, which the Stage controller refreshes a moment later;
			// wait for that (briefly) so that a `kargo get stages` right
			// after this command shows the new alias.
			stagesFollowAlias(ctx, c, p, f.Name, newAlias, 10*time.Second)
			if before == "" {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Freight %s is now aliased %s\n", f.Name, newAlias)
			} else {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Freight %s is now aliased %s (was %s)\n", f.Name, newAlias, before)
			}
			return err
		},
	}
	fl := freight.Flags()
	fl.StringVar(&proj, "project", "", "project of the Freight (default: the configured default project)")
	fl.StringVar(&name, "name", "", "the Freight's name")
	fl.StringVar(&oldAlias, "old-alias", "", "the Freight's current alias")
	fl.StringVar(&newAlias, "new-alias", "", "the alias to give it")
	registerProjectCompletion(g, freight)
	_ = freight.RegisterFlagCompletionFunc("name", g.completeFlag(freightType, true, false))
	_ = freight.RegisterFlagCompletionFunc("old-alias", g.completeFlag(freightType, false, true))
	_ = freight.RegisterFlagCompletionFunc("new-alias", cobra.NoFileCompletions)
	update.AddCommand(freight)
	return update
}

// stagesFollowAlias polls, for at most timeout, until no Stage of project
// shows Freight name as its current Freight under another alias than alias.
// It gives up quietly: the alias is set either way, and the Stages follow.
func stagesFollowAlias(ctx context.Context, c *apiclient.Client, project, name, alias string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		raw, err := c.ListAll(ctx, apiclient.Stages, project, apiclient.ListOptions{})
		if err != nil {
			return
		}
		behind := false
		for _, r := range raw {
			var s kargoapi.Stage
			if json.Unmarshal(r, &s) != nil {
				continue
			}
			if f := s.Status.CurrentFreight; f != nil && f.ID == name && f.Alias != alias {
				behind = true
				break
			}
		}
		if !behind {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
