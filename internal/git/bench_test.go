package git_test

import (
	"fmt"
	"testing"
	"time"

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
