package localcp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// eventually is how long a test waits for a controller to act.
const eventually = 90 * time.Second

// kubeBins finds the component binaries once per test binary: from
// KUBEBUILDER_ASSETS when that directory has all of them (envtest's usual
// assets lack kube-controller-manager), otherwise by building them.
var kubeBins = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" && checkBinaries(dir) == nil {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "hack", "envtest-bins.sh")
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "ENVTEST_KCM=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run ENVTEST_KCM=1 %s: %w\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	if err := checkBinaries(dir); err != nil {
		return "", fmt.Errorf("ENVTEST_KCM=1 %s printed %s: %w", script, dir, err)
	}
	return dir, nil
})

func binDir(t *testing.T) string {
	t.Helper()
	dir, err := kubeBins()
	if err != nil {
		t.Fatalf("these tests need etcd, kube-apiserver and kube-controller-manager, from KUBEBUILDER_ASSETS "+
			"or from `ENVTEST_KCM=1 hack/envtest-bins.sh`, which failed: %v", err)
	}
	return dir
}

// repoRoot walks up from the working directory to this module's root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/kargohq/kargo\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module github.com/kargohq/kargo above the working directory")
		}
		dir = parent
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func start(t *testing.T, dataDir string, port int) *ControlPlane {
	t.Helper()
	return startWith(t, Options{DataDir: dataDir, APIServerPort: port})
}

// startWith starts a control plane with o, the binaries filled in, and stops
// it when the test ends.
func startWith(t *testing.T, o Options) *ControlPlane {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	o.BinDir, o.Log = binDir(t), testLog{t}
	cp, err := Start(ctx, o)
	require.NoError(t, err)
	t.Logf("started in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { assert.NoError(t, cp.Stop()) })
	return cp
}

func clientset(t *testing.T, cp *ControlPlane) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cp.RESTConfig())
	require.NoError(t, err)
	return cs
}

// processesUsing lists the command lines of processes that mention dir, which
// finds every component started for that data dir. It reads /proc, so it
// finds nothing on systems without one.
func processesUsing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		found = append(found, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// poll calls cond until it returns true or eventually passes.
func poll(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond) // polling interval, not a timing assumption
	}
	t.Fatalf("%s: not done within %s (last error: %v)", what, eventually, lastErr)
}

func TestStopAndStartResumesState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	port := freePort(t)

	cp := start(t, dir, port)
	cs := clientset(t, cp)
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.CoreV1().ConfigMaps("kargo-demo").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data:       map[string]string{"color": "blue"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	require.Equal(t, filepath.Join(dir, "kubeconfig"), cp.AdminKubeconfigPath())
	firstKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := os.ReadFile(cp.AdminKubeconfigPath())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(firstKubeconfig, data, 0o600))

	secrets, err := filepath.Glob(filepath.Join(dir, "pki", "*.key"))
	require.NoError(t, err)
	require.NotEmpty(t, secrets)
	for _, f := range append(secrets, cp.AdminKubeconfigPath()) {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}

	require.NoError(t, cp.Stop())
	require.NoError(t, cp.Stop(), "a second Stop")
	select {
	case <-cp.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	require.NoError(t, cp.Err())
	require.Empty(t, processesUsing(t, dir), "components still running after Stop")

	start(t, dir, port)
	cfg, err := clientcmd.BuildConfigFromFlags("", firstKubeconfig)
	require.NoError(t, err)
	cs, err = kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	cm, err := cs.CoreV1().ConfigMaps("kargo-demo").Get(ctx, "settings", metav1.GetOptions{})
	require.NoError(t, err, "the first run's kubeconfig against the second run")
	assert.Equal(t, map[string]string{"color": "blue"}, cm.Data)
}

