package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The commands are tested against the real API server (internal/server) on
// a real kube-apiserver with kargo's controllers and admission webhooks:
// what the CLI sends, what the server and the controllers make of it, and
// what the CLI prints and exits with. Output formats alone are tested from
// fixed objects in print_test.go.

var (
	env *kubetest.Env
	api *apiserver.Server
)

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run, apiserver.Run(&api))
}

// The users of these tests (kubetest.TokenUsers).
const (
	// admin is in system:masters: the only one who may list every Project.
	admin = "admin"
	// adam administers each test's project with the shipped kargo-admin
	// role; commands run as him unless a test says otherwise.
	adam = "adam"
	// vera may look at everything in each test's project and change
	// nothing (kargo-viewer).
	vera  = "vera"
	alice = kubetest.Alice
)

type harness struct {
	t *testing.T
	// project is the test's own Project.
	project string
	config  string
	g       *globals
}

var (
	nonName = regexp.MustCompile(`[^a-z0-9]+`)
	// projects numbers the projects of the run, so that -count=N runs each
	// test in fresh ones.
	projects atomic.Int64
)

// newHarness creates a Project for the test, where adam is an
// administrator and vera a viewer, and logs in to the API server as adam,
// with the project as the default when defaultProject.
func newHarness(t *testing.T, defaultProject bool) *harness {
	t.Helper()
	t.Setenv(configEnv, "")
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	name = fmt.Sprintf("%s-%d", name, projects.Add(1))
	env.CreateProject(t, name)
	env.Bind(t, name, adam, "ClusterRole", "kargo-admin")
	env.Bind(t, name, vera, "ClusterRole", "kargo-viewer")
	h := &harness{
		t:       t,
		project: name,
		config:  filepath.Join(t.TempDir(), "kargo", "config.yaml"),
		g: &globals{
			now:          time.Now,
			isTerminal:   func(io.Writer) bool { return false },
			pollInterval: 200 * time.Millisecond,
		},
	}
	h.login(adam)
	if defaultProject {
		cfg := readConfig(t, h.config)
		cfg.Project = name
		require.NoError(t, saveConfig(h.config, cfg))
	}
	return h
}

// login logs in as user, as `kargo login` does, keeping the default
// project.
func (h *harness) login(user string) {
	h.t.Helper()
	cfg, err := loadConfig(h.config)
	require.NoError(h.t, err)
	cfg.Server, cfg.Token = api.URL, kubetest.Token(user)
	require.NoError(h.t, saveConfig(h.config, cfg))
}

type result struct {
	stdout, stderr string
	code           int
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn(context.Background(), "", args...)
}

func (h *harness) runIn(ctx context.Context, stdin string, args ...string) result {
	h.t.Helper()
	var stdout syncBuffer
	return h.execute(ctx, stdin, &stdout, args)
}

// start runs a command in the background; its stdout can be read while it
// runs.
func (h *harness) start(ctx context.Context, args ...string) (*syncBuffer, <-chan result) {
	stdout := &syncBuffer{}
	done := make(chan result, 1)
	go func() { done <- h.execute(ctx, "", stdout, args) }()
	return stdout, done
}

func (h *harness) execute(ctx context.Context, stdin string, stdout *syncBuffer, args []string) result {
	var stderr syncBuffer
	g := *h.g
	code := execute(ctx, append([]string{"--config", h.config}, args...), strings.NewReader(stdin), stdout, &stderr, &g)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// create creates objects in the test's project as the cluster's
// administrator would with kubectl, and waits until the API server serves
// them. The status of Freight, which a create ignores, is written
// afterwards when set.
func (h *harness) create(objs ...client.Object) {
	h.t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		if _, isProject := o.(*kargoapi.Project); !isProject {
			o.SetNamespace(h.project)
		}
		f, isFreight := o.(*kargoapi.Freight)
		var status *kargoapi.FreightStatus
		if isFreight && (f.Status.VerifiedIn != nil || f.Status.ApprovedFor != nil) {
			status = f.Status.DeepCopy()
		}
		require.NoError(h.t, env.Admin.Create(ctx, o))
		if status != nil {
			f.Status = *status
			require.NoError(h.t, env.Admin.Status().Update(ctx, f))
		}
	}
	h.served(objs...)
}

