package steps

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// helmTemplate renders a chart of the work directory (Kargo's
// helm-template) with Helm's own library (v4.3.1, the Helm that
// hack/argocd-bins.sh builds for Argo CD), as `helm template` does: no
// cluster is contacted, lookup finds nothing and getHostByName resolves
// nothing.
//
// The chart comes from a repository whoever may push to it controls, and
// is rendered with the controller's rights, so the render is confined to
// the work directory: the chart, its values files and any file://
// dependencies are read from inside it, a symlink that leads out of it is
// refused (Helm's loader follows symlinks, and .Files.Get would put what
// they point at into the output), and chart dependencies are never
// downloaded: they must be vendored in charts/ (as `helm dependency build`
// leaves them) or, with buildDependencies, be file:// charts of the work
// directory.
type helmTemplate struct{}

func (helmTemplate) Replayable() {}

type helmTemplateConfig struct {
	Path              string   `json:"path"`
	OutPath           string   `json:"outPath"`
	OutLayout         string   `json:"outLayout,omitempty"`
	ReleaseName       string   `json:"releaseName,omitempty"`
	UseReleaseName    bool     `json:"useReleaseName,omitempty"`
	Namespace         string   `json:"namespace,omitempty"`
	ValuesFiles       []string `json:"valuesFiles,omitempty"`
	BuildDependencies bool     `json:"buildDependencies,omitempty"`
	IncludeCRDs       bool     `json:"includeCRDs,omitempty"`
	DisableHooks      bool     `json:"disableHooks,omitempty"`
	SkipTests         bool     `json:"skipTests,omitempty"`
	KubeVersion       string   `json:"kubeVersion,omitempty"`
	APIVersions       []string `json:"apiVersions,omitempty"`
	SetValues         []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"setValues,omitempty"`
}

func (helmTemplate) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c helmTemplateConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if c.ReleaseName == "" {
		// Kargo requires it; helm template's own default.
		c.ReleaseName = "release-name"
	}
	switch c.OutLayout {
	case "", "helm", "flat":
	default:
		return engine.Result{}, fmt.Errorf("outLayout is %q; it is helm or flat: %w", c.OutLayout, sourceerr.ErrInvalid)
	}
	root, dir, out, err := renderPaths(sc, c.Path, c.OutPath)
	if err != nil {
		return engine.Result{}, err
	}
	ch, err := loadChart(root, dir, c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	if err := vendorDependencies(root, dir, ch, c.BuildDependencies); err != nil {
		return engine.Result{}, fmt.Errorf("path %s: %w: %w", c.Path, err, sourceerr.ErrInvalid)
	}
	vals, err := c.values(sc)
	if err != nil {
		return engine.Result{}, err
	}
	rel, err := c.render(ctx, ch, vals)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
		return engine.Result{}, fmt.Errorf("helm template %s: %s: %w", c.Path, msg, sourceerr.ErrInvalid)
	}
	var hooks []*release.Hook
	if !c.DisableHooks {
		for _, h := range rel.Hooks {
			if c.SkipTests && slices.Contains(h.Events, release.HookTest) {
				continue
			}
			hooks = append(hooks, h)
		}
	}
	if isYAMLFile(c.OutPath) {
		var b bytes.Buffer
		fmt.Fprintln(&b, strings.TrimSpace(rel.Manifest))
		for _, h := range hooks {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
		}
		if err := writeOut(out, b.Bytes()); err != nil {
			return engine.Result{}, fmt.Errorf("outPath %s: %w", c.OutPath, err)
		}
		return engine.Result{Message: fmt.Sprintf("rendered chart %s as release %s to %s", c.Path, c.ReleaseName, c.OutPath)}, nil
	}
	files, err := c.layout(rel.Manifest, hooks)
	if err != nil {
		return engine.Result{}, err
	}
	for name, b := range files {
		if err := writeOut(filepath.Join(out, filepath.FromSlash(name)), b); err != nil {
			return engine.Result{}, fmt.Errorf("outPath %s: %w", c.OutPath, err)
		}
	}
	return engine.Result{Message: fmt.Sprintf("rendered chart %s as release %s to %d files in %s", c.Path, c.ReleaseName, len(files), c.OutPath)}, nil
}

// values merges the valuesFiles in order, then setValues, as helm
// template's --values and --set do.
func (c *helmTemplateConfig) values(sc *engine.StepContext) (map[string]any, error) {
	vals := map[string]any{}
	for i, f := range c.ValuesFiles {
		p, err := sc.Path(f)
		if err != nil {
			return nil, fmt.Errorf("valuesFiles[%d]: %w", i, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("valuesFiles[%d]: read %s: %w: %w", i, f, err, sourceerr.ErrInvalid)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("valuesFiles[%d]: %s is not YAML: %w: %w", i, f, err, sourceerr.ErrInvalid)
		}
		vals = mergeValues(vals, m)
	}
	for i, s := range c.SetValues {
		if s.Key == "" {
			return nil, fmt.Errorf("setValues[%d].key is empty: %w", i, sourceerr.ErrInvalid)
		}
		if err := strvals.ParseInto(s.Key+"="+s.Value, vals); err != nil {
			return nil, fmt.Errorf("setValues[%d]: %w: %w", i, err, sourceerr.ErrInvalid)
		}
	}
	return vals, nil
}

// mergeValues merges b into a as Helm merges values files: maps merge
// key by key, anything else in b replaces what a has.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func (c *helmTemplateConfig) render(ctx context.Context, ch *chartv2.Chart, vals map[string]any) (*release.Release, error) {
	cfg := action.NewConfiguration()
	// Helm logs its warnings (a deprecated chart, say) to slog; the step
	// reports what matters in its result.
	cfg.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler())
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName = c.ReleaseName
	install.Namespace = c.Namespace
	if install.Namespace == "" {
		install.Namespace = "default"
	}
	install.IncludeCRDs = c.IncludeCRDs
	install.DisableHooks = c.DisableHooks
	install.APIVersions = common.VersionSet(c.APIVersions)
	install.EnableDNS = false
	if c.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(c.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kubeVersion %q: %w", c.KubeVersion, err)
		}
		install.KubeVersion = kv
	}
	r, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("helm returned a release of type %T", r)
	}
	return rel, nil
}

// layout splits the rendered manifests into files. The helm layout is
// that of helm template --output-dir: each template's documents in a file
// at its path in the chart (chart-name/templates/x.yaml), or under the
// release name instead of the chart's with useReleaseName; the flat layout
// puts each resource in a file of its own named [namespace-]kind-name.yaml,
// as kustomize-build names them.
func (c *helmTemplateConfig) layout(manifest string, hooks []*release.Hook) (map[string][]byte, error) {
	type doc struct{ source, body string }
	var docs []doc
	for _, part := range strings.Split("\n"+manifest, "\n---\n") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		source := ""
		if first, rest, ok := strings.Cut(part, "\n"); ok && strings.HasPrefix(first, "# Source: ") {
			source, part = strings.TrimPrefix(first, "# Source: "), rest
		}
		docs = append(docs, doc{source, part})
	}
	for _, h := range hooks {
		docs = append(docs, doc{h.Path, h.Manifest})
	}
	files := map[string][]byte{}
	if c.OutLayout == "flat" {
		for _, d := range docs {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(d.body), &meta); err != nil || meta.Kind == "" {
				continue
			}
			name := strings.ToLower(meta.Kind + "-" + meta.Metadata.Name)
			if meta.Metadata.Namespace != "" {
				name = strings.ToLower(meta.Metadata.Namespace) + "-" + name
			}
			name += ".yaml"
			if _, dup := files[name]; dup {
				return nil, fmt.Errorf("two resources would be written to %s; outLayout: helm keeps the chart's file layout: %w", name, sourceerr.ErrInvalid)
			}
			files[name] = []byte(strings.TrimSpace(d.body) + "\n")
		}
		return files, nil
	}
	for _, d := range docs {
		name := path.Clean(d.source)
		if d.source == "" || name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("a rendered document has no usable source path (%q): %w", d.source, sourceerr.ErrInvalid)
		}
		if c.UseReleaseName {
			if _, rest, ok := strings.Cut(name, "/"); ok {
				name = c.ReleaseName + "/" + rest
			}
		}
		files[name] = append(files[name], fmt.Sprintf("---\n# Source: %s\n%s\n", d.source, d.body)...)
	}
	return files, nil
}

// loadChart loads the chart in dir after checking that no symlink under it
// leads out of the work directory.
func loadChart(root, dir, shown string) (*chartv2.Chart, error) {
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return nil, fmt.Errorf("path %s has no Chart.yaml: %w", shown, sourceerr.ErrInvalid)
	}
	if err := symlinksInside(root, dir, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("path %s: %w: %w", shown, err, sourceerr.ErrInvalid)
	}
	ch, err := loader.Load(dir)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
		return nil, fmt.Errorf("load chart %s: %s: %w", shown, msg, sourceerr.ErrInvalid)
	}
	return ch, nil
}

// symlinksInside refuses a symlink under dir whose target is outside root,
// following symlinked directories (as Helm's loader does) once each.
func symlinksInside(root, dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("symlink %s: %w", relTo(root, p), err)
		}
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("symlink %s %w", relTo(root, p), errOutside)
		}
		if fi, err := os.Stat(target); err == nil && fi.IsDir() {
			return symlinksInside(root, target, seen)
		}
		return nil
	})
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// vendorDependencies makes sure every dependency the chart declares is
// there, never downloading one: a dependency missing from charts/ is an
// error, unless buildDependencies is set and its repository is a file://
// chart of the work directory, which is loaded in its place.
func vendorDependencies(root, dir string, ch *chartv2.Chart, build bool) error {
	if ch.Metadata == nil {
		return nil
	}
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		local, isLocal := strings.CutPrefix(dep.Repository, "file://")
		if !build || !isLocal {
			how := "vendor it: run helm dependency build and commit charts/"
			if isLocal {
				how = "set buildDependencies to load it from " + dep.Repository
			}
			return fmt.Errorf("dependency %s (%s) is not in charts/, and kargo does not download chart dependencies during a promotion; %s", dep.Name, dep.Repository, how)
		}
		p := local
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, local)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("dependency %s: %s: %w", dep.Name, dep.Repository, err)
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			return fmt.Errorf("dependency %s: %s %w", dep.Name, dep.Repository, errOutside)
		}
		sub, err := loadChart(root, real, dep.Repository)
		if err != nil {
			return fmt.Errorf("dependency %s: %w", dep.Name, err)
		}
		if dep.Version != "" && sub.Metadata != nil && sub.Metadata.Version != dep.Version && !strings.ContainsAny(dep.Version, "^~<>=*xX |") {
			return fmt.Errorf("dependency %s: Chart.yaml asks for version %s and %s has %s", dep.Name, dep.Version, dep.Repository, sub.Metadata.Version)
		}
		ch.AddDependency(sub)
		have[dep.Name] = true
	}
	return nil
}
