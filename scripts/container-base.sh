#!/usr/bin/env bash
# Build the container test's base image from Debian packages (no public registry is reachable from CI):
#   scripts/container-base.sh [TAG]      (default tmf680-base:bookworm-python3; prints the tag)
# mmdebstrap assembles a minimal Debian bookworm with python3 and python3-venv from the mirror this machine's
# apt already uses, and `docker import` turns the tarball into an image. Kept by tag: a second run with the
# image present does nothing, so CI pays for it once per machine.
set -euo pipefail
TAG=${1:-tmf680-base:bookworm-python3}
SUITE=${TMF680_BASE_SUITE:-bookworm}

if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "$TAG"
    exit 0
fi

# The machine's Debian mirror: the first non-security URI in the apt sources (one-line or deb822 format).
mirror() {
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    local uri
    uri=$(cat "${files[@]}" 2>/dev/null \
        | sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\) .*/\2/p' -e 's/^URIs: *\(http[^ ]*\).*/\1/p' \
        | grep -E '/debian/?$' | grep -v security | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

MIRROR=${TMF680_DEBIAN_MIRROR:-$(mirror)}
echo "container-base: building $TAG from $SUITE at $MIRROR" >&2
mmdebstrap --variant=minbase --quiet \
    --include=python3,python3-venv,ca-certificates \
    --customize-hook='chroot "$1" sh -c "rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*"' \
    "$SUITE" - "$MIRROR" \
    | docker import --change 'CMD ["/usr/bin/python3"]' - "$TAG" >&2
echo "$TAG"