// served waits until the API server lists each object as the
// kube-apiserver holds it now: its cache has caught up.
func (h *harness) served(objs ...client.Object) {
	h.t.Helper()
	c, err := apiclient.New(api.URL, kubetest.Token(admin))
	require.NoError(h.t, err)
	ctx := context.Background()
	for _, o := range objs {
		kind := kindOf(o)
		kubetest.Eventually(h.t, 30*time.Second, fmt.Sprintf("the API server serves %s %s", kind, o.GetName()), func() (bool, string) {
			live := o.DeepCopyObject().(client.Object)
			if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
				return false, err.Error()
			}
			items, err := c.ListAll(ctx, kind, o.GetNamespace(), apiclient.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, raw := range items {
				var m metav1.PartialObjectMetadata
				if json.Unmarshal(raw, &m) == nil && m.Name == o.GetName() {
					return m.ResourceVersion == live.GetResourceVersion(), "served " + m.ResourceVersion + ", stored " + live.GetResourceVersion()
				}
			}
			return false, "not listed"
		})
	}
}

func kindOf(o client.Object) apiclient.Kind {
	switch o.(type) {
	case *kargoapi.Project:
		return apiclient.Projects
	case *kargoapi.Warehouse:
		return apiclient.Warehouses
	case *kargoapi.Stage:
		return apiclient.Stages
	case *kargoapi.Freight:
		return apiclient.Freight
	case *kargoapi.Promotion:
		return apiclient.Promotions
	case *kargoapi.PromotionWindow:
		return apiclient.PromotionWindows
	case *kargoapi.ApprovalPolicy:
		return apiclient.ApprovalPolicies
	}
	return apiclient.PromotionPolicies
}

// get reads an object of the test's project as the kube-apiserver holds
// it.
func get[T client.Object](h *harness, name string, obj T) T {
	h.t.Helper()
	require.NoError(h.t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: h.project, Name: name}, obj))
	return obj
}

// promotions returns the Promotions of the test's project.
func (h *harness) promotions() []kargoapi.Promotion {
	h.t.Helper()
	list := &kargoapi.PromotionList{}
	require.NoError(h.t, env.Admin.List(context.Background(), list, client.InNamespace(h.project)))
	return list.Items
}

// The objects of these tests. Stages test and production form a line fed
// by Warehouse kargo-demo; its Freight comes from images named by tag.

func warehouseNamed(name, repo string) *kargoapi.Warehouse {
	return &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(repo)}}},
		},
	}
}

func testStage() *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test"},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"}},
	}
}

func productionStage() *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "production"},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}},
	}
}

// pipeline creates Warehouse kargo-demo, Stages test and production, and
// two Freight: mortal-dragonfly (the newer, created second) and
// frozen-tauntaun.
func (h *harness) pipeline() (a, b *kargoapi.Freight) {
	h.t.Helper()
	a, b = objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", "1.27.0"), objects.Alias("mortal-dragonfly"), objects.FromWarehouse("kargo-demo")), objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", "1.26.0"), objects.Alias("frozen-tauntaun"), objects.FromWarehouse("kargo-demo"))
	h.create(warehouseNamed("kargo-demo", "registry.invalid/app"), testStage(), productionStage(), b, a)
	return a, b
}

// syncBuffer is a bytes.Buffer a test may read while a command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls cond until it holds, with a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	kubetest.Eventually(t, 30*time.Second, what, func() (bool, string) { return cond(), "" })
}

func readConfig(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := loadConfig(path)
	require.NoError(t, err)
	return cfg
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}
