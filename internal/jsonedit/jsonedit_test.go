package jsonedit

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const settings = `{
  "image": {"repository": "nginx", "tag": "1.25.0"},
    "replicas" : 2,
  "enabled": false,
  "example.com/version": "v1",
  "containers": [
    { "name": "app", "image": "app:v1" },
    { "name": "side\"car", "image": "side:v1" }
  ],
  "nothing": null,
  "big": 12345678901234567890
}
`

func TestSetValue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  []string
		value any
		want  string // the replaced text, as old => new
	}{
		{"nested string", []string{"image", "tag"}, "1.26.0", `"1.25.0" => "1.26.0"`},
		{"number keeps its spacing", []string{"replicas"}, 3.0, `"replicas" : 2 => "replicas" : 3`},
		{"bool", []string{"enabled"}, true, `"enabled": false => "enabled": true`},
		{"key with a dot", []string{"example.com/version"}, "v2", `"v1" => "v2"`},
		{"array index", []string{"containers", "1", "image"}, "side:v2", `"side:v1" => "side:v2"`},
		{"null to string", []string{"nothing"}, "x", `"nothing": null => "nothing": "x"`},
		{"string to number", []string{"image", "tag"}, 7, `"1.25.0" => 7`},
		{"no HTML escaping", []string{"image", "tag"}, "<a&b>", `"1.25.0" => "<a&b>"`},
		{"escapes what JSON must", []string{"image", "tag"}, "a\"b\n", `"1.25.0" => "a\"b\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetValue([]byte(settings), tc.path, tc.value)
			require.NoError(t, err)
			old, repl, _ := strings.Cut(tc.want, " => ")
			require.Equal(t, strings.Replace(settings, old, repl, 1), string(out))
		})
	}
}

func TestSetValueUnchangedReturnsTheDocument(t *testing.T) {
	doc := []byte(`{"a": "\u0061", "n": 12345678901234567890}`)
	out, err := SetValue(doc, []string{"a"}, "a")
	require.NoError(t, err)
	require.Equal(t, string(doc), string(out))
	out, err = SetValue(doc, []string{"n"}, json.Number("12345678901234567890"))
	require.NoError(t, err)
	require.Equal(t, string(doc), string(out))
}

func TestSetValueErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		doc   string
		path  []string
		value any
		is    error
		msg   string
	}{
		{"missing key", settings, []string{"image", "digest"}, "x", ErrKeyNotFound, `image has no key "digest" (it has the keys "repository", "tag")`},
		{"missing top-level key", settings, []string{"nosuch"}, "x", ErrKeyNotFound, `the document has no key "nosuch"`},
		{"index past the end", settings, []string{"containers", "2", "image"}, "x", ErrKeyNotFound, "containers is an array of 2 elements, so it has no index 2"},
		{"not an index", settings, []string{"containers", "first"}, "x", ErrKeyNotFound, `containers is an array, and "first" is not an index`},
		{"through a scalar", settings, []string{"replicas", "x"}, "x", ErrKeyNotFound, `replicas is a scalar, so it has no "x"`},
		{"an object", settings, []string{"image"}, "x", ErrNotScalar, "image is an object"},
		{"an array", settings, []string{"containers"}, "x", ErrNotScalar, "containers is an array"},
		{"a map value", settings, []string{"replicas"}, map[string]any{"a": 1}, ErrNotScalar, "map[string]interface {}"},
		{"invalid JSON", `{"a": 1,}`, []string{"a"}, 2, ErrInvalidJSON, "invalid JSON"},
		{"duplicate key", `{"a": 1, "a": 2}`, []string{"a"}, 3, ErrDuplicateKey, `has the key "a" twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetValue([]byte(tc.doc), tc.path, tc.value)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func FuzzSetValue(f *testing.F) {
	f.Add(settings, "image.tag", "v2")
	f.Add(`[1, {"a": [true, null]}]`, "1.a.0", "x")
	f.Add(`{"a\\"b": {"": 1}}`, `a"b.`, "")
	f.Fuzz(func(t *testing.T, doc, path, value string) {
		if !utf8.ValidString(value) {
			// JSON writes invalid UTF-8 as U+FFFD.
			return
		}
		out, err := SetValue([]byte(doc), strings.Split(path, "."), value)
		if err != nil {
			return
		}
		// An edit leaves valid JSON in which the path holds the value.
		var v any
		require.NoError(t, json.Unmarshal(out, &v))
		for _, part := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				v = c[part]
			case []any:
				var i int
				require.NoError(t, json.Unmarshal([]byte(part), &i))
				v = c[i]
			}
		}
		require.Equal(t, value, v)
	})
}
