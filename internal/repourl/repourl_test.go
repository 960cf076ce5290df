package repourl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		git     bool // ParseGit instead of Parse
		want    Repo
		wantStr string
		wantErr bool
	}{
		{in: "https://github.com/example/app.git", want: Repo{Scheme: "https", Host: "github.com", Path: "example/app"}, wantStr: "https://github.com/example/app"},
		{in: " HTTPS://GitHub.COM/Example/App/ ", want: Repo{Scheme: "https", Host: "github.com", Path: "Example/App"}, wantStr: "https://github.com/Example/App"},
		{in: "https://github.com/example/app.git/", want: Repo{Scheme: "https", Host: "github.com", Path: "example/app"}},
		{in: "https://github.com:443/example/app", want: Repo{Scheme: "https", Host: "github.com", Port: "443", Path: "example/app"}, wantStr: "https://github.com/example/app"},
		{in: "http://localhost:8080/app", want: Repo{Scheme: "http", Host: "localhost", Port: "8080", Path: "app"}, wantStr: "http://localhost:8080/app"},
		{in: "https://robot:s3cret@git.example/app", want: Repo{Scheme: "https", User: "robot", Host: "git.example", Path: "app"}, wantStr: "https://robot@git.example/app"},
		{in: "https://git.example/app?ref=main#frag", want: Repo{Scheme: "https", Host: "git.example", Path: "app"}},
		{in: "http://[::1]:3000/app.git", want: Repo{Scheme: "http", Host: "[::1]", Port: "3000", Path: "app"}, wantStr: "http://[::1]:3000/app"},
		{in: "https://charts.example.com", want: Repo{Scheme: "https", Host: "charts.example.com"}, wantStr: "https://charts.example.com/"},
		// Userinfo that looks like a host is userinfo: the request goes
		// to the host after the last "@".
		{in: "https://git.example@evil.example/org/app", want: Repo{Scheme: "https", User: "git.example", Host: "evil.example", Path: "org/app"}},
		{in: "https://git.example:443@evil.example/org/app", want: Repo{Scheme: "https", User: "git.example", Host: "evil.example", Path: "org/app"}},
		{in: "https://a@git.example@evil.example/org/app", want: Repo{Scheme: "https", User: "a@git.example", Host: "evil.example", Path: "org/app"}},
		// An "@" after the authority is part of the path.
		{in: "https://evil.example/x@git.example/app", want: Repo{Scheme: "https", Host: "evil.example", Path: "x@git.example/app"}},
		// Only ASCII letters fold: the Kelvin sign and the dotless i
		// stay what they are.
		{in: "https://\u212Aargo.example/app", want: Repo{Scheme: "https", Host: "\u212Aargo.example", Path: "app"}},
		{in: "https://G\u0131T.example/app", want: Repo{Scheme: "https", Host: "g\u0131t.example", Path: "app"}},
		{in: "https://b\u00fccher.example/app", want: Repo{Scheme: "https", Host: "b\u00fccher.example", Path: "app"}},
		{in: "https://git.example./app", want: Repo{Scheme: "https", Host: "git.example.", Path: "app"}},
		{in: "https://git%2Eexample/app", want: Repo{Scheme: "https", Host: "git%2eexample", Path: "app"}},
		{in: "ssh://git@github.com:2222/org/app.git", want: Repo{Scheme: "ssh", User: "git", Host: "github.com", Port: "2222", Path: "org/app"}, wantStr: "ssh://git@github.com:2222/org/app"},
		{in: "ssh://git@github.com:22/org/app.git", want: Repo{Scheme: "ssh", User: "git", Host: "github.com", Port: "22", Path: "org/app"}, wantStr: "ssh://git@github.com/org/app"},
		{in: "git://github.com/org/app.git", want: Repo{Scheme: "git", Host: "github.com", Path: "org/app"}},
		// scp-like: git reads host:path as ssh.
		{in: "git@GitHub.com:org/app.git", want: Repo{Scheme: "ssh", User: "git", Host: "github.com", Path: "org/app"}, wantStr: "ssh://git@github.com/org/app"},
		{in: "github.com:org/app", want: Repo{Scheme: "ssh", Host: "github.com", Path: "org/app"}},
		{in: "git@github.com:/srv/app.git", want: Repo{Scheme: "ssh", User: "git", Host: "github.com", Path: "srv/app"}},
		{in: "git.example:x@evil.example:org/app", want: Repo{Scheme: "ssh", Host: "git.example", Path: "x@evil.example:org/app"}},
		// host:digits/path: a registry port to Parse, an scp path to git.
		{in: "localhost:5000/app", want: Repo{Host: "localhost", Port: "5000", Path: "app"}, wantStr: "localhost:5000/app"},
		{in: "git.example:2222/org/app", git: true, want: Repo{Scheme: "ssh", Host: "git.example", Path: "2222/org/app"}},
		{in: "git@git.example:2222/org/app", want: Repo{Scheme: "ssh", User: "git", Host: "git.example", Port: "", Path: "2222/org/app"}},
		// Registry references and Docker Hub.
		{in: "ghcr.io/example/app", want: Repo{Host: "ghcr.io", Path: "example/app"}, wantStr: "ghcr.io/example/app"},
		{in: "oci://ghcr.io/example/charts/app/", want: Repo{Scheme: "oci", Host: "ghcr.io", Path: "example/charts/app"}, wantStr: "oci://ghcr.io/example/charts/app"},
		{in: "nginx", want: Repo{Host: "docker.io", Path: "library/nginx"}, wantStr: "docker.io/library/nginx"},
		{in: "example/app", want: Repo{Host: "docker.io", Path: "example/app"}},
		{in: "docker.io/nginx", want: Repo{Host: "docker.io", Path: "library/nginx"}},
		{in: "index.docker.io/library/nginx", want: Repo{Host: "index.docker.io", Path: "library/nginx"}, wantStr: "docker.io/library/nginx"},
		{in: "registry-1.docker.io/nginx", want: Repo{Host: "registry-1.docker.io", Path: "library/nginx"}, wantStr: "docker.io/library/nginx"},
		{in: "oci://registry-1.docker.io/example/app", want: Repo{Scheme: "oci", Host: "registry-1.docker.io", Path: "example/app"}, wantStr: "oci://docker.io/example/app"},
		{in: "localhost/app", want: Repo{Host: "localhost", Path: "app"}},
		{in: "ghcr.io:443/example/app", want: Repo{Host: "ghcr.io", Port: "443", Path: "example/app"}, wantStr: "ghcr.io/example/app"},
		// Files.
		{in: "file:///srv/git/app.git", want: Repo{Scheme: "file", Path: "srv/git/app"}, wantStr: "file:///srv/git/app"},
		{in: "/srv/git/app.git", want: Repo{Scheme: "file", Path: "srv/git/app"}, wantStr: "file:///srv/git/app"},
		// Garbage.
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "https://", wantErr: true},
		{in: "https:///app", wantErr: true},
		{in: "https://user@/app", wantErr: true},
		{in: "https://host:port/app", wantErr: true},
		{in: "https://[::1/app", wantErr: true},
		{in: "1http://host/app", wantErr: true},
		{in: "://host/app", wantErr: true},
		{in: "just words", wantErr: true},
		{in: "https://git.example/app\nhttps://evil.example/", wantErr: true},
		{in: "ext::sh -c touch% /tmp/pwned", wantErr: true},
		{in: "fd::3", wantErr: true},
		{in: ":org/app", wantErr: true},
		{in: "user@:org/app", wantErr: true},
		{in: "git.example@evil.example/app", wantErr: true},
		{in: "#@git.example:org/app", wantErr: true},
		{in: "git.example:", wantErr: true},
		{in: ".git", wantErr: true},
		{in: "ghcr.io/", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := Parse
			if tt.git {
				parse = ParseGit
			}
			got, err := parse(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalid)
				require.Empty(t, Key(tt.in))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if tt.wantStr != "" {
				require.Equal(t, tt.wantStr, got.String())
			}
			require.NotContains(t, got.String(), "s3cret")
		})
	}
}

