package security

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// admissionProject creates a project with the access model's users bound
// in it: carol (every verb on kargo kinds, no promote, no Secrets), vera
// (viewer), adam (kargo-admin, which grants no Secrets either), nobody, and
// bob, who here may edit everything carol may and promote into uat only.
func admissionProject(t *testing.T, prefix string) string {
	t.Helper()
	ns := env.NewProject(t, prefix)
	env.BindAccessUsers(t, ns)
	env.Bind(t, ns, kubetest.Bob, "Role", "pipeline-editor")
	uatPromoter := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "uat-promoter", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"},
			ResourceNames: []string{"uat"}, Verbs: []string{"promote"},
		}},
	}
	require.NoError(t, env.Admin.Create(context.Background(), uatPromoter))
	env.Bind(t, ns, kubetest.Bob, "Role", uatPromoter.Name)
	return ns
}

// admissionRefused asserts that err is kargo's webhook refusing the request
// with code, its message holding every one of want.
func admissionRefused(t *testing.T, err error, code int32, want ...string) {
	t.Helper()
	require.Error(t, err, "the request was let through")
	var status apierrors.APIStatus
	require.ErrorAs(t, err, &status)
	require.Equal(t, code, status.Status().Code, "%v", err)
	require.Contains(t, err.Error(), "denied the request", "refused by kargo's webhook, not by RBAC: %v", err)
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
}

// admissionRBACRefused asserts that RBAC refused the request before kargo
// was asked.
func admissionRBACRefused(t *testing.T, err error) {
	t.Helper()
	require.True(t, apierrors.IsForbidden(err), "want RBAC's 403, got %v", err)
	require.NotContains(t, err.Error(), "denied the request")
}

// admissionStage reads a Stage as the admin.
func admissionStage(t *testing.T, ns, name string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, st))
	return st
}

// admissionEdit reads the Stage as user c (or as the admin when c cannot
// read), changes it with mutate and writes it back as c.
// The controller writes the Stage's status meanwhile, so a conflict is
// retried on a fresh read.
func admissionEdit(t *testing.T, c client.Client, ns, name string, mutate func(*kargoapi.Stage)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		st := &kargoapi.Stage{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, st); err != nil {
			st = admissionStage(t, ns, name)
		}
		mutate(st)
		return c.Update(context.Background(), st)
	})
}

// admissionGitUpdate writes image into the kustomization of stages/<dir>
// on branch.
func admissionGitUpdate(repoURL, branch, dir, image string) kargoapi.GitRepoUpdate {
	return kargoapi.GitRepoUpdate{
		RepoURL: kargoapi.GitRepoURL(repoURL), ReadBranch: "main", WriteBranch: kargoapi.BranchName(branch),
		Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{
			Image: kargoapi.ImageRepoURL(image), Path: kargoapi.RepoPath("stages/" + dir),
		}}},
	}
}