func TestRunningControlPlane(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cp := start(t, dir, freePort(t))
	cs := clientset(t, cp)

	t.Run("namespace deletion completes", func(t *testing.T) {
		ctx := t.Context()
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, cs.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}))
		poll(t, "namespace doomed deleted", func() (bool, error) {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			if err == nil {
				err = fmt.Errorf("phase %s, conditions %v", ns.Status.Phase, ns.Status.Conditions)
			}
			return false, err
		})
	})

	t.Run("garbage collector deletes dependents", func(t *testing.T) {
		ctx := t.Context()
		owner, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name:            "dependent",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}},
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, cs.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}))
		poll(t, "dependent collected", func() (bool, error) {
			_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "dependent", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("pods in a new namespace pass service account admission", func(t *testing.T) {
		ctx := t.Context()
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
		}
		poll(t, "pod created", func() (bool, error) {
			_, err := cs.CoreV1().Pods("apps").Create(ctx, pod, metav1.CreateOptions{})
			return err == nil, err
		})
	})

	t.Run("user kubeconfig authenticates a user without permissions", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "users", "alice.kubeconfig")
		require.NoError(t, cp.WriteUserKubeconfig(path, "alice", "kargo-demo-viewers"))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		require.NoError(t, err)
		alice, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		review, err := alice.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, "alice", review.Status.UserInfo.Username)
		assert.Contains(t, review.Status.UserInfo.Groups, "kargo-demo-viewers")

		_, err = alice.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
		assert.Contains(t, err.Error(), `"alice"`)

		// The built-in view role is aggregated, so this also shows that its
		// rules are filled in.
		_, err = cs.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewers"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "kargo-demo-viewers"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		poll(t, "alice lists config maps as a viewer", func() (bool, error) {
			_, err := alice.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
			return err == nil, err
		})
		_, err = alice.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsForbidden(err), "a viewer lists secrets: %v", err)

		assert.Error(t, cp.WriteUserKubeconfig(filepath.Join(t.TempDir(), "nobody"), ""))
	})

	t.Run("etcd refuses clients without kube-apiserver's etcd certificate", func(t *testing.T) {
		ctx := t.Context()
		ok, err := cp.pki.etcdHTTPClient()
		require.NoError(t, err)
		require.NoError(t, get(ctx, ok, cp.etcdURL+"/health"))

		insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a stranger does not verify
		withCert := func(kp keyPair) *http.Client {
			cert, err := tls.X509KeyPair(kp.certPEM, kp.keyPEM)
			require.NoError(t, err)
			cfg := insecure.Clone()
			cfg.Certificates = []tls.Certificate{cert}
			return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		}
		for name, client := range map[string]*http.Client{
			"no certificate":                        {Transport: &http.Transport{TLSClientConfig: insecure}},
			"the admin's certificate":               withCert(cp.pki.admin),
			"kube-controller-manager's certificate": withCert(cp.pki.kcm),
		} {
			assert.Error(t, get(ctx, client, cp.etcdURL+"/health"), name)
		}
		plain := "http" + strings.TrimPrefix(cp.etcdURL, "https")
		assert.Error(t, get(ctx, http.DefaultClient, plain+"/health"), "plain HTTP")
	})

	// Last, because it breaks the control plane.
	t.Run("Done reports a component that exits", func(t *testing.T) {
		require.NoError(t, cp.Err())
		kcm := cp.children[len(cp.children)-1]
		require.Equal(t, kcmBin, kcm.name)
		require.NoError(t, kcm.cmd.Process.Signal(syscall.SIGKILL))
		select {
		case <-cp.Done():
		case <-time.After(eventually):
			t.Fatal("Done still open after kube-controller-manager was killed")
		}
		require.Error(t, cp.Err())
		assert.Contains(t, cp.Err().Error(), "kube-controller-manager exited unexpectedly")
		assert.Contains(t, cp.Err().Error(), filepath.Join(dir, "logs", "kube-controller-manager.log"))
		require.NoError(t, cp.Stop())
		assert.Error(t, cp.Err(), "Stop keeps the reason Done was closed")
		assert.Empty(t, processesUsing(t, dir), "components still running after Stop")
	})
}

// A data dir written by a version whose etcd spoke plain HTTP to clients and
// peers starts with TLS and keeps what etcd stored; etcd's stored http://
// peer URL is never dialled by a single member.
func TestStartUpgradesDataDirOfPlainHTTPEtcd(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	etcdPort := freePort(t)
	plainURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	old := exec.Command(filepath.Join(binDir(t), etcdBin),
		"--name=kargo-local",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+plainURL,
		"--advertise-client-urls="+plainURL,
		"--listen-peer-urls=http://127.0.0.1:0",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=kargo-local=http://127.0.0.1:2380",
		"--initial-cluster-state=new",
	)
	old.Env = withoutEtcdEnv(os.Environ())
	require.NoError(t, old.Start())
	t.Cleanup(func() {
		_ = old.Process.Kill()
		_, _ = old.Process.Wait()
	})
	poll(t, "etcd of the earlier version healthy", func() (bool, error) {
		err := get(ctx, http.DefaultClient, plainURL+"/health")
		return err == nil, err
	})
	key := base64.StdEncoding.EncodeToString([]byte("/kept"))
	value := base64.StdEncoding.EncodeToString([]byte("from the earlier version"))
	_, err := etcdPost(ctx, http.DefaultClient, plainURL+"/v3/kv/put", `{"key":"`+key+`","value":"`+value+`"}`)
	require.NoError(t, err)
	require.NoError(t, old.Process.Signal(syscall.SIGTERM))
	_, err = old.Process.Wait()
	require.NoError(t, err)

	cp := startWith(t, Options{DataDir: dir, APIServerPort: freePort(t), EtcdPort: etcdPort})
	client, err := cp.pki.etcdHTTPClient()
	require.NoError(t, err)
	body, err := etcdPost(ctx, client, cp.etcdURL+"/v3/kv/range", `{"key":"`+key+`"}`)
	require.NoError(t, err)
	assert.Contains(t, body, value)
	assert.Error(t, get(ctx, http.DefaultClient, plainURL+"/health"), "etcd still speaks plain HTTP")
	_, err = clientset(t, cp).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	require.NoError(t, err)
}