func TestSameAndExact(t *testing.T) {
	tests := []struct {
		name        string
		a, b        string
		same, exact bool
	}{
		{"identical", "https://github.com/example/app", "https://github.com/example/app", true, true},
		{".git", "https://github.com/example/app.git", "https://github.com/example/app", true, true},
		{"trailing slash", "https://github.com/example/app/", "https://github.com/example/app.git/", true, true},
		{"case of the scheme", "HTTPS://github.com/example/app", "https://github.com/example/app", true, true},
		{"case of the host", "https://GitHub.com/example/app", "https://github.com/example/app", true, true},
		// Path case: one repository on GitHub, GitLab, Gitea and Bitbucket,
		// which is what nearly everyone uses.
		{"case of the path", "https://github.com/Example/App", "https://github.com/example/app", true, true},
		{"default port", "https://github.com:443/example/app", "https://github.com/example/app", true, true},
		{"another port", "https://github.com:8443/example/app", "https://github.com/example/app", false, false},
		{"loopback ports", "http://127.0.0.1:4001/app", "http://127.0.0.1:4002/app", false, false},
		{"userinfo", "https://robot@github.com/example/app", "https://github.com/example/app", true, true},
		{"ssh user", "ssh://git@github.com/example/app", "ssh://other@github.com/example/app", true, true},
		{"query and fragment", "https://github.com/example/app?x=1#y", "https://github.com/example/app", true, true},
		// One repository over several protocols: the same to Same, other
		// places to Exact.
		{"http and https", "http://github.com/example/app", "https://github.com/example/app", true, false},
		{"ssh and https", "ssh://git@github.com/example/app.git", "https://github.com/example/app", true, false},
		{"scp and https", "git@github.com:example/app.git", "https://github.com/example/app", true, false},
		{"git and https", "git://github.com/example/app.git", "https://github.com/example/app", true, false},
		{"scp and ssh", "git@GitHub.com:example/app.git", "ssh://git@github.com/example/app", true, true},
		{"scp and ssh on port 22", "git@github.com:example/app.git", "ssh://github.com:22/example/app", true, true},
		{"scp and ssh on another port", "git@github.com:example/app.git", "ssh://github.com:2222/example/app", false, false},
		{"ssh://host:port and scp host:path", "ssh://git@git.example:2222/org/app", "git@git.example:2222/org/app", false, false},
		{"oci and a bare reference", "oci://ghcr.io/example/app", "ghcr.io/example/app", true, true},
		{"oci and https of one registry", "oci://ghcr.io/example/app", "https://ghcr.io/example/app", true, false},
		{"registry with a port", "localhost:5000/app", "http://localhost:5000/app", true, false},
		{"Docker Hub official image", "nginx", "docker.io/library/nginx", true, true},
		{"Docker Hub index", "nginx", "index.docker.io/library/nginx", true, true},
		{"Docker Hub registry-1", "docker.io/example/app", "registry-1.docker.io/example/app", true, true},
		{"Docker Hub over oci", "oci://registry-1.docker.io/example/app", "example/app", true, true},
		{"library elsewhere", "nginx", "ghcr.io/library/nginx", false, false},
		{"another repository", "https://github.com/example/app", "https://github.com/example/app2", false, false},
		{"another host", "https://github.com/example/app", "https://gitlab.com/example/app", false, false},
		{"a host's name as a subdomain", "https://git.example/app", "https://git.example.evil.example/app", false, false},
		{"a host's name in the path", "https://git.example/app", "https://evil.example/git.example/app", false, false},
		{"a host's name in userinfo", "https://git.example/org/app", "https://git.example@evil.example/org/app", false, false},
		{"a host's name and port in userinfo", "https://git.example/org/app", "https://git.example:443@evil.example/org/app", false, false},
		{"userinfo that is the host", "https://evil.example/org/app", "https://git.example:x@evil.example/org/app", true, true},
		{"a host's name as the scp user", "git@git.example:org/app", "git.example@evil.example:org/app", false, false},
		// A trailing dot names the same DNS name; credentials still go
		// only to the spelling their Secret names.
		{"trailing dot", "https://git.example./app", "https://git.example/app", true, false},
		{"Kelvin sign", "https://\u212Aargo.example/app", "https://kargo.example/app", false, false},
		{"Kelvin sign in the path", "https://kargo.example/\u212Aargo", "https://kargo.example/kargo", false, false},
		{"dotless i", "https://g\u0131t.example/app", "https://git.example/app", false, false},
		{"dotted capital I", "https://G\u0130T.example/app", "https://git.example/app", false, false},
		{"Cyrillic a", "https://gith\u0443b.com/app", "https://github.com/app", false, false},
		{"IDN and its punycode", "https://b\u00fccher.example/app", "https://xn--bcher-kva.example/app", false, false},
		{"a percent-encoded host", "https://git%2Eexample/app", "https://git.example/app", false, false},
		{"file and a local path", "file:///srv/git/app.git", "/srv/git/app", true, true},
		{"empty", "", "", false, false},
		{"garbage", "just words", "just words", false, false},
		{"a command transport", "ext::sh -c x", "ext::sh -c x", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.same, Same(tt.a, tt.b), "Same(%q, %q)", tt.a, tt.b)
			require.Equal(t, tt.same, Same(tt.b, tt.a), "Same(%q, %q)", tt.b, tt.a)
			a, errA := Parse(tt.a)
			b, errB := Parse(tt.b)
			exact := errA == nil && errB == nil && Exact(a, b)
			require.Equal(t, tt.exact, exact, "Exact(%q, %q)", tt.a, tt.b)
			require.Equal(t, exact, errA == nil && errB == nil && Exact(b, a))
			if tt.exact {
				require.True(t, tt.same, "what is Exact must be Same")
			}
		})
	}
}

