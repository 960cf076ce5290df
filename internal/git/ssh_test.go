package git_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/sshserver"
)

// sshRepo serves a repository of a gitserver through a real sshd and
// returns its ssh:// URL and credentials that sshd and its host key accept.
func sshRepo(t *testing.T) (*sshserver.Server, string, *credentials.Credentials, func(files map[string]string) string) {
	t.Helper()
	srv := newServer(t)
	srv.CreateRepo("app")
	sshd := sshserver.Start(t)
	t.Cleanup(testEgress.Allow(egress.MustParseRules(sshd.Addr())...))
	creds := &credentials.Credentials{SSHPrivateKey: sshd.ClientKey, KnownHosts: sshd.KnownHosts("127.0.0.1")}
	url := sshd.URL("127.0.0.1", sshd.Serve(t, srv.Dir("app")))
	commit := func(files map[string]string) string { return srv.Commit(t, "app", "main", files, "change") }
	return sshd, url, creds, commit
}

func TestSSHDiscoverAndCommit(t *testing.T) {
	sshd, url, creds, commit := sshRepo(t)
	first := commit(map[string]string{"app.yaml": "v1"})
	cache, _ := newCache(t, git.Options{})

	got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}, creds, 1)
	require.Equal(t, []string{first}, ids(got))
	require.Contains(t, sshd.Log(), "Accepted publickey for "+sshd.User)

	// A promotion's commit goes back over SSH.
	res, err := cache.Commit(ctx(t), git.CommitRequest{
		RepoURL: url, Creds: creds, WriteBranch: "main", Subject: "promote",
		Apply: func(_ context.Context, dir string) ([]string, error) {
			return []string{"app.yaml: v2"}, os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("v2"), 0o644)
		},
	})
	require.NoError(t, err)
	require.True(t, res.Changed)
	second := commit(map[string]string{"other.yaml": "x"})
	got, err = cache.Discover(ctx(t), kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "main"}, creds, 3, 0)
	require.NoError(t, err)
	require.Equal(t, []string{second, res.Commit, first}, ids(got))
}

func TestSSHRefusals(t *testing.T) {
	sshd, url, creds, commit := sshRepo(t)
	commit(map[string]string{"app.yaml": "v1"})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}
	connections := func() int { return strings.Count(sshd.Log(), "Connection from") }

	t.Run("without credentials", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{})
		before := connections()
		_, err := discover(t, cache, sub, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "sshPrivateKey and knownHosts")
		_, err = discover(t, cache, sub, &credentials.Credentials{Username: "u", Password: "p"}, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid, "a password is no SSH credential")
		require.Equal(t, before, connections())
	})
	t.Run("without known hosts", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{})
		before := connections()
		_, err := discover(t, cache, sub, &credentials.Credentials{SSHPrivateKey: creds.SSHPrivateKey}, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "has no knownHosts")
		require.Equal(t, before, connections(), "nothing connects to a host it cannot verify")
	})
	t.Run("an unknown host key", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{})
		for name, hosts := range map[string][]byte{
			"another key":  []byte("[127.0.0.1]:" + strings.TrimPrefix(sshd.Addr(), "127.0.0.1:") + " " + sshd.OtherHostKey + "\n"),
			"another host": sshd.KnownHosts("git.example"),
			"another port": []byte("127.0.0.1 " + sshd.HostKey + "\n"),
		} {
			_, err := discover(t, cache, sub, &credentials.Credentials{SSHPrivateKey: creds.SSHPrivateKey, KnownHosts: hosts}, 1)
			require.ErrorIs(t, err, sourceerr.ErrUnauthorized, name)
			require.ErrorContains(t, err, "not in the knownHosts", name)
		}
		require.NotContains(t, sshd.Log(), "Accepted publickey", "the key was offered to an unverified host")
	})
	t.Run("a key the host does not accept", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{})
		other := sshserver.Start(t)
		_, err := discover(t, cache, sub, &credentials.Credentials{SSHPrivateKey: other.ClientKey, KnownHosts: creds.KnownHosts}, 1)
		require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
		require.ErrorContains(t, err, "refused the SSH key")
		require.NotContains(t, err.Error(), "OPENSSH PRIVATE KEY")
	})
	t.Run("outbound policy", func(t *testing.T) {
		cache, _ := newCache(t, git.Options{Egress: egress.New(egress.Options{})})
		before := connections()
		_, err := discover(t, cache, sub, creds, 1)
		var refused *egress.RefusedError
		require.True(t, errors.As(err, &refused), "%v", err)
		require.Equal(t, "a loopback address", refused.Reason)
		require.Equal(t, before, connections(), "sshd saw a connection the policy refused")
	})
}
