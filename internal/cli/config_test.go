package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

func TestConfigPath(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name               string
		flag, env, xdgHome string
		want               string
	}{
		{name: "--config wins", flag: "/f.yaml", env: "/e.yaml", xdgHome: "/x", want: "/f.yaml"},
		{name: "then $KARGO_CONFIG", env: "/e.yaml", xdgHome: "/x", want: "/e.yaml"},
		{name: "then $XDG_CONFIG_HOME", xdgHome: "/x", want: "/x/kargo/config.yaml"},
		{name: "then ~/.config", want: filepath.Join(home, ".config", "kargo", "config.yaml")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv(configEnv, tt.env)
			t.Setenv("XDG_CONFIG_HOME", tt.xdgHome)
			g := &globals{configFlag: tt.flag}
			require.Equal(t, tt.want, g.configPath())
		})
	}
}

func TestSaveConfigIsForItsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	// A file someone made readable to all is tightened on the next save.
	require.NoError(t, os.WriteFile(path, []byte("server: https://old\n"), 0o644))
	want := &Config{Server: "https://kargo.example.com", Token: "abc", Project: "kargo-demo", CAFile: "/ca.pem", InsecureSkipTLSVerify: true}
	require.NoError(t, saveConfig(path, want))
	require.Equal(t, os.FileMode(0o600), fileMode(t, path))
	require.Equal(t, want, readConfig(t, path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, `caFile: /ca.pem
insecureSkipTLSVerify: true
project: kargo-demo
server: https://kargo.example.com
token: abc
`, string(b))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(filepath.Join(dir, "missing.yaml"))
	require.NoError(t, err)
	require.Equal(t, &Config{}, cfg, "no file is no config, not an error")

	typo := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("sever: https://x\n"), 0o600))
	_, err = loadConfig(typo)
	require.ErrorContains(t, err, `unknown field "sever"`)
}

func TestConfigCommands(t *testing.T) {
	h := newHarness(t, false)
	r := h.run("config", "view")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "# "+h.config+"\nserver: "+api.URL+"\ntoken: REDACTED\n", r.stdout)
	r = h.run("config", "view", "--raw")
	require.Contains(t, r.stdout, "token: "+kubetest.Token(adam)+"\n")

	// Checking that the project exists takes reading Projects, which a
	// cluster-wide role grants.
	h.login(admin)
	r = h.run("config", "set-project", "nope")
	require.Equal(t, ExitError, r.code)
	require.Regexp(t, `^Error: project "nope" not found; the projects are [a-z0-9-]+`, r.stderr)
	require.Empty(t, readConfig(t, h.config).Project)

	r = h.run("config", "set-project", h.project)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Default project is now "+h.project+"\n", r.stdout)
	require.Equal(t, h.project, readConfig(t, h.config).Project)
	require.Equal(t, os.FileMode(0o600), fileMode(t, h.config))

	// The default project is used by commands without --project.
	h.create(testStage(), productionStage())
	r = h.run("get", "stages", "-o", "name")
	require.Equal(t, "stage.kargo.akuity.io/production\nstage.kargo.akuity.io/test\n", r.stdout)
}

func TestKargoConfigEnvironment(t *testing.T) {
	h := newHarness(t, true)
	t.Setenv(configEnv, h.config)
	var out, errOut syncBuffer
	code := execute(t.Context(), []string{"config", "view"}, nil, &out, &errOut, h.g)
	require.Equal(t, ExitOK, code, errOut.String())
	require.Contains(t, out.String(), "project: "+h.project+"\n")
}
