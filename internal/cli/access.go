package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
)

// The commands of project roles and API tokens: create role, delete role,
// grant, revoke, get roles, create token, get tokens, delete token. The
// API server makes every change as the caller, so RBAC's own rules say who
// may grant what.

// projectClient connects and resolves the project of a command.
func (g *globals) projectClient(flag string) (*apiclient.Client, string, error) {
	c, cfg, err := g.connect()
	if err != nil {
		return nil, "", err
	}
	p, err := project(flag, cfg)
	if err != nil {
		return nil, "", err
	}
	return c, p, nil
}

func newCreateRoleCommand(g *globals) *cobra.Command {
	var proj string
	var rules []string
	cmd := &cobra.Command{
		Use:   "role NAME --rule VERBS:RESOURCES[:NAMES]...",
		Short: "Create a role in a project",
		Long: `Create a Role in the project's namespace, with one rule per --rule: verbs,
resources and, optionally, the names of the objects it is limited to, each
a comma-separated list. The resources are stages, warehouses, freight,
promotions, promotionpolicies and promotionwindows; the verbs are
Kubernetes' (get, list, watch, create, update, patch, delete,
deletecollection) and kargo's promote, hold, release, freeze, unfreeze and
override-window on stages.

The Role is made with your own rights: Kubernetes refuses a role that grants
anything you do not hold yourself. Grant it with kargo grant.`,
		Example: `  kargo create role uat-deployer --project kargo-demo \
    --rule get,list,watch:stages,freight,warehouses,promotions \
    --rule promote:stages:uat --rule create:promotions`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := apitypes.CreateRoleRequest{Name: args[0]}
			if len(rules) == 0 {
				return usageError{errors.New("give the role's rules with --rule VERBS:RESOURCES[:NAMES], such as --rule promote:stages:uat")}
			}
			for _, r := range rules {
				rule, err := parseRule(r)
				if err != nil {
					return err
				}
				req.Rules = append(req.Rules, rule)
			}
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			if _, err := c.CreateRole(cmd.Context(), p, req); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Role %s created in project %s\n", args[0], p)
			return err
		},
	}
	cmd.Flags().StringVar(&proj, "project", "", "project of the role (default: the configured default project)")
	cmd.Flags().StringArrayVar(&rules, "rule", nil, "a rule, VERBS:RESOURCES[:NAMES] with comma-separated lists (repeatable)")
	registerProjectCompletion(g, cmd)
	return cmd
}

// parseRule parses VERBS:RESOURCES[:NAMES].
func parseRule(s string) (apitypes.RoleRule, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return apitypes.RoleRule{}, usageError{fmt.Errorf("--rule %q is not VERBS:RESOURCES[:NAMES], such as promote:stages:uat", s)}
	}
	rule := apitypes.RoleRule{Verbs: strings.Split(parts[0], ","), Resources: strings.Split(parts[1], ",")}
	if len(parts) == 3 && parts[2] != "" {
		rule.ResourceNames = strings.Split(parts[2], ",")
	}
	return rule, nil
}

func newDeleteRoleCommand(g *globals) *cobra.Command {
	var proj string
	cmd := &cobra.Command{
		Use:   "role NAME",
		Short: "Delete a role of a project, and the grants kargo made of it",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			if err := c.DeleteRole(cmd.Context(), p, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Role %s deleted from project %s\n", args[0], p)
			return err
		},
	}
	cmd.Flags().StringVar(&proj, "project", "", "project of the role (default: the configured default project)")
	registerProjectCompletion(g, cmd)
	return cmd
}

