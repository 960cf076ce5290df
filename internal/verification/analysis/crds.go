package analysis

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed testdata/*.yaml
var testdata embed.FS

// TestCRDs returns minimal CustomResourceDefinitions of Argo Rollouts'
// AnalysisTemplate and AnalysisRun, for tests that need the kinds served by
// an API server where no Argo Rollouts is installed. They keep every field
// and validate none; the AnalysisRun has a status subresource, as the real
// one has. It lives outside the test files so that tests of other packages
// can install them too.
func TestCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(testdata, "testdata/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list embedded Argo Rollouts CRDs: %w", err)
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		raw, err := testdata.ReadFile(name)
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
