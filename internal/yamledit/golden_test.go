package yamledit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// goldenCase edits testdata/<dir>/<input> and compares the result with
// testdata/<dir>/<name>.golden.yaml.
type goldenCase struct {
	name  string
	input string
	edit  func([]byte) ([]byte, error)
	// unchanged means the edit must return the input bytes as they are; no
	// golden file is kept.
	unchanged bool
}

func runGolden(t *testing.T, dir string, cases []goldenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", dir, tc.input))
			require.NoError(t, err)
			out, err := tc.edit(in)
			require.NoError(t, err)
			if tc.unchanged {
				require.Equal(t, string(in), string(out))
				return
			}
			require.NotEqual(t, string(in), string(out), "the edit changed nothing")
			golden := filepath.Join("testdata", dir, tc.name+".golden.yaml")
			if *update {
				require.NoError(t, os.WriteFile(golden, out, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), string(out))
		})
	}
}

func setOp(path, value string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) { return SetValue(doc, path, value) }
}

func TestSetValueGolden(t *testing.T) {
	runGolden(t, "setvalue", []goldenCase{
		{name: "comments-nested-tag", input: "comments.yaml", edit: setOp("image.tag", "v1.3.0")},
		{name: "comments-top-level", input: "comments.yaml", edit: setOp("replicaCount", "3")},
		{name: "comments-same-value", input: "comments.yaml", edit: setOp("image.tag", "v1.2.3"), unchanged: true},
		{name: "sequences-single-quoted", input: "sequences.yaml", edit: setOp("app.images.1.tag", "1.1.0")},
		{name: "sequences-double-quoted-bracket-index", input: "sequences.yaml", edit: setOp("app.images[0].tag", "1.25")},
		{name: "sequences-scalar-item", input: "sequences.yaml", edit: setOp("app.hosts.1", "c.example.com")},
		{name: "flow-map-float-stays-plain", input: "flow.yaml", edit: setOp("image.tag", "1.1")},
		{name: "flow-map-needs-quotes", input: "flow.yaml", edit: setOp("image.tag", "v1, beta")},
		{name: "flow-sequence-int", input: "flow.yaml", edit: setOp("ports.1", "8443")},
		{name: "flow-nested", input: "flow.yaml", edit: setOp("matrix.a.0", "z")},
		{name: "flow-nested-double-quoted", input: "flow.yaml", edit: setOp("matrix.b.c", "e")},
		{name: "anchored-scalar", input: "anchors.yaml", edit: setOp("defaults.tag", "1.1.0")},
		{name: "anchored-map-member", input: "anchors.yaml", edit: setOp("defaults.pullPolicy", "IfNotPresent")},
		{name: "crlf", input: "crlf.yaml", edit: setOp("image.tag", "1.1.0")},
		{name: "no-final-newline", input: "no-final-newline.yaml", edit: setOp("image.tag", "v2")},
		{name: "document-markers-four-spaces", input: "document-markers.yaml", edit: setOp("image.tag", "1.1")},
		{name: "document-markers-deep", input: "document-markers.yaml", edit: setOp("image.nested.deeper.value", "changed")},
		{name: "unicode-before-value", input: "unicode.yaml", edit: setOp("labels.emoji.tag", "v2")},
		{name: "unicode-key-and-value", input: "unicode.yaml", edit: setOp("image.名前", "新しい値")},
		{name: "unicode-after-unicode-line", input: "unicode.yaml", edit: setOp("labels.owner", "Zoë")},
		{name: "unicode-double-quoted", input: "unicode.yaml", edit: setOp("labels.description", "ça va ✓")},
		{name: "dotted-key-quoted-segment", input: "dotted-keys.yaml", edit: setOp(`ingress.annotations."nginx.ingress.kubernetes.io/rewrite-target"`, "/app")},
		{name: "dotted-key-bracket-segment", input: "dotted-keys.yaml", edit: setOp(`config["a.b"].c`, "2")},
		{name: "dotted-key-quoted-in-file", input: "dotted-keys.yaml", edit: setOp(`ingress.annotations."quoted.key"`, "other")},
		{name: "key-with-quotes", input: "dotted-keys.yaml", edit: setOp(`config."say \"hi\""`, "y")},
		{name: "multiline-double-quoted", input: "multiline-quoted.yaml", edit: setOp("description", "short")},
		{name: "multiline-single-quoted", input: "multiline-quoted.yaml", edit: setOp("tag", "v2")},
	})
}
