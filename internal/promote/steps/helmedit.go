package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/yamledit"
)

// origin is Kargo's fromOrigin: the Warehouse (or Stage) whose Freight an
// artifact comes from, for a Stage that holds Freight of several origins.
type origin struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// freightOf returns the Freight to look in: the origin's, or all of them
// (the Freight being promoted first).
func freightOf(sc *engine.StepContext, o *origin) []*kargoapi.Freight {
	if o == nil {
		return sc.Freight
	}
	var out []*kargoapi.Freight
	for _, f := range sc.Freight {
		if f.Origin != nil && f.Origin.Name == o.Name && (o.Kind == "" || string(f.Origin.Kind) == o.Kind) {
			out = append(out, f)
		}
	}
	return out
}

// helmUpdateImage sets values in a Helm values file to an image of the
// Freight (Kargo's helm-update-image, which Kargo deprecates in favour of
// yaml-update with imageFrom; kargo keeps it so that Stages written for it
// apply unchanged). Only the bytes of each value change.
type helmUpdateImage struct{}

func (helmUpdateImage) Replayable() {}

type helmUpdateImageConfig struct {
	Path   string `json:"path"`
	Images []struct {
		Image      string  `json:"image"`
		FromOrigin *origin `json:"fromOrigin,omitempty"`
		Key        string  `json:"key"`
		// Value is ImageAndTag, Tag, ImageAndDigest or Digest.
		Value string `json:"value"`
	} `json:"images"`
}

func (helmUpdateImage) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c helmUpdateImageConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Images) == 0 {
		return engine.Result{}, fmt.Errorf("images: at least one image is needed: %w", sourceerr.ErrInvalid)
	}
	return editFile(sc, c.Path, func(doc []byte) ([]byte, []string, error) {
		var msgs []string
		for i, u := range c.Images {
			value, err := helmImageValue(sc, i, u.Image, u.FromOrigin, u.Value)
			if err != nil {
				return nil, nil, err
			}
			if doc, err = yamledit.SetValue(doc, yamleditPath(u.Key), value); err != nil {
				return nil, nil, fmt.Errorf("images[%d]: %s: %w: %w", i, c.Path, err, sourceerr.ErrInvalid)
			}
			msgs = append(msgs, fmt.Sprintf("set %s to %s", u.Key, value))
		}
		return doc, msgs, nil
	})
}

// helmImageValue is what helm-update-image's images[i] writes: the image of
// the Freight as value asks (ImageAndTag, Tag, ImageAndDigest, Digest).
func helmImageValue(sc *engine.StepContext, i int, image string, from *origin, value string) (string, error) {
	img, ok := findImage(freightOf(sc, from), image)
	if !ok {
		return "", fmt.Errorf("images[%d]: the Freight has no image %s: %w", i, image, sourceerr.ErrInvalid)
	}
	var out string
	switch value {
	case "ImageAndTag":
		out = img.RepoURL + ":" + img.Tag
	case "Tag":
		out = img.Tag
	case "ImageAndDigest":
		out = img.RepoURL + "@" + img.Digest
	case "Digest":
		out = img.Digest
	default:
		return "", fmt.Errorf("images[%d].value is %q; it is one of ImageAndTag, Tag, ImageAndDigest, Digest: %w", i, value, sourceerr.ErrInvalid)
	}
	if strings.Contains(value, "Digest") && img.Digest == "" || !strings.Contains(value, "Digest") && img.Tag == "" {
		return "", fmt.Errorf("images[%d]: value %s needs what the Freight does not record for %s: %w", i, value, img.RepoURL, sourceerr.ErrInvalid)
	}
	return out, nil
}

func findImage(freight []*kargoapi.Freight, repo string) (kargoapi.Image, bool) {
	for _, f := range freight {
		for _, img := range f.Images {
			if repourl.Same(img.RepoURL, repo) {
				return img, true
			}
		}
	}
	return kargoapi.Image{}, false
}

// helmUpdateChart sets versions of dependencies in a chart's Chart.yaml
// (Kargo's helm-update-chart) and keeps its Chart.lock, when it has one,
// consistent, so that `helm dependency build` accepts the result. A
// version comes from the configuration or, when it is left out, from the
// Freight's chart of that repository and name. Kargo resolves a
// dependency's SemVer range against its repository when no charts are
// given; kargo never reaches a chart repository during a promotion, so
// without charts it updates every dependency the Freight carries a chart
// for instead.
type helmUpdateChart struct{}

func (helmUpdateChart) Replayable() {}

type chartUpdate struct {
	Repository string  `json:"repository"`
	Name       string  `json:"name"`
	Alias      string  `json:"alias,omitempty"`
	Version    string  `json:"version,omitempty"`
	FromOrigin *origin `json:"fromOrigin,omitempty"`
}

type helmUpdateChartConfig struct {
	Path   string        `json:"path"`
	Charts []chartUpdate `json:"charts,omitempty"`
}

// chartDependency is a dependency of Chart.yaml as far as this step reads
// it.
type chartDependency struct {
	Name       string `json:"name"`
	Repository string `json:"repository"`
	Alias      string `json:"alias"`
	Version    string `json:"version"`
}

