package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kargohq/kargo/ui"
)

// TestUIIsServedOutsideTheAPI: with Options.UI, every page path outside
// /api/ is the UI's index.html (the application routes it), assets are
// files cached for good, and the API's own paths keep answering Statuses.
func TestUIIsServedOutsideTheAPI(t *testing.T) {
	files := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>kargo</title>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
	}
	s, err := New(Options{Config: &rest.Config{Host: "https://127.0.0.1:1"}, UI: files})
	require.NoError(t, err)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for _, page := range []string{"/", "/projects/kargo-demo", "/login", "/index.html"} {
		rec := get(page)
		require.Equal(t, http.StatusOK, rec.Code, page)
		require.Contains(t, rec.Body.String(), "<title>kargo</title>", page)
		require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), page)
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'self'", page)
	}
	rec := get("/assets/app-1a2b.js")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "console.log(1)", rec.Body.String())
	require.Contains(t, rec.Header().Get("Cache-Control"), "immutable")

	require.Equal(t, http.StatusNotFound, get("/assets/app-old.js").Code, "a stale bundle is missing, not the application")
	require.Equal(t, http.StatusNotFound, get("/favicon.ico").Code)

	rec = get("/api/v2/projects")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/projects/kargo-demo", nil))
	require.Equal(t, http.StatusNotFound, rec.Code, "the UI is only read")
}

// TestTheBuiltUIIsEmbedded: the binary carries a built UI whose page
// loads its script from the embedded assets.
func TestTheBuiltUIIsEmbedded(t *testing.T) {
	h, err := newUIHandler(ui.Files(), nil)
	require.NoError(t, err)
	require.Contains(t, string(h.index), `<div id="root">`)
	m := regexpScript.FindSubmatch(h.index)
	require.NotNil(t, m, "index.html loads no script: %s", h.index)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, string(m[1]), nil))
	require.Equal(t, http.StatusOK, rec.Code, "the script %s of index.html is embedded", m[1])
}

var regexpScript = regexp.MustCompile(`<script[^>]*src="(/assets/[^"]+\.js)"`)
