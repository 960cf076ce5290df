package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/sso"
)

func newLoginCommand(g *globals) *cobra.Command {
	var token, tokenFile, caFile string
	var insecure, useSSO, device, noBrowser bool
	cmd := &cobra.Command{
		Use:   "login SERVER (--sso | --token TOKEN | --token-file FILE)",
		Short: "Log in to a kargo API server",
		Long: `Check the token with the API server and keep both in the config file (see
kargo config), readable by its owner only. The token is a Kubernetes token
the server checks, such as one from "kubectl create token", or an API token
from "kargo create token".

--token-file keeps the token out of the shell's history; - reads it from
standard input.

--sso signs in through the OpenID provider the server names: a browser
opens the provider's sign-in page (--no-browser prints the URL to open on
this machine instead), and the provider redirects back to this command on
127.0.0.1. --device signs in from another device instead, where the
provider offers the device flow: open the printed URL anywhere and type the
code. The ID token is kept as the token, and refreshed when it expires.`,
		Example: `  kargo login https://kargo.example.com --sso
  kargo login https://kargo.example.com --sso --device
  kargo login https://kargo.example.com --token-file ~/kargo-token
  kubectl create token alice | kargo login kargo.example.com --token-file -`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case useSSO && (token != "" || tokenFile != ""):
				return usageError{errors.New("give --sso or a token, not both")}
			case !useSSO && (device || noBrowser):
				return usageError{errors.New("--device and --no-browser go with --sso")}
			case useSSO:
			case token == "" && tokenFile == "":
				return usageError{errors.New("give the token with --token-file FILE (- for standard input) or --token TOKEN, or sign in with --sso")}
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
			var ssoCfg *SSOConfig
			if useSSO {
				anon, err := apiclient.New(server.String(), "", apiclient.WithCAFile(caFile), apiclient.WithInsecureSkipTLSVerify(insecure))
				if err != nil {
					return err
				}
				if token, ssoCfg, err = g.signIn(cmd, anon, server.String(), device, noBrowser); err != nil {
					return err
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
			cfg.Server, cfg.Token, cfg.CAFile, cfg.InsecureSkipTLSVerify, cfg.SSO = server.String(), token, caFile, insecure, ssoCfg
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
	f.BoolVar(&useSSO, "sso", false, "sign in through the server's OpenID provider (single sign-on)")
	f.BoolVar(&device, "device", false, "with --sso: sign in on another device (the provider's device flow)")
	f.BoolVar(&noBrowser, "no-browser", false, "with --sso: print the sign-in URL instead of opening a browser")
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

// signInTimeout bounds how long kargo login --sso waits for the user.
const signInTimeout = 5 * time.Minute

// signIn runs the single sign-on of the server's OpenID provider and
// returns the ID token and what refreshes it.
func (g *globals) signIn(cmd *cobra.Command, anon *apiclient.Client, server string, device, noBrowser bool) (string, *SSOConfig, error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), signInTimeout)
	defer cancel()
	ac, err := anon.AuthConfig(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("ask %s how to sign in: %w", server, err)
	}
	if ac.OIDC == nil {
		return "", nil, fmt.Errorf("%s offers no single sign-on; log in with a token (--token-file)", server)
	}
	opts := sso.LoginOptions{
		IssuerURL: ac.OIDC.IssuerURL, ClientID: ac.OIDC.CLIClientID, Scopes: ac.OIDC.Scopes,
		Device: device, Out: cmd.ErrOrStderr(),
	}
	if !noBrowser {
		opts.Open = g.openBrowser
	}
	t, err := sso.Login(ctx, opts)
	if err != nil {
		return "", nil, fmt.Errorf("sign in through %s: %w", ac.OIDC.IssuerURL, err)
	}
	return t.IDToken, &SSOConfig{IssuerURL: ac.OIDC.IssuerURL, ClientID: ac.OIDC.CLIClientID, Scopes: ac.OIDC.Scopes, RefreshToken: t.RefreshToken}, nil
}