func TestSSHURL(t *testing.T) {
	for in, want := range map[string]string{
		"git@GitHub.com:org/app.git":        "ssh://git@GitHub.com/org/app.git",
		"github.com:org/app":                "ssh://github.com/org/app",
		"git@github.com:/srv/app.git":       "ssh://git@github.com/srv/app.git",
		"git.example:2222/org/app":          "ssh://git.example/2222/org/app",
		" https://github.com/org/app ":      "https://github.com/org/app",
		"ghcr.io/org/app":                   "ghcr.io/org/app",
		"ext::sh -c x":                      "ext::sh -c x",
		"git.example@evil.example:org/repo": "ssh://git.example@evil.example/org/repo",
	} {
		require.Equal(t, want, SSHURL(in), in)
	}
}

func TestWithoutUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com:x@evil.example/org/app": "https://evil.example/org/app",
		"https://a@b@evil.example/x@y":              "https://evil.example/x@y",
		"ssh://git@github.com/org/app":              "ssh://github.com/org/app",
		"https://github.com/org/app":                "https://github.com/org/app",
		"ghcr.io/org/app":                           "ghcr.io/org/app",
	} {
		require.Equal(t, want, WithoutUserinfo(in), in)
	}
}

func TestOCIReference(t *testing.T) {
	ref, ok := OCIReference("OCI://ghcr.io/example/charts/app/")
	require.True(t, ok)
	require.Equal(t, "ghcr.io/example/charts/app", ref)
	ref, ok = OCIReference("oci://ghcr.io/example/app.git")
	require.True(t, ok)
	require.Equal(t, "ghcr.io/example/app.git", ref, "the reference is what the registry is asked for, as written")
	_, ok = OCIReference("https://charts.example.com")
	require.False(t, ok)
}

// FuzzParse checks that no input panics Parse, and that what it accepts
// spells itself in a form that parses back to the same repository.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"https://github.com/example/app.git", "git@github.com:org/app", "nginx", "oci://ghcr.io/x", "localhost:5000/app", "http://[::1]:3000/a", "https://a@b@c/d", "file:///srv/x", "ext::sh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		require.NoError(t, err, "%q spelled %q", s, r.String())
		require.True(t, Exact(r, again), "%q spelled %q", s, r.String())
		require.True(t, Same(s, r.String()), "%q spelled %q", s, r.String())
	})
}
