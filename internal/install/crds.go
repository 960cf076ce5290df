package install

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CRDs applies each CRD with server-side apply, so that a newer binary
// upgrades the CRDs an older one installed, then waits until every CRD is
// Established (its API is served) or ctx or timeout ends.
func CRDs(ctx context.Context, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	for _, crd := range crds {
		obj := crd.DeepCopy()
		obj.APIVersion = apiextensionsv1.SchemeGroupVersion.String()
		obj.Kind = "CustomResourceDefinition"
		if err := apply(ctx, c, obj); err != nil {
			return fmt.Errorf("apply CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, c, crd.Name, timeout); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			last = err.Error()
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			switch cond.Type {
			case apiextensionsv1.Established:
				if cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			case apiextensionsv1.NamesAccepted:
				if cond.Status == apiextensionsv1.ConditionFalse {
					return false, fmt.Errorf("CRD %s names not accepted: %s", name, cond.Message)
				}
			}
			last = string(cond.Type) + "=" + string(cond.Status) + ": " + cond.Message
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("wait for CRD %s to be established (last seen: %s): %w", name, last, err)
	}
	return nil
}
