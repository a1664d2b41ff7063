#!/usr/bin/env bash
# Install Debian packages through apt-get, as root or with passwordless sudo:
#   scripts/apt-install.sh LABEL PACKAGE...      (LABEL prefixes the messages, e.g. install-browser)
# Used by scripts/install-browser.sh (Chromium) and scripts/bench.sh (wrk).
set -euo pipefail
LABEL=$1
shift
PACKAGES=("$@")

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$LABEL: apt-get not found; install ${PACKAGES[*]} yourself" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "$LABEL: must run as root (or with passwordless sudo) to install ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

echo "$LABEL: running apt-get update"
"${SUDO[@]}" apt-get update -q
echo "$LABEL: installing ${PACKAGES[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
