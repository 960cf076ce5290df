package cli

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/ui"
)

func newAPICommand() *cobra.Command {
	var addr, certFile, keyFile string
	var plainHTTP bool
	var oidc sso.Config
	var logs logFlags
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Run kargo's API server against a cluster",
		Long: `Run kargo's API server, which the kargo CLI and the web UI talk to, against the
cluster named by $KUBECONFIG or the in-cluster service account. It
authenticates callers by their Kubernetes bearer token, or by an ID token of
the OpenID provider of --oidc-issuer-url, and authorizes every call as the
caller. This is what a cluster install runs; kargo local runs one
itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logs.setup(cmd.ErrOrStderr()); err != nil {
				return err
			}
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("find cluster: %w", err)
			}
			var tlsConfig *tls.Config
			switch {
			case certFile != "" && keyFile != "":
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					return fmt.Errorf("load the TLS certificate %s and key %s: %w", certFile, keyFile, err)
				}
				tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
			case plainHTTP:
			default:
				return usageError{errors.New("bearer tokens must not travel in clear text: pass --tls-cert-file and --tls-key-file, or --plain-http behind a TLS-terminating proxy")}
			}
			srv, err := server.New(server.Options{Config: cfg, Addr: addr, TLS: tlsConfig, UI: ui.Files(), OIDC: oidcOptions(&oidc)})
			if err != nil {
				return err
			}
			return srv.Start(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", ":8443", "address to listen on")
	f.StringVar(&certFile, "tls-cert-file", "", "PEM certificate to serve HTTPS with")
	f.StringVar(&keyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	f.BoolVar(&plainHTTP, "plain-http", false, "serve plain HTTP, for use behind a proxy that terminates TLS")
	bindOIDCFlags(f, &oidc)
	logs.register(f)
	return cmd
}
