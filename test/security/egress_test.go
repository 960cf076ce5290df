package security

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// The controllers connect on behalf of whoever may write a Warehouse or a
// Stage. adam administers a project (kargo-admin) and nothing else: through
// the controllers he must reach nothing that he could not reach from the
// Internet himself. The controllers run with the policy of a cluster
// install: public addresses only, and the servers a test allows by address
// and port.
func TestEgress(t *testing.T) {
	ns := env.NewProject(t, "egress")
	env.BindAccessUsers(t, ns)
	adam := env.As(t, kubetest.Adam)
	apiserver, err := url.Parse(env.Config.Host)
	require.NoError(t, err)

	t.Run("adam points a verification check at the kube-apiserver on loopback", func(t *testing.T) {
		target := env.Config.Host + "/api/v1/namespaces/kube-system/secrets"
		res := egressVerify(t, adam, ns, "apiserver", kargoapi.HTTPCheck{Name: "read-secrets", URL: target})
		require.Equal(t, kargoapi.VerificationPhaseError, res.Phase)
		require.Contains(t, res.Message, "refused to connect to "+apiserver.Host+": it is a loopback address")
		require.Contains(t, res.Message, "--allow-outbound")
	})

	t.Run("adam points a verification check at a loopback service", func(t *testing.T) {
		svc := egressListen(t)
		res := egressVerify(t, adam, ns, "loopback", kargoapi.HTTPCheck{Name: "probe", URL: "http://" + svc.addr + "/"})
		require.Equal(t, kargoapi.VerificationPhaseError, res.Phase)
		require.Contains(t, res.Message, "refused to connect to "+svc.addr)
		svc.requireUntouched(t)
	})

	t.Run("a hostname resolving to 127.0.0.1 is refused at dial time", func(t *testing.T) {
		svc := egressListen(t)
		_, port, _ := net.SplitHostPort(svc.addr)
		res := egressVerify(t, adam, ns, "localhost", kargoapi.HTTPCheck{Name: "probe", URL: "http://localhost:" + port + "/"})
		require.Equal(t, kargoapi.VerificationPhaseError, res.Phase)
		require.Contains(t, res.Message, "refused to connect to localhost (")
		svc.requireUntouched(t)
	})

	t.Run("a verification check on the cloud metadata address is refused", func(t *testing.T) {
		res := egressVerify(t, adam, ns, "metadata", kargoapi.HTTPCheck{Name: "imds", URL: "http://169.254.169.254/latest/meta-data/iam/security-credentials/"})
		require.Equal(t, kargoapi.VerificationPhaseError, res.Phase)
		require.Contains(t, res.Message, "refused to connect to 169.254.169.254:80: it is a cloud metadata address")
	})

	t.Run("a non-bool successExpression does not echo the response into status", func(t *testing.T) {
		const secret = "s3cret-token-the-service-returns"
		svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"data":{"token":%q}}`, secret)
		}))
		t.Cleanup(svc.Close)
		// The service is one the controllers may reach (allowed as an
		// operator would); what it answers still stays out of status.
		controllers.AllowOutbound(t, svc.Listener.Addr().String())
		for i, expr := range []string{"body.data.token", "body.data", "int(body.data.token) == 1"} {
			stage := fmt.Sprintf("echo-%d", i)
			res := egressVerify(t, adam, ns, stage, kargoapi.HTTPCheck{Name: "read", URL: svc.URL, SuccessExpression: expr})
			require.Equal(t, kargoapi.VerificationPhaseFailed, res.Phase, res.Message)
			require.Contains(t, res.Message, "expression "+expr)
			st := &kargoapi.Stage{}
			require.NoError(t, adam.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: stage}, st))
			status, err := json.Marshal(st.Status)
			require.NoError(t, err)
			require.NotContains(t, string(status), secret, "the Stage's status quotes the response")
		}
		events := &corev1.EventList{}
		require.NoError(t, env.Admin.List(context.Background(), events, client.InNamespace(ns)))
		for _, e := range events.Items {
			require.NotContains(t, e.Message, secret, "an event quotes the response")
		}
	})

	t.Run("a Warehouse's Helm repository on 169.254.169.254 is refused", func(t *testing.T) {
		cond := egressDiscover(t, adam, ns, "helm-metadata", kargoapi.RepoSubscriptions{
			Charts: []kargoapi.ChartSubscription{{RepoURL: "http://169.254.169.254/latest/", Name: "app"}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to 169.254.169.254:80: it is a cloud metadata address")
		require.Contains(t, cond.Message, "--allow-outbound")
	})

	t.Run("a Warehouse's Git repository on the kube-apiserver's address is refused", func(t *testing.T) {
		cond := egressDiscover(t, adam, ns, "git-apiserver", kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(env.Config.Host + "/repo.git")}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to "+apiserver.Host+": it is a loopback address")
	})

	t.Run("a Warehouse's Git repository on a loopback service is refused", func(t *testing.T) {
		svc := egressListen(t)
		cond := egressDiscover(t, adam, ns, "git-loopback", kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("http://" + svc.addr + "/repo.git")}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to "+svc.addr)
		svc.requireUntouched(t)
	})

	t.Run("a Warehouse's image registry on a loopback service is refused", func(t *testing.T) {
		svc := egressListen(t)
		cond := egressDiscover(t, adam, ns, "image-loopback", kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(svc.addr + "/app")}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to "+svc.addr)
		svc.requireUntouched(t)
	})

	t.Run("a Warehouse's OCI chart on a private address is refused", func(t *testing.T) {
		cond := egressDiscover(t, adam, ns, "oci-private", kargoapi.RepoSubscriptions{
			Charts: []kargoapi.ChartSubscription{{RepoURL: "oci://10.0.0.1/charts/app"}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to 10.0.0.1:443: it is a private address")
		require.Contains(t, cond.Message, "--allow-private-outbound")
	})

	t.Run("a redirect to loopback is refused", func(t *testing.T) {
		svc := egressListen(t)
		bouncer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+svc.addr+r.URL.Path, http.StatusFound)
		}))
		t.Cleanup(bouncer.Close)
		// The bouncer stands for a public host: allowed, unlike where it
		// sends the controllers.
		controllers.AllowOutbound(t, bouncer.Listener.Addr().String())
		cond := egressDiscover(t, adam, ns, "redirects", kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(bouncer.URL + "/repo.git")}},
			Charts: []kargoapi.ChartSubscription{{RepoURL: kargoapi.ChartRepoURL(bouncer.URL + "/charts"), Name: "app"}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Equal(t, 2, strings.Count(cond.Message, "refused to connect to "+svc.addr), cond.Message)
		svc.requireUntouched(t)
	})

	t.Run("git over file:// is refused", func(t *testing.T) {
		dir := t.TempDir()
		cond := egressDiscover(t, adam, ns, "file", kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("file://" + dir)}},
		})
		require.Equal(t, "InvalidSubscription", cond.Reason)
		require.Contains(t, cond.Message, "file:// repositories are disabled")
	})

	// With a key and known hosts, ssh:// goes through the policy like
	// https:// (creds_test.go); without them nothing connects.
	t.Run("git over ssh:// without an SSH credential Secret is refused", func(t *testing.T) {
		svc := egressListen(t)
		_, port, _ := net.SplitHostPort(svc.addr)
		cond := egressDiscover(t, adam, ns, "ssh", kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("ssh://git@127.0.0.1:" + port + "/repo.git")}},
		})
		require.Equal(t, "InvalidSubscription", cond.Reason)
		require.Contains(t, cond.Message, "an ssh repository needs a git credential Secret")
		svc.requireUntouched(t)
	})

	t.Run("git over ext:: is refused at admission", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "pwned")
		wh := egressWarehouse(ns, "ext", kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("ext::sh -c touch% " + marker)}},
		})
		err := adam.Create(context.Background(), wh)
		require.True(t, apierrors.IsInvalid(err), "want Invalid, got %v", err)
		require.True(t, apierrors.IsNotFound(env.Admin.Get(context.Background(), client.ObjectKeyFromObject(wh), &kargoapi.Warehouse{})))
		_, err = os.Stat(marker)
		require.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("a repoURL with a password is refused at admission", func(t *testing.T) {
		for _, spec := range []kargoapi.RepoSubscriptions{
			{Git: []kargoapi.GitSubscription{{RepoURL: "https://robot:hunter2@git.example.com/app.git"}}},
			{Charts: []kargoapi.ChartSubscription{{RepoURL: "https://robot:hunter2@charts.example.com/", Name: "app"}}},
		} {
			wh := egressWarehouse(ns, "userinfo", spec)
			err := adam.Create(context.Background(), wh)
			require.True(t, apierrors.IsInvalid(err), "want Invalid, got %v", err)
			require.Contains(t, err.Error(), "credential Secret")
			require.True(t, apierrors.IsNotFound(env.Admin.Get(context.Background(), client.ObjectKeyFromObject(wh), &kargoapi.Warehouse{})))
		}
		st := &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "userinfo", Namespace: ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
				Verification: &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{
					Name: "smoke", URL: "https://robot:hunter2@app.example.com/healthz",
				}}},
			},
		}
		err := adam.Create(context.Background(), st)
		require.True(t, apierrors.IsInvalid(err), "want Invalid, got %v", err)
		require.True(t, apierrors.IsNotFound(env.Admin.Get(context.Background(), client.ObjectKeyFromObject(st), &kargoapi.Stage{})))
	})

	t.Run("a Helm index larger than the limit is refused without being read", func(t *testing.T) {
		var served atomic.Int64
		huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(1<<30))
			chunk := []byte(strings.Repeat("#", 64<<10))
			for range (1 << 30) / len(chunk) {
				n, err := w.Write(chunk)
				served.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		t.Cleanup(huge.Close)
		controllers.AllowOutbound(t, huge.Listener.Addr().String())
		cond := egressDiscover(t, adam, ns, "huge-index", kargoapi.RepoSubscriptions{
			Charts: []kargoapi.ChartSubscription{{RepoURL: kargoapi.ChartRepoURL(huge.URL), Name: "app"}},
		})
		require.Equal(t, "TooLarge", cond.Reason)
		require.Contains(t, cond.Message, "index.yaml is larger than 32 MiB, more than kargo reads")
		require.Contains(t, cond.Message, "--max-helm-index-size")
		require.Less(t, served.Load(), int64(64<<20), "the controller read far past its limit")
	})

	t.Run("adam makes a Stage write to a GitOps repository on loopback", func(t *testing.T) {
		svc := egressListen(t)
		st := &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "git-write", Namespace: ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
				PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
					RepoURL: kargoapi.GitRepoURL("http://" + svc.addr + "/gitops.git"), ReadBranch: "main", WriteBranch: "stages/test",
				}}},
			},
		}
		require.NoError(t, adam.Create(context.Background(), st))
		p := egressPromote(t, ns, st.Name, egressFreight(t, ns, "git-write"))
		require.Equal(t, kargoapi.PromotionPhaseErrored, p.Status.Phase, p.Status.Message)
		require.Contains(t, p.Status.Message, "refused to connect to "+svc.addr)
		svc.requireUntouched(t)
	})
}

// egressTarget is a TCP listener on loopback standing for a service that
// only the controllers' machine can reach; it counts the connections it
// accepts.
type egressTarget struct {
	addr     string
	accepted *atomic.Int64
}

func egressListen(t *testing.T) egressTarget {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	n := &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return egressTarget{addr: l.Addr().String(), accepted: n}
}

func (e egressTarget) requireUntouched(t *testing.T) {
	t.Helper()
	require.Zero(t, e.accepted.Load(), "%s received a connection", e.addr)
}

func egressWarehouse(ns, name string, subs kargoapi.RepoSubscriptions) *kargoapi.Warehouse {
	return &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       kargoapi.WarehouseSpec{Subscriptions: subs},
	}
}

// egressDiscover creates a Warehouse as c and returns its Ready condition
// once discovery has failed.
func egressDiscover(t *testing.T, c client.Client, ns, name string, subs kargoapi.RepoSubscriptions) metav1.Condition {
	t.Helper()
	wh := egressWarehouse(ns, name, subs)
	require.NoError(t, c.Create(context.Background(), wh))
	var ready metav1.Condition
	kubetest.Eventually(t, time.Minute, "Warehouse "+name+" reports the failure", func() (bool, string) {
		got := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(wh), got))
		cond := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason == "" {
			return false, fmt.Sprintf("%+v", got.Status.Conditions)
		}
		// Wait for every subscription's failure to be in the message.
		subsCount := len(subs.Git) + len(subs.Images) + len(subs.Charts)
		if strings.Count(cond.Message, "; ")+1 < subsCount {
			return false, cond.Message
		}
		ready = *cond
		return true, ""
	})
	freights := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(context.Background(), freights, client.InNamespace(ns)))
	for _, f := range freights.Items {
		require.False(t, f.Origin != nil && f.Origin.Name == name, "Warehouse %s produced Freight %s", name, f.Name)
	}
	return ready
}

// egressFreight is a Freight the test itself makes for stage, so that a
// Promotion can put it there.
func egressFreight(t *testing.T, ns, tag string) *kargoapi.Freight {
	t.Helper()
	images := []kargoapi.Image{{RepoURL: "nginx", Tag: tag, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(ns+tag)))}}
	f := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: ns},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
		Images:     images,
		Alias:      "egress-" + tag,
	}
	require.NoError(t, env.Admin.Create(context.Background(), f))
	return f
}

// egressPromote promotes f into stage as the cluster admin and waits for
// the Promotion to end.
func egressPromote(t *testing.T, ns, stage string, f *kargoapi.Freight) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: f.Name},
	}
	require.NoError(t, env.Admin.Create(context.Background(), p))
	kubetest.Eventually(t, time.Minute, "Promotion to "+stage+" ends", func() (bool, string) {
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(p), p))
		return p.Status.Phase.IsTerminal(), fmt.Sprintf("%s: %s", p.Status.Phase, p.Status.Message)
	})
	return p
}

// egressVerify has c create a Stage whose verification runs check, puts a
// Freight there, and returns the check's result once the verification has
// ended.
func egressVerify(t *testing.T, c client.Client, ns, stage string, check kargoapi.HTTPCheck) kargoapi.CheckResult {
	t.Helper()
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: stage, Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{check}},
		},
	}
	require.NoError(t, c.Create(context.Background(), st))
	f := egressFreight(t, ns, stage)
	p := egressPromote(t, ns, stage, f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	var res kargoapi.CheckResult
	kubetest.Eventually(t, time.Minute, "verification of "+stage+" ends", func() (bool, string) {
		got := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(st), got))
		v := got.Status.Verification
		if v == nil || !v.Phase.IsTerminal() || len(v.Checks) == 0 {
			return false, fmt.Sprintf("%+v", v)
		}
		res = v.Checks[0]
		return true, ""
	})
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), got))
	require.NotContains(t, got.Status.VerifiedIn, stage, "a refused check verified the Freight")
	return res
}
