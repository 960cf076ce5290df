// Package cluster installs kargo with its Helm chart on a real single-node
// cluster (hack/cluster/up.sh: a kubelet running the image in containerd)
// and runs the seed pipeline through the installed controller, API server
// and CLI. hack/cluster/test.sh (make test-cluster) builds everything, starts
// the cluster and runs this test inside the cluster's network namespace. It
// is built only with the `cluster` tag, which that script gives: `go test
// ./...` neither runs nor skips it, and without KARGO_CLUSTER_DIR it fails.
package cluster
