package stage

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// freightEvents adds to f what the manager's Freight watch does and a fake
// client does not: every Freight written reaches r's map function
// (stagesOfFreight), which tells r's passes that the project's Freight
// changed. f's own SubResourcePatch, if any, makes the status writes.
func freightEvents(r *Reconciler, f interceptor.Funcs) interceptor.Funcs {
	seen := func(ctx context.Context, o client.Object, err error) error {
		if _, ok := o.(*kargoapi.Freight); ok && err == nil {
			r.stagesOfFreight(ctx, o)
		}
		return err
	}
	f.Create = func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
		return seen(ctx, o, c.Create(ctx, o, opts...))
	}
	f.Update = func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
		return seen(ctx, o, c.Update(ctx, o, opts...))
	}
	f.Patch = func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
		return seen(ctx, o, c.Patch(ctx, o, p, opts...))
	}
	f.Delete = func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
		return seen(ctx, o, c.Delete(ctx, o, opts...))
	}
	patch := f.SubResourcePatch
	f.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		if patch != nil {
			return seen(ctx, o, patch(ctx, c, sub, o, p, opts...))
		}
		return seen(ctx, o, c.SubResource(sub).Patch(ctx, o, p, opts...))
	}
	f.SubResourceUpdate = func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		return seen(ctx, o, c.SubResource(sub).Update(ctx, o, opts...))
	}
	return f
}
