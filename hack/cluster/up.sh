#!/usr/bin/env bash
# hack/cluster/up.sh — start a real single-node Kubernetes cluster on this
# machine, without Docker or systemd: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd + runc (Debian's), a
# kubelet, kube-proxy (iptables) and the bridge CNI plugin.
#
# Everything runs inside one private network and mount namespace, held open
# by a `sleep` process: the host's interfaces, routes, iptables rules and
# mount table are not touched. down.sh stops it and undoes the rest (a few
# global sysctls the kubelet sets, host directories it insists on, cgroups).
#
#   CLUSTER_DIR  state: PKI, kubeconfigs, logs, etcd, containerd (required)
#   CLUSTER_BIN  etcd kube-apiserver kube-controller-manager kube-scheduler
#                kubelet kube-proxy kubectl (hack/cluster-bins.sh)
#   CLUSTER_IMAGES  OCI archives imported into containerd; pause.tar must be
#                there (localhost/pause:ci, the pod sandbox image)
#
# Addresses exist only inside the namespace: the node is 10.250.0.1, pods
# 10.244.0.0/24, Services 10.0.0.0/24. There is no cluster DNS: pods reach
# Services by ClusterIP or by the environment variables the kubelet sets.
# Run commands in the cluster's network with: nsenter -t $(cat $CLUSTER_DIR/holder.pid) -n -m -- CMD
set -euo pipefail
S=${CLUSTER_DIR:?set CLUSTER_DIR}
BIN=${CLUSTER_BIN:?set CLUSTER_BIN}
IMAGES=${CLUSTER_IMAGES:?set CLUSTER_IMAGES}
NODE=kargo-node NODE_IP=10.250.0.1 POD_CIDR=10.244.0.0/24 SVC_CIDR=10.0.0.0/24 PORT=6443
start=$(date +%s%N)
say() { printf 'cluster: [%5.1fs] %s\n' "$(( ($(date +%s%N) - start) / 100000000 ))e-1" "$*" >&2; }
[[ -e $S/holder.pid ]] && { echo "cluster: $S/holder.pid exists: already up? (run down.sh)" >&2; exit 1; }
for cmd in containerd ctr runc iptables openssl nsenter unshare; do
  command -v $cmd > /dev/null || { echo "cluster: $cmd is missing (apt-get install runc containerd containernetworking-plugins iptables openssl)" >&2; exit 1; }
done
[[ -x /usr/lib/cni/bridge ]] || { echo "cluster: /usr/lib/cni/bridge is missing (apt-get install containernetworking-plugins)" >&2; exit 1; }
mkdir -p "$S"/{etc,run,pki,logs,cni/net.d,cni/ipam,kubelet,pod-logs,volume-plugins,etcd}

# Paths runc, containerd and the kubelet use whatever their configuration
# says. Missing ones are created (and recorded, for down.sh to remove);
# inside the namespace a tmpfs covers each, so nothing is written to them.
: > "$S/host-dirs-created"
for d in /run/containerd /var/log/containers /var/lib/kubelet /var/lib/cni; do
  [[ -e $d ]] || { mkdir -p "$d"; echo "$d" >> "$S/host-dirs-created"; }
done
# The kubelet sets these machine-wide (they are not per namespace).
sysctl vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes > "$S/sysctls-before"

# 1. The namespaces, held by `sleep infinity`; a veth pair gives the node its address.
setsid unshare --net --mount --propagation private --fork sleep infinity < /dev/null > /dev/null 2>&1 &
echo $! > "$S/unshare.pid"
holder=""
for _ in $(seq 50); do holder=$(pgrep -P "$(cat "$S/unshare.pid")" -x sleep || true); [[ -n $holder ]] && break; sleep 0.1; done
[[ -n $holder ]] || { echo "cluster: the namespace holder did not start" >&2; exit 1; }
echo "$holder" > "$S/holder.pid"
IN="nsenter -t $holder -n -m --"
printf '127.0.0.1 localhost\n%s %s\n' $NODE_IP $NODE > "$S/etc/hosts"
# Nothing listens there: no name lookup leaves the namespace.
echo 'nameserver 127.0.0.53' > "$S/etc/resolv.conf"
$IN sh -ec "
  ip link set lo up
  ip link add kn0 type veth peer name kn1
  ip addr add $NODE_IP/24 dev kn0
  ip link set kn0 up; ip link set kn1 up
  ip route add default via 10.250.0.2 dev kn0
  for d in /run/containerd /var/log/containers /var/lib/kubelet /var/lib/cni; do mount -t tmpfs tmpfs \$d; done
  mount --bind $S/etc/hosts /etc/hosts
  mount --bind $S/etc/resolv.conf /etc/resolv.conf
  echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables"
say "namespaces held by pid $holder; node address $NODE_IP"

run() { # NAME CMD...: start CMD in the namespace in its own session, logging to logs/NAME.log
  local name=$1; shift
  $IN setsid "$@" > "$S/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$S/$name.pid"
}
await() { # SECONDS WHAT CMD...: poll CMD until it succeeds
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 5))); do
    if "$@" > /dev/null 2>&1; then say "$what"; return 0; fi
    sleep 0.2
  done
  echo "cluster: timed out waiting for: $what (logs in $S/logs)" >&2; return 1
}

