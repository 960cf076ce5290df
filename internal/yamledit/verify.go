package yamledit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// verifyEdit re-parses the edited file out and checks that it holds the same
// document as old except that each node in want now has the given value.
func verifyEdit(old *document, out []byte, want map[*yaml.Node]string) error {
	edited, err := parseDocument(out)
	if err != nil {
		return fmt.Errorf("%w: the edited file does not parse (%v); the file was left unchanged, please report this", ErrVerificationFailed, err)
	}
	c := comparison{want: want}
	if err := c.compare(old.root, edited.root, ""); err != nil {
		return fmt.Errorf("%w: %v; the file was left unchanged, please report this", ErrVerificationFailed, err)
	}
	if c.seen != len(want) {
		return fmt.Errorf("%w: the edited value is missing from the edited file; the file was left unchanged, please report this", ErrVerificationFailed)
	}
	if !slices.Equal(commentLines(old.doc), commentLines(edited.doc)) {
		return fmt.Errorf("%w: a comment changed; the file was left unchanged, please report this", ErrVerificationFailed)
	}
	return nil
}

// commentLines returns the lines of all comments in the tree, sorted. yaml.v3
// attaches a comment to a node by position, and the attachment can move when
// a value changes length or lines (an empty value filled in, a multi-line
// quoted value replaced), so comments are compared as a whole rather than per
// node.
func commentLines(n *yaml.Node) []string {
	var lines []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
			for _, line := range strings.Split(c, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					lines = append(lines, line)
				}
			}
		}
		for _, child := range n.Content {
			walk(child)
		}
	}
	walk(n)
	slices.Sort(lines)
	return lines
}

// comparison compares two node trees that should only differ at the nodes in
// want. It ignores comments, which are compared separately.
type comparison struct {
	want map[*yaml.Node]string
	seen int
}

// compare compares old and edited recursively; where names the position in
// messages.
func (c *comparison) compare(old, edited *yaml.Node, where string) error {
	if old == nil || edited == nil {
		if old != edited {
			return fmt.Errorf("at %s a node appeared or disappeared", describeWhere(where))
		}
		return nil
	}
	if old.Kind != edited.Kind || old.Anchor != edited.Anchor {
		return fmt.Errorf("at %s the node kind or anchor changed", describeWhere(where))
	}
	if value, ok := c.want[old]; ok {
		c.seen++
		switch {
		case edited.Value != value:
			return fmt.Errorf("at %s the value reads back as %q instead of %q", describeWhere(where), edited.Value, value)
		case edited.ShortTag() != "!!str" && edited.ShortTag() != old.ShortTag():
			return fmt.Errorf("at %s the value reads back as %s instead of a string", describeWhere(where), edited.ShortTag())
		case edited.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return fmt.Errorf("at %s the value became a block scalar", describeWhere(where))
		}
		return nil
	}
	if old.Kind == yaml.AliasNode {
		// An alias's tag is its anchor's, which may be the edited value.
		if old.Value != edited.Value {
			return fmt.Errorf("at %s the alias *%s changed to *%s", describeWhere(where), old.Value, edited.Value)
		}
		return nil
	}
	if old.Style != edited.Style || old.ShortTag() != edited.ShortTag() || old.Value != edited.Value {
		return fmt.Errorf("at %s the value %q (%s) changed to %q (%s)", describeWhere(where), old.Value, old.ShortTag(), edited.Value, edited.ShortTag())
	}
	if len(old.Content) != len(edited.Content) {
		return fmt.Errorf("at %s the number of entries changed from %d to %d", describeWhere(where), len(old.Content), len(edited.Content))
	}
	for i := range old.Content {
		child := where
		switch {
		case old.Kind == yaml.MappingNode && i%2 == 1:
			child = joinWhere(where, formatKey(old.Content[i-1].Value))
		case old.Kind == yaml.MappingNode:
			child = joinWhere(where, formatKey(old.Content[i].Value)) + " (key)"
		case old.Kind == yaml.SequenceNode:
			child = joinWhere(where, strconv.Itoa(i))
		}
		if err := c.compare(old.Content[i], edited.Content[i], child); err != nil {
			return err
		}
	}
	return nil
}

func joinWhere(where, seg string) string {
	if where == "" {
		return seg
	}
	return where + "." + seg
}

func describeWhere(where string) string {
	if where == "" {
		return "the document root"
	}
	return where
}
