package analysis

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	"context"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
	"time"
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

// InstallTestCRDs installs the test CRDs with c and waits until both kinds
// are served, for test environments without Argo Rollouts.
func InstallTestCRDs(ctx context.Context, c client.Client) error {
	crds, err := TestCRDs()
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
	}
	for _, kind := range []string{"AnalysisTemplateList", "AnalysisRunList"} {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(RunGVK.GroupVersion().WithKind(kind))
			last = c.List(ctx, list)
			return last == nil, nil
		})
		if err != nil {
			return fmt.Errorf("wait for %s to be served (last error: %v): %w", kind, last, err)
		}
	}
	return nil
}
