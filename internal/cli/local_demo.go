package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/localcp"
	"github.com/kargohq/kargo/internal/localsrc/gitserver"
	"github.com/kargohq/kargo/internal/localsrc/registry"
)

// demoState is what `kargo local --demo` keeps in DATA/demo/state.json:
// where its sources listen (the Warehouse and Stages name them, so they
// must not move between starts) and where the API server is, for
// `kargo local demo publish`.
type demoState struct {
	Registry string `json:"registry"`
	Git      string `json:"git"`
	API      string `json:"api"`
}

func demoStatePath(dataDir string) string { return filepath.Join(dataDir, "demo", "state.json") }

func loadDemoState(dataDir string) (demoState, error) {
	var s demoState
	b, err := os.ReadFile(demoStatePath(dataDir))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", demoStatePath(dataDir), err)
	}
	return s, nil
}

func saveDemoState(dataDir string, s demoState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(demoStatePath(dataDir), append(b, '\n'), 0o600)
}

// startDemo serves the demo's registry and Git server, fills them the
// first time, creates what is missing of the kargo-demo project, writes
// kargo CLI configs for its users, and waits (a while) for the first
// Freight to reach test. It returns lines for the banner.
func startDemo(ctx context.Context, c client.Client, cp *localcp.ControlPlane, o localOptions, apiURL string, policy *egress.Policy, argo *localcp.ArgoCD) (string, error) {
	dir := filepath.Join(o.dataDir, "demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	prev, err := loadDemoState(o.dataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	addr := func(flag, kept string) string {
		switch {
		case flag != "":
			return flag
		case kept != "":
			return kept
		}
		return "127.0.0.1:0"
	}
	inUse := func(what, a string, err error) error {
		return fmt.Errorf("the demo %s cannot listen on %s: %w; the demo's Warehouse and Stages name that address (kept in %s), so free it, or start over with --reset",
			what, a, err, demoStatePath(o.dataDir))
	}
	regAddr := addr(o.demoRegistryAddr, prev.Registry)
	reg, err := registry.Serve(ctx, regAddr, filepath.Join(dir, "registry"))
	if err != nil {
		return "", inUse("registry", regAddr, err)
	}
	gitAddr := addr(o.demoGitAddr, prev.Git)
	gitRoot := filepath.Join(dir, "git")
	git, err := gitserver.Serve(ctx, gitAddr, gitRoot)
	if err != nil {
		return "", inUse("Git server", gitAddr, err)
	}
	state := demoState{Registry: reg.Host(), Git: strings.TrimPrefix(git.URL(), "http://"), API: apiURL}
	// The controllers may reach exactly these two of this machine's
	// addresses.
	rules, err := egress.ParseRules(state.Registry + "," + state.Git)
	if err != nil {
		return "", fmt.Errorf("allow the demo's sources: %w", err)
	}
	policy.Allow(rules...)
	if err := saveDemoState(o.dataDir, state); err != nil {
		return "", err
	}
	src := demo.Sources{Image: reg.Host() + "/" + demo.ImageRepo, GitOps: git.RepoURL(demo.GitOpsRepo)}
	if argo != nil {
		src.ArgoCDServer = argo.Server
	}

	// The same tag always makes the same image, so pushing the first tags
	// again at every start changes nothing.
	for _, tag := range demo.InitialTags {
		if _, err := registry.PushImage(ctx, reg.Host(), demo.ImageRepo, tag); err != nil {
			return "", fmt.Errorf("demo registry: push %s:%s: %w", demo.ImageRepo, tag, err)
		}
	}
	files, err := demo.GitOpsFiles(src)
	if err != nil {
		return "", err
	}
	if err := gitserver.CreateRepo(gitRoot, demo.GitOpsRepo, files, "kargo-demo: base, and an overlay and Helm values for each Stage"); err != nil {
		return "", fmt.Errorf("demo Git server: %w", err)
	}
	if err := demo.Apply(ctx, c, src); err != nil {
		return "", err
	}

	var users []string
	for _, u := range demo.Users {
		token, err := cp.UserToken(u)
		if err != nil {
			return "", err
		}
		path := filepath.Join(o.dataDir, "kargo-"+u+".yaml")
		if err := saveConfig(path, &Config{Server: apiURL, Token: token, Project: demo.Project}); err != nil {
			return "", err
		}
		users = append(users, fmt.Sprintf("  %-12s %s (kargo --config), %s (kubectl)", u+":", path, cp.UserKubeconfigPath(u)))
	}

	first := waitFirstFreightInTest(ctx, c, time.Minute)
	// What the registry holds now: the first tags and every one published
	// since.
	tags, err := demoRegistryTags(ctx, reg.Host())
	if err != nil {
		return "", fmt.Errorf("demo registry: %w", err)
	}
	return fmt.Sprintf(`
The kargo-demo project is set up (%s):
  registry:    %s (repository %s, tags %s)
  GitOps repo: %s
%s
Publish a new image tag with: kargo local demo publish %s
`, first, reg.URL(), demo.ImageRepo, strings.Join(tags, ", "), src.GitOps, strings.Join(users, "\n"), nextDemoTag(tags)), nil
}

