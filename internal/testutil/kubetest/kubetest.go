// Package kubetest starts a real kube-apiserver and etcd (built from source by
// hack/envtest-bins.sh) once per test package, installs the project's CRDs,
// and hands tests clients for the admin and for named users, so that
// schemas, webhooks and RBAC are tested against the real thing.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/localcp"
	kargoscheme "github.com/kargohq/kargo/internal/scheme"
)

// The users the seed pages talk about, plus one with no rights at all. No
// RBAC is granted to them here; tests bind the roles they need.
const (
	Alice  = "alice"
	Bob    = "bob"
	Nobody = "nobody"
)

// Env is a running API server shared by the tests of one package.
type Env struct {
	// Config is the admin's (system:masters) connection.
	Config *rest.Config
	// Admin is a client with every right.
	Admin client.Client
	// Scheme knows the core Kubernetes types and the kargo.akuity.io types.
	Scheme *runtime.Scheme
	// BinDir holds the kube-apiserver, etcd and kubectl binaries used.
	BinDir string
	// ArgoCD is the real Argo CD that WithArgoCD started, or nil.
	ArgoCD *localcp.ArgoCD
	// ArgoRollouts is the real Argo Rollouts controller that
	// WithArgoRollouts started, or nil.
	ArgoRollouts *localcp.ArgoRollouts

	env        *envtest.Environment
	kubeconfig string
	mu         sync.Mutex
	users      map[string]client.Client
}

// Main starts the API server, runs the package's tests with *env set, stops
// the server and exits. Call it from TestMain. Each of before runs once the
// server is up (to start controllers, say) and returns a function that undoes
// it after the tests. When the binaries cannot be built or the server cannot
// start, it fails the whole package with a message saying what to do; it
// never skips.
func Main(m *testing.M, env **Env, before ...func(*Env) (func(), error)) {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: cannot start a real kube-apiserver: %v\n", err)
		fmt.Fprintln(os.Stderr, "kubetest: build the binaries with `make kube-bins` (hack/envtest-bins.sh) or set KUBEBUILDER_ASSETS to a directory holding kube-apiserver, etcd and kubectl")
		os.Exit(1)
	}
	*env = e
	var undo []func()
	for _, b := range before {
		u, err := b(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: set up: %v\n", err)
			_ = e.Stop()
			os.Exit(1)
		}
		undo = append(undo, u)
	}
	code := m.Run()
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Start starts etcd and kube-apiserver with the RBAC authorizer on and
// installs the project's CRDs.
func Start() (*Env, error) {
	bins, err := BinDir()
	if err != nil {
		return nil, err
	}
	scheme, err := kargoscheme.New()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory:    bins,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// envtest turns the RBAC authorizer on by default; say so explicitly so
	// that a change of default cannot silently turn authorization tests into
	// tests of an allow-all server.
	te.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	// Bearer tokens for the test users, so that servers which authenticate
	// callers with a TokenReview (kargo's API server) are tested with the
	// real authenticator.
	tokenFile, err := writeTokenFile()
	if err != nil {
		return nil, err
	}
	te.ControlPlane.GetAPIServer().Configure().Set("token-auth-file", tokenFile)
	start := time.Now()
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest with binaries from %s: %w", bins, err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("admin client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := install.All(ctx, admin, time.Minute); err != nil {
		_ = te.Stop()
		return nil, err
	}
	kubeconfig, err := writeAdminKubeconfig(te)
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "kubetest: real kube-apiserver %s from %s ready in %s with the kargo CRDs and RBAC authorization\n",
		serverVersion(cfg), bins, time.Since(start).Round(10*time.Millisecond))
	return &Env{Config: cfg, Admin: admin, Scheme: scheme, BinDir: bins, env: te, kubeconfig: kubeconfig, users: map[string]client.Client{}}, nil
}

// TokenUsers are the users who have a bearer token (Token): the seed's,
// the access table's, and an administrator in system:masters.
var TokenUsers = []string{Alice, Bob, Nobody, "carol", "vera", "adam", "admin", Ava, Abe}

