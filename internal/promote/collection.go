package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/collection"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// View returns the Freight a Stage's promotion mechanisms read when f is
// promoted into st: f, carrying also the artifacts of the Freight st holds
// of its other origins (an artifact f carries itself is taken from f; of
// two other origins that carry the same one, the first by origin). The
// mechanisms write every artifact of the view, so what st holds of its
// other origins stays as it is, even when f's commit is what the update
// reads from; a repository already at those versions changes only by f's
// artifacts. Missing lists the origins st requests of which it holds no
// Freight yet, whose artifacts the view cannot carry.
func View(st *kargoapi.Stage, f *kargoapi.Freight) (v *kargoapi.Freight, missing []kargoapi.FreightOrigin) {
	held := collection.With(st, freight.Simple(f))
	missing = collection.Missing(st, held)
	if len(held) == 1 {
		return f, missing
	}
	v = f.DeepCopy()
	for _, h := range held[1:] {
		for _, c := range h.Commits {
			if !hasCommit(v, c.RepoURL) {
				v.Commits = append(v.Commits, c)
			}
		}
		for _, i := range h.Images {
			if !hasImage(v, i.RepoURL) {
				v.Images = append(v.Images, i)
			}
		}
		for _, c := range h.Charts {
			if !hasChart(v, c.RepoURL, c.Name) {
				v.Charts = append(v.Charts, c)
			}
		}
	}
	return v, missing
}

func hasCommit(f *kargoapi.Freight, repo string) bool {
	for _, c := range f.Commits {
		if repourl.Same(c.RepoURL, repo) {
			return true
		}
	}
	return false
}

func hasImage(f *kargoapi.Freight, repo string) bool {
	for _, i := range f.Images {
		if i.RepoURL == repo {
			return true
		}
	}
	return false
}

func hasChart(f *kargoapi.Freight, repo, name string) bool {
	for _, c := range f.Charts {
		if c.Name == name && repourl.Same(c.RepoURL, repo) {
			return true
		}
	}
	return false
}

// hasChartFor says whether v carries the chart a Chart.yaml dependency or an
// Argo CD chart source names: by repository and name, or, for an OCI chart,
// as the one reference repository/name.
func hasChartFor(v *kargoapi.Freight, repo, name string) bool {
	oci := strings.TrimSuffix(repo, "/") + "/" + name
	for _, c := range v.Charts {
		if (c.Name == name && repourl.Same(c.RepoURL, repo)) || (c.Name == "" && repourl.Same(c.RepoURL, oci)) {
			return true
		}
	}
	return false
}

// Trim returns the promotion mechanisms pm without the edits that need an
// artifact v does not carry, when st holds no Freight yet of some origin it
// requests (missing): those edits are left as they are in the repository
// and the Applications until Freight of that origin is promoted, and one
// line per edit says so. With nothing missing, pm is returned as it is, and
// an edit naming an artifact that v lacks fails the promotion, as it
// always did: the spec names an artifact no requested origin provides.
func Trim(pm *kargoapi.PromotionMechanisms, v *kargoapi.Freight, missing []kargoapi.FreightOrigin) (*kargoapi.PromotionMechanisms, []string) {
	if pm == nil || len(missing) == 0 {
		return pm, nil
	}
	var names []string
	for _, o := range missing {
		names = append(names, string(o.Kind)+" "+o.Name)
	}
	why := fmt.Sprintf("the Stage holds no Freight yet from %s", strings.Join(names, ", "))
	var left []string
	out := pm.DeepCopy()
	for i := range out.GitRepoUpdates {
		u := &out.GitRepoUpdates[i]
		if k := u.Kustomize; k != nil {
			var keep []kargoapi.KustomizeImageUpdate
			for _, img := range k.Images {
				if hasImage(v, string(img.Image)) {
					keep = append(keep, img)
				} else {
					left = append(left, fmt.Sprintf("left image %s in %s of %s as it is: %s", img.Image, img.Path, u.RepoURL, why))
				}
			}
			k.Images = keep
			if len(keep) == 0 {
				u.Kustomize = nil
			}
		}
		if h := u.Helm; h != nil {
			var keep []kargoapi.HelmImageUpdate
			for _, img := range h.Images {
				if hasImage(v, string(img.Image)) {
					keep = append(keep, img)
				} else {
					left = append(left, fmt.Sprintf("left %s in %s of %s as it is: %s", img.Key, img.ValuesFilePath, u.RepoURL, why))
				}
			}
			var charts []kargoapi.HelmChartDependencyUpdate
			for _, c := range h.Charts {
				if hasChartFor(v, c.Repository, c.Name) {
					charts = append(charts, c)
				} else {
					left = append(left, fmt.Sprintf("left dependency %s in %s of %s as it is: %s", c.Name, c.ChartPath, u.RepoURL, why))
				}
			}
			h.Images, h.Charts = keep, charts
			if len(keep)+len(charts) == 0 {
				u.Helm = nil
			}
		}
	}
	for i := range out.ArgoCDAppUpdates {
		a := &out.ArgoCDAppUpdates[i]
		for j := range a.SourceUpdates {
			su := &a.SourceUpdates[j]
			if k := su.Kustomize; k != nil {
				var keep []kargoapi.ArgoCDKustomizeImageUpdate
				for _, img := range k.Images {
					if hasImage(v, string(img.Image)) {
						keep = append(keep, img)
					} else {
						left = append(left, fmt.Sprintf("left Application %s's image %s as it is: %s", a.AppName, img.Image, why))
					}
				}
				k.Images = keep
				if len(keep) == 0 {
					su.Kustomize = nil
				}
			}
			if h := su.Helm; h != nil {
				var keep []kargoapi.ArgoCDHelmImageUpdate
				for _, img := range h.Images {
					if hasImage(v, string(img.Image)) {
						keep = append(keep, img)
					} else {
						left = append(left, fmt.Sprintf("left Application %s's parameter %s as it is: %s", a.AppName, img.Key, why))
					}
				}
				h.Images = keep
				if len(keep) == 0 {
					su.Helm = nil
				}
			}
			if su.UpdateTargetRevision && !targetKnown(out, v, *su) {
				su.UpdateTargetRevision = false
				left = append(left, fmt.Sprintf("left Application %s's targetRevision for %s as it is: %s", a.AppName, su.RepoURL, why))
			}
		}
	}
	return out, left
}

