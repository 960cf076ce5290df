//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/localsrc"
	"github.com/kargohq/kargo/internal/localsrc/gitserver"
	"github.com/kargohq/kargo/internal/localsrc/registry"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

const (
	// nodeIP is the node's address in hack/cluster/up.sh: pods reach the
	// test's Git server and registry there.
	nodeIP    = "10.250.0.1"
	namespace = "kargo"
	release   = "kargo"
	leaseName = "kargo-controller.kargo.akuity.io"
)

// env is what hack/cluster/test.sh hands the test.
type env struct {
	dir, bin, kargo, image, chart string
	c                             client.Client
	t                             *testing.T
}

func setup(t *testing.T) *env {
	dir := os.Getenv("KARGO_CLUSTER_DIR")
	if dir == "" {
		t.Fatal("no cluster: run make test-cluster (hack/cluster/test.sh), which starts one and sets KARGO_CLUSTER_DIR")
	}
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	e := &env{
		dir:   dir,
		bin:   os.Getenv("KARGO_CLUSTER_BIN"),
		kargo: os.Getenv("KARGO_CLUSTER_KARGO"),
		image: os.Getenv("KARGO_CLUSTER_IMAGE"),
		chart: filepath.Join(root, "charts", "kargo"),
		t:     t,
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig())
	require.NoError(t, err)
	s, err := scheme.New()
	require.NoError(t, err)
	e.c, err = client.New(cfg, client.Options{Scheme: s})
	require.NoError(t, err)
	return e
}

func (e *env) kubeconfig() string { return filepath.Join(e.dir, "admin.kubeconfig") }

// run runs a command and returns its combined output, failing the test when
// it fails.
func (e *env) run(name string, args ...string) string {
	e.t.Helper()
	out, err := e.try(name, args...)
	require.NoError(e.t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

func (e *env) try(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig(), "HOME="+filepath.Join(e.dir, "home"),
		"HELM_CACHE_HOME="+filepath.Join(e.dir, "helm", "cache"), "HELM_CONFIG_HOME="+filepath.Join(e.dir, "helm", "config"),
		"HELM_DATA_HOME="+filepath.Join(e.dir, "helm", "data"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	return e.run(filepath.Join(e.bin, "kubectl"), args...)
}

func (e *env) helm(args ...string) string {
	e.t.Helper()
	return e.run(filepath.Join(e.bin, "helm"), append(args, "--namespace", namespace)...)
}

// cli runs the kargo CLI with the test's config file.
func (e *env) cli(args ...string) string {
	e.t.Helper()
	return e.run(e.kargo, append([]string{"--config", filepath.Join(e.dir, "kargo-cli.yaml")}, args...)...)
}

// eventually polls cond every 200 ms until it returns true or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
}

// sources are the pipeline's Git server and registry, served by the test
// on the node's address. pushes can be held to kill the leader while a
// promotion's push is in flight.
type sources struct {
	demo.Sources
	gitRoot string
	hold    atomic.Bool
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func serveSources(t *testing.T, ctx context.Context) *sources {
	src := &sources{gitRoot: t.TempDir(), held: make(chan struct{}), release: make(chan struct{})}
	// The registry: kargo talks plain HTTP to registries on loopback only,
	// so pods get it over HTTPS on the node's address (a certificate of
	// httptest's, hence the Warehouse's insecureSkipTLSVerify), and the test
	// pushes over plain HTTP on loopback, to the same storage.
	regHandler, err := registry.NewHandler(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = regHandler.Close() })
	ln, err := net.Listen("tcp", nodeIP+":0")
	require.NoError(t, err)
	reg := httptest.NewUnstartedServer(regHandler)
	reg.Listener = ln
	reg.StartTLS()
	t.Cleanup(reg.Close)
	push, err := localsrc.Serve(ctx, "127.0.0.1:0", "test registry", regHandler, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = push.Close() })

	h, err := gitserver.NewHandler(src.gitRoot)
	require.NoError(t, err)
	held := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if src.hold.Load() && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			src.once.Do(func() { close(src.held) })
			<-src.release
		}
		h.ServeHTTP(w, r)
	})
	git, err := localsrc.Serve(ctx, nodeIP+":0", "test Git server", held, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = git.Close() })
	for _, tag := range demo.InitialTags {
		_, err := registry.PushImage(ctx, push.Addr(), demo.ImageRepo, tag)
		require.NoError(t, err)
	}
	src.Sources = demo.Sources{Image: ln.Addr().String() + "/" + demo.ImageRepo, GitOps: git.URL() + "/" + demo.GitOpsRepo + ".git"}
	files, err := demo.GitOpsFiles(src.Sources)
	require.NoError(t, err)
	require.NoError(t, gitserver.CreateRepo(src.gitRoot, demo.GitOpsRepo, files, "kargo-demo"))
	return src
}

