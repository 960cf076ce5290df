// Package v1alpha1 holds the public resource types of the kargo.akuity.io API
// group: Projects, Warehouses, Freight, Stages, Promotions and
// PromotionPolicies.
//
// The package lives in its own Go module so that clients can import the types
// without pulling in the controllers.
//
// +kubebuilder:object:generate=true
// +groupName=kargo.akuity.io
package v1alpha1
