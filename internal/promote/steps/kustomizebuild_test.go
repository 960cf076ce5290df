package steps

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// kustomizeBinary is the real kustomize (v5.8.1, built by
// hack/argocd-bins.sh); the step must render what it renders.
func kustomizeBinary(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("KUSTOMIZE"); k != "" {
		return k
	}
	dir, err := kubetest.HackBuilt("ARGOCD_BINS", "argocd-bins.sh", []string{"kustomize"})
	require.NoError(t, err, "no kustomize binary: set KUSTOMIZE, or build it with `make argocd-bins`")
	return filepath.Join(dir, "kustomize")
}

// kustomizeApp is a base, a component and an overlay that use most of what
// kustomize does with local files.
var kustomizeApp = map[string]string{
	"src/base/kustomization.yaml": `resources:
- deployment.yaml
- service.yaml
configMapGenerator:
- name: app-config
  files:
  - config.properties
  literals:
  - MODE=base
labels:
- pairs:
    app.kubernetes.io/name: app
  includeSelectors: true
`,
	"src/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.25.0
        envFrom:
        - configMapRef:
            name: app-config
`,
	"src/base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports:
  - port: 80
`,
	"src/base/config.properties": "color=blue\nsize=large\n",
	"src/components/debug/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- target:
    kind: Deployment
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/args
      value: ["--debug"]
`,
	"src/stages/test/kustomization.yaml": `namespace: test
namePrefix: test-
resources:
- ../../base
- namespace.yaml
components:
- ../../components/debug
images:
- name: nginx
  newTag: 1.26.0
patches:
- path: replicas.yaml
replacements:
- source:
    kind: ConfigMap
    fieldPath: metadata.name
  targets:
  - select:
      kind: Deployment
    fieldPaths:
    - metadata.annotations.config
    options:
      create: true
`,
	"src/stages/test/replicas.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 3
`,
	"src/stages/test/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: test
`,
}

func TestKustomizeBuildIsKustomizeBuild(t *testing.T) {
	kustomize := kustomizeBinary(t)
	sc := stepContext(t, kustomizeApp)
	overlay := filepath.Join(sc.WorkDir, "src/stages/test")

	want, err := exec.Command(kustomize, "build", overlay).Output()
	require.NoError(t, err)
	res, err := run(t, "kustomize-build", sc, `{"path": "src/stages/test", "outPath": "out/manifests.yaml"}`)
	require.NoError(t, err)
	require.Equal(t, string(want), read(t, sc, "out/manifests.yaml"))
	require.Equal(t, "rendered src/stages/test (4 resources) to out/manifests.yaml", res.Message)

	// A directory in kustomize's format holds what `kustomize build -o`
	// writes, file for file.
	wantDir := t.TempDir()
	require.NoError(t, exec.Command(kustomize, "build", overlay, "-o", wantDir).Run())
	_, err = run(t, "kustomize-build", sc, `{"path": "src/stages/test", "outPath": "out/kustomize", "outputFormat": "kustomize"}`)
	require.NoError(t, err)
	require.Equal(t, readTree(t, wantDir), readTree(t, filepath.Join(sc.WorkDir, "out/kustomize")))

	// Kargo's format: one file a resource, [namespace-]kind-name.yaml,
	// together the single file's resources.
	_, err = run(t, "kustomize-build", sc, `{"path": "src/stages/test", "outPath": "out/kargo"}`)
	require.NoError(t, err)
	got := readTree(t, filepath.Join(sc.WorkDir, "out/kargo"))
	var names []string
	var docs []string
	for name, content := range got {
		names = append(names, name)
		docs = append(docs, content)
	}
	sort.Strings(names)
	require.Equal(t, []string{"namespace-test.yaml", "test-configmap-test-app-config-g92bdftbcg.yaml", "test-deployment-test-app.yaml", "test-service-test-app.yaml"}, names)
	for _, d := range docs {
		require.Contains(t, string(want), d)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	}))
	return out
}

// listen is a loopback service that counts the connections it gets: a
// kustomization must never make the controller connect to it.
func listen(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// A kustomization comes from whoever may push to the repository; built
// with the controller's rights, it must read nothing outside the work
// directory, fetch nothing and run nothing.
func TestKustomizeBuildRefuses(t *testing.T) {
	addr, connections := listen(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "token"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  token: s3cret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "kustomization.yaml"), []byte("resources:\n- token\n"), 0o600))

	for _, tc := range []struct {
		name  string
		files map[string]string
		link  [2]string // a symlink to make: name in the work directory, target
		want  string
	}{
		{name: "an http resource at a loopback service", files: map[string]string{"k/kustomization.yaml": "resources:\n- http://" + addr + "/secret.yaml\n"}, want: "does not fetch remote resources"},
		{name: "a git base on GitHub", files: map[string]string{"k/kustomization.yaml": "resources:\n- github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n"}, want: "does not fetch remote resources"},
		{name: "an scp-style git base", files: map[string]string{"k/kustomization.yaml": "resources:\n- git@" + addr + ":org/repo//base\n"}, want: "does not fetch remote resources"},
		{name: "a file:// git base", files: map[string]string{"k/kustomization.yaml": "resources:\n- file://" + outside + "\n"}, want: "does not fetch remote resources"},
		{name: "a remote component", files: map[string]string{"k/kustomization.yaml": "components:\n- https://" + addr + "/org/repo//c\n"}, want: "does not fetch remote resources"},
		{name: "a remote base two bases down", files: map[string]string{
			"k/kustomization.yaml":   "resources:\n- ../mid\n",
			"mid/kustomization.yaml": "resources:\n- ssh://git@" + addr + "/org/repo\n",
		}, want: "mid/kustomization.yaml: resources names"},
		{name: "a remote patch", files: map[string]string{"k/kustomization.yaml": "patches:\n- path: https://" + addr + "/patch.yaml\n"}, want: "does not fetch remote resources"},
		{name: "a remote generator file", files: map[string]string{"k/kustomization.yaml": "configMapGenerator:\n- name: c\n  files:\n  - key=https://" + addr + "/f\n"}, want: "does not fetch remote resources"},
		{name: "a transformer config naming a remote patch", files: map[string]string{
			"k/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- patcher.yaml\n",
			"k/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			"k/patcher.yaml":       "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: http://" + addr + "/p.yaml\n",
		}, want: "a plugin configuration names"},
		{name: "an inline transformer naming a remote patch", files: map[string]string{
			"k/kustomization.yaml": "transformers:\n- |-\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata:\n    name: p\n  path: https://" + addr + "/p.yaml\n",
		}, want: "a plugin configuration names"},
		{name: "helm chart inflation", files: map[string]string{"k/kustomization.yaml": "helmCharts:\n- name: redis\n  repo: https://" + addr + "/charts\n"}, want: "render the chart with a helm-template step"},
		{name: "a base outside the work directory", files: map[string]string{"k/kustomization.yaml": "resources:\n- " + outside + "\n"}, want: "leaves the promotion's work directory"},
		{name: "a base through a symlink out", files: map[string]string{"k/kustomization.yaml": "resources:\n- ../escape\n"}, link: [2]string{"escape", outside}, want: "leaves the promotion's work directory"},
		{name: "a resource file through a symlink out", files: map[string]string{"k/kustomization.yaml": "resources:\n- token.yaml\n"}, link: [2]string{"k/token.yaml", filepath.Join(outside, "token")}, want: "leaves the promotion's work directory"},
		{name: "a generator file through a symlink out", files: map[string]string{"k/kustomization.yaml": "configMapGenerator:\n- name: c\n  files:\n  - token\n"}, link: [2]string{"k/token", filepath.Join(outside, "token")}, want: "leaves the promotion's work directory"},
		{name: "a generator file up and out", files: map[string]string{"k/kustomization.yaml": "configMapGenerator:\n- name: c\n  files:\n  - ../../../../../../../../" + filepath.Join(outside, "token") + "\n"}, want: "leaves the promotion's work directory"},
		{name: "an exec KRM function", files: map[string]string{
			"k/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- fn.yaml\n",
			"k/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			"k/fn.yaml":            "apiVersion: example.com/v1\nkind: Touch\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/touch\n",
		}, want: "external plugins disabled"},
		{name: "a containerized KRM function", files: map[string]string{
			"k/kustomization.yaml": "resources:\n- cm.yaml\ngenerators:\n- fn.yaml\n",
			"k/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			"k/fn.yaml":            "apiVersion: example.com/v1\nkind: Gen\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: example.com/evil\n        network: true\n",
		}, want: "external plugins disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := stepContext(t, tc.files)
			if tc.link[0] != "" {
				require.NoError(t, os.Symlink(tc.link[1], filepath.Join(sc.WorkDir, tc.link[0])))
			}
			_, err := run(t, "kustomize-build", sc, `{"path": "k", "outPath": "out/all.yaml"}`)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cret")
			require.NoFileExists(t, filepath.Join(sc.WorkDir, "out/all.yaml"))
		})
	}
	require.Zero(t, connections.Load(), "a kustomization made the controller connect")
}

// checkRemote reads kustomize's Kustomization field by field. A kustomize
// upgrade that adds a field fails here until the field is classified:
// checked by checkRemote, or holding no path kustomize loads.
func TestCheckRemoteKnowsEveryKustomizationField(t *testing.T) {
	checked := []string{"Resources", "Bases", "Components", "Generators", "Transformers", "Validators", "Crds", "Configurations",
		"PatchesStrategicMerge", "Patches", "PatchesJson6902", "Replacements", "ConfigMapGenerator", "SecretGenerator", "OpenAPI",
		"HelmCharts", "HelmChartInflationGenerator", "HelmGlobals"}
	noPaths := []string{"TypeMeta", "MetaData", "NamePrefix", "NameSuffix", "Namespace", "CommonLabels", "Labels", "CommonAnnotations",
		"Images", "ImageTags", "Replicas", "Vars", "SortOptions", "GeneratorOptions", "BuildMetadata"}
	known := map[string]bool{}
	for _, f := range append(checked, noPaths...) {
		known[f] = true
	}
	typ := reflect.TypeOf(types.Kustomization{})
	var unknown []string
	for i := range typ.NumField() {
		if !known[typ.Field(i).Name] {
			unknown = append(unknown, typ.Field(i).Name)
		}
	}
	require.Empty(t, unknown, "classify these Kustomization fields in checkRemote")
}

func TestIsRemote(t *testing.T) {
	for _, remote := range []string{
		"https://example.com/a.yaml", "http://127.0.0.1/x", "github.com/org/repo", "GitHub.com/org/repo//dir?ref=v1",
		"git@github.com:org/repo", "git::https://example.com/r", "ssh://git@example.com/r", "file:///etc", "gh:org/repo",
		"user@host:org/repo", "example.com:org/repo",
	} {
		require.True(t, isRemote(remote), remote)
	}
	for _, local := range []string{"../base", "deployment.yaml", "a/b/c", "./x", "dir.with.dots/y", "github-stuff/x"} {
		require.False(t, isRemote(local), local)
	}
}

// kustomize-set-image's newName renames the image as `kustomize edit set
// image name=newName:tag` does: both kustomizations build to the same
// manifests, from an entry that had another newName, from one that had
// none, and for an image the file did not list.
func TestKustomizeSetImageNewNameIsKustomizeEditSetImage(t *testing.T) {
	kustomize := kustomizeBinary(t)
	files := map[string]string{
		"app/kustomization.yaml": "resources:\n- deploy.yaml\nimages:\n- name: nginx\n  newName: old.example/nginx # mirrored\n  newTag: 1.25.0\n- name: redis\n  newTag: \"7.0\"\n",
		"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: web
        image: nginx:1.0
      - name: cache
        image: redis:6
      - name: db
        image: postgres:15
`,
	}
	ours := stepContext(t, files)
	res, err := run(t, "kustomize-set-image", ours, `{"path": "app", "images": [
		{"image": "nginx", "newName": "mirror.example/nginx"},
		{"image": "redis", "newName": "mirror.example/redis", "tag": "7.2"},
		{"image": "postgres", "newName": "mirror.example/postgres", "digest": "`+objects.Digest("16")+`"}]}`)
	require.NoError(t, err)
	require.Equal(t, "Updated app to use images nginx to mirror.example/nginx:1.26.0, redis to mirror.example/redis:7.2, postgres to mirror.example/postgres@"+objects.Digest("16"), res.Message)
	require.Contains(t, read(t, ours, "app/kustomization.yaml"), "newName: mirror.example/nginx # mirrored\n", "the comment stays where it was")

	theirs := stepContext(t, files)
	edit := exec.Command(kustomize, "edit", "set", "image",
		"nginx=mirror.example/nginx:1.26.0", "redis=mirror.example/redis:7.2", "postgres=mirror.example/postgres@"+objects.Digest("16"))
	edit.Dir = filepath.Join(theirs.WorkDir, "app")
	out, err := edit.CombinedOutput()
	require.NoError(t, err, string(out))

	build := func(sc *engine.StepContext) string {
		b, err := exec.Command(kustomize, "build", filepath.Join(sc.WorkDir, "app")).Output()
		require.NoError(t, err)
		return string(b)
	}
	want := build(theirs)
	require.Contains(t, want, "image: mirror.example/nginx:1.26.0")
	require.Equal(t, want, build(ours))
}
