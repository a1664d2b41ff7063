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

bash "$(dirname "$0")/apt-install.sh" install-browser "${PACKAGES[@]}"

for binary in "$CHROMIUM" "$CHROMEDRIVER"; do
    if [ ! -x "$binary" ]; then
        echo "install-browser: $binary still missing after installing ${PACKAGES[*]}" >&2
        exit 1
    fi
done
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) and $("$CHROMEDRIVER" --version 2>/dev/null | head -n1 || echo chromedriver)"
