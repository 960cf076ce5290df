package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// argocdUpdate updates Argo CD Applications that opt in to the Stage
// (Kargo's argocd-update): a source's targetRevision, kustomize images,
// and a sync of the revision a promotion pushed. Every Application is read
// and checked before any is written; one in the middle of a sync makes the
// step wait for it to end.
type argocdUpdate struct{ updater *argocd.Updater }

type argocdUpdateConfig struct {
	Apps []struct {
		Name      string         `json:"name"`
		Namespace string         `json:"namespace,omitempty"`
		Selector  map[string]any `json:"selector,omitempty"`
		Sources   []struct {
			RepoURL              string `json:"repoURL"`
			Chart                string `json:"chart,omitempty"`
			DesiredRevision      string `json:"desiredRevision,omitempty"`
			UpdateTargetRevision bool   `json:"updateTargetRevision,omitempty"`
			Kustomize            *struct {
				Images []struct {
					RepoURL string `json:"repoURL"`
					Tag     string `json:"tag,omitempty"`
					Digest  string `json:"digest,omitempty"`
					NewName string `json:"newName,omitempty"`
				} `json:"images"`
			} `json:"kustomize,omitempty"`
			Helm *struct {
				Images []map[string]any `json:"images"`
			} `json:"helm,omitempty"`
		} `json:"sources,omitempty"`
	} `json:"apps"`
}

// argocdSyncWait is how soon a step that found a sync running looks again.
const argocdSyncWait = 2 * time.Second

func (a argocdUpdate) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	if a.updater == nil {
		return engine.Result{}, fmt.Errorf("this controller was started without Argo CD support, so argocd-update cannot run: %w", sourceerr.ErrInvalid)
	}
	var c argocdUpdateConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Apps) == 0 {
		return engine.Result{}, fmt.Errorf("apps: name at least one Application: %w", sourceerr.ErrInvalid)
	}
	if sc.StageObject == nil || len(sc.Freight) == 0 {
		return engine.Result{}, errors.New("argocd-update runs only in a Promotion")
	}
	// The Freight the updates read: the promoted Freight, with the images
	// the configuration names explicitly.
	f := sc.Freight[0].DeepCopy()
	heads := map[string]string{}
	updates := make([]kargoapi.ArgoCDAppUpdate, 0, len(c.Apps))
	for i, app := range c.Apps {
		switch {
		case app.Selector != nil:
			return engine.Result{}, fmt.Errorf("apps[%d].selector: selecting Applications by label is not supported by this kargo yet; name each Application: %w", i, sourceerr.ErrInvalid)
		case app.Name == "":
			return engine.Result{}, fmt.Errorf("apps[%d].name: name the Application: %w", i, sourceerr.ErrInvalid)
		}
		upd := kargoapi.ArgoCDAppUpdate{AppName: app.Name, AppNamespace: app.Namespace}
		for j, src := range app.Sources {
			at := fmt.Sprintf("apps[%d].sources[%d]", i, j)
			if src.UpdateTargetRevision && src.DesiredRevision == "" {
				return engine.Result{}, fmt.Errorf("%s: updateTargetRevision needs desiredRevision: %w", at, sourceerr.ErrInvalid)
			}
			if src.DesiredRevision != "" {
				heads[src.RepoURL] = src.DesiredRevision
			}
			su := kargoapi.ArgoCDSourceUpdate{RepoURL: src.RepoURL, Chart: src.Chart, UpdateTargetRevision: src.UpdateTargetRevision}
			if src.Chart != "" && src.DesiredRevision != "" {
				setChart(f, src.RepoURL, src.Chart, src.DesiredRevision)
			}
			if src.Helm != nil && len(src.Helm.Images) > 0 {
				return engine.Result{}, fmt.Errorf("%s.helm: setting Helm parameters of a live Application is not supported by this kargo yet; write the values to Git with yaml-update: %w", at, sourceerr.ErrInvalid)
			}
			if k := src.Kustomize; k != nil {
				su.Kustomize = &kargoapi.ArgoCDKustomize{}
				for n, img := range k.Images {
					switch {
					case img.NewName != "":
						return engine.Result{}, fmt.Errorf("%s.kustomize.images[%d].newName: renaming an image is not supported by this kargo yet: %w", at, n, sourceerr.ErrInvalid)
					case img.Tag == "" && img.Digest == "":
						return engine.Result{}, fmt.Errorf("%s.kustomize.images[%d]: give tag or digest (such as ${{ imageFrom(%q).Tag }}): %w", at, n, img.RepoURL, sourceerr.ErrInvalid)
					}
					setImage(f, img.RepoURL, img.Tag, img.Digest)
					su.Kustomize.Images = append(su.Kustomize.Images, kargoapi.ArgoCDKustomizeImageUpdate{Image: kargoapi.ImageRepoURL(img.RepoURL), UseDigest: img.Digest != ""})
				}
			}
			upd.SourceUpdates = append(upd.SourceUpdates, su)
		}
		updates = append(updates, upd)
	}
	lines, err := a.updater.Apply(ctx, sc.StageObject, f, updates, heads)
	if errors.Is(err, argocd.ErrSyncRunning) {
		return engine.Result{Waiting: true, RequeueAfter: argocdSyncWait, Message: err.Error()}, nil
	}
	if err != nil {
		return engine.Result{}, err
	}
	return engine.Result{Message: strings.Join(lines, "; ")}, nil
}

func setImage(f *kargoapi.Freight, repo, tag, digest string) {
	for i := range f.Images {
		if repourl.Same(f.Images[i].RepoURL, repo) {
			f.Images[i].Tag, f.Images[i].Digest = tag, digest
			return
		}
	}
	f.Images = append(f.Images, kargoapi.Image{RepoURL: repo, Tag: tag, Digest: digest})
}

func setChart(f *kargoapi.Freight, repo, name, version string) {
	for i := range f.Charts {
		if repourl.Same(f.Charts[i].RepoURL, repo) && f.Charts[i].Name == name {
			f.Charts[i].Version = version
			return
		}
	}
	f.Charts = append(f.Charts, kargoapi.Chart{RepoURL: repo, Name: name, Version: version})
}
