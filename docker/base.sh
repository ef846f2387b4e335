#!/usr/bin/env bash
# A local base image for `make image`: Debian bookworm (Python 3.11) made with debootstrap from
# the Debian mirror and imported into podman, so the build pulls nothing from a registry.
set -euo pipefail
name=${1:-localhost/traincycle-base:bookworm}
if podman image exists "$name"; then
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" \
  "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$name"
