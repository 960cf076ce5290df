package security

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// kargo local runs its controllers beside its own etcd and kube-apiserver on
// loopback: a project admin's Warehouse or verification check must not
// reach them, or anything else on the machine, while the demo's own
// registry and Git server (allowed by address and port) still work. This
// runs the built binary as a user does: `kargo local --demo`.
func TestLocalEgress(t *testing.T) {
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	bin, cleanup, err := kargolocal.Build(root)
	require.NoError(t, err)
	t.Cleanup(cleanup)
	dataDir := filepath.Join(t.TempDir(), "state")
	port := kargolocal.FreePort(t)
	l := kargolocal.Start(t, kargolocal.Options{Bin: bin, BinDir: env.BinDir, DataDir: dataDir, Port: port, Args: []string{"--demo"}})
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	ctx := context.Background()
	apiserver := fmt.Sprintf("127.0.0.1:%d", port)

	t.Run("the demo's own registry and Git server are reached", func(t *testing.T) {
		kubetest.Eventually(t, 2*time.Minute, "the demo Warehouse discovers", func() (bool, string) {
			wh := &kargoapi.Warehouse{}
			require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: "kargo-demo"}, wh))
			ready := meta.FindStatusCondition(wh.Status.Conditions, kargoapi.ConditionReady)
			return ready != nil && ready.Status == metav1.ConditionTrue && wh.Status.LastFreight != nil, fmt.Sprintf("%+v", wh.Status.Conditions)
		})
	})

	t.Run("a Warehouse on kargo local's kube-apiserver is refused", func(t *testing.T) {
		cond := localEgressDiscover(t, c, "apiserver", kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("https://" + apiserver + "/repo.git")}},
			Charts: []kargoapi.ChartSubscription{{RepoURL: kargoapi.ChartRepoURL("https://" + apiserver + "/api/v1/secrets"), Name: "app"}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		require.Contains(t, cond.Message, "refused to connect to "+apiserver+": it is a loopback address")
	})

	t.Run("a Warehouse on another loopback service is refused", func(t *testing.T) {
		svc := egressListen(t)
		cond := localEgressDiscover(t, c, "loopback", kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(svc.addr + "/app")}},
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL("http://" + svc.addr + "/repo.git")}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		svc.requireUntouched(t)
	})

	t.Run("the demo's sources are allowed by port, not all of loopback", func(t *testing.T) {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: "kargo-demo"}, wh))
		host, _, err := net.SplitHostPort(strings.TrimSuffix(string(wh.Spec.Subscriptions.Images[0].RepoURL), "/"+demo.ImageRepo))
		require.NoError(t, err)
		svc := egressListen(t)
		_, svcPort, _ := net.SplitHostPort(svc.addr)
		cond := localEgressDiscover(t, c, "demo-host-other-port", kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(net.JoinHostPort(host, svcPort) + "/app")}},
		})
		require.Equal(t, "AddressRefused", cond.Reason)
		svc.requireUntouched(t)
	})

	t.Run("a verification check at kargo local's kube-apiserver is refused", func(t *testing.T) {
		svc := egressListen(t)
		st := &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: demo.Project},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"},
				Verification: &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{
					{Name: "apiserver", URL: "https://" + apiserver + "/api/v1/namespaces/kube-system/secrets"},
					{Name: "loopback", URL: "http://" + svc.addr + "/"},
				}},
			},
		}
		require.NoError(t, c.Create(ctx, st))
		wh := &kargoapi.Warehouse{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: "kargo-demo"}, wh))
		require.NotNil(t, wh.Status.LastFreight)
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: demo.Project},
			Spec:       kargoapi.PromotionSpec{Stage: st.Name, Freight: wh.Status.LastFreight.Name},
		}
		require.NoError(t, c.Create(ctx, p))
		var v *kargoapi.VerificationInfo
		kubetest.Eventually(t, 2*time.Minute, "the probe's verification ends", func() (bool, string) {
			got := &kargoapi.Stage{}
			require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(st), got))
			v = got.Status.Verification
			return v != nil && v.Phase.IsTerminal() && len(v.Checks) == 2, fmt.Sprintf("%+v", v)
		})
		require.Equal(t, kargoapi.VerificationPhaseError, v.Phase, v.Message)
		for _, check := range v.Checks {
			if check.Phase == kargoapi.VerificationPhaseError {
				require.Contains(t, check.Message, "it is a loopback address")
			}
		}
		require.Contains(t, v.Message, "refused to connect to 127.0.0.1:")
		svc.requireUntouched(t)
	})

	l.Stop(t)
}

// localEgressDiscover creates a Warehouse in kargo local's demo project
// and returns its Ready condition once discovery has failed.
func localEgressDiscover(t *testing.T, c client.Client, name string, subs kargoapi.RepoSubscriptions) metav1.Condition {
	t.Helper()
	wh := egressWarehouse(demo.Project, name, subs)
	require.NoError(t, c.Create(context.Background(), wh))
	var ready metav1.Condition
	kubetest.Eventually(t, time.Minute, "Warehouse "+name+" reports the failure", func() (bool, string) {
		got := &kargoapi.Warehouse{}
		require.NoError(t, c.Get(context.Background(), client.ObjectKeyFromObject(wh), got))
		cond := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason == "" {
			return false, fmt.Sprintf("%+v", got.Status.Conditions)
		}
		ready = *cond
		return true, ""
	})
	return ready
}
