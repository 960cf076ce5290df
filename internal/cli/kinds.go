package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
)

// resourceType is what the CLI knows about one kind: its names on the
// command line and in the API, and its table.
type resourceType struct {
	api       apiclient.Kind
	kind      string
	aliases   []string
	newObject func() client.Object
	columns   []string
	row       func(obj client.Object, now time.Time) []string
	// several, when set, is the table used instead when several() says
	// the first objects printed call for it.
	several *tableVariant
	// help is the long help of `kargo get TYPE`, where a table needs
	// explaining.
	help string
}

// tableVariant is another table of a kind, for lists that need more
// columns than the usual one.
type tableVariant struct {
	when    func(objs []client.Object) bool
	columns []string
	row     func(obj client.Object, now time.Time) []string
}

var (
	projectType = &resourceType{
		api: apiclient.Projects, kind: "Project", aliases: []string{"project", "proj"},
		newObject: func() client.Object { return &kargoapi.Project{} },
		columns:   []string{"NAME", "PHASE", "AGE"},
		row: func(o client.Object, now time.Time) []string {
			p := o.(*kargoapi.Project)
			return []string{p.Name, string(p.Status.Phase), age(p, now)}
		},
	}
	warehouseType = &resourceType{
		api: apiclient.Warehouses, kind: "Warehouse", aliases: []string{"warehouse", "wh"},
		newObject: func() client.Object { return &kargoapi.Warehouse{} },
		columns:   []string{"NAME", "READY", "LAST FREIGHT", "AGE"},
		row: func(o client.Object, now time.Time) []string {
			w := o.(*kargoapi.Warehouse)
			last := ""
			if f := w.Status.LastFreight; f != nil {
				last = firstNonEmpty(f.Alias, f.Name)
			}
			return []string{w.Name, conditionStatus(w.Status.Conditions, kargoapi.ConditionReady), last, age(w, now)}
		},
	}
	stageType = &resourceType{
		api: apiclient.Stages, kind: "Stage", aliases: []string{"stage"},
		newObject: func() client.Object { return &kargoapi.Stage{} },
		columns:   []string{"NAME", "CURRENT FREIGHT", "HEALTH", "PHASE", "AGE"},
		help: `List the Stages of a project, or show the ones named. The table's columns:

  CURRENT FREIGHT  the alias of the Freight the Stage holds; empty until its
                   first promotion; for a Stage with requestedFreight,
                   origin=alias for each origin it requests (- for none yet)
  HEALTH           the health of the Argo CD Applications the Stage updates:
                   Healthy, Progressing, Unhealthy, or Unknown when nothing
                   reports one (no Freight yet, or no Application to update)
  PHASE            NotApplicable: no Freight yet, so nothing to promote from
                   or verify (an upstream Stage or the Warehouse has none to
                   offer it, or nobody promoted any); Steady: it holds its
                   Freight; Promoting; Verifying; Failed: the last promotion
                   or verification failed (kargo get promotions says why)
  STOP             what keeps Promotions into the Stage from starting: its
                   hold (held by USER: REASON), the project's freeze (frozen
                   by USER: REASON), or a PromotionWindow (window NAME until
                   its end, in its time zone); empty when nothing does`,
		row: func(o client.Object, now time.Time) []string {
			s := o.(*kargoapi.Stage)
			return []string{s.Name, currentFreightCell(s), stageHealth(s), string(s.Status.Phase), age(s, now)}
		},
	}
	freightType = &resourceType{
		api: apiclient.Freight, kind: "Freight", aliases: []string{"freights"},
		newObject: func() client.Object { return &kargoapi.Freight{} },
		columns:   []string{"NAME", "ALIAS", "AGE"},
		row: func(o client.Object, now time.Time) []string {
			f := o.(*kargoapi.Freight)
			return []string{f.Name, freightAlias(f), age(f, now)}
		},
		// A project whose Freight comes from several Warehouses (a Stage
		// that requests several origins) shows each Freight's origin.
		several: &tableVariant{
			when:    severalOrigins,
			columns: []string{"NAME", "ALIAS", "ORIGIN", "AGE"},
			row: func(o client.Object, now time.Time) []string {
				f := o.(*kargoapi.Freight)
				return []string{f.Name, freightAlias(f), originCell(f.Origin), age(f, now)}
			},
		},
	}
	promotionType = &resourceType{
		api: apiclient.Promotions, kind: "Promotion", aliases: []string{"promotion", "promo", "promos"},
		newObject: func() client.Object { return &kargoapi.Promotion{} },
		columns:   []string{"NAME", "STAGE", "FREIGHT", "PHASE", "STEP", "AGE"},
		help: `List a project's Promotions, or show the ones named. The table's columns:

  PHASE            Pending: waiting for its turn; Running; Succeeded; Failed:
                   the spec or the repository must change; Errored: a
                   transient error (the message says which)
  STEP             the step that runs now, or that ended the Promotion, as
                   N/TOTAL ALIAS (empty before the first step starts);
                   -o yaml shows each step's state, message and outputs
                   under status.steps`,
		row: func(o client.Object, now time.Time) []string {
			p := o.(*kargoapi.Promotion)
			return []string{p.Name, p.Spec.Stage, p.Spec.Freight, string(p.Status.Phase), stepCell(p), age(p, now)}
		},
	}
	promotionPolicyType = &resourceType{
		api: apiclient.PromotionPolicies, kind: "PromotionPolicy", aliases: []string{"promotionpolicy"},
		newObject: func() client.Object { return &kargoapi.PromotionPolicy{} },
		columns:   []string{"NAME", "STAGE", "AUTO PROMOTION", "AGE"},
		row: func(o client.Object, now time.Time) []string {
			p := o.(*kargoapi.PromotionPolicy)
			return []string{p.Name, p.Stage, strconv.FormatBool(p.EnableAutoPromotion), age(p, now)}
		},
	}
	approvalPolicyType = &resourceType{
		api: apiclient.ApprovalPolicies, kind: "ApprovalPolicy", aliases: []string{"approvalpolicy"},
		newObject: func() client.Object { return &kargoapi.ApprovalPolicy{} },
		columns:   []string{"NAME", "STAGES", "REQUIRED", "AGE"},
		row: func(o client.Object, now time.Time) []string {
			p := o.(*kargoapi.ApprovalPolicy)
			stages := strings.Join(p.Spec.Stages.Names, ",")
			if p.Spec.Stages.Selector != nil {
				stages = strings.TrimPrefix(stages+","+metav1.FormatLabelSelector(p.Spec.Stages.Selector), ",")
			}
			return []string{p.Name, stages, strconv.Itoa(int(max(p.Spec.Required, 1))), age(p, now)}
		},
	}
	resourceTypes = []*resourceType{projectType, warehouseType, stageType, freightType, promotionType, promotionPolicyType, promotionWindowType, approvalPolicyType}
)

