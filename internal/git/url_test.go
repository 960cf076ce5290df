package git

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestParseRemote(t *testing.T) {
	creds := &credentials.Credentials{Username: "robot", Password: "pw"}
	tests := []struct {
		name         string
		repoURL      string
		creds        *credentials.Credentials
		wantURL      string
		wantKey      string
		wantCreds    *credentials.Credentials
		wantErr      error
		wantTransErr error
	}{
		{name: "https with credentials", repoURL: "https://GitHub.com/Org/App.git", creds: creds,
			wantURL: "https://GitHub.com/Org/App.git", wantKey: "https://github.com/Org/App", wantCreds: creds},
		{name: "spellings of one repository share a key", repoURL: "https://github.com:443/Org/App/",
			wantURL: "https://github.com:443/Org/App/", wantKey: "https://github.com/Org/App"},
		{name: "a password in the URL is refused", repoURL: "https://robot:pw@host/app.git", wantErr: sourceerr.ErrInvalid},
		{name: "a token in the URL is refused", repoURL: "https://ghp_token@host/app.git", creds: creds, wantErr: sourceerr.ErrInvalid},
		{name: "empty credentials are anonymous", repoURL: "https://host/app.git", creds: &credentials.Credentials{},
			wantURL: "https://host/app.git", wantKey: "https://host/app"},
		{name: "plain http to a remote host refuses credentials", repoURL: "http://git.example.com/app.git", creds: creds,
			wantURL: "http://git.example.com/app.git", wantKey: "http://git.example.com/app", wantCreds: creds, wantTransErr: sourceerr.ErrInsecureCredentials},
		{name: "plain http to a remote host without credentials", repoURL: "http://git.example.com/app.git",
			wantURL: "http://git.example.com/app.git", wantKey: "http://git.example.com/app"},
		{name: "plain http to 127.0.0.1", repoURL: "http://127.0.0.1:8080/app.git", creds: creds,
			wantURL: "http://127.0.0.1:8080/app.git", wantKey: "http://127.0.0.1:8080/app", wantCreds: creds},
		{name: "plain http to 127.8.9.10", repoURL: "http://127.8.9.10/app.git", creds: creds,
			wantURL: "http://127.8.9.10/app.git", wantKey: "http://127.8.9.10/app", wantCreds: creds},
		{name: "plain http to ::1", repoURL: "http://[::1]:3000/app.git", creds: creds,
			wantURL: "http://[::1]:3000/app.git", wantKey: "http://[::1]:3000/app", wantCreds: creds},
		{name: "plain http to localhost", repoURL: "http://LocalHost:3000/app.git", creds: creds,
			wantURL: "http://LocalHost:3000/app.git", wantKey: "http://localhost:3000/app", wantCreds: creds},
		{name: "a host merely named like localhost is remote", repoURL: "http://localhost.example.com/app.git", creds: creds,
			wantURL: "http://localhost.example.com/app.git", wantKey: "http://localhost.example.com/app", wantCreds: creds, wantTransErr: sourceerr.ErrInsecureCredentials},
		{name: "ssh gets no password", repoURL: "ssh://git@host:22/org/app.git", creds: creds,
			wantURL: "ssh://git@host:22/org/app.git", wantKey: "ssh://git@host/org/app"},
		{name: "scp-like", repoURL: "git@GitHub.com:org/app.git", creds: creds,
			wantURL: "git@GitHub.com:org/app.git", wantKey: "ssh://git@github.com/org/app"},
		{name: "file", repoURL: "file:///srv/git/app.git",
			wantURL: "file:///srv/git/app.git", wantKey: "file:///srv/git/app"},
		{name: "unknown scheme", repoURL: "ftp://host/app.git", wantErr: sourceerr.ErrInvalid},
		{name: "command transport", repoURL: "ext::sh -c touch% /tmp/pwned", wantErr: sourceerr.ErrInvalid},
		{name: "fd transport", repoURL: "fd::3", wantErr: sourceerr.ErrInvalid},
		{name: "not a URL", repoURL: "just words", wantErr: sourceerr.ErrInvalid},
		{name: "empty", repoURL: "", wantErr: sourceerr.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRemote(tt.repoURL, tt.creds)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantURL, r.url)
			require.Equal(t, tt.wantKey, r.key)
			require.Equal(t, tt.wantCreds, r.creds)
			err = r.checkTransport()
			if tt.wantTransErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantTransErr)
				require.NotContains(t, err.Error(), "pw")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:secret@host/app.git", "https://host/app.git"},
		{"fatal: unable to access 'https://x-access-token:ghp_abc@github.com/o/r/': 403", "fatal: unable to access 'https://github.com/o/r/': 403"},
		{"two http://a:b@h1/x and ssh://git@h2/y", "two http://h1/x and ssh://h2/y"},
		{"no url here, just an@email.example", "no url here, just an@email.example"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, Redact(tt.in))
		})
	}
}

