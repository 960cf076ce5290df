package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// MaxMetadataBytes bounds the metadata of one Stage or Freight, as JSON:
// it lives in the object's status, which every watch of the kind carries.
const MaxMetadataBytes = 64 << 10

// setMetadata writes key/value pairs into status.metadata of Stages and
// Freight of the Promotion's project (Kargo's set-metadata). Each update is
// a write of the object's metadata with those keys set, made only if the
// object did not change since it was read (else read again), so keys set by
// other Promotions stay; a value replaces its key's whole value, and a null
// removes the key. Nothing else of the object changes, and
// kargo's own decisions never read metadata: it informs people and later
// steps' expressions (stageMetadata, freightMetadata), nothing more.
type setMetadata struct{ client MetadataClient }

// MetadataClient is what set-metadata acts through: reads that go to the
// API server itself (a cache may be behind the write it checks against),
// and writes of status.
type MetadataClient interface {
	client.Reader
	client.StatusClient
}

type setMetadataConfig struct {
	Updates []struct {
		Kind   string                     `json:"kind"`
		Name   string                     `json:"name"`
		Values map[string]json.RawMessage `json:"values"`
	} `json:"updates"`
}

func (s setMetadata) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	if s.client == nil {
		return engine.Result{}, fmt.Errorf("this controller was started without an API client for steps, so set-metadata cannot run: %w", sourceerr.ErrInvalid)
	}
	var c setMetadataConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Updates) == 0 {
		return engine.Result{}, fmt.Errorf("updates is empty: list at least one {kind, name, values}: %w", sourceerr.ErrInvalid)
	}
	// Every update is checked before any is written, so a mistake in the
	// last one leaves the first ones' objects as they were.
	for i, u := range c.Updates {
		if _, _, err := s.merged(ctx, sc.Project, i, u.Kind, u.Name, u.Values); err != nil {
			return engine.Result{}, err
		}
	}
	var done []string
	for i, u := range c.Updates {
		if err := s.write(ctx, sc.Project, i, u.Kind, u.Name, u.Values); err != nil {
			return engine.Result{}, err
		}
		done = append(done, u.Kind+" "+u.Name)
	}
	return engine.Result{Message: "set metadata of " + strings.Join(done, ", ")}, nil
}

// write replaces the object's metadata with its merge with values, if the
// object has not changed since it was read, and reads again if it has.
func (s setMetadata) write(ctx context.Context, project string, i int, kind, name string, values map[string]json.RawMessage) error {
	for attempt := 0; ; attempt++ {
		obj, merged, err := s.merged(ctx, project, i, kind, name, values)
		if err != nil {
			return err
		}
		set := map[string]any{"op": "add", "path": "/status/metadata", "value": json.RawMessage(merged)}
		if _, ok := obj.Object["status"]; !ok {
			set = map[string]any{"op": "add", "path": "/status", "value": map[string]any{"metadata": json.RawMessage(merged)}}
		}
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/resourceVersion", "value": obj.GetResourceVersion()},
			set,
		})
		if err != nil {
			return err
		}
		err = s.client.Status().Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch))
		if err == nil {
			return nil
		}
		if attempt < 5 && (apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)) {
			// The test failed: another writer changed the object.
			continue
		}
		return fmt.Errorf("updates[%d]: set the metadata of %s %s: %w", i, kind, name, err)
	}
}

// merged reads the object an update names, in the Promotion's project, and
// returns it with its metadata merged with values, as JSON.
func (s setMetadata) merged(ctx context.Context, project string, i int, kind, name string, values map[string]json.RawMessage) (*unstructured.Unstructured, []byte, error) {
	where := fmt.Sprintf("updates[%d]", i)
	if len(values) == 0 {
		return nil, nil, fmt.Errorf("%s.values is empty: give at least one key: %w", where, sourceerr.ErrInvalid)
	}
	if kind != "Stage" && kind != "Freight" {
		return nil, nil, fmt.Errorf("%s.kind is %q: it must be Stage or Freight: %w", where, kind, sourceerr.ErrInvalid)
	}
	if name == "" {
		return nil, nil, fmt.Errorf("%s.name is empty: name the %s: %w", where, kind, sourceerr.ErrInvalid)
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(kargoapi.GroupVersion.WithKind(kind))
	// Only objects of the Promotion's own project: the configuration has
	// no namespace, and none is read from it.
	switch err := s.client.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, obj); {
	case apierrors.IsNotFound(err):
		return nil, nil, fmt.Errorf("%s: project %s has no %s %q: %w", where, project, kind, name, sourceerr.ErrInvalid)
	case err != nil:
		return nil, nil, fmt.Errorf("%s: get %s %s: %w", where, kind, name, err)
	}
	current, _, err := unstructured.NestedMap(obj.Object, "status", "metadata")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the metadata of %s %s is not a JSON object", where, kind, name)
	}
	merged, err := mergeMetadata(current, values)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(merged) > MaxMetadataBytes {
		return nil, nil, fmt.Errorf("%s: the metadata of %s %s would be %d bytes of JSON, more than the %d allowed: %w",
			where, kind, name, len(merged), MaxMetadataBytes, sourceerr.ErrInvalid)
	}
	return obj, merged, nil
}

// mergeMetadata is current with values set in (a value replaces its key's;
// a null removes the key), as JSON.
func mergeMetadata(current map[string]any, values map[string]json.RawMessage) ([]byte, error) {
	m := map[string]any{}
	for k, v := range current {
		m[k] = v
	}
	for k, v := range values {
		if k == "" {
			return nil, fmt.Errorf("a key of values is empty: %w", sourceerr.ErrInvalid)
		}
		if string(v) == "null" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return json.Marshal(m)
}
