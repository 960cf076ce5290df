// Package crd embeds the CustomResourceDefinitions that controller-gen
// generates from api/v1alpha1, so that the binary can install them (kargo
// local) and tests can load them (envtest) from one source.
package crd

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed bases/*.yaml
var bases embed.FS

// Definitions returns every CustomResourceDefinition of the kargo.akuity.io
// API group, parsed from the generated manifests.
func Definitions() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return load("bases/*.yaml")
}

func load(pattern string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(bases, pattern)
	if err != nil {
		return nil, fmt.Errorf("list embedded CRDs: %w", err)
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		raw, err := bases.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded CRD %s: %w", path.Base(name), err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(raw, crd); err != nil {
			return nil, fmt.Errorf("parse embedded CRD %s: %w", path.Base(name), err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}
