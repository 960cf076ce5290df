// Package localcp runs a Kubernetes control plane on one machine, without a
// cluster, for `kargo local`: etcd, kube-apiserver and kube-controller-manager
// as child processes, listening on 127.0.0.1 only.
//
// Everything that must outlive a run (etcd's data, the CA, the certificates
// and the users' bearer tokens that kubeconfig files embed) lives in a data
// dir, so a later Start resumes where Stop left off and kubeconfig files
// handed out earlier keep working. There is no scheduler and no kubelet: Pods are stored but
// never run. The controller manager runs only what an API-only cluster needs
// to behave as users expect: garbage collection through owner references,
// namespace deletion, the "default" service account of each namespace and
// the rules of aggregated cluster roles (view, edit, admin and any role that
// aggregates into them).
package localcp