func (helmUpdateChart) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c helmUpdateChartConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	chartFile, err := sc.Path(path.Join(c.Path, "Chart.yaml"))
	if err != nil {
		return engine.Result{}, err
	}
	lockFile, err := sc.Path(path.Join(c.Path, "Chart.lock"))
	if err != nil {
		return engine.Result{}, err
	}
	chart, err := os.ReadFile(chartFile)
	if err != nil {
		return engine.Result{}, fmt.Errorf("path %s has no Chart.yaml: %w: %w", c.Path, err, sourceerr.ErrInvalid)
	}
	var meta struct {
		Dependencies []chartDependency `json:"dependencies"`
	}
	if err := yaml.Unmarshal(chart, &meta); err != nil {
		return engine.Result{}, fmt.Errorf("read %s/Chart.yaml: %w: %w", c.Path, err, sourceerr.ErrInvalid)
	}
	updates := c.Charts
	if len(updates) == 0 {
		for _, d := range meta.Dependencies {
			if _, ok := chartVersion(sc.Freight, d.Repository, d.Name); ok {
				updates = append(updates, chartUpdate{Repository: d.Repository, Name: d.Name, Alias: d.Alias})
			}
		}
		if len(updates) == 0 {
			return engine.Result{}, fmt.Errorf("charts: none is given, and the Freight carries no chart that %s/Chart.yaml depends on; name the charts and their versions: %w", c.Path, sourceerr.ErrInvalid)
		}
	}
	lock, err := os.ReadFile(lockFile)
	hasLock := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return engine.Result{}, fmt.Errorf("read %s/Chart.lock: %w", c.Path, err)
	}
	var msgs []string
	for i, u := range updates {
		version := u.Version
		if version == "" {
			v, ok := chartVersion(freightOf(sc, u.FromOrigin), u.Repository, u.Name)
			if !ok {
				return engine.Result{}, fmt.Errorf("charts[%d]: no version is given and the Freight has no chart %s from %s: %w", i, u.Name, u.Repository, sourceerr.ErrInvalid)
			}
			version = v
		}
		before := chart
		if u.Alias == "" {
			chart, err = yamledit.SetChartDependencyVersion(chart, u.Repository, u.Name, version)
		} else {
			chart, err = setAliasedDependency(chart, meta.Dependencies, u, version)
		}
		if err != nil {
			return engine.Result{}, fmt.Errorf("charts[%d]: %s/Chart.yaml: %w: %w", i, c.Path, err, sourceerr.ErrInvalid)
		}
		msg := fmt.Sprintf("set dependency %s to %s", u.Name, version)
		if hasLock {
			up, err := yamledit.UpdateChartLock(lock, before, chart, u.Repository, u.Name, version)
			if err != nil {
				return engine.Result{}, fmt.Errorf("charts[%d]: %s/Chart.lock: %w: %w", i, c.Path, err, sourceerr.ErrInvalid)
			}
			lock = up.Lock
			if up.DigestKept {
				msg += " (Chart.lock's digest did not match Chart.yaml before either and was kept: run helm dependency update)"
			}
		}
		msgs = append(msgs, msg)
	}
	if err := writeKeepingMode(chartFile, chart); err != nil {
		return engine.Result{}, fmt.Errorf("write %s/Chart.yaml: %w", c.Path, err)
	}
	if hasLock {
		if err := writeKeepingMode(lockFile, lock); err != nil {
			return engine.Result{}, fmt.Errorf("write %s/Chart.lock: %w", c.Path, err)
		}
	}
	msg := "Updated " + c.Path + "/Chart.yaml: " + strings.Join(msgs, ", ")
	return engine.Result{Message: msg, Output: map[string]any{"commitMessage": msg}}, nil
}

// setAliasedDependency sets the version of the one dependency with the
// update's repository, name and alias.
func setAliasedDependency(chart []byte, deps []chartDependency, u chartUpdate, version string) ([]byte, error) {
	for i, d := range deps {
		if d.Name == u.Name && d.Alias == u.Alias && repourl.Same(d.Repository, u.Repository) {
			return yamledit.SetValue(chart, fmt.Sprintf("dependencies.%d.version", i), version)
		}
	}
	return nil, fmt.Errorf("%w: no dependency %s from %s has the alias %s", yamledit.ErrDependencyNotFound, u.Name, u.Repository, u.Alias)
}

// chartVersion finds the Freight's version of a dependency: a chart of an
// HTTP(S) repository by repository and name, or an OCI chart, which the
// Freight records by its full reference (oci://registry/name) and
// Chart.yaml by registry and name.
func chartVersion(freight []*kargoapi.Freight, repository, name string) (string, bool) {
	for _, f := range freight {
		for _, c := range f.Charts {
			if (repourl.Same(c.RepoURL, repository) && c.Name == name) || (c.Name == "" && repourl.Same(c.RepoURL, strings.TrimSuffix(repository, "/")+"/"+name)) {
				return c.Version, true
			}
		}
	}
	return "", false
}
