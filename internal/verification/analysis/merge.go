package analysis

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// invalidError is a problem with the Stage's templates that retrying cannot
// fix. It matches sourceerr.ErrInvalid with errors.Is, but its message is
// only its own, without ErrInvalid's generic suffix.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func (e *invalidError) Unwrap() error { return sourceerr.ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// runSpec is what the AnalysisRun's spec is made of, merged from every
// template of a Stage.
type runSpec struct {
	metrics              []any
	args                 []any
	dryRun               []any
	measurementRetention []any
}

// object returns the spec as an AnalysisRun's spec field, leaving out the
// lists that are empty.
func (s runSpec) object() map[string]any {
	spec := map[string]any{"metrics": s.metrics}
	if len(s.args) > 0 {
		spec["args"] = s.args
	}
	if len(s.dryRun) > 0 {
		spec["dryRun"] = s.dryRun
	}
	if len(s.measurementRetention) > 0 {
		spec["measurementRetention"] = s.measurementRetention
	}
	return spec
}

// merge combines the specs of templates, in order, into one run's spec.
//
// Metrics are concatenated; two metrics of the same name would make the run
// ambiguous, so they are refused. Arguments are merged by name: a
// declaration without a value is filled by another template's value, while
// two different values are refused, since kargo cannot know which one the
// user meant. Every argument must end up with a value or valueFrom: kargo
// passes no arguments of its own. dryRun and measurementRetention entries
// are merged by metricName, identical entries collapsing into one.
func merge(templates []*unstructured.Unstructured) (runSpec, error) {
	var spec runSpec
	metricFrom := map[string]string{}
	args := newMergedList("argument", "name")
	dryRun := newMergedList("dryRun entry for metric", "metricName")
	retention := newMergedList("measurementRetention entry for metric", "metricName")
	for _, t := range templates {
		// A template may include others (spec.templates), namespaced or
		// cluster-wide. Kargo does not follow them: a Stage uses only
		// templates of its own namespace, each listed in the Stage, and
		// leaving them out silently would verify less than the user wrote.
		if nested, err := entries(t, "templates"); err != nil {
			return runSpec{}, err
		} else if len(nested) > 0 {
			return runSpec{}, invalid("AnalysisTemplate %q includes other templates (spec.templates), which kargo does not follow: list each template of the Stage's namespace in spec.verification.analysisTemplates instead; ClusterAnalysisTemplates cannot be used", t.GetName())
		}
		metrics, err := entries(t, "metrics")
		if err != nil {
			return runSpec{}, err
		}
		for i, m := range metrics {
			name, _, _ := unstructured.NestedString(m, "name")
			if name == "" {
				return runSpec{}, invalid("metric %d of AnalysisTemplate %q has no name", i, t.GetName())
			}
			if other, ok := metricFrom[name]; ok {
				return runSpec{}, invalid("metric %q is defined by both AnalysisTemplate %q and AnalysisTemplate %q; metric names must be unique across a Stage's templates", name, other, t.GetName())
			}
			metricFrom[name] = t.GetName()
			spec.metrics = append(spec.metrics, m)
		}
		for _, f := range []struct {
			field string
			into  *mergedList
			add   func(*mergedList, string, map[string]any) error
		}{
			{"args", args, (*mergedList).addArg},
			{"dryRun", dryRun, (*mergedList).addSame},
			{"measurementRetention", retention, (*mergedList).addSame},
		} {
			list, err := entries(t, f.field)
			if err != nil {
				return runSpec{}, err
			}
			for _, e := range list {
				if err := f.add(f.into, t.GetName(), e); err != nil {
					return runSpec{}, err
				}
			}
		}
	}
	if len(spec.metrics) == 0 {
		return runSpec{}, invalid("the Stage's AnalysisTemplates define no metrics")
	}
	for i, a := range args.items {
		if !hasValue(a) {
			return runSpec{}, invalid("argument %q of AnalysisTemplate %q has no value or valueFrom, and kargo passes no arguments; give it a value in the template", args.keys[i], args.from[i])
		}
	}
	spec.args, spec.dryRun, spec.measurementRetention = args.list(), dryRun.list(), retention.list()
	return spec, nil
}

// entries returns the objects of the list at spec.<field> of t, or nothing
// when the field is absent.
func entries(t *unstructured.Unstructured, field string) ([]map[string]any, error) {
	raw, found, err := unstructured.NestedSlice(t.Object, "spec", field)
	if err != nil {
		return nil, invalid("spec.%s of AnalysisTemplate %q is not a list: %v", field, t.GetName(), err)
	}
	if !found {
		return nil, nil
	}
	out := make([]map[string]any, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, invalid("spec.%s[%d] of AnalysisTemplate %q is not an object", field, i, t.GetName())
		}
		out = append(out, m)
	}
	return out, nil
}

// mergedList is a list of objects keyed by one string field, in the order
// the keys were first seen, remembering which template each came from.
type mergedList struct {
	what, keyField string
	keys, from     []string
	items          []map[string]any
	index          map[string]int
}

func newMergedList(what, keyField string) *mergedList {
	return &mergedList{what: what, keyField: keyField, index: map[string]int{}}
}

// key returns e's key, refusing an entry without one.
func (l *mergedList) key(template string, e map[string]any) (string, error) {
	k, _, _ := unstructured.NestedString(e, l.keyField)
	if k == "" {
		return "", invalid("a %s in AnalysisTemplate %q has no %s", l.what, template, l.keyField)
	}
	return k, nil
}

func (l *mergedList) append(k, template string, e map[string]any) {
	l.index[k] = len(l.items)
	l.keys, l.from, l.items = append(l.keys, k), append(l.from, template), append(l.items, e)
}

// addSame adds e unless an identical entry with its key is there already;
// a different one with the same key is a conflict.
func (l *mergedList) addSame(template string, e map[string]any) error {
	k, err := l.key(template, e)
	if err != nil {
		return err
	}
	i, ok := l.index[k]
	if !ok {
		l.append(k, template, e)
		return nil
	}
	if !reflect.DeepEqual(l.items[i], e) {
		return invalid("the %s %q differs between AnalysisTemplate %q and AnalysisTemplate %q", l.what, k, l.from[i], template)
	}
	return nil
}

// addArg adds the argument e: a declaration without a value takes a value
// given elsewhere, while two different values are a conflict.
func (l *mergedList) addArg(template string, e map[string]any) error {
	k, err := l.key(template, e)
	if err != nil {
		return err
	}
	i, ok := l.index[k]
	switch {
	case !ok:
		l.append(k, template, e)
	case !hasValue(e):
		// The argument is declared again without a value: what is known
		// already stands.
	case !hasValue(l.items[i]):
		l.items[i], l.from[i] = e, template
	case !reflect.DeepEqual(argValue(l.items[i]), argValue(e)):
		return invalid("argument %q has different values in AnalysisTemplate %q and AnalysisTemplate %q", k, l.from[i], template)
	}
	return nil
}

func (l *mergedList) list() []any {
	if len(l.items) == 0 {
		return nil
	}
	out := make([]any, len(l.items))
	for i, e := range l.items {
		out[i] = e
	}
	return out
}

// hasValue says whether an argument gives a value or says where to read
// one from. An empty string is a value.
func hasValue(arg map[string]any) bool {
	return arg["value"] != nil || arg["valueFrom"] != nil
}

// argValue returns what an argument resolves to, for comparison.
func argValue(arg map[string]any) [2]any {
	return [2]any{arg["value"], arg["valueFrom"]}
}
