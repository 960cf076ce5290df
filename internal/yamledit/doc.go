// Package yamledit edits YAML files in place, changing only the bytes of the
// value being set.
//
// Promotions commit their edits to GitOps repositories, where every diff is
// reviewed by people. Re-serializing a document would reorder keys, drop
// comments and change quoting, so this package never does that: it parses the
// file with go.yaml.in/yaml/v3 only to locate the target value, computes the
// value's byte span in the original buffer and splices in the new text.
// Comments, blank lines, indentation, the quoting of other values, key order,
// anchors and aliases, flow collections, document markers, CRLF line endings
// and a missing final newline all survive byte for byte.
//
// After every edit the old and the new documents are parsed again and
// compared node by node (kind, tag, style, value and anchor), and their
// comments are compared as a whole. If anything but the intended value
// differs, the edit is refused with ErrVerificationFailed instead of
// returning a wrong file. When the value
// already is the requested one the input is returned unchanged, so callers
// detect "nothing to commit" with bytes.Equal.
//
// # Paths
//
// SetValue addresses a value with a dotted path such as "image.tag" or
// "app.images.0.tag":
//
//   - Segments are separated by dots. A bare segment may hold any character
//     except '.', '[' and '"'.
//   - A bare segment made of digits indexes a sequence when the node it
//     applies to is a sequence; applied to a mapping it is an ordinary key, so
//     "ports.80" finds the key "80".
//   - A key that contains dots, brackets or quotes is written in double
//     quotes: a."b.c".d, or in brackets: a["b.c"].d. Inside the quotes,
//     \" stands for a quote and \\ for a backslash. A quoted key never
//     indexes a sequence.
//   - [N] always indexes a sequence: app.images[0].tag.
//
// # Quoting
//
// The new value is a string and is written so that it reads back as that
// string, keeping the old value's style when it can:
//
//   - A double-quoted value stays double-quoted.
//   - A single-quoted value stays single-quoted unless the new value holds a
//     tab, a line break or another non-printable character; then it is
//     double-quoted.
//   - A plain value stays plain when the new value is safe as a plain scalar
//     (no leading or trailing space, no ": " or " #", no leading indicator
//     such as '*', '&', '!', '{', no flow indicators inside a flow
//     collection) and it reads back as a string under both YAML 1.2
//     (go.yaml.in/yaml/v3) and YAML 1.1 (go.yaml.in/yaml/v2, the dialect of
//     Helm and sigs.k8s.io/yaml), so "yes", "on", "1.25" or "null" get
//     quoted. One exception keeps types stable: when the old plain value was
//     an int, a float, a bool or a timestamp and the new plain value has the
//     same type under both dialects, it stays plain, so "tag: 1.24" set to
//     "1.25" gives "tag: 1.25". Otherwise the value is double-quoted.
//   - A plain value with the explicit tag !!str keeps its tag and stays plain
//     when it is safe as a plain scalar.
//   - An empty value ("key:") is filled in as if it were a plain null.
//
// # Refused edits
//
// A missing key is ErrKeyNotFound, never an insert (SetKustomizeImage is the
// exception, because `kustomize edit set image` inserts). A target that is a
// mapping or a sequence is ErrNotScalar. Aliases (*ref) as the target or on
// the way to it, block scalars (| and >), plain scalars spanning several
// lines and values with an explicit tag other than !!str are ErrUnsupported;
// an anchored scalar (&a value) is edited and keeps its anchor. Files holding
// several YAML documents are ErrMultipleDocuments, and input that is not
// valid YAML (or not UTF-8) is ErrInvalidYAML.
package yamledit
