"""newman, run as a subprocess on one Postman collection, and what its JSON report says.

The collections are the project's own (``collections/``); newman is installed from npm into
``tests/conformance/node_modules`` by ``scripts/install-newman.sh`` (pinned by ``package-lock.json``).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTIONS = HERE / "collections"
NEWMAN = HERE / "node_modules" / ".bin" / "newman"
REQUIRES_CATALOGUE = "requiresCatalogue"  # a collection variable: the collection needs a loaded catalogue


@dataclass
class RunResult:
    """One newman run: a collection against one server state."""

    collection: str
    server: str  # which server state it ran against ("fresh", "populated", "empty")
    total: int
    failed: int
    requests: int
    seconds: float
    failures: list[str] = field(default_factory=list)
    cli_log: Path | None = None

    @property
    def passed(self) -> int:
        return self.total - self.failed


def collections() -> list[Path]:
    """Every collection file in ``collections/`` (each API's kit, TMFC050's checks, ...)."""
    return sorted(COLLECTIONS.glob("*.json"))


def requires_catalogue(collection: Path) -> bool:
    variables = json.loads(collection.read_text()).get("variable") or []
    return any(v.get("key") == REQUIRES_CATALOGUE and str(v.get("value")).lower() == "true" for v in variables)


def write_environment(path: Path, values: dict[str, str]) -> Path:
    """A Postman environment file, as the official kit's ``TMFENV`` is."""
    path.write_text(json.dumps({
        "id": "tmf680-conformance", "name": "tmf680-conformance",
        "values": [{"key": k, "value": v, "enabled": True} for k, v in values.items()],
        "_postman_variable_scope": "environment",
    }, indent=2))
    return path


def run(collection: Path, environment: Path, out_dir: Path, server: str, timeout_s: float = 600) -> RunResult:
    """newman with the CLI and JSON reporters; the assertion counts come from the JSON report."""
    if not NEWMAN.exists():
        raise AssertionError(f"{NEWMAN} is missing: run scripts/install-newman.sh (tox -e ctk does)")
    stem = f"{collection.name.removesuffix('.json')}-{server}"
    report = out_dir / f"{stem}.newman.json"
    cli_log = out_dir / f"{stem}.newman.txt"
    started = time.monotonic()
    with cli_log.open("wb") as out:
        subprocess.run(
            [str(NEWMAN), "run", str(collection), "--environment", str(environment),
             "--reporters", "cli,json", "--reporter-json-export", str(report),
             "--color", "off", "--disable-unicode", "--timeout-script", str(int(timeout_s * 1000))],
            stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=False,
        )
    seconds = time.monotonic() - started
    if not report.exists():
        raise AssertionError(f"newman wrote no report for {collection.name}:\n{cli_log.read_text()[-3000:]}")
    run_report = json.loads(report.read_text())["run"]
    stats = run_report["stats"]
    # a script that throws outside pm.test, or a request that gets no answer, asserts nothing: count
    # each as a failed assertion, so that it cannot pass unnoticed
    errors = sum(int(stats[k]["failed"]) for k in ("testScripts", "prerequestScripts", "requests"))
    failures = [
        f"{f.get('source', {}).get('name', '?')}: {f.get('error', {}).get('test') or ''} "
        f"{f.get('error', {}).get('message', '')}".strip()
        for f in run_report.get("failures", [])
    ]
    return RunResult(collection=collection.name, server=server, total=int(stats["assertions"]["total"]) + errors,
                     failed=int(stats["assertions"]["failed"]) + errors, requests=int(stats["requests"]["total"]),
                     seconds=seconds, failures=failures, cli_log=cli_log)