// Ava and Abe are members of ApproversGroup, the group approval policies
// in tests name; no role is bound to them or to the group here.
const (
	Ava            = "ava"
	Abe            = "abe"
	ApproversGroup = "release-approvers"
)

// Token returns the bearer token the API server accepts for user, one of
// TokenUsers ("admin" is in system:masters). Tokens are fixed strings: they
// only ever open a test server.
func Token(user string) string { return "kubetest-token-" + user }

func writeTokenFile() (string, error) {
	dir, err := os.MkdirTemp("", "kubetest-tokens-")
	if err != nil {
		return "", fmt.Errorf("token file directory: %w", err)
	}
	var b strings.Builder
	for _, u := range TokenUsers {
		groups := "system:authenticated"
		switch u {
		case "admin":
			groups = "system:masters,system:authenticated"
		case Ava, Abe:
			groups = ApproversGroup + ",system:authenticated"
		}
		fmt.Fprintf(&b, "%s,%s,uid-%s,\"%s\"\n", Token(u), u, u, groups)
	}
	path := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return path, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error {
	_ = os.RemoveAll(filepath.Dir(e.kubeconfig))
	return e.env.Stop()
}

// Kubectl runs the kubectl built with the API server, as the admin, and
// returns what it printed on stdout and stderr together.
func (e *Env) Kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.BinDir, "kubectl"), append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeAdminKubeconfig(te *envtest.Environment) (string, error) {
	u, err := te.AddUser(envtest.User{Name: "kubetest-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("provision admin user: %w", err)
	}
	raw, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("admin kubeconfig: %w", err)
	}
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return "", fmt.Errorf("kubeconfig directory: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return "", fmt.Errorf("write admin kubeconfig: %w", err)
	}
	return path, nil
}

// As returns a client that authenticates as user (with a client certificate
// signed by the server's CA) in the given groups. RBAC applies to it as to
// any user of a real cluster.
func (e *Env) As(t testing.TB, user string, groups ...string) client.Client {
	t.Helper()
	key := user + "|" + strings.Join(groups, ",")
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.users[key]; ok {
		return c
	}
	u, err := e.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		t.Fatalf("provision user %s: %v", user, err)
	}
	c, err := client.New(unthrottled(u.Config()), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatalf("client for user %s: %v", user, err)
	}
	e.users[key] = c
	return c
}

// UserConfig returns a connection that authenticates as user (with a client
// certificate signed by the server's CA) in the given groups, for code that
// builds its own clients, such as a controller manager run under a
// ServiceAccount's name.
func (e *Env) UserConfig(user string, groups ...string) (*rest.Config, error) {
	u, err := e.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("provision user %s: %w", user, err)
	}
	return unthrottled(u.Config()), nil
}

// UserKubeconfig writes a kubeconfig that connects as user, a member of
// groups, into dir and returns its path: for a process of its own, such as
// the built binary's `kargo controller`.
func (e *Env) UserKubeconfig(dir, user string, groups ...string) (string, error) {
	u, err := e.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("provision user %s: %w", user, err)
	}
	raw, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("kubeconfig of %s: %w", user, err)
	}
	path := filepath.Join(dir, "kubeconfig-"+strings.NewReplacer(":", "-", "/", "-").Replace(user))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return "", fmt.Errorf("write kubeconfig of %s: %w", user, err)
	}
	return path, nil
}

// unthrottled lifts client-go's default limit of 5 requests a second, as
// envtest does for the admin, so that users' requests in tests and
// benchmarks measure the server rather than the client's limiter.
func unthrottled(cfg *rest.Config) *rest.Config {
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// NewProject creates a namespace labelled as a Kargo project with a name
// unique to the test, and returns its name. Namespaces are not deleted:
// envtest runs no namespace controller, and unique names keep tests apart.
func (e *Env) NewProject(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-",
		Labels:       map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue},
	}}
	if err := e.Admin.Create(context.Background(), ns); err != nil {
		t.Fatalf("create project namespace: %v", err)
	}
	return ns.Name
}

