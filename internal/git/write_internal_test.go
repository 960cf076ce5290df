package git

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// TestPushedObjectsArePromised checks what keeps fetches into a mirror fast
// after a push: every branch of the mirror points into a promisor pack, as
// after a clone or fetch. A branch pointing at a loose commit would make
// every later fetch enumerate all objects of the mirror.
func TestPushedObjectsArePromised(t *testing.T) {
	srv := gitserver.New(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	cache := NewCache(t.TempDir(), Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, branch := range []string{"main", "stages/test"} {
		_, err := cache.Commit(ctx, CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: branch, Subject: "edit",
			Apply: func(_ context.Context, dir string) ([]string, error) {
				return []string{"a.txt"}, os.WriteFile(filepath.Join(dir, "a.txt"), []byte(branch), 0o644)
			},
		})
		require.NoError(t, err)
	}
	require.Len(t, cache.entries, 1)
	var e *entry
	for _, only := range cache.entries {
		e = only
	}
	promised := map[string]bool{}
	idx, err := filepath.Glob(filepath.Join(e.dir, "objects", "pack", "*.promisor"))
	require.NoError(t, err)
	for _, p := range idx {
		f, err := os.Open(strings.TrimSuffix(p, ".promisor") + ".idx")
		require.NoError(t, err)
		out, err := cache.output(ctx, e.dir, f, "show-index")
		require.NoError(t, f.Close())
		require.NoError(t, err)
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				promised[f[1]] = true
			}
		}
	}
	for _, branch := range []string{"main", "stages/test"} {
		head := srv.BranchHead(t, "app", branch)
		out, err := cache.output(ctx, e.dir, nil, "rev-parse", "refs/heads/"+branch)
		require.NoError(t, err)
		require.Equal(t, head, strings.TrimSpace(string(out)), "the mirror's %s is the pushed commit", branch)
		require.True(t, promised[head], "%s's commit is in a promisor pack", branch)
	}
}
