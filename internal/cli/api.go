package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/ui"
)

func newAPICommand() *cobra.Command {
	var addr, certFile, keyFile, metricsAddr, gitCacheDir string
	var plainHTTP, readGitCredentials bool
	var outbound egressFlags
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
			commits, creds, err := apiCommitReader(cfg, gitCacheDir, readGitCredentials, outbound.policy())
			if err != nil {
				return err
			}
			srv, err := server.New(server.Options{Config: cfg, Addr: addr, TLS: tlsConfig, UI: ui.Files(), OIDC: oidcOptions(&oidc), Commits: commits, Credentials: creds})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			metricsDone := make(chan error, 1)
			if metricsAddr != "0" {
				go func() {
					err := serveMetrics(ctx, metricsAddr)
					if err != nil {
						cancel() // the API server stops too: a replica without its metrics is a mistake to notice
					}
					metricsDone <- err
				}()
			}
			err = srv.Start(ctx)
			cancel()
			if metricsAddr != "0" {
				err = errors.Join(err, <-metricsDone)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", ":8443", "address to listen on")
	f.StringVar(&certFile, "tls-cert-file", "", "PEM certificate to serve HTTPS with")
	f.StringVar(&keyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	f.BoolVar(&plainHTTP, "plain-http", false, "serve plain HTTP, for use behind a proxy that terminates TLS")
	f.StringVar(&gitCacheDir, "git-cache-dir", filepath.Join(os.TempDir(), "kargo-api-git"),
		"directory of the Git cache the server reads the commits of Promotions with")
	f.BoolVar(&readGitCredentials, "read-git-credentials", false,
		"read the projects' Git credential Secrets, so that the commits of Promotions in private repositories show; needs get, list and watch on Secrets (the ClusterRole kargo-api-credentials). Without it only public repositories' commits show")
	f.Var(&ruleList{&outbound.rules}, "allow-outbound",
		"addresses the server may read Git repositories at although the outbound address policy refuses them (loopback, private, link-local, metadata); the same rules as the controller's --allow-outbound")
	f.BoolVar(&outbound.allowPrivate, "allow-private-outbound", false,
		"let the server read Git repositories at private addresses, as the controller's --allow-private-outbound")
	f.StringVar(&metricsAddr, "metrics-addr", ":8080", `address of the Prometheus metrics endpoint (plain HTTP, /metrics); "0" turns it off`)
	bindOIDCFlags(f, &oidc)
	logs.register(f)
	return cmd
}

// serveMetrics serves the Prometheus metrics of the process (controller-
// runtime's registry, where kargo's metrics are) at addr/metrics until ctx
// ends.
func serveMetrics(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s for metrics: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		return fmt.Errorf("serve metrics on %s: %w", addr, err)
	}
}
