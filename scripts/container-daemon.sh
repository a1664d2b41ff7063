#!/usr/bin/env bash
# Make a Docker daemon available for the container tests (tests/container), on a clean machine as in CI:
#   scripts/container-daemon.sh      → prints "running" (a daemon answered) or "started <pid>"
# Installs Debian's docker.io and mmdebstrap when missing (root: apt-get), then starts dockerd without a
# bridge network (containers use --network host; iptables may be unavailable). Exits non-zero with the reason
# on stderr when no daemon can run here (no root, no privileges for namespaces or overlay mounts).
set -euo pipefail
LOG=${TMF680_DOCKERD_LOG:-/tmp/tmf680-dockerd.log}

if docker info >/dev/null 2>&1; then
    echo running
    exit 0
fi
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
    bash "$(dirname "$0")/apt-install.sh" container-daemon "${missing[@]}" >&2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "container-daemon: dockerd needs root; no Docker daemon answers on this machine" >&2
    exit 1
fi

start() {
    # setsid: the daemon outlives this script and the test session that called it
    setsid dockerd --bridge=none "$@" >>"$LOG" 2>&1 < /dev/null &
    local pid=$!
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            echo "started $pid"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.5
    done
    kill "$pid" 2>/dev/null || true
    return 1
}

start || start --iptables=false || {
    echo "container-daemon: dockerd did not start (log $LOG):" >&2
    tail -n 5 "$LOG" >&2
    exit 1
}
