package yamledit

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetValue sets the scalar at path in the single-document YAML file doc to
// value and returns the edited file; only the bytes of that value change.
//
// path uses the syntax described in the package documentation, for example
// "image.tag", "app.images.0.tag" or `ingress.annotations."nginx.io/rewrite"`.
// value is written as a string, quoted where needed so it reads back as a
// string; a plain int, float, bool or timestamp whose new value has the same
// type stays plain (see the package documentation).
//
// A path that does not exist is ErrKeyNotFound, naming the longest prefix
// that does; SetValue never inserts keys. A path naming a mapping or a
// sequence is ErrNotScalar. Aliases, block scalars, multi-line plain scalars
// and explicit tags other than !!str are ErrUnsupported. An empty or
// comment-only file is ErrKeyNotFound, and a file with several documents is
// ErrMultipleDocuments. When the value already is value, doc is returned as
// is.
func SetValue(doc []byte, path string, value string) ([]byte, error) {
	segs, err := parsePath(path)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", path, err)
	}
	out, err := setValue(doc, segs, value)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", path, err)
	}
	return out, nil
}

func setValue(src []byte, segs []segment, value string) ([]byte, error) {
	d, err := parseDocument(src)
	if err != nil {
		return nil, err
	}
	t, err := d.locate(segs)
	if err != nil {
		return nil, err
	}
	if err := d.checkScalar(t); err != nil {
		return nil, err
	}
	if t.node.Value == value {
		return src, nil
	}
	out, err := d.setScalar(t, value)
	if err != nil {
		return nil, err
	}
	if err := verifyEdit(d, out, map[*yaml.Node]string{t.node: value}); err != nil {
		return nil, err
	}
	return out, nil
}

// checkScalar refuses targets that are not scalars, or scalars that are not
// editable in place.
func (d *document) checkScalar(t target) error {
	n := t.node
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.AliasNode:
		return fmt.Errorf("%w: %s is an alias (*%s) of a value defined elsewhere; edit the anchored value%s instead", ErrUnsupported, t.path, n.Value, d.anchorPath(n.Alias))
	case yaml.MappingNode:
		return fmt.Errorf("%w: %s is a mapping (%s); name one of its keys", ErrNotScalar, t.path, describeKeys(n))
	case yaml.SequenceNode:
		return fmt.Errorf("%w: %s is a sequence of %d items; name an item by index, as in %s.0", ErrNotScalar, t.path, len(n.Content), t.path)
	default:
		return fmt.Errorf("%w: %s is not a scalar value", ErrNotScalar, t.path)
	}
	return nil
}

// setScalar returns the file with scalar t.node replaced by value. It does
// not verify the result.
func (d *document) setScalar(t target, value string) ([]byte, error) {
	n := t.node
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return nil, fmt.Errorf("%w: %s is a block scalar (| or >); edit it by hand", ErrUnsupported, t.path)
	case n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != "!!str":
		return nil, fmt.Errorf("%w: %s has the explicit tag %s; edit it by hand", ErrUnsupported, t.path, n.Tag)
	}
	if n.Value == "" && n.Style&^yaml.TaggedStyle == 0 {
		return d.fillEmpty(t, value)
	}
	start, end, err := d.scalarSpan(n, t.flow)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	text, err := encodeScalar(value, n, t.flow)
	if err != nil {
		return nil, err
	}
	return splice(d.src, start, end, text), nil
}

// fillEmpty writes value into a mapping value that is written as nothing at
// all, as in "key:" or "key: &anchor": the text goes after the colon and any
// anchor or tag on the colon's line.
func (d *document) fillEmpty(t target, value string) ([]byte, error) {
	unsupported := fmt.Errorf("%w: %s is an empty value written in a way this package does not edit; edit it by hand", ErrUnsupported, t.path)
	if t.key == nil || t.key.Kind != yaml.ScalarNode || isEmptyNull(t.key) {
		return nil, fmt.Errorf("%w: %s is an empty value without a key; edit it by hand", ErrUnsupported, t.path)
	}
	_, keyEnd, err := d.scalarSpan(t.key, t.flow)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	src := d.src
	colon := keyEnd
	for colon < len(src) && isBlank(src[colon]) {
		colon++
	}
	if colon >= len(src) || src[colon] != ':' {
		return nil, fmt.Errorf("%w: cannot find the colon after the key of %s; edit it by hand", ErrUnsupported, t.path)
	}
	// yaml.v3 places an empty value at its anchor or tag when it has one,
	// and right after the colon otherwise. Properties on a later line than
	// the colon would end up after the inserted text.
	p, err := d.nodeOffset(t.node)
	if err != nil {
		return nil, err
	}
	if p <= colon || d.lineStart(p) != d.lineStart(colon) {
		return nil, unsupported
	}
	at, j := colon+1, p
	for {
		for j < len(src) && isBlank(src[j]) {
			j++
		}
		if j >= len(src) || (src[j] != '&' && src[j] != '!') {
			break
		}
		for !isBlankOrBreak(src, j) && !(t.flow && isFlowIndicator(src[j])) {
			j++
		}
		at = j
	}
	// Whatever follows must end the value: a comment or line break, then no
	// more properties, in block context; ',', '}' or ']' in flow context.
	next := skipSeparation(src, at)
	switch {
	case t.flow:
		if next >= len(src) || strings.IndexByte(",}]", src[next]) < 0 {
			return nil, unsupported
		}
	default:
		k := at
		for k < len(src) && isBlank(src[k]) {
			k++
		}
		if k < len(src) && breakLen(src, k) == 0 && src[k] != '#' {
			return nil, unsupported
		}
		if next < len(src) && (src[next] == '&' || src[next] == '!') {
			return nil, unsupported
		}
	}
	text, err := encodeScalar(value, t.node, t.flow)
	if err != nil {
		return nil, err
	}
	return splice(src, at, at, " "+text), nil
}
