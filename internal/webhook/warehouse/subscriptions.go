package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/config/crd"
)

// subscriptionRules are the rules of a Stage's spec.subscriptions.repos
// schema (patterns, enums, limits and CEL rules), which a Warehouse's
// subscriptions must follow too. The Warehouse CRD cannot hold them: its
// subscriptions take two shapes (the object and Kargo v0.4–v0.6's list),
// and a schema gives a field one type, so the API server stores them
// unchecked and unpruned, and this webhook checks them, once read as the
// object, against the one schema that states the rules.
type subscriptionRules struct {
	structural *structuralschema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator
}

var (
	rulesOnce sync.Once
	rules     *subscriptionRules
	rulesErr  error
)

// loadSubscriptionRules reads the rules from the embedded Stage CRD, once.
func loadSubscriptionRules() (*subscriptionRules, error) {
	rulesOnce.Do(func() { rules, rulesErr = buildSubscriptionRules() })
	return rules, rulesErr
}

func buildSubscriptionRules() (*subscriptionRules, error) {
	defs, err := crd.Definitions()
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		if d.Spec.Names.Kind != "Stage" {
			continue
		}
		for _, v := range d.Spec.Versions {
			if v.Name != kargoapi.GroupVersion.Version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			repos, ok := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["subscriptions"].Properties["repos"]
			if !ok {
				return nil, fmt.Errorf("the Stage CRD has no spec.subscriptions.repos schema")
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(&repos, internal, nil); err != nil {
				return nil, fmt.Errorf("convert the subscriptions schema: %w", err)
			}
			structural, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("read the subscriptions schema: %w", err)
			}
			sv, _, err := validation.NewSchemaValidator(internal)
			if err != nil {
				return nil, fmt.Errorf("build the subscriptions validator: %w", err)
			}
			return &subscriptionRules{structural: structural, schema: sv, cel: cel.NewValidator(structural, false, celconfig.PerCallLimit)}, nil
		}
	}
	return nil, fmt.Errorf("the embedded CRDs hold no Stage %s schema", kargoapi.GroupVersion.Version)
}

// checkSubscriptions returns what is wrong with a Warehouse's
// subscriptions, in either shape, as field errors under
// spec.subscriptions, or nothing. raw is the Warehouse as the request sent
// it.
func checkSubscriptions(ctx context.Context, raw []byte) (field.ErrorList, error) {
	path := field.NewPath("spec", "subscriptions")
	var obj struct {
		Spec struct {
			Subscriptions json.RawMessage `json:"subscriptions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decode Warehouse: %w", err)
	}
	var subs kargoapi.RepoSubscriptions
	if err := json.Unmarshal(obj.Spec.Subscriptions, &subs); err != nil {
		return field.ErrorList{field.Invalid(path, "", strings.TrimPrefix(err.Error(), "subscriptions: ")+
			"; write subscriptions as {git: [...], images: [...], charts: [...]} or as a list of entries that each hold one of git, image or chart")}, nil
	}
	r, err := loadSubscriptionRules()
	if err != nil {
		return nil, err
	}
	normal, err := json.Marshal(subs)
	if err != nil {
		return nil, fmt.Errorf("encode subscriptions: %w", err)
	}
	var u any
	if err := json.Unmarshal(normal, &u); err != nil {
		return nil, fmt.Errorf("decode subscriptions: %w", err)
	}
	structuraldefaulting.Default(u, r.structural)
	errs := validation.ValidateCustomResource(path, u, r.schema)
	if len(errs) > 0 {
		return errs, nil
	}
	celErrs, _ := r.cel.Validate(ctx, path, r.structural, u, nil, celconfig.RuntimeCELCostBudget)
	return celErrs, nil
}
