package git_test

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

func TestDiscoverBasicAuth(t *testing.T) {
	const password = "s3cr3t-t0ken-value"
	srv := newServer(t, gitserver.WithBasicAuth("robot", password))
	url := srv.CreateRepo("private")
	head := srv.Commit(t, "private", "main", map[string]string{"a": "1"}, "one")
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}
	dir := t.TempDir()
	cache := git.NewCache(dir, options(git.Options{}))

	tests := []struct {
		name     string
		creds    *credentials.Credentials
		wantErr  error
		wantHint string
	}{
		{name: "right password", creds: &credentials.Credentials{Username: "robot", Password: password}},
		{name: "wrong password", creds: &credentials.Credentials{Username: "robot", Password: "wrong-password"},
			wantErr: sourceerr.ErrUnauthorized, wantHint: "check the username and password of the git credential Secret for " + url},
		{name: "no credentials", wantErr: sourceerr.ErrUnauthorized, wantHint: "create a git credential Secret for " + url},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := discover(t, cache, sub, tt.creds, 1)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, []string{head}, ids(got))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantHint)
			require.Equal(t, "AuthenticationFailed", sourceerr.Reason(err))
			require.NotContains(t, err.Error(), "wrong-password")
			require.NotContains(t, err.Error(), password)
		})
	}

	t.Run("userinfo in repoURL is refused and kept out of errors", func(t *testing.T) {
		before := srv.Counts("app")
		withUser := strings.Replace(url, "http://", "http://robot:"+password+"@", 1)
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(withUser)}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "git credential Secret")
		require.NotContains(t, err.Error(), password)
		require.NotContains(t, err.Error(), "robot")
		require.Equal(t, before, srv.Counts("app"), "the server received a request")
	})

	t.Run("credentials never appear in git's arguments", func(t *testing.T) {
		realGit, err := exec.LookPath("git")
		require.NoError(t, err)
		wrapDir := t.TempDir()
		argv := filepath.Join(wrapDir, "argv.log")
		wrapper := filepath.Join(wrapDir, "git")
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> '%s'\nexec '%s' \"$@\"\n", argv, realGit)
		require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o700))
		wrapped := git.NewCache(t.TempDir(), options(git.Options{GitBinary: wrapper}))
		got := mustDiscover(t, wrapped, sub, &credentials.Credentials{Username: "robot", Password: password}, 1)
		require.Equal(t, []string{head}, ids(got))
		logged, err := os.ReadFile(argv)
		require.NoError(t, err)
		require.Contains(t, string(logged), "clone --bare")
		require.NotContains(t, string(logged), password)
		require.NotContains(t, string(logged), base64.StdEncoding.EncodeToString([]byte("robot:"+password)))
	})

	t.Run("a restarted controller reuses its mirrors", func(t *testing.T) {
		before := srv.Counts("private")
		restarted := git.NewCache(dir, options(git.Options{}))
		got := mustDiscover(t, restarted, sub, &credentials.Credentials{Username: "robot", Password: password}, 1)
		require.Equal(t, []string{head}, ids(got))
		after := srv.Counts("private")
		require.Equal(t, before.InfoRefs+1, after.InfoRefs)
		require.Equal(t, before.Fetches, after.Fetches, "an up-to-date mirror needs no fetch")
		require.Equal(t, git.Stats{LsRemotes: 1}, restarted.Stats(url))
	})

	t.Run("credentials are never written to disk", func(t *testing.T) {
		token := base64.StdEncoding.EncodeToString([]byte("robot:" + password))
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotContains(t, string(data), password, path)
			require.NotContains(t, string(data), token, path)
			return nil
		})
		require.NoError(t, err)
	})
}

func TestDiscoverCredentialsOverPlainHTTP(t *testing.T) {
	creds := &credentials.Credentials{Username: "robot", Password: "pw"}
	tests := []struct {
		name    string
		repoURL string
		creds   *credentials.Credentials
		wantErr error
	}{
		{name: "http to a remote host with credentials", repoURL: "http://git.example.com/org/app.git", creds: creds, wantErr: sourceerr.ErrInsecureCredentials},
		{name: "http with a password in the URL", repoURL: "http://robot:pw@git.example.com/org/app.git", wantErr: sourceerr.ErrInvalid},
		{name: "http to an IP that is not loopback", repoURL: "http://10.0.0.1/app.git", creds: creds, wantErr: sourceerr.ErrInsecureCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cache := git.NewCache(dir, options(git.Options{}))
			_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(tt.repoURL)}, tt.creds, 1)
			require.ErrorIs(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "pw@")
			require.Equal(t, git.Stats{}, cache.Stats(tt.repoURL), "no request is made")
			entries, _ := os.ReadDir(dir)
			require.Empty(t, entries, "nothing is cloned")
		})
	}
}

