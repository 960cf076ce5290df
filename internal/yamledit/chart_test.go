package yamledit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func setDependency(repository, name, version string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) { return SetChartDependencyVersion(doc, repository, name, version) }
}

func TestSetChartDependencyVersionGolden(t *testing.T) {
	runGolden(t, "chart", []goldenCase{
		{name: "first-dependency-trailing-slash", input: "Chart.yaml", edit: setDependency("https://charts.bitnami.com/bitnami/", "postgresql", "12.2.0")},
		{name: "oci-dependency-under-two-aliases", input: "Chart.yaml", edit: setDependency("oci://registry-1.docker.io/bitnamicharts", "redis", "18.0.0")},
		{name: "repository-with-trailing-slash-in-file", input: "Chart.yaml", edit: setDependency("https://charts.bitnami.com/bitnami", "common", "2.1.0")},
		{name: "dependency-without-repository", input: "Chart.yaml", edit: setDependency("", "local", "0.2.0")},
		{name: "same-version", input: "Chart.yaml", edit: setDependency("oci://registry-1.docker.io/bitnamicharts", "redis", "17.3.7"), unchanged: true},
		{name: "flow-dependencies", input: "flow-Chart.yaml", edit: setDependency("https://charts.example.com/", "nginx", "15.1.0")},
	})
}

func TestSetChartDependencyVersionErrors(t *testing.T) {
	tests := []struct {
		name            string
		doc             string
		repository, dep string
		wantErr         error
		wantMsg         []string
	}{
		{
			name:       "no matching repository",
			doc:        "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: oci://registry-1.docker.io/bitnamicharts\n- name: local\n  version: 0.1.0\n",
			repository: "https://charts.bitnami.com/bitnami", dep: "redis", wantErr: ErrDependencyNotFound,
			wantMsg: []string{
				"set version of chart dependency redis from https://charts.bitnami.com/bitnami: chart dependency not found",
				"Chart.yaml lists redis from oci://registry-1.docker.io/bitnamicharts, local (no repository)",
			},
		},
		{
			name: "another path of one host", doc: "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: oci://charts.example.com/team\n",
			repository: "oci://charts.example.com/other", dep: "redis", wantErr: ErrDependencyNotFound,
		},
		{
			name: "another host", doc: "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n",
			repository: "https://charts.example.com.evil.example", dep: "redis", wantErr: ErrDependencyNotFound,
		},
		{
			name: "no dependencies key", doc: "apiVersion: v2\nname: x\n",
			repository: "https://x", dep: "redis", wantErr: ErrDependencyNotFound, wantMsg: []string{"Chart.yaml has no dependencies"},
		},
		{
			name: "empty Chart.yaml", doc: "",
			repository: "https://x", dep: "redis", wantErr: ErrDependencyNotFound, wantMsg: []string{"Chart.yaml is empty"},
		},
		{
			name: "dependency without version", doc: "dependencies:\n- name: redis\n  repository: https://x\n",
			repository: "https://x", dep: "redis", wantErr: ErrKeyNotFound, wantMsg: []string{"dependencies.0 has no version key"},
		},
		{
			name: "version is an alias", doc: "v: &v 1.0.0\ndependencies:\n- name: redis\n  repository: https://x\n  version: *v\n",
			repository: "https://x", dep: "redis", wantErr: ErrUnsupported, wantMsg: []string{"edit the anchored value at v instead"},
		},
		{
			name: "dependencies is a mapping", doc: "dependencies:\n  redis: 1.0.0\n",
			repository: "https://x", dep: "redis", wantErr: ErrUnsupported, wantMsg: []string{"not a list"},
		},
		{
			name: "invalid YAML", doc: "dependencies: [\n",
			repository: "https://x", dep: "redis", wantErr: ErrInvalidYAML,
		},
		{
			name: "multiple documents", doc: "a: 1\n---\nb: 2\n",
			repository: "https://x", dep: "redis", wantErr: ErrMultipleDocuments,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetChartDependencyVersion([]byte(tc.doc), tc.repository, tc.dep, "9.9.9")
			require.ErrorIs(t, err, tc.wantErr)
			require.Nil(t, out)
			for _, msg := range tc.wantMsg {
				require.Contains(t, err.Error(), msg)
			}
		})
	}
}

// Chart.yaml and the Stage may spell one repository differently
// (repourl.Same); the dependency is found either way.
func TestSetChartDependencyVersionMatchesSpellingsOfOneRepository(t *testing.T) {
	for _, tc := range []struct{ inFile, inStage string }{
		{"https://charts.example.com/", "https://charts.example.com"},
		{"https://Charts.Example.com/Stable", "https://charts.example.com/stable/"},
		{"oci://registry-1.docker.io/bitnamicharts", "oci://docker.io/bitnamicharts"},
		{"oci://charts.example.com", "https://charts.example.com"},
		{"", ""},
	} {
		t.Run(tc.inFile+" vs "+tc.inStage, func(t *testing.T) {
			doc := "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: \"" + tc.inFile + "\"\n"
			out, err := SetChartDependencyVersion([]byte(doc), tc.inStage, "redis", "9.9.9")
			require.NoError(t, err)
			require.Equal(t, strings.Replace(doc, "1.0.0", "9.9.9", 1), string(out))
		})
	}
}
