package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/localcp"
	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/internal/webhook"
	"github.com/kargohq/kargo/ui"
)

// binDirEnv names the directory of kube-apiserver, etcd, kubectl and
// kube-controller-manager when --bin-dir is not given.
const binDirEnv = "KARGO_KUBE_BIN_DIR"

// argocdBinDirEnv names the directory of Argo CD's binaries (what
// hack/argocd-bins.sh prints) when --argocd-bin-dir is not given.
const argocdBinDirEnv = "KARGO_ARGOCD_BIN_DIR"

type localOptions struct {
	dataDir       string
	webhookAddr   string
	admissionAddr string
	apiAddr       string
	// insecurePublicAPI lets apiAddr be an address others can reach,
	// although the API speaks plain HTTP.
	insecurePublicAPI bool
	binDir            string
	// argocdBinDir holds a real Argo CD to run; noArgoCD runs none even
	// when one is built.
	argocdBinDir string
	noArgoCD     bool
	port         int
	verbose      bool
	// demo sets up the kargo-demo project and serves its sources.
	demo             bool
	demoGitAddr      string
	demoRegistryAddr string
	// reset deletes the data directory first.
	reset bool
	// outbound is the controllers' outbound address policy: the demo's
	// own sources are added to its rules once they listen.
	outbound egressFlags
	// oidc is the API server's single sign-on, off without an issuer.
	oidc *sso.Config
}