// applyPipeline creates the demo's project, its Warehouse (trusting the
// registry's test certificate) and the rest of the seed pipeline.
func (e *env) applyPipeline(ctx context.Context, src demo.Sources) {
	e.t.Helper()
	require.NoError(e.t, e.c.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: demo.Project}}))
	eventually(e.t, time.Minute, "Project ready", func() (bool, string) {
		p := &kargoapi.Project{}
		if err := e.c.Get(ctx, client.ObjectKey{Name: demo.Project}, p); err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == kargoapi.ProjectPhaseReady, string(p.Status.Phase)
	})
	objs, err := demo.Objects(src)
	require.NoError(e.t, err)
	for _, o := range objs {
		if o.GetKind() != "Warehouse" {
			continue
		}
		images, _, err := unstructured.NestedSlice(o.Object, "spec", "subscriptions", "images")
		require.NoError(e.t, err)
		for _, i := range images {
			i.(map[string]any)["insecureSkipTLSVerify"] = true
		}
		require.NoError(e.t, unstructured.SetNestedSlice(o.Object, images, "spec", "subscriptions", "images"))
		require.NoError(e.t, e.c.Create(ctx, o))
	}
	require.NoError(e.t, demo.Apply(ctx, e.c, src))
}

// commits counts the commits on a branch of the GitOps repository.
func (s *sources) commits(t *testing.T, branch string) int {
	out, err := exec.Command("git", "--git-dir", gitserver.Dir(s.gitRoot, demo.GitOpsRepo), "rev-list", "--count", branch).CombinedOutput()
	require.NoError(t, err, string(out))
	var n int
	_, err = fmt.Sscan(string(out), &n)
	require.NoError(t, err)
	return n
}

