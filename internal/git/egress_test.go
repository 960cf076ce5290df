package git_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// git runs as a child process; its connections go through the egress
// policy's proxy, so the policy holds for them as for the controller's own.
func TestGitConnectionsFollowTheEgressPolicy(t *testing.T) {
	srv := gitserver.New(t) // not allowed by any rule
	srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(srv.RepoURL("app"))}

	t.Run("a repository on loopback is refused", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{})})
		_, err := discover(t, cache, sub, nil, 1)
		require.ErrorIs(t, err, egress.ErrRefused)
		require.ErrorContains(t, err, "refused to connect to "+srv.Host()+": it is a loopback address")
		require.Equal(t, "AddressRefused", sourceerr.Reason(err))
		require.Zero(t, srv.Counts("app").InfoRefs, "the server received a request")
	})

	t.Run("a name that resolves to loopback is refused at dial time", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{
			Resolver: func(context.Context, string) ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			},
		})})
		_, port, _ := net.SplitHostPort(srv.Host())
		renamed := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL("http://innocent.example:" + port + "/app.git")}
		_, err := discover(t, cache, renamed, nil, 1)
		require.ErrorIs(t, err, egress.ErrRefused)
		require.ErrorContains(t, err, "refused to connect to innocent.example (127.0.0.1:"+port+")")
		require.Zero(t, srv.Counts("app").InfoRefs, "the server received a request")
	})

	t.Run("proxy settings of the environment do not bypass the policy", func(t *testing.T) {
		t.Setenv("NO_PROXY", "*")
		t.Setenv("no_proxy", "*")
		t.Setenv("HTTP_PROXY", "")
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{})})
		_, err := discover(t, cache, sub, nil, 1)
		require.ErrorIs(t, err, egress.ErrRefused)
		require.Zero(t, srv.Counts("app").InfoRefs, "the server received a request")
	})

	t.Run("a redirect to loopback is refused", func(t *testing.T) {
		// The first server stands for an allowed host; it redirects git to
		// the refused one.
		bouncer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, srv.URL+r.URL.Path+"?"+r.URL.RawQuery, http.StatusFound)
		}))
		t.Cleanup(bouncer.Close)
		policy := egress.New(egress.Options{Allow: egress.MustParseRules(bouncer.Listener.Addr().String())})
		cache, _ := newCache(t, git.Options{Egress: policy})
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(bouncer.URL + "/app.git")}, nil, 1)
		require.ErrorIs(t, err, egress.ErrRefused)
		require.ErrorContains(t, err, "refused to connect to "+srv.Host())
		require.Zero(t, srv.Counts("app").InfoRefs, "the server received a request")
	})

	t.Run("allowed by address and port, it is reached", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})})
		got := mustDiscover(t, cache, sub, nil, 1)
		require.Len(t, got, 1)
		require.NotZero(t, srv.Counts("app").InfoRefs)
	})

	t.Run("a push is refused too", func(t *testing.T) {
		before := srv.Counts("app")
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{})})
		_, err := cache.Commit(ctx(t), git.CommitRequest{
			RepoURL: srv.RepoURL("app"), WriteBranch: "stages/test", Subject: "x",
			Apply: func(_ context.Context, dir string) ([]string, error) {
				return []string{"a"}, os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o600)
			},
		})
		require.ErrorIs(t, err, egress.ErrRefused)
		require.Equal(t, before, srv.Counts("app"), "the server received a request")
	})
}

func TestTransportsThatBypassThePolicyAreRefused(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cache, _ := newCache(t, git.Options{})
	for _, url := range []string{
		"ext::sh -c touch% " + marker,
		"ext::sh -c 'touch " + marker + "'",
		"fd::3",
		"ssh://git@github.com/example/app.git",
		"git@github.com:example/app.git",
		"git://github.com/example/app.git",
		"file:///etc",
	} {
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid, url)
	}
	_, err := os.Stat(marker)
	require.ErrorIs(t, err, os.ErrNotExist, "an ext:: command ran")
}
