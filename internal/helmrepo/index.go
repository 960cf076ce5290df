package helmrepo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	yaml "go.yaml.in/yaml/v2"
)

// index is the part of a repository's index.yaml that discovery needs:
// each chart's versions. Everything else in an entry (URLs, digests,
// descriptions, maintainers...) is left unparsed, which is most of a large
// index.
type index struct {
	charts map[string][]string
}

type indexDocument struct {
	APIVersion string                        `json:"apiVersion" yaml:"apiVersion"`
	Entries    map[string][]indexEntryFields `json:"entries" yaml:"entries"`
}

type indexEntryFields struct {
	Version string `json:"version" yaml:"version"`
}

// errNotIndex says a document parsed but is not a Helm repository index,
// such as an HTML login page served with status 200.
var errNotIndex = errors.New("it has no apiVersion; a Helm repository index starts with apiVersion: v1")

// parseIndex reads an index.yaml. JSON, which some repository servers
// serve, takes the encoding/json path. YAML is read one chart at a time
// (parseByChart) when the index has the block layout that Helm and every
// common repository server write, and as a whole otherwise.
func parseIndex(data []byte) (*index, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var doc indexDocument
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, err
		}
		return doc.index()
	}
	if idx, ok := parseByChart(data); ok {
		return idx, nil
	}
	// go.yaml.in/yaml/v2, the parser sigs.k8s.io/yaml wraps, decodes
	// straight into the few fields above: sigs.k8s.io/yaml would first
	// turn the whole document into JSON, which doubles the time and
	// memory.
	var doc indexDocument
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return doc.index()
}

func (doc *indexDocument) index() (*index, error) {
	if doc.APIVersion == "" {
		return nil, errNotIndex
	}
	idx := &index{charts: make(map[string][]string, len(doc.Entries))}
	for name, entries := range doc.Entries {
		idx.charts[name] = versionsOf(entries)
	}
	return idx, nil
}

func versionsOf(entries []indexEntryFields) []string {
	versions := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Version != "" {
			versions = append(versions, e.Version)
		}
	}
	return versions
}

// topLevelKey is what the keys of an index's top level look like
// (apiVersion, entries, generated, serverInfo...); anything else makes
// parseByChart leave the document to the whole-document parse.
var topLevelKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// parseByChart reads an index in the block layout that `helm repo index`,
// ChartMuseum, Harbor and chart-releaser write: top-level keys at column 0,
// and under "entries:" one key per chart, all at the same indentation,
// each followed by its list of versions indented further (or, as
// sigs.k8s.io/yaml writes it, "- " at the key's own indentation).
//
// A YAML parser builds a tree of the whole document before decoding it,
// which costs about nine times the document's size: a 28 MB index took a
// controller from 61 to 378 MB. Parsing each chart's block on its own
// costs the tree of one chart at a time (BenchmarkIndexMemory: a peak of
// 252 MiB above the baseline for a 28 MiB index with the whole document,
// see docs/warehouses.md for the figures with this path).
//
// It reports false when the document has another layout (flow style,
// anchors shared between charts, tabs, directives...) or any block fails
// to parse; the caller then parses the whole document, which also gives
// the error message for a malformed one.
func parseByChart(data []byte) (*index, bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var (
		apiVersion  string
		idx         = &index{charts: map[string][]string{}}
		inEntries   bool
		chartIndent = -1
		chunkStart  = -1 // offset of the current chart's block in data
	)
	// flush parses the current chart's block, which ends at end. The
	// block is a slice of data: nothing is copied.
	flush := func(end int) bool {
		if chunkStart < 0 {
			return true
		}
		var entries map[string][]indexEntryFields
		if err := yaml.Unmarshal(data[chunkStart:end], &entries); err != nil || len(entries) != 1 {
			return false
		}
		for name, e := range entries {
			idx.charts[name] = versionsOf(e)
		}
		chunkStart = -1
		return true
	}
	for pos := 0; pos < len(data); {
		start := pos
		line := data[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		pos += len(line)
		content := bytes.TrimLeft(line, " ")
		indent := len(line) - len(content)
		switch {
		case len(bytes.TrimSpace(content)) == 0 || content[0] == '#':
			// Blank lines and comments belong to whatever block they
			// are in.
		case content[0] == '\t':
			return nil, false
		case indent == 0:
			// A top-level key ends the entries, if they were open.
			if !flush(start) {
				return nil, false
			}
			inEntries = false
			key, rest, ok := bytes.Cut(bytes.TrimRight(line, " \r\n"), []byte(":"))
			if !ok || !topLevelKey.Match(key) || len(rest) > 0 && rest[0] != ' ' {
				return nil, false
			}
			switch string(key) {
			case "entries":
				if len(bytes.TrimSpace(rest)) != 0 {
					return nil, false // flow style, such as entries: {}
				}
				inEntries = true
			case "apiVersion":
				var v map[string]string
				if err := yaml.Unmarshal(line, &v); err != nil {
					return nil, false
				}
				apiVersion = v["apiVersion"]
			}
			// Other top-level keys (generated, serverInfo...) are
			// skipped with their blocks: only entries matters.
		case !inEntries:
			// Inside a top-level key other than entries.
		case chartIndent < 0 || indent == chartIndent && !bytes.HasPrefix(content, []byte("- ")):
			if chartIndent < 0 {
				chartIndent = indent
			}
			if !flush(start) {
				return nil, false
			}
			chunkStart = start
		case indent < chartIndent:
			return nil, false
		}
	}
	if !flush(len(data)) || apiVersion == "" {
		return nil, false
	}
	return idx, true
}

// describe is for error messages only.
func (i *index) describe() string {
	return fmt.Sprintf("%d charts", len(i.charts))
}
