package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// ConfigurationName names both the validating and the mutating webhook
// configuration kargo registers.
const ConfigurationName = "kargo"

// endpoint is one admission webhook: which requests reach which path.
type endpoint struct {
	name       string // fully qualified, as the API server requires
	path       string
	resource   string
	operations []admissionregistrationv1.OperationType
	mutating   bool
	// group and version are kargo's unless set.
	group, version string
	// projectsOnly limits the webhook to project namespaces.
	projectsOnly bool
	// specOnly skips updates that leave the spec as it was (an
	// annotation, such as a refresh request, or a label), which the
	// validator would allow anyway: a webhook that pushes refresh a
	// hundred Warehouses would otherwise cost a hundred admission calls.
	specOnly bool
}

// specChanged is the match condition of specOnly webhooks.
var specChanged = []admissionregistrationv1.MatchCondition{{
	Name:       "creation-or-spec-change",
	Expression: "request.operation != 'UPDATE' || !has(oldObject.spec) || !has(object.spec) || object.spec != oldObject.spec",
}}

var (
	create = admissionregistrationv1.Create
	update = admissionregistrationv1.Update
	del    = admissionregistrationv1.Delete
)

// endpoints lists every webhook. Status subresources are not matched: only
// the controller (and the API server's approval path) may write status,
// which RBAC enforces, and the controller's status writes need no checks.
var endpoints = []endpoint{
	{name: "freights.mutate.kargo.akuity.io", path: "/mutate/freights", resource: "freights", operations: ops(create, update), mutating: true},
	{name: "freights.validate.kargo.akuity.io", path: "/validate/freights", resource: "freights", operations: ops(create, update, del)},
	{name: "promotions.mutate.kargo.akuity.io", path: "/mutate/promotions", resource: "promotions", operations: ops(create, update), mutating: true},
	{name: "promotions.validate.kargo.akuity.io", path: "/validate/promotions", resource: "promotions", operations: ops(create, update)},
	{name: "approvalpolicies.validate.kargo.akuity.io", path: "/validate/approvalpolicies", resource: "approvalpolicies", operations: ops(create, update, del)},
	{name: "promotiontasks.validate.kargo.akuity.io", path: "/validate/promotiontasks", resource: "promotiontasks", operations: ops(create, update)},
	{name: "promotionpolicies.validate.kargo.akuity.io", path: "/validate/promotionpolicies", resource: "promotionpolicies", operations: ops(create, update)},
	{name: "projects.validate.kargo.akuity.io", path: "/validate/projects", resource: "projects", operations: ops(create)},
	{name: "stages.validate.kargo.akuity.io", path: "/validate/stages", resource: "stages", operations: ops(create, update)},
	{name: "warehouses.validate.kargo.akuity.io", path: "/validate/warehouses", resource: "warehouses", operations: ops(create, update), specOnly: true},
	{name: "notificationsubscriptions.validate.kargo.akuity.io", path: "/validate/notificationsubscriptions", resource: "notificationsubscriptions", operations: ops(create, update)},
	// Argo Rollouts' AnalysisRuns have no status subresource: the runs of
	// kargo's verifications are guarded here (internal/webhook/analysisrun).
	// Where Argo Rollouts is not installed, the API server never calls it.
	// Holds, freezes and windows (internal/webhook/holds).
	{name: "promotions-override.validate.kargo.akuity.io", path: "/validate/promotions-override", resource: "promotions", operations: ops(create, update)},
	{name: "stages-delete.validate.kargo.akuity.io", path: "/validate/stages-delete", resource: "stages", operations: ops(del)},
	{name: "promotionwindows.validate.kargo.akuity.io", path: "/validate/promotionwindows", resource: "promotionwindows", operations: ops(create, update)},
	{name: "analysisruns.validate.kargo.akuity.io", path: "/validate/analysisruns", resource: "analysisruns", operations: ops(create, update),
		group: "argoproj.io", version: "v1alpha1", projectsOnly: true},
}

func ops(o ...admissionregistrationv1.OperationType) []admissionregistrationv1.OperationType {
	return o
}

// Configurations returns kargo's validating and mutating webhook
// configurations, with each webhook's client configuration made by
// clientConfig from its path. Every webhook fails closed: when the server
// cannot be reached, kargo's rules are not skipped.
func Configurations(clientConfig func(path string) admissionregistrationv1.WebhookClientConfig) (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	meta := metav1.ObjectMeta{Name: ConfigurationName, Labels: map[string]string{"app.kubernetes.io/part-of": "kargo"}}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta,
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: *meta.DeepCopy(),
	}
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	timeout := int32(10)
	for _, e := range endpoints {
		scope := admissionregistrationv1.NamespacedScope
		if e.resource == "projects" {
			scope = admissionregistrationv1.ClusterScope
		}
		group, version := kargoapi.GroupVersion.Group, kargoapi.GroupVersion.Version
		if e.group != "" {
			group, version = e.group, e.version
		}
		var namespaces *metav1.LabelSelector
		if e.projectsOnly {
			namespaces = &metav1.LabelSelector{MatchLabels: map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue}}
		}
		rules := []admissionregistrationv1.RuleWithOperations{{
			Operations: e.operations,
			Rule: admissionregistrationv1.Rule{
				APIGroups:   []string{group},
				APIVersions: []string{version},
				Resources:   []string{e.resource},
				Scope:       &scope,
			},
		}}
		if e.mutating {
			never := admissionregistrationv1.NeverReinvocationPolicy
			mutating.Webhooks = append(mutating.Webhooks, admissionregistrationv1.MutatingWebhook{
				Name: e.name, ClientConfig: clientConfig(e.path), Rules: rules,
				FailurePolicy: &fail, SideEffects: &none, MatchPolicy: &equivalent, TimeoutSeconds: &timeout,
				AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &never,
			})
			continue
		}
		var match []admissionregistrationv1.MatchCondition
		if e.specOnly {
			match = specChanged
		}
		validating.Webhooks = append(validating.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: e.name, ClientConfig: clientConfig(e.path), Rules: rules, NamespaceSelector: namespaces, MatchConditions: match,
			FailurePolicy: &fail, SideEffects: &none, MatchPolicy: &equivalent, TimeoutSeconds: &timeout,
			AdmissionReviewVersions: []string{"v1"},
		})
	}
	return validating, mutating
}
