package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apiclient"
)

func newLoginCommand(g *globals) *cobra.Command {
	var token, tokenFile, caFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "login SERVER (--token TOKEN | --token-file FILE)",
		Short: "Log in to a kargo API server",
		Long: `Check the token with the API server and keep both in the config file (see
kargo config), readable by its owner only. The token is a Kubernetes token
the server checks, such as one from "kubectl create token".

--token-file keeps the token out of the shell's history; - reads it from
standard input.`,
		Example: `  kargo login https://kargo.example.com --token-file ~/kargo-token
  kubectl create token alice | kargo login kargo.example.com --token-file -`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case token == "" && tokenFile == "":
				return usageError{errors.New("give the token with --token-file FILE (- for standard input) or --token TOKEN")}
			case token != "" && tokenFile != "":
				return usageError{errors.New("give --token or --token-file, not both")}
			}
			if tokenFile != "" {
				var err error
				if token, err = readToken(tokenFile, cmd.InOrStdin()); err != nil {
					return err
				}
			}
			server, err := apiclient.ParseServer(args[0])
			if err != nil {
				return usageError{err}
			}
			if caFile != "" {
				// The config is read from anywhere later; a relative path
				// would stop working from another directory.
				if caFile, err = filepath.Abs(caFile); err != nil {
					return fmt.Errorf("find CA file: %w", err)
				}
			}
			c, err := apiclient.New(server.String(), token, apiclient.WithCAFile(caFile), apiclient.WithInsecureSkipTLSVerify(insecure))
			if err != nil {
				return err
			}
			who, err := c.WhoAmI(cmd.Context())
			switch {
			case apiclient.IsUnauthorized(err):
				// Not wrapped: the hint to run kargo login would be no help
				// to someone doing just that.
				return fmt.Errorf("log in to %s: the server did not accept the token: %v", server, err)
			case err != nil:
				return fmt.Errorf("log in to %s: %w", server, err)
			}
			path := g.configPath()
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			if cfg.Server != "" && cfg.Server != server.String() {
				// A default project belongs to the server it was set for.
				cfg.Project = ""
			}
			cfg.Server, cfg.Token, cfg.CAFile, cfg.InsecureSkipTLSVerify = server.String(), token, caFile, insecure
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			if insecure {
				fmt.Fprintln(cmd.ErrOrStderr(), "Warning: the server's certificate is not verified (--insecure-skip-tls-verify); anyone in between can read the token")
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s\n", server, who.Username)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "the bearer token (prefer --token-file: a flag ends up in the shell's history)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the bearer token, or - for standard input")
	f.StringVar(&caFile, "ca-file", "", "PEM bundle to trust for the server's certificate instead of the system's")
	f.BoolVar(&insecure, "insecure-skip-tls-verify", false, "do not verify the server's certificate (for throwaway local servers)")
	_ = cmd.MarkFlagFilename("token-file")
	_ = cmd.MarkFlagFilename("ca-file", "pem", "crt")
	return cmd
}

// readToken reads a token from path (- for stdin), without the newline
// editors and `kubectl create token` leave at its end.
func readToken(path string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", usageError{fmt.Errorf("the token file %s is empty", path)}
	}
	return token, nil
}
