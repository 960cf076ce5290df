package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/parser"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Validate checks a list of steps as far as it can before they run: each
// names a step that exists, aliases are unique, configurations are JSON
// objects, and every expression parses. It returns one message a problem,
// each naming the step (by index and alias) and the field, under path (such
// as "spec.promotionTemplate.spec.steps").
func Validate(path string, steps []kargoapi.PromotionStep, known func(string) bool) []string {
	var problems []string
	seen := map[string]int{}
	for i, s := range steps {
		at := fmt.Sprintf("%s[%d]", path, i)
		if s.As != "" {
			at += " (" + s.As + ")"
		}
		alias := Alias(s, i)
		if j, dup := seen[alias]; dup {
			problems = append(problems, fmt.Sprintf("%s.as: alias %q is used by %s[%d] too; aliases name outputs, so each is unique", at, alias, path, j))
		}
		seen[alias] = i
		if strings.Contains(s.As, TaskSeparator) {
			problems = append(problems, fmt.Sprintf("%s.as: %q holds %q, which kargo uses to name a task's steps", at, s.As, TaskSeparator))
		}
		switch {
		case s.Uses != "" && s.Task != nil:
			problems = append(problems, at+": a step names either uses or task, not both")
		case s.Uses == "" && s.Task == nil:
			problems = append(problems, at+": a step names uses (a step such as git-clone) or task (a PromotionTask)")
		case s.Uses != "" && !known(s.Uses):
			problems = append(problems, fmt.Sprintf("%s.uses: there is no step %q; docs/promotions.md lists the steps", at, s.Uses))
		}
		if s.If != "" {
			if err := parses(unwrap(s.If)); err != nil {
				problems = append(problems, fmt.Sprintf("%s.if: %v", at, err))
			}
		}
		for _, v := range s.Vars {
			if err := parsesTemplate(v.Value); err != nil {
				problems = append(problems, fmt.Sprintf("%s.vars[%s]: %v", at, v.Name, err))
			}
		}
		if s.Config != nil && len(s.Config.Raw) > 0 {
			var cfg any
			if err := json.Unmarshal(s.Config.Raw, &cfg); err != nil {
				problems = append(problems, fmt.Sprintf("%s.config: %v", at, err))
				continue
			}
			if _, ok := cfg.(map[string]any); !ok {
				problems = append(problems, at+".config: must be an object of the step's fields")
				continue
			}
			walkStrings(cfg, "config", func(field, s string) {
				if err := parsesTemplate(s); err != nil {
					problems = append(problems, fmt.Sprintf("%s.%s: %v", at, field, err))
				}
			})
		}
	}
	return problems
}

// ValidateProcess checks a process's variables (PATH.vars) and steps
// (PATH.steps), as Validate and ValidateVars do.
func ValidateProcess(path string, vars []kargoapi.ExpressionVariable, steps []kargoapi.PromotionStep, known func(string) bool) []string {
	return append(ValidateVars(path+".vars", vars), Validate(path+".steps", steps, known)...)
}

// ValidateVars checks the expressions of variables.
func ValidateVars(path string, vars []kargoapi.ExpressionVariable) []string {
	var problems []string
	for i, v := range vars {
		if err := parsesTemplate(v.Value); err != nil {
			problems = append(problems, fmt.Sprintf("%s[%d] (%s).value: %v", path, i, v.Name, err))
		}
	}
	return problems
}

func parses(code string) error {
	if _, err := parser.Parse(code); err != nil {
		return fmt.Errorf("expression %q does not parse: %v", code, strings.SplitN(err.Error(), "\n", 2)[0])
	}
	return nil
}

func parsesTemplate(s string) error {
	rest := s
	for {
		i := strings.Index(rest, openDelim)
		if i < 0 {
			return nil
		}
		j := strings.Index(rest[i:], closeDelim)
		if j < 0 {
			return fmt.Errorf("%q opens an expression with ${{ and never closes it with }}", s)
		}
		if err := parses(strings.TrimSpace(rest[i+len(openDelim) : i+j])); err != nil {
			return err
		}
		rest = rest[i+j+len(closeDelim):]
	}
}

func walkStrings(v any, at string, fn func(field, s string)) {
	switch t := v.(type) {
	case string:
		fn(at, t)
	case map[string]any:
		for k, x := range t {
			walkStrings(x, at+"."+k, fn)
		}
	case []any:
		for i, x := range t {
			walkStrings(x, fmt.Sprintf("%s[%d]", at, i), fn)
		}
	}
}
