package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// httpRun runs the http step with a policy that allows only srv, as a
// controller started with --allow-outbound for it would.
func httpRun(t *testing.T, srv *httptest.Server, cfg string) (engine.Result, error) {
	t.Helper()
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(srv.Listener.Addr().String())})
	var c engine.Config
	require.NoError(t, json.Unmarshal([]byte(cfg), &c))
	return New(Deps{Egress: policy, HTTPMaxBodyBytes: 1 << 10})["http"].Run(context.Background(), &engine.StepContext{WorkDir: t.TempDir()}, c)
}

func TestHTTP(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.URL.Path {
		case "/status":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Build", "42")
			fmt.Fprint(w, `{"status": "completed", "facts": [{"fact": "cats"}, {"fact": "dogs"}]}`)
		case "/running":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"status": "running"}`)
		case "/gone":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message": "resource not found"}`)
		case "/yaml":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "version: \"2.0\"\nfeatures:\n- a\n")
		case "/text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, "ok")
		case "/big":
			fmt.Fprint(w, strings.Repeat("x", 2<<10))
		case "/redirect-away":
			http.Redirect(w, r, "http://127.0.0.2:1/", http.StatusFound)
		case "/redirect-here":
			http.Redirect(w, r, "/text", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)

	t.Run("a request with headers, query and body, and outputs from the response", func(t *testing.T) {
		res, err := httpRun(t, srv, `{"method": "post", "url": "`+srv.URL+`/status?a=1", "headers": [{"name": "Authorization", "value": "Bearer t0ken"}, {"name": "Content-Type", "value": "application/json"}],
			"queryParams": [{"name": "q", "value": "a b&c"}], "body": "{\"channel\": \"C1\"}",
			"successExpression": "response.status == 200 && response.body.status == 'completed'",
			"outputs": [{"name": "status", "fromExpression": "response.status"}, {"name": "fact2", "fromExpression": "response.body.facts[1].fact"}, {"name": "build", "fromExpression": "response.header('X-Build')"}]}`)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"status": 200, "fact2": "dogs", "build": "42"}, res.Output)
		require.Equal(t, http.MethodPost, got.Method)
		require.Equal(t, "Bearer t0ken", got.Header.Get("Authorization"))
		require.Equal(t, "1", got.URL.Query().Get("a"))
		require.Equal(t, "a b&c", got.URL.Query().Get("q"))
		require.Equal(t, `{"channel": "C1"}`, gotBody)
		require.Equal(t, "POST "+srv.URL+"/status: HTTP (200)", res.Message)
	})

	t.Run("success criteria not met yet: the step waits", func(t *testing.T) {
		res, err := httpRun(t, srv, `{"url": "`+srv.URL+`/running", "successExpression": "response.body.status == 'completed'", "failureExpression": "response.body.status == 'failed'", "pollInterval": "1s"}`)
		require.NoError(t, err)
		require.True(t, res.Waiting)
		require.Equal(t, 10*time.Second, res.RequeueAfter, "never sooner than 10 s")
	})

	t.Run("failure criteria met: terminal, with the error expression's message", func(t *testing.T) {
		_, err := httpRun(t, srv, `{"url": "`+srv.URL+`/gone", "successExpression": "response.status == 200", "failureExpression": "response.status >= 400 && response.status < 500", "errorExpression": "response.body?.message ?? response.body?.error"}`)
		require.EqualError(t, err, `HTTP (404) response met failure criteria: "resource not found": invalid spec`)
		require.True(t, sourceerr.Terminal(err))
	})

	t.Run("no expressions: 2xx succeeds, anything else is an error the retry policy decides on", func(t *testing.T) {
		_, err := httpRun(t, srv, `{"url": "`+srv.URL+`/text"}`)
		require.NoError(t, err)
		_, err = httpRun(t, srv, `{"url": "`+srv.URL+`/unavailable"}`)
		require.ErrorContains(t, err, "HTTP (503) response is not a success (2xx)")
		require.False(t, sourceerr.Terminal(err))
	})

	t.Run("bodies by content type", func(t *testing.T) {
		res, err := httpRun(t, srv, `{"url": "`+srv.URL+`/text", "outputs": [{"name": "body", "fromExpression": "response.body"}]}`)
		require.NoError(t, err)
		require.Equal(t, "ok", res.Output["body"])
		res, err = httpRun(t, srv, `{"url": "`+srv.URL+`/yaml", "responseContentType": "application/yaml", "outputs": [{"name": "version", "fromExpression": "response.body.version"}, {"name": "features", "fromExpression": "response.body.features"}]}`)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"version": "2.0", "features": []any{"a"}}, res.Output)
	})

	t.Run("a response larger than the limit is refused", func(t *testing.T) {
		_, err := httpRun(t, srv, `{"url": "`+srv.URL+`/big"}`)
		require.ErrorContains(t, err, "the HTTP response is larger than 1 KiB")
	})

	t.Run("redirects stay on the URL's host", func(t *testing.T) {
		_, err := httpRun(t, srv, `{"url": "`+srv.URL+`/redirect-away"}`)
		require.ErrorContains(t, err, "refused a redirect away from")
		res, err := httpRun(t, srv, `{"url": "`+srv.URL+`/redirect-here", "outputs": [{"name": "body", "fromExpression": "response.body"}]}`)
		require.NoError(t, err)
		require.Equal(t, "ok", res.Output["body"])
	})

	t.Run("configurations refused before any request", func(t *testing.T) {
		for cfg, want := range map[string]string{
			`{"url": "` + srv.URL + `/", "proxy": "http://proxy.example:3128"}`:             "never through a proxy",
			`{"url": "file:///etc/passwd"}`:                                                 "only http and https URLs",
			`{"url": "` + srv.URL + `/", "successExpression": "response.status ==="}`:       "successExpression",
			`{"url": "` + srv.URL + `/", "timeout": "soon"}`:                                "timeout \"soon\"",
			`{"url": "` + srv.URL + `/", "headers": [{"name": "X", "value": "a\r\nB: c"}]}`: "line break",
		} {
			got = nil
			_, err := httpRun(t, srv, cfg)
			require.ErrorContains(t, err, want, cfg)
			require.True(t, sourceerr.Terminal(err), cfg)
			require.Nil(t, got, "a request was made for %s", cfg)
		}
	})

	t.Run("a URL's credentials never reach the message", func(t *testing.T) {
		_, err := httpRun(t, srv, `{"url": "http://user:pa55@127.0.0.1:1/x?token=s3cret"}`)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "pa55")
		require.NotContains(t, err.Error(), "s3cret")
	})
}
