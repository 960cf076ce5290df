#!/usr/bin/env bash
# hack/cluster/down.sh — stop the cluster up.sh started in CLUSTER_DIR and
# undo what it changed outside its namespace. Every process is stopped by the
# PID up.sh recorded, never by name. Safe to run twice, or after a failed up.sh.
set -u
S=${CLUSTER_DIR:?set CLUSTER_DIR}
holder=$(cat "$S/holder.pid" 2> /dev/null || true)
stop() { # NAME: SIGTERM the recorded process, SIGKILL after 20 s
  local file=$S/$1.pid pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file"); rm -f "$file"
  kill -TERM "$pid" 2> /dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.2; done
  kill -KILL "$pid" 2> /dev/null
}
for c in kube-proxy kube-scheduler kube-controller-manager kubelet; do stop $c; done
# The pods' processes are children of containerd's shims: kill them through containerd.
if [[ -n $holder && -f $S/containerd.pid ]] && kill -0 "$(cat "$S/containerd.pid")" 2> /dev/null; then
  CTR="nsenter -t $holder -n -m -- ctr --address $S/run/containerd.sock -n k8s.io"
  for t in $($CTR tasks ls -q 2> /dev/null); do $CTR tasks kill -s SIGKILL "$t" > /dev/null 2>&1; done
  for _ in $(seq 25); do [[ -z $($CTR tasks ls -q 2> /dev/null | head -1) ]] && break; sleep 0.2
    for t in $($CTR tasks ls -q 2> /dev/null); do $CTR tasks delete -f "$t" > /dev/null 2>&1; done; done
  for c in $($CTR containers ls -q 2> /dev/null); do $CTR containers rm "$c" > /dev/null 2>&1; done
fi
stop containerd
stop kube-apiserver
stop etcd
if [[ -n $holder ]]; then
  # Anything still in the namespace was started there by a test: report it.
  netns=$(readlink "/proc/$holder/ns/net" 2> /dev/null)
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$holder" || $pid == "$(cat "$S/unshare.pid" 2> /dev/null)" ]] && continue
    [[ -n $netns && $(readlink "$p/ns/net" 2> /dev/null) == "$netns" ]] && echo "cluster: still in the namespace: $pid $(cat "$p/comm" 2> /dev/null)" >&2
  done
  kill -TERM "$holder" 2> /dev/null; rm -f "$S/holder.pid"
fi
stop unshare
# cgroups the kubelet (kubepods), containerd (k8s.io) made, deepest first
for h in /sys/fs/cgroup/*/; do
  for top in kubepods k8s.io; do
    [[ -d $h$top ]] && find "$h$top" -depth -type d -exec rmdir {} \; 2> /dev/null
  done
done
[[ -f $S/sysctls-before ]] && sysctl -q -p "$S/sysctls-before" > /dev/null
if [[ -f $S/host-dirs-created ]]; then
  while read -r d; do [[ -n $d ]] && rm -rf --one-file-system "$d"; done < "$S/host-dirs-created"
  rm -f "$S/host-dirs-created"
fi
# containerd's overlay snapshots were mounted in the namespace, which is gone:
# the state directory can be deleted now.
echo "cluster: down" >&2
