package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kargohq/kargo/internal/apitypes"
)

// TestHandlerBeforeStart: a server that has not filled its cache answers
// what needs no cache and asks the rest to come back, all without reaching
// the Kubernetes API server (none listens here).
func TestHandlerBeforeStart(t *testing.T) {
	s, err := New(Options{Config: &rest.Config{Host: "https://127.0.0.1:1"}})
	require.NoError(t, err)
	cases := []struct {
		name, method, path string
		want               int
		wantMessage        string
	}{
		{"version is public", http.MethodGet, "/api/v1/version", http.StatusOK, ""},
		{"the document is public", http.MethodGet, "/openapi.json", http.StatusOK, ""},
		{"the rest waits for the cache", http.MethodGet, "/api/v1/whoami", http.StatusServiceUnavailable, "starting"},
		{"wrong method", http.MethodPost, "/api/v1/projects", http.StatusMethodNotAllowed, "use GET"},
		{"unknown path", http.MethodGet, "/api/v2/projects", http.StatusNotFound, "/openapi.json lists them"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(c.method, c.path, nil)
			req.Header.Set("Authorization", "Bearer some-token")
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, c.want, rec.Code, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			if c.wantMessage == "" {
				return
			}
			var st metav1.Status
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
			require.EqualValues(t, c.want, st.Code)
			require.Contains(t, st.Message, c.wantMessage)
		})
	}

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/version", nil))
	var v apitypes.Version
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	require.NotEmpty(t, v.Version)
	require.NotEmpty(t, v.GoVersion)
}

func TestNewNeedsAConfig(t *testing.T) {
	_, err := New(Options{})
	require.ErrorContains(t, err, "Options.Config is required")
}
