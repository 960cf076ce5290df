package git_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
)

// A refresh token stands for "newer than the moment it was set": a listing
// that began at or after it serves it, one that began before does not.
func TestRefreshTokens(t *testing.T) {
	const maxAge = 5 * time.Minute
	t.Run("a token set during a listing is served by the next one", func(t *testing.T) {
		srv := newServer(t)
		srv.CreateRepo("r")
		srv.Commit(t, "r", "main", map[string]string{"a": "0"}, "seed")
		url := srv.RepoURL("r")
		cache, clk := newCache(t, git.Options{CoalesceWindow: -1})
		sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}
		_, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
		require.NoError(t, err)

		clk.Advance(time.Millisecond)
		first := srv.Commit(t, "r", "main", map[string]string{"a": "1"}, "first push")
		cache.InvalidateBefore(url, clk.Now())
		type result struct {
			id  string
			err error
		}
		later := make(chan result, 1)
		var second string
		// The listing the first token asked for has listed the refs and
		// is fetching: a second push and its token arrive now.
		srv.BeforeNextFetch("r", func() {
			second = srv.Commit(t, "r", "main", map[string]string{"a": "2"}, "second push")
			clk.Advance(time.Millisecond)
			cache.InvalidateBefore(url, clk.Now())
			go func() {
				got, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
				if err != nil {
					later <- result{err: err}
					return
				}
				later <- result{id: got[0].ID}
			}()
		})
		got, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
		require.NoError(t, err)
		require.Equal(t, first, got[0].ID, "the listing under way when the second token was set")
		r := <-later
		require.NoError(t, r.err)
		require.Equal(t, second, r.id, "the second token is not served by a listing that began before it")
		require.Equal(t, 3, srv.Counts("r").InfoRefs, "the clone, then one listing per token")
	})

	t.Run("tokens set before a listing began share it", func(t *testing.T) {
		srv := newServer(t)
		srv.CreateRepo("r")
		srv.Commit(t, "r", "main", map[string]string{"a": "0"}, "seed")
		url := srv.RepoURL("r")
		cache, clk := newCache(t, git.Options{CoalesceWindow: -1})
		sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}
		_, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
		require.NoError(t, err)

		// Twenty refresh requests, each with its own token, before any
		// subscriber acts on them.
		var tokens []time.Time
		var head string
		for i := range 20 {
			clk.Advance(time.Millisecond)
			head = srv.Commit(t, "r", "main", map[string]string{"a": string(rune('b' + i))}, "push")
			tokens = append(tokens, clk.Now())
		}
		done := make(chan string, len(tokens))
		for _, tok := range tokens {
			go func() {
				cache.InvalidateBefore(url, tok)
				got, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
				if err != nil {
					done <- err.Error()
					return
				}
				done <- got[0].ID
			}()
		}
		for range tokens {
			require.Equal(t, head, <-done)
		}
		require.Equal(t, 2, srv.Counts("r").InfoRefs, "the clone and one listing for twenty tokens")
		require.Equal(t, 2, srv.Counts("r").Fetches, "the clone and one fetch")
	})

	t.Run("requests within the coalescing window share a listing", func(t *testing.T) {
		srv := newServer(t)
		srv.CreateRepo("r")
		srv.Commit(t, "r", "main", map[string]string{"a": "0"}, "seed")
		url := srv.RepoURL("r")
		// The real clock: the window is real time. A second is far more
		// than the requests below take.
		cache := git.NewCache(t.TempDir(), options(git.Options{CoalesceWindow: time.Second}))
		sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}
		_, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
		require.NoError(t, err)

		head := srv.Commit(t, "r", "main", map[string]string{"a": "1"}, "push")
		done := make(chan string, 2)
		request := func() {
			cache.InvalidateBefore(url, time.Now())
			go func() {
				got, err := cache.Discover(ctx(t), sub, nil, 1, maxAge)
				if err != nil {
					done <- err.Error()
					return
				}
				done <- got[0].ID
			}()
		}
		request()
		request()
		require.Equal(t, head, <-done)
		require.Equal(t, head, <-done)
		require.Equal(t, 2, srv.Counts("r").InfoRefs, "the clone and one listing for both requests")
	})
}
