#!/usr/bin/env bash
# hack/install-ui-deps.sh — install what the web UI's build and tests need:
#
#   - Chromium, which the UI end-to-end test (test/ui) drives through
#     playwright-core: Debian's chromium package, installed with apt-get
#     when /usr/bin/chromium is missing (with sudo unless run as root).
#     $KARGO_CHROMIUM names another Chromium to use instead.
#   - ui/'s npm packages: `npm ci` when ui/node_modules does not match
#     ui/package-lock.json (a hash of the lock file is kept in
#     ui/node_modules/.kargo-lock-hash).
#
#   - sshd (Debian's openssh-server), which the Git-over-SSH tests start on
#     loopback: installed with apt-get when /usr/sbin/sshd is missing.
#
# Playwright never downloads a browser here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
say() { echo "ui-deps: $*"; }

if [[ -n ${KARGO_CHROMIUM:-} && -x $KARGO_CHROMIUM ]]; then
  say "Chromium: $KARGO_CHROMIUM (from \$KARGO_CHROMIUM)"
elif [[ -x /usr/bin/chromium ]]; then
  say "Chromium: /usr/bin/chromium"
else
  if ! command -v apt-get >/dev/null; then
    say "no /usr/bin/chromium and no apt-get to install it: install Chromium and set KARGO_CHROMIUM to it"
    exit 1
  fi
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
  say "installing Debian's chromium: ${install[*]}"
  if ! "${install[@]}"; then
    # A fresh machine (or container) often has no package lists yet.
    say "apt-get install failed; updating the package lists and trying again"
    "${sudo[@]}" apt-get update
    "${install[@]}"
  fi
  say "Chromium: /usr/bin/chromium"
fi

if [[ ! -x /usr/sbin/sshd ]]; then
  if command -v apt-get >/dev/null; then
    sudo=()
    if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
    say "installing Debian's openssh-server for the Git-over-SSH tests"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server ||
      { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server; }
  else
    say "no /usr/sbin/sshd and no apt-get: install OpenSSH's server for the Git-over-SSH tests"
  fi
fi

if [[ ! -f ui/package-lock.json ]]; then
  say "no ui/package-lock.json: no npm packages to install"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "node or npm not found: install Node.js 20.19 or newer, with npm"
  exit 1
fi
# Vite and jsdom need 20.19 (Debian 12's nodejs package is 18).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a == 20 && b >= 19) ? 0 : 1)'; then
  say "Node.js $(node --version) is too old for the UI's build and tests: install 20.19 or newer"
  exit 1
fi
hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
stamp=ui/node_modules/.kargo-lock-hash
if [[ -f $stamp && $(<"$stamp") == "$hash" ]]; then
  say "ui/node_modules matches ui/package-lock.json"
  exit 0
fi
say "installing ui/'s npm packages: npm ci (in ui/)"
(cd ui && npm ci --no-audit --no-fund)
echo "$hash" >"$stamp"
say "ui/node_modules matches ui/package-lock.json"
