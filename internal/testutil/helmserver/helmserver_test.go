package helmserver_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/helmserver"
)

func TestConditionalRequests(t *testing.T) {
	srv := helmserver.New(t, helmserver.Options{})
	srv.SetCharts(helmserver.Chart{Name: "a", Version: "1.0.0"})
	client := &http.Client{Transport: srv.Transport()}

	resp, err := client.Get(srv.URL() + "/index.yaml")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/index.yaml", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", etag)
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotModified, resp.StatusCode)

	srv.SetCharts(helmserver.Chart{Name: "a", Version: "1.1.0"})
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "a changed index has a new ETag")
	require.Equal(t, 2, srv.Count(helmserver.WithStatus(http.StatusOK)))
}
