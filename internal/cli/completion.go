package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

// completionTimeout bounds the API calls of one completion: the shell waits
// for them with the user's cursor frozen, and no completion beats a late
// one.
const completionTimeout = 5 * time.Second

func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script",
		Long: `Print the script that makes the shell complete kargo's commands, flags and the
names of Projects, Stages, Warehouses and Freight (names and aliases), which
it asks the API server for.

  bash:  source <(kargo completion bash)
  zsh:   kargo completion zsh > "${fpath[1]}/_kargo"
  fish:  kargo completion fish > ~/.config/fish/completions/kargo.fish`,
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish"},
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, root := cmd.OutOrStdout(), cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			}
			return root.GenFishCompletion(out, true)
		},
	}
}

// completionContext bounds the API calls of a completion.
func completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// registerProjectCompletion completes --project of cmd with project names.
func registerProjectCompletion(g *globals, cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("project", g.completeProjects)
}

// completeProjects offers the names of the projects the caller may see.
// Every failure offers nothing: completion must never print noise into the
// user's command line.
func (g *globals) completeProjects(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, _, err := g.connect()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	ps, err := c.ListProjects(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, p := range ps {
		if strings.HasPrefix(p.Name, toComplete) {
			out = append(out, p.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeNames offers the names of the objects of rt in the command's
// project, leaving out those already on the command line. For Freight,
// withAliases offers aliases too, each described by the other.
func (g *globals) completeNames(rt *resourceType, withAliases bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if rt == projectType {
			out, dir := g.completeProjects(cmd, args, toComplete)
			return slices.DeleteFunc(out, func(s string) bool { return slices.Contains(args, s) }), dir
		}
		return g.complete(cmd, rt, args, toComplete, true, withAliases)
	}
}

// completeFlag is completeNames for a flag: it offers names, aliases or
// both, whatever is already on the command line.
func (g *globals) completeFlag(rt *resourceType, names, aliases bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return g.complete(cmd, rt, nil, toComplete, names, aliases)
	}
}

func (g *globals) complete(cmd *cobra.Command, rt *resourceType, exclude []string, toComplete string, names, aliases bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	const none = cobra.ShellCompDirectiveNoFileComp
	c, cfg, err := g.connect()
	if err != nil {
		return nil, none
	}
	flag := ""
	if f := cmd.Flags().Lookup("project"); f != nil {
		flag = f.Value.String()
	}
	proj, err := project(flag, cfg)
	if err != nil {
		return nil, none
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	items, err := c.ListAll(ctx, rt.api, proj, apiclient.ListOptions{})
	if err != nil {
		return nil, none
	}
	objs, err := decodeObjects(rt, items)
	if err != nil {
		return nil, none
	}
	var out []cobra.Completion
	offer := func(value, description string) {
		if value == "" || !strings.HasPrefix(value, toComplete) || slices.Contains(exclude, value) {
			return
		}
		if description != "" {
			out = append(out, cobra.CompletionWithDesc(value, description))
			return
		}
		out = append(out, value)
	}
	for _, o := range objs {
		f, isFreight := o.typed.(*kargoapi.Freight)
		if !isFreight {
			offer(o.typed.GetName(), "")
			continue
		}
		alias := freightAlias(f)
		if names {
			offer(f.Name, alias)
		}
		if aliases {
			offer(alias, f.Name)
		}
	}
	return out, none
}