// newGrantCommand is kargo grant, or kargo revoke when revoke.
func newGrantCommand(g *globals, revoke bool) *cobra.Command {
	var proj, role string
	var req apitypes.GrantRequest
	use, short, verb := "grant", "Grant a project role to users, groups or service accounts", "granted to"
	long := `Grant a role of the project to users, groups and service accounts, with a
RoleBinding in the project's namespace (one per role, named after it), made
with your own rights: Kubernetes lets you grant only a role whose
permissions you hold yourself. The roles are admin, approver, promoter and viewer
(kargo's shipped ClusterRoles) and the project's own (kargo get roles).

Users and groups are named as the Kubernetes API server and kargo's API
server know them: users of single sign-on with their prefix, such as
oidc:alice@example.com or oidc:promoters. A service account is NAME in the
project, or NAMESPACE:NAME.`
	example := `  kargo grant --role promoter --group oidc:release-managers --project kargo-demo
  kargo grant --role uat-deployer --user alice --service-account ci --project kargo-demo`
	if revoke {
		use, short, verb = "revoke", "Revoke a project role from users, groups or service accounts", "revoked from"
		long = `Remove users, groups and service accounts from every RoleBinding of the
project that binds the role (kubectl's ones too), with your own rights. A
RoleBinding kargo grant made is deleted with its last subject.`
		example = `  kargo revoke --role promoter --group oidc:release-managers --project kargo-demo`
	}
	cmd := &cobra.Command{
		Use:     use + " --role ROLE (--user USER | --group GROUP | --service-account SA)...",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if role == "" {
				return usageError{errors.New("name the role with --role (admin, approver, promoter, viewer, or a role of the project)")}
			}
			if len(req.Users)+len(req.Groups)+len(req.ServiceAccounts) == 0 {
				return usageError{fmt.Errorf("name whom with --user, --group or --service-account")}
			}
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			send := c.Grant
			if revoke {
				send = c.Revoke
			}
			if _, err := send(cmd.Context(), p, role, req); err != nil {
				return err
			}
			var whom []string
			for _, u := range req.Users {
				whom = append(whom, "user "+u)
			}
			for _, gr := range req.Groups {
				whom = append(whom, "group "+gr)
			}
			for _, sa := range req.ServiceAccounts {
				whom = append(whom, "service account "+sa)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Role %s %s %s in project %s\n", role, verb, strings.Join(whom, ", "), p)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&proj, "project", "", "project of the role (default: the configured default project)")
	f.StringVar(&role, "role", "", "the role: admin, approver, promoter, viewer or a role of the project")
	f.StringArrayVar(&req.Users, "user", nil, "a user (repeatable)")
	f.StringArrayVar(&req.Groups, "group", nil, "a group (repeatable)")
	f.StringArrayVar(&req.ServiceAccounts, "service-account", nil, "a service account, NAME in the project or NAMESPACE:NAME (repeatable)")
	registerProjectCompletion(g, cmd)
	return cmd
}

func newGetRolesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "roles [NAME...]",
		Short: "List a project's roles and whom they are granted to",
		Long: `List the roles of the project: kargo's shipped admin, approver, promoter and viewer
(ClusterRoles) and the project's Roles, each with the users, groups and
service accounts its RoleBindings grant it to. API tokens are listed by
kargo get tokens.`,
		Aliases: []string{"role"},
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, names []string) error {
			proj, output := getFlags(cmd)
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			roles, err := c.Roles(cmd.Context(), p)
			if err != nil {
				return err
			}
			if len(names) > 0 {
				var picked []apitypes.Role
				for _, n := range names {
					found := false
					for _, r := range roles {
						if r.Name == n || r.Name == "kargo-"+n {
							picked, found = append(picked, r), true
						}
					}
					if !found {
						return fmt.Errorf("role %q not found in project %s", n, p)
					}
				}
				roles = picked
			}
			return printAccess(cmd.OutOrStdout(), output, apitypes.RoleList{Items: roles}, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tKIND\tUSERS\tGROUPS\tSERVICE ACCOUNTS")
				for _, r := range roles {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, list(r.Users), list(r.Groups), list(r.ServiceAccounts))
				}
			}, func() []string {
				var out []string
				for _, r := range roles {
					out = append(out, strings.ToLower(r.Kind)+"/"+r.Name)
				}
				return out
			})
		},
	}
}

