package scale

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/install"
)

// controller is the built binary's `kargo controller`, in a process of its
// own, as the ServiceAccount of a cluster install with the shipped roles.
type controller struct {
	bin, kubeconfig, dir string
	outbound             string
	extra                []string

	metrics, health, pprof, receiver, admission string
	cmd                                         *exec.Cmd
	log                                         *os.File
}

func freeAddr(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newController binds the shipped controller roles to kargo's
// ServiceAccount and writes its kubeconfig; start runs it.
func newController(b *testing.B, bin, outbound string) *controller {
	b.Helper()
	ctx := context.Background()
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "kargo-controller", Namespace: install.Namespace}}
	for _, o := range []client.Object{
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller"},
			Subjects:   subject,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller", Namespace: install.Namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller-namespace"},
			Subjects:   subject,
		},
	} {
		if err := env.Admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatalf("bind %s: %v", o.GetName(), err)
		}
	}
	dir := b.TempDir()
	kc, err := env.UserKubeconfig(dir, "system:serviceaccount:"+install.Namespace+":kargo-controller",
		"system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	if err != nil {
		b.Fatal(err)
	}
	return &controller{bin: bin, kubeconfig: kc, dir: dir, outbound: outbound}
}

// start runs the controller with extra flags and waits until it is
// ready (its caches synced and its webhooks serving).
func (c *controller) start(b *testing.B, extra ...string) {
	b.Helper()
	c.metrics, c.health, c.pprof = freeAddr(b), freeAddr(b), freeAddr(b)
	if c.receiver == "" {
		// The receiver keeps its address across restarts.
		c.receiver, c.admission = freeAddr(b), freeAddr(b)
	}
	args := append([]string{"controller",
		"--metrics-addr", c.metrics, "--health-addr", c.health, "--pprof-addr", c.pprof,
		"--webhook-addr", c.receiver, "--admission-addr", c.admission, "--admission-service", "",
		"--cache-dir", filepath.Join(c.dir, "cache"), "--gc-interval", "0",
		"--allow-outbound", c.outbound,
	}, extra...)
	c.cmd = exec.Command(c.bin, args...)
	c.cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "GOMAXPROCS=2")
	// SCALE_CONTROLLER_ENV adds variables to the controller's environment
	// only (GOGC=50, say), not to kube-apiserver's or the benchmark's.
	c.cmd.Env = append(c.cmd.Env, strings.Fields(os.Getenv("SCALE_CONTROLLER_ENV"))...)
	var err error
	if c.log, err = os.CreateTemp(c.dir, "controller-*.log"); err != nil {
		b.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", c.bin, err)
	}
	b.Cleanup(func() { c.stop(b) })
	deadline := time.Now().Add(5 * time.Minute)
	for !c.ready() {
		if time.Now().After(deadline) || c.cmd.ProcessState != nil {
			b.Fatalf("the controller did not become ready; its log is %s", c.log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *controller) ready() bool {
	resp, err := http.Get("http://" + c.health + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop ends the controller as a cluster does (SIGTERM) and waits for it.
func (c *controller) stop(b *testing.B) {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.cmd = nil
}

// rssMB is the controller's resident memory.
func (c *controller) rssMB(b *testing.B) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpu is the CPU time the controller has used (user and system).
func (c *controller) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// metric sums the controller's metric name over the series whose labels
// contain every one of labels.
func (c *controller) metric(b *testing.B, name string, labels ...string) float64 {
	resp, err := http.Get("http://" + c.metrics + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	return sumMetric(resp.Body, name, labels...)
}

// writes is how many writes (POST, PUT, PATCH, DELETE) the controller has
// sent the API server.
func (c *controller) writes(b *testing.B) float64 {
	var n float64
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		n += c.metric(b, "rest_client_requests_total", `method="`+m+`"`)
	}
	return n
}

// apiserverMetric sums the API server's metric name likewise.
func apiserverMetric(b *testing.B, name string, labels ...string) float64 {
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return sumMetric(bytes.NewReader(raw), name, labels...)
}

func sumMetric(r io.Reader, name string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// steady waits until the controller has nothing left to do: every work
// queue empty and no worker busy, three looks in a row half a second
// apart, and returns how long that took.
func (c *controller) steady(b *testing.B, within time.Duration) time.Duration {
	b.Helper()
	start := time.Now()
	calm := 0
	for calm < 3 {
		if time.Since(start) > within {
			b.Fatalf("the controller was still busy after %s (queue %v, workers %v)", within,
				c.metric(b, "workqueue_depth"), c.metric(b, "controller_runtime_active_workers"))
		}
		if c.metric(b, "workqueue_depth") == 0 && c.metric(b, "controller_runtime_active_workers") == 0 {
			calm++
		} else {
			calm = 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	return time.Since(start) - time.Second
}

// profile saves the controller's CPU profile over d (or its heap profile
// when d is zero) into dir as name.
func (c *controller) profile(b *testing.B, dir, name string, d time.Duration) {
	if dir == "" {
		return
	}
	url := "http://" + c.pprof + "/debug/pprof/heap"
	if d > 0 {
		url = fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, int(d.Seconds()))
	}
	resp, err := http.Get(url)
	if err != nil {
		b.Logf("profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
