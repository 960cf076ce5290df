package argocd

import (
	"encoding/json"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// StepName is the promotion step that updates Argo CD Applications.
const StepName = "argocd-update"

// Updates returns the Application updates a Stage makes, for its health and
// for finding the Stages of an Application: its promotionMechanisms'
// argoCDAppUpdates or, for a Stage whose promotion process is steps, one
// update per Application its argocd-update steps name. The names and
// namespaces in steps are evaluated with ctx (project and stage) and the
// Stage's and template's vars only, as Kargo does, since health is read
// outside any Promotion; a name that needs more (a step's outputs) is left
// out. Updates from steps carry no source updates: the health of such a
// Stage is its Applications' own health and sync status. Steps inside
// PromotionTasks are not seen.
func Updates(st *kargoapi.Stage) []kargoapi.ArgoCDAppUpdate {
	if pm := st.Spec.PromotionMechanisms; pm != nil {
		return pm.ArgoCDAppUpdates
	}
	t := st.Spec.PromotionTemplate
	if t == nil {
		return nil
	}
	env := &engine.Env{Ctx: map[string]any{"project": st.Namespace, "stage": st.Name}}
	vars := map[string]any{}
	env.Vars = vars
	for _, list := range [][]kargoapi.ExpressionVariable{st.Spec.Vars, t.Spec.Vars} {
		for _, v := range list {
			if val, err := env.EvaluateString(v.Value); err == nil {
				vars[v.Name] = val
			}
		}
	}
	var out []kargoapi.ArgoCDAppUpdate
	for _, step := range t.Spec.Steps {
		if step.Uses != StepName || step.Config == nil {
			continue
		}
		var cfg struct {
			Apps []struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"apps"`
		}
		if json.Unmarshal(step.Config.Raw, &cfg) != nil {
			continue
		}
		for _, a := range cfg.Apps {
			name, err1 := env.EvaluateString(a.Name)
			ns, err2 := env.EvaluateString(a.Namespace)
			n, ok1 := name.(string)
			s, ok2 := ns.(string)
			if err1 != nil || err2 != nil || !ok1 || !ok2 || n == "" {
				continue
			}
			out = append(out, kargoapi.ArgoCDAppUpdate{AppName: n, AppNamespace: s})
		}
	}
	return out
}
