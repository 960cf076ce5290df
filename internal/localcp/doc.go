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
//
// Being on the machine is not enough to use the control plane: etcd speaks
// only TLS and takes only client certificates signed by a CA of its own,
// which signs no client's certificate but kube-apiserver's; its peer listener
// takes only etcd's own peer certificate. Every key is in DataDir/pki, mode
// 0700, so the data dir's owner, and nobody else, holds them.
package localcp
