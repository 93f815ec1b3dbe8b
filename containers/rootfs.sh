#!/usr/bin/env bash
# Build the offline base image: a minimal Debian bookworm root filesystem with the runtime libraries
# the pyenv-built CPythons link against, plus git (pip clones VCS URLs with it).
# Usage: containers/rootfs.sh IMAGE_NAME   (needs root, debootstrap and a reachable Debian mirror)
set -euo pipefail
image="${1:?usage: rootfs.sh IMAGE_NAME}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
libs="libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libgdbm6,libexpat1"
dir="$(mktemp -d /var/tmp/ih-rootfs.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase --include="$libs,git,ca-certificates" bookworm "$dir" "$mirror" >/dev/null
# Nothing of apt's caches or lists is needed in a cell.
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "$image"