// CreateProject creates the Project name, as a user would with kubectl,
// and waits until kargo's project controller has made and labelled its
// namespace; the controllers must run (kubetest/controllers). Unlike
// NewProject, the Project object exists, so that everything that reads
// Projects (the API server's project endpoints, say) sees it.
func (e *Env) CreateProject(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	if err := e.Admin.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create Project %s: %v", name, err)
	}
	Eventually(t, 30*time.Second, "Project "+name+" gets its namespace", func() (bool, string) {
		ns := &corev1.Namespace{}
		err := e.Admin.Get(ctx, client.ObjectKey{Name: name}, ns)
		return err == nil && ns.Labels[kargoapi.ProjectLabelKey] == kargoapi.LabelTrueValue, fmt.Sprint(err, ns.Labels)
	})
}

// Bind grants user a role in namespace with a RoleBinding: kind is
// "ClusterRole" (one of kargo's shipped roles, say) or "Role".
func (e *Env) Bind(t testing.TB, namespace, user, kind, role string) {
	t.Helper()
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if err := e.Admin.Create(context.Background(), binding); err != nil {
		t.Fatalf("bind %s %s to %s in %s: %v", kind, role, user, namespace, err)
	}
	e.AwaitBinding(t, namespace, user, kind, role)
}

// AwaitBinding waits until the API server's authorizer lets user do what
// the first rule of role grants in namespace: RBAC reads bindings from a
// cache, so a request made right after the binding was created may still
// be refused.
func (e *Env) AwaitBinding(t testing.TB, namespace, user, kind, role string) {
	t.Helper()
	ctx := context.Background()
	var rules []rbacv1.PolicyRule
	if kind == "ClusterRole" {
		r := &rbacv1.ClusterRole{}
		if err := e.Admin.Get(ctx, client.ObjectKey{Name: role}, r); err != nil {
			t.Fatalf("get ClusterRole %s: %v", role, err)
		}
		rules = r.Rules
	} else {
		r := &rbacv1.Role{}
		if err := e.Admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: role}, r); err != nil {
			t.Fatalf("get Role %s/%s: %v", namespace, role, err)
		}
		rules = r.Rules
	}
	var attrs *authorizationv1.ResourceAttributes
	for _, rule := range rules {
		if len(rule.APIGroups) > 0 && len(rule.Resources) > 0 && len(rule.Verbs) > 0 && len(rule.ResourceNames) == 0 {
			attrs = &authorizationv1.ResourceAttributes{Namespace: namespace, Group: rule.APIGroups[0], Resource: rule.Resources[0], Verb: rule.Verbs[0]}
			break
		}
	}
	if attrs == nil {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: attrs}}
		if err := e.Admin.Create(ctx, review); err != nil {
			t.Fatalf("ask whether %s's binding to %s took effect: %v", user, role, err)
		}
		if review.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's binding to %s %s in %s did not take effect within 30 s", user, kind, role, namespace)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BinDir returns the directory holding kube-apiserver, etcd, kubectl and
// kube-controller-manager: the one KUBEBUILDER_ASSETS names, or else the one
// hack/envtest-bins.sh builds (a cache hit takes milliseconds; a cold build
// takes minutes).
func BinDir() (string, error) {
	return HackBuilt("KUBEBUILDER_ASSETS", "envtest-bins.sh", []string{"kube-apiserver", "etcd", "kubectl", "kube-controller-manager"}, "ENVTEST_KCM=1")
}

// RepoRoot returns the root of the kargo source tree that holds the current
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(raw), "module github.com/kargohq/kargo\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the kargo source tree: no go.mod for module github.com/kargohq/kargo above the working directory")
		}
		dir = parent
	}
}

func serverVersion(cfg *rest.Config) string {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "(unknown version)"
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return "(unknown version)"
	}
	return v.GitVersion
}

// Eventually polls cond every 50 ms until it holds, and fails the test when
// it still does not after timeout, with what cond last reported.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s; last seen: %s", what, timeout, last)
}
