package localcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/install"
)

// ArgoCDOptions configure a real Argo CD run against an API server: its
// application-controller and repo-server, built by hack/argocd-bins.sh,
// and Debian's redis-server, as child processes on 127.0.0.1. There is no
// Argo CD API server or UI: kargo talks to Argo CD through Applications,
// as it does on a cluster.
type ArgoCDOptions struct {
	// BinDir is what hack/argocd-bins.sh prints: the argocd binary (with
	// its argocd-application-controller and argocd-repo-server links),
	// kustomize, helm, git-verify-wrapper.sh, crds/ and config/.
	BinDir string
	// Config connects to the API server as an administrator. Argo CD's
	// CRDs, ConfigMaps and default AppProject are installed with it, and
	// Argo CD uses it both to watch Applications and to deploy them: the
	// API server is registered as Argo CD's cluster "in-cluster".
	Config *rest.Config
	// StateDir holds the logs (argocd-*.log, redis.log), Argo CD's HOME
	// and temporary files, and the kubeconfig written for it. Keep the
	// path short: a Unix socket is made in it (108 bytes at most).
	StateDir string
	// Namespace is Argo CD's namespace; empty means "argocd".
	Namespace string
	// ApplicationNamespaces are further namespaces Argo CD takes
	// Applications from ("apps in any namespace"); the default AppProject
	// allows them.
	ApplicationNamespaces []string
	// Settings are added to the argocd-cm ConfigMap, such as
	// resource.customizations.health.<group>_<kind> health checks.
	Settings map[string]string
	// Resync is how often Argo CD compares every Application with Git
	// regardless of events; zero means 30 s (Argo CD's own default is 3 min).
	Resync time.Duration
	// Log receives a line per step; nil discards them.
	Log io.Writer
}

// ArgoCD is a running Argo CD. Stop it when done.
type ArgoCD struct {
	// Namespace is Argo CD's namespace.
	Namespace string
	// Server is the API server's URL as Argo CD's cluster registry holds
	// it: an Application's spec.destination.server.
	Server string
	// Version is Argo CD's version, such as v3.6.1.
	Version string

	log      io.Writer
	children []*child
	stopOnce sync.Once
	stopErr  error
}

// argocdReadyTimeout bounds each component's start; measured starts take
// 5–7 s on 2 busy cores.
const argocdReadyTimeout = 2 * time.Minute

// StartArgoCD installs what Argo CD needs into the API server and starts
// redis, the repo-server and the application-controller, returning once
// both Argo CD components answer their health checks. It fails with a
// message saying what to do when a binary is missing.
func StartArgoCD(ctx context.Context, o ArgoCDOptions) (*ArgoCD, error) {
	if o.Namespace == "" {
		o.Namespace = "argocd"
	}
	if o.Resync == 0 {
		o.Resync = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, b := range []string{"argocd", "argocd-application-controller", "argocd-repo-server", "kustomize", "helm", "git-verify-wrapper.sh"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("Argo CD binaries in %q: no %s; build them with `make argocd-bins` (hack/argocd-bins.sh)", o.BinDir, b)
		}
	}
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("Argo CD needs redis-server: install Debian's redis-server package (hack/argocd-bins.sh does): %w", err)
	}
	for _, d := range []string{"home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(o.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create Argo CD state dir: %w", err)
		}
	}
	a := &ArgoCD{Namespace: o.Namespace, Server: o.Config.Host, log: o.Log}
	if err := a.install(ctx, o); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(o.StateDir, "kubeconfig")
	if err := writeRESTKubeconfig(kubeconfig, o.Config); err != nil {
		return nil, err
	}
	if err := a.start(ctx, o, redis, kubeconfig); err != nil {
		return nil, errors.Join(err, a.Stop())
	}
	return a, nil
}