func TestDiscoverRepositoryErrors(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(srv *gitserver.Server)
		wantErr error
		reason  string
	}{
		{name: "repository deleted", break_: func(srv *gitserver.Server) { srv.DeleteRepo("app") }, wantErr: sourceerr.ErrNotFound, reason: "NotFound"},
		{name: "server down", break_: func(srv *gitserver.Server) { srv.Close() }, wantErr: sourceerr.ErrUnreachable, reason: "Unreachable"},
		{name: "server error", break_: func(srv *gitserver.Server) { srv.Fail(http.StatusServiceUnavailable) }, wantErr: sourceerr.ErrUnreachable, reason: "Unreachable"},
		{name: "forbidden", break_: func(srv *gitserver.Server) { srv.Fail(http.StatusForbidden) }, wantErr: sourceerr.ErrUnauthorized, reason: "AuthenticationFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			url := srv.CreateRepo("app")
			srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
			sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}

			// A mirror that already exists (fetch) and one that does not
			// (clone) fail the same way.
			warm, _ := newCache(t, git.Options{})
			mustDiscover(t, warm, sub, nil, 1)
			tt.break_(srv)
			warm.Invalidate(url)
			cold, _ := newCache(t, git.Options{})
			for name, cache := range map[string]*git.Cache{"fetch": warm, "clone": cold} {
				_, err := discover(t, cache, sub, nil, 1)
				require.ErrorIs(t, err, tt.wantErr, name)
				require.Equal(t, tt.reason, sourceerr.Reason(err), name)
				require.ErrorContains(t, err, url, "%s: the error names the repository", name)
			}
		})
	}
}

func TestDiscoverTimeout(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	cache, _ := newCache(t, git.Options{Timeout: time.Nanosecond})
	_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrUnreachable)
	require.ErrorContains(t, err, "timed out")
}

func TestDiscoverErrorIsReusedWithinMaxAge(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	head := srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	cache, clk := newCache(t, git.Options{})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}

	srv.Fail(http.StatusInternalServerError)
	for range 3 {
		_, err := cache.Discover(ctx(t), sub, nil, 1, time.Minute)
		require.ErrorIs(t, err, sourceerr.ErrUnreachable)
	}
	require.Equal(t, 1, srv.Counts("app").InfoRefs, "a failing host is asked once per maxAge, not once per subscriber")

	srv.Fail(0)
	clk.Advance(time.Minute)
	got, err := cache.Discover(ctx(t), sub, nil, 1, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{head}, ids(got))
}

func TestDiscoverTLS(t *testing.T) {
	srv := newServer(t, gitserver.WithTLS())
	url := srv.CreateRepo("app")
	head := srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	require.True(t, strings.HasPrefix(url, "https://"))

	tests := []struct {
		name     string
		opts     git.Options
		insecure bool
		wantErr  error
	}{
		{name: "trusted CA", opts: git.Options{CAFile: srv.CAFile()}},
		{name: "unknown CA", wantErr: sourceerr.ErrUnreachable},
		{name: "verification skipped", insecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache, _ := newCache(t, tt.opts)
			got, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), InsecureSkipTLSVerify: tt.insecure}, nil, 1)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, "insecureSkipTLSVerify")
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{head}, ids(got))
		})
	}
}

func TestDiscoverFileURL(t *testing.T) {
	srv := newServer(t)
	srv.CreateRepo("local")
	head := srv.Commit(t, "local", "main", map[string]string{"a": "1"}, "one")
	url := "file://" + srv.Dir("local")

	refused, _ := newCache(t, git.Options{})
	_, err := discover(t, refused, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrInvalid, "file:// is off by default")

	cache, _ := newCache(t, git.Options{AllowFileURLs: true})
	got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.Equal(t, []string{head}, ids(got))

	next := srv.Commit(t, "local", "main", map[string]string{"a": "2"}, "two")
	cache.Invalidate(url)
	got = mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.Equal(t, []string{next}, ids(got))
}

