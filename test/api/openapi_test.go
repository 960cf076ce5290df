package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// contract is the endpoint list of internal/apitypes, which the CLI is
// written against.
var contract = []string{
	"GET /api/v1/version",
	"GET /api/v1/whoami",
	"GET /api/v1/projects",
	"GET /api/v1/projects/{project}",
	"GET /api/v1/projects/{project}/{kind}",
	"GET /api/v1/projects/{project}/{kind}/{name}",
	"POST /api/v1/projects/{project}/stages/{stage}/promote",
	"POST /api/v1/projects/{project}/freight/{name}/approve",
	"POST /api/v1/projects/{project}/freight/{name}/alias",
	"POST /api/v1/projects/{project}/warehouses/{name}/refresh",
	"POST /api/v1/projects/{project}/stages/{name}/refresh",
	"POST /api/v1/projects/{project}/stages/{name}/verify",
	"POST /api/v1/apply",
	"POST /api/v1/create",
	"POST /api/v1/delete",
	"GET /openapi.json",
}

// TestOpenAPIDescribesTheContract: /openapi.json, served without a token,
// documents every endpoint of the contract with the kargo kinds' schemas.
func TestOpenAPIDescribesTheContract(t *testing.T) {
	doc := decode[struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}](t, call(t, anonymous, http.MethodGet, "/openapi.json", nil), http.StatusOK)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	for _, ep := range contract {
		method, path, _ := strings.Cut(ep, " ")
		require.Contains(t, doc.Paths, path)
		require.Contains(t, doc.Paths[path], strings.ToLower(method), ep)
	}
	for _, kind := range []string{"Project", "Warehouse", "Stage", "Freight", "Promotion", "PromotionPolicy", "Status", "List", "WatchEvent"} {
		require.Contains(t, doc.Components.Schemas, kind)
	}
}
