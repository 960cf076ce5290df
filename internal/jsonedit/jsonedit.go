// Package jsonedit edits JSON documents in place: SetValue replaces the
// bytes of one scalar value and nothing else, so indentation, key order,
// number spelling and the rest of the file stay as their author wrote them.
// It is the JSON counterpart of package yamledit.
package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Errors SetValue wraps, for errors.Is.
var (
	// ErrKeyNotFound says the path names a key or index the document does
	// not have; SetValue never inserts one.
	ErrKeyNotFound = errors.New("key not found")
	// ErrNotScalar says the path names an object or an array, or the new
	// value is one.
	ErrNotScalar = errors.New("not a scalar")
	// ErrInvalidJSON says the document is not valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrDuplicateKey says an object on the path has the key twice, so
	// which one to set is ambiguous.
	ErrDuplicateKey = errors.New("duplicate key")
)

// SetValue sets the scalar at path in doc to value and returns the edited
// document. path holds one part per level: an object key, or, on an array,
// a decimal index. value is a string, a bool, nil or a number (any Go
// integer or float type, or json.Number); it is written as JSON.
//
// A path that does not exist is ErrKeyNotFound naming the longest prefix
// that does and the keys found there; an object or array at path, or a map
// or slice value, is ErrNotScalar. When the value already is value, doc is
// returned as is.
func SetValue(doc []byte, path []string, value any) ([]byte, error) {
	if len(path) == 0 {
		return nil, errors.New("the path is empty")
	}
	text, err := encode(value)
	if err != nil {
		return nil, err
	}
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	s := &scanner{src: doc}
	s.skipSpace()
	start, end, err := s.find(path, 0)
	if err != nil {
		return nil, err
	}
	if doc[start] == '{' || doc[start] == '[' {
		kind := "an object"
		if doc[start] == '[' {
			kind = "an array"
		}
		return nil, fmt.Errorf("%s is %s: %w; name a string, number, boolean or null inside it", strings.Join(path, "."), kind, ErrNotScalar)
	}
	if sameScalar(doc[start:end], text) {
		return doc, nil
	}
	out := make([]byte, 0, len(doc)-(end-start)+len(text))
	out = append(out, doc[:start]...)
	out = append(out, text...)
	out = append(out, doc[end:]...)
	if err := verify(doc, out, path, text); err != nil {
		return nil, err
	}
	return out, nil
}

// encode writes value as a JSON scalar without HTML escaping.
func encode(value any) ([]byte, error) {
	switch value.(type) {
	case nil, string, bool, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
	default:
		return nil, fmt.Errorf("a value of type %T: %w; give a string, number, boolean or null", value, ErrNotScalar)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// sameScalar says whether two JSON scalars are the same value, so that a
// string spelled with other escapes ("\u0061" for "a") is left alone.
// Numbers compare by their text: 1.0 and 1 differ.
func sameScalar(a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// verify checks that out decodes to what doc decodes to with the value at
// path replaced, so that an edit can never change anything else.
func verify(doc, out []byte, path []string, text []byte) error {
	var before, after, value any
	if err := json.Unmarshal(doc, &before); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if err := json.Unmarshal(out, &after); err != nil {
		return fmt.Errorf("the edited document does not parse: %v", err)
	}
	if err := json.Unmarshal(text, &value); err != nil {
		return fmt.Errorf("the new value does not parse: %v", err)
	}
	if !reflect.DeepEqual(replace(before, path, value), after) {
		return fmt.Errorf("the edit of %s changed more than that value; the file is left as it was", strings.Join(path, "."))
	}
	return nil
}

// replace returns v with the value at path set to value; v is decoded
// JSON, and path exists in it.
func replace(v any, path []string, value any) any {
	if len(path) == 0 {
		return value
	}
	switch c := v.(type) {
	case map[string]any:
		c[path[0]] = replace(c[path[0]], path[1:], value)
	case []any:
		i, _ := strconv.Atoi(path[0])
		c[i] = replace(c[i], path[1:], value)
	}
	return v
}
