package steps

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// helmBinary is the real helm (v4.3.1, built by hack/argocd-bins.sh); the
// step must render what `helm template` renders.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	dir, err := kubetest.HackBuilt("ARGOCD_BINS", "argocd-bins.sh", []string{"helm"})
	require.NoError(t, err, "no helm binary: set HELM, or build it with `make argocd-bins`")
	return filepath.Join(dir, "helm")
}

func runHelm(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	cmd.Dir = dir
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, string(stderr))
	return string(out)
}

// helmApp is an umbrella chart with a vendored subchart, a CRD, a hook, a
// test and notes.
var helmApp = map[string]string{
	"src/charts/app/Chart.yaml": `apiVersion: v2
name: app
version: 0.1.0
appVersion: "1.0"
dependencies:
- name: sub
  version: 0.2.0
  repository: https://charts.example.com
`,
	"src/charts/app/values.yaml":            "image:\n  repository: nginx\n  tag: 1.25.0\nreplicas: 1\nsub:\n  greeting: hello\n",
	"src/charts/app/values-test.yaml":       "replicas: 2\nimage:\n  tag: 1.26.0\n",
	"src/charts/app/templates/_helpers.tpl": `{{- define "app.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}`,
	"src/charts/app/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  namespace: {{ .Release.Namespace }}
  annotations:
    host: {{ getHostByName "localhost" | quote }}
    found: {{ lookup "v1" "Secret" "kube-system" "" | len | quote }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - name: app
        image: {{ .Values.image.repository }}:{{ .Values.image.tag }}
`,
	"src/charts/app/templates/service.yaml":       "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"app.fullname\" . }}\nspec:\n  ports:\n  - port: 80\n",
	"src/charts/app/templates/job.yaml":           "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox\n",
	"src/charts/app/templates/tests/test.yaml":    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: probe\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers:\n  - name: p\n    image: busybox\n",
	"src/charts/app/templates/NOTES.txt":          "Installed {{ .Release.Name }}.\n",
	"src/charts/app/crds/widget.yaml":             "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
	"src/charts/app/charts/sub/Chart.yaml":        "apiVersion: v2\nname: sub\nversion: 0.2.0\n",
	"src/charts/app/charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata:\n  greeting: {{ .Values.greeting }}\n",
}

func TestHelmTemplateIsHelmTemplate(t *testing.T) {
	sc := stepContext(t, helmApp)
	chart := filepath.Join(sc.WorkDir, "src/charts/app")
	for _, tc := range []struct {
		name string
		cfg  string
		args []string
	}{
		{"defaults", `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/a.yaml"}`, []string{"template", "demo", chart}},
		{"values, set, CRDs, namespace, versions", `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/b.yaml",
			"valuesFiles": ["src/charts/app/values-test.yaml"], "setValues": [{"key": "sub.greeting", "value": "hi"}, {"key": "image.repository", "value": "example.com/app"}],
			"includeCRDs": true, "namespace": "stage-test", "kubeVersion": "1.33.0", "apiVersions": ["example.com/v1"]}`,
			[]string{"template", "demo", chart, "-f", filepath.Join(chart, "values-test.yaml"), "--set", "sub.greeting=hi", "--set", "image.repository=example.com/app",
				"--include-crds", "-n", "stage-test", "--kube-version", "1.33.0", "--api-versions", "example.com/v1"}},
		{"no tests", `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/c.yaml", "skipTests": true}`, []string{"template", "demo", chart, "--skip-tests"}},
		{"no hooks", `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/d.yaml", "disableHooks": true}`, []string{"template", "demo", chart, "--no-hooks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := runHelm(t, sc.WorkDir, tc.args...)
			res, err := run(t, "helm-template", sc, tc.cfg)
			require.NoError(t, err)
			var c struct {
				OutPath string `json:"outPath"`
			}
			require.NoError(t, decodeJSON(tc.cfg, &c))
			require.Equal(t, want, read(t, sc, c.OutPath))
			require.Contains(t, res.Message, "as release demo to "+c.OutPath)
		})
	}
	// getHostByName and lookup find nothing: the render reaches neither
	// DNS nor a cluster.
	require.Contains(t, read(t, sc, "out/a.yaml"), "host: \"\"\n    found: \"0\"")
}

