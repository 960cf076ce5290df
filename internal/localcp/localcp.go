package localcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// DefaultAPIServerPort is the port kube-apiserver listens on when
// Options.APIServerPort is zero.
const DefaultAPIServerPort = 6443

const (
	etcdReadyTimeout      = 2 * time.Minute
	apiserverReadyTimeout = 2 * time.Minute
	// stopGrace bounds how long Stop waits for each component after SIGTERM;
	// kube-apiserver drains in-flight requests, which takes a few seconds.
	stopGrace   = 15 * time.Second
	pollEvery   = 100 * time.Millisecond
	probeBudget = 2 * time.Second
)

// Binary names, looked up in Options.BinDir.
const (
	etcdBin      = "etcd"
	apiserverBin = "kube-apiserver"
	kcmBin       = "kube-controller-manager"
)

// Options configures a local control plane. All listeners bind 127.0.0.1
// only, and none serves a client without credentials: etcd requires a client
// certificate from its own CA (held by kube-apiserver only), kube-apiserver
// refuses anonymous requests and kube-controller-manager serves no port.
type Options struct {
	// DataDir holds the state that survives restarts and is created if
	// missing:
	//
	//	lock                               held while a control plane runs
	//	pki/                               cluster CA, serving and client certificates, service account key
	//	pki/etcd/                          etcd's own CA, its serving and peer certificates
	//	pki/apiserver-etcd-client.*        kube-apiserver's etcd client certificate (etcd's CA signs no other client's)
	//	etcd/                              etcd's data
	//	logs/<component>.log               output of the running components (.log.1: the previous run)
	//	kubeconfig                         admin kubeconfig (see AdminKubeconfigPath)
	//	kubeconfig-<user>                  kubeconfig of each of Users (see UserKubeconfigPath)
	//	kube-controller-manager.kubeconfig
	//	users/<user>.token                 bearer token of a user, kept once created (see UserToken)
	//	users/tokens.csv                   kube-apiserver's token file, rewritten from Users on every start
	DataDir string
	// BinDir holds the etcd, kube-apiserver and kube-controller-manager
	// binaries.
	BinDir string
	// APIServerPort is the port kube-apiserver serves HTTPS on;
	// DefaultAPIServerPort when zero. Kubeconfig files name it, so keep it
	// the same across restarts for them to stay valid.
	APIServerPort int
	// EtcdPort is the port etcd serves clients on. When zero, each start
	// picks a free port, which is safe because only kube-apiserver talks to
	// etcd and it learns the port on every start; it also keeps two
	// instances with different data dirs from colliding. etcd's peer
	// listener always uses a free port: a single member never dials a peer.
	EtcdPort int
	// Users are local users, such as the people of a demo, who get a bearer
	// token and a kubeconfig each. Each name must be a DNS label (lower-case
	// letters, digits and '-') other than kargo-admin and
	// kargo-local-admin, the administrators' names. The users belong to no
	// group but system:authenticated, so RBAC grants them nothing until a
	// binding does. A user left out of a later start loses access, since
	// kube-apiserver's token file is written from this list on every start;
	// listed again, the user has the same token. The admin's credentials do
	// not depend on it.
	Users []string
	// Log receives short progress lines; nil discards them. The components'
	// own output goes to DataDir/logs.
	Log io.Writer
}

// PortInUseError reports that a port the control plane needs on 127.0.0.1 is
// taken, so that a caller can point at the flag that sets it.
type PortInUseError struct {
	// Port is the port that is taken.
	Port int
	// Component is the program that needs it: "kube-apiserver" or "etcd".
	Component string
}

// Error returns a message that suggests the likely cause.
func (e *PortInUseError) Error() string {
	if e.Component == apiserverBin {
		return fmt.Sprintf("port %d on 127.0.0.1 is in use: is another `kargo local` running? choose another with --port", e.Port)
	}
	return fmt.Sprintf("port %d on 127.0.0.1, wanted for %s, is in use: is another `kargo local` or an etcd running? choose another port, or leave it unset to use a free one", e.Port, e.Component)
}

// ControlPlane is a running etcd, kube-apiserver and kube-controller-manager.
// The controller manager runs only garbage collection, namespace deletion,
// the controller that gives every namespace its "default" service account and
// the one that fills in aggregated cluster roles.
type ControlPlane struct {
	serverURL       string
	etcdURL         string
	dataDir         string
	adminKubeconfig string
	pki             *pki
	tokens          map[string]string // of Options.Users, by name
	log             io.Writer
	lock            *os.File
	children        []*child // in start order

	done chan struct{}

	mu         sync.Mutex
	stopping   bool
	doneClosed bool
	err        error

	stopOnce sync.Once
	stopErr  error
}

