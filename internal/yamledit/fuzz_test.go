package yamledit

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// parseOne parses a file that SetValue accepted: at most one document.
func parseOne(t *testing.T, src []byte) *yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil
	}
	require.NoError(t, err, "the file parses")
	var next yaml.Node
	require.ErrorIs(t, dec.Decode(&next), io.EOF, "the file holds one document")
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// lookup follows a path through a node tree, independently of locate.
func lookup(n *yaml.Node, segs []segment) *yaml.Node {
	for _, s := range segs {
		switch {
		case n == nil:
			return nil
		case n.Kind == yaml.MappingNode && !s.isIndex:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == s.key {
					next = n.Content[i+1]
					break
				}
			}
			n = next
		case n.Kind == yaml.SequenceNode && (s.isIndex || s.numeric) && s.index < len(n.Content):
			n = n.Content[s.index]
		default:
			return nil
		}
	}
	return n
}

// decodeAny decodes a node tree into plain Go values.
func decodeAny(t *testing.T, n *yaml.Node) any {
	t.Helper()
	if n == nil {
		return nil
	}
	var v any
	require.NoError(t, n.Decode(&v))
	return v
}

func addSeeds(f *testing.F, dir string, add func(doc []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	require.NoError(f, err)
	for _, file := range files {
		doc, err := os.ReadFile(file)
		require.NoError(f, err)
		add(doc)
	}
}

// FuzzSetValue checks that SetValue either fails or changes exactly the value
// at the path: the result parses, the value there reads back as requested,
// and with that value masked out both documents decode to the same data.
func FuzzSetValue(f *testing.F) {
	paths := []string{"image.tag", "app.images.0.tag", "app.images[1].tag", "a", "a.b", "key", "0", `"a.b"`, "defaults.tag", "labels.emoji.tag"}
	values := []string{"v1.2.4", "1.25", "", "yes", "a: b", "x #y", "it's", "tab\there", "ünï ✓", "{}", "-1"}
	addSeeds(f, "setvalue", func(doc []byte) {
		for i, p := range paths {
			f.Add(string(doc), p, values[i%len(values)])
		}
	})
	f.Add("key: 1.24\n", "key", "1.25")
	f.Add("key:\n", "key", "x")
	f.Add("key: &a\nother: *a\n", "key", "v")
	f.Add("a: {b: [1, 2, {c: d}]}\n", "a.b.2.c", "e, f")
	f.Add("a: 'x'\r\nb: \"y\"\r\n", "b", "z\"")

	f.Fuzz(func(t *testing.T, doc, path, value string) {
		checkSetValue(t, doc, path, value)
		// Random paths rarely exist in random documents; also edit one of the
		// document's own scalars, chosen by the path's length.
		if leaves := scalarPaths(doc); len(leaves) > 0 {
			checkSetValue(t, doc, leaves[len(path)%len(leaves)], value)
		}
	})
}

// checkSetValue runs SetValue and checks its result against the input.
func checkSetValue(t *testing.T, doc, path, value string) {
	t.Helper()
	out, err := SetValue([]byte(doc), path, value)
	if err != nil {
		// The safety net must never be what stops an edit: that would mean
		// the splice went wrong, or the check is too strict.
		require.NotErrorIs(t, err, ErrVerificationFailed)
		require.Nil(t, out)
		return
	}
	segs, err := parsePath(path)
	require.NoError(t, err)
	oldRoot, newRoot := parseOne(t, []byte(doc)), parseOne(t, out)
	oldTarget, newTarget := lookup(oldRoot, segs), lookup(newRoot, segs)
	require.NotNil(t, oldTarget, "the path exists in the input")
	require.NotNil(t, newTarget, "the path exists in the output")
	require.Equal(t, yaml.ScalarNode, newTarget.Kind)
	require.Equal(t, value, newTarget.Value)
	if string(out) == doc {
		require.Equal(t, value, oldTarget.Value, "an unchanged file already had the value")
		return
	}
	require.NotEqual(t, value, oldTarget.Value, "a file that had the value comes back unchanged")
	if newTarget.ShortTag() != "!!str" {
		require.Equal(t, oldTarget.ShortTag(), newTarget.ShortTag(), "the value is a string or keeps its type")
	}
	require.Equal(t, oldTarget.Anchor, newTarget.Anchor)
	// Mask the target (aliases to it see the mask too) and compare the rest.
	for _, n := range []*yaml.Node{oldTarget, newTarget} {
		n.Value, n.Tag, n.Style = "\x00masked", "!!str", 0
	}
	require.Equal(t, decodeAny(t, oldRoot), decodeAny(t, newRoot), "nothing but the value changed")
}

// scalarPaths lists the paths of the scalars in doc, or nothing when doc does
// not parse as a single document.
func scalarPaths(doc string) []string {
	d, err := parseDocument([]byte(doc))
	if err != nil || d.root == nil {
		return nil
	}
	var paths []string
	var walk func(n *yaml.Node, segs []segment)
	walk = func(n *yaml.Node, segs []segment) {
		switch n.Kind {
		case yaml.ScalarNode:
			if len(segs) > 0 {
				paths = append(paths, formatPath(segs))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode {
					walk(n.Content[i+1], append(segs[:len(segs):len(segs)], segment{key: k.Value}))
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(segs[:len(segs):len(segs)], segment{key: strconv.Itoa(i), index: i, isIndex: true}))
			}
		}
	}
	walk(d.root, nil)
	return paths
}

// FuzzSetKustomizeImage checks that SetKustomizeImage either fails or leaves a
// file whose images list has the requested entry and whose other keys decode
// as before.
func FuzzSetKustomizeImage(f *testing.F) {
	addSeeds(f, "kustomize", func(doc []byte) {
		f.Add(string(doc), "nginx", "1.26.0", false)
		f.Add(string(doc), "redis", digestA, true)
		f.Add(string(doc), "new/image", "7.2", false)
	})
	f.Add("images:\n- name: a\n  newTag: v1\n  digest: sha256:00\n", "a", "v2", false)
	f.Add("images: [{name: a, digest: x}]\n", "a", "1.0", false)

	f.Fuzz(func(t *testing.T, doc, name, value string, useDigest bool) {
		img := KustomizeImage{Name: name, NewTag: value}
		set, drop := "newTag", "digest"
		if useDigest {
			img = KustomizeImage{Name: name, Digest: value}
			set, drop = "digest", "newTag"
		}
		out, err := SetKustomizeImage([]byte(doc), img)
		if err != nil {
			require.NotErrorIs(t, err, ErrVerificationFailed)
			require.Nil(t, out)
			return
		}
		oldRoot, newRoot := parseOne(t, []byte(doc)), parseOne(t, out)
		require.NotNil(t, newRoot)
		require.Equal(t, yaml.MappingNode, newRoot.Kind)

		images := lookup(newRoot, []segment{{key: "images"}})
		require.NotNil(t, images, "the output has images")
		require.Equal(t, yaml.SequenceNode, images.Kind)
		matched := 0
		for _, entry := range images.Content {
			if entry.Kind != yaml.MappingNode || lookup(entry, []segment{{key: "name"}}) == nil || lookup(entry, []segment{{key: "name"}}).Value != name {
				continue
			}
			matched++
			got := lookup(entry, []segment{{key: set}})
			require.NotNil(t, got, "the entry has %s", set)
			require.Equal(t, value, got.Value)
			require.Nil(t, lookup(entry, []segment{{key: drop}}), "the entry lost %s", drop)
		}
		require.NotZero(t, matched, "the images list has an entry for %s", name)

		rest := func(root *yaml.Node) any {
			m, _ := decodeAny(t, root).(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			delete(m, "images")
			return m
		}
		require.Equal(t, rest(oldRoot), rest(newRoot), "keys other than images decode as before")
	})
}
