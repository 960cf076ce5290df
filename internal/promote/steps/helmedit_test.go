package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/yamledit"
)

func TestHelmUpdateImage(t *testing.T) {
	values := "image:\n  repository: nginx # upstream\n  tag: \"1.25.0\"\nfull: nginx:1.25.0\ndigest: \"\"\npinned: nginx@sha256:0\n"
	sc := stepContext(t, map[string]string{"charts/app/values.yaml": values})
	res, err := run(t, "helm-update-image", sc, `{"path": "charts/app/values.yaml", "images": [
		{"image": "nginx", "key": "image.tag", "value": "Tag"},
		{"image": "nginx", "key": "full", "value": "ImageAndTag"},
		{"image": "nginx", "key": "digest", "value": "Digest"},
		{"image": "nginx", "key": "pinned", "value": "ImageAndDigest"}]}`)
	require.NoError(t, err)
	d := objects.Digest("1.26.0")
	require.Equal(t, "image:\n  repository: nginx # upstream\n  tag: \"1.26.0\"\nfull: nginx:1.26.0\ndigest: \""+d+"\"\npinned: nginx@"+d+"\n", read(t, sc, "charts/app/values.yaml"))
	require.Contains(t, res.Output["commitMessage"], "set image.tag to 1.26.0")

	_, err = run(t, "helm-update-image", sc, `{"path": "charts/app/values.yaml", "images": [{"image": "redis", "key": "image.tag", "value": "Tag"}]}`)
	require.ErrorContains(t, err, "the Freight has no image redis")
	_, err = run(t, "helm-update-image", sc, `{"path": "charts/app/values.yaml", "images": [{"image": "nginx", "key": "image.tag", "value": "Version"}]}`)
	require.ErrorContains(t, err, "one of ImageAndTag, Tag, ImageAndDigest, Digest")
	_, err = run(t, "helm-update-image", sc, `{"path": "charts/app/values.yaml", "images": [{"image": "nginx", "key": "image.nosuch", "value": "Tag"}]}`)
	require.ErrorContains(t, err, "images[0]")

	// fromOrigin picks the Freight of one Warehouse.
	sc.Freight = []*kargoapi.Freight{
		objects.Freight("demo", objects.Image("nginx", "1.27.0"), objects.FromWarehouse("a")),
		objects.Freight("demo", objects.Image("nginx", "1.28.0"), objects.FromWarehouse("b")),
	}
	_, err = run(t, "helm-update-image", sc, `{"path": "charts/app/values.yaml", "images": [{"image": "nginx", "key": "image.tag", "value": "Tag", "fromOrigin": {"kind": "Warehouse", "name": "b"}}]}`)
	require.NoError(t, err)
	require.Contains(t, read(t, sc, "charts/app/values.yaml"), "tag: \"1.28.0\"")
}

const umbrellaChart = `apiVersion: v2
name: app
version: 0.1.0
dependencies:
- name: redis # cache
  version: 17.0.0
  repository: https://charts.example.com
- name: redis
  alias: queue
  version: 17.0.0
  repository: https://charts.example.com
- name: lib
  version: 1.0.0
  repository: oci://registry.example.com/charts
`

func umbrellaLock(t *testing.T, chart, redis, lib string) string {
	t.Helper()
	lock := "dependencies:\n- name: redis\n  repository: https://charts.example.com\n  version: " + redis + "\n- name: redis\n  repository: https://charts.example.com\n  version: " + redis + "\n- name: lib\n  repository: oci://registry.example.com/charts\n  version: " + lib + "\ndigest: DIGEST\ngenerated: \"2025-01-01T00:00:00Z\"\n"
	digest, err := yamledit.ChartLockDigest([]byte(chart), []byte(lock))
	require.NoError(t, err)
	return replace1(lock, "DIGEST", digest)
}

func replace1(s, old, repl string) string { return strings.Replace(s, old, repl, 1) }

