package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apiclient"
)

func newApproveCommand(g *globals) *cobra.Command {
	var proj, freight, alias, stage string
	cmd := &cobra.Command{
		Use:   "approve --stage STAGE (--freight NAME | --freight-alias ALIAS)",
		Short: "Approve Freight for promotion to a Stage, skipping the Stages before it",
		Long: `Manually approve the Freight for promotion to the Stage, as for a hotfix that
skips the Stages in between. It takes the same permission as promoting to the
Stage, but promotes nothing: the Freight's status.approvedFor records it.`,
		Example: `  kargo approve --freight f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --stage prod --project kargo-demo
  kargo approve --freight-alias mortal-dragonfly --stage prod --project kargo-demo`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, p, f, err := g.freightAndStage(ctx, proj, freight, alias, stage, "say which Stage to approve the Freight for with --stage")
			if err != nil {
				return err
			}
			ref := firstNonEmpty(alias, freight)
			if f != nil {
				ref = f.Name
			}
			approved, err := c.Approve(ctx, p, ref, stage)
			if err != nil {
				if f == nil && apiclient.IsNotFound(err) {
					// The server's message says whether the Stage or the
					// Freight is missing.
					return err
				}
				return apiError(err, fmt.Sprintf("approve Freight %s for Stage %s", ref, stage), stageType, stage, p)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Freight %s approved for Stage %s\n", describeFreight(approved.Name, freightAlias(approved)), stage)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&proj, "project", "", "project of the Freight (default: the configured default project)")
	f.StringVar(&freight, "freight", "", "the Freight to approve, by name or alias")
	f.StringVar(&alias, "freight-alias", "", "the Freight to approve, by alias")
	f.StringVar(&stage, "stage", "", "the Stage to approve the Freight for")
	registerProjectCompletion(g, cmd)
	_ = cmd.RegisterFlagCompletionFunc("freight", g.completeFlag(freightType, true, true))
	_ = cmd.RegisterFlagCompletionFunc("freight-alias", g.completeFlag(freightType, false, true))
	_ = cmd.RegisterFlagCompletionFunc("stage", g.completeFlag(stageType, true, false))
	return cmd
}

// describeFreight is "NAME (ALIAS)", or the name alone without an alias.
func describeFreight(name, alias string) string {
	if alias == "" {
		return name
	}
	return fmt.Sprintf("%s (%s)", name, alias)
}