func TestInstalledKargo(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	src := serveSources(t, ctx)
	hostPort := func(u string) string { return strings.Split(strings.TrimPrefix(u, "http://"), "/")[0] }
	repo, tag, _ := strings.Cut(e.image, ":")

	// 1. helm install: two controller replicas, two API replicas, the
	//    controller allowed to reach exactly the test's two sources.
	start := time.Now()
	e.helm("install", release, e.chart, "--create-namespace", "--wait", "--timeout", "5m",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "image.pullPolicy=Never",
		"--set", "crds.keep=false",
		"--set", "controller.outbound.allow={"+hostPort(src.Image)+","+hostPort(src.GitOps)+"}")
	t.Logf("helm install --wait: %s", time.Since(start).Round(100*time.Millisecond))
	e.requireReplicas(ctx, "kargo-controller", 2)
	e.requireReplicas(ctx, "kargo-api", 2)

	// 2. The seed pipeline: its objects pass the installed admission
	//    webhooks; the Warehouse finds the newest image and commit; the
	//    PromotionPolicy promotes the Freight into test.
	start = time.Now()
	e.applyPipeline(ctx, src.Sources)
	var first string
	eventually(t, 3*time.Minute, "Freight in test", func() (bool, string) {
		st := &kargoapi.Stage{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: "test"}, st); err != nil {
			return false, err.Error()
		}
		if st.Status.CurrentFreight == nil {
			return false, fmt.Sprintf("conditions %v", st.Status.Conditions)
		}
		first = st.Status.CurrentFreight.Alias
		return true, ""
	})
	t.Logf("Warehouse → Freight %s → test through the PromotionPolicy: %s", first, time.Since(start).Round(100*time.Millisecond))
	require.Equal(t, 2, src.commits(t, "stages/test"), "the promotion into test made one commit on top of main's")

	// 3. The CLI against the installed API server, through its Service, with
	//    the chart's self-signed certificate.
	api := e.loginCLI(ctx)
	out := e.cli("get", "stages", "--project", demo.Project)
	require.Contains(t, out, "test")
	require.Contains(t, out, first)

	// 3b. A browser against the installed UI, through the same Service,
	//     signed in with the same token: the seed pipeline and its Freight.
	start = time.Now()
	e.browse(api, first)
	t.Logf("the installed UI in Chromium: %s", time.Since(start).Round(100*time.Millisecond))

	// 3c. The metrics the chart's Services expose: the leader's discovery
	//     of the seed Warehouse and the Freight it made, the API server's
	//     requests by route (some replica served the CLI and the browser).
	e.requireMetric(ctx, "kargo-controller", `kargo_discovery_duration_seconds_count{kind="Warehouse",name="`+demo.Warehouse+`",project="`+demo.Project+`"}`)
	e.requireMetric(ctx, "kargo-controller", `kargo_freight_created_total{kind="Warehouse",name="`+demo.Warehouse+`",project="`+demo.Project+`"}`)
	e.requireMetric(ctx, "kargo-api", `kargo_api_request_duration_seconds_count{code="200",method="GET",route="/api/v1/projects/{project}/{kind}"}`)

	// 4. Kill the leader while a promotion's push is in flight: the other
	//    replica takes over, and the branch gets exactly one commit.
	// stages/uat does not exist yet: the promotion starts it from main.
	before := src.commits(t, "main")
	src.hold.Store(true)
	promote := exec.Command(e.kargo, "--config", filepath.Join(e.dir, "kargo-cli.yaml"),
		"promote", "--project", demo.Project, "--stage", "uat", "--freight-alias", first, "--wait")
	var promoteOut bytes.Buffer
	promote.Stdout, promote.Stderr = &promoteOut, &promoteOut
	require.NoError(t, promote.Start())
	select {
	case <-src.held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no push to the GitOps repository; kargo promote said: %s", promoteOut.String())
	}
	leader := e.leader(ctx)
	pod, _, _ := strings.Cut(leader, "_")
	start = time.Now()
	e.crash(ctx, pod)
	newLeader := ""
	eventually(t, time.Minute, "another replica leads", func() (bool, string) {
		newLeader = e.leader(ctx)
		return newLeader != leader, newLeader
	})
	t.Logf("crashed the leader %s during the push; %s leads %s later", pod, newLeader, time.Since(start).Round(100*time.Millisecond))
	// The crashed process's push reaches the server only now: whether it
	// lands or not, the new leader must not commit the promotion again.
	close(src.release)
	require.NoError(t, promote.Wait(), promoteOut.String())
	t.Logf("promotion into uat finished %s after the crash", time.Since(start).Round(100*time.Millisecond))
	require.Equal(t, before+1, src.commits(t, "stages/uat"), "exactly one commit for the promotion")
	e.requireReplicas(ctx, "kargo-controller", 2)

	// 4b. The Promotion's page: the installed API server reads the commit
	//     it made from the GitOps repository itself, through the
	//     controller's outbound rules and without credentials (the chart
	//     gives it none unless asked; this repository is public).
	e.requireCommits(ctx, api, "uat")

	// 5. helm upgrade, a rolling update of both Deployments, while admission
	//    requests keep coming: not one is refused for want of a webhook.
	stop := make(chan struct{})
	var writes, failures atomic.Int64
	var firstFailure atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wh := &kargoapi.Warehouse{}
			err := e.c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: demo.Warehouse}, wh)
			if err == nil {
				patch := client.MergeFrom(wh.DeepCopy())
				if wh.Annotations == nil {
					wh.Annotations = map[string]string{}
				}
				wh.Annotations["test.kargo.akuity.io/upgrade"] = fmt.Sprint(i)
				err = e.c.Patch(ctx, wh, patch)
			}
			writes.Add(1)
			if err != nil && !apierrors.IsConflict(err) {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start = time.Now()
	e.helm("upgrade", release, e.chart, "--reuse-values", "--wait", "--timeout", "5m", "--set", "logLevel=debug")
	e.kubectl("-n", namespace, "rollout", "status", "deployment/kargo-controller", "--timeout=3m")
	e.kubectl("-n", namespace, "rollout", "status", "deployment/kargo-api", "--timeout=3m")
	close(stop)
	<-done
	t.Logf("helm upgrade (rolling both Deployments): %s, %d admission writes, %d refused", time.Since(start).Round(100*time.Millisecond), writes.Load(), failures.Load())
	require.Zero(t, failures.Load(), "writes refused during the rolling upgrade, first: %v", firstFailure.Load())
	args := e.kubectl("-n", namespace, "get", "deployment", "kargo-controller", "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	require.Contains(t, args, "--log-level=debug")
	out = e.cli("get", "stages", "--project", demo.Project)
	require.Contains(t, out, "uat")

	// 6. Uninstall: delete the project while kargo runs (its finalizers
	//    need the controller), then the release; nothing of kargo is left.
	require.NoError(t, e.c.Delete(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: demo.Project}}))
	eventually(t, 2*time.Minute, "namespace "+demo.Project+" deleted", func() (bool, string) {
		err := e.c.Get(ctx, client.ObjectKey{Name: demo.Project}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	start = time.Now()
	e.helm("uninstall", release, "--wait", "--timeout", "3m")
	t.Logf("helm uninstall --wait: %s", time.Since(start).Round(100*time.Millisecond))
	e.requireNothingLeft(ctx)
}

// requireMetric waits until a pod of the app (its app.kubernetes.io/name)
// reports series, a metric with its labels as Prometheus prints them, with
// a value above zero on its metrics port.
func (e *env) requireMetric(ctx context.Context, app, series string) {
	e.t.Helper()
	eventually(e.t, time.Minute, series+" from "+app, func() (bool, string) {
		pods := &corev1.PodList{}
		if err := e.c.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/name": app}); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, p := range pods.Items {
			if p.Status.PodIP == "" {
				continue
			}
			resp, err := http.Get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/metrics")
			if err != nil {
				seen = append(seen, err.Error())
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			for _, line := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(line, series+" "); ok && v != "0" {
					return true, ""
				}
			}
			seen = append(seen, fmt.Sprintf("%s: %d bytes without it", p.Name, len(body)))
		}
		return false, strings.Join(seen, "; ")
	})
}

// requireReplicas waits until a Deployment has n ready replicas.
func (e *env) requireReplicas(ctx context.Context, name string, n int) {
	e.t.Helper()
	eventually(e.t, 3*time.Minute, name+" ready", func() (bool, string) {
		out, err := e.try(filepath.Join(e.bin, "kubectl"), "-n", namespace, "get", "deployment", name, "-o", "jsonpath={.status.readyReplicas}/{.status.replicas}")
		return err == nil && out == fmt.Sprintf("%d/%d", n, n), out
	})
}

// leader is the identity (pod name, "_", a random suffix) holding the
// leader election Lease.
func (e *env) leader(ctx context.Context) string {
	e.t.Helper()
	var holder string
	eventually(e.t, time.Minute, "a leader", func() (bool, string) {
		l := &coordinationv1.Lease{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: leaseName}, l); err != nil {
			return false, err.Error()
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			return false, "no holder"
		}
		holder = *l.Spec.HolderIdentity
		return true, ""
	})
	return holder
}

