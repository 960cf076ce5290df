package security

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// commitsProject makes a project whose private repository (basic auth over
// TLS) has a credential Secret, a Stage whose steps push to stages/<stage>
// of it, and a Promotion of that Stage whose steps ran (with the engine, as
// the controller runs them, and the Promotion's own UID in the commit's
// trailer). It returns the project and the Promotion.
func commitsProject(t *testing.T, prefix string, gs *gitserver.Server, repo, stage, value string, secret bool) (string, *kargoapi.Promotion) {
	t.Helper()
	ctx := context.Background()
	ns := env.NewProject(t, prefix)
	env.BindAccessUsers(t, ns)
	if secret {
		require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
			StringData: map[string]string{"repoURL": repo, "username": "robot", "password": "s3cret-" + prefix},
		}))
	}
	require.NoError(t, env.Admin.Create(ctx, objects.Warehouse(ns, "w")))
	f := objects.Freight(ns)
	require.NoError(t, env.Admin.Create(ctx, f))
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	st := objects.Stage(ns, stage, objects.SubscribesTo("w"))
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "git-clone", Config: cfg(`{"repoURL": "` + repo + `", "checkout": [{"branch": "main", "path": "./out"}]}`)},
		{Uses: "yaml-update", Config: cfg(`{"path": "./out/app.yaml", "updates": [{"key": "image", "value": "` + value + `"}]}`)},
		{Uses: "git-commit", Config: cfg(`{"path": "./out"}`)},
		{Uses: "git-push", As: "push", Config: cfg(`{"path": "./out", "targetBranch": "stages/` + stage + `"}`)},
	}}}
	require.NoError(t, env.Admin.Create(ctx, st))
	promo := objects.Promotion(ns, stage+"-1", stage, f.Name)
	require.NoError(t, env.Admin.Create(ctx, promo))
	// The controllers may not reach the test's Git server: they end the
	// Promotion (Errored); then its status becomes what the steps did.
	kubetest.Eventually(t, time.Minute, "Promotion "+promo.Name+" ended", func() (bool, string) {
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(promo), promo); err != nil {
			return false, err.Error()
		}
		return promo.Status.Phase.IsTerminal(), string(promo.Status.Phase)
	})
	controller := env.As(t, controllers.ServiceAccount, "system:serviceaccounts", "system:authenticated")
	cache := git.NewCache(t.TempDir(), git.Options{CAFile: gs.CAFile(), Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})
	e := &engine.Engine{Steps: steps.New(steps.Deps{Git: cache, Credentials: credentials.KubernetesStore{Client: controller}, Client: controller})}
	sc := &engine.StepContext{WorkDir: filepath.Join(t.TempDir(), "work"), Project: ns, Stage: stage, Promotion: promo, Freight: []*kargoapi.Freight{f}}
	status := kargoapi.PromotionStatus{}
	outcome, err := e.Run(ctx, sc, engine.Process{Steps: promo.Spec.Steps}, &status, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	status.Phase = kargoapi.PromotionPhaseSucceeded
	promo.Status = status
	require.NoError(t, env.Admin.Status().Update(ctx, promo))
	return ns, promo
}

// commitsGet asks the API server for a Promotion's commits as user.
func commitsGet(t *testing.T, srv string, user, ns, name, query string) (int, apitypes.PromotionCommits, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv+"/api/v1/projects/"+ns+"/promotions/"+name+"/commits"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+kubetest.Token(user))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out apitypes.PromotionCommits
	if res.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &out))
	}
	return res.StatusCode, out, string(body)
}

