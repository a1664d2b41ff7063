#!/usr/bin/env bash
# Install newman (the Postman collection runner) for the conformance tier (tox -e ctk) into
# tests/conformance/node_modules, at the versions tests/conformance/package-lock.json pins.
# Node.js and npm come from Debian (apt-get, as root or with passwordless sudo) when they are missing.
# Idempotent: does nothing when the pinned newman is already installed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/../tests/conformance"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    bash "$HERE/apt-install.sh" install-newman nodejs npm
fi
# npm ci writes node_modules/.package-lock.json: a lock file changed since then means new pins
if [ ! -x node_modules/.bin/newman ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
echo "install-newman: newman $(node_modules/.bin/newman --version) on node $(node --version)"