// admissionServiceAccount returns a client that authenticates with a
// TokenRequest token of a new ServiceAccount of ns bound to role, as CI
// systems log in.
func admissionServiceAccount(t *testing.T, ns, name, role string) client.Client {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	require.NoError(t, env.Admin.Create(ctx, sa))
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-" + role, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}))
	env.AwaitBinding(t, ns, "system:serviceaccount:"+ns+":"+name, "Role", role)
	tr := &authenticationv1.TokenRequest{}
	require.NoError(t, env.Admin.SubResource("token").Create(ctx, sa, tr))
	require.NotEmpty(t, tr.Status.Token)
	cfg := &rest.Config{Host: env.Config.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c
}

const admissionKustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"

// Issue 12, item 3(b): carol (every verb on kargo kinds, no promote) changed
// Stage test's write branch to prod's, so the next auto-promotion into test
// wrote prod's branch. A change to a Stage's spec now needs promote on it,
// and no two Stages write one branch.
func TestStageSpecNeedsPromote(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "stage-spec")
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"stages/test/kustomization.yaml": admissionKustomization,
		"stages/uat/kustomization.yaml":  admissionKustomization,
		"stages/prod/kustomization.yaml": admissionKustomization,
	}, "layout")
	repo := gs.RepoURL("gitops")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, gs.Host(), reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	image := reg.Host() + "/app"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}},
		}},
	}))
	for _, s := range []struct {
		name string
		subs kargoapi.Subscriptions
	}{
		{"test", kargoapi.Subscriptions{Warehouse: "w"}},
		{"uat", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}},
		{"prod", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}}},
	} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns},
			Spec: kargoapi.StageSpec{Subscriptions: &s.subs, PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{admissionGitUpdate(repo, "stages/"+s.name, s.name, image)},
			}},
		}))
	}
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns}, Stage: "test", EnableAutoPromotion: true,
	}))
	kubetest.Eventually(t, time.Minute, "1.0.0 auto-promoted into test", func() (bool, string) {
		return strings.Contains(admissionShowOrEmpty(t, gs, "stages/test"), "newTag: 1.0.0"),
			fmt.Sprintf("%+v", admissionStage(t, ns, "test").Status)
	})
	require.Empty(t, gs.BranchHead(t, "gitops", "stages/prod"), "prod was never promoted")

	carol, bob, adam := env.As(t, kubetest.Carol), env.As(t, kubetest.Bob), env.As(t, kubetest.Adam)
	toProd := func(st *kargoapi.Stage) { st.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch = "stages/prod" }

	t.Run("carol changes test's write branch to prod's branch", func(t *testing.T) {
		err := admissionEdit(t, carol, ns, "test", toProd)
		admissionRefused(t, err, http.StatusForbidden, `user "carol" may not promote to Stage "test"`, "changing its spec needs the right to promote")
		require.Equal(t, kargoapi.BranchName("stages/test"), admissionStage(t, ns, "test").Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch)
	})
	t.Run("carol adds a promotion mechanism to test", func(t *testing.T) {
		err := admissionEdit(t, carol, ns, "test", func(st *kargoapi.Stage) {
			st.Spec.PromotionMechanisms.ArgoCDAppUpdates = []kargoapi.ArgoCDAppUpdate{{AppName: "prod-app"}}
		})
		admissionRefused(t, err, http.StatusForbidden, `may not promote to Stage "test"`)
		require.Empty(t, admissionStage(t, ns, "test").Spec.PromotionMechanisms.ArgoCDAppUpdates)
	})
	t.Run("carol points test at a Warehouse of her own", func(t *testing.T) {
		require.NoError(t, carol.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "carols", Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/carol/app"}},
			}},
		}), "a Warehouse no Stage subscribes to needs no promote")
		err := admissionEdit(t, carol, ns, "test", func(st *kargoapi.Stage) { st.Spec.Subscriptions.Warehouse = "carols" })
		admissionRefused(t, err, http.StatusForbidden, `may not promote to Stage "test"`)
		require.Equal(t, "w", admissionStage(t, ns, "test").Spec.Subscriptions.Warehouse)
	})
	t.Run("carol changes the images of the Warehouse test auto-promotes from", func(t *testing.T) {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, carol.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, wh))
		wh.Spec.Subscriptions.Images[0].RepoURL = "registry.invalid/carol/app"
		err := carol.Update(ctx, wh)
		admissionRefused(t, err, http.StatusForbidden, `Stage "test" subscribes to Warehouse "w"`, `may not promote to Stage "test"`)
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, wh))
		require.Equal(t, kargoapi.ImageRepoURL(image), wh.Spec.Subscriptions.Images[0].RepoURL)
	})
	t.Run("carol deletes that Warehouse and creates it again with her image", func(t *testing.T) {
		// Deleting is RBAC's to allow; the Warehouse made again under the
		// same name feeds test, so creating it needs promote on test.
		orig := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, orig))
		require.NoError(t, carol.Delete(ctx, orig))
		kubetest.Eventually(t, 30*time.Second, "Warehouse w is gone", func() (bool, string) {
			err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, &kargoapi.Warehouse{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		err := carol.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/carol/app"}},
			}},
		})
		admissionRefused(t, err, http.StatusForbidden, `Stage "test" subscribes to Warehouse "w"`)
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns}, Spec: orig.Spec,
		}), "the admin puts it back")
	})
	t.Run("carol creates a Stage that writes prod's branch", func(t *testing.T) {
		err := carol.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Namespace: ns},
			Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "carols"}, PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{admissionGitUpdate(repo, "stages/prod", "prod", image)},
			}},
		})
		admissionRefused(t, err, http.StatusForbidden, `may not promote to Stage "sneaky"`)
	})
	t.Run("a ServiceAccount token with carol's rights changes test's write branch", func(t *testing.T) {
		ci := admissionServiceAccount(t, ns, "ci", "pipeline-editor")
		err := admissionEdit(t, ci, ns, "test", toProd)
		admissionRefused(t, err, http.StatusForbidden, fmt.Sprintf(`user "system:serviceaccount:%s:ci" may not promote to Stage "test"`, ns))
		require.Equal(t, kargoapi.BranchName("stages/test"), admissionStage(t, ns, "test").Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch)
	})
	t.Run("bob points uat at prod's branch", func(t *testing.T) {
		// bob may promote into uat, so only the branch rule stands in his
		// way; the repository is spelled differently from prod's.
		err := admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			u := &st.Spec.PromotionMechanisms.GitRepoUpdates[0]
			u.RepoURL = kargoapi.GitRepoURL(strings.TrimSuffix(repo, ".git") + "/")
			u.WriteBranch = "stages/prod"
		})
		admissionRefused(t, err, http.StatusConflict, `Stage "prod" already writes branch "stages/prod"`)
		require.Equal(t, kargoapi.BranchName("stages/uat"), admissionStage(t, ns, "uat").Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch)
	})
	t.Run("bob points test at prod's branch", func(t *testing.T) {
		err := admissionEdit(t, bob, ns, "test", toProd)
		admissionRefused(t, err, http.StatusForbidden, `user "bob" may not promote to Stage "test"`)
	})
	t.Run("bob moves uat to a branch of its own", func(t *testing.T) {
		require.NoError(t, admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch = "stages/uat-v2"
		}), "a promoter of uat may change uat")
		require.NoError(t, admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch = "stages/uat"
		}))
	})
	t.Run("a second Stage cannot write a branch another Stage writes", func(t *testing.T) {
		err := adam.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "prod-eu", Namespace: ns},
			Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}, PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{admissionGitUpdate(repo+"/", "stages/prod", "prod", image)},
			}},
		})
		admissionRefused(t, err, http.StatusConflict, `Stage "prod" already writes branch "stages/prod"`, "such as stages/prod-eu")
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-eu"}, &kargoapi.Stage{})))
	})
	t.Run("a Stage of another project cannot write a branch this project's Stage writes", func(t *testing.T) {
		other := admissionProject(t, "stage-spec-other")
		err := env.As(t, kubetest.Adam).Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: other},
			Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}, PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{admissionGitUpdate(repo, "stages/prod", "prod", image)},
			}},
		})
		admissionRefused(t, err, http.StatusConflict, `a Stage of another project already writes branch "stages/prod"`)
		require.NotContains(t, err.Error(), ns, "the other project is not named")
	})
	t.Run("vera and nobody change test's write branch", func(t *testing.T) {
		admissionRBACRefused(t, admissionEdit(t, env.As(t, kubetest.Vera), ns, "test", toProd))
		admissionRBACRefused(t, admissionEdit(t, env.As(t, kubetest.Nobody), ns, "test", toProd))
	})
	t.Run("carol may still label a Stage", func(t *testing.T) {
		require.NoError(t, admissionEdit(t, carol, ns, "test", func(st *kargoapi.Stage) {
			if st.Labels == nil {
				st.Labels = map[string]string{}
			}
			st.Labels["team"] = "carol"
		}), "changes that leave the spec alone need no promote")
	})
	t.Run("adam moves test to a branch of its own", func(t *testing.T) {
		for _, branch := range []kargoapi.BranchName{"stages/test-v2", "stages/test"} {
			require.NoError(t, admissionEdit(t, adam, ns, "test", func(st *kargoapi.Stage) {
				st.Spec.PromotionMechanisms.GitRepoUpdates[0].WriteBranch = branch
			}), "kargo-admin holds promote")
		}
	})

	// Nothing was written: the next auto-promotion into test, of a new
	// image, commits to test's branch, and prod's branch still does not
	// exist.
	t.Run("the next auto-promotion into test writes test's branch only", func(t *testing.T) {
		testHead := gs.BranchHead(t, "gitops", "stages/test")
		reg.PushImage(t, "app", "1.1.0", registry.Image{})
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"kargo.akuity.io/refresh":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
		require.NoError(t, env.Admin.Patch(ctx, &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns}},
			client.RawPatch("application/merge-patch+json", []byte(patch))))
		kubetest.Eventually(t, time.Minute, "1.1.0 auto-promoted into test", func() (bool, string) {
			head := gs.BranchHead(t, "gitops", "stages/test")
			return head != testHead && strings.Contains(gs.Show(t, "gitops", head, "stages/test/kustomization.yaml"), "newTag: 1.1.0"), head
		})
		require.Empty(t, gs.BranchHead(t, "gitops", "stages/prod"), "no commit on prod's branch")
		require.NotContains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "carol")
	})
}

