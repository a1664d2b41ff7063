"""The benchmark's figures as a table: scenarios, ratios against the targets, engine and memory lines,
and the comparison of two result files. Pure functions of the result dictionary (the JSON file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]

# (key, label) of the HTTP scenarios, in the order they run and print.
SCENARIOS: tuple[tuple[str, str], ...] = (
    ("getById", "GET by id"),
    ("list", "GET list relatedParty.id limit=20"),
    ("createSync", "POST create, sync recommendation"),
    ("createAsync", "POST create, async"),
)
LABELS = dict(SCENARIOS)


@dataclass(frozen=True)
class Target:
    """A figure the issue asks for: ``value`` against ``bound`` (``at_least`` or at most)."""

    key: str
    label: str
    value: float | None
    bound: float
    at_least: bool = True
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.bound if self.at_least else self.value <= self.bound

    def describe_bound(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound:g}{self.unit if self.unit == 'x' else ' ' + self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value, "bound": self.bound,
                "atLeast": self.at_least, "unit": self.unit, "met": self.met}


def _rps(result: Result, side: str, scenario: str) -> float | None:
    run = (result.get("http", {}).get(side) or {}).get(scenario)
    return float(run["rps"]) if run and run.get("rps") else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def targets(result: Result) -> list[Target]:
    """The targets of the issue, from one run's figures (None where a figure is missing)."""
    ours = lambda scenario: _rps(result, "ours", scenario)  # noqa: E731 - a local shorthand
    base = lambda scenario: _rps(result, "baseline", scenario)  # noqa: E731
    workers = result.get("http", {}).get("oursWorkers") or {}
    n = workers.get("workers", 2)
    rss = (result.get("rss") or {}).get("synthetic") or {}
    return [
        Target("getById", "GET by id, ours / baseline", ratio(ours("getById"), base("getById")), 1.2),
        Target("createAsync", "POST async create, ours / baseline POST",
               ratio(ours("createAsync"), base("createAsync")), 1.3),
        Target("createSync", "sync create with a recommendation / our async create",
               ratio(ours("createSync"), ours("createAsync")), 0.8),
        Target("workers", f"{n} workers / 1 worker, GET by id",
               ratio(_rps(result, "oursWorkers", "getById"), ours("getById")), 1.7),
        Target("rss10k", f"RSS of a worker with a {rss.get('offerings', 10000)}-offering model",
               rss.get("rssMB", {}).get("VmRSS"), 150.0, at_least=False, unit="MB"),
        Target("uss10k", f"private memory (USS) of a worker, {rss.get('offerings', 10000)}-offering model",
               rss.get("rssMB", {}).get("USS"), 130.0, at_least=False, unit="MB"),
        Target("errors", "request errors (all runs)", float(total_errors(result)), 0.0, at_least=False, unit=""),
    ]


def total_errors(result: Result) -> int:
    total = 0
    for side in ("ours", "baseline", "oursWorkers"):
        for scenario, run in (result.get("http", {}).get(side) or {}).items():
            if scenario != "workers" and isinstance(run, dict):
                total += int(run.get("errors", 0))
    return total


# -- formatting ----------------------------------------------------------------------------------

def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def _run_cells(run: Result | None) -> list[str]:
    if not run:
        return ["-", "-", "-", "-"]
    latency = run["latencyMs"]
    return [_num(run["rps"]), _num(latency["p50"], 2), _num(latency["p99"], 2), str(run["errors"])]


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(cells))

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def http_table(result: Result) -> list[str]:
    by_key = {t.key: t for t in targets(result)}
    http = result.get("http", {})
    rows = []
    for key, label in SCENARIOS:
        ours, base = (http.get("ours") or {}).get(key), (http.get("baseline") or {}).get(key)
        target = by_key.get(key)
        if target is not None:
            shown_ratio, what = target.value, "ours/ours async" if key == "createSync" else "ours/baseline"
            bound, met = target.describe_bound(), _met(target.met)
        else:
            shown_ratio = ratio(ours and ours["rps"], base and base["rps"])
            what, bound, met = "ours/baseline", "-", "-"
        rows.append([label, *_run_cells(ours), *_run_cells(base),
                     f"{_num(shown_ratio, 2)} {what}" if shown_ratio is not None else "-", bound, met])
    header = ["scenario", "ours req/s", "p50 ms", "p99 ms", "err", "baseline req/s", "p50 ms", "p99 ms", "err",
              "ratio", "target", "met"]
    return _table(header, rows)


