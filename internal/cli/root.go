// Package cli implements the kargo command line: the user-facing commands and
// the ones that run kargo's servers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apiclient"
)

// Exit codes of the kargo command; docs/cli.md lists them for users.
const (
	// ExitOK means the command did what it was asked.
	ExitOK = 0
	// ExitError means the command failed; stderr says why.
	ExitError = 1
	// ExitUsage means the command line was wrong; stderr says how.
	ExitUsage = 2
	// ExitPromotionFailed means a Promotion followed with --wait ended
	// Failed or Errored; stderr has its message.
	ExitPromotionFailed = 3
)

// usageError marks errors in how the command was called.
type usageError struct{ error }

// globals are the settings every command shares, and the seams tests use
// in place of the process's clock and terminal.
type globals struct {
	// configFlag is --config.
	configFlag string
	// now is the clock AGE columns and progress lines are computed from.
	now func() time.Time
	// isTerminal reports whether w is a terminal, where progress lines are
	// rewritten in place.
	isTerminal func(w io.Writer) bool
	// pollInterval is how often waits read the object they follow, in case
	// the watch missed a change.
	pollInterval time.Duration
	// openBrowser opens a URL in the user's browser, for kargo login
	// --sso.
	openBrowser func(url string) error
}

func defaultGlobals() *globals {
	return &globals{now: time.Now, isTerminal: isTerminal, pollInterval: 2 * time.Second, openBrowser: openBrowser}
}

// isTerminal reports whether w is a character device, which is how a
// terminal looks without a terminal library.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Execute runs the kargo command line with args and returns the process's
// exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, args, os.Stdin, stdout, stderr, defaultGlobals())
}

func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, g *globals) int {
	root := newRootCommand(stdout, stderr, g)
	root.SetIn(stdin)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if unreachable := g.explainUnreachable(err); unreachable != nil {
		err = unreachable
	}
	if name, ok := missingProject(err); ok {
		err = g.explainMissingProject(ctx, name)
	}
	if apiclient.IsUnauthorized(err) && !strings.Contains(err.Error(), "kargo login") {
		err = fmt.Errorf("%w; run kargo login SERVER --token-file FILE to log in again", err)
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	var usage usageError
	var failed *promotionFailedError
	switch {
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &failed):
		return ExitPromotionFailed
	}
	return ExitError
}

func newRootCommand(stdout, stderr io.Writer, g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "kargo",
		Short: "Continuous promotion for GitOps on Kubernetes",
		Long: `kargo moves releases through Stages (test, uat, prod, ...) by committing to
GitOps repositories and updating Argo CD Applications.

Run "kargo local" to start a complete installation on this machine, and
"kargo login SERVER" to use a kargo API server from this command line.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.configFlag, "config", "", "config file (default $"+configEnv+", else $XDG_CONFIG_HOME/kargo/config.yaml)")
	// Our own completion command offers the shells we test; cobra's
	// default would add one we do not.
	root.CompletionOptions.DisableDefaultCmd = true
	get := newGetCommand(g)
	get.AddCommand(newGetRolesCommand(g), newGetTokensCommand(g))
	create := newManifestCommand(g, "create")
	create.AddCommand(newCreateCredentialsCommand(g), newCreateRoleCommand(g), newCreateTokenCommand(g))
	del := newManifestCommand(g, "delete")
	del.AddCommand(newDeleteRoleCommand(g), newDeleteTokenCommand(g))
	root.AddCommand(
		newVersionCommand(),
		newLocalCommand(),
		newControllerCommand(),
		newAPICommand(),
		newVerifyCommand(g),
		newLoginCommand(g),
		newConfigCommand(g),
		get,
		newPromoteCommand(g),
		newApproveCommand(g),
		newUpdateCommand(g),
		newRefreshCommand(g),
		newManifestCommand(g, "apply"),
		withSubcommands(create, newCreateFreightCommand(g)),
		del,
		newGrantCommand(g, false),
		newGrantCommand(g, true),
		newHoldCommand(g), newReleaseCommand(g), newFreezeCommand(g, true), newFreezeCommand(g, false),
		newCompletionCommand(),
	)
	return root
}

// usageArgs makes an argument check's complaint a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// withSubcommands adds subs to cmd and returns it.
func withSubcommands(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	return cmd
}
