#!/usr/bin/env bash
# Install Debian's headless Chromium and its chromedriver for the docs-page browser test
# (tests/e2e/test_docs_page.py). Idempotent: does nothing when both binaries are already there.
# Needs root (or passwordless sudo) to install; fonts-dejavu-core makes the test's screenshot readable.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver fonts-dejavu-core)

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
    echo "install-browser: $CHROMIUM and $CHROMEDRIVER already present; nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get not found; install Chromium and chromedriver at $CHROMIUM and $CHROMEDRIVER" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "install-browser: must run as root (or with passwordless sudo) to install ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

echo "install-browser: running apt-get update"
"${SUDO[@]}" apt-get update -q
echo "install-browser: installing ${PACKAGES[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

for binary in "$CHROMIUM" "$CHROMEDRIVER"; do
    if [ ! -x "$binary" ]; then
        echo "install-browser: $binary still missing after installing ${PACKAGES[*]}" >&2
        exit 1
    fi
done
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) and $("$CHROMEDRIVER" --version 2>/dev/null | head -n1 || echo chromedriver)"