def summary_lines(result: Result) -> list[str]:
    lines: list[str] = []
    http = result.get("http", {})
    workers = http.get("oursWorkers") or {}
    if workers.get("getById"):
        run = workers["getById"]
        target = next(t for t in targets(result) if t.key == "workers")
        lines.append(f"{workers['workers']} workers (unpinned), GET by id: {_num(run['rps'])} req/s, p50 "
                     f"{run['latencyMs']['p50']:.2f} ms, p99 {run['latencyMs']['p99']:.2f} ms, {run['errors']} errors"
                     f" | {_num(target.value, 2)}x one worker, target {target.describe_bound()}: {_met(target.met)}")
    lines += load_generator_lines(result)
    for entry in result.get("engine") or []:
        lat = entry["latencyMs"]
        lines.append(f"engine, {entry['offerings']:>6,} offerings ({entry['customers']:,} customers, model "
                     f"{entry['modelMB']} MB): p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms over "
                     f"{entry['contexts']} recommendations")
    rss = result.get("rss") or {}
    for key, what in (("demo", "demo model"), ("synthetic", "synthetic model")):
        entry = rss.get(key)
        if entry:
            before = entry.get("beforeModelMB", {}).get("VmRSS")
            lines.append(f"worker RSS with the {what} ({entry['offerings']:,} offerings) loaded: "
                         f"{entry['rssMB']['VmRSS']} MB (peak {entry['rssMB'].get('VmHWM')} MB"
                         + (f"; {before} MB before the first recommendation" if before is not None else "")
                         + (f"; PSS {entry['rssMB']['Pss']} MB, USS {entry['rssMB']['USS']} MB"
                            if "USS" in entry["rssMB"] else "") + ")")
    return lines


def load_generator_lines(result: Result) -> list[str]:
    """Why wrk is not the bottleneck: its ceiling against a raw endpoint, its own CPU share in every run
    and its CPU cost per request, against the servers' CPU share."""
    http = result.get("http", {})
    runs = [(side, key, run) for side in ("ours", "baseline", "oursWorkers")
            for key, run in (http.get(side) or {}).items() if isinstance(run, dict)]
    lines = []
    ceiling = (result.get("loadGenerator") or {}).get("ceiling")
    if ceiling:
        lines.append(f"load generator ceiling: wrk against a raw uvicorn endpoint: {_num(ceiling['rps'])} req/s "
                     f"(p99 {ceiling['latencyMs']['p99']:.2f} ms; wrk CPU {ceiling['wrkCpuShare']:.0%} of its core, "
                     f"endpoint CPU {ceiling['serverCpuShare']:.0%})")
    if runs:
        share = max(runs, key=lambda r: r[2]["wrkCpuShare"])
        costs = [r[2]["wrkCpuUsPerRequest"] for r in runs if r[2].get("wrkCpuUsPerRequest")]
        line = (f"wrk CPU in the measured runs: at most {share[2]['wrkCpuShare']:.0%} of its core "
                f"({share[0]} {LABELS.get(share[1], share[1])})")
        if share[2]["wrkCpuShare"] > 0:
            line += f", so it could have sent >= {1 / share[2]['wrkCpuShare']:.0f}x as many requests"
        if costs:
            line += f"; its CPU cost per request {min(costs):.0f}-{max(costs):.0f} us"
        lines.append(line)
        lines.append("server worker CPU (share of a core) in the measured runs: " + ", ".join(
            f"{side} {LABELS.get(key, key)} {run['serverCpuShare']:.0%}" for side, key, run in runs))
    return lines