// fanInSubscriptions are 100 different subscriptions to one repository, as
// 100 Warehouses might have.
func fanInSubscriptions(url string) []kargoapi.GitSubscription {
	subs := make([]kargoapi.GitSubscription, 0, 100)
	for i := range 100 {
		s := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}
		switch i % 5 {
		case 0:
			s.Branch = "main"
			s.IncludePaths = []string{fmt.Sprintf("apps/app%d/", i%20)}
		case 1:
			s.Branch = "dev"
		case 2:
			s.CommitSelectionStrategy = kargoapi.CommitSelectionSemVer
			s.SemverConstraint = kargoapi.SemverConstraint(fmt.Sprintf("^%d", i%3+1))
		case 3:
			s.CommitSelectionStrategy = kargoapi.CommitSelectionNewestTag
		case 4:
			s.IncludePaths = []string{"regex:^apps/"}
			s.ExcludePaths = []string{"apps/app0/"}
		}
		if i%2 == 0 {
			// Spelling differences do not make another repository.
			s.RepoURL = kargoapi.GitRepoURL(strings.TrimSuffix(url, ".git"))
		}
		subs = append(subs, s)
	}
	return subs
}

func seedFanInRepo(t testing.TB, srv *gitserver.Server, repo string) {
	t.Helper()
	srv.CreateRepo(repo)
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("apps/app%d/values.yaml", i)] = "v0"
	}
	first := srv.Commit(t, repo, "main", files, "seed")
	srv.Commit(t, repo, "dev", map[string]string{"dev.txt": "1"}, "dev")
	for i := 1; i <= 3; i++ {
		srv.AnnotatedTag(t, repo, fmt.Sprintf("v%d.0.0", i), first, "release")
	}
}

// discoverAll runs every subscription at once and returns the newest
// commit ID of each.
func discoverAll(t testing.TB, cache *git.Cache, subs []kargoapi.GitSubscription, maxAge time.Duration) []string {
	t.Helper()
	heads := make([]string, len(subs))
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := cache.Discover(ctx(t), s, nil, 1, maxAge)
			errs[i] = err
			if err == nil {
				heads[i] = got[0].ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "subscription %d", i)
	}
	return heads
}

func TestDiscoverFanIn(t *testing.T) {
	srv := newServer(t)
	seedFanInRepo(t, srv, "mono")
	url := srv.RepoURL("mono")
	cache, clk := newCache(t, git.Options{})
	subs := fanInSubscriptions(url)
	const maxAge = 5 * time.Minute

	discoverAll(t, cache, subs, maxAge)
	require.Equal(t, gitserver.Counts{InfoRefs: 1, LsRefs: 1, Fetches: 1}, srv.Counts("mono"),
		"100 subscribers cost one listing and one fetch")
	require.Equal(t, git.Stats{LsRemotes: 1, Fetches: 1}, cache.Stats(url))

	t.Run("within maxAge nothing goes to the network", func(t *testing.T) {
		srv.Commit(t, "mono", "main", map[string]string{"apps/app0/values.yaml": "v1"}, "not seen yet")
		clk.Advance(maxAge - time.Second)
		discoverAll(t, cache, subs, maxAge)
		require.Equal(t, gitserver.Counts{InfoRefs: 1, LsRefs: 1, Fetches: 1}, srv.Counts("mono"))
	})

	t.Run("after Invalidate one more listing and fetch find the new commit", func(t *testing.T) {
		next := srv.Commit(t, "mono", "main", map[string]string{"apps/app5/values.yaml": "v2"}, "new")
		cache.Invalidate(url)
		heads := discoverAll(t, cache, subs, maxAge)
		require.Equal(t, gitserver.Counts{InfoRefs: 2, LsRefs: 2, Fetches: 2}, srv.Counts("mono"))
		require.Equal(t, git.Stats{LsRemotes: 2, Fetches: 2}, cache.Stats(url))
		require.Equal(t, next, heads[5], "apps/app5/ subscriber")
		require.Equal(t, next, heads[4], "regex subscriber")
	})

	t.Run("a push that refreshes every subscriber costs one listing and fetch", func(t *testing.T) {
		next := srv.Commit(t, "mono", "main", map[string]string{"apps/app10/values.yaml": "v3"}, "pushed")
		// The push comes after the last listing began.
		clk.Advance(time.Millisecond)
		pushedAt := clk.Now()
		// Each subscriber is refreshed by the same push and says so before
		// it discovers, as the Warehouse controller does.
		var wg sync.WaitGroup
		heads := make([]string, len(subs))
		for i, s := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cache.InvalidateBefore(url, pushedAt)
				got, err := cache.Discover(ctx(t), s, nil, 1, maxAge)
				if err == nil {
					heads[i] = got[0].ID
				}
			}()
		}
		wg.Wait()
		require.Equal(t, gitserver.Counts{InfoRefs: 3, LsRefs: 3, Fetches: 3}, srv.Counts("mono"))
		require.Equal(t, next, heads[10], "apps/app10/ subscriber")
		require.Equal(t, next, heads[4], "regex subscriber")
		// The same push told again changes nothing.
		cache.InvalidateBefore(url, pushedAt)
		discoverAll(t, cache, subs, maxAge)
		require.Equal(t, 3, srv.Counts("mono").LsRefs)
		srv.ResetCounts()
		clk.Advance(time.Second)
	})

	t.Run("past maxAge an unchanged repository costs a listing and no fetch", func(t *testing.T) {
		before := srv.Counts("mono")
		clk.Advance(maxAge)
		discoverAll(t, cache, subs, maxAge)
		after := srv.Counts("mono")
		require.Equal(t, 1, after.LsRefs-before.LsRefs)
		require.Equal(t, 0, after.Fetches-before.Fetches)
		require.Equal(t, git.Stats{LsRemotes: 4, Fetches: 3}, cache.Stats(url))
	})

	t.Run("different credentials do not share a mirror", func(t *testing.T) {
		_, err := cache.Discover(ctx(t), subs[0], &credentials.Credentials{Username: "other", Password: "tenant"}, 1, maxAge)
		require.NoError(t, err)
		before := srv.Counts("mono").InfoRefs
		_, err = cache.Discover(ctx(t), subs[0], &credentials.Credentials{Username: "other2", Password: "tenant"}, 1, maxAge)
		require.NoError(t, err)
		require.Equal(t, before+1, srv.Counts("mono").InfoRefs)
	})
}

