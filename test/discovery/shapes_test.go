package discovery

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// shapesListForm rewrites the object form of subscriptions ({git: [..],
// images: [..], charts: [..]}) as Kargo v0.4–v0.6's list of one-of
// entries.
func shapesListForm(object map[string]any) []any {
	var list []any
	for _, kind := range []struct{ many, one string }{{"images", "image"}, {"git", "git"}, {"charts", "chart"}} {
		entries, _ := object[kind.many].([]any)
		for _, e := range entries {
			list = append(list, map[string]any{kind.one: e})
		}
	}
	if list == nil {
		list = []any{}
	}
	return list
}

// A Warehouse's subscriptions are refused, with a message that names the
// field and says what to write, by the same rules in either shape: the
// object, or the list of one-of entries of Kargo v0.4–v0.6. (The schema
// leaves them to kargo's Warehouse webhook, which reads both shapes.)
func TestWarehouseSubscriptionRulesInBothShapes(t *testing.T) {
	ns := env.NewProject(t, "shapes")
	cases := []struct {
		name string
		subs string
		want []string
	}{
		{"semver constraint with too many alternatives", `images: [{repoURL: nginx, semverConstraint: "` + strings.Repeat("1||", 32) + `1"}]`, []string{"at most 32 ranges"}},
		{"git repoURL that is not a URL", `git: [{repoURL: "not a url"}]`, []string{"spec.subscriptions.git[0].repoURL", "must be a Git URL"}},
		{"image repoURL with a tag", `images: [{repoURL: "nginx:1.25"}]`, []string{"spec.subscriptions.images[0].repoURL", "without tag or digest"}},
		{"digest strategy without a tag", `images: [{repoURL: nginx, imageSelectionStrategy: Digest}]`, []string{"Digest needs tag"}},
		{"branch with a tag strategy", `git: [{repoURL: "https://git.example/demo.git", branch: main, commitSelectionStrategy: SemVer}]`, []string{"branch applies only to commitSelectionStrategy NewestFromBranch"}},
		{"path filters with a tag strategy", `git: [{repoURL: "https://git.example/demo.git", commitSelectionStrategy: NewestTag, includePaths: [apps/]}]`, []string{"includePaths and excludePaths filter the commits of a branch"}},
		{"HTTP chart repository without a chart name", `charts: [{repoURL: "https://charts.example"}]`, []string{"name is required for an HTTP(S) chart repository"}},
		{"no subscriptions", `{}`, []string{"subscribe to at least one git, images or charts repository"}},
		{"git subscription with a password in repoURL", `git: [{repoURL: "https://robot:hunter2@git.example.com/app.git"}]`, []string{"repoURL must not hold credentials", "git credential Secret"}},
		{"git subscription with a token before @", `git: [{repoURL: "HTTPS://ghp_0123456789@github.com/example/app.git"}]`, []string{"repoURL must not hold credentials"}},
		{"chart subscription with a password in repoURL", `charts: [{repoURL: "oci://robot:hunter2@registry.example.com/charts/app"}]`, []string{"repoURL must not hold credentials", "helm credential Secret"}},
		{"strictSemvers false", `images: [{repoURL: nginx, strictSemvers: false}]`, []string{"strictSemvers: false is not supported"}},
		{"discoveryLimit out of range", `charts: [{repoURL: "oci://registry.example.com/charts/app", discoveryLimit: 1000}]`, []string{"spec.subscriptions.charts[0].discoveryLimit", "less than or equal to 100"}},
	}
	for i, tc := range cases {
		object := map[string]any{}
		require.NoError(t, yaml.Unmarshal([]byte(tc.subs), &object))
		for shape, subs := range map[string]any{"object": object, "list": shapesListForm(object)} {
			t.Run(tc.name+", "+shape, func(t *testing.T) {
				u := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse",
					"metadata": map[string]any{"name": fmt.Sprintf("w%d-%s", i, shape), "namespace": ns},
					"spec":     map[string]any{"subscriptions": subs},
				}}
				err := env.Admin.Create(context.Background(), u)
				require.Error(t, err)
				for _, w := range tc.want {
					require.Contains(t, err.Error(), w)
				}
			})
		}
	}
}