func TestClassifyStderr(t *testing.T) {
	tests := []struct {
		stderr string
		want   error
	}{
		{"fatal: Authentication failed for 'https://host/app.git/'", sourceerr.ErrUnauthorized},
		{"fatal: could not read Username for 'https://host': terminal prompts disabled", sourceerr.ErrUnauthorized},
		{"fatal: unable to access 'https://host/app.git/': The requested URL returned error: 403", sourceerr.ErrUnauthorized},
		{"remote: HTTP Basic: Access denied\nfatal: Authentication failed", sourceerr.ErrUnauthorized},
		{"git@host: Permission denied (publickey).", sourceerr.ErrUnauthorized},
		{"fatal: repository 'https://host/app.git/' not found", sourceerr.ErrNotFound},
		{"fatal: '/srv/app.git' does not appear to be a git repository", sourceerr.ErrNotFound},
		{"fatal: unable to access 'https://host/app/': The requested URL returned error: 404", sourceerr.ErrNotFound},
		{"fatal: unable to access 'https://host/': Failed to connect to host port 443: Connection refused", sourceerr.ErrUnreachable},
		{"fatal: unable to access 'https://host/': Could not resolve host: host", sourceerr.ErrUnreachable},
		{"fatal: unable to access 'https://host/': The requested URL returned error: 503", sourceerr.ErrUnreachable},
		{"fatal: unable to access 'https://host/': SSL certificate problem: self-signed certificate", sourceerr.ErrUnreachable},
		{"error: RPC failed; curl 18 transfer closed\nfatal: early EOF", sourceerr.ErrUnreachable},
		{"fatal: unable to access 'https://host/': Operation too slow. Less than 1000 bytes/sec", sourceerr.ErrUnreachable},
		{"fatal: something nobody has seen before", nil},
	}
	for _, tt := range tests {
		t.Run(tt.stderr, func(t *testing.T) {
			err := networkError(t.Context(), "fetch", remote{url: "https://host/app.git"}, tt.stderr, errors.New("exit status 128"))
			require.ErrorContains(t, err, "fetch https://host/app.git")
			if tt.want == nil {
				for _, s := range []error{sourceerr.ErrUnauthorized, sourceerr.ErrNotFound, sourceerr.ErrUnreachable} {
					require.NotErrorIs(t, err, s)
				}
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}

	t.Run("the URL does not decide the kind", func(t *testing.T) {
		err := networkError(t.Context(), "fetch", remote{url: "https://host/not-found.git"},
			"fatal: unable to access 'https://host/not-found.git/': Failed to connect to host port 443: Connection refused", errors.New("exit status 128"))
		require.ErrorIs(t, err, sourceerr.ErrUnreachable)
	})

	t.Run("credentials are scrubbed from git's words", func(t *testing.T) {
		creds := &credentials.Credentials{Username: "robot", Password: "hunter22"}
		err := networkError(t.Context(), "fetch", remote{url: "https://host/app.git", creds: creds},
			"fatal: unable to access 'https://robot:hunter22@host/app.git/': echo hunter22 "+basicToken(creds), errors.New("exit status 128"))
		require.NotContains(t, err.Error(), "hunter22")
		require.NotContains(t, err.Error(), basicToken(creds))
	})
}
