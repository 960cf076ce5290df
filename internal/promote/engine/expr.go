package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/repourl"
)

// Expressions are written ${{ ... }} in the expr language (expr-lang.org),
// as Kargo writes them, so that manifests written for Kargo evaluate the
// same here.
const (
	openDelim  = "${{"
	closeDelim = "}}"
)

// Env is what expressions see: ctx, vars, outputs, task, and the functions
// of functions().
type Env struct {
	Ctx     map[string]any
	Vars    map[string]any
	Outputs map[string]any
	// Task holds task.outputs for the steps of a PromotionTask.
	Task map[string]any
	// Freight is the Freight whose artifacts commitFrom, imageFrom and
	// chartFrom look in: the target Freight first.
	Freight []*kargoapi.Freight
	// Metadata reads the status.metadata of a Stage or Freight of the
	// project, for stageMetadata and freightMetadata.
	Metadata func(kind, name string) (map[string]any, error)
	// Results say how earlier steps ended, for success(), failure().
	failed bool
}

func (e *Env) values() map[string]any {
	m := map[string]any{"ctx": e.Ctx, "vars": e.Vars, "outputs": e.Outputs, "task": e.Task}
	for name, fn := range e.functions() {
		m[name] = fn
	}
	return m
}

// HasExpression says whether s holds an expression.
func HasExpression(s string) bool { return strings.Contains(s, openDelim) }

// EvaluateString evaluates the expressions in s. A string that is one
// expression and nothing else takes the expression's value; otherwise each
// expression's value is written into the string. Then, as YAML would, a
// result that reads as JSON (a number, true, an object...) becomes that
// value; quote() keeps a value a string.
func (e *Env) EvaluateString(s string) (any, error) {
	if !HasExpression(s) {
		return s, nil
	}
	var out strings.Builder
	rest := s
	var only any
	single := false
	for {
		i := strings.Index(rest, openDelim)
		if i < 0 {
			out.WriteString(rest)
			break
		}
		j := strings.Index(rest[i:], closeDelim)
		if j < 0 {
			return nil, fmt.Errorf("%q opens an expression with ${{ and never closes it with }}", s)
		}
		code := strings.TrimSpace(rest[i+len(openDelim) : i+j])
		v, err := e.eval(code)
		if err != nil {
			return nil, err
		}
		single = i == 0 && i+j+len(closeDelim) == len(rest) && out.Len() == 0
		only = v
		out.WriteString(rest[:i])
		out.WriteString(format(v))
		rest = rest[i+j+len(closeDelim):]
	}
	if single {
		if str, ok := only.(string); ok {
			return coerce(str), nil
		}
		return only, nil
	}
	return coerce(out.String()), nil
}

// Evaluate evaluates every string in v (a JSON value: maps, slices,
// strings...) recursively; keys are left as they are.
func (e *Env) Evaluate(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return e.EvaluateString(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			y, err := e.Evaluate(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			y, err := e.Evaluate(x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = y
		}
		return out, nil
	default:
		return v, nil
	}
}

// Condition evaluates an if expression, written with or without ${{ }}.
func (e *Env) Condition(code string) (bool, error) {
	code = strings.TrimSpace(code)
	if strings.HasPrefix(code, openDelim) && strings.HasSuffix(code, closeDelim) && strings.Count(code, openDelim) == 1 {
		code = strings.TrimSpace(code[len(openDelim) : len(code)-len(closeDelim)])
	}
	v, err := e.eval(code)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("if: %q is %T %v, not true or false", code, v, v)
	}
	return b, nil
}

func (e *Env) eval(code string) (any, error) {
	env := e.values()
	prog, err := expr.Compile(code, expr.Env(env))
	if err != nil {
		return nil, fmt.Errorf("expression %q does not compile: %w", code, err)
	}
	v, err := expr.Run(prog, env)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", code, err)
	}
	return v, nil
}

// format writes an expression's value into a string.
func format(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case map[string]any, []any:
		b, _ := json.Marshal(t)
		return string(b)
	default:
		return fmt.Sprint(t)
	}
}

