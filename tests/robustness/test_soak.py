"""A bounded soak: gunicorn (2 workers, background workers on) on the real mongod, ``bench/soak.py`` driving
mixed create/list/retrieve from 64 concurrent connections on loopback for ``TMF680_SOAK_S`` seconds
(default 60) after a 5 s warm-up. Zero 5xx, zero transport errors, memory flat.

"Memory flat": every worker's RSS at the end is at most 10 % + 20 MiB above its RSS after the warm-up.
After the warm-up the pools (pymongo's connections, uvicorn's per-connection state for 64 clients),
caches and allocator arenas are filled, so what remains is allocator noise, well under that; a leak
of a few KiB per request over the soak's thousands of requests exceeds it (the figures give the
bound per request for the run). The figures are written to ``soak.json`` beside the robustness figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import REPO_ROOT, running

SOAK_S = float(os.environ.get("TMF680_SOAK_S", "60"))
CONNECTIONS = 64
GROWTH_FACTOR, GROWTH_KIB = 1.10, 20 * 1024


def test_soak_has_no_errors_and_flat_memory(tmp_path: Path, mongo_uri: str,
                                            record_figures: Callable[[dict[str, Any]], None]) -> None:
    out = Path(os.environ.get("TMF680_SCREENSHOT_DIR") or tmp_path) / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="true") as server:
        cmd = [sys.executable, "-m", "bench.soak", "--url", server.url, "--duration", str(SOAK_S),
               "--warmup", "5", "--connections", str(CONNECTIONS), "--master", str(server.process.pid),
               "--out", str(out)]
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=SOAK_S + 120,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        errors = [line for line in server.output().splitlines() if '"level":"ERROR"' in line]
    figures = json.loads(out.read_text())
    start, end = figures["rss_kib"]["after_warmup"], figures["rss_kib"]["end"]
    allowed = {pid: int(kib * GROWTH_FACTOR + GROWTH_KIB) for pid, kib in start.items()}
    record_figures({
        "soak": f"{figures['duration_s']} s, {CONNECTIONS} connections, gunicorn 2 workers",
        **{k: figures[k] for k in ("requests", "requests_per_s", "latency_ms", "status", "server_errors_5xx",
                                   "transport_errors_total")},
        "rss_kib_after_warmup": start, "rss_kib_end": end,
        "leak_bound_kib_per_request": round(min(allowed[p] - start[p] for p in start) / max(figures["requests"], 1), 2),
        "figures_file": str(out),
    })
    assert figures["requests"] > 0
    assert figures["server_errors_5xx"] == 0, figures["status"]
    assert figures["transport_errors_total"] == 0, figures["transport_errors"]
    assert errors == [], errors[:5]
    assert figures["processes_replaced"] == [] and len(start) == 2  # no worker died or was recycled
    assert all(end[pid] <= allowed[pid] for pid in start), (start, end)
