package yamledit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// segment is one step of a path: a mapping key, or a sequence index.
type segment struct {
	key string
	// index is the sequence index when isIndex is set or when key is a bare
	// number (then either reading applies, depending on the node).
	index int
	// isIndex marks a [N] segment, which only indexes sequences.
	isIndex bool
	// numeric marks a bare segment made of digits, which indexes sequences
	// and names keys of mappings.
	numeric bool
}

// parsePath splits a path written in the syntax described in the package
// documentation into segments.
func parsePath(path string) ([]segment, error) {
	if path == "" {
		return nil, errors.New("invalid path: the path is empty")
	}
	var segs []segment
	i := 0
	expectSegment := true // at the start, or right after a dot
	for i < len(path) {
		switch c := path[i]; {
		case c == '[':
			seg, n, err := parseBracket(path[i:])
			if err != nil {
				return nil, fmt.Errorf("invalid path %q at offset %d: %w", path, i, err)
			}
			segs = append(segs, seg)
			i += n
			expectSegment = false
		case c == '.':
			if expectSegment {
				return nil, fmt.Errorf("invalid path %q at offset %d: empty segment; quote keys that contain dots, as in a.\"b.c\"", path, i)
			}
			i++
			expectSegment = true
			if i == len(path) {
				return nil, fmt.Errorf("invalid path %q: it ends with a dot", path)
			}
		case !expectSegment:
			return nil, fmt.Errorf("invalid path %q at offset %d: expected '.' or '[' after %q", path, i, path[:i])
		case c == '"':
			key, n, err := parseQuoted(path[i:])
			if err != nil {
				return nil, fmt.Errorf("invalid path %q at offset %d: %w", path, i, err)
			}
			segs = append(segs, segment{key: key})
			i += n
			expectSegment = false
		default:
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' && path[j] != '"' {
				j++
			}
			if j < len(path) && path[j] == '"' {
				return nil, fmt.Errorf("invalid path %q at offset %d: a quote inside a key; quote the whole key, as in \"a\\\"b\"", path, j)
			}
			seg := segment{key: path[i:j]}
			if isDigits(seg.key) {
				if n, err := strconv.Atoi(seg.key); err == nil {
					seg.numeric, seg.index = true, n
				}
			}
			segs = append(segs, seg)
			i = j
			expectSegment = false
		}
	}
	return segs, nil
}

// parseBracket parses a [N] or ["key"] segment at the start of s and returns
// it with the number of bytes it took.
func parseBracket(s string) (segment, int, error) {
	if len(s) > 1 && s[1] == '"' {
		key, n, err := parseQuoted(s[1:])
		if err != nil {
			return segment{}, 0, err
		}
		if 1+n >= len(s) || s[1+n] != ']' {
			return segment{}, 0, errors.New(`missing ']' after ["...`)
		}
		return segment{key: key}, n + 2, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return segment{}, 0, errors.New("missing ']'")
	}
	digits := s[1:end]
	n, err := strconv.Atoi(digits)
	if !isDigits(digits) || err != nil {
		return segment{}, 0, fmt.Errorf("[%s] is not a sequence index; write keys as [\"%s\"]", digits, digits)
	}
	return segment{key: digits, index: n, isIndex: true}, end + 1, nil
}

// parseQuoted parses a double-quoted key at the start of s and returns it
// with the number of bytes it took.
func parseQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			return "", 0, errors.New(`only \" and \\ are escapes inside a quoted key`)
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, errors.New("unterminated quoted key")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatPath renders segments back in path syntax, quoting keys only where
// needed, for error messages.
func formatPath(segs []segment) string {
	var b strings.Builder
	for i, s := range segs {
		if s.isIndex {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(formatKey(s.key))
	}
	return b.String()
}

// formatKey renders one mapping key in path syntax.
func formatKey(key string) string {
	if key != "" && !strings.ContainsAny(key, `.["`) {
		return key
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
}
