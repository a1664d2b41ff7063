"""A bounded soak against a running server (not a test): mixed create / list / retrieve for a fixed time
from many concurrent connections, with latency, status and memory figures.

    python -m bench.soak --url http://127.0.0.1:8080 --duration 60 --connections 64 \\
        --master "$(cat gunicorn.pid)" --out results.json

Each of ``--connections`` client tasks (one ``httpx.AsyncClient`` whose pool holds that many keep-alive
connections) loops until the time is up, choosing an operation by weight: POST a query (``--create``),
GET one created earlier (``--retrieve``) or GET a page of the list (``--list``). A warm-up of
``--warmup`` seconds runs first and is not counted: pools, caches and allocator arenas fill there.

Reported (printed, and written as JSON to ``--out``): requests, requests per second, latency p50/p90/p99/
max (ms) overall and per operation, the count of every status, 5xx, transport errors by operation and exception type,
and the resident memory (VmRSS, KiB) of the server's processes after the warm-up and at the end. The
processes are ``--pid`` (repeatable, e.g. the ``tmf680 serve`` process) and/or the children of ``--master``
(gunicorn's workers). Requests are never retried: a failure is reported, not hidden.

The client closes a connection idle for ``--keepalive-expiry`` seconds (2), below the server's keep-alive
timeout (gunicorn ``keepalive``, 5 s): when both sides use the same timeout, a request sent on a connection
the server is just closing fails with a ReadError (HTTP/1.1's keep-alive race), a client artefact that
every production client avoids the same way (idle timeout below the server's, or a retry).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import httpx

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"


def worker_pids(master: int) -> list[int]:
    """The children of ``master`` (gunicorn's workers), read from /proc."""
    pids: list[int] = []
    for task in Path(f"/proc/{master}/task").iterdir():
        pids.extend(int(p) for p in (task / "children").read_text().split())
    return sorted(pids)


def rss_kib(pids: list[int]) -> dict[str, int]:
    """VmRSS of each process, in KiB (a process that is gone is left out)."""
    out: dict[str, int] = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[str(pid)] = int(line.split()[1])
        except OSError:
            continue
    return out


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def latency_summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(percentile(ordered, 0.50), 2), "p90": round(percentile(ordered, 0.90), 2),
            "p99": round(percentile(ordered, 0.99), 2), "max": round(ordered[-1] if ordered else 0.0, 2)}


class Soak:
    """The client side: counters, created ids to retrieve, and the request loop of one connection."""

    def __init__(self, client: httpx.AsyncClient, weights: dict[str, float], seed: int) -> None:
        self.client = client
        self.operations = list(weights)
        self.weights = list(weights.values())
        self.random = random.Random(seed)
        self.created: deque[str] = deque(maxlen=5000)
        self.counting = False
        self.latency_ms: dict[str, list[float]] = {op: [] for op in weights}
        self.status: Counter[str] = Counter()
        self.status_by_operation: Counter[str] = Counter()
        self.transport_errors: Counter[str] = Counter()
        self.requests = 0
        self.sequence = 0

    def _request(self, operation: str) -> Any:
        if operation == "create":
            self.sequence += 1
            body = {"name": f"soak {self.sequence}", "channel": [{"id": "web"}],
                    "relatedParty": {"id": f"c{self.sequence % 500}", "@referredType": "Customer"}}
            return self.client.post(QPR, json=body)
        if operation == "retrieve" and self.created:
            return self.client.get(f"{QPR}/{self.random.choice(self.created)}")
        return self.client.get(QPR, params={"limit": 20, "offset": self.random.randrange(0, 200)})

    async def one(self) -> None:
        operation = self.random.choices(self.operations, self.weights)[0]
        if operation == "retrieve" and not self.created:
            operation = "create"
        started = time.perf_counter()
        try:
            response = await self._request(operation)
        except httpx.TransportError as exc:
            if self.counting:
                self.requests += 1
                self.transport_errors[f"{operation} {type(exc).__name__}"] += 1
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        if operation == "create" and response.status_code == 201:
            self.created.append(response.json()["id"])
        if self.counting:
            self.requests += 1
            self.latency_ms[operation].append(elapsed_ms)
            self.status[str(response.status_code)] += 1
            self.status_by_operation[f"{operation} {response.status_code}"] += 1

    async def loop(self, until: float) -> None:
        while time.monotonic() < until:
            await self.one()


async def run(url: str, duration: float, connections: int, warmup: float, weights: dict[str, float],
              pids: list[int], master: int | None, seed: int = 1, keepalive_expiry: float = 2.0) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections,
                          keepalive_expiry=keepalive_expiry)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        soak = Soak(client, weights, seed)
        started = time.monotonic()
        await asyncio.gather(*(soak.loop(started + warmup) for _ in range(connections)))
        processes = sorted(set(pids) | set(worker_pids(master) if master else []))
        rss_start = rss_kib(processes)
        soak.counting = True
        began = time.monotonic()
        await asyncio.gather(*(soak.loop(began + duration) for _ in range(connections)))
        elapsed = time.monotonic() - began
        soak.counting = False
        processes_end = sorted(set(pids) | set(worker_pids(master) if master else []))
        rss_end = rss_kib(processes_end)
    every = [v for values in soak.latency_ms.values() for v in values]
    server_errors = sum(n for status, n in soak.status.items() if status.startswith("5"))
    return {
        "url": url, "duration_s": round(elapsed, 2), "warmup_s": warmup, "connections": connections,
        "mix": weights, "requests": soak.requests, "requests_per_s": round(soak.requests / elapsed, 1),
        "latency_ms": latency_summary(every),
        "latency_ms_by_operation": {op: latency_summary(v) for op, v in soak.latency_ms.items() if v},
        "status": dict(sorted(soak.status.items())),
        "status_by_operation": dict(sorted(soak.status_by_operation.items())),
        "server_errors_5xx": server_errors, "transport_errors": dict(soak.transport_errors),
        "transport_errors_total": sum(soak.transport_errors.values()),
        "rss_kib": {"after_warmup": rss_start, "end": rss_end},
        "processes_replaced": sorted(set(map(str, processes)) ^ set(map(str, processes_end))),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="server root, e.g. http://127.0.0.1:8080")
    parser.add_argument("--duration", type=float, default=60, help="counted seconds (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=5, help="uncounted seconds first")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--create", type=float, default=0.3, help="weight of POST queryProductRecommendation")
    parser.add_argument("--retrieve", type=float, default=0.5, help="weight of GET one query")
    parser.add_argument("--list", type=float, default=0.2, help="weight of GET a page of 20")
    parser.add_argument("--pid", type=int, action="append", default=[], help="a server process to measure")
    parser.add_argument("--master", type=int, help="a gunicorn master: measure its workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keepalive-expiry", type=float, default=2.0,
                        help="seconds before the client drops an idle connection (below the server's keep-alive)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    weights = {"create": args.create, "retrieve": args.retrieve, "list": args.list}
    result = asyncio.run(run(args.url, args.duration, args.connections, args.warmup, weights, args.pid,
                             args.master, args.seed, args.keepalive_expiry))
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
