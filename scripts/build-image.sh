#!/usr/bin/env bash
# Build the server image: scripts/build-image.sh [TAG] [docker build options...]
#   TAG defaults to tmf680-recommendation:<package version>; BASE_IMAGE=... picks another base image.
# The version label is the package's own (setup.cfg); the source label is the git remote when it is an
# http(s) URL, the revision label the commit. The host's CA bundle is lent to the build stage's pip. --network host lets pip reach the package index when the
# daemon runs without a bridge network (dockerd --bridge=none).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^version *= *//p' setup.cfg | head -n1)
TAG=${1:-tmf680-recommendation:$VERSION}
shift || true
SOURCE_URL=$(git remote get-url origin 2>/dev/null || true)
case "$SOURCE_URL" in http://*|https://*) ;; *) SOURCE_URL="" ;; esac
REVISION=$(git rev-parse HEAD 2>/dev/null || true)
ARGS=(--network host --force-rm --build-arg "VERSION=$VERSION" --build-arg "SOURCE_URL=$SOURCE_URL" --build-arg "REVISION=$REVISION")
if [ -n "${BASE_IMAGE:-}" ]; then
    ARGS+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
fi
# The host's CA bundle for pip in the build stage (a TLS-inspecting proxy's CA); never in the final image.
CA=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
if [ -f "$CA" ]; then
    cp "$CA" .build-ca.pem
    trap 'rm -f .build-ca.pem' EXIT
fi
docker build "${ARGS[@]}" --tag "$TAG" "$@" . >&2
# earlier builds' images of this project that no tag names any more (the build stage stays: it is the cache)
stale=$(docker images --quiet --filter dangling=true --filter label=org.opencontainers.image.title=tmf680-recommendation)
if [ -n "$stale" ]; then
    docker rmi $stale >/dev/null 2>&1 || true
fi
echo "$TAG"