// The API server shows the commits a Promotion made, read from the Git
// server with the project's credentials. Only who may get the Promotion
// sees them; only the branches the Promotion wrote are read, with its own
// project's credentials, and only commits carrying its UID are shown.
func TestPromotionCommitsAttacks(t *testing.T) {
	gs := gitserver.New(t, gitserver.WithTLS(), gitserver.WithBasicAuth("robot", "s3cret-commits"))
	repo := gs.CreateRepo("app")
	gs.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
	ns, promo := commitsProject(t, "commits", gs, repo, "test", "from-test", true)

	// The server reads with a Git cache of its own through an outbound
	// policy that allows the test's Git server, and the projects' Secrets
	// as the controller reads them (the kargo-api role reads none).
	controller := env.As(t, controllers.ServiceAccount, "system:serviceaccounts", "system:authenticated")
	cache := git.NewCache(t.TempDir(), git.Options{CAFile: gs.CAFile(), Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})
	srv := apiserverStart(t, server.Options{Commits: cache, Credentials: credentials.KubernetesStore{Client: controller}})

	t.Run("a viewer sees the Promotion's commit and its diff", func(t *testing.T) {
		code, got, body := commitsGet(t, srv.URL, kubetest.Vera, ns, promo.Name, "")
		require.Equal(t, http.StatusOK, code, body)
		require.Len(t, got.Commits, 1, body)
		c := got.Commits[0]
		require.Equal(t, gs.BranchHead(t, "app", "stages/test"), c.ID)
		require.Equal(t, "stages/test", c.Branch)
		require.Len(t, c.Files, 1)
		require.Equal(t, "app.yaml", c.Files[0].Path)
		require.Contains(t, c.Files[0].Patch, "-image: base\n+image: from-test\n")
		require.NotContains(t, body, "s3cret", "no credential in the answer")
	})

	t.Run("nobody asks for the commits", func(t *testing.T) {
		gs.ResetCounts()
		code, _, body := commitsGet(t, srv.URL, kubetest.Nobody, ns, promo.Name, "")
		require.Equal(t, http.StatusForbidden, code, body)
		require.NotContains(t, body, "from-test")
		require.Zero(t, gs.Counts("app").InfoRefs, "the Git server was asked")
	})

	t.Run("a query naming another repository and branch is ignored", func(t *testing.T) {
		code, got, body := commitsGet(t, srv.URL, kubetest.Vera, ns, promo.Name, "?repoURL=https://169.254.169.254/x.git&branch=main")
		require.Equal(t, http.StatusOK, code, body)
		require.Len(t, got.Commits, 1)
		require.Equal(t, "stages/test", got.Commits[0].Branch)
		require.NotContains(t, body, "169.254.169.254")
	})

	t.Run("another project's Promotion aimed at this project's repository", func(t *testing.T) {
		// carol administers nothing here; in her own project a Promotion
		// pushes to the same private repository. Her project has no
		// credentials for it, so its steps cannot even clone: the
		// commits of this project's Promotion are not hers to see
		// through her Promotion, whose UID they do not carry.
		other := env.NewProject(t, "commits-other")
		env.BindAccessUsers(t, other)
		ctx := context.Background()
		require.NoError(t, env.Admin.Create(ctx, objects.Warehouse(other, "w")))
		f := objects.Freight(other)
		require.NoError(t, env.Admin.Create(ctx, f))
		cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
		st := objects.Stage(other, "test", objects.SubscribesTo("w"))
		st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
			{Uses: "git-clone", Config: cfg(`{"repoURL": "` + repo + `", "checkout": [{"branch": "main", "path": "./out"}]}`)},
			{Uses: "git-push", As: "push", Config: cfg(`{"path": "./out", "targetBranch": "stages/test"}`)},
		}}}
		require.NoError(t, env.Admin.Create(ctx, st))
		p := objects.Promotion(other, "other-1", "test", f.Name)
		require.NoError(t, env.Admin.Create(ctx, p))
		kubetest.Eventually(t, time.Minute, "Promotion ended", func() (bool, string) {
			if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				return false, err.Error()
			}
			return p.Status.Phase.IsTerminal(), string(p.Status.Phase)
		})
		// Its status claims the push this project's Promotion made.
		p.Status.State = &kargoapi.StepConfig{Raw: []byte(`{"push": {"branch": "stages/test", "commit": "` + gs.BranchHead(t, "app", "stages/test") + `"}}`)}
		require.NoError(t, env.Admin.Status().Update(ctx, p))

		// The API server reads the Promotion from its cache, which may not
		// hold the status just written: ask until it answers for it, and
		// never show the commit on the way.
		kubetest.Eventually(t, time.Minute, "the refusal of the Git server is said", func() (bool, string) {
			code, got, body := commitsGet(t, srv.URL, kubetest.Adam, other, p.Name, "")
			require.Equal(t, http.StatusOK, code, body)
			require.Empty(t, got.Commits, "another Promotion's commit shown")
			require.NotContains(t, body, "from-test")
			return len(got.Notes) > 0, body
		})

		// Nor does asking for this project's Promotion through the
		// other project's path find it.
		code, _, body := commitsGet(t, srv.URL, kubetest.Adam, other, promo.Name, "")
		require.Equal(t, http.StatusNotFound, code, body)
		require.NotContains(t, body, "from-test")
	})

	t.Run("a user of another project asks for this project's commits", func(t *testing.T) {
		code, _, body := commitsGet(t, srv.URL, kubetest.Bob, ns, promo.Name, "")
		require.Equal(t, http.StatusForbidden, code, body)
		require.False(t, strings.Contains(body, "from-test"))
	})
}

// A cluster install's API server reads repositories without the projects'
// credentials unless the chart lets it read their Secrets: it shows a
// public repository's commits, and for a private one says why it shows
// none, reading no Secret on the way.
func TestPromotionCommitsWithoutCredentials(t *testing.T) {
	public := gitserver.New(t)
	pubRepo := public.CreateRepo("app")
	public.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
	pubNS, pubPromo := commitsProject(t, "commits-public", public, pubRepo, "test", "from-public", false)

	private := gitserver.New(t, gitserver.WithTLS(), gitserver.WithBasicAuth("robot", "s3cret-commits-private"))
	privRepo := private.CreateRepo("app")
	private.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
	privNS, privPromo := commitsProject(t, "commits-private", private, privRepo, "test", "from-private", true)

	rules := egress.MustParseRules(public.Host(), private.Host())
	cache := git.NewCache(t.TempDir(), git.Options{CAFile: private.CAFile(), Egress: egress.New(egress.Options{Allow: rules})})
	srv := apiserverStart(t, server.Options{Commits: cache})

	code, got, body := commitsGet(t, srv.URL, kubetest.Vera, pubNS, pubPromo.Name, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, got.Commits, 1, body)
	require.Contains(t, got.Commits[0].Files[0].Patch, "+image: from-public\n")

	code, got, body = commitsGet(t, srv.URL, kubetest.Vera, privNS, privPromo.Name, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Empty(t, got.Commits, body)
	require.Len(t, got.Notes, 1, body)
	require.Contains(t, got.Notes[0], "api.git.readCredentials", "the note says how to let the server read private repositories")
	require.NotContains(t, body, "from-private")
	require.NotContains(t, body, "s3cret")
	t.Logf("the private repository's note: %s", got.Notes[0])
}