func TestHelmTemplateLayouts(t *testing.T) {
	sc := stepContext(t, helmApp)
	_, err := run(t, "helm-template", sc, `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/helm"}`)
	require.NoError(t, err)
	files := readTree(t, filepath.Join(sc.WorkDir, "out/helm"))
	require.ElementsMatch(t, []string{"app/templates/deployment.yaml", "app/templates/service.yaml", "app/templates/job.yaml", "app/templates/tests/test.yaml", "app/charts/sub/templates/cm.yaml"}, keys(files))
	require.Equal(t, "---\n# Source: app/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo-app\nspec:\n  ports:\n  - port: 80\n", files["app/templates/service.yaml"])

	_, err = run(t, "helm-template", sc, `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/rel", "useReleaseName": true}`)
	require.NoError(t, err)
	require.Contains(t, keys(readTree(t, filepath.Join(sc.WorkDir, "out/rel"))), "demo/templates/service.yaml")

	_, err = run(t, "helm-template", sc, `{"path": "src/charts/app", "releaseName": "demo", "outPath": "out/flat", "outLayout": "flat"}`)
	require.NoError(t, err)
	flat := readTree(t, filepath.Join(sc.WorkDir, "out/flat"))
	require.ElementsMatch(t, []string{"default-deployment-demo-app.yaml", "service-demo-app.yaml", "job-migrate.yaml", "pod-probe.yaml", "configmap-demo-sub.yaml"}, keys(flat))
	require.Equal(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-sub\ndata:\n  greeting: hello\n", flat["configmap-demo-sub.yaml"])
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHelmTemplateBuildsFileDependencies(t *testing.T) {
	files := map[string]string{
		"src/charts/app/Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: file://../lib\n",
		"src/charts/app/templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"src/charts/lib/Chart.yaml":         "apiVersion: v2\nname: lib\nversion: 1.0.0\n",
		"src/charts/lib/templates/lib.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-lib\n",
	}
	sc := stepContext(t, files)
	_, err := run(t, "helm-template", sc, `{"path": "src/charts/app", "releaseName": "r", "outPath": "out/m.yaml"}`)
	require.ErrorContains(t, err, "dependency lib (file://../lib) is not in charts/")
	require.ErrorContains(t, err, "set buildDependencies")
	_, err = run(t, "helm-template", sc, `{"path": "src/charts/app", "releaseName": "r", "outPath": "out/m.yaml", "buildDependencies": true}`)
	require.NoError(t, err)
	require.Contains(t, read(t, sc, "out/m.yaml"), "# Source: app/charts/lib/templates/lib.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-lib\n")
}

// A chart comes from whoever may push to the repository; rendered with
// the controller's rights, it must read nothing outside the work directory
// and download nothing.
func TestHelmTemplateRefuses(t *testing.T) {
	addr, connections := listen(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "token"), []byte("s3cret"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(outside, "chart/templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "chart/Chart.yaml"), []byte("apiVersion: v2\nname: lib\nversion: 1.0.0\n"), 0o600))
	chart := func(extra map[string]string) map[string]string {
		files := map[string]string{
			"c/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
			"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  f: {{ .Files.Get \"files/token\" | quote }}\n",
			"c/files/placeholder": "",
		}
		for k, v := range extra {
			files[k] = v
		}
		return files
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		link  [2]string
		cfg   string
		want  string
	}{
		{name: "a file read by .Files.Get through a symlink out", files: chart(nil), link: [2]string{"c/files/token", filepath.Join(outside, "token")}, want: "symlink c/files/token leaves the promotion's work directory"},
		{name: "a template that is a symlink out", files: chart(nil), link: [2]string{"c/templates/leak.yaml", filepath.Join(outside, "token")}, want: "leaves the promotion's work directory"},
		{name: "a directory symlinked out", files: chart(nil), link: [2]string{"c/files/dir", outside}, want: "symlink c/files/dir leaves the promotion's work directory"},
		{name: "a dependency that is not vendored", files: chart(map[string]string{
			"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: http://" + addr + "/charts\n",
		}), cfg: `"buildDependencies": true`, want: "kargo does not download chart dependencies during a promotion"},
		{name: "a file:// dependency outside the work directory", files: chart(map[string]string{
			"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: file://" + filepath.Join(outside, "chart") + "\n",
		}), cfg: `"buildDependencies": true`, want: "leaves the promotion's work directory"},
		{name: "a values file outside the work directory", files: chart(nil), cfg: `"valuesFiles": ["../../` + filepath.Join(outside, "token") + `"]`, want: "leaves the promotion's work directory"},
		{name: "a values file at a URL", files: chart(nil), cfg: `"valuesFiles": ["http://` + addr + `/values.yaml"]`, want: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := stepContext(t, tc.files)
			if tc.link[0] != "" {
				require.NoError(t, os.Symlink(tc.link[1], filepath.Join(sc.WorkDir, tc.link[0])))
			}
			cfg := `{"path": "c", "releaseName": "r", "outPath": "out/m.yaml"`
			if tc.cfg != "" {
				cfg += ", " + tc.cfg
			}
			_, err := run(t, "helm-template", sc, cfg+"}")
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cret")
			require.NoFileExists(t, filepath.Join(sc.WorkDir, "out/m.yaml"))
		})
	}
	require.Zero(t, connections.Load(), "a chart made the controller connect")
}
