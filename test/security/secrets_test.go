package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// admissionListener is an HTTP endpoint that records the Authorization
// header of every request it gets.
type admissionListener struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func admissionListen(t *testing.T) *admissionListener {
	t.Helper()
	l := &admissionListener{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
		l.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(l.Close)
	// Allowed by the outbound policy, so that what keeps a Secret from a
	// listener is the Secret rule, not the address.
	controllers.AllowOutbound(t, l.Listener.Addr().String())
	return l
}

func (l *admissionListener) requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// admissionSecretHeader is an HTTP check that sends key of Secret as the
// Authorization header to url.
func admissionSecretHeader(url, secret, key string) kargoapi.HTTPCheck {
	return kargoapi.HTTPCheck{
		Name: "smoke", URL: url,
		Headers: []kargoapi.HTTPHeader{{Name: "Authorization", ValueFrom: &kargoapi.SecretKeyRef{Name: secret, Key: key}}},
	}
}

// Issue 12, item 2: a verification header's valueFrom made the controller
// read any Secret of the project with its own rights and send it where the
// Stage said; a user with no Secret rights read every Secret that way. A
// spec may now name only Secrets its author may read, checked whenever the
// verification that sends them changes.
func TestSecretsReadWithTheControllersRights(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "secrets")
	const token = "Bearer s3cr3t-smoke-t0ken"
	for name, value := range map[string]string{"smoke-token": token, "db-password": "hunter2-db"} {
		require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"value": value},
		}))
	}
	legit, evil := admissionListen(t), admissionListen(t)
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{admissionSecretHeader(legit.URL+"/healthz", "smoke-token", "value")}},
		},
	}), "the admin may name any Secret")
	carol, bob, adam := env.As(t, kubetest.Carol), env.As(t, kubetest.Bob), env.As(t, kubetest.Adam)
	toEvil := func(st *kargoapi.Stage) { st.Spec.Verification.HTTP[0].URL = evil.URL + "/collect" }
	uatCheck := func() kargoapi.HTTPCheck { return admissionStage(t, ns, "uat").Spec.Verification.HTTP[0] }

	t.Run("carol reads a Secret through a verification header", func(t *testing.T) {
		err := admissionEdit(t, carol, ns, "uat", toEvil)
		admissionRefused(t, err, http.StatusForbidden, `user "carol" may not promote to Stage "uat"`)
		require.Equal(t, legit.URL+"/healthz", uatCheck().URL)
	})
	t.Run("carol creates a Stage whose check sends a Secret to her listener", func(t *testing.T) {
		err := carol.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "exfil", Namespace: ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
				Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{admissionSecretHeader(evil.URL, "db-password", "value")}},
			},
		})
		admissionRefused(t, err, http.StatusForbidden, `may not promote to Stage "exfil"`)
	})
	t.Run("bob, who may promote into uat but not read Secrets, points uat's check at his listener", func(t *testing.T) {
		// The Secret was named by the admin; changing where it goes is
		// naming it again.
		err := admissionEdit(t, bob, ns, "uat", toEvil)
		admissionRefused(t, err, http.StatusForbidden,
			`spec.verification.http[0].headers[0].valueFrom names Secret "smoke-token"`,
			`user "bob" may not read Secret "smoke-token"`)
		require.Equal(t, legit.URL+"/healthz", uatCheck().URL)
	})
	t.Run("bob moves the Secret to another header", func(t *testing.T) {
		err := admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) { st.Spec.Verification.HTTP[0].Headers[0].Name = "X-Echo" })
		admissionRefused(t, err, http.StatusForbidden, `user "bob" may not read Secret "smoke-token"`)
		require.Equal(t, "Authorization", uatCheck().Headers[0].Name)
	})
	t.Run("bob adds a header that reads another Secret", func(t *testing.T) {
		err := admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.Verification.HTTP = append(st.Spec.Verification.HTTP, admissionSecretHeader(evil.URL, "db-password", "value"))
			st.Spec.Verification.HTTP[1].Name = "db"
		})
		admissionRefused(t, err, http.StatusForbidden, "may not read Secret")
		require.Len(t, admissionStage(t, ns, "uat").Spec.Verification.HTTP, 1)
	})
	t.Run("adam, a kargo-admin without Secret rights, creates a Stage that names a Secret", func(t *testing.T) {
		err := adam.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "exfil", Namespace: ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
				Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{admissionSecretHeader(evil.URL, "db-password", "value")}},
			},
		})
		admissionRefused(t, err, http.StatusForbidden, `user "adam" may not read Secret "db-password"`)
	})
	t.Run("vera and nobody point uat's check at a listener", func(t *testing.T) {
		admissionRBACRefused(t, admissionEdit(t, env.As(t, kubetest.Vera), ns, "uat", toEvil))
		admissionRBACRefused(t, admissionEdit(t, env.As(t, kubetest.Nobody), ns, "uat", toEvil))
	})
	t.Run("bob changes uat's subscriptions and leaves its verification alone", func(t *testing.T) {
		require.NoError(t, admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.Subscriptions.Warehouse = "w2"
		}), "the Secret still goes where its reader sent it")
		require.NoError(t, admissionEdit(t, bob, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.Subscriptions.Warehouse = "w"
		}))
	})
	t.Run("a user who may read a Secret may name it, and only that one", func(t *testing.T) {
		reader := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke-token-reader", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"smoke-token"}, Verbs: []string{"get"}}},
		}
		require.NoError(t, env.Admin.Create(ctx, reader))
		env.Bind(t, ns, kubetest.Adam, "Role", reader.Name)
		kubetest.Eventually(t, 10*time.Second, "adam may name smoke-token", func() (bool, string) {
			err := adam.Create(ctx, &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: "smoke-again", Namespace: ns},
				Spec: kargoapi.StageSpec{
					Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
					Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{admissionSecretHeader(legit.URL+"/again", "smoke-token", "value")}},
				},
			})
			return err == nil, fmt.Sprint(err)
		})
		err := admissionEdit(t, adam, ns, "smoke-again", func(st *kargoapi.Stage) {
			st.Spec.Verification.HTTP[0].Headers[0].ValueFrom.Name = "db-password"
		})
		admissionRefused(t, err, http.StatusForbidden, `user "adam" may not read Secret "db-password"`)
	})

	// The barrier: uat verifies Freight with its check as the admin left
	// it; the Secret reaches that URL and no request ever reached the
	// attackers' listener.
	t.Run("the Secret reaches only the URL its reader chose", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("nginx", "2.0.0"))
		f.Alias = "secret-barrier"
		require.NoError(t, env.Admin.Create(ctx, f))
		p := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "uat-barrier", Namespace: ns}, Spec: kargoapi.PromotionSpec{Stage: "uat", Freight: f.Name}}
		require.NoError(t, env.Admin.Create(ctx, p))
		kubetest.Eventually(t, time.Minute, "uat verifies with its own check", func() (bool, string) {
			return len(legit.requests()) > 0, fmt.Sprintf("%+v", admissionStage(t, ns, "uat").Status.Verification)
		})
		require.Equal(t, "GET /healthz Authorization="+token, legit.requests()[0])
		kubetest.Eventually(t, time.Minute, "the verification ends", func() (bool, string) {
			v := admissionStage(t, ns, "uat").Status.Verification
			return v != nil && v.Phase.IsTerminal(), fmt.Sprintf("%+v", v)
		})
		require.Empty(t, evil.requests(), "nothing reached the attackers' listener")
	})
}

