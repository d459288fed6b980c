#!/usr/bin/env bash
# Installs what edgebuild's demo and tests need on a fresh Debian machine. Idempotent: each step
# is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(runc docker-registry fuse3 skopeo umoci golang-go debootstrap apache2-utils zstd libzstd1 libdeflate0 attr iproute2 openssl tar buildah strace containerd stargz-snapshotter golang-github-containerd-stargz-snapshotter-dev)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages (bun comes from npm); reinstall only when the lock file changed.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# The single-file binary, rebuilt when any source is newer than it.
if [ ! -x dist/edgebuild ] || [ -n "$(find core plugins cli package.json -newer dist/edgebuild -print -quit 2>/dev/null)" ]; then
  echo "setup: building dist/edgebuild" >&2
  npm run --silent build >/dev/null
fi
