package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseManifests(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		wantNames []string
		wantErr   string
	}{
		{
			name:      "YAML documents, empty ones skipped",
			in:        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
			wantNames: []string{"a", "b"},
		},
		{
			name:      "JSON",
			in:        `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`,
			wantNames: []string{"a"},
		},
		{
			name:      "a List is its items",
			in:        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n",
			wantNames: []string{"a", "b"},
		},
		{
			name:    "no kind",
			in:      "apiVersion: v1\nmetadata:\n  name: a\n",
			wantErr: "document 1 of the manifests has no apiVersion or kind",
		},
		{
			name:    "broken second document",
			in:      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkind: [\n",
			wantErr: "document 2 of the manifests is not YAML or JSON",
		},
		{
			name:    "list item without kind",
			in:      "apiVersion: v1\nkind: List\nitems:\n- metadata:\n    name: a\n",
			wantErr: "document 1 of the manifests is a list",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := parseManifests([]byte(c.in))
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				st, _ := statusOf(err)
				require.EqualValues(t, 400, st.Code)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, o := range objs {
				names = append(names, o.GetName())
			}
			require.Equal(t, c.wantNames, names)
		})
	}
}
