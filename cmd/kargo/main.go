// Command kargo is the one kargo binary: the CLI, the controllers
// (`kargo controller`) and a whole local installation (`kargo local`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kargohq/kargo/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
