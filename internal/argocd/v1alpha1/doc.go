// Package v1alpha1 holds kargo's own slim copy of Argo CD's Application type
// (argoproj.io/v1alpha1): only the fields kargo reads or writes. Argo CD
// needs a newer Go than this project's toolchain, and its full types would
// drag in its dependencies. Writes go through merge patches computed from
// these types, so fields kargo does not know are never touched. The CRDs
// are Argo CD's own (tests and `kargo local` install them from the
// binaries hack/argocd-bins.sh builds).
//
// +kubebuilder:object:generate=true
// +groupName=argoproj.io
package v1alpha1