// plural is the name `kargo get` lists the kind under.
func (rt *resourceType) plural() string { return string(rt.api) }

// resourceName is how kubectl names an object of the kind:
// stage.kargo.akuity.io/test.
func (rt *resourceType) resourceName(name string) string {
	return strings.ToLower(rt.kind) + "." + kargoapi.GroupVersion.Group + "/" + name
}

// typeByKind finds the resource type of a manifest's kind.
func typeByKind(kind string) *resourceType {
	for _, rt := range resourceTypes {
		if rt.kind == kind {
			return rt
		}
	}
	return nil
}

// object is one object as the server sent it: typed for tables, and
// unstructured for -o json|yaml|jsonpath, so that fields this CLI does not
// know are printed too.
type object struct {
	typed client.Object
	raw   map[string]any
}

// decodeObject decodes one object of rt from the API. Lists carry their
// items without apiVersion and kind, as Kubernetes does; they are filled in
// so that printed objects can be applied again.
func decodeObject(rt *resourceType, data []byte) (object, error) {
	typed := rt.newObject()
	if err := json.Unmarshal(data, typed); err != nil {
		return object{}, fmt.Errorf("decode %s: %w", rt.kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// Numbers stay as the server wrote them instead of becoming float64,
	// which would print 1e+06 for a million.
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return object{}, fmt.Errorf("decode %s: %w", rt.kind, err)
	}
	if raw == nil {
		return object{}, fmt.Errorf("decode %s: the server sent null", rt.kind)
	}
	gvk := kargoapi.GroupVersion.WithKind(rt.kind)
	if raw["apiVersion"] == nil || raw["apiVersion"] == "" {
		raw["apiVersion"] = gvk.GroupVersion().String()
	}
	if raw["kind"] == nil || raw["kind"] == "" {
		raw["kind"] = gvk.Kind
	}
	typed.GetObjectKind().SetGroupVersionKind(gvk)
	return object{typed: typed, raw: raw}, nil
}

func decodeObjects(rt *resourceType, items []json.RawMessage) ([]object, error) {
	objs := make([]object, 0, len(items))
	for _, item := range items {
		o, err := decodeObject(rt, item)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// age is the AGE column: how long ago the object was created, as kubectl
// shows it.
func age(o client.Object, now time.Time) string {
	created := o.GetCreationTimestamp()
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(created.Time))
}

func conditionStatus(conds []metav1.Condition, typ string) string {
	if i := slices.IndexFunc(conds, func(c metav1.Condition) bool { return c.Type == typ }); i >= 0 {
		return string(conds[i].Status)
	}
	return ""
}

// currentFreightCell shows the Freight a Stage holds: its current Freight's
// alias; for a Stage that requests several origins, origin=alias for each
// origin it requests, in spec order, with - for one it holds nothing of
// yet.
func currentFreightCell(s *kargoapi.Stage) string {
	if len(s.Spec.RequestedFreight) == 0 {
		if f := s.Status.CurrentFreight; f != nil {
			return firstNonEmpty(f.Alias, f.ID)
		}
		return ""
	}
	held := s.Status.CurrentFreightByOrigin
	cells := make([]string, 0, len(s.Spec.RequestedFreight))
	for _, r := range s.Spec.RequestedFreight {
		cell := r.Origin.Name + "=-"
		for _, h := range held {
			if h.Origin != nil && h.Origin.Kind == r.Origin.Kind && h.Origin.Name == r.Origin.Name {
				cell = r.Origin.Name + "=" + firstNonEmpty(h.Alias, h.ID)
				break
			}
		}
		cells = append(cells, cell)
	}
	return strings.Join(cells, ",")
}

// severalOrigins says whether objs, Freight, come from more than one origin.
func severalOrigins(objs []client.Object) bool {
	seen := map[string]bool{}
	for _, o := range objs {
		if f, ok := o.(*kargoapi.Freight); ok && f.Origin != nil {
			seen[string(f.Origin.Kind)+"/"+f.Origin.Name] = true
		}
	}
	return len(seen) > 1
}

// originCell shows a Freight's origin: a Warehouse by its name, a Stage
// (one that subscribes to repositories itself) as stage/<name>.
func originCell(o *kargoapi.FreightOrigin) string {
	switch {
	case o == nil:
		return ""
	case o.Kind == kargoapi.FreightOriginStage:
		return "stage/" + o.Name
	}
	return o.Name
}

// stageHealth is the HEALTH column: the Stage's health, and Unknown, as the
// web UI shows it, when nothing reports one (no Freight yet, or a Stage
// that updates no Argo CD Application).
func stageHealth(s *kargoapi.Stage) string {
	if s.Status.Health == nil || s.Status.Health.Status == "" {
		return string(kargoapi.HealthStateUnknown)
	}
	return string(s.Status.Health.Status)
}

// freightAlias is the alias field, else the label: the two are kept in
// sync, but right after a write only one may be set.
func freightAlias(f *kargoapi.Freight) string {
	return firstNonEmpty(f.Alias, f.Labels[kargoapi.AliasLabelKey])
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// notFound turns a 404 into a message that says what is missing and how to
// find what exists. The 404 may be for another object than the one asked
// for (the project, or the Freight of a promotion); the server says which
// in the Status details.
func notFound(err error, rt *resourceType, name, project string) error {
	if !apiclient.IsNotFound(err) {
		return err
	}
	if st, _ := apiclient.StatusOf(err); st.Details != nil {
		if other := lookupType(st.Details.Kind); other != nil && other != rt {
			rt, name = other, firstNonEmpty(st.Details.Name, name)
		}
	}
	switch rt {
	case projectType:
		if name == "" {
			name = project
		}
		return &missingProjectError{name: name}
	case freightType:
		return fmt.Errorf("no Freight named or aliased %q in project %s; kargo get freight --project %s lists them", name, project, project)
	}
	return fmt.Errorf("%s %q not found in project %q (kargo get %s --project %s lists them)", rt.kind, name, project, rt.plural(), project)
}

// apiError explains an error of the API about the object rt/name: a 404
// says what is missing, 401 and 403 are the server's own words (they name
// what to do, or the missing verb), anything else says what failed.
func apiError(err error, action string, rt *resourceType, name, project string) error {
	switch {
	case apiclient.IsNotFound(err):
		return notFound(err, rt, name, project)
	case apiclient.IsForbidden(err), apiclient.IsUnauthorized(err):
		return err
	}
	return fmt.Errorf("%s: %w", action, err)
}

// lookupType finds a resource type by any of its names: plural, singular,
// short, or kind.
func lookupType(name string) *resourceType {
	n := strings.ToLower(name)
	for _, rt := range resourceTypes {
		if n == rt.plural() || n == strings.ToLower(rt.kind) || slices.Contains(rt.aliases, n) {
			return rt
		}
	}
	return nil
}

// stepCell is where a Promotion is in its steps: the step that runs now
// (or next), the one that failed, or the last one when all ended.
func stepCell(p *kargoapi.Promotion) string {
	total := max(len(p.Spec.Steps), len(p.Status.Steps))
	if total == 0 || len(p.Status.Steps) == 0 {
		return ""
	}
	i := min(int(p.Status.CurrentStep), total-1)
	for j, s := range p.Status.Steps {
		if s.Status == kargoapi.StepStatusFailed {
			i = j
			break
		}
	}
	alias := "step-" + strconv.Itoa(i+1)
	switch {
	case i < len(p.Status.Steps):
		alias = p.Status.Steps[i].Alias
	case p.Spec.Steps[i].As != "":
		alias = p.Spec.Steps[i].As
	}
	return fmt.Sprintf("%d/%d %s", i+1, total, alias)
}
