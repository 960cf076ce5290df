package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PromotionPolicy turns on automatic promotion into one Stage. It is a
// separate resource, rather than a field of Stage, so that someone who may
// edit a Stage but not promote into it cannot enable auto-promotion to
// promote anyway.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.stage`
// +kubebuilder:printcolumn:name="Auto Promotion",type=boolean,JSONPath=`.enableAutoPromotion`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PromotionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Stage is the name of the Stage the policy applies to, in the same
	// project.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="stage must be the name of a Stage of the project: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Stage string `json:"stage"`
	// EnableAutoPromotion makes Kargo create a Promotion whenever new Freight
	// becomes available to the Stage.
	//
	// +optional
	EnableAutoPromotion bool `json:"enableAutoPromotion,omitempty"`
}

// PromotionPolicyList is a list of PromotionPolicies.
//
// +kubebuilder:object:root=true
type PromotionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PromotionPolicy `json:"items"`
}
