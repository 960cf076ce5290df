package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apiclient"
)

func newVerifyCommand(g *globals) *cobra.Command {
	var proj, kubeconfig string
	var abort bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify Freight in a Stage again, or stop a verification",
	}
	stage := &cobra.Command{
		Use:   "stage NAME",
		Short: "Verify a Stage's current Freight again, or abort its running verification",
		Long: `Ask kargo to verify the Stage's current Freight again (its health and every
check of spec.verification), or with --abort to stop the verification that is
running. The Stage's status.verification shows the outcome; earlier ones move
to status.verificationHistory.`,
		Example: `  kargo verify stage uat --project kargo-demo
  kargo verify stage uat --project kargo-demo --abort`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeNames(stageType, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kubeconfig != "" {
				// Silently ignoring it could act on another installation
				// than the one the user named.
				return usageError{errors.New("--kubeconfig is no longer used: kargo verify goes through kargo's API server; run kargo login SERVER --token-file FILE and drop --kubeconfig")}
			}
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			what := "re-verification"
			if abort {
				what = "abort of the verification"
			}
			name := args[0]
			if _, err := c.Verify(cmd.Context(), p, name, abort); err != nil {
				if apiclient.IsNotFound(err) {
					return notFound(err, stageType, name, p)
				}
				if apiclient.IsForbidden(err) || apiclient.IsUnauthorized(err) {
					return err
				}
				return fmt.Errorf("ask for the %s of Stage %s: %w", what, name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s of Stage %s requested; follow it in its status.verification\n", what, name)
			return nil
		},
	}
	stage.Flags().StringVar(&proj, "project", "", "project of the Stage (default: the configured default project)")
	stage.Flags().BoolVar(&abort, "abort", false, "stop the running verification instead")
	stage.Flags().StringVar(&kubeconfig, "kubeconfig", "", "no longer used: kargo verify goes through kargo's API server (kargo login)")
	_ = stage.Flags().MarkDeprecated("kubeconfig", "kargo verify goes through kargo's API server; run kargo login")
	registerProjectCompletion(g, stage)
	verify.AddCommand(stage)
	return verify
}
