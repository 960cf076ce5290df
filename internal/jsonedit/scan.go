package jsonedit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// scanner walks a document that json.Valid accepted, so it checks only
// what it needs to find its way.
type scanner struct {
	src []byte
	pos int
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// find returns the span of the value at path[depth:], starting at the
// value under the cursor.
func (s *scanner) find(path []string, depth int) (int, int, error) {
	if depth == len(path) {
		start := s.pos
		s.skipValue()
		return start, s.pos, nil
	}
	where := strings.Join(path[:depth], ".")
	if where == "" {
		where = "the document"
	}
	switch s.src[s.pos] {
	case '{':
		return s.findKey(path, depth, where)
	case '[':
		return s.findIndex(path, depth, where)
	default:
		return 0, 0, fmt.Errorf("%w: %s is a scalar, so it has no %q", ErrKeyNotFound, where, path[depth])
	}
}

func (s *scanner) findKey(path []string, depth int, where string) (int, int, error) {
	want := path[depth]
	var keys []string
	found := -1
	var start, end int
	s.pos++ // {
	s.skipSpace()
	for s.src[s.pos] != '}' {
		keyStart := s.pos
		s.skipString()
		var key string
		_ = json.Unmarshal(s.src[keyStart:s.pos], &key)
		keys = append(keys, strconv.Quote(key))
		s.skipSpace()
		s.pos++ // :
		s.skipSpace()
		if key == want {
			if found >= 0 {
				return 0, 0, fmt.Errorf("%w: %s has the key %q twice", ErrDuplicateKey, where, want)
			}
			found = s.pos
			var err error
			if start, end, err = s.find(path, depth+1); err != nil {
				return 0, 0, err
			}
		} else {
			s.skipValue()
		}
		s.skipSpace()
		if s.src[s.pos] == ',' {
			s.pos++
			s.skipSpace()
		}
	}
	s.pos++ // }
	if found < 0 {
		has := "no keys"
		if len(keys) > 0 {
			has = "the keys " + strings.Join(keys, ", ")
		}
		return 0, 0, fmt.Errorf("%w: %s has no key %q (it has %s)", ErrKeyNotFound, where, want, has)
	}
	return start, end, nil
}

func (s *scanner) findIndex(path []string, depth int, where string) (int, int, error) {
	want, err := strconv.Atoi(path[depth])
	if err != nil || want < 0 || strconv.Itoa(want) != path[depth] {
		return 0, 0, fmt.Errorf("%w: %s is an array, and %q is not an index", ErrKeyNotFound, where, path[depth])
	}
	s.pos++ // [
	s.skipSpace()
	n := 0
	start, end := -1, -1
	for ; s.src[s.pos] != ']'; n++ {
		if n == want {
			// Found; the walk goes on to the array's end, so that the
			// scans of the enclosing values resume after it.
			if start, end, err = s.find(path, depth+1); err != nil {
				return 0, 0, err
			}
		} else {
			s.skipValue()
		}
		s.skipSpace()
		if s.src[s.pos] == ',' {
			s.pos++
			s.skipSpace()
		}
	}
	s.pos++ // ]
	if start < 0 {
		return 0, 0, fmt.Errorf("%w: %s is an array of %d elements, so it has no index %d", ErrKeyNotFound, where, n, want)
	}
	return start, end, nil
}

// skipValue moves past the value under the cursor.
func (s *scanner) skipValue() {
	switch c := s.src[s.pos]; c {
	case '"':
		s.skipString()
	case '{', '[':
		depth := 0
		for s.pos < len(s.src) {
			switch s.src[s.pos] {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos++
					return
				}
			}
			s.pos++
		}
	default:
		// A number, true, false or null runs to the next delimiter.
		for s.pos < len(s.src) && !strings.ContainsRune(",}] \t\r\n", rune(s.src[s.pos])) {
			s.pos++
		}
	}
}

// skipString moves past the string under the cursor.
func (s *scanner) skipString() {
	s.pos++ // opening quote
	for s.src[s.pos] != '"' {
		if s.src[s.pos] == '\\' {
			s.pos++
		}
		s.pos++
	}
	s.pos++
}
