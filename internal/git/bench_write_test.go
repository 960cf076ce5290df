package git_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/testutil/bygit"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// benchTeams and benchAppsPerTeam shape the benchmark repositories' tree:
// 200 files in 20 directories, a small GitOps repository.
const (
	benchTeams       = 20
	benchAppsPerTeam = 10
)

func benchFile(i int) string {
	return fmt.Sprintf("apps/team%02d/app%d/values.yaml", i%benchTeams, (i/benchTeams)%benchAppsPerTeam)
}

// generateHistory writes commits commits to branch main of repo with one
// `git fast-import`, straight into the served repository: the first adds
// every file, each later one changes one file.
func generateHistory(tb testing.TB, srv *gitserver.Server, repo string, commits int) {
	tb.Helper()
	srv.CreateRepo(repo)
	var s strings.Builder
	s.Grow(commits * 200)
	files := benchTeams * benchAppsPerTeam
	for i := range commits {
		msg := fmt.Sprintf("change %d", i)
		fmt.Fprintf(&s, "commit refs/heads/main\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s\n", 1_700_000_000+i, len(msg), msg)
		if i == 0 {
			for f := range files {
				content := fmt.Sprintf("image: app:v0\nreplicas: %d\n", f)
				fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", benchFile(f), len(content), content)
			}
			continue
		}
		content := fmt.Sprintf("image: app:v%d\nreplicas: %d\n", i, i%files)
		fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", benchFile(i%files), len(content), content)
	}
	srv.Git(tb, repo, s.String(), "fast-import", "--quiet")
}

// BenchmarkPromotionCommit measures one in-place promotion (fetch, check
// the idempotency trailer, check out, edit one file, commit, push) through
// a warm Cache, against the same change made with the raw git CLI in a warm
// plain clone of an identical repository: fetch, fast-forward, edit, commit,
// push. ns/op is the mean promotion; x-raw is the median promotion time ÷
// the median raw time. The
// histories have 1,000 and 100,000 commits and the same 200-file tree; a
// promotion's cost should not depend on the history's length.
func BenchmarkPromotionCommit(b *testing.B) {
	for _, commits := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("history=%d", commits), func(b *testing.B) {
			if commits > 1_000 && testing.Short() {
				b.Skip("100,000 commits take a while to generate")
			}
			srv := newServer(b)
			generateHistory(b, srv, "ours", commits)
			// An identical repository for the raw CLI, so that neither
			// side fetches the other's commits.
			out, err := exec.Command("cp", "-a", srv.Dir("ours"), srv.Dir("raw")).CombinedOutput()
			require.NoError(b, err, string(out))

			cache := git.NewCache(b.TempDir(), options(git.Options{}))
			url := srv.RepoURL("ours")
			promote := func(i int) {
				file, content := benchFile(i), fmt.Sprintf("image: app:promoted-%d\n", i)
				res, err := cache.Commit(context.Background(), git.CommitRequest{
					RepoURL: url, WriteBranch: "main", Subject: fmt.Sprintf("promote %d", i),
					Apply:              setFiles(map[string]string{file: content}),
					IdempotencyTrailer: [2]string{"Kargo-Promotion", fmt.Sprintf("uid-%d", i)},
				})
				if err != nil || !res.Changed {
					b.Fatalf("promotion %d: %+v: %v", i, res, err)
				}
			}
			clone := filepath.Join(b.TempDir(), "clone")
			bygit.Run(b, filepath.Dir(clone), "clone", "--quiet", srv.RepoURL("raw"), clone)
			raw := func(i int) {
				bygit.Run(b, clone, "fetch", "--quiet", "origin")
				bygit.Run(b, clone, "merge", "--quiet", "--ff-only", "origin/main")
				path := filepath.Join(clone, benchFile(i))
				require.NoError(b, os.WriteFile(path, []byte(fmt.Sprintf("image: app:promoted-%d\n", i)), 0o644))
				bygit.Run(b, clone, "commit", "--quiet", "-a", "-m", fmt.Sprintf("promote %d", i))
				bygit.Run(b, clone, "push", "--quiet", "origin", "HEAD:main")
			}
			// The first promotion clones the mirror and fetches the tree's
			// contents once; medians compare like with like on a shared
			// machine, where a few iterations stall for reasons of their own.
			bygit.Compare(b, promote, raw)
		})
	}
}

// BenchmarkConcurrentPromotions50 measures 50 promotions started at once
// into one repository through one Cache, each changing its own file: all to
// one branch (the worst case: they queue for it) and each to its own stage
// branch. ns/op is the wall time until all 50 have landed.
func BenchmarkConcurrentPromotions50(b *testing.B) {
	const n = 50
	for _, mode := range []string{"one-branch", "50-branches"} {
		b.Run(mode, func(b *testing.B) {
			srv := newServer(b)
			generateHistory(b, srv, "app", 1_000)
			url := srv.RepoURL("app")
			cache := git.NewCache(b.TempDir(), options(git.Options{}))
			round := 0
			request := func(i int) git.CommitRequest {
				req := git.CommitRequest{
					RepoURL: url, WriteBranch: "main", Subject: fmt.Sprintf("promote %d/%d", round, i),
					Apply:              setFiles(map[string]string{fmt.Sprintf("promoted/%d.txt", i): fmt.Sprint(round)}),
					IdempotencyTrailer: [2]string{"Kargo-Promotion", fmt.Sprintf("uid-%d-%d", round, i)},
				}
				if mode == "50-branches" {
					req.ReadRef, req.WriteBranch = "main", fmt.Sprintf("stages/s%d", i)
				}
				return req
			}
			// Warm: the mirror exists and main's content is fetched.
			if _, err := cache.Commit(context.Background(), request(-1)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				round++
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := cache.Commit(context.Background(), request(i))
						if err == nil && !res.Changed {
							err = fmt.Errorf("nothing changed: %+v", res)
						}
						errs[i] = err
					}()
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						b.Fatalf("promotion %d: %v", i, err)
					}
				}
			}
			b.StopTimer()
			if mode == "one-branch" {
				landed := srv.Git(b, "app", "", "log", "--format=%s", "-n", fmt.Sprint(n), "main")
				require.Equal(b, n, strings.Count(landed, fmt.Sprintf("promote %d/", round)), "all of the last round landed")
			} else {
				for i := range n {
					require.Equal(b, fmt.Sprint(round), srv.Show(b, "app", fmt.Sprintf("stages/s%d", i), fmt.Sprintf("promoted/%d.txt", i)))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/promotion")
		})
	}
}
