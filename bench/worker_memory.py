"""Memory of gunicorn workers serving a 10,000-offering dense EASE model (not a test), shared vs private.

    python -m bench.worker_memory                      # 10,000 offerings, 2 workers, 300 requests
    python -m bench.worker_memory --offerings 2000 --customers 5000 --json

It starts a private mongod, stores a synthetic catalogue, history and EASE model through the services
the CLI uses (``bench/throughput/data.store_synthetic_model``: at 10,000 offerings the model is dense,
400 MB), then runs our server (production gunicorn configuration, ``--workers`` uvicorn workers) twice:

- **shared**: ``TMF680_MODEL_CACHE_DIR`` is a writable directory: the first worker writes the model's
  arrays there once, every worker maps them read-only (``storage/model_cache.py``);
- **private**: ``TMF680_MODEL_CACHE_DIR`` cannot be created (a path under a regular file): every worker
  falls back to reading the model into its own memory, as every worker did before the cache.

In each, synchronous recommendation requests are sent on fresh connections until every worker has
loaded the model, then ``--requests`` more (sequential, one connection each) are timed (p50/p99 of the
HTTP round trip), and each worker's memory is read: VmRSS, PSS and USS (``Private_Clean +
Private_Dirty`` of ``/proc/<pid>/smaps_rollup``: what the worker alone holds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.throughput import data, processes
from runtime.embedded_mongo import EmbeddedMongo

DB = "worker_memory"


def server_env(mongo_uri: str, work: Path, cache_dir: Path) -> dict[str, str]:
    prometheus = work / f"prometheus-{cache_dir.name}"
    prometheus.mkdir(exist_ok=True)
    return {**os.environ, "MONGODB_URI": mongo_uri, "TMF680_DB_NAME": DB, "TMF680_VALIDATE_RESPONSES": "false",
            "TMF680_WORKERS": "false", "TMF680_ACCESS_LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus), "TMF680_MODEL_CACHE_DIR": str(cache_dir)}


def loaded(pid: int, start_mb: float, model_mb: float) -> bool:
    """Whether the worker has loaded the model: its memory grew by a good part of the model (private
    copy), or it maps the cached weights file."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return ".npy" in maps or processes.rss_mb(pid)["VmRSS"] - start_mb > 0.5 * model_mb


def measure(mode: str, mongo_uri: str, work: Path, cache_dir: Path, workers: int, requests: int,
            customer: str, model_mb: float) -> dict[str, Any]:
    server = processes.gunicorn_server(f"ours-{mode}", processes.OUR_APP, server_env(mongo_uri, work, cache_dir),
                                       work, workers, None)
    server.start()
    try:
        pids = server.worker_pids()
        start = {pid: processes.rss_mb(pid) for pid in pids}
        body = {"instantSyncRecommendation": True, "relatedParty": {"id": customer, "@referredType": "Customer"}}
        sent = 0
        while not all(loaded(pid, start[pid]["VmRSS"], model_mb) for pid in pids) and sent < 400:
            with httpx.Client(base_url=server.url, timeout=300) as client:  # a new connection each time
                answer = data.post(client, body)
            sent += 1
        if not answer.get("recommendationItem"):
            raise RuntimeError(f"no recommendation: {answer}")
        times = []
        for _ in range(requests):
            with httpx.Client(base_url=server.url, timeout=60) as client:
                started = time.perf_counter()
                data.post(client, body)
                times.append(time.perf_counter() - started)
        ms = np.array(times) * 1000
        after = {pid: processes.rss_mb(pid) for pid in pids}
        return {"mode": mode, "workers": len(pids), "warmupRequests": sent,
                "atStartMB": list(start.values()), "afterMB": list(after.values()),
                "latencyMs": {"p50": round(float(np.percentile(ms, 50)), 2),
                              "p99": round(float(np.percentile(ms, 99)), 2), "n": requests},
                "cacheFiles": sorted(p.name for p in cache_dir.rglob("*.npy")) if cache_dir.is_dir() else []}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offerings", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--modes", nargs="+", default=["shared", "private"], choices=["shared", "private"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    log = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr))
    results: dict[str, Any] = {"offerings": args.offerings, "customers": args.customers,
                               "loadBefore": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="worker-memory-") as tmp:
        work = Path(tmp)
        with EmbeddedMongo(work / "mongo", journal=False) as mongo:
            built = data.store_synthetic_model(mongo.uri, DB, args.offerings, args.customers, args.seed, log)
            results["model"] = built
            blocker = work / "not-a-directory"
            blocker.write_text("")
            caches = {"shared": work / "model-cache", "private": blocker / "model-cache"}
            for mode in args.modes:
                measured = measure(mode, mongo.uri, work, caches[mode], args.workers, args.requests,
                                   built["customer"], built["modelMB"])
                results[mode] = measured
                for figures in measured["afterMB"]:
                    log(f"{mode}: worker RSS {figures['VmRSS']} MB, PSS {figures['Pss']} MB, USS {figures['USS']} MB "
                        f"(peak RSS {figures['VmHWM']} MB)")
                log(f"{mode}: sync create p50 {measured['latencyMs']['p50']} ms, p99 {measured['latencyMs']['p99']} ms")
    results["loadAfter"] = os.getloadavg()
    print(json.dumps(results, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