// admissionShowOrEmpty returns test's kustomization on its Stage branch, or
// "" while that branch does not exist.
func admissionShowOrEmpty(t *testing.T, gs *gitserver.Server, branch string) string {
	t.Helper()
	if gs.BranchHead(t, "gitops", branch) == "" {
		return ""
	}
	return gs.Show(t, "gitops", branch, "stages/test/kustomization.yaml")
}

// Two Stages that write one branch can be created together, both passing
// the webhook before either exists. Whatever the race let through, the
// branch only ever gets commits from one of them.
func TestRacingWritersOfOneBranch(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "stage-race")
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/shared/kustomization.yaml": admissionKustomization}, "layout")
	controllers.AllowOutbound(t, gs.Host())
	repo := gs.RepoURL("gitops")
	adam := env.As(t, kubetest.Adam)
	const writers = 6
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = adam.Create(ctx, &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("racer-%d", i), Namespace: ns},
				Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}, PromotionMechanisms: &kargoapi.PromotionMechanisms{
					GitRepoUpdates: []kargoapi.GitRepoUpdate{admissionGitUpdate(repo, "stages/shared", "shared", "nginx")},
				}},
			})
		}()
	}
	wg.Wait()
	var created []string
	for i, err := range errs {
		if err == nil {
			created = append(created, fmt.Sprintf("racer-%d", i))
			continue
		}
		admissionRefused(t, err, http.StatusConflict, `already writes branch "stages/shared"`)
	}
	require.NotEmpty(t, created)
	t.Logf("%d of %d racing Stages were admitted", len(created), writers)
	// The first is the oldest: by creation time, then by name.
	first := created[0]
	for _, name := range created[1:] {
		a, b := admissionStage(t, ns, name), admissionStage(t, ns, first)
		if a.CreationTimestamp.Before(&b.CreationTimestamp) || (a.CreationTimestamp.Equal(&b.CreationTimestamp) && a.Name < b.Name) {
			first = name
		}
	}

	f := objects.Freight(ns, objects.Image("nginx", "1.0.0"))
	f.Alias = "racing-freight"
	require.NoError(t, env.Admin.Create(ctx, f))
	for _, st := range created {
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: st, Namespace: ns},
			Spec:       kargoapi.PromotionSpec{Stage: st, Freight: f.Name},
		}
		require.NoError(t, env.Admin.Create(ctx, p))
		kubetest.Eventually(t, time.Minute, "Promotion to "+st+" ends", func() (bool, string) {
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(p), p))
			return p.Status.Phase.IsTerminal(), fmt.Sprintf("%s: %s", p.Status.Phase, p.Status.Message)
		})
		if st != first {
			require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase, p.Status.Message)
			require.Contains(t, p.Status.Message, "Stage "+first+" writes branch stages/shared of "+repo+" too, and was created first")
		} else {
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
		}
	}
	wrote := map[string]bool{}
	for _, e := range gs.Log(t, "gitops", "stages/shared") {
		for _, line := range strings.Split(e.Message, "\n") {
			if s, ok := strings.CutPrefix(line, "Kargo-Stage: "); ok {
				wrote[s] = true
			}
		}
	}
	require.Equal(t, map[string]bool{ns + "/" + first: true}, wrote, "one Stage wrote the branch")
}