// Start runs a control plane on opts.DataDir and returns once kube-apiserver
// is ready. It checks the binaries, the data dir and the ports before it
// starts anything. ctx bounds only the start; the components run until Stop,
// and are killed by the kernel if this process dies first (Linux). Call Stop
// when done, also after Done is closed.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkBinaries(o.BinDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", o.DataDir, err)
	}
	lock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, err
	}

	c := &ControlPlane{
		serverURL:       "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(o.APIServerPort)),
		dataDir:         o.DataDir,
		adminKubeconfig: filepath.Join(o.DataDir, "kubeconfig"),
		log:             o.Log,
		lock:            lock,
		done:            make(chan struct{}),
	}
	if err := c.start(ctx, o); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("start local control plane: data dir is not set")
	}
	if o.BinDir == "" {
		return o, errors.New("start local control plane: bin dir is not set: build the binaries with `make kube-bins` (hack/envtest-bins.sh)")
	}
	var err error
	// Children run in the data dir and get paths inside it.
	if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
		return o, fmt.Errorf("resolve data dir: %w", err)
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return o, fmt.Errorf("resolve bin dir: %w", err)
	}
	if o.APIServerPort == 0 {
		o.APIServerPort = DefaultAPIServerPort
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.APIServerPort == o.EtcdPort {
		return o, fmt.Errorf("start local control plane: kube-apiserver and etcd cannot share port %d", o.EtcdPort)
	}
	if err := validateUsers(o.Users); err != nil {
		return o, err
	}
	return o, nil
}

func checkBinaries(dir string) error {
	for _, name := range []string{etcdBin, apiserverBin, kcmBin} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() {
			return fmt.Errorf("%s not found in %s: build it with `make kube-bins` (hack/envtest-bins.sh)", name, dir)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s in %s is not executable", name, dir)
		}
	}
	return nil
}

// lockDataDir takes DataDir/lock so that two control planes never share one
// etcd data dir, and records the holder's pid for the error the second one
// reports.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		defer f.Close()
		if errors.Is(err, errLocked) {
			holder := "another process"
			if pid, _ := io.ReadAll(io.LimitReader(f, 32)); len(strings.TrimSpace(string(pid))) > 0 {
				holder = "pid " + strings.TrimSpace(string(pid))
			}
			return nil, fmt.Errorf("data dir %s is in use by another `kargo local` (%s): stop it, or choose another data dir", dir, holder)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", dir, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file: %w", err)
	}
	return f, nil
}

// checkPorts fails on a taken port and fills in a free etcd port when none
// was chosen.
func checkPorts(o *Options) error {
	if err := probePort(o.APIServerPort, apiserverBin); err != nil {
		return err
	}
	if o.EtcdPort != 0 {
		return probePort(o.EtcdPort, etcdBin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("find a free port for etcd: %w", err)
	}
	o.EtcdPort = l.Addr().(*net.TCPAddr).Port
	return l.Close()
}

func probePort(port int, component string) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return &PortInUseError{Port: port, Component: component}
	}
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d for %s: %w", port, component, err)
	}
	return l.Close()
}

