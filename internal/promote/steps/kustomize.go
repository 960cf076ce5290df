package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/yamledit"
)

// kustomizeSetImage sets images in a directory's kustomization file, as
// `kustomize edit set image` does (Kargo's kustomize-set-image), changing
// only what it sets.
type kustomizeSetImage struct{}

func (kustomizeSetImage) Replayable() {}

type kustomizeSetImageConfig struct {
	Path string `json:"path"`
	// Images to set; without any, every image of the Freight.
	Images []struct {
		Image  string `json:"image"`
		Tag    string `json:"tag,omitempty"`
		Digest string `json:"digest,omitempty"`
		// NewName renames the image (the kustomization entry's newName),
		// as `kustomize edit set image image=newName:tag` does.
		NewName string `json:"newName,omitempty"`
		// UseDigest sets the Freight's digest rather than its tag when
		// neither tag nor digest is given.
		UseDigest bool `json:"useDigest,omitempty"`
	} `json:"images,omitempty"`
}

func (kustomizeSetImage) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c kustomizeSetImageConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	dir, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	file, err := kustomizationFile(dir, c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return engine.Result{}, fmt.Errorf("read %s: %w", file, err)
	}
	var want []yamledit.KustomizeImage
	if len(c.Images) == 0 {
		for _, f := range sc.Freight[:min(1, len(sc.Freight))] {
			for _, img := range f.Images {
				want = append(want, yamledit.KustomizeImage{Name: img.RepoURL, NewTag: img.Tag})
			}
		}
		if len(want) == 0 {
			return engine.Result{}, fmt.Errorf("images: the Freight has no images, so name the images to set: %w", sourceerr.ErrInvalid)
		}
	}
	for i, img := range c.Images {
		k := yamledit.KustomizeImage{Name: img.Image, NewTag: img.Tag, Digest: img.Digest, NewName: img.NewName}
		if k.NewTag == "" && k.Digest == "" {
			found := false
			for _, f := range sc.Freight {
				for _, fi := range f.Images {
					if !found && repourl.Same(fi.RepoURL, img.Image) {
						found = true
						if img.UseDigest {
							k.Digest = fi.Digest
						} else {
							k.NewTag = fi.Tag
						}
					}
				}
			}
			if !found {
				return engine.Result{}, fmt.Errorf("images[%d]: the Freight has no image %s; give tag or digest: %w", i, img.Image, sourceerr.ErrInvalid)
			}
		}
		want = append(want, k)
	}
	var msgs []string
	for _, k := range want {
		if doc, err = yamledit.SetKustomizeImage(doc, k); err != nil {
			return engine.Result{}, fmt.Errorf("%s: %w: %w", file, err, sourceerr.ErrInvalid)
		}
		to := k.NewTag
		if k.Digest != "" {
			to = k.Digest
		}
		if k.NewName != "" {
			to = k.NewName + ":" + to
			if k.Digest != "" {
				to = k.NewName + "@" + k.Digest
			}
		}
		msgs = append(msgs, k.Name+" to "+to)
	}
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		return engine.Result{}, fmt.Errorf("write %s: %w", file, err)
	}
	msg := "Updated " + c.Path + " to use images " + strings.Join(msgs, ", ")
	return engine.Result{Message: msg, Output: map[string]any{"commitMessage": msg}}, nil
}

// kustomizationFile finds the kustomization file of dir, as kustomize does.
func kustomizationFile(dir, rel string) (string, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("path %s has no kustomization.yaml: %w", rel, sourceerr.ErrInvalid)
}
