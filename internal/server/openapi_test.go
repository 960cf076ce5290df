package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
)

// TestEveryRouteIsDocumented: the routes the server serves and the
// operations /openapi.json describes are the same set.
func TestEveryRouteIsDocumented(t *testing.T) {
	var s *Server // the table only names the handlers
	served := map[string]bool{}
	for _, rt := range s.routeTable() {
		served[rt.method+" "+rt.pattern] = true
	}
	raw, err := OpenAPIDocument("test")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	require.Equal(t, served, documented)

	public := map[string]bool{}
	for _, rt := range s.routeTable() {
		if rt.public {
			public[rt.method+" "+rt.pattern] = true
		}
	}
	for _, op := range operations {
		require.Equal(t, public[op.method+" "+op.path], op.public, "%s %s: the document says whether a token is needed", op.method, op.path)
	}
}

// TestOpenAPIReferencesResolve: every $ref names a schema of the document.
func TestOpenAPIReferencesResolve(t *testing.T) {
	raw, err := OpenAPIDocument("test")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	components := doc["components"].(map[string]any)
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				refs++
				parts := strings.Split(strings.TrimPrefix(r, "#/components/"), "/")
				require.Len(t, parts, 2, r)
				require.Contains(t, components[parts[0]], parts[1], r)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc["paths"])
	walk(components)
	require.Positive(t, refs)
}

// TestSchemasCoverTheContract: each body type of internal/apitypes has a
// schema naming every one of its JSON fields.
func TestSchemasCoverTheContract(t *testing.T) {
	for _, v := range []any{
		apitypes.Version{}, apitypes.WhoAmI{}, apitypes.List{}, apitypes.WatchEvent{},
		apitypes.PromoteRequest{}, apitypes.HoldRequest{}, apitypes.Freeze{}, apitypes.ApproveRequest{}, apitypes.AliasRequest{}, apitypes.VerifyRequest{},
		apitypes.ManifestRequest{}, apitypes.ManifestResult{}, apitypes.ObjectResult{},
		apitypes.Access{}, apitypes.StageAccess{}, apitypes.Permission{},
	} {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			require.Contains(t, apiSchemas, typ.Name())
			props := apiSchemas[typ.Name()].(map[string]any)["properties"].(map[string]any)
			for i := range typ.NumField() {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				require.Contains(t, props, name)
			}
		})
	}
}