func TestDiscoverDifferentRepositoriesInParallel(t *testing.T) {
	srv := newServer(t)
	var subs []kargoapi.GitSubscription
	want := map[string]string{}
	for i := range 8 {
		name := fmt.Sprintf("repo%d", i)
		url := srv.CreateRepo(name)
		want[url] = srv.Commit(t, name, "main", map[string]string{"a": name}, name)
		subs = append(subs, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)})
	}
	cache, _ := newCache(t, git.Options{})
	heads := discoverAll(t, cache, subs, time.Minute)
	for i, s := range subs {
		require.Equal(t, want[string(s.RepoURL)], heads[i])
		require.Equal(t, 1, srv.Counts(fmt.Sprintf("repo%d", i)).InfoRefs)
	}
}

// A repository that redirects to another host never gets the credentials
// there: git would send them with every request after a followed redirect,
// so with credentials kargo follows none and says why.
func TestCredentialsDoNotFollowRedirects(t *testing.T) {
	const password = "s3cr3t-t0ken-value"
	var mu sync.Mutex
	var leaked []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		// A protocol v2 advertisement, so that git would go on to POST.
		pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_, _ = fmt.Fprint(w, pkt("# service=git-upload-pack\n")+"0000"+pkt("version 2\n")+pkt("ls-refs\n")+pkt("fetch\n")+"0000")
	}))
	t.Cleanup(elsewhere.Close)
	target := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+"/moved.git/info/refs?service=git-upload-pack", http.StatusMovedPermanently)
	}))
	t.Cleanup(redirector.Close)

	// Both hosts are allowed, so that what stops git is kargo's redirect
	// rule and not the outbound address policy.
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(
		strings.TrimPrefix(redirector.URL, "http://"), strings.TrimPrefix(elsewhere.URL, "http://"))})
	cache := git.NewCache(t.TempDir(), git.Options{Egress: policy})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(redirector.URL + "/repo.git")}
	_, err := discover(t, cache, sub, &credentials.Credentials{Username: "robot", Password: password}, 1)
	mu.Lock()
	require.Empty(t, leaked, "the other host was never asked")
	mu.Unlock()
	require.ErrorIs(t, err, sourceerr.ErrNotFound)
	require.ErrorContains(t, err, "kargo follows no redirect when it sends credentials")
}