// coerce reads s as JSON when it is JSON, as a YAML parser would read an
// unquoted scalar; otherwise s stays a string.
func coerce(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

// functions are the functions expressions may call besides expr's own.
func (e *Env) functions() map[string]any {
	return map[string]any{
		// quote keeps a value a string: 42 stays "42".
		"quote": func(v any) string {
			b, _ := json.Marshal(format(v))
			return string(b)
		},
		// unsafeQuote keeps the quotes of a string in the value.
		"unsafeQuote": func(v any) string {
			if s, ok := v.(string); ok {
				inner, _ := json.Marshal(s)
				b, _ := json.Marshal(string(inner))
				return string(b)
			}
			b, _ := json.Marshal(format(v))
			return string(b)
		},
		"warehouse": func(name string) map[string]any {
			return map[string]any{"Kind": string(kargoapi.FreightOriginWarehouse), "Name": name}
		},
		"commitFrom": func(repoURL string, origin ...map[string]any) (any, error) {
			for _, f := range e.freightOf(origin) {
				for _, c := range f.Commits {
					if sameRepo(c.RepoURL, repoURL) {
						return map[string]any{"RepoURL": c.RepoURL, "ID": c.ID, "Branch": c.Branch, "Tag": c.Tag, "Message": c.Message}, nil
					}
				}
			}
			return nil, nil
		},
		"imageFrom": func(repoURL string, origin ...map[string]any) (any, error) {
			for _, f := range e.freightOf(origin) {
				for _, i := range f.Images {
					if sameRepo(i.RepoURL, repoURL) {
						return map[string]any{"RepoURL": i.RepoURL, "Tag": i.Tag, "Digest": i.Digest}, nil
					}
				}
			}
			return nil, nil
		},
		"chartFrom": func(repoURL string, rest ...any) (any, error) {
			name := ""
			var origin []map[string]any
			for _, r := range rest {
				switch t := r.(type) {
				case string:
					name = t
				case map[string]any:
					origin = append(origin, t)
				default:
					return nil, errors.New("chartFrom(repoURL, [name], [warehouse(...)]): an argument is neither a chart name nor an origin")
				}
			}
			for _, f := range e.freightOf(origin) {
				for _, c := range f.Charts {
					if (sameRepo(c.RepoURL, repoURL) && (name == "" || c.Name == name)) || (c.Name == "" && name != "" && sameRepo(c.RepoURL, strings.TrimSuffix(repoURL, "/")+"/"+name)) {
						return map[string]any{"RepoURL": c.RepoURL, "Name": c.Name, "Version": c.Version}, nil
					}
				}
			}
			return nil, nil
		},
		// stageMetadata is the metadata set-metadata steps wrote on a Stage
		// of the project: a map, empty when none was written.
		"stageMetadata": func(name string) (any, error) {
			return e.metadata("Stage", name)
		},
		// freightMetadata is the metadata on a Freight of the project, or
		// with a key, that key's value (nil when unset).
		"freightMetadata": func(name string, key ...string) (any, error) {
			m, err := e.metadata("Freight", name)
			if err != nil || len(key) == 0 {
				return m, err
			}
			return m[key[0]], nil
		},
		"always":  func() bool { return true },
		"success": func() bool { return !e.failed },
		"failure": func() bool { return e.failed },
	}
}

func (e *Env) metadata(kind, name string) (map[string]any, error) {
	if e.Metadata == nil {
		return nil, errors.New(strings.ToLower(kind[:1]) + kind[1:] + "Metadata cannot read metadata here")
	}
	return e.Metadata(kind, name)
}

// freightOf returns the Freight an artifact function looks in: all, or
// those of the origin given.
func (e *Env) freightOf(origin []map[string]any) []*kargoapi.Freight {
	if len(origin) == 0 || origin[0] == nil {
		return e.Freight
	}
	name, _ := origin[0]["Name"].(string)
	var out []*kargoapi.Freight
	for _, f := range e.Freight {
		if f.Origin != nil && f.Origin.Name == name {
			out = append(out, f)
		}
	}
	return out
}

func sameRepo(a, b string) bool { return repourl.Same(a, b) }
