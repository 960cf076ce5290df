package git_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
)

// logProcesses is how many `git log` processes this test binary's caches
// have started.
func logProcesses(t *testing.T) float64 {
	t.Helper()
	return metricstest.Value(t, "kargo_git_processes_total", map[string]string{"command": "log"})
}

// A push to a monorepo watched by a hundred subscribers, each with path
// filters of its own, is read with one git log, and each subscriber still
// gets exactly the commits its includePaths and excludePaths let through;
// a subscriber with filters that do not compile fails alone.
func TestPathFiltersShareOneHistory(t *testing.T) {
	const n = 100
	srv := newServer(t)
	url := srv.CreateRepo("mono")
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("apps/app%d/values.yaml", i)] = "0"
	}
	seed := srv.Commit(t, "mono", "main", files, "seed")
	cache, _ := newCache(t, git.Options{CoalesceWindow: -1})

	subs := make([]kargoapi.GitSubscription, n)
	for i := range subs {
		subs[i] = kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main",
			IncludePaths: []string{fmt.Sprintf("apps/app%d/", i)}}
	}
	// Filters of every form, among the hundred.
	subs[1].ExcludePaths = []string{"apps/app1/docs/"}
	subs[2].IncludePaths = []string{"apps/app[2]/*.yaml"}
	subs[3].IncludePaths = []string{"regex:^apps/app3/"}
	subs[4].IncludePaths = nil
	subs[4].ExcludePaths = []string{"apps/app1/"}
	bad := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main", IncludePaths: []string{"regex:apps/(app"}}

	// discoverAt refreshes every subscriber at once, the bad one among
	// them, and returns each newest commit and the git log processes it
	// took.
	discoverAt := func() ([]string, float64) {
		t.Helper()
		cache.InvalidateBefore(url, time.Now())
		before := logProcesses(t)
		var wg sync.WaitGroup
		var badErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, badErr = discover(t, cache, bad, nil, 1)
		}()
		heads := discoverAll(t, cache, subs, 0)
		wg.Wait()
		require.ErrorIs(t, badErr, sourceerr.ErrInvalid)
		return heads, logProcesses(t) - before
	}
	heads, _ := discoverAt()
	for i, h := range heads {
		require.Equal(t, seed, h, "subscriber %d", i)
	}

	app7 := srv.Commit(t, "mono", "main", map[string]string{"apps/app7/values.yaml": "1"}, "app7")
	heads, logs := discoverAt()
	require.Equal(t, 1.0, logs, "one git log for the push, whatever the number of filters")
	for i, h := range heads {
		switch i {
		case 7, 4:
			require.Equal(t, app7, h, "subscriber %d", i)
		default:
			require.Equal(t, seed, h, "subscriber %d", i)
		}
	}

	// A commit that changes only excluded paths is no candidate.
	srv.Commit(t, "mono", "main", map[string]string{"apps/app1/docs/guide.md": "1"}, "app1 docs")
	heads, logs = discoverAt()
	require.Equal(t, 1.0, logs)
	require.Equal(t, seed, heads[1], "app1's filter excludes its docs")
	require.Equal(t, app7, heads[4], "subscriber 4 excludes apps/app1/")
	require.Equal(t, seed, heads[0])

	// A glob, a regex and a prefix of one push.
	both := srv.Commit(t, "mono", "main", map[string]string{"apps/app2/values.yaml": "1", "apps/app3/values.yaml": "1", "apps/app1/docs/x.md": "1"}, "app2 and app3")
	heads, logs = discoverAt()
	require.Equal(t, 1.0, logs)
	require.Equal(t, []string{seed, seed, both, both, both}, heads[:5])
}

// A subscriber whose newest matching commit lies beyond the first window
// of history read gets it from a further read, as does a limit larger than
// one window holds, and the history depth still bounds the search.
func TestPathFilterBeyondFirstWindow(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("deep")
	old := srv.Commit(t, "deep", "main", map[string]string{"rare/values.yaml": "0"}, "rare")
	var often []string
	for i := range 150 {
		often = append(often, srv.Commit(t, "deep", "main", map[string]string{"often/values.yaml": fmt.Sprint(i)}, "often"))
	}
	cache, _ := newCache(t, git.Options{})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}

	sub.IncludePaths = []string{"often/"}
	got, err := discover(t, cache, sub, nil, 1)
	require.NoError(t, err)
	require.Equal(t, often[149], got[0].ID)

	sub.IncludePaths = []string{"rare/"}
	got, err = discover(t, cache, sub, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []string{old}, ids(got))

	sub.IncludePaths = []string{"often/", "rare/"}
	got, err = discover(t, cache, sub, nil, 151)
	require.NoError(t, err)
	require.Len(t, got, 151)
	require.Equal(t, often[149], got[0].ID)
	require.Equal(t, often[0], got[149].ID)
	require.Equal(t, old, got[150].ID)

	shallow, _ := newCache(t, git.Options{HistoryDepth: 150})
	sub.IncludePaths = []string{"rare/"}
	_, err = discover(t, shallow, sub, nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrNoMatch)
	require.ErrorContains(t, err, "last 150 commits")
}