func TestHelmUpdateChart(t *testing.T) {
	sc := stepContext(t, map[string]string{
		"charts/app/Chart.yaml": umbrellaChart,
		"charts/app/Chart.lock": umbrellaLock(t, umbrellaChart, "17.0.0", "1.0.0"),
	})
	sc.Freight = []*kargoapi.Freight{objects.Freight("demo")}
	sc.Freight[0].Charts = []kargoapi.Chart{
		{RepoURL: "https://charts.example.com", Name: "redis", Version: "18.1.0"},
		{RepoURL: "oci://registry.example.com/charts/lib", Version: "1.2.0"},
	}
	// Without charts, every dependency the Freight has a chart for.
	res, err := run(t, "helm-update-chart", sc, `{"path": "charts/app"}`)
	require.NoError(t, err)
	wantChart := replace1(replace1(replace1(umbrellaChart, "17.0.0", "18.1.0"), "17.0.0", "18.1.0"), "version: 1.0.0", "version: 1.2.0")
	require.Equal(t, wantChart, read(t, sc, "charts/app/Chart.yaml"))
	require.Equal(t, umbrellaLock(t, wantChart, "18.1.0", "1.2.0"), read(t, sc, "charts/app/Chart.lock"), "the lock follows, digest and all")
	require.Contains(t, res.Output["commitMessage"], "set dependency lib to 1.2.0")

	// An alias picks one entry; a version given wins over the Freight's.
	_, err = run(t, "helm-update-chart", sc, `{"path": "charts/app", "charts": [{"repository": "https://charts.example.com", "name": "redis", "alias": "queue", "version": "19.0.0"}]}`)
	require.NoError(t, err)
	got := read(t, sc, "charts/app/Chart.yaml")
	require.Contains(t, got, "- name: redis # cache\n  version: 18.1.0\n")
	require.Contains(t, got, "  alias: queue\n  version: 19.0.0\n")

	_, err = run(t, "helm-update-chart", sc, `{"path": "charts/app", "charts": [{"repository": "https://other.example.com", "name": "redis", "version": "1.0.0"}]}`)
	require.ErrorContains(t, err, "charts[0]")
	_, err = run(t, "helm-update-chart", sc, `{"path": "charts/app", "charts": [{"repository": "https://charts.example.com", "name": "postgres"}]}`)
	require.ErrorContains(t, err, "the Freight has no chart postgres")
	_, err = run(t, "helm-update-chart", sc, `{"path": "charts"}`)
	require.ErrorContains(t, err, "has no Chart.yaml")
}

func TestJSONUpdate(t *testing.T) {
	settings := "{\n  \"image\": {\"tag\": \"1.25.0\"},\n  \"replicas\": 2,\n  \"example.com/version\": \"v1\",\n  \"containers\": [{\"name\": \"app\", \"image\": \"app:v1\"}]\n}\n"
	sc := stepContext(t, map[string]string{"configs/settings.json": settings})
	require.NoError(t, os.Chmod(filepath.Join(sc.WorkDir, "configs/settings.json"), 0o600))
	res, err := run(t, "json-update", sc, `{"path": "configs/settings.json", "updates": [
		{"key": "image.tag", "value": "1.26.0"},
		{"key": "replicas", "value": 3},
		{"key": "example\\.com/version", "value": "v2"},
		{"key": "containers.0.image", "value": "app:v2"}]}`)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"image\": {\"tag\": \"1.26.0\"},\n  \"replicas\": 3,\n  \"example.com/version\": \"v2\",\n  \"containers\": [{\"name\": \"app\", \"image\": \"app:v2\"}]\n}\n", read(t, sc, "configs/settings.json"))
	require.Contains(t, res.Output["commitMessage"], "set image.tag to 1.26.0")
	fi, err := os.Stat(filepath.Join(sc.WorkDir, "configs/settings.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	_, err = run(t, "json-update", sc, `{"path": "configs/settings.json", "updates": [{"key": "image.digest", "value": "x"}]}`)
	require.ErrorContains(t, err, `updates[0]: configs/settings.json: set image.digest: key not found: image has no key "digest" (it has the keys "tag")`)
	_, err = run(t, "json-update", sc, `{"path": "configs/settings.json", "updates": [{"key": "image", "value": "x"}]}`)
	require.ErrorContains(t, err, "image is an object")
	_, err = run(t, "json-update", sc, `{"path": "configs/settings.json", "updates": []}`)
	require.ErrorContains(t, err, "at least one update")
	_, err = run(t, "json-update", sc, `{"path": "../settings.json", "updates": [{"key": "a", "value": 1}]}`)
	require.ErrorContains(t, err, "leaves the promotion's work directory")
}
