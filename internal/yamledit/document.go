package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// document is a parsed single-document YAML file together with the index
// that maps yaml.v3 node positions back to byte offsets.
type document struct {
	src []byte
	// root is the document's top node; nil when the file holds no document
	// (it is empty or only has comments).
	root *yaml.Node
	// doc is the document node around root, which holds comments at the
	// start and end of the file; nil when the file holds no document.
	doc *yaml.Node
	// lines holds the byte offset at which each line starts, counting line
	// breaks the way yaml.v3 does.
	lines []int
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseDocument parses src, which must hold at most one YAML document.
func parseDocument(src []byte) (d *document, err error) {
	if bytes.HasPrefix(src, []byte{0xFE, 0xFF}) || bytes.HasPrefix(src, []byte{0xFF, 0xFE}) || !utf8.Valid(src) {
		return nil, fmt.Errorf("%w: the file is not UTF-8 text", ErrInvalidYAML)
	}
	// The parser runs on files from Git repositories that anyone with push
	// access controls; a parser panic must not take the controller down.
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: the YAML parser failed: %v", ErrInvalidYAML, r)
		}
	}()
	d = &document{src: src, lines: lineStarts(src)}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return d, nil
		}
		return nil, invalidYAML(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, invalidYAML(err)
	default:
		return nil, fmt.Errorf("%w: the file holds more than one document (separated by ---); edit single-document files only", ErrMultipleDocuments)
	}
	// Decoding into a generic value catches what the node tree accepts but
	// consumers reject, such as duplicate keys.
	var v any
	if err := doc.Decode(&v); err != nil {
		return nil, invalidYAML(err)
	}
	// A document with nothing in it, such as "---" followed by comments,
	// counts as no document.
	d.doc = &doc
	if len(doc.Content) > 0 && !isEmptyNull(doc.Content[0]) {
		d.root = doc.Content[0]
	}
	return d, nil
}

// invalidYAML wraps a yaml.v3 error in ErrInvalidYAML as a one-line message.
func invalidYAML(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return fmt.Errorf("%w: %s", ErrInvalidYAML, msg)
}

// lineStarts returns the byte offset of the start of every line. yaml.v3
// treats CR LF, CR, LF, NEL, LS and PS as line breaks and does not count a
// leading UTF-8 byte order mark in columns.
func lineStarts(src []byte) []int {
	first := 0
	if bytes.HasPrefix(src, utf8BOM) {
		first = len(utf8BOM)
	}
	starts := []int{first}
	for i := first; i < len(src); {
		if n := breakLen(src, i); n > 0 {
			i += n
			starts = append(starts, i)
			continue
		}
		i++
	}
	return starts
}

// breakLen returns the length of the line break at src[i], or 0.
func breakLen(src []byte, i int) int {
	switch {
	case i >= len(src):
		return 0
	case src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n':
		return 2
	case src[i] == '\r' || src[i] == '\n':
		return 1
	case src[i] == 0xC2 && i+1 < len(src) && src[i+1] == 0x85:
		return 2
	case src[i] == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9):
		return 3
	}
	return 0
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isBlankOrBreak reports whether src[i] is a blank, a line break or the end
// of the input.
func isBlankOrBreak(src []byte, i int) bool {
	return i >= len(src) || isBlank(src[i]) || breakLen(src, i) > 0
}

func isFlowIndicator(c byte) bool { return strings.IndexByte(",[]{}", c) >= 0 }

// offset converts a yaml.v3 position (1-based line, 1-based column counted
// in runes) to a byte offset.
func (d *document) offset(line, column int) (int, error) {
	if line < 1 || line > len(d.lines) || column < 1 {
		return 0, fmt.Errorf("%w: position %d:%d is outside the file", ErrUnsupported, line, column)
	}
	i := d.lines[line-1]
	for c := 1; c < column; c++ {
		if i >= len(d.src) || breakLen(d.src, i) > 0 {
			return 0, fmt.Errorf("%w: position %d:%d is past the end of its line", ErrUnsupported, line, column)
		}
		_, w := utf8.DecodeRune(d.src[i:])
		i += w
	}
	return i, nil
}

// nodeOffset returns the byte offset where n starts, including its anchor and
// tag if it has any.
func (d *document) nodeOffset(n *yaml.Node) (int, error) {
	return d.offset(n.Line, n.Column)
}