# 2. A CA, the API server's serving certificate, the service-account key and
#    one client certificate per component.
P=$S/pki
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 7 -subj /CN=kargo-test-cluster-ca 2> /dev/null
openssl genrsa -out "$P/sa.key" 2048 2> /dev/null
openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2> /dev/null
issue() { # FILE CN [O] [SANS]: a client certificate, or a serving one with SANS
  openssl req -new -newkey rsa:2048 -nodes -keyout "$P/$1.key" -subj "/CN=$2${3:+/O=$3}" -out "$P/$1.csr" 2> /dev/null
  openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 7 -out "$P/$1.crt" \
    -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s' \
      "${4:+serverAuth,}clientAuth" "${4:+subjectAltName=$4}") 2> /dev/null
}
issue apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost,IP:127.0.0.1,IP:10.0.0.1,IP:$NODE_IP"
issue admin cluster-admin system:masters
issue kcm system:kube-controller-manager
issue scheduler system:kube-scheduler
issue kubelet system:node:$NODE system:nodes
issue kube-proxy system:kube-proxy
for u in admin kcm scheduler kubelet kube-proxy; do
  cat > "$S/$u.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: kargo-test, cluster: {server: "https://127.0.0.1:$PORT", certificate-authority-data: "$(base64 -w0 "$P/ca.crt")"}}]
users: [{name: $u, user: {client-certificate-data: "$(base64 -w0 "$P/$u.crt")", client-key-data: "$(base64 -w0 "$P/$u.key")"}}]
contexts: [{name: kargo-test, context: {cluster: kargo-test, user: $u}}]
current-context: kargo-test
EOF
done
say "certificates and kubeconfigs"

# 3. The control plane.
run etcd "$BIN/etcd" --name node --data-dir "$S/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster node=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
await 60 "etcd is healthy" $IN curl -fsS http://127.0.0.1:2379/health
run kube-apiserver "$BIN/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
  --bind-address 0.0.0.0 --advertise-address $NODE_IP --secure-port $PORT \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --client-ca-file "$P/ca.crt" --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
  --kubelet-client-certificate "$P/admin.crt" --kubelet-client-key "$P/admin.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$P/sa.pub" \
  --service-account-signing-key-file "$P/sa.key" --service-cluster-ip-range $SVC_CIDR \
  --allow-privileged=true --profiling=false
K="$IN $BIN/kubectl --kubeconfig $S/admin.kubeconfig"
await 120 "kube-apiserver is ready" $K get --raw /readyz
run kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$S/kcm.kubeconfig" \
  --leader-elect=false --secure-port 0 --use-service-account-credentials \
  --root-ca-file "$P/ca.crt" --service-account-private-key-file "$P/sa.key" \
  --cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
  --service-cluster-ip-range $SVC_CIDR --profiling=false --flex-volume-plugin-dir "$S/volume-plugins"
run kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$S/scheduler.kubeconfig" --leader-elect=false --secure-port 0 \
  --authentication-kubeconfig "$S/scheduler.kubeconfig" --authorization-kubeconfig "$S/scheduler.kubeconfig"

# 4. containerd with runc and cgroupfs. No CAP_SYS_RESOURCE here: without
#    restrict_oom_score_adj every sandbox fails ("can't get final child's PID
#    from pipe") when containerd lowers oom_score_adj.
cat > "$S/etc/containerd.toml" <<EOF
version = 2
root = "$S/containerd"
state = "$S/run/containerd"
[grpc]
  address = "$S/run/containerd.sock"
[ttrpc]
  address = "$S/run/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$S/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:ci"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$S/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
EOF
cat > "$S/cni/net.d/10-pods.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$S/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
run containerd containerd --config "$S/etc/containerd.toml"
CTR="$IN ctr --address $S/run/containerd.sock -n k8s.io"
await 30 "containerd is up" $CTR version
for archive in "$IMAGES"/*.tar; do $CTR images import "$archive" > /dev/null; done
say "imported: $($CTR images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

# 5. The kubelet (this machine has cgroup v1: failCgroupV1 false) and kube-proxy.
cat > "$S/etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$S/run/containerd.sock
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $P/apiserver.crt
tlsPrivateKeyFile: $P/apiserver.key
resolvConf: $S/etc/resolv.conf
podLogsDir: $S/pod-logs
volumePluginDir: $S/volume-plugins
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
run kubelet "$BIN/kubelet" --config "$S/etc/kubelet.yaml" --kubeconfig "$S/kubelet.kubeconfig" \
  --root-dir "$S/kubelet" --hostname-override $NODE --node-ip $NODE_IP --v=1
await 120 "node $NODE is Ready" $K wait --for=condition=Ready node/$NODE --timeout=1s
run kube-proxy "$BIN/kube-proxy" --kubeconfig "$S/kube-proxy.kubeconfig" --hostname-override $NODE \
  --proxy-mode iptables --cluster-cidr 10.244.0.0/16 --conntrack-max-per-core 0 \
  --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
await 60 "kube-proxy routes the kubernetes Service" sh -c "$IN iptables-save -t nat | grep -q 'default/kubernetes:https'"
await 60 "the default ServiceAccount exists" $K get serviceaccount default
say "up: KUBECONFIG=$S/admin.kubeconfig inside: $IN"
