package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/kargohq/kargo/internal/apitypes"
)

// FieldManager owns the fields that `kargo apply` sets, in server-side
// apply.
const FieldManager = "kargo-cli"

// manifestOp is what the manifests endpoints do with each object.
type manifestOp string

const (
	// opApply is server-side apply without force: a field another manager
	// owns with another value is a conflict (409) for that object, which
	// names the manager, rather than silently taken over.
	opApply  manifestOp = "apply"
	opCreate manifestOp = "create"
	opDelete manifestOp = "delete"
)

// verb is the RBAC verb the operation needs; server-side apply is a patch.
func (op manifestOp) verb() string {
	if op == opApply {
		return "patch"
	}
	return string(op)
}

// Actions reported in ObjectResult.
const (
	actionCreated    = "created"
	actionConfigured = "configured"
	actionUnchanged  = "unchanged"
	actionDeleted    = "deleted"
)

// manifests returns the endpoint that applies, creates or deletes every
// object of a manifest, in order, as the caller. An object refused is
// reported with its Status and the others are still attempted; a manifest
// that does not parse is refused whole, before anything is written.
func (s *Server) manifests(op manifestOp) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
		var req apitypes.ManifestRequest
		if err := decodeBody(w, r, &req); err != nil {
			return err
		}
		objs, err := parseManifests([]byte(req.Manifests))
		if err != nil {
			return err
		}
		if req.DryRun && op == opDelete {
			return badRequest("a dry run applies or creates; it does not delete")
		}
		if len(objs) == 0 {
			return badRequest("the manifests hold no object")
		}
		_, dyn, err := s.impersonating(u)
		if err != nil {
			return err
		}
		// Once asked, every object is attempted even if the caller hangs up.
		ctx := context.WithoutCancel(r.Context())
		res := apitypes.ManifestResult{Results: make([]apitypes.ObjectResult, 0, len(objs))}
		for _, obj := range objs {
			res.Results = append(res.Results, s.manifestObject(ctx, u, dyn, op, obj, req.DryRun))
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
}

// manifestObject does op on obj and records it in the trail of obj's
// project, if it is in one; a dry run writes nothing and records nothing.
func (s *Server) manifestObject(ctx context.Context, u authenticationv1.UserInfo, dyn dynamic.Interface, op manifestOp, obj *unstructured.Unstructured, dryRun bool) apitypes.ObjectResult {
	res := apitypes.ObjectResult{Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	note := s.manifestNote(ctx, op, obj)
	action, err := s.doManifestObject(ctx, u, dyn, op, obj, dryRun)
	if note.target.Name != "" && obj.GetName() != "" {
		note.target.Name = obj.GetName() // a generated name, once created
	}
	code := http.StatusOK
	if action == actionCreated {
		code = http.StatusCreated
	}
	if !dryRun {
		s.record(ctx, u, note, outcomeOf(code, err))
	}
	if err != nil {
		st, known := statusOf(err)
		if !known {
			// Not the API server's answer: tell what failed, which holds
			// no secret (it is about the caller's own object).
			st.Message = err.Error()
		}
		res.Error = &st
		return res
	}
	res.Namespace = obj.GetNamespace()
	res.Name = obj.GetName()
	res.Action = action
	return res
}

func (s *Server) doManifestObject(ctx context.Context, u authenticationv1.UserInfo, dyn dynamic.Interface, op manifestOp, obj *unstructured.Unstructured, dryRun bool) (string, error) {
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	gvk := obj.GroupVersionKind()
	mapping, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return "", notFound("this cluster serves no kind %s in %s; is its CustomResourceDefinition installed?", gvk.Kind, gvk.GroupVersion())
		}
		return "", fmt.Errorf("find the resource of %s: %w", gvk, err)
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	if !namespaced {
		obj.SetNamespace("")
	} else if obj.GetNamespace() == "" {
		return "", badRequest("%s %q names no metadata.namespace: say which project it belongs to", gvk.Kind, obj.GetName())
	}
	if obj.GetName() == "" && (op != opCreate || obj.GetGenerateName() == "") {
		return "", badRequest("a %s without metadata.name cannot be %s", gvk.Kind, map[manifestOp]string{opApply: "applied", opCreate: "created", opDelete: "deleted"}[op])
	}
	acc := access{verb: op.verb(), group: mapping.Resource.Group, resource: mapping.Resource.Resource, namespace: obj.GetNamespace(), name: obj.GetName()}
	if op == opCreate {
		acc.name = "" // RBAC never names an object not created yet
	}
	if err := s.authz.check(ctx, u, acc); err != nil {
		return "", err
	}
	ri := resourceFor(dyn, mapping.Resource, obj.GetNamespace(), namespaced)
	switch op {
	case opCreate:
		created, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager, DryRun: dry})
		if err != nil {
			return "", err
		}
		obj.SetName(created.GetName())
		return actionCreated, nil
	case opDelete:
		policy := metav1.DeletePropagationBackground
		if err := ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			return "", err
		}
		return actionDeleted, nil
	}
	// Whether the object existed, read as the caller; a caller who may
	// patch but not read it learns only "configured".
	before, getErr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	obj.SetManagedFields(nil)
	obj.SetResourceVersion("")
	after, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: false, DryRun: dry})
	if err != nil {
		return "", err
	}
	switch {
	case apierrors.IsNotFound(getErr):
		return actionCreated, nil
	case getErr == nil && before.GetResourceVersion() == after.GetResourceVersion():
		return actionUnchanged, nil
	}
	return actionConfigured, nil
}

func resourceFor(dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace string, namespaced bool) dynamic.ResourceInterface {
	if namespaced {
		return dyn.Resource(gvr).Namespace(namespace)
	}
	return dyn.Resource(gvr)
}

// parseManifests reads YAML or JSON documents separated by "---", as
// kubectl -f does; List kinds are expanded into their items. Empty
// documents are skipped.
func parseManifests(raw []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, badRequest("document %d of the manifests is not YAML or JSON: %v", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, badRequest("document %d of the manifests has no apiVersion or kind", doc)
		}
		if !u.IsList() {
			objs = append(objs, u)
			continue
		}
		err := u.EachListItem(func(item runtime.Object) error {
			iu, ok := item.(*unstructured.Unstructured)
			if !ok || iu.GetAPIVersion() == "" || iu.GetKind() == "" {
				return fmt.Errorf("an item has no apiVersion or kind")
			}
			objs = append(objs, iu)
			return nil
		})
		if err != nil {
			return nil, badRequest("document %d of the manifests is a list that cannot be read: %v", doc, err)
		}
	}
}
