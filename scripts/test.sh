#!/usr/bin/env bash
# Run every test tier on a fresh machine: installs tox in a private venv, then the tox envs CI runs
# (lint, type, tests = unit + integration + e2e, contract, robustness, ctk = newman conformance runs). mongod
# comes from a PyPI wheel and is started and stopped by the test session itself; newman from npm
# (scripts/install-newman.sh, called by tox -e ctk).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv-tox/bin/tox ]; then
    "$PYTHON" -m venv .venv-tox
    .venv-tox/bin/pip install --quiet --disable-pip-version-check 'tox>=4.11,<5'
fi
# Debian's Chromium and ChromeDriver for the docs-page browser test (root: apt-get; CI runs as root).
bash scripts/install-browser.sh || [ -z "${CI:-}" ]
export TMF680_SCREENSHOT_DIR=${TMF680_SCREENSHOT_DIR:-$PWD/test-artifacts}
exec .venv-tox/bin/tox run -e "${TOX_ENVS:-lint,type,tests,contract,robustness,ctk}" -- "$@"