def targets_lines(result: Result) -> list[str]:
    def value(t: Target) -> str:
        if t.unit == "x":
            return _num(t.value, 2) + "x"
        return (_num(t.value, 1) + f" {t.unit}").strip() if t.unit else _num(t.value)

    rows = [[t.label, value(t), t.describe_bound(), _met(t.met)] for t in targets(result)]
    return _table(["target", "value", "bound", "met"], rows)


def render(result: Result) -> str:
    lines = http_table(result)
    lines += ["", *summary_lines(result), "", *targets_lines(result)]
    notes = result.get("notes") or []
    if notes:
        lines += ["", *(f"note: {n}" for n in notes)]
    return "\n".join(lines)


# -- comparing two runs ----------------------------------------------------------------------------

def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None or not a:
        return "-"
    return f"{(b - a) / a:+.1%}"


COMPARABLE_OPTIONS = ("quick", "duration", "warmup", "connections", "threads", "workers", "queries", "parties",
                      "server_cpu", "wrk_cpu", "rss_offerings", "rss_customers", "engine_customers", "engine_contexts")


def differing_options(a: Result, b: Result) -> list[str]:
    """The options (and CPU count) two runs do not share, as ``name A/B``."""
    out = []
    for key in COMPARABLE_OPTIONS:
        va, vb = (a.get("options") or {}).get(key), (b.get("options") or {}).get(key)
        if va != vb:
            out.append(f"{key} {va}/{vb}")
    na, nb = (a.get("machine") or {}).get("nproc"), (b.get("machine") or {}).get("nproc")
    if na != nb:
        out.append(f"nproc {na}/{nb}")
    return out


def compare(a: Result, b: Result) -> str:
    """Two runs side by side: req/s and p99 of every scenario, the targets, engine and RSS figures."""
    rows: list[list[str]] = []

    def add(label: str, get: Callable[[Result], float | None], digits: int = 0) -> None:
        va, vb = get(a), get(b)
        rows.append([label, _num(va, digits), _num(vb, digits), _change(va, vb)])

    def http_value(side: str, key: str, what: str) -> Callable[[Result], float | None]:
        def get(result: Result) -> float | None:
            run = (result.get("http", {}).get(side) or {}).get(key)
            if not run:
                return None
            return float(run["rps"] if what == "rps" else run["latencyMs"][what])
        return get

    for side in ("ours", "baseline"):
        for key, label in SCENARIOS:
            add(f"{side} {label} req/s", http_value(side, key, "rps"))
            add(f"{side} {label} p99 ms", http_value(side, key, "p99"), 2)
    add("ours N workers GET by id req/s", http_value("oursWorkers", "getById", "rps"))
    def target_value(index: int) -> Callable[[Result], float | None]:
        return lambda result: targets(result)[index].value

    def rss_value(key: str) -> Callable[[Result], float | None]:
        return lambda result: ((result.get("rss") or {}).get(key) or {}).get("rssMB", {}).get("VmRSS")

    for index, target in enumerate(targets(a)):
        add(f"target: {target.label}", target_value(index), 2)

    def engine_p99(size: int) -> Callable[[Result], float | None]:
        def get(result: Result) -> float | None:
            found = [e for e in result.get("engine") or [] if e["offerings"] == size]
            return float(found[0]["latencyMs"]["p99"]) if found else None
        return get

    for size in sorted({e["offerings"] for r in (a, b) for e in r.get("engine") or []}):
        add(f"engine p99 ms, {size} offerings", engine_p99(size), 3)
    for key in ("demo", "synthetic"):
        add(f"worker RSS MB, {key} model", rss_value(key), 1)
    head = [f"A: {a.get('startedAt', '?')} {a.get('machine', {}).get('gitCommit', '')[:10]}",
            f"B: {b.get('startedAt', '?')} {b.get('machine', {}).get('gitCommit', '')[:10]}"]
    differ = differing_options(a, b)
    if differ:
        head.append("the runs differ in " + ", ".join(differ) + ": the figures are not like for like")
    head.append("")
    return "\n".join(head + _table(["figure", "A", "B", "change"], rows))
