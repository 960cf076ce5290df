package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

type getOptions struct {
	project string
	output  string
	watch   bool
}

func newGetCommand(g *globals) *cobra.Command {
	o := &getOptions{}
	var typeNames []string
	for _, rt := range resourceTypes {
		typeNames = append(typeNames, rt.plural())
	}
	get := &cobra.Command{
		Use:   "get TYPE [NAME...]",
		Short: "List or show Projects, Warehouses, Stages, Freight, Promotions and PromotionPolicies",
		Long: `List the objects of a type in a project, or show the ones named. The types
are ` + strings.Join(typeNames, ", ") + `;
singular and short names work too (stage, promo, ...). Freight may be named by
its name or its alias.

Without --project, the default project (kargo config set-project) is used.
"kargo get stages --help" explains the columns of Stages.`,
		Example: `  kargo get freight --project kargo-demo
  kargo get stages test uat --project kargo-demo -o yaml
  kargo get freight mortal-dragonfly --project kargo-demo -o jsonpath-as-json={.status}
  kargo get promotions --project kargo-demo --watch`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("say what to get: %s", strings.Join(typeNames, ", "))}
			}
			return usageError{fmt.Errorf("unknown type %q; the types are %s", args[0], strings.Join(typeNames, ", "))}
		},
	}
	get.PersistentFlags().StringVar(&o.project, "project", "", "project to look in (default: the configured default project)")
	get.PersistentFlags().StringVarP(&o.output, "output", "o", "", outputHelp)
	get.PersistentFlags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change until interrupted")
	registerProjectCompletion(g, get)
	_ = get.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]cobra.Completion{"json", "yaml", "name", "jsonpath=", "jsonpath-as-json="}, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	for _, rt := range resourceTypes {
		get.AddCommand(&cobra.Command{
			Use:               rt.plural() + " [NAME...]",
			Aliases:           rt.aliases,
			Short:             "List or show " + rt.kind + " objects",
			Long:              rt.help,
			Args:              cobra.ArbitraryArgs,
			ValidArgsFunction: g.completeNames(rt, rt == freightType),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runGet(cmd, g, o, rt, args)
			},
		})
	}
	get.AddCommand(newGetAuditCommand(g, o))
	return get
}

func runGet(cmd *cobra.Command, g *globals, o *getOptions, rt *resourceType, names []string) error {
	format, err := parseOutput(o.output)
	if err != nil {
		return err
	}
	if o.watch && rt == projectType {
		return usageError{errors.New("--watch works for the types inside a project; projects cannot be watched")}
	}
	c, cfg, err := g.connect()
	if err != nil {
		return err
	}
	proj := ""
	if rt != projectType {
		if proj, err = project(o.project, cfg); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	var objs []object
	var missing []error
	if len(names) > 0 {
		for _, name := range names {
			raw, err := c.Get(ctx, rt.api, proj, name)
			if apiclient.IsNotFound(err) {
				missing = append(missing, notFound(err, rt, name, proj))
				continue
			}
			if err != nil {
				return apiError(err, fmt.Sprintf("get %s %s", rt.kind, name), rt, name, proj)
			}
			obj, err := decodeObject(rt, raw)
			if err != nil {
				return err
			}
			objs = append(objs, obj)
		}
	} else {
		items, err := c.ListAll(ctx, rt.api, proj, apiclient.ListOptions{})
		if err != nil {
			return apiError(err, "list "+rt.plural(), projectType, proj, proj)
		}
		if objs, err = decodeObjects(rt, items); err != nil {
			return err
		}
	}
	if rt == stageType && format.name == "" {
		rt = withStops(ctx, c, proj, rt, g.now)
	}
	p := &printer{w: cmd.OutOrStdout(), rt: rt, format: format, now: g.now}
	switch {
	case len(objs) == 0 && len(names) == 0 && format.name == "":
		// As kubectl does: nothing on stdout, so scripts see no table,
		// and a note for whoever reads the terminal.
		if rt == projectType {
			fmt.Fprintln(cmd.ErrOrStderr(), "No projects found.")
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "No %s found in project %s.\n", rt.plural(), proj)
		}
	case len(objs) > 0 || len(names) == 0:
		if err := p.printList(objs, len(names) == 1); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	if !o.watch {
		return nil
	}
	return watchAndPrint(cmd, c, p, rt, proj, names, objs)
}

// freightAliasOf is the alias of a Freight object, and "" for other kinds.
func freightAliasOf(o object) string {
	if f, ok := o.typed.(*kargoapi.Freight); ok {
		return freightAlias(f)
	}
	return ""
}

// watchAndPrint prints each change to objects of rt (only those in names,
// when given) until the command's context ends. Changes to what was just
// listed are skipped: servers may start a watch by sending every object.
func watchAndPrint(cmd *cobra.Command, c *apiclient.Client, p *printer, rt *resourceType, proj string, names []string, listed []object) error {
	ctx := cmd.Context()
	events, err := c.Watch(ctx, rt.api, proj)
	if err != nil {
		return apiError(err, "watch "+rt.plural(), projectType, proj, proj)
	}
	seen := map[string]string{}
	for _, o := range listed {
		seen[o.typed.GetName()] = o.typed.GetResourceVersion()
	}
	for ev := range events {
		if err := apiclient.EventError(ev); err != nil {
			return err
		}
		obj, err := decodeObject(rt, ev.Object)
		if err != nil {
			return err
		}
		name, version := obj.typed.GetName(), obj.typed.GetResourceVersion()
		if len(names) > 0 && !slices.Contains(names, name) && !slices.Contains(names, freightAliasOf(obj)) {
			continue
		}
		if v, ok := seen[name]; ok && v == version && version != "" {
			continue
		}
		seen[name] = version
		if err := p.print([]object{obj}); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("the kargo API server ended the watch")
}
