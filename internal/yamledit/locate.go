package yamledit

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// target is a located value together with what an edit needs to know about
// where it sits.
type target struct {
	node *yaml.Node
	// key is the mapping key node of node, nil for sequence items.
	key *yaml.Node
	// flow tells whether node sits inside a flow collection.
	flow bool
	// path names node in error messages.
	path string
}

// locate follows segs from the document root.
func (d *document) locate(segs []segment) (target, error) {
	if d.root == nil {
		return target{}, fmt.Errorf("%w: the file holds no YAML document", ErrKeyNotFound)
	}
	t := target{node: d.root}
	for i, seg := range segs {
		cur := t.node
		here := formatPath(segs[:i])
		if cur.Kind == yaml.AliasNode {
			return target{}, fmt.Errorf("%w: %s is an alias (*%s); edit the anchored value%s instead", ErrUnsupported, here, cur.Value, d.anchorPath(cur.Alias))
		}
		if cur.Style&yaml.FlowStyle != 0 {
			t.flow = true
		}
		switch {
		case cur.Kind == yaml.MappingNode && !seg.isIndex:
			k, v := mappingLookup(cur, seg.key)
			if v == nil {
				return target{}, notFound(segs[:i], fmt.Sprintf("which has no key %s (%s)", strconv.Quote(seg.key), describeKeys(cur)))
			}
			t.node, t.key = v, k
		case cur.Kind == yaml.MappingNode:
			return target{}, notFound(segs[:i], fmt.Sprintf("a mapping, which cannot be indexed with [%d]", seg.index))
		case cur.Kind == yaml.SequenceNode && (seg.isIndex || seg.numeric):
			if seg.index >= len(cur.Content) {
				return target{}, notFound(segs[:i], fmt.Sprintf("a sequence of %d items, which has no index %d", len(cur.Content), seg.index))
			}
			t.node, t.key = cur.Content[seg.index], nil
		case cur.Kind == yaml.SequenceNode:
			return target{}, notFound(segs[:i], fmt.Sprintf("a sequence, which has no key %s; use a numeric index", strconv.Quote(seg.key)))
		default:
			return target{}, notFound(segs[:i], fmt.Sprintf("a scalar, which has no key %s", strconv.Quote(seg.key)))
		}
	}
	t.path = formatPath(segs)
	return t, nil
}

// notFound builds an ErrKeyNotFound error naming the longest existing prefix
// of the path.
func notFound(prefix []segment, what string) error {
	where := "the document root"
	if len(prefix) > 0 {
		where = strconv.Quote(formatPath(prefix))
	}
	return fmt.Errorf("%w: the longest existing prefix is %s, %s", ErrKeyNotFound, where, what)
}

// mappingLookup returns the key and value nodes of key in mapping m.
func mappingLookup(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// describeKeys lists the keys of mapping m for error messages.
func describeKeys(m *yaml.Node) string {
	const max = 20
	var keys []string
	merge := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == "<<" && k.Style == 0 {
			merge = true
			continue
		}
		keys = append(keys, formatKey(k.Value))
	}
	var b strings.Builder
	switch {
	case len(keys) == 0:
		b.WriteString("it has no keys")
	case len(keys) > max:
		b.WriteString("its keys: " + strings.Join(keys[:max], ", ") + fmt.Sprintf(" and %d more", len(keys)-max))
	default:
		b.WriteString("its keys: " + strings.Join(keys, ", "))
	}
	if merge {
		b.WriteString("; keys merged in with << are not followed, edit them where they are defined")
	}
	return b.String()
}

// anchorPath returns " at <path>" for the node an alias refers to, or "" when
// it cannot be named.
func (d *document) anchorPath(anchored *yaml.Node) string {
	var walk func(n *yaml.Node, segs []segment) []segment
	walk = func(n *yaml.Node, segs []segment) []segment {
		if n == anchored {
			return segs
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Kind != yaml.ScalarNode {
					continue
				}
				seg := segment{key: n.Content[i].Value}
				if found := walk(n.Content[i+1], append(segs[:len(segs):len(segs)], seg)); found != nil {
					return found
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if found := walk(c, append(segs[:len(segs):len(segs)], segment{key: strconv.Itoa(i), index: i, numeric: true})); found != nil {
					return found
				}
			}
		}
		return nil
	}
	if d.root == nil || anchored == nil {
		return ""
	}
	if anchored == d.root {
		return " at the document root"
	}
	segs := walk(d.root, []segment{})
	if segs == nil {
		return ""
	}
	return " at " + formatPath(segs)
}
