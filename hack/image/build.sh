#!/usr/bin/env bash
# hack/image/build.sh OUT_DIR — build kargo's container image without a
# container engine and without pulling anything from an image registry:
#
#   layer 1: git and the libraries it loads, CA certificates, a non-root user
#            (kargo, 65532), from Debian's packages (hack/image/packages.txt),
#            unpacked with dpkg-deb: no maintainer scripts run
#   layer 2: the kargo binary (static, CGO_ENABLED=0), /usr/local/bin/kargo
#
# It writes OUT_DIR/kargo.tar (an OCI image-layout archive; name
# $KARGO_IMAGE, default localhost/kargo:dev), OUT_DIR/kargo.digest (the
# manifest digest) and OUT_DIR/kargo.packages (package=version of layer 1),
# and prints the digest. The archive depends only on its inputs (the .deb
# files, the source tree, the Go toolchain): building twice gives the same
# digest. The .deb files are cached in $KARGO_IMAGE_CACHE
# (default ~/.cache/kargo-image/debs), so a rebuild needs no network.
#
# Needs root for nothing but the smoke test (chroot into layer 1, running git).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: hack/image/build.sh OUT_DIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)
name=${KARGO_IMAGE:-localhost/kargo:dev}
cache=${KARGO_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kargo-image/debs}
log() { echo "image: $*" >&2; }
t0=$SECONDS

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
base=$work/base app=$work/app
mkdir -p "$base" "$app/usr/local/bin" "$cache"

# 1. Debian packages: the versions apt has as candidates now, downloaded once
mapfile -t pkgs < <(sed 's/#.*//; /^[[:space:]]*$/d' "$here/packages.txt")
if ! apt-cache show --no-all-versions git > /dev/null 2>&1; then apt-get update -qq >&2; fi
: > "$out/kargo.packages"
# one apt-cache call for all (each call reads the whole package index)
declare -A version
while read -r p v; do version[$p]=$v; done < <(apt-cache show --no-all-versions "${pkgs[@]}" |
  awk '/^Package: /{p=$2} /^Version: /{print p, $2}')
debs=()
for p in "${pkgs[@]}"; do
  v=${version[$p]:-}
  [[ -n $v ]] || { log "apt knows no package $p"; exit 1; }
  echo "$p=$v" >> "$out/kargo.packages"
  f=$(ls "$cache/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -1 || true)
  if [[ -z $f ]]; then
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$p=$v" >&2)
    f=$(ls "$cache/${p}_${v//:/%3a}_"*.deb | head -1)
  fi
  debs+=("$f")
done
for f in "${debs[@]}"; do dpkg-deb -x "$f" "$base"; done

# merged /usr, as Debian installs it: /bin, /sbin, /lib* are links into /usr
for d in bin sbin lib lib64; do
  if [[ -d $base/$d && ! -L $base/$d ]]; then
    mkdir -p "$base/usr/$d"; cp -a "$base/$d/." "$base/usr/$d/"; rm -rf "${base:?}/$d"
  fi
  [[ -e $base/usr/$d ]] && ln -s "usr/$d" "$base/$d"
done
# what no program here reads: documentation, translations, Perl parts of git
rm -rf "$base"/usr/share/{doc,man,info,locale,lintian,bash-completion,gitweb,perl5,gitk,git-gui} \
  "$base"/usr/lib/git-core/git-{add--interactive,archimport,cvs*,instaweb,request-pull,send-email,svn,filter-branch,difftool--helper,mergetool,web--browse,submodule,quiltimport} \
  "$base"/etc/{init.d,cron.daily,logrotate.d} "$base/var"
# CA certificates: the bundle update-ca-certificates would write, in a fixed order
mkdir -p "$base/etc/ssl/certs"
find "$base/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat > "$base/etc/ssl/certs/ca-certificates.crt"
rm -rf "$base/usr/share/ca-certificates" "$base/etc/ca-certificates.conf"
# the user kargo runs as, a writable /tmp and its home
mkdir -p "$base/tmp" "$base/home/kargo"; chmod 1777 "$base/tmp"; chmod 0755 "$base/home/kargo"
cat > "$base/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
kargo:x:65532:65532:kargo:/home/kargo:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$base/etc/group" <<'EOF'
root:x:0:
kargo:x:65532:
nogroup:x:65534:
EOF
printf 'hosts: files dns\n' > "$base/etc/nsswitch.conf"
chmod -R u+w,go-w "$base"

# smoke test: git and its HTTPS helper load every library they need, and git
# commits and clones, inside layer 1 alone (which has no shell: git's local
# transport would need one, so the clone is from a bundle; kargo uses HTTPS)
if [[ $(id -u) == 0 ]]; then
  mkdir "$base/dev"; mknod -m 666 "$base/dev/null" c 1 3; mknod -m 666 "$base/dev/urandom" c 1 9
  chroot "$base" /usr/bin/git --version >&2
  set +e; msg=$(chroot "$base" /usr/lib/git-core/git-remote-https 2>&1); set -e
  if grep -q 'error while loading shared libraries' <<< "$msg"; then log "git-remote-https: $msg"; exit 1; fi
  chroot "$base" /bin/git -c init.defaultBranch=main init -q /tmp/smoke
  chroot "$base" /bin/git -C /tmp/smoke -c user.name=k -c user.email=k@k commit -q --allow-empty -m smoke
  chroot "$base" /bin/git -C /tmp/smoke bundle create -q /tmp/smoke.bundle HEAD
  chroot "$base" /bin/git -c advice.detachedHead=false clone -q /tmp/smoke.bundle /tmp/smoke2
  rm -rf "$base/tmp/smoke" "$base/tmp/smoke2" "$base/tmp/smoke.bundle" "$base/dev"
else
  log "not root: skipping the chroot smoke test of git"
fi

# 2. the kargo binary, reproducibly: no VCS stamp, no paths, the commit as
#    version. KARGO_BINARY names one built already instead (make test-cluster
#    takes the one make test's build cache gives at once; it is not
#    reproducible, and loads layer 1's libc for cgo).
version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)
if [[ -n ${KARGO_BINARY:-} ]]; then
  install -m 0755 "$KARGO_BINARY" "$app/usr/local/bin/kargo"
else
  CGO_ENABLED=0 GOFLAGS=-mod=readonly go -C "$repo" build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/kargohq/kargo/internal/version.Version=$version" \
    -o "$app/usr/local/bin/kargo" ./cmd/kargo
fi

cp "$app/usr/local/bin/kargo" "$out/kargo"
digest=$(go -C "$repo" run ./hack/image/ociarchive --name "$name" --out "$out/kargo.tar" \
  --layer "$base" --layer "$app" --owner home/kargo=65532:65532 \
  --user 65532:65532 --entrypoint /usr/local/bin/kargo --gzip-level "${KARGO_IMAGE_GZIP_LEVEL:-9}" \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/home/kargo \
  --label org.opencontainers.image.title=kargo --label "org.opencontainers.image.version=$version" \
  --label org.opencontainers.image.source=https://github.com/kargohq/kargo)
echo "$digest" > "$out/kargo.digest"
log "$name $digest ($(du -h "$out/kargo.tar" | cut -f1) compressed, $(du -sh --apparent-size "$base" "$app" | cut -f1 | paste -sd+) unpacked) in $((SECONDS - t0))s"
echo "$digest"
