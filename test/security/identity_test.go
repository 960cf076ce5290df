package security

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/internal/testutil/dex"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
)

// Attacks on single sign-on, API tokens and project roles: an OpenID
// provider's user who claims Kubernetes' own users and groups, tokens for
// another client or forged, a token or a grant worth more than its maker's
// rights, and a revoked token used again.

// identityDex starts Dex with the users of these attacks.
func identityDex(t *testing.T) *dex.Dex {
	t.Helper()
	return dex.Start(t, dex.Options{Users: []dex.User{
		{Email: "alice@example.com", Groups: []string{"promoters"}},
		{Email: "mallory@example.com", Groups: []string{"developers"}},
		// A provider's users may carry any group; these name Kubernetes'
		// own.
		{Email: "eve@example.com", Groups: []string{"system:masters", "system:serviceaccounts"}},
		// And any email, such as a Kubernetes user's name.
		{Email: kubetest.Adam, Groups: []string{"promoters-not"}},
	}})
}

func identityIDToken(t *testing.T, d *dex.Dex, email string) string {
	t.Helper()
	token, err := d.PasswordToken(context.Background(), dex.CLIClient, "", email, dex.Password)
	require.NoError(t, err)
	return token
}

func identityWhoAmI(t *testing.T, srv *apiserver.Server, token string) (int, apitypes.WhoAmI) {
	t.Helper()
	resp := apiserverCall(t, srv, token, http.MethodGet, "/api/v1/whoami", nil)
	var who apitypes.WhoAmI
	if resp.code == http.StatusOK {
		require.NoError(t, json.Unmarshal(resp.body, &who))
	}
	return resp.code, who
}

func TestIdentitySingleSignOnAttacks(t *testing.T) {
	d := identityDex(t)
	srv := apiserverStart(t, server.Options{OIDC: &sso.Config{IssuerURL: d.Issuer, ClientID: dex.UIClient, CLIClientID: dex.CLIClient}})
	project, f := apiserverProject(t, "sso")
	ctx := context.Background()
	// The provider's group promoters may promote; the Kubernetes user adam
	// administers the project.
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "promoters"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-promoter"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "oidc:promoters"}},
	}))
	env.Bind(t, project, kubetest.Adam, "ClusterRole", "kargo-admin")
	promote := func(token string) apiserverResponse {
		return apiserverCall(t, srv, token, http.MethodPost, "/api/v1/projects/"+project+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name})
	}

	t.Run("a member of the bound group promotes, as its prefixed user", func(t *testing.T) {
		token := identityIDToken(t, d, "alice@example.com")
		code, who := identityWhoAmI(t, srv, token)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, apitypes.WhoAmI{Username: "oidc:alice@example.com", Groups: []string{"oidc:promoters", "system:authenticated"}}, who)
		resp := promote(token)
		require.Equal(t, http.StatusCreated, resp.code, "%s", resp.body)
		require.Len(t, apiserverPromotions(t, project), 1)
	})

	t.Run("a user of another group is refused with the reason", func(t *testing.T) {
		before := apiserverPromotions(t, project)
		resp := promote(identityIDToken(t, d, "mallory@example.com"))
		require.Equal(t, http.StatusForbidden, resp.code)
		require.Contains(t, string(resp.body), `user \"oidc:mallory@example.com\" may not promote to Stage \"test\"`)
		require.Equal(t, before, apiserverPromotions(t, project), "nothing was written")
	})

	t.Run("a groups claim of system:masters is only oidc:system:masters", func(t *testing.T) {
		token := identityIDToken(t, d, "eve@example.com")
		code, who := identityWhoAmI(t, srv, token)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []string{"oidc:system:masters", "oidc:system:serviceaccounts", "system:authenticated"}, who.Groups)
		before := apiserverPromotions(t, project)
		require.Equal(t, http.StatusForbidden, promote(token).code)
		require.Equal(t, http.StatusForbidden, apiserverCall(t, srv, token, http.MethodGet, "/api/v1/projects", nil).code)
		resp := apiserverCall(t, srv, token, http.MethodPost, "/api/v1/projects/"+project+"/roles/admin/grant", apitypes.GrantRequest{Users: []string{"oidc:eve@example.com"}})
		require.Equal(t, http.StatusForbidden, resp.code, "%s", resp.body)
		require.Equal(t, before, apiserverPromotions(t, project), "nothing was written")
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "kargo-admin"}, &rbacv1.RoleBinding{})))
	})

	t.Run("an email that is a Kubernetes user's name gets none of that user's rights", func(t *testing.T) {
		token := identityIDToken(t, d, kubetest.Adam)
		code, who := identityWhoAmI(t, srv, token)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "oidc:"+kubetest.Adam, who.Username)
		before := apiserverPromotions(t, project)
		require.Equal(t, http.StatusForbidden, promote(token).code, "the Kubernetes user adam may; oidc:adam may not")
		require.Equal(t, before, apiserverPromotions(t, project))
	})

	t.Run("an ID token of another client of the provider is refused", func(t *testing.T) {
		token, err := d.PasswordToken(ctx, dex.OtherClient, dex.OtherClientSecret, "alice@example.com", dex.Password)
		require.NoError(t, err)
		before := apiserverPromotions(t, project)
		resp := promote(token)
		require.Equal(t, http.StatusUnauthorized, resp.code)
		require.Contains(t, string(resp.body), "is for client other-app")
		require.Equal(t, before, apiserverPromotions(t, project))
	})

	t.Run("an ID token whose claims were changed is refused", func(t *testing.T) {
		parts := strings.Split(identityIDToken(t, d, "mallory@example.com"), ".")
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		forged := strings.Replace(string(raw), `"developers"`, `"promoters"`, 1)
		require.NotEqual(t, string(raw), forged)
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
		before := apiserverPromotions(t, project)
		resp := promote(strings.Join(parts, "."))
		require.Equal(t, http.StatusUnauthorized, resp.code)
		require.Contains(t, string(resp.body), "not accepted")
		require.Equal(t, before, apiserverPromotions(t, project))
	})

	t.Run("an unsigned token naming the issuer is refused", func(t *testing.T) {
		enc := func(v any) string {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		token := enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
			"iss": d.Issuer, "aud": dex.CLIClient, "sub": "x", "email": "alice@example.com", "email_verified": true,
			"groups": []string{"promoters"}, "exp": 4102444800,
		}) + "."
		resp := promote(token)
		require.Equal(t, http.StatusUnauthorized, resp.code)
		require.Len(t, apiserverPromotions(t, project), 1)
	})

	t.Run("a prefix that reaches into system: is refused at start", func(t *testing.T) {
		for _, prefix := range []string{"system:", "sys", "system:oidc:"} {
			_, err := server.New(server.Options{Config: env.Config, OIDC: &sso.Config{IssuerURL: d.Issuer, ClientID: dex.UIClient, Prefix: prefix}})
			require.ErrorContains(t, err, "system:", prefix)
		}
	})
}

func TestIdentityTokenAndGrantAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	project, f := apiserverProject(t, "tokens")
	ctx := context.Background()
	env.Bind(t, project, kubetest.Adam, "ClusterRole", "kargo-admin")
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-promoter")
	// carol may make ServiceAccounts, their tokens and RoleBindings, but
	// holds no kargo right: exactly what minting a powerful token or
	// granting a role needs, but for the rights themselves.
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "token-maker"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "serviceaccounts/token"}, Verbs: []string{"create", "get", "list", "delete"}},
			{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"rolebindings", "roles"}, Verbs: []string{"create", "get", "list", "update", "delete"}},
		},
	}))
	env.Bind(t, project, "carol", "Role", "token-maker")
	tokens := "/api/v1/projects/" + project + "/tokens"
	serviceAccounts := func() []string {
		var list corev1.ServiceAccountList
		require.NoError(t, env.Admin.List(ctx, &list, client.InNamespace(project)))
		var names []string
		for _, sa := range list.Items {
			if sa.Name != "default" {
				names = append(names, sa.Name)
			}
		}
		return names
	}
	bindings := func() []string {
		var list rbacv1.RoleBindingList
		require.NoError(t, env.Admin.List(ctx, &list, client.InNamespace(project)))
		var names []string
		for _, b := range list.Items {
			names = append(names, b.Name)
		}
		return names
	}
	before := bindings()

	t.Run("a token worth more than its maker is refused by RBAC's escalation check", func(t *testing.T) {
		for _, role := range []string{"promoter", "admin", "viewer"} {
			resp := apiserverCall(t, srv, kubetest.Token("carol"), http.MethodPost, tokens, apitypes.CreateTokenRequest{Name: "ci-" + role, Role: role})
			require.Equal(t, http.StatusForbidden, resp.code, "%s", resp.body)
			require.Contains(t, string(resp.body), "not currently held")
		}
		require.Empty(t, serviceAccounts(), "no ServiceAccount was made")
		require.Equal(t, before, bindings(), "no RoleBinding was made")
	})

	t.Run("a grant worth more than its maker is refused by RBAC's escalation check", func(t *testing.T) {
		resp := apiserverCall(t, srv, kubetest.Token("carol"), http.MethodPost, "/api/v1/projects/"+project+"/roles/promoter/grant", apitypes.GrantRequest{Users: []string{"carol"}})
		require.Equal(t, http.StatusForbidden, resp.code, "%s", resp.body)
		resp = apiserverCall(t, srv, kubetest.Token("carol"), http.MethodPost, "/api/v1/projects/"+project+"/roles", apitypes.CreateRoleRequest{Name: "promote-all", Rules: []apitypes.RoleRule{{Verbs: []string{"promote"}, Resources: []string{"stages"}}}})
		require.Equal(t, http.StatusForbidden, resp.code, "%s", resp.body)
		require.Equal(t, before, bindings())
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "promote-all"}, &rbacv1.Role{})))
	})

	t.Run("a promoter may neither mint tokens nor grant", func(t *testing.T) {
		resp := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, tokens, apitypes.CreateTokenRequest{Name: "alices", Role: "promoter"})
		require.Equal(t, http.StatusForbidden, resp.code)
		resp = apiserverCall(t, srv, kubetest.Token(kubetest.Alice), http.MethodPost, "/api/v1/projects/"+project+"/roles/admin/grant", apitypes.GrantRequest{Users: []string{kubetest.Alice}})
		require.Equal(t, http.StatusForbidden, resp.code)
		require.Empty(t, serviceAccounts())
		require.Equal(t, before, bindings())
	})

	t.Run("a token lists without its secret, and is refused once revoked", func(t *testing.T) {
		resp := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodPost, tokens, apitypes.CreateTokenRequest{Name: "ci", Role: "promoter"})
		require.Equal(t, http.StatusCreated, resp.code, "%s", resp.body)
		var tok apitypes.Token
		require.NoError(t, json.Unmarshal(resp.body, &tok))
		require.NotEmpty(t, tok.Token)
		list := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodGet, tokens, nil)
		require.Equal(t, http.StatusOK, list.code)
		require.Contains(t, string(list.body), `"ci"`)
		require.NotContains(t, string(list.body), tok.Token)
		sa := &corev1.ServiceAccount{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "ci"}, sa))
		for k, v := range sa.Annotations {
			require.NotContains(t, v, tok.Token, k)
		}

		code, who := identityWhoAmI(t, srv, tok.Token)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "system:serviceaccount:"+project+":ci", who.Username)
		promote := apiserverCall(t, srv, tok.Token, http.MethodPost, "/api/v1/projects/"+project+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name})
		require.Equal(t, http.StatusCreated, promote.code, "%s", promote.body)
		// The token may not mint a better one, nor make itself admin.
		resp = apiserverCall(t, srv, tok.Token, http.MethodPost, tokens, apitypes.CreateTokenRequest{Name: "ci2", Role: "admin"})
		require.Equal(t, http.StatusForbidden, resp.code)

		resp = apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodDelete, tokens+"/ci", nil)
		require.Equal(t, http.StatusNoContent, resp.code, "%s", resp.body)
		code, _ = identityWhoAmI(t, srv, tok.Token)
		require.Equal(t, http.StatusUnauthorized, code, "a revoked token is refused at once")
	})

	t.Run("a token named after a RoleBinding of someone else's leaves it alone", func(t *testing.T) {
		theirs := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "api-token-squat"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-viewer"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "vera"}},
		}
		require.NoError(t, env.Admin.Create(ctx, theirs))
		resp := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodPost, tokens, apitypes.CreateTokenRequest{Name: "squat", Role: "promoter"})
		require.Equal(t, http.StatusConflict, resp.code, "%s", resp.body)
		got := &rbacv1.RoleBinding{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(theirs), got), "the existing binding stays")
		require.Equal(t, theirs.Subjects, got.Subjects)
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "squat"}, &corev1.ServiceAccount{})), "no ServiceAccount is left behind")
	})

	t.Run("kargo delete token deletes only API tokens' ServiceAccounts", func(t *testing.T) {
		require.NoError(t, env.Admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "workload"}}))
		resp := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodDelete, tokens+"/workload", nil)
		require.Equal(t, http.StatusBadRequest, resp.code)
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "workload"}, &corev1.ServiceAccount{}))
	})
}