// crash kills a pod's container with SIGKILL through containerd, as a
// crash or an out-of-memory kill would: no shutdown, no Lease released.
func (e *env) crash(ctx context.Context, pod string) {
	e.t.Helper()
	p := &corev1.Pod{}
	require.NoError(e.t, e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: pod}, p))
	require.Len(e.t, p.Status.ContainerStatuses, 1)
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	e.run("ctr", "--address", filepath.Join(e.dir, "run", "containerd.sock"), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id)
}

// apiService is how the test reaches the installed API server: the
// Service's name and ClusterIP, and the token of the ServiceAccount it
// logged in as.
type apiService struct {
	name, ip, token, user string
}

// loginCLI logs the kargo CLI in to the installed API server as a
// ServiceAccount bound to kargo-admin in the project, by the Service's name
// (added to the cluster's /etc/hosts), trusting the chart's certificate.
func (e *env) loginCLI(ctx context.Context) apiService {
	e.t.Helper()
	svc := &corev1.Service{}
	require.NoError(e.t, e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "kargo-api"}, svc))
	name := "kargo-api." + namespace + ".svc"
	hosts, err := os.OpenFile(filepath.Join(e.dir, "etc", "hosts"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(e.t, err)
	_, err = fmt.Fprintf(hosts, "%s %s\n", svc.Spec.ClusterIP, name)
	require.NoError(e.t, err)
	require.NoError(e.t, hosts.Close())
	_, err = net.ResolveIPAddr("ip", name)
	require.NoError(e.t, err)

	secret := &corev1.Secret{}
	require.NoError(e.t, e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "kargo-api-tls"}, secret))
	ca := filepath.Join(e.dir, "kargo-api-ca.crt")
	require.NoError(e.t, os.WriteFile(ca, secret.Data["tls.crt"], 0o600))

	e.kubectl("-n", demo.Project, "create", "serviceaccount", "cli")
	e.kubectl("-n", demo.Project, "create", "rolebinding", "cli-admin", "--clusterrole=kargo-admin", "--serviceaccount="+demo.Project+":cli")
	token := strings.TrimSpace(e.kubectl("-n", demo.Project, "create", "token", "cli", "--duration=1h"))
	tokenFile := filepath.Join(e.dir, "cli.token")
	require.NoError(e.t, os.WriteFile(tokenFile, []byte(token), 0o600))
	out := e.cli("login", "https://"+name, "--token-file", tokenFile, "--ca-file", ca)
	e.t.Logf("kargo login: %s", strings.TrimSpace(out))
	return apiService{name: name, ip: svc.Spec.ClusterIP, token: token, user: "system:serviceaccount:" + demo.Project + ":cli"}
}

