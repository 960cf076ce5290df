package promotion

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
	"github.com/kargohq/kargo/internal/testutil/sshserver"
)

// A Warehouse on an ssh:// repository produces Freight, and a Stage
// promotes by pushing over SSH, to a real sshd, with the key and host key
// of a credential Secret.
func TestPipelineOverSSH(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "ssh")
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
	}, "initial layout")
	sshd := sshserver.Start(t)
	controllers.AllowOutbound(t, sshd.Addr())
	repo := sshd.URL("127.0.0.1", sshd.Serve(t, gs.Dir("gitops")))
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	image := reg.Host() + "/nginx"

	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gitops-ssh", Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey:       []byte(repo),
			credentials.SSHPrivateKeyKey: sshd.ClientKey,
			credentials.KnownHostsKey:    sshd.KnownHosts("127.0.0.1"),
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(repo), Branch: "main"}},
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image), SemverConstraint: "^1.24.0"}},
		}},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       stageSpec(repo, image, "test", kargoapi.Subscriptions{Warehouse: "app"}, false),
	}))

	var freight kargoapi.Freight
	eventually(t, time.Minute, "Freight from the ssh:// repository", func() (bool, string) {
		list := &kargoapi.FreightList{}
		require.NoError(t, env.Admin.List(ctx, list, &client.ListOptions{Namespace: ns}))
		wh := get(t, &kargoapi.Warehouse{}, ns, "app")
		if len(list.Items) == 0 {
			return false, fmt.Sprintf("%+v", wh.Status)
		}
		freight = list.Items[0]
		return true, ""
	})
	require.Len(t, freight.Commits, 1)
	require.Equal(t, repo, freight.Commits[0].RepoURL)
	require.Equal(t, gs.BranchHead(t, "gitops", "main"), freight.Commits[0].ID)

	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "to-test", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: freight.Name},
	}))
	p := waitPromotion(t, ns, "to-test")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.24.0")
	require.Contains(t, sshd.Log(), "Accepted publickey for "+sshd.User)
}
