package steps

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func stepContext(t *testing.T, files map[string]string) *engine.StepContext {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return &engine.StepContext{WorkDir: dir, Freight: []*kargoapi.Freight{objects.Freight("demo", objects.Image("nginx", "1.26.0"))}}
}

func run(t *testing.T, name string, sc *engine.StepContext, cfg string) (engine.Result, error) {
	t.Helper()
	var c engine.Config
	require.NoError(t, json.Unmarshal([]byte(cfg), &c))
	return New(Deps{})[name].Run(context.Background(), sc, c)
}

func read(t *testing.T, sc *engine.StepContext, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sc.WorkDir, name))
	require.NoError(t, err)
	return string(b)
}

func TestCopy(t *testing.T) {
	sc := stepContext(t, map[string]string{
		"src/a.yaml": "a", "src/sub/b.yaml": "b", "src/sub/skip.tmp": "x", "src/testdata/t": "t", "src/.git/config": "g", "out/keep": "k",
	})
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(sc.WorkDir, "src/link")))
	res, err := run(t, "copy", sc, `{"inPath": "./src", "outPath": "./out", "ignore": "# fixtures\ntestdata/\n*.tmp\n"}`)
	require.NoError(t, err)
	require.Equal(t, "copied 2 files from ./src to ./out", res.Message)
	require.Equal(t, "a", read(t, sc, "out/a.yaml"))
	require.Equal(t, "b", read(t, sc, "out/sub/b.yaml"))
	require.Equal(t, "k", read(t, sc, "out/keep"), "a copy merges into what is there")
	for _, absent := range []string{"out/sub/skip.tmp", "out/testdata", "out/.git", "out/link"} {
		require.NoFileExists(t, filepath.Join(sc.WorkDir, absent))
	}
	_, err = run(t, "copy", sc, `{"inPath": "src/a.yaml", "outPath": "new/dir/a.yaml"}`)
	require.NoError(t, err)
	require.Equal(t, "a", read(t, sc, "new/dir/a.yaml"))
}

// A repository can hold symlinks out of the work directory; no step reads
// or writes through them.
func TestStepsStayInTheWorkDirectory(t *testing.T) {
	sc := stepContext(t, map[string]string{"src/values.yaml": "image:\n  tag: a\n"})
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "token"), []byte("secret"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(sc.WorkDir, "src/escape")))
	for _, tc := range []struct{ step, cfg string }{
		{"copy", `{"inPath": "src/escape/token", "outPath": "out/token"}`},
		{"copy", `{"inPath": "src/values.yaml", "outPath": "src/escape/values.yaml"}`},
		{"copy", `{"inPath": "../", "outPath": "out"}`},
		{"yaml-update", `{"path": "src/escape/token", "updates": [{"key": "a", "value": "b"}]}`},
		{"delete", `{"path": "src/escape/token"}`},
		{"kustomize-set-image", `{"path": "/etc"}`},
	} {
		_, err := run(t, tc.step, sc, tc.cfg)
		require.ErrorContains(t, err, "leaves the promotion's work directory", tc.step+" "+tc.cfg)
	}
	b, err := os.ReadFile(filepath.Join(outside, "token"))
	require.NoError(t, err)
	require.Equal(t, "secret", string(b))
	require.NoFileExists(t, filepath.Join(sc.WorkDir, "out/token"))
}

func TestDelete(t *testing.T) {
	sc := stepContext(t, map[string]string{"out/a": "a", "out/b/c": "c"})
	_, err := run(t, "delete", sc, `{"path": "out/b"}`)
	require.NoError(t, err)
	require.NoDirExists(t, filepath.Join(sc.WorkDir, "out/b"))
	res, err := run(t, "delete", sc, `{"path": "out/none"}`)
	require.NoError(t, err)
	require.Equal(t, "out/none did not exist", res.Message)
	_, err = run(t, "delete", sc, `{"path": "out/none", "strict": true}`)
	require.ErrorContains(t, err, "does not exist (strict)")
	_, err = run(t, "delete", sc, `{"path": "."}`)
	require.ErrorContains(t, err, "whole work directory")
}

func TestYAMLUpdate(t *testing.T) {
	values := "# app values\nimage:\n  repository: nginx # the image\n  tag: \"1.25.0\"\nreplicas: 2\nannotations:\n  example.com/version: v1\ncontainers:\n  - name: app\n    image: app:v1\n"
	sc := stepContext(t, map[string]string{"values.yaml": values})
	res, err := run(t, "yaml-update", sc, `{"path": "values.yaml", "updates": [
		{"key": "image.tag", "value": "1.26.0"},
		{"key": "replicas", "value": 3},
		{"key": "annotations.example\\.com/version", "value": "v2"},
		{"key": "containers.0.image", "value": "app:v2"}]}`)
	require.NoError(t, err)
	require.Equal(t, "# app values\nimage:\n  repository: nginx # the image\n  tag: \"1.26.0\"\nreplicas: 3\nannotations:\n  example.com/version: v2\ncontainers:\n  - name: app\n    image: app:v2\n", read(t, sc, "values.yaml"))
	require.Contains(t, res.Output["commitMessage"], "set image.tag to 1.26.0")

	_, err = run(t, "yaml-update", sc, `{"path": "values.yaml", "updates": [{"key": "image.nosuch", "value": "x"}]}`)
	require.ErrorContains(t, err, "updates[0]")
	_, err = run(t, "yaml-update", sc, `{"path": "values.yaml", "updates": []}`)
	require.ErrorContains(t, err, "at least one update")
	_, err = run(t, "yaml-update", sc, `{"path": "values.yaml", "update": []}`)
	require.ErrorContains(t, err, `unknown field "update"`)
}

func TestKustomizeSetImage(t *testing.T) {
	sc := stepContext(t, map[string]string{"base/kustomization.yaml": "resources:\n- deploy.yaml\nimages:\n- name: nginx\n  newTag: 1.25.0 # pinned by kargo\n"})
	res, err := run(t, "kustomize-set-image", sc, `{"path": "./base"}`)
	require.NoError(t, err)
	require.Equal(t, "resources:\n- deploy.yaml\nimages:\n- name: nginx\n  newTag: 1.26.0 # pinned by kargo\n", read(t, sc, "base/kustomization.yaml"))
	require.Equal(t, "Updated ./base to use images nginx to 1.26.0", res.Output["commitMessage"])

	_, err = run(t, "kustomize-set-image", sc, `{"path": "base", "images": [{"image": "nginx", "useDigest": true}]}`)
	require.NoError(t, err)
	require.Contains(t, read(t, sc, "base/kustomization.yaml"), "digest: "+objects.Digest("1.26.0"))

	_, err = run(t, "kustomize-set-image", sc, `{"path": "base", "images": [{"image": "redis"}]}`)
	require.ErrorContains(t, err, "the Freight has no image redis")
	_, err = run(t, "kustomize-set-image", sc, `{"path": "nowhere"}`)
	require.ErrorContains(t, err, "has no kustomization.yaml")
}

func TestComposeOutput(t *testing.T) {
	res, err := run(t, "compose-output", stepContext(t, nil), `{"url": "https://git.example/pull/3", "n": 3}`)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"url": "https://git.example/pull/3", "n": 3.0}, res.Output)
}

func decodeJSON(s string, into any) error { return json.Unmarshal([]byte(s), into) }
