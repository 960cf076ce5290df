package yamledit

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kargohq/kargo/internal/repourl"
)

// SetChartDependencyVersion sets the version of the dependency in a Helm
// Chart.yaml whose name is name and whose repository is repository, changing
// only the bytes of that version.
//
// Repositories match when they name the same repository (repourl.Same), so
// "https://Charts.example.com/" matches "https://charts.example.com", and
// "oci://example.com/charts" matches "https://example.com/charts" (one
// repository of one host, whatever the protocol) but not
// "oci://example.com/other"; a dependency without a repository matches an
// empty repository. If several entries match (the same chart under different
// aliases), all of them are set. No matching entry is ErrDependencyNotFound,
// naming the dependencies that exist; a matching entry without a version key
// is ErrKeyNotFound. The rules of SetValue apply to the version value.
func SetChartDependencyVersion(chartYAML []byte, repository, name, version string) ([]byte, error) {
	out, err := setChartDependencyVersion(chartYAML, repository, name, version)
	if err != nil {
		return nil, fmt.Errorf("set version of chart dependency %s from %s: %w", name, repository, err)
	}
	return out, nil
}

func setChartDependencyVersion(src []byte, repository, name, version string) ([]byte, error) {
	d, err := parseDocument(src)
	if err != nil {
		return nil, err
	}
	deps, err := chartDependencies(d)
	if err != nil {
		return nil, err
	}
	var matches []int
	var found []string
	for i, dep := range deps.Content {
		if dep.Kind != yaml.MappingNode {
			continue
		}
		depName, depRepo := scalarValue(dep, "name"), scalarValue(dep, "repository")
		if depRepo == "" {
			found = append(found, depName+" (no repository)")
		} else {
			found = append(found, depName+" from "+depRepo)
		}
		if depName == name && sameRepository(depRepo, repository) {
			matches = append(matches, i)
		}
	}
	if len(matches) == 0 {
		if len(found) == 0 {
			return nil, fmt.Errorf("%w: Chart.yaml lists no dependencies", ErrDependencyNotFound)
		}
		return nil, fmt.Errorf("%w: Chart.yaml lists %s", ErrDependencyNotFound, strings.Join(found, ", "))
	}

	// Edit one entry at a time, re-parsing in between because every edit
	// shifts the offsets after it; verify all edits against the original.
	want := map[*yaml.Node]string{}
	out := src
	for _, i := range matches {
		t, err := dependencyVersion(d, deps, i)
		if err != nil {
			return nil, err
		}
		want[t.node] = version
		if t.node.Value == version {
			continue
		}
		cur, err := parseDocument(out)
		if err != nil {
			return nil, fmt.Errorf("%w: an intermediate edit does not parse: %v", ErrVerificationFailed, err)
		}
		curDeps, err := chartDependencies(cur)
		if err != nil {
			return nil, err
		}
		ct, err := dependencyVersion(cur, curDeps, i)
		if err != nil {
			return nil, err
		}
		if out, err = cur.setScalar(ct, version); err != nil {
			return nil, err
		}
	}
	if string(out) == string(src) {
		return src, nil
	}
	if err := verifyEdit(d, out, want); err != nil {
		return nil, err
	}
	return out, nil
}

// chartDependencies returns the dependencies sequence of a Chart.yaml.
func chartDependencies(d *document) (*yaml.Node, error) {
	if d.root == nil {
		return nil, fmt.Errorf("%w: Chart.yaml is empty", ErrDependencyNotFound)
	}
	if d.root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: Chart.yaml is not a mapping", ErrUnsupported)
	}
	_, deps := mappingLookup(d.root, "dependencies")
	switch {
	case deps == nil || (deps.Kind == yaml.ScalarNode && deps.ShortTag() == "!!null"):
		return nil, fmt.Errorf("%w: Chart.yaml has no dependencies", ErrDependencyNotFound)
	case deps.Kind == yaml.AliasNode:
		return nil, fmt.Errorf("%w: dependencies is an alias (*%s); edit the anchored list instead", ErrUnsupported, deps.Value)
	case deps.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%w: dependencies in Chart.yaml is not a list", ErrUnsupported)
	}
	return deps, nil
}

// dependencyVersion locates the version of the i-th entry of deps.
func dependencyVersion(d *document, deps *yaml.Node, i int) (target, error) {
	dep := deps.Content[i]
	path := fmt.Sprintf("dependencies.%d.version", i)
	k, v := mappingLookup(dep, "version")
	if v == nil {
		return target{}, fmt.Errorf("%w: the dependency at dependencies.%d has no version key; add one", ErrKeyNotFound, i)
	}
	t := target{node: v, key: k, path: path, flow: (d.root.Style|deps.Style|dep.Style)&yaml.FlowStyle != 0}
	if err := d.checkScalar(t); err != nil {
		return target{}, err
	}
	return t, nil
}

// scalarValue returns the value of key in mapping m when it is a scalar.
func scalarValue(m *yaml.Node, key string) string {
	if _, v := mappingLookup(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// sameRepository says whether two chart repository URLs are one repository;
// two empty ones are the charts kept beside Chart.yaml.
func sameRepository(a, b string) bool {
	return (a == "" && b == "") || repourl.Same(a, b)
}
