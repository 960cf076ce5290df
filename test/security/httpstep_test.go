package security

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// The http promotion step makes a request whose URL whoever may edit a
// Stage (or a PromotionTask it uses) chooses, from inside the cluster with
// the controller's network position. It runs here as the controller runs
// it: built by steps.New with the outbound address policy of a cluster
// install (public addresses only). Each attack is refused before any
// connection, terminally (retrying cannot help), and the target sees
// nothing.
func TestHTTPStep(t *testing.T) {
	apiserver, err := url.Parse(env.Config.Host)
	require.NoError(t, err)

	t.Run("a request to the kube-apiserver on loopback", func(t *testing.T) {
		_, err := httpstepRun(t, nil, `{"url": "`+env.Config.Host+`/api/v1/namespaces/kube-system/secrets", "insecureSkipTLSVerify": true}`)
		require.ErrorContains(t, err, "refused to connect to "+apiserver.Host+": it is a loopback address")
		require.True(t, sourceerr.Terminal(err))
	})

	t.Run("a request to the cloud metadata service", func(t *testing.T) {
		_, err := httpstepRun(t, nil, `{"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "headers": [{"name": "Metadata-Flavor", "value": "Google"}]}`)
		require.ErrorContains(t, err, "refused to connect to 169.254.169.254:80: it is a cloud metadata address")
		require.True(t, sourceerr.Terminal(err))
	})

	t.Run("a request to a loopback service, by address and by name", func(t *testing.T) {
		svc := egressListen(t)
		_, port, _ := net.SplitHostPort(svc.addr)
		for _, u := range []string{"http://" + svc.addr + "/", "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
			_, err := httpstepRun(t, nil, `{"method": "DELETE", "url": "`+u+`"}`)
			require.ErrorContains(t, err, "refused to connect to", u)
			require.ErrorContains(t, err, "loopback address", u)
		}
		svc.requireUntouched(t)
	})

	t.Run("an allowed server redirects to a loopback service", func(t *testing.T) {
		svc := egressListen(t)
		// allowed stands for a public server: the policy allows it by
		// address and port, and it redirects to the service.
		allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+svc.addr+"/admin", http.StatusTemporaryRedirect)
		}))
		t.Cleanup(allowed.Close)
		policy := egress.New(egress.Options{Allow: egress.MustParseRules(allowed.Listener.Addr().String())})
		_, err := httpstepRun(t, policy, `{"url": "`+allowed.URL+`/", "headers": [{"name": "X-Api-Key", "value": "k3y"}]}`)
		require.ErrorContains(t, err, "refused a redirect away from "+allowed.Listener.Addr().String())
		svc.requireUntouched(t)
	})

	t.Run("a proxy would dial for the controller", func(t *testing.T) {
		svc := egressListen(t)
		_, err := httpstepRun(t, nil, `{"url": "https://example.com/", "proxy": "http://`+svc.addr+`"}`)
		require.ErrorContains(t, err, "never through a proxy")
		svc.requireUntouched(t)
	})
}

// httpstepRun runs the http step as the controller does, with policy or,
// when nil, the policy of a cluster install.
func httpstepRun(t *testing.T, policy *egress.Policy, cfg string) (engine.Result, error) {
	t.Helper()
	if policy == nil {
		policy = egress.New(egress.Options{})
	}
	var c engine.Config
	require.NoError(t, json.Unmarshal([]byte(cfg), &c))
	return steps.New(steps.Deps{Egress: policy})["http"].Run(context.Background(), &engine.StepContext{WorkDir: t.TempDir()}, c)
}