// waitFirstFreightInTest waits until the first Stage has Freight, which the
// Warehouse and the PromotionPolicy bring within seconds of a first start,
// verified there (with Argo CD, once it reports the Stage's Application
// Healthy), and says what it holds.
func waitFirstFreightInTest(ctx context.Context, c client.Client, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	var verifiedAt time.Time
	for {
		st := &kargoapi.Stage{}
		err := c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: demo.Stages[0]}, st)
		if cur := st.Status.CurrentFreight; err == nil && cur != nil {
			f := &kargoapi.Freight{}
			err = c.Get(ctx, client.ObjectKey{Namespace: demo.Project, Name: cur.ID}, f)
			if _, verified := f.Status.VerifiedIn[demo.Stages[0]]; err == nil && verified {
				if verifiedAt.IsZero() {
					verifiedAt = time.Now()
				}
				if healthyOrUnwatched(st) || time.Since(verifiedAt) > healthSettle {
					return fmt.Sprintf("Freight %s is in %s, verified, health %s", cur.Alias, demo.Stages[0], healthOf(st))
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("no Freight in %s yet: see kargo get warehouses --project %s", demo.Stages[0], demo.Project)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type publishOptions struct {
	dataDir string
	commit  string
	timeout time.Duration
}

func newLocalDemoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Act on the sources of kargo local --demo",
		Args:  cobra.NoArgs,
	}
	o := publishOptions{}
	publish := &cobra.Command{
		Use:   "publish TAG | --commit MESSAGE",
		Short: "Push a new nginx tag to the demo registry, or a commit to the demo GitOps repository",
		Long: `Publish a new artifact to a running kargo local --demo, as a CI pipeline would:
push image nginx:TAG to the demo registry, or, with --commit, commit to the
main branch of the demo GitOps repository. The demo Warehouse is told to look
at once; the command waits for the Freight it makes and, where a
PromotionPolicy auto-promotes, for that promotion and for the Freight to be
verified there (with Argo CD running: once it reports the Stage's
Application Healthy at the promoted commit), and prints each.`,
		Example: `  kargo local demo publish 1.27.0
  kargo local demo publish --commit "two replicas"`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.commit == "" && len(args) != 1:
				return usageError{errors.New("name the tag to publish, such as `kargo local demo publish 1.27.0`, or pass --commit MESSAGE")}
			case o.commit != "" && len(args) != 0:
				return usageError{errors.New("publish either a TAG or --commit MESSAGE, not both")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			tag := ""
			if len(args) == 1 {
				tag = args[0]
			}
			return runPublish(cmd.Context(), cmd.OutOrStdout(), o, tag)
		},
	}
	f := publish.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "data directory of the running kargo local --demo (default: the one running, else "+defaultDataDir()+")")
	f.StringVar(&o.commit, "commit", "", "commit this message (in base/release-notes.md) to main instead of pushing a tag")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the Freight, its auto-promotion and its verification")
	cmd.AddCommand(publish)
	return cmd
}

