package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/freight"
)

// newCreateFreightCommand is `kargo create freight`: Freight assembled by
// hand from artifacts a Warehouse discovered.
func newCreateFreightCommand(g *globals) *cobra.Command {
	var proj, wh, alias string
	var images, commits, charts []string
	cmd := &cobra.Command{
		Use:   "freight --warehouse NAME [--image REPO:TAG] [--commit REPO#SHA] [--chart CHART:VERSION]",
		Short: "Create Freight from artifacts a Warehouse discovered",
		Long: `Create Freight by hand from artifacts the Warehouse discovered, as listed in
its status.discoveredArtifacts: what a Warehouse whose freightCreationPolicy is
Manual is for. Name each artifact: --image REPO:TAG, --commit REPO#SHA (a full
or abbreviated commit ID) and --chart CHART:VERSION, where CHART is the chart's
name or its repository URL; each flag may be repeated, one artifact per
repository. The Freight records the Warehouse as its origin and is created as
you (create on freights in the project); it is never auto-promoted. An
artifact the Warehouse did not discover is refused, with what it did discover.`,
		Example: "  kargo create freight --project kargo-demo --warehouse kargo-demo --image nginx:1.25.0 --commit https://github.com/example/demo.git#02d153f",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wh == "" {
				return usageError{fmt.Errorf("say which Warehouse the Freight comes from with --warehouse NAME")}
			}
			if len(images)+len(commits)+len(charts) == 0 {
				return usageError{fmt.Errorf("name at least one artifact with --image, --commit or --chart")}
			}
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			p, err := project(proj, cfg)
			if err != nil {
				return err
			}
			w := &kargoapi.Warehouse{}
			if err := c.GetInto(cmd.Context(), apiclient.Warehouses, p, wh, w); err != nil {
				return apiError(err, "get Warehouse "+wh, warehouseType, wh, p)
			}
			f, err := assembleFreight(w, images, commits, charts)
			if err != nil {
				return err
			}
			f.Namespace = p
			f.Alias = alias
			manifest, err := yaml.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode Freight: %w", err)
			}
			res, err := c.Create(cmd.Context(), string(manifest))
			if err != nil {
				return fmt.Errorf("create Freight: %w", err)
			}
			return printManifestResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), res)
		},
	}
	cmd.Flags().StringVarP(&proj, "project", "p", "", "project (namespace) of the Warehouse")
	cmd.Flags().StringVar(&wh, "warehouse", "", "Warehouse whose discovered artifacts the Freight is made of")
	cmd.Flags().StringVar(&alias, "alias", "", "alias for the Freight (default: one kargo chooses)")
	cmd.Flags().StringArrayVar(&images, "image", nil, "image REPO:TAG the Warehouse discovered (repeatable)")
	cmd.Flags().StringArrayVar(&commits, "commit", nil, "commit REPO#SHA the Warehouse discovered (repeatable)")
	cmd.Flags().StringArrayVar(&charts, "chart", nil, "chart CHART:VERSION the Warehouse discovered (repeatable)")
	return cmd
}

// assembleFreight builds the Freight of w's discovered artifacts that the
// flags name, each with everything discovery recorded (digest, tag,
// message), or says which artifact w did not discover and what it did.
func assembleFreight(w *kargoapi.Warehouse, images, commits, charts []string) (*kargoapi.Freight, error) {
	found := w.Status.DiscoveredArtifacts
	if found == nil {
		found = &kargoapi.DiscoveredArtifacts{}
	}
	f := &kargoapi.Freight{
		TypeMeta: metav1.TypeMeta{APIVersion: kargoapi.GroupVersion.String(), Kind: "Freight"},
		Origin:   &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: w.Name},
	}
	for _, ref := range images {
		i := strings.LastIndex(ref, ":")
		if i <= 0 || strings.Contains(ref[i:], "/") {
			return nil, usageError{fmt.Errorf("--image %s: write REPO:TAG, such as nginx:1.25.0", ref)}
		}
		repo, tag := ref[:i], ref[i+1:]
		var have []string
		ok := false
		for _, d := range found.Images {
			if d.RepoURL == repo && d.Tag == tag && !ok {
				f.Images, ok = append(f.Images, d), true
			}
			have = append(have, d.RepoURL+":"+d.Tag)
		}
		if !ok {
			return nil, notDiscovered(w.Name, "image "+ref, have)
		}
	}
	for _, ref := range commits {
		repo, sha, cut := strings.Cut(ref, "#")
		if !cut || repo == "" || len(sha) < 7 {
			return nil, usageError{fmt.Errorf("--commit %s: write REPO#SHA with at least 7 characters of the commit ID", ref)}
		}
		var have []string
		var match []kargoapi.GitCommit
		for _, d := range found.Commits {
			if d.RepoURL == repo && strings.HasPrefix(d.ID, sha) {
				match = append(match, d)
			}
			id := d.ID
			if d.Tag != "" {
				id += " (" + d.Tag + ")"
			}
			have = append(have, d.RepoURL+"#"+id)
		}
		switch {
		case len(match) == 0:
			return nil, notDiscovered(w.Name, "commit "+ref, have)
		case len(match) > 1 && match[0].ID != match[1].ID:
			return nil, usageError{fmt.Errorf("--commit %s: several discovered commits start with %s; give more of the ID", ref, sha)}
		}
		f.Commits = append(f.Commits, match[0])
	}
	for _, ref := range charts {
		i := strings.LastIndex(ref, ":")
		if i <= 0 || strings.Contains(ref[i:], "/") {
			return nil, usageError{fmt.Errorf("--chart %s: write CHART:VERSION, where CHART is the chart's name or repository URL", ref)}
		}
		chart, version := ref[:i], ref[i+1:]
		var have []string
		ok := false
		for _, d := range found.Charts {
			id := d.RepoURL
			if d.Name != "" {
				id = d.Name
			}
			if (chart == d.Name || chart == d.RepoURL) && d.Version == version && !ok {
				f.Charts, ok = append(f.Charts, d), true
			}
			have = append(have, id+":"+d.Version)
		}
		if !ok {
			return nil, notDiscovered(w.Name, "chart "+ref, have)
		}
	}
	if problems := freight.Undiscovered(f, found); len(problems) > 0 {
		return nil, fmt.Errorf("Freight from Warehouse %s: %s", w.Name, strings.Join(problems, "; "))
	}
	f.Name = freight.FingerprintOf(f)
	return f, nil
}

func notDiscovered(warehouse, what string, have []string) error {
	if len(have) == 0 {
		return fmt.Errorf("Warehouse %s did not discover %s: it shows no such artifacts yet (kargo refresh warehouse %s --wait, then try again)", warehouse, what, warehouse)
	}
	return fmt.Errorf("Warehouse %s did not discover %s; it discovered: %s", warehouse, what, strings.Join(have, ", "))
}
