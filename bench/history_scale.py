"""History at telco scale (not a test): import, training and the holdings lookup, through the CLI.

    python -m bench.history_scale --scale 1                 # 5,000,000 customers, ~25 million products
    python -m bench.history_scale --scale 0.2 --json        # 1/5 scale
    python -m bench.history_scale --file products.ndjson    # an existing NDJSON of TMF637 Products

It writes the synthetic history (``bench/telco_synthetic.py``: 2,000 offerings, Zipf popularity,
topics, bundles) into a temporary NDJSON file (deleted at the end unless ``--keep``), starts a private
embedded mongod (``runtime.embedded_mongo.EmbeddedMongo``, journal on as ``tmf680 serve`` runs it,
``--cache-gb`` WiredTiger cache) and measures, each in its own process so peaks do not mix:

1. ``tmf680 history import FILE --json``: documents/s (wall time of the command) and its peak RSS
   (``ru_maxrss``: the largest of the command and its parsing worker processes, not their sum); CPU
   seconds of the command include its workers';
2. ``tmf680 train``: wall time and peak RSS (``ru_maxrss`` of the command), and the model's metadata
   (read and training seconds);
3. the per-request holdings lookup (``MongoHistoryRepository.held_offerings``, one indexed query) for
   ``--lookups`` random existing customers after a warm-up: p50/p99/max in ms;

and mongod's RSS at the end. ``nice -n 10`` it on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.telco_synthetic import FULL_CUSTOMERS, FULL_OFFERINGS, write_products
from runtime.embedded_mongo import EmbeddedMongo
from storage.history_repository import MongoHistoryRepository

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cli(args: list[str], env: dict[str, str], mongod_pid: int) -> dict[str, Any]:
    """Run ``tmf680 ARGS``; wall seconds, the command's own peak RSS (MB) and CPU seconds (``wait4``),
    mongod's CPU seconds meanwhile (on a busy machine CPU time says more than wall time), and the
    command's output."""
    started, mongod_before = time.perf_counter(), cpu_seconds(mongod_pid)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if process.returncode:
        raise RuntimeError(f"tmf680 {' '.join(args)} failed ({process.returncode}): {stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "peakRssMB": round(usage.ru_maxrss / 1024, 1),
            "cpuSeconds": round(usage.ru_utime + usage.ru_stime, 1),
            "mongodCpuSeconds": round(cpu_seconds(mongod_pid) - mongod_before, 1), "stdout": stdout}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def lookups(uri: str, db_name: str, n_customers: int, n: int, seed: int = 7) -> dict[str, Any]:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    repo = MongoHistoryRepository(client[db_name])
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    for customer in rng.integers(n_customers, size=min(n, 2000)):  # warm-up
        repo.held_offerings(f"cust{customer:08d}", now)
    times, held = [], 0
    for customer in rng.integers(n_customers, size=n):
        started = time.perf_counter()
        held += len(repo.held_offerings(f"cust{customer:08d}", now))
        times.append(time.perf_counter() - started)
    client.close()
    ms = np.array(times) * 1000
    return {"n": n, "meanHeld": round(held / n, 2), "p50ms": round(float(np.percentile(ms, 50)), 3),
            "p99ms": round(float(np.percentile(ms, 99)), 3), "maxMs": round(float(ms.max()), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of 5,000,000 customers")
    parser.add_argument("--offerings", type=int, default=FULL_OFFERINGS)
    parser.add_argument("--file", help="import this NDJSON instead of generating one (customers: --customers)")
    parser.add_argument("--customers", type=int, help="customers in --file (for the lookups)")
    parser.add_argument("--cache-gb", type=float, default=1.0, help="mongod's WiredTiger cache")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--skip", nargs="*", default=(), choices=("train", "lookups"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file and the database")
    parser.add_argument("--workdir", default=None, help="where the file and mongod's data go (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n_customers = args.customers or int(FULL_CUSTOMERS * args.scale)
    result: dict[str, Any] = {"customers": n_customers, "offerings": args.offerings,
                              "scale": None if args.file else args.scale,
                              "cpus": os.cpu_count(), "loadBefore": os.getloadavg()}
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="history-scale-") as tmp:
        work = Path(tmp)
        path = Path(args.file) if args.file else work / "products.ndjson"
        if not args.file:
            started = time.perf_counter()
            with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
                result["products"] = write_products(out, n_customers, args.offerings)
            result["generateSeconds"] = round(time.perf_counter() - started, 1)
            result["fileMB"] = round(path.stat().st_size / 2**20, 1)
            print(f"generated {result['products']:,} products ({result['fileMB']} MB) in "
                  f"{result['generateSeconds']} s", file=sys.stderr)
        with EmbeddedMongo(work / "mongo", cache_gb=args.cache_gb) as mongo:
            env = {**os.environ, "MONGODB_URI": mongo.uri, "TMF680_DB_NAME": "history_scale",
                   "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            pid = mongo._process.pid  # type: ignore[union-attr]
            imported = run_cli(["history", "import", str(path), "--json"], env, pid)
            report = json.loads(imported.pop("stdout"))
            docs = int(report["read"])
            result["import"] = {**imported, "documents": docs, "errors": report["errors"],
                                "documentsPerSecond": round(docs / imported["seconds"]),
                                "documentsPerCpuSecond": {
                                    "command": round(docs / max(imported["cpuSeconds"], 0.1)),
                                    "mongod": round(docs / max(imported["mongodCpuSeconds"], 0.1))}}
            print(f"import: {docs:,} documents in {imported['seconds']} s = "
                  f"{result['import']['documentsPerSecond']:,}/s, peak RSS {imported['peakRssMB']} MB",
                  file=sys.stderr)
            if "train" not in args.skip:
                trained = run_cli(["train"], env, pid)
                result["train"] = {**trained, "stdout": trained["stdout"].strip()}
                print(f"train: {trained['seconds']} s, peak RSS {trained['peakRssMB']} MB: "
                      f"{trained['stdout'].strip()}", file=sys.stderr)
            if "lookups" not in args.skip:
                result["lookups"] = lookups(mongo.uri, "history_scale", n_customers, args.lookups)
                print(f"holdings lookup: {result['lookups']}", file=sys.stderr)
            process = getattr(mongo, "_process", None)
            if process is not None:
                result["mongodRssMB"] = rss_mb(process.pid)
        result["loadAfter"] = os.getloadavg()
        if args.keep and not args.file:
            kept = Path(tempfile.mkdtemp(prefix="history-scale-kept-"))
            path.rename(kept / path.name)
            result["keptFile"] = str(kept / path.name)
    print(json.dumps(result, indent=2) if args.json else json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