func newLocalCommand() *cobra.Command {
	o := localOptions{oidc: &sso.Config{}}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run all of kargo on this machine, without a cluster",
		Long: `Run a complete kargo installation on this machine: etcd, kube-apiserver and
kube-controller-manager as child processes, kargo's CRDs and roles, and its
controllers. State lives in --data-dir and survives restarts; Ctrl-C stops
everything.

The Kubernetes binaries are built from source by "make kube-bins"
(hack/envtest-bins.sh); "make run" builds them and starts kargo local.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLocal(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory for the local installation's state")
	f.StringVar(&o.binDir, "bin-dir", os.Getenv(binDirEnv), "directory holding etcd, kube-apiserver, kube-controller-manager and kubectl (default $"+binDirEnv+", else the newest build of `make kube-bins` in its cache)")
	f.StringVar(&o.argocdBinDir, "argocd-bin-dir", os.Getenv(argocdBinDirEnv), "directory of a real Argo CD's binaries, which kargo local runs against its API server (default $"+argocdBinDirEnv+", else the newest build of `make argocd-bins` in the cache, if any)")
	f.BoolVar(&o.noArgoCD, "no-argocd", false, "run no Argo CD, even when one is built")
	f.IntVar(&o.port, "port", localcp.DefaultAPIServerPort, "port of the local Kubernetes API on 127.0.0.1")
	f.StringVar(&o.webhookAddr, "webhook-addr", "", "address of the push-notification receiver, such as 127.0.0.1:8082 (default: off)")
	f.StringVar(&o.apiAddr, "api-addr", "127.0.0.1:7070", "address of kargo's API server, which the kargo CLI talks to (a loopback address unless --insecure-public-api)")
	f.BoolVar(&o.insecurePublicAPI, "insecure-public-api", false, "let --api-addr be an address other machines reach, although the API speaks plain HTTP and its admin token grants the whole cluster")
	f.StringVar(&o.admissionAddr, "admission-addr", "127.0.0.1:0", "address of the admission webhook server (default: a free port on 127.0.0.1)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every controller action")
	f.BoolVar(&o.demo, "demo", false, "also serve a demo registry and Git server and set up the kargo-demo project on them (what `make run` does)")
	f.StringVar(&o.demoRegistryAddr, "demo-registry-addr", "", "address of the demo registry (default: the one of the last start, else a free port on 127.0.0.1)")
	f.StringVar(&o.demoGitAddr, "demo-git-addr", "", "address of the demo Git server (default: the one of the last start, else a free port on 127.0.0.1)")
	bindOIDCFlags(f, o.oidc)
	f.BoolVar(&o.reset, "reset", false, "delete the data directory first, and start from an empty installation")
	o.outbound.register(f)
	cmd.AddCommand(newLocalDemoCommand())
	return cmd
}

// defaultDataDir is $XDG_STATE_HOME/kargo/local, or ~/.local/state/kargo/local.
func defaultDataDir() string {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "kargo", "local")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "kargo", "local")
	}
	return filepath.Join(os.TempDir(), "kargo-local")
}

func runLocal(cmd *cobra.Command, o localOptions) (err error) {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	// Before anything starts: the address decides whether the admin API
	// may be served at all.
	warning, err := checkAPIAddr(o.apiAddr, o.insecurePublicAPI)
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprint(cmd.ErrOrStderr(), warning)
	}
	// Every address kargo local will listen on, before anything starts.
	addrs, err := localListenAddrs(o)
	if err != nil {
		return err
	}
	if err := checkListenAddrs(addrs); err != nil {
		return err
	}
	if o.binDir == "" {
		o.binDir = builtKubeBins()
	}
	if o.binDir == "" {
		return usageError{errors.New("no Kubernetes binaries: build them with `make kube-bins` (or `make run`), or pass --bin-dir or set $" + binDirEnv + " to a directory holding etcd, kube-apiserver, kube-controller-manager and kubectl")}
	}
	maxIndex, err := o.outbound.maxHelmIndexBytes()
	if err != nil {
		return err
	}
	// Like a cluster install, the controllers contact public addresses
	// only: not this machine's etcd, kube-apiserver or anything else on
	// loopback. The demo's registry and Git server are allowed by address
	// and port once they listen, and the user's --allow-outbound rules.
	policy := o.outbound.policy()
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})))

	if o.reset {
		if err := localcp.Reset(o.dataDir); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "kargo local: --reset: deleted %s\n", o.dataDir)
	}
	started := time.Now()
	var users []string
	if o.demo {
		users = demo.Users
	}
	cp, err := localcp.Start(ctx, localcp.Options{
		DataDir:       o.dataDir,
		BinDir:        o.binDir,
		APIServerPort: o.port,
		Users:         users,
		Log:           prefixed(cmd.ErrOrStderr(), "kargo local: "),
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(cmd.ErrOrStderr(), "kargo local: stopping")
		if stopErr := cp.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "kargo local: stopped; state kept in %s\n", o.dataDir)
	}()

	s, err := scheme.New()
	if err != nil {
		return err
	}
	cfg := cp.RESTConfig()
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("connect to local API server: %w", err)
	}
	if err := install.All(ctx, c, time.Minute); err != nil {
		return err
	}
	// Argo CD before the controllers: they watch Applications only where
	// the API server serves the type when they start.
	argo, argoInfo, err := startLocalArgoCD(ctx, cfg, o, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if argo != nil {
		defer func() {
			if stopErr := argo.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}()
	}
	mgr, err := manager.NewManager(ctx, cfg, manager.Options{
		MetricsAddr:         "0",
		HealthAddr:          "0",
		CacheDir:            filepath.Join(o.dataDir, "cache"),
		WebhookReceiverAddr: o.webhookAddr,
		Webhooks:            &webhook.Options{Addr: o.admissionAddr, Namespace: install.Namespace},
		Egress:              policy,
		MaxHelmIndexBytes:   maxIndex,
	})
	if err != nil {
		return err
	}
	mgrErr := make(chan error, 1)
	go func() { mgrErr <- mgr.Start(ctx) }()
	// Until the webhooks serve, the API server refuses every kargo write
	// (they fail closed): say "running" only after that.
	select {
	case <-mgr.Webhooks.Ready():
	case err := <-mgrErr:
		return controllersStopped(ctx, err)
	case <-ctx.Done():
		return <-mgrErr
	}

	apiErr := make(chan error, 1)
	api, token, login, err := startLocalAPI(ctx, cfg, o, policy, apiErr)
	if err != nil {
		return err
	}

	demoInfo := ""
	if o.demo {
		if demoInfo, err = startDemo(ctx, c, cp, o, api, policy, argo); err != nil {
			return err
		}
	}

	// Commands such as kargo local demo publish find it from now on.
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if remove, err := recordRunning(runningLocal{PID: os.Getpid(), DataDir: dataDir, API: api, Demo: o.demo}); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "kargo local: %v\n", err)
	} else {
		defer remove()
	}
	kubeconfig := cp.AdminKubeconfigPath()
	fmt.Fprintf(out, `kargo local is running (ready in %s)
  Kubernetes:  %s
  kargo API:   %s
  UI:          %s/#token=%s
  webhooks:    https://%s
  Argo CD:     %s
  data:        %s
  kubeconfig:  %s

%s

Use it with kubectl:
  export KUBECONFIG=%s
  %s get stages --all-namespaces
%s
Press Ctrl-C to stop; everything is kept for the next start.
`, time.Since(started).Round(100*time.Millisecond), cfg.Host, api, api, token, mgr.Webhooks.Addr(), argoInfo, o.dataDir, kubeconfig, login, kubeconfig, filepath.Join(o.binDir, "kubectl"), demoInfo)

	select {
	case <-ctx.Done():
		return <-mgrErr
	case err := <-mgrErr:
		return controllersStopped(ctx, err)
	case err := <-apiErr:
		return err
	case <-cp.Done():
		return fmt.Errorf("local control plane stopped: %w", cp.Err())
	}
}

// checkAPIAddr refuses an --api-addr that other machines can reach, unless
// the user insists (allowPublic), in which case it returns a warning to
// print. kargo local's API server speaks plain HTTP, and the local admin
// token it hands the CLI and the UI's sign-in link is in system:masters:
// anyone on the network who sees one request can take the cluster, and
// with it everything the controller can reach.
func checkAPIAddr(addr string, allowPublic bool) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageError{fmt.Errorf("--api-addr %q is not HOST:PORT: %w", addr, err)}
	}
	if loopbackHost(host) {
		return "", nil
	}
	if !allowPublic {
		return "", usageError{fmt.Errorf("--api-addr %s is not a loopback address: kargo local serves its API over plain HTTP, "+
			"and its admin token (in every request of the CLI and the UI) makes whoever reads it an administrator of the cluster; "+
			"use 127.0.0.1:PORT and reach it through an SSH tunnel, or pass --insecure-public-api if no one else can reach this network", addr)}
	}
	return fmt.Sprintf(`
kargo local: WARNING: --insecure-public-api: the kargo API on %s speaks plain HTTP
kargo local: WARNING: to every machine that can reach it. Anyone who can see its traffic
kargo local: WARNING: reads the admin token and owns this cluster; anyone who reaches it
kargo local: WARNING: may try tokens. Serve it on 127.0.0.1 unless this network is yours alone.

`, addr), nil
}

// loopbackHost says whether host names only this machine: a loopback IP,
// "localhost", or a name that resolves to loopback addresses alone. The
// empty host is every interface.
func loopbackHost(host string) bool {
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// prefixed writes each line to w with prefix in front.
func prefixed(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: prefix, atStart: true}
}

type prefixWriter struct {
	w       io.Writer
	prefix  string
	atStart bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for i, c := range b {
		if p.atStart {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return i, err
			}
			p.atStart = false
		}
		if _, err := p.w.Write([]byte{c}); err != nil {
			return i, err
		}
		p.atStart = c == '\n'
	}
	return len(b), nil
}

// startLocalAPI starts kargo's API server on o.apiAddr with a local admin
// token kept in the data directory, and logs the kargo CLI in to it unless
// the CLI is already configured for another server. It returns the
// server's URL, the local admin token, and a sentence about the CLI.
func startLocalAPI(ctx context.Context, cfg *rest.Config, o localOptions, policy *egress.Policy, failed chan<- error) (string, string, string, error) {
	token, err := localAPIToken(filepath.Join(o.dataDir, "api-token"))
	if err != nil {
		return "", "", "", err
	}
	commits, creds, err := localCommitReader(cfg, o.dataDir, policy)
	if err != nil {
		return "", "", "", err
	}
	srv, err := server.New(server.Options{
		Config: cfg, Addr: o.apiAddr, LocalAdminToken: token, UI: ui.Files(), OIDC: oidcOptions(o.oidc),
		Commits: commits, Credentials: creds,
	})
	if err != nil {
		return "", "", "", err
	}
	startErr := make(chan error, 1)
	go func() {
		if err := srv.Start(ctx); err != nil {
			startErr <- fmt.Errorf("kargo API server on %s: %w (choose another address with --api-addr)", o.apiAddr, err)
		}
	}()
	select {
	case <-srv.Ready():
	case err := <-startErr:
		return "", "", "", err
	case <-ctx.Done():
		return "", "", "", ctx.Err()
	case <-time.After(time.Minute):
		return "", "", "", errors.New("kargo API server not ready after a minute")
	}
	// Later failures stop kargo local as the controllers' would.
	go func() {
		if err, ok := <-startErr; ok {
			failed <- err
		}
	}()
	url := "http://" + srv.Addr().String()
	login, err := writeLocalCLIConfigs(o.dataDir, url, token)
	if err != nil {
		return "", "", "", err
	}
	return url, token, login, nil
}

// localAPIToken returns the local admin token stored at path, creating it
// the first time, so that a restart keeps the CLI logged in.
func localAPIToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate the local API token: %w", err)
	}
	token := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the local API token: %w", err)
	}
	return token, nil
}

// startLocalArgoCD runs a real Argo CD against the local API server when
// its binaries are at hand (--argocd-bin-dir, $KARGO_ARGOCD_BIN_DIR, or the
// newest build in hack/argocd-bins.sh's cache) and --no-argocd is not
// given. It returns nil and a line saying how to get one otherwise. Argo
// CD's application-controller deploys with the local admin's credentials,
// as it runs with cluster-wide rights in a cluster.
func startLocalArgoCD(ctx context.Context, cfg *rest.Config, o localOptions, log io.Writer) (*localcp.ArgoCD, string, error) {
	if o.noArgoCD {
		return nil, "not running (--no-argocd)", nil
	}
	dir := o.argocdBinDir
	if dir == "" {
		dir = builtArgoCD()
	}
	if dir == "" {
		return nil, "not running: build it with `make argocd-bins` (about 10 minutes the first time), or pass --argocd-bin-dir", nil
	}
	state := filepath.Join(o.dataDir, "argocd")
	start := time.Now()
	a, err := localcp.StartArgoCD(ctx, localcp.ArgoCDOptions{
		BinDir:   dir,
		Config:   cfg,
		StateDir: state,
		Log:      prefixed(log, "kargo local: "),
	})
	if err != nil {
		return nil, "", fmt.Errorf("start Argo CD from %s (or pass --no-argocd): %w", dir, err)
	}
	return a, fmt.Sprintf("%s (application-controller and repo-server, ready in %s; Applications in namespace %s; logs in %s)",
		a.Version, time.Since(start).Round(100*time.Millisecond), a.Namespace, state), nil
}

// builtArgoCD returns the newest complete build in hack/argocd-bins.sh's
// cache, or "".
func builtArgoCD() string {
	root := os.Getenv("ARGOCD_BINS_CACHE")
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(cache, "argocd-bins")
	}
	marks, _ := filepath.Glob(filepath.Join(root, "v*", ".complete"))
	newest, newestTime := "", time.Time{}
	for _, m := range marks {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().After(newestTime) {
			newest, newestTime = filepath.Dir(m), fi.ModTime()
		}
	}
	return newest
}

// controllersStopped is what kargo local reports when its controllers
// stop: nothing when they stopped because kargo local is stopping (the
// manager's end and the stop signal arrive together, in either order), and
// an error otherwise.
func controllersStopped(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return err
	case err == nil:
		return errors.New("controllers stopped unexpectedly")
	}
	return fmt.Errorf("controllers stopped: %w", err)
}
