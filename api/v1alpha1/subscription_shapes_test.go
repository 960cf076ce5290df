package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
)

// Both shapes of a Warehouse's subscriptions read as the same object, with
// the object form's defaults; anything else is refused, saying why.
func TestRepoSubscriptionsShapes(t *testing.T) {
	object := `{"git":[{"repoURL":"https://git.example/app.git","branch":"main"}],"images":[{"repoURL":"nginx","semverConstraint":"^1.0.0"},{"repoURL":"ghcr.io/example/app","discoveryLimit":5}],"charts":[{"repoURL":"https://charts.example","name":"app"}]}`
	list := `[{"image":{"repoURL":"nginx","semverConstraint":"^1.0.0"}},{"git":{"repoURL":"https://git.example/app.git","branch":"main"}},{"chart":{"repoURL":"https://charts.example","name":"app"}},{"image":{"repoURL":"ghcr.io/example/app","discoveryLimit":5}}]`
	var a, b RepoSubscriptions
	if err := json.Unmarshal([]byte(object), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(list), &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("the shapes differ:\nobject %s\nlist   %s", ja, jb)
	}
	if a.Git[0].CommitSelectionStrategy != CommitSelectionNewestFromBranch || a.Images[0].ImageSelectionStrategy != ImageSelectionSemVer {
		t.Fatalf("defaults not filled in: %s", ja)
	}
	if a.Images[1].DiscoveryLimit != 5 {
		t.Fatalf("discoveryLimit lost: %s", ja)
	}

	for name, tc := range map[string]struct{ in, want string }{
		"an entry with two kinds":      {`[{"image":{"repoURL":"nginx"},"git":{"repoURL":"https://g/x.git"}}]`, "exactly one of git, image or chart, not 2"},
		"an empty entry":               {`[{}]`, "exactly one of git, image or chart, not 0"},
		"an unknown kind":              {`[{"oci":{"repoURL":"x"}}]`, `unknown field "oci"`},
		"an unknown field in an entry": {`[{"image":{"repoURL":"nginx","bogus":1}}]`, `unknown field "bogus"`},
		"an unknown field, object":     {`{"images":[{"repoURL":"nginx","bogus":1}]}`, `unknown field "bogus"`},
		"a string":                     {`"nginx"`, "cannot unmarshal string"},
	} {
		t.Run(name, func(t *testing.T) {
			var r RepoSubscriptions
			err := json.Unmarshal([]byte(tc.in), &r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