func (c *ControlPlane) start(ctx context.Context, o Options) error {
	if err := checkPorts(&o); err != nil {
		return err
	}
	p, err := loadOrCreatePKI(filepath.Join(o.DataDir, "pki"))
	if err != nil {
		return fmt.Errorf("prepare credentials: %w", err)
	}
	c.pki = p
	kcmKubeconfig := filepath.Join(o.DataDir, "kube-controller-manager.kubeconfig")
	if err := c.writeKubeconfig(c.adminKubeconfig, "kargo-admin", clusterName, p.admin); err != nil {
		return err
	}
	if err := c.writeKubeconfig(kcmKubeconfig, "system:kube-controller-manager", clusterName, p.kcm); err != nil {
		return err
	}
	tokenFile, err := c.prepareUsers(o.Users)
	if err != nil {
		return err
	}
	logDir := filepath.Join(o.DataDir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return fmt.Errorf("create log dir: %w", err)
	}

	etcdURL := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(o.EtcdPort))
	c.etcdURL = etcdURL
	etcd, err := c.run(etcdBin, o, logDir, withoutEtcdEnv(os.Environ()), etcdArgs(p, o, etcdURL)...)
	if err != nil {
		return err
	}
	etcdClient, err := p.etcdHTTPClient()
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, etcd, etcdReadyTimeout, etcdHealthy(etcdClient, etcdURL)); err != nil {
		return err
	}

	pkiFile := func(name string) string { return filepath.Join(p.dir, name) }
	apiserver, err := c.run(apiserverBin, o, logDir, os.Environ(),
		"--etcd-servers="+etcdURL,
		"--etcd-cafile="+pkiFile(etcdCAFile+".crt"),
		"--etcd-certfile="+pkiFile(etcdClientFile+".crt"),
		"--etcd-keyfile="+pkiFile(etcdClientFile+".key"),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback address for the
		// "kubernetes" Service, and nothing runs in the cluster that would use
		// it.
		"--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(o.APIServerPort),
		"--authorization-mode=Node,RBAC",
		// Every client has a certificate or a token; refusing anonymous
		// requests leaves no endpoint (health, version, discovery) to
		// callers who have neither.
		"--anonymous-auth=false",
		"--client-ca-file="+pkiFile("ca.crt"),
		"--token-auth-file="+tokenFile,
		"--tls-cert-file="+pkiFile("apiserver.crt"),
		"--tls-private-key-file="+pkiFile("apiserver.key"),
		"--service-account-issuer="+serviceAccountIs,
		"--service-account-key-file="+p.saPubPath,
		"--service-account-signing-key-file="+p.saKeyPath,
		"--service-cluster-ip-range="+serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, apiserver, apiserverReadyTimeout, c.apiserverReady()); err != nil {
		return err
	}

	// The controller manager needs no readiness wait: nothing depends on it
	// being up, and if it exits, Done reports it.
	if _, err := c.run(kcmBin, o, logDir, os.Environ(),
		"--kubeconfig="+kcmKubeconfig,
		// Garbage collection and namespace deletion, plus what an API-only
		// cluster still needs to behave as users expect: every namespace's
		// "default" service account, without which the ServiceAccount
		// admission plugin rejects Pods, and the rules of aggregated roles
		// such as view, edit and admin, which are empty without it.
		"--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,clusterrole-aggregation-controller",
		"--leader-elect=false",
		"--secure-port=0",
		// The controller manager's own identity may only read; each
		// controller acts as its service account in kube-system, with the
		// role bootstrap RBAC gives it, as in kubeadm clusters. The tokens
		// come from the TokenRequest API, so no token controller is needed.
		"--use-service-account-credentials=true",
		"--root-ca-file="+pkiFile("ca.crt"),
		"--service-account-private-key-file="+p.saKeyPath,
		"--profiling=false",
	); err != nil {
		return err
	}
	c.logf("control plane ready at %s (kubeconfig: %s)", c.serverURL, c.adminKubeconfig)
	return nil
}

// etcdArgs are etcd's flags. Clients and peers must present a certificate
// signed by etcd's own CA, which has signed one client certificate, the one
// kube-apiserver gets; the peer listener further takes only etcd's own peer
// certificate. Nothing reaches etcd's data without credentials only the data
// dir's owner can read.
func etcdArgs(p *pki, o Options, etcdURL string) []string {
	file := func(name string) string { return filepath.Join(p.dir, name) }
	return []string{
		"--name=kargo-local",
		"--data-dir=" + filepath.Join(o.DataDir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--client-cert-auth",
		"--trusted-ca-file=" + file(etcdCAFile+".crt"),
		"--cert-file=" + file(etcdServerFile+".crt"),
		"--key-file=" + file(etcdServerFile+".key"),
		// A single member never dials a peer, so the peer listener takes any
		// free port and the advertised peer URL is never used; it only has to
		// agree with --initial-cluster. A data dir from a version that used
		// plain HTTP keeps its stored http:// peer URL, equally unused.
		"--listen-peer-urls=https://127.0.0.1:0",
		"--initial-advertise-peer-urls=https://127.0.0.1:2380",
		"--initial-cluster=kargo-local=https://127.0.0.1:2380",
		"--initial-cluster-state=new",
		"--peer-client-cert-auth",
		"--peer-trusted-ca-file=" + file(etcdCAFile+".crt"),
		"--peer-cert-file=" + file(etcdPeerFile+".crt"),
		"--peer-key-file=" + file(etcdPeerFile+".key"),
		"--peer-cert-allowed-cn=" + etcdPeerCN,
	}
}

func (c *ControlPlane) writeKubeconfig(path, user, context string, kp keyPair) error {
	data, err := kubeconfig(c.serverURL, c.pki.ca.certPEM, user, context, certAuth(kp))
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("write kubeconfig for %s: %w", user, err)
	}
	return nil
}

// withoutEtcdEnv drops ETCD_* variables, which etcd reads as flags and refuses
// to start over when they shadow a flag we pass.
func withoutEtcdEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ETCD_") {
			out = append(out, kv)
		}
	}
	return out
}