// install applies Argo CD's own CRDs (Application and AppProject; the
// ApplicationSet CRD costs the API server ~95 MB and nothing here uses
// it), its namespace and ConfigMaps, the default AppProject (which Argo
// CD's API server would create) and the cluster Secret for the API server.
func (a *ArgoCD) install(ctx context.Context, o ArgoCDOptions) error {
	c, err := installClient(o.Config, "Argo CD")
	if err != nil {
		return err
	}
	crds, err := ArgoCDCRDs(o.BinDir)
	if err != nil {
		return err
	}
	if err := install.CRDs(ctx, c, crds, time.Minute); err != nil {
		return fmt.Errorf("install Argo CD's CRDs: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", o.Namespace, err)
	}
	objs, err := argocdConfigMaps(o)
	if err != nil {
		return err
	}
	objs = append(objs, defaultAppProject(o), clusterSecret(o))
	for _, obj := range objs {
		obj.SetNamespace(o.Namespace)
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("kargo-local"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s for Argo CD: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// ArgoCDCRDs reads Argo CD's Application and AppProject CRDs from binDir,
// as hack/argocd-bins.sh copies them out of Argo CD's module.
func ArgoCDCRDs(binDir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return readCRDs(binDir, "Argo CD", "make argocd-bins", "application-crd.yaml", "appproject-crd.yaml")
}

// readCRDs reads the named CRD files from binDir/crds, where a hack/
// script copied them out of a real part's module; what names the part and
// how to rebuild it, for the error.
func readCRDs(binDir, what, rebuild string, names ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		path := filepath.Join(binDir, "crds", name)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read a CRD of %s: %w; rebuild the binaries with `%s`", what, err, rebuild)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, crd); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// argocdConfigMaps reads Argo CD's default ConfigMaps and Secret from
// BinDir/config and adds o.Settings to argocd-cm.
func argocdConfigMaps(o ArgoCDOptions) ([]*unstructured.Unstructured, error) {
	paths, err := filepath.Glob(filepath.Join(o.BinDir, "config", "argocd-*.yaml"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no Argo CD ConfigMaps in %s/config: rebuild the binaries with `make argocd-bins`", o.BinDir)
	}
	var out []*unstructured.Unstructured
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		if obj.GetKind() == "ConfigMap" && obj.GetName() == "argocd-cm" {
			data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
			if data == nil {
				data = map[string]string{}
			}
			for k, v := range o.Settings {
				data[k] = v
			}
			if err := unstructured.SetNestedStringMap(obj.Object, data, "data"); err != nil {
				return nil, fmt.Errorf("set argocd-cm data: %w", err)
			}
		}
		out = append(out, obj)
	}
	return out, nil
}

func defaultAppProject(o ArgoCDOptions) *unstructured.Unstructured {
	sourceNamespaces := make([]any, 0, len(o.ApplicationNamespaces))
	for _, ns := range o.ApplicationNamespaces {
		sourceNamespaces = append(sourceNamespaces, ns)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "AppProject",
		"metadata":   map[string]any{"name": "default"},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"sourceNamespaces":         sourceNamespaces,
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}}
}

// clusterSecret registers the API server with Argo CD under its own URL:
// https://kubernetes.default.svc works only inside a pod.
func clusterSecret(o ArgoCDOptions) *unstructured.Unstructured {
	tls := map[string]any{}
	if len(o.Config.CAData) > 0 {
		tls["caData"] = o.Config.CAData // []byte: base64 in JSON, as Argo CD reads it
	}
	if len(o.Config.CertData) > 0 {
		tls["certData"], tls["keyData"] = o.Config.CertData, o.Config.KeyData
	}
	cfg := map[string]any{"tlsClientConfig": tls}
	if o.Config.BearerToken != "" {
		cfg["bearerToken"] = o.Config.BearerToken
	}
	raw, _ := json.Marshal(cfg)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name":   "cluster-kargo-local",
			"labels": map[string]any{"argocd.argoproj.io/secret-type": "cluster"},
		},
		"stringData": map[string]any{"name": "in-cluster", "server": o.Config.Host, "config": string(raw)},
	}}
}

// writeRESTKubeconfig writes cfg as a kubeconfig file for Argo CD's
// application-controller, which takes only a file.
func writeRESTKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	kc.CurrentContext = "local"
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encode Argo CD's kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("write Argo CD's kubeconfig: %w", err)
	}
	return nil
}

