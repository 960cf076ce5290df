// Package bygit is what benchmarks compare kargo's Git work with: the git
// CLI run as a person would run it in a plain clone, and the median of
// timings taken side by side.
package bygit

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// Run runs the git CLI in dir as a user would, isolated from the host's
// configuration, and fails tb when git fails.
func Run(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	cmd := exec.Command("git", append([]string{"-c", "protocol.version=2"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Median is the median of d. On a shared machine a few runs stall for
// reasons of their own; when two sides alternate, their medians compare
// like with like.
func Median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Compare runs ours and byHand once each to warm them, then alternately
// for each iteration of b (only ours is timed by b), and reports x-raw (the
// median of ours ÷ the median by hand), median-ms and raw-median-ms. It
// returns the number of the last iteration.
func Compare(b *testing.B, ours, byHand func(i int)) int {
	ours(0)
	byHand(0)
	var mine, plain []time.Duration
	i := 1
	for b.Loop() {
		start := time.Now()
		ours(i)
		mine = append(mine, time.Since(start))
		b.StopTimer()
		start = time.Now()
		byHand(i)
		plain = append(plain, time.Since(start))
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(Median(mine))/float64(Median(plain)), "x-raw")
	b.ReportMetric(float64(Median(mine).Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(Median(plain).Microseconds())/1000, "raw-median-ms")
	return i - 1
}
