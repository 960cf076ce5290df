package yamledit

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// encodeScalar renders value as YAML text to replace the scalar old, keeping
// old's quoting style when that reads back as intended (see the package
// documentation for the rules). flow tells whether the text goes inside a
// flow collection.
func encodeScalar(value string, old *yaml.Node, flow bool) (string, error) {
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("the new value %q is not valid UTF-8", value)
	}
	switch {
	case old.Style&yaml.DoubleQuotedStyle != 0:
		return doubleQuoted(value), nil
	case old.Style&yaml.SingleQuotedStyle != 0:
		if singleQuotable(value) {
			return "'" + strings.ReplaceAll(value, "'", "''") + "'", nil
		}
		return doubleQuoted(value), nil
	case old.Style&yaml.TaggedStyle != 0 && old.ShortTag() == "!!str":
		if plainSafe(value, flow) {
			return value, nil
		}
		return doubleQuoted(value), nil
	default:
		if plainKeepsType(value, old, flow) {
			return value, nil
		}
		return doubleQuoted(value), nil
	}
}

// encodeNew renders value as YAML text for a newly inserted string.
func encodeNew(value string, flow bool) (string, error) {
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("the new value %q is not valid UTF-8", value)
	}
	if plainSafe(value, flow) && plainIsString(value) {
		return value, nil
	}
	return doubleQuoted(value), nil
}

// doubleQuoted renders s as a double-quoted YAML scalar. Every escape Go's
// strconv.Quote produces (\a \b \f \n \r \t \v \\ \" \xHH \uHHHH
// \UHHHHHHHH) means the same in YAML, and s is valid UTF-8, so \xHH only
// appears for ASCII control characters.
func doubleQuoted(s string) string {
	return strconv.Quote(s)
}

// singleQuotable reports whether s can be written single-quoted on one line:
// single-quoted scalars have no escapes, so tabs, line breaks and other
// non-printable characters would be folded or rejected.
func singleQuotable(s string) bool {
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// plainKeepsType reports whether value may replace the plain scalar old
// without quotes: it must be safe as a plain scalar and read back either as a
// string, or, when old was an int, float, bool or timestamp, as the same type.
func plainKeepsType(value string, old *yaml.Node, flow bool) bool {
	if !plainSafe(value, flow) {
		return false
	}
	if plainIsString(value) {
		return true
	}
	switch old.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!timestamp":
	default:
		return false
	}
	if old.Style != 0 || plainTag(value) != old.ShortTag() {
		return false
	}
	newV1, ok1 := decodeV1(value)
	oldV1, ok2 := decodeV1(old.Value)
	return ok1 && ok2 && reflect.TypeOf(newV1) == reflect.TypeOf(oldV1)
}

// plainIsString reports whether value, written plain, reads back as the
// string value under both YAML 1.2 and YAML 1.1.
func plainIsString(value string) bool {
	if plainTag(value) != "!!str" {
		return false
	}
	v, ok := decodeV1(value)
	s, isString := v.(string)
	return ok && isString && s == value
}

// plainTag returns the tag yaml.v3 resolves value to when written plain.
func plainTag(value string) string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(value), &n); err != nil || len(n.Content) != 1 {
		return ""
	}
	return n.Content[0].ShortTag()
}

// decodeV1 decodes value with yaml.v2, which follows YAML 1.1 like Helm and
// sigs.k8s.io/yaml do.
func decodeV1(value string) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if err := yamlv2.Unmarshal([]byte(value), &v); err != nil {
		return nil, false
	}
	return v, true
}

// plainSafe reports whether value can be written as a plain scalar on one line
// and parse back as exactly value (its type aside).
func plainSafe(value string, flow bool) bool {
	if value == "" || value != strings.TrimSpace(value) {
		return false
	}
	for _, r := range value {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	if strings.Contains(value, ": ") || strings.HasSuffix(value, ":") || strings.Contains(value, " #") {
		return false
	}
	if strings.HasPrefix(value, "---") || strings.HasPrefix(value, "...") {
		return false
	}
	first := value[0]
	if strings.IndexByte("-?:", first) >= 0 {
		if len(value) == 1 || value[1] == ' ' || (flow && isFlowIndicator(value[1])) {
			return false
		}
	} else if strings.IndexByte(",[]{}#&*!|>'\"%@`", first) >= 0 {
		return false
	}
	if flow && strings.ContainsAny(value, ",[]{}?:#") {
		return false
	}
	// The scanner is the authority: the value must come back as one plain
	// scalar holding exactly value.
	doc := value
	if flow {
		doc = "[" + value + "]"
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	s := n.Content[0]
	if flow {
		if s.Kind != yaml.SequenceNode || len(s.Content) != 1 {
			return false
		}
		s = s.Content[0]
	}
	return s.Kind == yaml.ScalarNode && s.Style == 0 && s.Value == value
}
