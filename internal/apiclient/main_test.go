// The client is tested against the real API server (internal/server) on a
// real kube-apiserver, with kargo's controllers and admission webhooks, as
// the test users whose bearer tokens kubetest issues. Faults no healthy
// server makes (a slow network, a proxy that drops query strings or
// repeats a page) are injected by interceptors in front of it, never by a
// stand-in for it.
package apiclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"regexp"
	"slices"
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
)

// The users of these tests (kubetest.TokenUsers): admin is in
// system:masters; adam administers each test's project with the shipped
// kargo-admin role; nobody holds no right at all.
const (
	admin  = "admin"
	adam   = "adam"
	alice  = kubetest.Alice
	nobody = kubetest.Nobody
)

var (
	env *kubetest.Env
	api *apiserver.Server
)

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run, apiserver.Run(&api))
}

// newClient returns a client of the server under test that authenticates
// as user.
func newClient(t *testing.T, user string, opts ...apiclient.Option) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(api.URL, kubetest.Token(user), opts...)
	require.NoError(t, err)
	return c
}

var (
	nonName = regexp.MustCompile(`[^a-z0-9]+`)
	// projects numbers the projects of the run, so that -count=N runs each
	// test in fresh ones.
	projects atomic.Int64
)

// newProject creates a Project named after the test, administered by adam.
func newProject(t *testing.T) string {
	t.Helper()
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	name = fmt.Sprintf("%s-%d", name, projects.Add(1))
	env.CreateProject(t, name)
	env.Bind(t, name, adam, "ClusterRole", "kargo-admin")
	return name
}

// create creates objects as the cluster's administrator would with
// kubectl.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		require.NoError(t, env.Admin.Create(context.Background(), o))
	}
}

func stage(project, name string) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}
}

// interceptor sits between a client and the real server: it records each
// request as "METHOD /path?query", and lets a test change a request or an
// answer on the way, to inject faults the real server does not make.
type interceptor struct {
	next http.RoundTripper
	// request, when set, may change a request before it is sent.
	request func(*http.Request) error
	// response, when set, may change an answer before the client sees it.
	response func(*http.Response) error

	mu       sync.Mutex
	requests []string
}

func newInterceptor() *interceptor {
	return &interceptor{next: http.DefaultTransport}
}

func (i *interceptor) RoundTrip(req *http.Request) (*http.Response, error) {
	if i.request != nil {
		if err := i.request(req); err != nil {
			return nil, err
		}
	}
	i.mu.Lock()
	entry := req.Method + " " + req.URL.Path
	if req.URL.RawQuery != "" {
		entry += "?" + req.URL.RawQuery
	}
	i.requests = append(i.requests, entry)
	i.mu.Unlock()
	resp, err := i.next.RoundTrip(req)
	if err != nil || i.response == nil {
		return resp, err
	}
	if err := i.response(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Requests returns the requests sent so far.
func (i *interceptor) Requests() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.requests)
}

// client returns a client as user whose requests go through i.
func (i *interceptor) client(t *testing.T, user string, opts ...apiclient.Option) *apiclient.Client {
	t.Helper()
	return newClient(t, user, append(opts, apiclient.WithHTTPClient(&http.Client{Transport: i}))...)
}

// waitFor polls cond until it holds, failing after 30 seconds.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	kubetest.Eventually(t, 30*time.Second, what, cond)
}

// discardLog silences net/http's own messages, such as a reverse proxy's
// complaint about a backend that is down on purpose.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
