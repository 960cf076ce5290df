package analysis

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// template returns an AnalysisTemplate called name with spec.
func template(name string, spec map[string]any) *unstructured.Unstructured {
	t := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	t.SetGroupVersionKind(TemplateGVK)
	t.SetName(name)
	return t
}

func metric(name string) map[string]any {
	return map[string]any{"name": name, "provider": map[string]any{"web": map[string]any{"url": "http://" + name}}}
}

func list(items ...map[string]any) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}

func TestMerge(t *testing.T) {
	secretArg := map[string]any{"name": "token", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}}
	tests := []struct {
		name      string
		templates []*unstructured.Unstructured
		want      map[string]any
		// wantErr is a part of the error's message; the error must match
		// sourceerr.ErrInvalid.
		wantErr []string
	}{{
		name: "metrics concatenated in template order, empty lists left out",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1"), metric("m2"))}),
			template("b", map[string]any{"metrics": list(metric("m3"))}),
		},
		want: map[string]any{"metrics": list(metric("m1"), metric("m2"), metric("m3"))},
	}, {
		name: "args merged by name, a declaration without value filled from another template",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{
				"metrics": list(metric("m1")),
				"args":    list(map[string]any{"name": "host"}, map[string]any{"name": "env", "value": "prod"}),
			}),
			template("b", map[string]any{
				"metrics": list(metric("m2")),
				"args":    list(map[string]any{"name": "host", "value": "example.com"}, map[string]any{"name": "env", "value": "prod"}, secretArg),
			}),
			template("c", map[string]any{"metrics": list(metric("m3")), "args": list(map[string]any{"name": "host"})}),
		},
		want: map[string]any{
			"metrics": list(metric("m1"), metric("m2"), metric("m3")),
			"args":    list(map[string]any{"name": "host", "value": "example.com"}, map[string]any{"name": "env", "value": "prod"}, secretArg),
		},
	}, {
		name: "an empty string is a value",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"name": "suffix", "value": ""})}),
		},
		want: map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"name": "suffix", "value": ""})},
	}, {
		name: "dryRun and measurementRetention merged by metric name",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{
				"metrics":              list(metric("m1")),
				"dryRun":               list(map[string]any{"metricName": "m1"}),
				"measurementRetention": list(map[string]any{"metricName": ".*", "limit": int64(20)}),
			}),
			template("b", map[string]any{
				"metrics":              list(metric("m2")),
				"dryRun":               list(map[string]any{"metricName": "m1"}, map[string]any{"metricName": "m2"}),
				"measurementRetention": list(map[string]any{"metricName": ".*", "limit": int64(20)}),
			}),
		},
		want: map[string]any{
			"metrics":              list(metric("m1"), metric("m2")),
			"dryRun":               list(map[string]any{"metricName": "m1"}, map[string]any{"metricName": "m2"}),
			"measurementRetention": list(map[string]any{"metricName": ".*", "limit": int64(20)}),
		},
	}, {
		name: "duplicate metric across templates",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1"))}),
			template("b", map[string]any{"metrics": list(metric("m2"), metric("m1"))}),
		},
		wantErr: []string{`metric "m1"`, `AnalysisTemplate "a"`, `AnalysisTemplate "b"`},
	}, {
		name:      "duplicate metric within a template",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": list(metric("m1"), metric("m1"))})},
		wantErr:   []string{`metric "m1"`, `AnalysisTemplate "a"`},
	}, {
		name:      "metric without a name",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": list(map[string]any{"provider": map[string]any{}})})},
		wantErr:   []string{"metric 0", `AnalysisTemplate "a" has no name`},
	}, {
		name:      "no metrics at all",
		templates: []*unstructured.Unstructured{template("a", map[string]any{}), template("b", map[string]any{"metrics": []any{}})},
		wantErr:   []string{"define no metrics"},
	}, {
		name:      "metrics not a list",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": "m1"})},
		wantErr:   []string{`spec.metrics of AnalysisTemplate "a" is not a list`},
	}, {
		name:      "metric not an object",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": []any{"m1"}})},
		wantErr:   []string{`spec.metrics[0] of AnalysisTemplate "a" is not an object`},
	}, {
		name: "conflicting argument values",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"name": "env", "value": "prod"})}),
			template("b", map[string]any{"metrics": list(metric("m2")), "args": list(map[string]any{"name": "env", "value": "staging"})}),
		},
		wantErr: []string{`argument "env"`, `AnalysisTemplate "a"`, `AnalysisTemplate "b"`},
	}, {
		name: "value against valueFrom conflicts",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"name": "token", "value": "x"})}),
			template("b", map[string]any{"metrics": list(metric("m2")), "args": list(secretArg)}),
		},
		wantErr: []string{`argument "token" has different values`},
	}, {
		name: "argument nobody gives a value",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"name": "env", "value": "prod"}, map[string]any{"name": "service-name"})}),
			template("b", map[string]any{"metrics": list(metric("m2")), "args": list(map[string]any{"name": "service-name"})}),
		},
		wantErr: []string{`argument "service-name" of AnalysisTemplate "a" has no value or valueFrom`},
	}, {
		name:      "argument without a name",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": list(metric("m1")), "args": list(map[string]any{"value": "x"})})},
		wantErr:   []string{`argument in AnalysisTemplate "a" has no name`},
	}, {
		name: "conflicting measurement retention",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1")), "measurementRetention": list(map[string]any{"metricName": "m1", "limit": int64(5)})}),
			template("b", map[string]any{"metrics": list(metric("m2")), "measurementRetention": list(map[string]any{"metricName": "m1", "limit": int64(50)})}),
		},
		wantErr: []string{`measurementRetention entry for metric "m1" differs`, `AnalysisTemplate "a"`, `AnalysisTemplate "b"`},
	}, {
		name: "a template including other templates",
		templates: []*unstructured.Unstructured{
			template("a", map[string]any{"metrics": list(metric("m1"))}),
			template("b", map[string]any{"metrics": list(metric("m2")), "templates": list(map[string]any{"templateName": "shared", "clusterScope": true})}),
		},
		wantErr: []string{`AnalysisTemplate "b" includes other templates (spec.templates)`, "ClusterAnalysisTemplates cannot be used"},
	}, {
		name:      "dryRun entry without a metric name",
		templates: []*unstructured.Unstructured{template("a", map[string]any{"metrics": list(metric("m1")), "dryRun": list(map[string]any{})})},
		wantErr:   []string{`dryRun entry for metric in AnalysisTemplate "a" has no metricName`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := merge(tt.templates)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, sourceerr.ErrInvalid)
				require.NotContains(t, err.Error(), "subscription", "the message must speak of templates only")
				for _, part := range tt.wantErr {
					require.ErrorContains(t, err, part)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, spec.object())
		})
	}
}
