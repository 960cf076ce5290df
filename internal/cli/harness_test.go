package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient/apiclienttest"
)

// The commands are tested against apiclienttest, a stand-in that speaks the
// API's wire format, so that these tests cover what the CLI sends, prints
// and exits with. The end-to-end tests of the CLI against the real API
// server (internal/server) come with that server.

const testToken = "t0ken"

type harness struct {
	t      *testing.T
	srv    *apiclienttest.Server
	config string
	g      *globals
}

// newHarness starts a fake API server with project kargo-demo and logs in
// to it, with kargo-demo as the default project when defaultProject.
func newHarness(t *testing.T, defaultProject bool) *harness {
	t.Helper()
	t.Setenv(configEnv, "")
	srv := apiclienttest.New(t, testToken)
	srv.Add(&kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", CreationTimestamp: ago(time.Hour)}})
	h := &harness{
		t:      t,
		srv:    srv,
		config: filepath.Join(t.TempDir(), "kargo", "config.yaml"),
		g: &globals{
			now:          func() time.Time { return now },
			isTerminal:   func(io.Writer) bool { return false },
			pollInterval: 20 * time.Millisecond,
		},
	}
	cfg := &Config{Server: srv.URL, Token: testToken}
	if defaultProject {
		cfg.Project = "kargo-demo"
	}
	require.NoError(t, saveConfig(h.config, cfg))
	return h
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
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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

func writeTestJSON(t *testing.T, w http.ResponseWriter, v any) {
	t.Helper()
	w.Header().Set("Content-Type", "application/json")
	require.NoError(t, json.NewEncoder(w).Encode(v))
}