// run starts one component and watches it, so that an exit nobody asked for
// closes Done.
func (c *ControlPlane) run(name string, o Options, logDir string, env []string, args ...string) (*child, error) {
	ch, err := startChild(name, filepath.Join(o.BinDir, name), args, env, o.DataDir, logDir)
	if err != nil {
		return nil, err
	}
	c.children = append(c.children, ch)
	c.logf("started %s (pid %d, log %s)", name, ch.cmd.Process.Pid, ch.logPath)
	go func() {
		<-ch.exited
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if !stopping {
			c.finish(ch.exitError("unexpectedly"))
		}
	}()
	return ch, nil
}

// finish closes Done once. Stop calls it with a nil err; a component's exit
// calls it with the reason, which is dropped once Stop has begun.
func (c *ControlPlane) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.stopping = true
	} else if c.stopping {
		return
	}
	if c.doneClosed {
		return
	}
	c.err = err
	c.doneClosed = true
	close(c.done)
}

// waitReady polls ready until it succeeds, the component exits, ctx ends or
// timeout passes.
func (c *ControlPlane) waitReady(ctx context.Context, ch *child, timeout time.Duration, ready func(context.Context) error) error {
	return waitReady(ctx, ch, timeout, ready, c.logf)
}

// waitReady polls ready until it succeeds, ch exits, ctx ends or timeout
// passes, and logs how long it took.
func waitReady(ctx context.Context, ch *child, timeout time.Duration, ready func(context.Context) error, logf func(string, ...any)) error {
	began := time.Now()
	deadline, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		probeCtx, cancelProbe := context.WithTimeout(deadline, probeBudget)
		err := ready(probeCtx)
		cancelProbe()
		if err == nil {
			logf("%s ready in %s", ch.name, time.Since(began).Round(100*time.Millisecond))
			return nil
		}
		select {
		case <-ch.exited:
			return ch.exitError("during start")
		case <-deadline.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("wait for %s: %w", ch.name, ctx.Err())
			}
			return fmt.Errorf("%s did not become ready within %s (last check: %v); see %s, which ends with:\n%s",
				ch.name, timeout, err, ch.logPath, ch.logTail())
		case <-tick.C:
		}
	}
}

func etcdHealthy(client *http.Client, etcdURL string) func(context.Context) error {
	return func(ctx context.Context) error {
		return get(ctx, client, etcdURL+"/health")
	}
}

func (c *ControlPlane) apiserverReady() func(context.Context) error {
	client, err := rest.HTTPClientFor(c.RESTConfig())
	return func(ctx context.Context) error {
		if err != nil {
			return err
		}
		return get(ctx, client, c.serverURL+"/readyz")
	}
}

// get succeeds when url answers 200; otherwise its error quotes the failing
// checks a health endpoint lists.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var failing []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "[-]") {
			failing = append(failing, strings.TrimPrefix(line, "[-]"))
		}
	}
	if len(failing) == 0 {
		failing = append(failing, strings.TrimSpace(string(body)))
	}
	return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.Join(failing, "; "))
}

// Done returns a channel that is closed when the control plane stops running:
// after Stop, or as soon as a component exits on its own. Err then says why.
func (c *ControlPlane) Done() <-chan struct{} {
	return c.done
}

// Err returns nil while Done is open and when Stop closed it. When a
// component exited on its own, it returns an error that names the component
// and quotes the end of its log; the other components keep running until
// Stop.
func (c *ControlPlane) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop ends the components in reverse start order: SIGTERM, then SIGKILL for
// any that has not exited within 15 seconds. It releases the data dir, so a
// later Start resumes with everything etcd stored. It is safe to call more
// than once; later calls return the first result.
func (c *ControlPlane) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *ControlPlane) stop() error {
	c.finish(nil)
	var errs []error
	for i := len(c.children) - 1; i >= 0; i-- {
		ch := c.children[i]
		killed, err := ch.stop(stopGrace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if killed {
			c.logf("%s did not exit within %s of SIGTERM and was killed", ch.name, stopGrace)
		}
	}
	if len(errs) == 0 {
		// With a component possibly still running, keeping the lock keeps
		// a new Start off its data dir until this process exits.
		if err := c.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release data dir lock: %w", err))
		}
	}
	if len(c.children) > 0 {
		c.logf("control plane stopped")
	}
	return errors.Join(errs...)
}

func (c *ControlPlane) logf(format string, args ...any) {
	fmt.Fprintf(c.log, format+"\n", args...)
}