func (a *ArgoCD) start(ctx context.Context, o ArgoCDOptions, redis, kubeconfig string) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	redisPort, repoPort, repoMetrics, ctrlMetrics := ports[0], ports[1], ports[2], ports[3]
	env := append(withoutEtcdEnv(os.Environ()),
		"PATH="+o.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(o.StateDir, "home"),
		"TMPDIR="+filepath.Join(o.StateDir, "tmp"),
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_ASK_PASS_SOCK="+filepath.Join(o.StateDir, "askpass.sock"),
		// Argo CD reads its namespace here when it is not in a pod.
		"ARGOCD_NAMESPACE="+o.Namespace,
	)
	redisAddr := "127.0.0.1:" + strconv.Itoa(redisPort)
	rc, err := a.run(o, "redis", redis, env,
		"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", o.StateDir)
	if err != nil {
		return err
	}
	if err := a.waitReady(ctx, rc, func(ctx context.Context) error { return dial(ctx, redisAddr) }); err != nil {
		return err
	}
	repo, err := a.run(o, "argocd-repo-server", filepath.Join(o.BinDir, "argocd-repo-server"), env,
		"--address", "127.0.0.1", "--port", strconv.Itoa(repoPort),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(repoMetrics),
		"--redis", redisAddr, "--disable-tls", "--client-ca-path", "", "--logformat", "text")
	if err != nil {
		return err
	}
	// (the controller's metrics server listens on every address: it has
	// no flag for one)
	args := []string{"--kubeconfig", kubeconfig, "--namespace", o.Namespace,
		"--redis", redisAddr, "--repo-server", "127.0.0.1:" + strconv.Itoa(repoPort), "--repo-server-plaintext",
		"--metrics-port", strconv.Itoa(ctrlMetrics), "--logformat", "text",
		"--app-resync", strconv.Itoa(int(o.Resync / time.Second))}
	if len(o.ApplicationNamespaces) > 0 {
		args = append(args, "--application-namespaces", strings.Join(o.ApplicationNamespaces, ","))
	}
	ctrl, err := a.run(o, "argocd-application-controller", filepath.Join(o.BinDir, "argocd-application-controller"), env, args...)
	if err != nil {
		return err
	}
	httpc := &http.Client{Timeout: probeBudget}
	if err := a.waitReady(ctx, repo, func(ctx context.Context) error {
		return get(ctx, httpc, fmt.Sprintf("http://127.0.0.1:%d/metrics", repoMetrics))
	}); err != nil {
		return err
	}
	if err := a.waitReady(ctx, ctrl, func(ctx context.Context) error {
		return get(ctx, httpc, fmt.Sprintf("http://127.0.0.1:%d/healthz", ctrlMetrics))
	}); err != nil {
		return err
	}
	a.Version = argocdVersion(o.BinDir)
	return nil
}

func (a *ArgoCD) run(o ArgoCDOptions, name, bin string, env []string, args ...string) (*child, error) {
	ch, err := startChild(name, bin, args, env, o.StateDir, o.StateDir)
	if err != nil {
		return nil, err
	}
	a.children = append(a.children, ch)
	fmt.Fprintf(a.log, "argocd: started %s (pid %d, log %s)\n", name, ch.cmd.Process.Pid, ch.logPath)
	return ch, nil
}

func (a *ArgoCD) waitReady(ctx context.Context, ch *child, ready func(context.Context) error) error {
	return waitReady(ctx, ch, argocdReadyTimeout, ready, func(format string, args ...any) {
		fmt.Fprintf(a.log, "argocd: "+format+"\n", args...)
	})
}

// Stop stops the components, newest first.
func (a *ArgoCD) Stop() error {
	a.stopOnce.Do(func() {
		var errs []error
		for i := len(a.children) - 1; i >= 0; i-- {
			if _, err := a.children[i].stop(10 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		a.stopErr = errors.Join(errs...)
	})
	return a.stopErr
}

// freePorts finds n ports on 127.0.0.1 that nothing listens on now.
// Another process may take one before Argo CD does; the start then fails
// with the component's log saying so.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port for Argo CD: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func dial(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// argocdVersion asks the binary for its version, for logs and test output.
func argocdVersion(binDir string) string {
	out, err := exec.Command(filepath.Join(binDir, "argocd"), "version", "--client", "--short").Output()
	if err != nil {
		return "unknown"
	}
	// "argocd: v3.6.1+unknown": the build records no commit.
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "argocd:"))
	v, _, _ = strings.Cut(v, "+")
	return v
}
