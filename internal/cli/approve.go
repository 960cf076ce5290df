package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
)

func newApproveCommand(g *globals) *cobra.Command {
	var proj, freight, alias, stage, comment string
	cmd := &cobra.Command{
		Use:   "approve --stage STAGE (--freight NAME | --freight-alias ALIAS) [--comment WHY]",
		Short: "Approve Freight for a Stage: sign off for its approval policy, or let it skip the Stages before it",
		Long: `Approve the Freight for the Stage, in the ways your rights allow:

- with the approve verb on the Stage (the kargo-approver role), your approval,
  with your comment, counts toward the Stage's approval policies: a Promotion
  of the Freight into the Stage waits until they are met (your approval never
  counts for a Promotion you created yourself);
- with the promote verb, the Freight becomes available to the Stage without
  passing through the Stages before it, as for a hotfix (status.approvedFor).

It promotes nothing. The Freight's status records who approved, when and why;
kargo get audit shows the approval too.`,
		Example: `  kargo approve --freight f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --stage prod --project kargo-demo
  kargo approve --freight-alias mortal-dragonfly --stage prod --project kargo-demo --comment "CAB-1234 approved"`,
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
			approved, err := c.ApproveWithComment(ctx, p, ref, apitypes.ApproveRequest{Stage: stage, Comment: comment})
			if err != nil {
				if f == nil && apiclient.IsNotFound(err) {
					// The server's message says whether the Stage or the
					// Freight is missing.
					return err
				}
				return apiError(err, fmt.Sprintf("approve Freight %s for Stage %s", ref, stage), stageType, stage, p)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Freight %s approved for Stage %s%s\n", describeFreight(approved.Name, freightAlias(approved)), stage, approvalSummary(approved, stage))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&proj, "project", "", "project of the Freight (default: the configured default project)")
	f.StringVar(&freight, "freight", "", "the Freight to approve, by name or alias")
	f.StringVar(&alias, "freight-alias", "", "the Freight to approve, by alias")
	f.StringVar(&stage, "stage", "", "the Stage to approve the Freight for")
	f.StringVar(&comment, "comment", "", "why you approve (kept with the approval, at most 1024 characters)")
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

// approvalSummary says who has approved the Freight for the Stage so far,
// when the answer shows it.
func approvalSummary(f *kargoapi.Freight, stage string) string {
	list := f.Status.Approvals[stage]
	if len(list) == 0 {
		return ""
	}
	users := make([]string, 0, len(list))
	for _, a := range list {
		users = append(users, a.User)
	}
	return fmt.Sprintf(" (approvals: %s)", strings.Join(users, ", "))
}
