package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// outputFormat is a parsed -o flag.
type outputFormat struct {
	// name is "" (a table), json, yaml, name, jsonpath or jsonpath-as-json.
	name string
	// path is the parsed expression of the jsonpath formats.
	path *jsonpath.JSONPath
}

const outputHelp = "output format: json, yaml, name, jsonpath=EXPR or jsonpath-as-json=EXPR (default: a table)"

// parseOutput parses -o. A jsonpath expression without braces gets them,
// so that `-o jsonpath=.status` works as `-o jsonpath={.status}` does.
func parseOutput(s string) (outputFormat, error) {
	name, expr, hasExpr := strings.Cut(s, "=")
	switch name {
	case "", "json", "yaml", "name":
		if hasExpr {
			return outputFormat{}, usageError{fmt.Errorf("-o %s takes no expression", name)}
		}
		return outputFormat{name: name}, nil
	case "jsonpath", "jsonpath-as-json":
		if strings.TrimSpace(expr) == "" {
			return outputFormat{}, usageError{fmt.Errorf("-o %s needs an expression, such as %s={.status}", name, name)}
		}
		if !strings.Contains(expr, "{") {
			expr = "{" + expr + "}"
		}
		jp := jsonpath.New("output").AllowMissingKeys(true)
		if err := jp.Parse(expr); err != nil {
			return outputFormat{}, usageError{fmt.Errorf("parse -o %s expression %s: %w", name, expr, err)}
		}
		return outputFormat{name: name, path: jp}, nil
	}
	return outputFormat{}, usageError{fmt.Errorf("unknown output format %q; %s", s, outputHelp)}
}

// printer writes objects of one kind in one format. It remembers whether
// the table header has been written, so that a watch adds rows under the
// first listing.
type printer struct {
	w       io.Writer
	rt      *resourceType
	format  outputFormat
	now     func() time.Time
	printed bool
	// columns and row are the table chosen when the header was printed.
	columns []string
	row     func(obj client.Object, now time.Time) []string
	widths  []int
}

// columnGap is the space between table columns, as kubectl leaves it.
const columnGap = 3

// printList prints objects as the answer to one `kargo get`. A single
// object asked for by name is printed as itself in json and yaml; anything
// else as a List, as kubectl does, so the output can be applied again.
func (p *printer) printList(objs []object, single bool) error {
	switch p.format.name {
	case "json", "yaml":
		if single && len(objs) == 1 {
			return p.encode(objs[0].raw)
		}
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.raw
		}
		return p.encode(map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}, "items": items})
	case "jsonpath-as-json":
		return p.jsonpathAsJSON(objs)
	}
	return p.print(objs)
}

// print prints objects one after another, as a watch does.
func (p *printer) print(objs []object) error {
	switch p.format.name {
	case "":
		return p.table(objs)
	case "json", "yaml":
		for _, o := range objs {
			if p.format.name == "yaml" && p.printed {
				if _, err := io.WriteString(p.w, "---\n"); err != nil {
					return err
				}
			}
			if err := p.encode(o.raw); err != nil {
				return err
			}
			p.printed = true
		}
		return nil
	case "name":
		for _, o := range objs {
			if _, err := fmt.Fprintln(p.w, p.rt.resourceName(o.typed.GetName())); err != nil {
				return err
			}
		}
		return nil
	case "jsonpath":
		return p.jsonpath(objs)
	case "jsonpath-as-json":
		return p.jsonpathAsJSON(objs)
	}
	return fmt.Errorf("unknown output format %q", p.format.name)
}

// table writes objects as kubectl does: a header, then columns three spaces
// apart. Column widths only grow, so that rows a watch adds later line up
// with the ones above them whenever they fit.
func (p *printer) table(objs []object) error {
	var rows [][]string
	if !p.printed {
		p.columns, p.row = p.rt.columns, p.rt.row
		if v := p.rt.several; v != nil {
			typed := make([]client.Object, len(objs))
			for i, o := range objs {
				typed[i] = o.typed
			}
			if v.when(typed) {
				p.columns, p.row = v.columns, v.row
			}
		}
		rows = append(rows, p.columns)
		p.printed = true
	}
	for _, o := range objs {
		rows = append(rows, p.row(o.typed, p.now()))
	}
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(p.widths) {
				p.widths = append(p.widths, 0)
			}
			p.widths[i] = max(p.widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", p.widths[i]-utf8.RuneCountInString(cell)+columnGap))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// encode writes v as indented JSON (four spaces, as kubectl) or YAML.
func (p *printer) encode(v any) error {
	var b []byte
	var err error
	if p.format.name == "yaml" {
		b, err = yaml.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, "", "    ")
		b = append(b, '\n')
	}
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = p.w.Write(b)
	return err
}

// jsonpath evaluates the expression against each object (not against a
// List: {.status}, not {.items[*].status}) and prints each object's text on
// its own line.
func (p *printer) jsonpath(objs []object) error {
	for _, o := range objs {
		var buf bytes.Buffer
		if err := p.format.path.Execute(&buf, o.raw); err != nil {
			return fmt.Errorf("evaluate jsonpath on %s: %w", o.typed.GetName(), err)
		}
		if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
		if _, err := p.w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// jsonpathAsJSON evaluates the expression against each object and prints
// every result, of every object, as one JSON array: `kargo get freight -o
// jsonpath-as-json={.status}` prints [ {status of the first}, ... ], which
// is what kubectl prints for one object and stays one JSON document for
// many.
func (p *printer) jsonpathAsJSON(objs []object) error {
	results := []any{}
	for _, o := range objs {
		found, err := p.format.path.FindResults(o.raw)
		if err != nil {
			return fmt.Errorf("evaluate jsonpath on %s: %w", o.typed.GetName(), err)
		}
		for _, values := range found {
			for _, v := range values {
				if !v.IsValid() || !v.CanInterface() {
					return errors.New("evaluate jsonpath: a result cannot be printed as JSON")
				}
				results = append(results, v.Interface())
			}
		}
	}
	b, err := json.MarshalIndent(results, "", "    ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = p.w.Write(append(b, '\n'))
	return err
}
