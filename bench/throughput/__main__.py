"""``python -m bench.throughput [run] [options]`` and ``python -m bench.throughput compare A.json B.json``.

A run starts a private mongod with the demo catalogue and model, our server (gunicorn, one uvicorn worker
pinned to a CPU) and a stock Connexion 3 baseline on the same spec (bench/baseline_app.py), drives both
with wrk pinned to another CPU (GET by id, GET list filtered by relatedParty.id with limit=20, POST
create with a synchronous recommendation, POST create for the background workers), then our server with
N workers, the RSS of a worker with a synthetic 10k-offering model and the engine's latency; it prints a
table and writes the figures as JSON. Everything it starts is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.throughput import report

SKIPPABLE = ("ceiling", "workers", "rss", "engine")


def run_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per scenario and server")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (all on the wrk CPU)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the multi-worker run (GET by id)")
    parser.add_argument("--out", default=None, help="JSON file (default bench/results/<UTC timestamp>.json)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 3 s per scenario, less data, smaller engine and RSS set-ups")
    parser.add_argument("--queries", type=int, default=2000, help="queries created first (GET by id, list)")
    parser.add_argument("--parties", type=int, default=100, help="customers those queries are spread over")
    parser.add_argument("--server-cpu", default=None, help="CPU list the servers are pinned to (default 0)")
    parser.add_argument("--wrk-cpu", default=None, help="CPU list wrk is pinned to (default the last CPU)")
    parser.add_argument("--rss-offerings", type=int, default=10_000, help="offerings of the synthetic model")
    parser.add_argument("--rss-customers", type=int, default=20_000, help="customers of the synthetic history")
    parser.add_argument("--engine-sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--engine-customers", type=int, default=100_000)
    parser.add_argument("--engine-contexts", type=int, default=3000)
    parser.add_argument("--drain-timeout", type=float, default=180.0,
                        help="longest wait for the background workers before a measurement")
    parser.add_argument("--skip", nargs="+", choices=SKIPPABLE, default=[], help="parts not to run")
    parser.add_argument("--scenarios", nargs="+", choices=[key for key, _ in report.SCENARIOS],
                        default=[key for key, _ in report.SCENARIOS],
                        help="HTTP scenarios to measure (default all; e.g. --scenarios getById for a short burst)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true", help="copy the servers' logs next to the JSON file")


def apply_quick(args: argparse.Namespace) -> None:
    if args.quick:
        args.duration, args.warmup = min(args.duration, 3.0), min(args.warmup, 1.0)
        args.queries, args.parties = min(args.queries, 500), min(args.parties, 25)
        args.rss_customers = min(args.rss_customers, 5000)
        args.engine_customers, args.engine_contexts = min(args.engine_customers, 20_000), min(args.engine_contexts, 300)
        args.drain_timeout = min(args.drain_timeout, 60.0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="python -m bench.throughput compare",
                                         description="Two result files side by side.")
        parser.add_argument("a", type=Path)
        parser.add_argument("b", type=Path)
        args = parser.parse_args(argv[1:])
        print(report.compare(json.loads(args.a.read_text()), json.loads(args.b.read_text())))
        return 0
    if argv[:1] == ["run"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    run_parser(parser)
    args = parser.parse_args(argv)
    if args.duration < 1 or args.connections < 1 or args.threads < 1 or args.workers < 1 or args.parties < 1:
        parser.error("--duration, --connections, --threads, --workers and --parties must be at least 1")
    if args.queries < args.parties:
        parser.error("--queries must be at least --parties")
    apply_quick(args)
    from bench.throughput.run import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