// etcdPost posts a JSON body to etcd's gRPC gateway and returns the answer.
func etcdPost(ctx context.Context, client *http.Client, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %s: %s", url, resp.Status, out)
	}
	return string(out), nil
}

func TestStartRefusesBeforeStartingAnything(t *testing.T) {
	t.Parallel()
	bins := binDir(t)

	tests := []struct {
		name    string
		prepare func(t *testing.T, o *Options)
		wantErr func(o Options) string
	}{
		{
			name: "API server port in use",
			prepare: func(t *testing.T, o *Options) {
				o.APIServerPort = occupyPort(t)
			},
			wantErr: func(o Options) string {
				return fmt.Sprintf("port %d on 127.0.0.1 is in use: is another `kargo local` running? choose another with --port", o.APIServerPort)
			},
		},
		{
			name: "etcd port in use",
			prepare: func(t *testing.T, o *Options) {
				o.EtcdPort = occupyPort(t)
			},
			wantErr: func(o Options) string {
				return fmt.Sprintf("port %d on 127.0.0.1, wanted for etcd, is in use", o.EtcdPort)
			},
		},
		{
			name: "API server and etcd on one port",
			prepare: func(t *testing.T, o *Options) {
				o.EtcdPort = o.APIServerPort
			},
			wantErr: func(o Options) string {
				return fmt.Sprintf("kube-apiserver and etcd cannot share port %d", o.EtcdPort)
			},
		},
		{
			name: "user name that is not a DNS label",
			prepare: func(t *testing.T, o *Options) {
				o.Users = []string{"alice", "Bob Smith"}
			},
			wantErr: func(o Options) string {
				return `user name "Bob Smith" is not valid: use at most 63 lower-case letters, digits and '-'`
			},
		},
		{
			name: "missing binary",
			prepare: func(t *testing.T, o *Options) {
				o.BinDir = t.TempDir()
				require.NoError(t, os.Symlink(filepath.Join(bins, etcdBin), filepath.Join(o.BinDir, etcdBin)))
			},
			wantErr: func(o Options) string {
				return "kube-apiserver not found in " + o.BinDir + ": build it with `make kube-bins` (hack/envtest-bins.sh)"
			},
		},
		{
			name: "data dir cannot be created",
			prepare: func(t *testing.T, o *Options) {
				file := filepath.Join(t.TempDir(), "file")
				require.NoError(t, os.WriteFile(file, nil, 0o600))
				o.DataDir = filepath.Join(file, "data")
			},
			wantErr: func(o Options) string {
				return "create data dir " + o.DataDir + ": "
			},
		},
		{
			name: "data dir in use",
			prepare: func(t *testing.T, o *Options) {
				require.NoError(t, os.MkdirAll(o.DataDir, 0o700))
				lock, err := lockDataDir(o.DataDir)
				require.NoError(t, err)
				t.Cleanup(func() { lock.Close() })
			},
			wantErr: func(o Options) string {
				return fmt.Sprintf("data dir %s is in use by another `kargo local` (pid %d)", o.DataDir, os.Getpid())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{DataDir: filepath.Join(t.TempDir(), "data"), BinDir: bins, APIServerPort: freePort(t)}
			tt.prepare(t, &o)
			cp, err := Start(t.Context(), o)
			if cp != nil {
				t.Cleanup(func() { _ = cp.Stop() })
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr(o))
			assert.NoDirExists(t, filepath.Join(o.DataDir, "logs"), "a component was started")
			assert.NoDirExists(t, filepath.Join(o.DataDir, "etcd"), "a component was started")
			assert.Empty(t, processesUsing(t, o.DataDir))
		})
	}
}

// occupyPort listens on a free port until the test ends, as another program
// would.
func occupyPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestPortInUseErrorIsTyped(t *testing.T) {
	port := occupyPort(t)
	err := probePort(port, apiserverBin)
	var inUse *PortInUseError
	require.True(t, errors.As(err, &inUse), "got %v", err)
	assert.Equal(t, port, inUse.Port)
}

func TestTail(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	path := filepath.Join(t.TempDir(), "x.log")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))

	assert.Equal(t, "    line 27\n    line 28\n    line 29", tail(path, 3))
}