func runPublish(ctx context.Context, out io.Writer, o publishOptions, tag string) error {
	if o.dataDir == "" {
		dir, err := runningDemoDataDir()
		if err != nil {
			return err
		}
		o.dataDir = dir
	}
	state, err := loadDemoState(o.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no kargo local --demo is running, and %s holds none: start one with `make run` (kargo local --demo), or pass the --data-dir of yours", o.dataDir)
	}
	if err != nil {
		return err
	}
	token, err := os.ReadFile(filepath.Join(o.dataDir, "api-token"))
	if err != nil {
		return fmt.Errorf("the local admin's token: %w", err)
	}
	api, err := apiclient.New(state.API, strings.TrimSpace(string(token)))
	if err != nil {
		return err
	}
	wh := &kargoapi.Warehouse{}
	if err := api.GetInto(ctx, apiclient.Warehouses, demo.Project, demo.Warehouse, wh); err != nil {
		return fmt.Errorf("is kargo local --demo running on %s? %w", o.dataDir, err)
	}

	var match func(*kargoapi.Freight) bool
	if tag != "" {
		tags, err := demoRegistryTags(ctx, state.Registry)
		if err != nil {
			return fmt.Errorf("is kargo local --demo running on %s? %w", o.dataDir, err)
		}
		if err := checkTag(wh, state.Registry, tag, tags); err != nil {
			return err
		}
		digest, err := registry.PushImage(ctx, state.Registry, demo.ImageRepo, tag)
		if err != nil {
			return fmt.Errorf("push %s/%s:%s: %w", state.Registry, demo.ImageRepo, tag, err)
		}
		fmt.Fprintf(out, "Pushed %s/%s:%s (%s)\n", state.Registry, demo.ImageRepo, tag, digest)
		match = func(f *kargoapi.Freight) bool {
			return slices.ContainsFunc(f.Images, func(i kargoapi.Image) bool { return i.Tag == tag })
		}
	} else {
		files := map[string]string{"base/release-notes.md": o.commit + "\n"}
		sha, err := gitserver.Commit(filepath.Join(o.dataDir, "demo", "git"), demo.GitOpsRepo, "main", files, o.commit)
		if err != nil {
			return fmt.Errorf("commit to %s: %w", demo.GitOpsRepo, err)
		}
		fmt.Fprintf(out, "Committed %s to main of %s\n", sha[:7], demo.GitOpsRepo)
		match = func(f *kargoapi.Freight) bool {
			return slices.ContainsFunc(f.Commits, func(c kargoapi.GitCommit) bool { return c.ID == sha })
		}
	}
	if _, err := api.RefreshWarehouse(ctx, demo.Project, demo.Warehouse); err != nil {
		return fmt.Errorf("ask Warehouse %s to look: %w", demo.Warehouse, err)
	}

	deadline := time.Now().Add(o.timeout)
	var found *kargoapi.Freight
	for found == nil {
		items, err := api.ListAll(ctx, apiclient.Freight, demo.Project, apiclient.ListOptions{})
		if err != nil {
			return err
		}
		all, err := apiclient.DecodeItems[kargoapi.Freight](items)
		if err != nil {
			return err
		}
		for i := range all {
			if match(&all[i]) {
				found = &all[i]
				break
			}
		}
		if found == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("Warehouse %s made no Freight of it within %s: see kargo get warehouses --project %s", demo.Warehouse, o.timeout, demo.Project)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	fmt.Fprintf(out, "Warehouse %s made Freight %s (%s)\n", demo.Warehouse, found.Alias, found.Name)

	stages, err := autoPromotedStages(ctx, api, demo.Warehouse)
	if err != nil {
		return err
	}
	for _, stage := range stages {
		for {
			st := &kargoapi.Stage{}
			if err := api.GetInto(ctx, apiclient.Stages, demo.Project, stage, st); err != nil {
				return err
			}
			if cur := st.Status.CurrentFreight; cur != nil && cur.ID == found.Name {
				fmt.Fprintf(out, "Auto-promoted into %s\n", stage)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("Freight %s was not auto-promoted into %s within %s: see kargo get promotions --project %s", found.Alias, stage, o.timeout, demo.Project)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Verified there (with Argo CD: once it reports the synced commit
		// Healthy), the Freight is available downstream.
		var verifiedAt time.Time
		for {
			f := &kargoapi.Freight{}
			if err := api.GetInto(ctx, apiclient.Freight, demo.Project, found.Name, f); err != nil {
				return err
			}
			if _, ok := f.Status.VerifiedIn[stage]; ok {
				st := &kargoapi.Stage{}
				if err := api.GetInto(ctx, apiclient.Stages, demo.Project, stage, st); err != nil {
					return err
				}
				if verifiedAt.IsZero() {
					verifiedAt = time.Now()
				}
				if healthyOrUnwatched(st) || time.Since(verifiedAt) > healthSettle {
					fmt.Fprintf(out, "Verified in %s (health %s)\n", stage, healthOf(st))
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("Freight %s was not verified in %s within %s: see kargo get stage %s --project %s", found.Alias, stage, o.timeout, stage, demo.Project)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// checkTag refuses, at once, a tag that would make no new Freight, rather
// than wait for Freight that cannot come: one the registry holds already
// (tags lists them), or one the Warehouse would never pick, because it
// does not match its SemVer constraint or is older than the newest tag that
// does (the Warehouse takes the newest).
func checkTag(wh *kargoapi.Warehouse, registryHost, tag string, tags []string) error {
	v, err := semver.StrictNewVersion(tag)
	if err != nil {
		return usageError{fmt.Errorf("%q is not a semantic version such as 1.27.0: the demo Warehouse selects tags by SemVer", tag)}
	}
	next := nextDemoTag(tags)
	if slices.Contains(tags, tag) {
		return usageError{fmt.Errorf("%s:%s is in the demo registry already, so the Warehouse has seen it (kargo get freight --project %s shows its Freight): publish a new tag, such as %s",
			demo.ImageRepo, tag, demo.Project, next)}
	}
	for _, s := range wh.Spec.Subscriptions.Images {
		if string(s.RepoURL) != registryHost+"/"+demo.ImageRepo {
			continue
		}
		if s.ImageSelectionStrategy != "" && s.ImageSelectionStrategy != kargoapi.ImageSelectionSemVer {
			continue
		}
		constraint := "any version"
		matches := func(*semver.Version) bool { return true }
		if r := s.VersionRange(); r != "" {
			c, err := semver.NewConstraint(r)
			if err != nil {
				return err
			}
			constraint, matches = r, c.Check
		}
		if !matches(v) {
			return usageError{fmt.Errorf("Warehouse %s takes %s tags matching %s, so it would never pick %s: publish a tag that matches, such as %s",
				wh.Name, demo.ImageRepo, constraint, tag, next)}
		}
		var newest *semver.Version
		for _, t := range semverTags(tags) {
			if matches(t) {
				newest = t
			}
		}
		if newest != nil && v.LessThan(newest) {
			return usageError{fmt.Errorf("Warehouse %s takes the newest %s tag matching %s, which is %s, so it would never pick the older %s: publish a newer tag, such as %s",
				wh.Name, demo.ImageRepo, constraint, newest.Original(), tag, next)}
		}
	}
	return nil
}

// semverTags returns the tags that are semantic versions, oldest first.
func semverTags(tags []string) []*semver.Version {
	var vs []*semver.Version
	for _, t := range tags {
		if v, err := semver.StrictNewVersion(t); err == nil {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b *semver.Version) int { return a.Compare(b) })
	return vs
}

// nextDemoTag suggests a tag to publish: the minor version after the
// newest of tags, which the demo Warehouse's ^1.24.0 takes.
func nextDemoTag(tags []string) string {
	vs := semverTags(tags)
	if len(vs) == 0 {
		return demo.InitialTags[len(demo.InitialTags)-1]
	}
	return vs[len(vs)-1].IncMinor().String()
}

// demoRegistryTags lists the demo image's tags, oldest first: what the
// registry holds now, after every publish.
func demoRegistryTags(ctx context.Context, host string) ([]string, error) {
	tags, err := registry.Tags(ctx, host, demo.ImageRepo)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range semverTags(tags) {
		out = append(out, v.Original())
	}
	return out, nil
}

// autoPromotedStages lists the Stages fed by the Warehouse whose
// PromotionPolicy auto-promotes.
func autoPromotedStages(ctx context.Context, api *apiclient.Client, warehouse string) ([]string, error) {
	items, err := api.ListAll(ctx, apiclient.PromotionPolicies, demo.Project, apiclient.ListOptions{})
	if err != nil {
		return nil, err
	}
	policies, err := apiclient.DecodeItems[kargoapi.PromotionPolicy](items)
	if err != nil {
		return nil, err
	}
	items, err = api.ListAll(ctx, apiclient.Stages, demo.Project, apiclient.ListOptions{})
	if err != nil {
		return nil, err
	}
	stages, err := apiclient.DecodeItems[kargoapi.Stage](items)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range stages {
		if st.Spec.Subscriptions == nil || st.Spec.Subscriptions.Warehouse != warehouse {
			continue
		}
		if slices.ContainsFunc(policies, func(p kargoapi.PromotionPolicy) bool { return p.Stage == st.Name && p.EnableAutoPromotion }) {
			out = append(out, st.Name)
		}
	}
	return out, nil
}