// admissionApplication creates an Argo CD Application in the argocd
// namespace that lets the Stage named by authorizedStage ("project:stage")
// change it, with the health Argo CD would report.
func admissionApplication(t *testing.T, name, authorizedStage, health, message string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, client.IgnoreAlreadyExists(env.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}})))
	app := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"name": %q, "namespace": "argocd", "annotations": {%q: %q}},
	  "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": %q},
	    "source": {"repoURL": "https://git.example.com/gitops.git", "path": %q, "targetRevision": "HEAD"}}
	}`, name, kargoapi.AuthorizedStageAnnotationKey, authorizedStage, name, name)), &app.Object))
	// The Application CRD has no status subresource, as Argo CD's own.
	app.Object["status"] = map[string]any{
		"health": map[string]any{"status": health, "message": message},
		"sync":   map[string]any{"status": "Synced"},
	}
	require.NoError(t, env.Admin.Create(ctx, app))
}

// Issue 12, item 8: Stage health read Argo CD Applications that had not
// opted in, while changing them needs the opt-in: a Stage promoted through
// its own Application, then pointed at another team's, copied what Argo CD
// says about that one into its status, for anyone who may read Stages.
func TestStageHealthReadsOnlyApplicationsThatOptIn(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "health")
	admissionApplication(t, ns+"-own", ns+":spy", "Healthy", "")
	admissionApplication(t, ns+"-payments", "payments:prod", "Degraded", "postgres://payments:hunter2@db.payments:5432 refused")
	spy := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "spy", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions:       &kargoapi.Subscriptions{Warehouse: "w"},
			PromotionMechanisms: &kargoapi.PromotionMechanisms{ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{AppName: ns + "-own"}}},
		},
	}
	adam := env.As(t, kubetest.Adam)
	toPayments := func(st *kargoapi.Stage) {
		st.Spec.PromotionMechanisms.ArgoCDAppUpdates = []kargoapi.ArgoCDAppUpdate{{AppName: ns + "-payments"}}
	}

	t.Run("carol creates a Stage that reads another team's Application", func(t *testing.T) {
		s := spy.DeepCopy()
		toPayments(s)
		admissionRefused(t, env.As(t, kubetest.Carol).Create(ctx, s), http.StatusForbidden, `may not promote to Stage "spy"`)
	})
	t.Run("adam's Stage reads an Application not opted in to it", func(t *testing.T) {
		// adam may promote into the Stages of his project, so he may point
		// one at any Application; its health stays unread.
		require.NoError(t, adam.Create(ctx, spy.DeepCopy()))
		f := objects.Freight(ns, objects.Image("nginx", "3.0.0"))
		f.Alias = "health-spy"
		require.NoError(t, env.Admin.Create(ctx, f))
		p := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "spy", Namespace: ns}, Spec: kargoapi.PromotionSpec{Stage: "spy", Freight: f.Name}}
		require.NoError(t, adam.Create(ctx, p))
		kubetest.Eventually(t, time.Minute, "spy holds the Freight", func() (bool, string) {
			st := admissionStage(t, ns, "spy")
			return st.Status.CurrentFreight != nil && st.Status.Health != nil, fmt.Sprintf("%+v", st.Status)
		})
		require.NoError(t, admissionEdit(t, adam, ns, "spy", toPayments))
		var h *kargoapi.Health
		kubetest.Eventually(t, time.Minute, "spy's health is assessed again", func() (bool, string) {
			h = admissionStage(t, ns, "spy").Status.Health
			return h != nil && len(h.Issues) == 1 && !strings.Contains(h.Issues[0], ns+"-own"), fmt.Sprintf("%+v", h)
		})
		require.Equal(t, kargoapi.HealthStateUnknown, h.Status)
		require.Contains(t, h.Issues[0], "does not let Stage "+ns+"/spy change it, so its health is not read")
		status := fmt.Sprintf("%+v", admissionStage(t, ns, "spy").Status)
		require.NotContains(t, status, "hunter2", "nothing Argo CD says about the Application reached the Stage")
		require.NotContains(t, status, "Degraded")
		require.NotContains(t, status, "payments:prod", "the Stage the Application belongs to is not revealed")
	})
}