func newCreateTokenCommand(g *globals) *cobra.Command {
	var proj, role string
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "token NAME --role ROLE",
		Short: "Create an API token for automation, holding one project role",
		Long: `Create an API token in the project holding one role (admin, approver, promoter, viewer
or a role of the project), and print it on standard output once: it is
stored nowhere and cannot be shown again. Use it with kargo login SERVER
--token-file FILE, or as "Authorization: Bearer TOKEN" with the API.

The token is a Kubernetes ServiceAccount of the project bound to the role;
it is made with your own rights, so you cannot give a token a role you could
not grant. kargo delete token revokes it.`,
		Example: `  kargo create token ci --role promoter --project kargo-demo > ci.token
  kargo create token nightly --role viewer --duration 720h --project kargo-demo`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return usageError{errors.New("name the token's role with --role (admin, approver, promoter, viewer, or a role of the project)")}
			}
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), p, apitypes.CreateTokenRequest{Name: args[0], Role: role, ExpirationSeconds: int64(lifetime / time.Second)})
			if err != nil {
				return err
			}
			expires := "never"
			if t.Expires != nil {
				expires = t.Expires.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %s created in project %s with role %s, as %s, expiring %s.\nIt is shown once, below: keep it now.\n", t.Name, p, t.Role, t.Username, expires)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), t.Token)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&proj, "project", "", "project of the token (default: the configured default project)")
	f.StringVar(&role, "role", "", "the token's role: admin, approver, promoter, viewer or a role of the project")
	f.DurationVar(&lifetime, "duration", 0, "how long the token is valid, at least 10m (default 2160h, 90 days; the cluster may shorten it)")
	registerProjectCompletion(g, cmd)
	return cmd
}

func newGetTokensCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "tokens",
		Short:   "List a project's API tokens, without their secrets",
		Aliases: []string{"token"},
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			proj, output := getFlags(cmd)
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			tokens, err := c.Tokens(cmd.Context(), p)
			if err != nil {
				return err
			}
			if len(tokens) == 0 && output == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "No tokens found in project %s.\n", p)
				return nil
			}
			return printAccess(cmd.OutOrStdout(), output, apitypes.TokenList{Items: tokens}, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tROLE\tCREATED BY\tEXPIRES\tAGE")
				for _, t := range tokens {
					expires := "never"
					if t.Expires != nil {
						expires = t.Expires.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedBy, expires, duration.HumanDuration(g.now().Sub(t.Created.Time)))
				}
			}, func() []string {
				var out []string
				for _, t := range tokens {
					out = append(out, "token/"+t.Name)
				}
				return out
			})
		},
	}
}

func newDeleteTokenCommand(g *globals) *cobra.Command {
	var proj string
	cmd := &cobra.Command{
		Use:   "token NAME",
		Short: "Revoke an API token",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.projectClient(proj)
			if err != nil {
				return err
			}
			if err := c.DeleteToken(cmd.Context(), p, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Token %s revoked in project %s\n", args[0], p)
			return err
		},
	}
	cmd.Flags().StringVar(&proj, "project", "", "project of the token (default: the configured default project)")
	registerProjectCompletion(g, cmd)
	return cmd
}

// getFlags returns the --project and -o flags kargo get's subcommands
// inherit.
func getFlags(cmd *cobra.Command) (project, output string) {
	project, _ = cmd.Flags().GetString("project")
	output, _ = cmd.Flags().GetString("output")
	return project, output
}

// printAccess prints roles or tokens as a table, json, yaml or names.
func printAccess(out io.Writer, output string, v any, table func(io.Writer), names func() []string) error {
	switch output {
	case "":
		w := tabwriter.NewWriter(out, 0, 8, columnGap, ' ', 0)
		table(w)
		return w.Flush()
	case "name":
		for _, n := range names() {
			if _, err := fmt.Fprintln(out, n); err != nil {
				return err
			}
		}
		return nil
	case "json", "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if output == "json" {
			if b, err = yaml.YAMLToJSON(b); err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			b = append(b, '\n')
		}
		_, err = out.Write(b)
		return err
	}
	return usageError{fmt.Errorf("-o %s does not work for roles and tokens; use json, yaml or name", output)}
}

// list shows a list in a table cell.
func list(items []string) string {
	if len(items) == 0 {
		return "<none>"
	}
	return strings.Join(items, ",")
}
