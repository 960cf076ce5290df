package engine

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// TaskSeparator joins the alias of a step that uses a task and the aliases
// of the task's steps: a task step "update" used as "prod" runs as
// "prod::update".
const TaskSeparator = "::"

// ProcessOf returns the promotion process of a Stage's promotionTemplate:
// the Stage's vars then the template's, and the steps with every task
// replaced by its steps. Tasks are read with reader: PromotionTasks from
// the Stage's project, ClusterPromotionTasks from the cluster.
func ProcessOf(ctx context.Context, reader client.Reader, st *kargoapi.Stage) (Process, error) {
	t := st.Spec.PromotionTemplate
	if t == nil {
		return Process{}, nil
	}
	vars := append(append([]kargoapi.ExpressionVariable{}, st.Spec.Vars...), t.Spec.Vars...)
	steps, err := Expand(ctx, reader, st.Namespace, vars, t.Spec.Steps)
	if err != nil {
		return Process{}, err
	}
	return Process{Vars: vars, Steps: steps}, nil
}

// Expand replaces each step that uses a task with the task's steps. A
// task's steps get the alias TASKSTEP::ALIAS and, as vars, the task's vars
// (its inputs' defaults), then the vars of the step that uses it, then
// their own. As in Kargo, an input that inherited (the process's vars, such
// as the template's) or the using step's vars name takes that value rather
// than its default, and an input without a default must be named there.
// Tasks do not use tasks.
func Expand(ctx context.Context, reader client.Reader, namespace string, inherited []kargoapi.ExpressionVariable, steps []kargoapi.PromotionStep) ([]kargoapi.PromotionStep, error) {
	var out []kargoapi.PromotionStep
	for i, step := range steps {
		if step.Task == nil {
			out = append(out, step)
			continue
		}
		spec, err := taskSpec(ctx, reader, namespace, *step.Task)
		if err != nil {
			return nil, fmt.Errorf("steps[%d] (%s): %w", i, Alias(step, i), err)
		}
		outer := Alias(step, i)
		given := map[string]bool{}
		for _, v := range append(append([]kargoapi.ExpressionVariable{}, inherited...), step.Vars...) {
			given[v.Name] = true
		}
		var defaults []kargoapi.ExpressionVariable
		for _, v := range spec.Vars {
			switch {
			case given[v.Name]:
				// The template's value (or the step's, which comes later
				// anyway) wins over the task's default.
			case v.Value == "":
				return nil, fmt.Errorf("steps[%d] (%s): task %s needs vars.%s, which has no default: name it in this step's vars or the template's: %w",
					i, outer, step.Task.Name, v.Name, sourceerr.ErrInvalid)
			default:
				defaults = append(defaults, v)
			}
		}
		for j, inner := range spec.Steps {
			if inner.Task != nil {
				return nil, fmt.Errorf("steps[%d]: task %s uses task %s; tasks do not use tasks: %w", i, step.Task.Name, inner.Task.Name, sourceerr.ErrInvalid)
			}
			s := *inner.DeepCopy()
			s.As = outer + TaskSeparator + Alias(inner, j)
			s.Vars = append(append(append([]kargoapi.ExpressionVariable{}, defaults...), step.Vars...), inner.Vars...)
			if step.If != "" {
				// The task's condition guards each of its steps.
				if s.If == "" {
					s.If = step.If
				} else {
					s.If = "(" + unwrap(step.If) + ") && (" + unwrap(s.If) + ")"
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func unwrap(code string) string {
	code = strings.TrimSpace(code)
	if strings.HasPrefix(code, openDelim) && strings.HasSuffix(code, closeDelim) {
		return strings.TrimSpace(code[len(openDelim) : len(code)-len(closeDelim)])
	}
	return code
}

func taskSpec(ctx context.Context, reader client.Reader, namespace string, ref kargoapi.PromotionTaskReference) (*kargoapi.PromotionTaskSpec, error) {
	switch ref.Kind {
	case "", "PromotionTask":
		t := &kargoapi.PromotionTask{}
		if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, t); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("PromotionTask %s does not exist in project %s: %w", ref.Name, namespace, sourceerr.ErrInvalid)
			}
			return nil, fmt.Errorf("get PromotionTask %s: %w", ref.Name, err)
		}
		return &t.Spec, nil
	case "ClusterPromotionTask":
		t := &kargoapi.ClusterPromotionTask{}
		if err := reader.Get(ctx, client.ObjectKey{Name: ref.Name}, t); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("ClusterPromotionTask %s does not exist: %w", ref.Name, sourceerr.ErrInvalid)
			}
			return nil, fmt.Errorf("get ClusterPromotionTask %s: %w", ref.Name, err)
		}
		return &t.Spec, nil
	default:
		return nil, fmt.Errorf("task kind %q is neither PromotionTask nor ClusterPromotionTask: %w", ref.Kind, sourceerr.ErrInvalid)
	}
}