// lineStart returns the offset of the start of the line holding offset i.
func (d *document) lineStart(i int) int {
	lo, hi := 0, len(d.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if d.lines[mid] <= i {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return d.lines[lo]
}

// lineEnd returns the offset of the line break ending the line that holds
// offset i (len(src) on the last line) and the break's length (0 there).
func (d *document) lineEnd(i int) (int, int) {
	for i < len(d.src) {
		if n := breakLen(d.src, i); n > 0 {
			return i, n
		}
		i++
	}
	return len(d.src), 0
}

// eol returns the line break the file uses: that of its first line, or LF.
func (d *document) eol() string {
	for i := range d.src {
		if n := breakLen(d.src, i); n > 0 {
			if d.src[i] == '\r' {
				return string(d.src[i : i+n])
			}
			return "\n"
		}
	}
	return "\n"
}

// skipProperties returns the offset after the anchor and tag starting at i and
// the separation (blanks, line breaks, comments) that follows them.
func skipProperties(src []byte, i int, flow bool) int {
	for i < len(src) && (src[i] == '&' || src[i] == '!') {
		if src[i] == '!' && i+1 < len(src) && src[i+1] == '<' {
			j := bytes.IndexByte(src[i:], '>')
			if j < 0 {
				return len(src)
			}
			i += j + 1
		} else {
			for !isBlankOrBreak(src, i) && !(flow && isFlowIndicator(src[i])) {
				i++
			}
		}
		i = skipSeparation(src, i)
	}
	return i
}

// skipSeparation skips blanks, line breaks and comments starting at i.
func skipSeparation(src []byte, i int) int {
	for i < len(src) {
		switch {
		case isBlank(src[i]):
			i++
		case breakLen(src, i) > 0:
			i += breakLen(src, i)
		case src[i] == '#':
			for i < len(src) && breakLen(src, i) == 0 {
				i++
			}
		default:
			return i
		}
	}
	return i
}

// scalarSpan returns the byte range [start, end) of the text of scalar n,
// quotes included and anchor and tag excluded. flow tells whether n sits
// inside a flow collection, where plain scalars end at flow indicators.
func (d *document) scalarSpan(n *yaml.Node, flow bool) (int, int, error) {
	off, err := d.nodeOffset(n)
	if err != nil {
		return 0, 0, err
	}
	start := skipProperties(d.src, off, flow)
	notFound := fmt.Errorf("%w: cannot find the text of the value at line %d, column %d", ErrUnsupported, n.Line, n.Column)
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, fmt.Errorf("%w: the value at line %d is a block scalar (| or >); edit it by hand", ErrUnsupported, n.Line)
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if start >= len(d.src) || d.src[start] != '"' {
			return 0, 0, notFound
		}
		end := scanDoubleQuoted(d.src, start)
		if end < 0 {
			return 0, 0, notFound
		}
		return start, end, nil
	case n.Style&yaml.SingleQuotedStyle != 0:
		if start >= len(d.src) || d.src[start] != '\'' {
			return 0, 0, notFound
		}
		end := scanSingleQuoted(d.src, start)
		if end < 0 {
			return 0, 0, notFound
		}
		if text := d.src[start+1 : end-1]; !bytes.ContainsAny(text, "\r\n") && strings.ReplaceAll(string(text), "''", "'") != n.Value {
			return 0, 0, notFound
		}
		return start, end, nil
	default:
		end := scanPlain(d.src, start, flow)
		if text := string(d.src[start:end]); text != n.Value {
			if text != "" && strings.HasPrefix(n.Value, text) {
				return 0, 0, fmt.Errorf("%w: the value at line %d is a plain scalar spanning several lines; edit it by hand", ErrUnsupported, n.Line)
			}
			return 0, 0, notFound
		}
		return start, end, nil
	}
}

// scanDoubleQuoted returns the offset after the double-quoted scalar whose
// opening quote is at i, or -1.
func scanDoubleQuoted(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// scanSingleQuoted returns the offset after the single-quoted scalar whose
// opening quote is at i, or -1.
func scanSingleQuoted(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		if src[j] == '\'' {
			if j+1 < len(src) && src[j+1] == '\'' {
				j++
				continue
			}
			return j + 1
		}
	}
	return -1
}

// scanPlain returns the end of the first line of the plain scalar starting at
// i, following yaml.v3's scanner: a plain scalar ends at a line break, at " #",
// at ": " and, in flow context, at ",?[]{}". Trailing blanks are excluded.
func scanPlain(src []byte, i int, flow bool) int {
	end := i
	for i < len(src) {
		if src[i] == '#' {
			break
		}
		for !isBlankOrBreak(src, i) {
			if src[i] == ':' && isBlankOrBreak(src, i+1) {
				return end
			}
			if flow && (src[i] == '?' || isFlowIndicator(src[i])) {
				return end
			}
			_, w := utf8.DecodeRune(src[i:])
			i += w
			end = i
		}
		for i < len(src) && isBlank(src[i]) {
			i++
		}
		if i >= len(src) || breakLen(src, i) > 0 {
			break
		}
	}
	return end
}

// flowEnd returns the offset after the flow collection whose opening bracket
// is at i, or -1. It skips quoted scalars and comments; a quote inside a plain
// scalar is an ordinary character.
func flowEnd(src []byte, i int) int {
	depth := 0
	tokenStart := true // a quote here starts a quoted scalar
	for i < len(src) {
		c := src[i]
		switch {
		case c == '#' && (tokenStart || isBlank(src[i-1]) || breakLen(src, i-1) > 0):
			for i < len(src) && breakLen(src, i) == 0 {
				i++
			}
		case c == '[' || c == '{':
			depth++
			i++
			tokenStart = true
		case c == ']' || c == '}':
			depth--
			i++
			if depth == 0 {
				return i
			}
			tokenStart = false
		case c == '"' && tokenStart:
			if i = scanDoubleQuoted(src, i); i < 0 {
				return -1
			}
			tokenStart = false
		case c == '\'' && tokenStart:
			if i = scanSingleQuoted(src, i); i < 0 {
				return -1
			}
			tokenStart = false
		case c == ',' || c == ':' || (c == '?' && tokenStart):
			i++
			tokenStart = true
		case isBlank(c):
			i++
		case breakLen(src, i) > 0:
			i += breakLen(src, i)
		default:
			i++
			tokenStart = false
		}
	}
	return -1
}

// nodeEnd returns the offset just after the last byte of n's text.
func (d *document) nodeEnd(n *yaml.Node, flow bool) (int, error) {
	switch {
	case n.Kind == yaml.AliasNode:
		off, err := d.nodeOffset(n)
		if err != nil {
			return 0, err
		}
		return off + 1 + len(n.Value), nil
	case n.Kind == yaml.ScalarNode && isEmptyNull(n):
		// yaml.v3 places empty values inconsistently (at the colon, after it,
		// at the next token); pairEnd finds them from their key.
		return 0, fmt.Errorf("%w: cannot find the end of the empty value at line %d", ErrUnsupported, n.Line)
	case n.Kind == yaml.ScalarNode:
		_, end, err := d.scalarSpan(n, flow)
		return end, err
	case n.Style&yaml.FlowStyle != 0:
		off, err := d.nodeOffset(n)
		if err != nil {
			return 0, err
		}
		start := skipProperties(d.src, off, flow)
		if start < len(d.src) && (d.src[start] == '[' || d.src[start] == '{') {
			if end := flowEnd(d.src, start); end >= 0 {
				return end, nil
			}
			return 0, fmt.Errorf("%w: cannot find the end of the flow collection at line %d", ErrUnsupported, n.Line)
		}
		// A single-pair mapping inside a flow sequence, as in [a: b], has
		// no braces: it ends with its value.
		if n.Kind == yaml.MappingNode && len(n.Content) >= 2 {
			return d.pairEnd(n.Content[len(n.Content)-2], n.Content[len(n.Content)-1], true)
		}
		return 0, fmt.Errorf("%w: cannot find the end of the flow collection at line %d", ErrUnsupported, n.Line)
	case n.Kind == yaml.MappingNode && len(n.Content) >= 2:
		return d.pairEnd(n.Content[len(n.Content)-2], n.Content[len(n.Content)-1], flow)
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		return d.nodeEnd(n.Content[len(n.Content)-1], flow)
	}
	return 0, fmt.Errorf("%w: cannot find the end of the value at line %d", ErrUnsupported, n.Line)
}

// pairEnd returns the offset just after the mapping entry with key k and
// value v: after v, or after the colon when v is empty.
func (d *document) pairEnd(k, v *yaml.Node, flow bool) (int, error) {
	if !isEmptyNull(v) {
		return d.nodeEnd(v, flow)
	}
	if k.Kind != yaml.ScalarNode || isEmptyNull(k) {
		return 0, fmt.Errorf("%w: cannot find the end of the empty value at line %d", ErrUnsupported, v.Line)
	}
	_, keyEnd, err := d.scalarSpan(k, flow)
	if err != nil {
		return 0, err
	}
	i := keyEnd
	for i < len(d.src) && isBlank(d.src[i]) {
		i++
	}
	if i >= len(d.src) || d.src[i] != ':' {
		return 0, fmt.Errorf("%w: cannot find the colon after the key at line %d", ErrUnsupported, k.Line)
	}
	return i + 1, nil
}

// isEmptyNull reports whether n is a null written as nothing at all, as in
// "key:".
func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Style == 0 && n.Tag == "!!null" && n.Anchor == ""
}

// splice returns src with [start, end) replaced by text, in a new slice.
func splice(src []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(src)-(end-start)+len(text))
	out = append(out, src[:start]...)
	out = append(out, text...)
	return append(out, src[end:]...)
}
