package git_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
)

// BenchmarkDiscoverFanIn measures one poll interval of 100 subscribers of
// one repository that changed since the last interval: a new commit, the
// webhook's Invalidate, then every subscriber's Discover at once. Besides
// time per interval it reports the git network operations the host saw per
// interval.
func BenchmarkDiscoverFanIn(b *testing.B) {
	srv := newServer(b)
	seedFanInRepo(b, srv, "mono")
	url := srv.RepoURL("mono")
	cache, _ := newCache(b, git.Options{})
	subs := fanInSubscriptions(url)
	discoverAll(b, cache, subs, time.Hour)
	before := srv.Counts("mono")
	n := 0
	for b.Loop() {
		b.StopTimer()
		srv.Commit(b, "mono", "main", map[string]string{fmt.Sprintf("apps/app%d/values.yaml", n%20): fmt.Sprint(n)}, "change")
		n++
		cache.Invalidate(url)
		b.StartTimer()
		discoverAll(b, cache, subs, time.Hour)
	}
	after := srv.Counts("mono")
	intervals := float64(n)
	b.ReportMetric(float64(after.InfoRefs-before.InfoRefs)/intervals, "info-refs/interval")
	b.ReportMetric(float64(after.LsRefs-before.LsRefs)/intervals, "ls-refs/interval")
	b.ReportMetric(float64(after.Fetches-before.Fetches)/intervals, "fetches/interval")
	b.ReportMetric(float64(len(subs)), "subscribers")
}

// BenchmarkRefreshTogether measures N subscribers of one repository
// refreshed together after a push, each by a request of its own with its
// own token (the time it was made), as N `kargo refresh warehouse` calls or
// N refresh annotations: the git HTTP requests the host sees per push
// (info/refs, ls-refs and fetch POSTs) and the time from the first request
// to the last subscriber's answer, median over the pushes. The window of
// DefaultCoalesceWindow is part of that time, also for N=1.
func BenchmarkRefreshTogether(b *testing.B) {
	for _, n := range []int{1, 20, 100, 500} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			srv := newServer(b)
			seedFanInRepo(b, srv, "mono")
			url := srv.RepoURL("mono")
			cache := git.NewCache(b.TempDir(), options(git.Options{}))
			subs := fanInSubscriptions(url)[:0]
			for i := range n {
				subs = append(subs, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main",
					IncludePaths: []string{fmt.Sprintf("apps/app%d/", i%20)}})
			}
			discoverAll(b, cache, subs, time.Hour)
			before := srv.Counts("mono")
			var lasts []time.Duration
			pushes := 0
			for b.Loop() {
				b.StopTimer()
				srv.Commit(b, "mono", "main", map[string]string{fmt.Sprintf("apps/app%d/values.yaml", pushes%20): fmt.Sprint(pushes)}, "change")
				pushes++
				b.StartTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for _, s := range subs {
					token := time.Now()
					wg.Add(1)
					go func() {
						defer wg.Done()
						cache.InvalidateBefore(url, token)
						if _, err := cache.Discover(context.Background(), s, nil, 1, time.Hour); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				lasts = append(lasts, time.Since(start))
			}
			after := srv.Counts("mono")
			requests := (after.InfoRefs + after.LsRefs + after.Fetches) - (before.InfoRefs + before.LsRefs + before.Fetches)
			sort.Slice(lasts, func(i, j int) bool { return lasts[i] < lasts[j] })
			b.ReportMetric(float64(requests)/float64(pushes), "git-http-requests/push")
			b.ReportMetric(float64(after.InfoRefs-before.InfoRefs)/float64(pushes), "listings/push")
			b.ReportMetric(float64(lasts[len(lasts)/2].Microseconds())/1000, "last-p50-ms")
		})
	}
}
