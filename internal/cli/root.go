// Package cli implements the kargo command line: the user-facing commands and
// the ones that run kargo's servers.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes of the kargo command.
const (
	// ExitOK means the command did what it was asked.
	ExitOK = 0
	// ExitError means the command failed; stderr says why.
	ExitError = 1
	// ExitUsage means the command line was wrong; stderr says how.
	ExitUsage = 2
)

// usageError marks errors in how the command was called.
type usageError struct{ error }

// Execute runs the kargo command line with args and returns the process's
// exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	if _, ok := err.(usageError); ok {
		return ExitUsage
	}
	return ExitError
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kargo",
		Short: "Continuous promotion for GitOps on Kubernetes",
		Long: `kargo moves releases through Stages (test, uat, prod, ...) by committing to
GitOps repositories and updating Argo CD Applications.

Run "kargo local" to start a complete installation on this machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCommand(),
		newLocalCommand(),
		newControllerCommand(),
		newVerifyCommand(),
	)
	return root
}