// targetKnown says whether an Argo CD source update that points the
// source's targetRevision has something to point it at: the chart's version
// in v for a chart source; for a Git source, a commit a gitRepoUpdate of pm
// pushes to its repository, or v's commit of it.
func targetKnown(pm *kargoapi.PromotionMechanisms, v *kargoapi.Freight, su kargoapi.ArgoCDSourceUpdate) bool {
	if su.Chart != "" {
		return hasChartFor(v, su.RepoURL, su.Chart)
	}
	for _, u := range pm.GitRepoUpdates {
		if repourl.Same(string(u.RepoURL), su.RepoURL) {
			return true
		}
	}
	return hasCommit(v, su.RepoURL)
}

// originCarries refuses, for a Stage that requests Freight by origin, Freight
// that carries an artifact its origin Warehouse does not subscribe to: such
// Freight (made by hand, claiming one origin) would change, in the
// repository and the Applications, an artifact the Stage holds from another
// origin, while the Stage's status says that origin's Freight is unchanged.
// The Warehouse must exist: what its Freight may carry is read from it.
func (p *Promoter) originCarries(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight) error {
	if len(st.Spec.RequestedFreight) == 0 || p.Client == nil {
		return nil
	}
	o := f.Origin
	if o == nil || o.Kind != kargoapi.FreightOriginWarehouse {
		return fmt.Errorf("Freight %s has no Warehouse origin, and Stage %s takes Freight of the Warehouses it requests only: %w", nameOf(f), st.Name, sourceerr.ErrInvalid)
	}
	wh := &kargoapi.Warehouse{}
	if err := p.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: o.Name}, wh); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("Warehouse %s, the origin of Freight %s, does not exist, so what its Freight may carry cannot be checked; recreate it or promote Freight of another origin: %w", o.Name, nameOf(f), sourceerr.ErrInvalid)
		}
		return fmt.Errorf("get Warehouse %s: %w", o.Name, err)
	}
	subs := wh.Spec.Subscriptions
	var foreign []string
	for _, c := range f.Commits {
		if !slices.ContainsFunc(subs.Git, func(g kargoapi.GitSubscription) bool { return repourl.Same(string(g.RepoURL), c.RepoURL) }) {
			foreign = append(foreign, "commit of "+c.RepoURL)
		}
	}
	for _, i := range f.Images {
		if !slices.ContainsFunc(subs.Images, func(s kargoapi.ImageSubscription) bool { return string(s.RepoURL) == i.RepoURL }) {
			foreign = append(foreign, "image "+i.RepoURL)
		}
	}
	for _, c := range f.Charts {
		if !slices.ContainsFunc(subs.Charts, func(s kargoapi.ChartSubscription) bool {
			return s.Name == c.Name && repourl.Same(string(s.RepoURL), c.RepoURL)
		}) {
			what := "chart " + c.RepoURL
			if c.Name != "" {
				what = "chart " + c.Name + " from " + c.RepoURL
			}
			foreign = append(foreign, what)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("Freight %s claims Warehouse %s as its origin but carries %s, which that Warehouse does not subscribe to; Stage %s holds one Freight per origin and takes each artifact from its own origin's Freight only: %w",
			nameOf(f), o.Name, strings.Join(foreign, ", "), st.Name, sourceerr.ErrInvalid)
	}
	return nil
}