// requireCommits asks the installed API server, as the CLI's
// ServiceAccount, for the commits of stage's succeeded Promotion, and
// requires the one commit it pushed to stages/<stage>.
func (e *env) requireCommits(ctx context.Context, api apiService, stage string) {
	e.t.Helper()
	list := &kargoapi.PromotionList{}
	require.NoError(e.t, e.c.List(ctx, list, client.InNamespace(demo.Project)))
	name := ""
	for _, p := range list.Items {
		if p.Spec.Stage == stage && p.Status.Phase == kargoapi.PromotionPhaseSucceeded {
			name = p.Name
		}
	}
	require.NotEmpty(e.t, name, "no succeeded Promotion of Stage %s", stage)
	ca, err := os.ReadFile(filepath.Join(e.dir, "kargo-api-ca.crt"))
	require.NoError(e.t, err)
	pool := x509.NewCertPool()
	require.True(e.t, pool.AppendCertsFromPEM(ca))
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+api.name+"/api/v1/projects/"+demo.Project+"/promotions/"+name+"/commits", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+api.token)
	resp, err := hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	var got apitypes.PromotionCommits
	require.NoError(e.t, json.Unmarshal(body, &got))
	require.Len(e.t, got.Commits, 1, string(body))
	require.Equal(e.t, "stages/"+stage, got.Commits[0].Branch)
	require.NotEmpty(e.t, got.Commits[0].Files, string(body))
	e.t.Logf("the installed API server read Promotion %s's commit %s (%d files) from the GitOps repository", name, got.Commits[0].ID, len(got.Commits[0].Files))
}

// browse opens the installed UI in Debian's Chromium (ui/e2e/cluster.e2e.mjs
// drives it with playwright-core, as the UI's own end-to-end tests do) and
// checks that it shows the seed pipeline with Freight alias in test.
func (e *env) browse(api apiService, alias string) {
	e.t.Helper()
	root, err := kubetest.RepoRoot()
	require.NoError(e.t, err)
	chromium := os.Getenv("KARGO_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err = os.Stat(chromium)
	require.NoError(e.t, err, "no Chromium: run make ui-deps (Debian's chromium package), or set KARGO_CHROMIUM")
	_, err = os.Stat(filepath.Join(root, "ui", "node_modules", "playwright-core"))
	require.NoError(e.t, err, "no ui/node_modules/playwright-core: run make ui-deps")
	ctx, cancel := context.WithTimeout(e.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "cluster.e2e.mjs"))
	cmd.Dir = filepath.Join(root, "ui")
	cmd.Env = append(os.Environ(),
		"KARGO_UI_URL=https://"+api.name+"/#token="+api.token,
		"KARGO_API_ADDRESS="+api.ip,
		"KARGO_USER="+api.user,
		"KARGO_PROJECT="+demo.Project,
		"KARGO_FREIGHT_ALIAS="+alias,
		"KARGO_CHROMIUM="+chromium,
	)
	// Its own process group: a timeout ends the Chromium it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	e.t.Logf("node e2e/cluster.e2e.mjs:\n%s", out)
	require.NoError(e.t, err, "the installed UI in the browser")
}

// requireNothingLeft checks that no object of kargo's is left after the
// release is uninstalled: cluster-wide and in the release's namespace.
func (e *env) requireNothingLeft(ctx context.Context) {
	e.t.Helper()
	for _, kind := range []string{"customresourcedefinitions", "clusterroles", "clusterrolebindings",
		"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		out := e.kubectl("get", kind, "-o", "name")
		for _, line := range strings.Fields(out) {
			require.False(e.t, strings.Contains(line, "kargo"), "left after uninstall: %s", line)
		}
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "serviceaccounts"}, {Version: "v1", Resource: "pods"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
		{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	} {
		eventually(e.t, 2*time.Minute, "no "+gvr.Resource+" of kargo's left", func() (bool, string) {
			out, err := e.try(filepath.Join(e.bin, "kubectl"), "-n", namespace, "get", gvr.Resource+"."+gvr.Group, "-o", "name")
			if err != nil {
				return false, out
			}
			var left []string
			for _, name := range strings.Fields(out) {
				// What Kubernetes puts in every namespace.
				if strings.HasSuffix(name, "/default") || strings.HasSuffix(name, "/kube-root-ca.crt") {
					continue
				}
				left = append(left, name)
			}
			return len(left) == 0, strings.Join(left, " ")
		})
	}
}
