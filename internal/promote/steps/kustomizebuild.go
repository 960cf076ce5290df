package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// kustomizeBuild renders a kustomization into a file or a directory
// (Kargo's kustomize-build), with kustomize's own library (the version of
// kustomize v5.8.1) in the controller's process, so its output is that of
// `kustomize build`.
//
// The kustomization comes from a repository whoever may push to it
// controls, and is built with the controller's rights, so the build is
// confined to the work directory:
//   - every file kustomize reads goes through workFS, which refuses a path
//     outside the work directory, symlinks resolved; kustomize's own load
//     restrictor (LoadRestrictionsRootOnly) applies on top;
//   - remote resources are refused before kustomize runs (checkRemote):
//     kustomize would fetch an http(s) resource with a client of its own
//     and clone a git base with the git program, both out of reach of the
//     controller's outbound address policy;
//   - plugins are limited to kustomize's built-in ones: no exec or
//     containerized KRM functions, no Go plugins, and no Helm chart
//     inflation (which runs the helm program and may download charts);
//     helm-template renders charts instead.
type kustomizeBuild struct{}

func (kustomizeBuild) Replayable() {}

type kustomizeBuildConfig struct {
	Path    string `json:"path"`
	OutPath string `json:"outPath"`
	// OutputFormat names the files of a directory output: kargo
	// ([namespace-]kind-name.yaml, the default) or kustomize (the names
	// `kustomize build -o DIR` gives).
	OutputFormat string `json:"outputFormat,omitempty"`
	// Plugin is Kargo's configuration of kustomize's Helm chart
	// inflation. It is accepted so that Stages written for Kargo apply,
	// and has no effect: a kustomization with helmCharts is refused.
	Plugin *struct {
		Helm *struct {
			APIVersions []string `json:"apiVersions,omitempty"`
			KubeVersion string   `json:"kubeVersion,omitempty"`
		} `json:"helm,omitempty"`
	} `json:"plugin,omitempty"`
}

// renderPaths resolves a rendering step's input path and outPath inside the
// work directory, and the work directory itself (symlinks resolved), which
// bounds what a renderer may read.
func renderPaths(sc *engine.StepContext, path, outPath string) (root, dir, out string, err error) {
	if dir, err = sc.Path(path); err != nil {
		return "", "", "", fmt.Errorf("path: %w", err)
	}
	if out, err = sc.Path(outPath); err != nil {
		return "", "", "", fmt.Errorf("outPath: %w", err)
	}
	if root, err = filepath.EvalSymlinks(sc.WorkDir); err != nil {
		return "", "", "", fmt.Errorf("resolve work directory: %w", err)
	}
	return root, dir, out, nil
}

func (kustomizeBuild) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c kustomizeBuildConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	switch c.OutputFormat {
	case "", "kargo", "kustomize":
	default:
		return engine.Result{}, fmt.Errorf("outputFormat is %q; it is kargo or kustomize: %w", c.OutputFormat, sourceerr.ErrInvalid)
	}
	root, dir, out, err := renderPaths(sc, c.Path, c.OutPath)
	if err != nil {
		return engine.Result{}, err
	}
	m, err := kustomizeRender(root, dir, c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	if isYAMLFile(c.OutPath) {
		b, err := m.AsYaml()
		if err != nil {
			return engine.Result{}, fmt.Errorf("write the build of %s as YAML: %w", c.Path, err)
		}
		if err := writeOut(out, b); err != nil {
			return engine.Result{}, fmt.Errorf("outPath %s: %w", c.OutPath, err)
		}
		return engine.Result{Message: fmt.Sprintf("rendered %s (%d resources) to %s", c.Path, m.Size(), c.OutPath)}, nil
	}
	files, err := splitBuild(m, c.OutputFormat)
	if err != nil {
		return engine.Result{}, err
	}
	for name, b := range files {
		if err := writeOut(filepath.Join(out, name), b); err != nil {
			return engine.Result{}, fmt.Errorf("outPath %s: %w", c.OutPath, err)
		}
	}
	return engine.Result{Message: fmt.Sprintf("rendered %s to %d files in %s", c.Path, len(files), c.OutPath)}, nil
}

// kustomizeRender builds the kustomization in dir, confined to root.
func kustomizeRender(root, dir, shown string) (resmap.ResMap, error) {
	if err := checkRemote(root, dir, false, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w: %w", shown, err, sourceerr.ErrInvalid)
	}
	opts := krusty.MakeDefaultOptions()
	// As the kustomize CLI without --reorder: legacy order unless the
	// kustomization's sortOptions say otherwise.
	opts.Reorder = krusty.ReorderOptionUnspecified
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	m, err := krusty.MakeKustomizer(opts).Run(&workFS{root: root, disk: filesys.MakeFsOnDisk()}, dir)
	if err != nil {
		// kustomize's messages name absolute paths; the work directory's
		// is the controller's business.
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
		return nil, fmt.Errorf("kustomize build %s: %s: %w", shown, msg, sourceerr.ErrInvalid)
	}
	return m, nil
}

func isYAMLFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// writeOut writes a rendered file, replacing a symlink rather than
// writing through it.
func writeOut(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return os.WriteFile(p, b, 0o644)
}

// splitBuild names each resource's file. The kustomize format is that of
// `kustomize build -o DIR`, names and contents alike; the kargo format is
// [namespace-]kind-name.yaml with each resource as the single-file output
// writes it.
func splitBuild(m resmap.ResMap, format string) (map[string][]byte, error) {
	files := map[string][]byte{}
	add := func(name string, res *resource.Resource, kustomizeStyle bool) error {
		if _, dup := files[name]; dup {
			hint := ""
			if !kustomizeStyle {
				hint = "; outputFormat: kustomize names files by API group and version too"
			}
			return fmt.Errorf("two resources would be written to %s%s: %w", name, hint, sourceerr.ErrInvalid)
		}
		var b []byte
		var err error
		if kustomizeStyle {
			var obj map[string]any
			if obj, err = res.Map(); err == nil {
				b, err = yaml.Marshal(obj)
			}
		} else {
			b, err = res.AsYAML()
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", res.CurId(), err)
		}
		files[name] = b
		return nil
	}
	if format == "kustomize" {
		byNamespace := m.GroupedByCurrentNamespace()
		for ns, list := range byNamespace {
			for _, res := range list {
				name := kustomizeFileName(res)
				if len(byNamespace) > 1 {
					name = strings.ToLower(ns) + "_" + name
				}
				if err := add(name, res, true); err != nil {
					return nil, err
				}
			}
		}
		for _, res := range m.ClusterScoped() {
			if err := add(kustomizeFileName(res), res, true); err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	for _, res := range m.Resources() {
		name := strings.ToLower(res.GetKind() + "-" + res.GetName())
		if ns := res.GetNamespace(); ns != "" {
			name = strings.ToLower(ns) + "-" + name
		}
		if err := add(name+".yaml", res, false); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func kustomizeFileName(res *resource.Resource) string {
	return strings.ToLower(res.GetGvk().StringWoEmptyField()) + "_" + strings.ToLower(res.GetName()) + ".yaml"
}

// errOutside says kustomize asked for a path outside the work directory.
var errOutside = errors.New("leaves the promotion's work directory")

// workFS is the file system kustomize sees: the disk, read-only, and only
// inside root (the work directory, symlinks resolved). A path that is or
// leads outside root, by ".." or through a symlink, is refused.
type workFS struct {
	root string
	disk filesys.FileSystem
}

// check resolves p (absolute, or relative to the process's directory as
// kustomize's own file system takes it) and refuses it outside root.
func (w *workFS) check(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(w.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s %w", p, errOutside)
	}
	real := abs
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		real = r
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		real = filepath.Join(r, filepath.Base(abs))
	}
	if real != w.root && !strings.HasPrefix(real, w.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s %w (through a symlink)", p, errOutside)
	}
	return abs, nil
}

func (w *workFS) readOnly(p string) error {
	return fmt.Errorf("kustomize-build does not write %s: the build reads only", p)
}

func (w *workFS) Create(p string) (filesys.File, error) { return nil, w.readOnly(p) }
func (w *workFS) Mkdir(p string) error                  { return w.readOnly(p) }
func (w *workFS) MkdirAll(p string) error               { return w.readOnly(p) }
func (w *workFS) RemoveAll(p string) error              { return w.readOnly(p) }
func (w *workFS) WriteFile(p string, _ []byte) error    { return w.readOnly(p) }

func (w *workFS) Open(p string) (filesys.File, error) {
	abs, err := w.check(p)
	if err != nil {
		return nil, err
	}
	return w.disk.Open(abs)
}

func (w *workFS) IsDir(p string) bool {
	abs, err := w.check(p)
	return err == nil && w.disk.IsDir(abs)
}

func (w *workFS) ReadDir(p string) ([]string, error) {
	abs, err := w.check(p)
	if err != nil {
		return nil, err
	}
	return w.disk.ReadDir(abs)
}

func (w *workFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	abs, err := w.check(p)
	if err != nil {
		return "", "", err
	}
	d, f, err := w.disk.CleanedAbs(abs)
	if err != nil {
		return "", "", err
	}
	if _, err := w.check(d.String()); err != nil {
		return "", "", err
	}
	return d, f, nil
}

func (w *workFS) Exists(p string) bool {
	abs, err := w.check(p)
	return err == nil && w.disk.Exists(abs)
}

func (w *workFS) Glob(pattern string) ([]string, error) {
	if _, err := w.check(filepath.Dir(pattern)); err != nil {
		return nil, err
	}
	all, err := w.disk.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var in []string
	for _, m := range all {
		if _, err := w.check(m); err == nil {
			in = append(in, m)
		}
	}
	return in, nil
}

func (w *workFS) ReadFile(p string) ([]byte, error) {
	abs, err := w.check(p)
	if err != nil {
		return nil, err
	}
	return w.disk.ReadFile(abs)
}

func (w *workFS) Walk(p string, fn filepath.WalkFunc) error {
	abs, err := w.check(p)
	if err != nil {
		return err
	}
	return w.disk.Walk(abs, fn)
}
