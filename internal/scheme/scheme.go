// Package scheme builds the runtime.Scheme every part of kargo uses: the
// core Kubernetes types, CustomResourceDefinitions and the kargo.akuity.io
// types.
package scheme

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocd "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

// New returns a scheme that knows the core Kubernetes types,
// CustomResourceDefinitions and the kargo.akuity.io types.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for name, add := range map[string]func(*runtime.Scheme) error{
		"core Kubernetes":          clientgoscheme.AddToScheme,
		"CustomResourceDefinition": apiextensionsv1.AddToScheme,
		"kargo.akuity.io":          kargoapi.AddToScheme,
		"Argo CD (slim)":           argocd.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("register %s types: %w", name, err)
		}
	}
	return s, nil
}
