package cli

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/cli"
)

// jwt matches a bearer token that is a JWT, such as an API token: it
// differs from run to run.
var jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// accessControl is the chapter of project roles, grants and API tokens:
// adam, kargo-demo's administrator, makes a role, grants and revokes it,
// and gives a CI system a promoter token; alice, a promoter, and nobody
// may do none of it. Everything is checked as kubectl sees it too.
func accessControl(t *testing.T, s *session) {
	ctx := context.Background()
	s.note("adam administers kargo-demo (kargo-admin): the project's roles are ordinary Roles and RoleBindings.")
	s.login("adam")
	r := s.run("kargo get roles --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "uat-promoter", "the seed's Role, made with kubectl")

	r = s.run("kargo create role uat-deployer --project kargo-demo \\\n  --rule get,list,watch:stages,freight,warehouses,promotions \\\n  --rule create:promotions --rule promote:stages:uat")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	role := &rbacv1.Role{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: demo, Name: "uat-deployer"}, role), "kubectl sees the Role")
	require.Equal(t, []string{"uat"}, role.Rules[2].ResourceNames)

	r = s.run("kargo grant --role uat-deployer --user carol --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo grant --role promoter --group oidc:release-managers --service-account ci --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	binding := &rbacv1.RoleBinding{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: demo, Name: "kargo-promoter"}, binding), "kubectl sees the RoleBinding")
	require.Len(t, binding.Subjects, 2)
	r = s.run("kargo get roles --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)

	s.note("A role with a permission adam does not hold is refused by Kubernetes' own escalation check.")
	r = s.run("kargo create role everything --project kargo-demo --rule *:stages")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, "forbidden")
	require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: demo, Name: "everything"}, &rbacv1.Role{})))

	r = s.run("kargo revoke --role promoter --group oidc:release-managers --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo revoke --role promoter --group oidc:release-managers --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code)
	r = s.run("kargo get roles promoter uat-deployer --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)

	s.note("An API token for automation: shown once on stdout (masked here), listed without it.")
	r = s.run("kargo create token ci-bot --role promoter --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	token := strings.TrimSpace(r.stdout)
	require.Regexp(t, jwt, token)
	require.NoError(t, os.WriteFile("ci-bot.token", []byte(token+"\n"), 0o600))
	r = s.run("kargo get tokens --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.NotContains(t, r.stdout, token)
	sa := &corev1.ServiceAccount{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: demo, Name: "ci-bot"}, sa), "kubectl sees the token's ServiceAccount")

	s.note("The token signs in like any other, holds the promoter role, and no more.")
	r = s.run("kargo login " + serverVar + " --token-file ci-bot.token")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo get stages --project kargo-demo -o name")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo create token ci-admin --role admin --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code)
	r = s.run("kargo grant --role admin --service-account ci-bot --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code)

	s.note("alice is a promoter: she may neither grant roles nor mint tokens.")
	s.login("alice")
	for _, line := range []string{
		"kargo grant --role admin --user alice --project kargo-demo",
		"kargo create role mine --project kargo-demo --rule promote:stages",
		"kargo create token alices-bot --role promoter --project kargo-demo",
		"kargo get tokens --project kargo-demo",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, line)
		require.Contains(t, r.stderr, `user "alice" may not`, line)
	}
	s.note("nobody holds no role: the same.")
	s.login("nobody")
	for _, line := range []string{
		"kargo get roles --project kargo-demo",
		"kargo revoke --role uat-deployer --user carol --project kargo-demo",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, line)
		require.Contains(t, r.stderr, `user "nobody" may not`, line)
	}

	s.note("adam revokes the token: it is refused at once.")
	s.login("adam")
	r = s.run("kargo delete token ci-bot --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo login " + serverVar + " --token-file ci-bot.token")
	require.Equal(t, cli.ExitError, r.code)
	r = s.run("kargo delete role uat-deployer --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: demo, Name: "role-uat-deployer"}, &rbacv1.RoleBinding{})), "the grant went with the role")
	s.golden("access_control")
}
