"""Fixtures of the Schemathesis contract tier: one database per module, one app per test, and the run summary.

The app is the real composition root (``create_app``) with response validation on, driven in-process
through its ASGI interface; the database lives in the session's real mongod (``mongo_uri`` in
``tests/conftest.py``) and is dropped when the module ends.

A summary of what ran (operations, generated cases per phase and generation mode, stateful scenarios
and steps, durations) is printed at the end of the session and written to
``<pytest basetemp>/contract-summary.json`` (and to ``TMF680_CONTRACT_SUMMARY`` when that variable
names a file).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from schemathesis.python import asgi as schemathesis_asgi

from app.factory import create_app
from app.settings import Settings

SUMMARY_ENV = "TMF680_CONTRACT_SUMMARY"
SUMMARY_FILENAME = "contract-summary.json"


@dataclass
class ContractStats:
    """What the contract tier ran, for the closing summary."""

    max_examples: int | None = None
    seed: int | None = None
    operations: list[str] = field(default_factory=list)
    # (operation label, phase, generation mode) -> number of test-function calls (= requests sent)
    cases: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    stateful_links: int = 0
    stateful_scenarios: int = 0
    stateful_steps: int = 0
    stateful_linked_steps: int = 0
    stateful_steps_by_operation: Counter[str] = field(default_factory=Counter)
    durations: dict[str, float] = field(default_factory=dict)
    summary_path: Path | None = None

    def record_case(self, case: Any) -> None:
        meta = case.meta
        phase = meta.phase.name.value if meta is not None else "explicit"
        mode = meta.generation.mode.value if meta is not None else "n/a"
        self.cases[(case.operation.label, phase, mode)] += 1

    def by_phase(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_op, phase, _mode), count in self.cases.items():
            out[phase] += count
        return dict(sorted(out.items()))

    def by_mode(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_op, _phase, mode), count in self.cases.items():
            out[mode] += count
        return dict(sorted(out.items()))

    def by_operation(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (op, phase, mode), count in sorted(self.cases.items()):
            out.setdefault(op, {})[f"{phase}/{mode}"] = count
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "max_examples": self.max_examples,
            "operations": len(self.operations),
            "operation_labels": self.operations,
            "stateless_cases": sum(self.cases.values()),
            "stateless_cases_by_phase": self.by_phase(),
            "stateless_cases_by_mode": self.by_mode(),
            "stateless_cases_by_operation": self.by_operation(),
            "stateful": {
                "links": self.stateful_links,
                "scenarios": self.stateful_scenarios,
                "steps": self.stateful_steps,
                "steps_following_a_link": self.stateful_linked_steps,
                "steps_by_operation": dict(sorted(self.stateful_steps_by_operation.items())),
            },
            "durations_s": {name: round(value, 1) for name, value in self.durations.items()},
        }

    def summary_line(self) -> str:
        phases = ", ".join(f"{name} {count}" for name, count in self.by_phase().items()) or "none"
        modes = ", ".join(f"{name} {count}" for name, count in self.by_mode().items()) or "none"
        total_s = sum(self.durations.values())
        return (
            f"contract: {len(self.operations)} operations, {sum(self.cases.values())} stateless cases "
            f"({phases}; {modes}), stateful {self.stateful_scenarios} scenarios / {self.stateful_steps} steps "
            f"over {self.stateful_links} links; max-examples {self.max_examples}, seed {self.seed}, "
            f"{total_s:.1f}s"
        )


_STATS_KEY = pytest.StashKey[ContractStats]()


@pytest.fixture(scope="session")
def contract_stats(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ContractStats:
    stats = ContractStats(summary_path=tmp_path_factory.getbasetemp() / SUMMARY_FILENAME)
    request.config.stash[_STATS_KEY] = stats
    return stats


def _settings(mongo_uri: str) -> Iterator[Settings]:
    """Settings on a database of their own, dropped at the end."""
    name = f"contract_{uuid.uuid4().hex[:12]}"
    # Background workers off (nothing is delivered); the dictionary callbacks of schemathesis.toml
    # point at 127.0.0.1, allow-listed so that register → unregister can be exercised.
    yield Settings(mongodb_uri=mongo_uri, db_name=name, validate_responses=True, workers=False,
                   callback_allow="127.0.0.1,localhost")
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(name)
    client.close()


@pytest.fixture(scope="module")
def contract_settings(mongo_uri: str) -> Iterator[Settings]:
    """One database for the module's TMF680 and TMF669 tests."""
    yield from _settings(mongo_uri)


@pytest.fixture(scope="module")
def events_contract_settings(mongo_uri: str) -> Iterator[Settings]:
    """Another database for the TMF620/TMF637/TMF622 listeners: the offerings and categories their
    events store would otherwise make a TMF680 query naming an unknown category a 400 (the catalogue
    is checked once it is not empty), which the TMF680 tests do not expect."""
    yield from _settings(mongo_uri)


def _app(settings: Settings) -> Iterator[Any]:
    """A fresh app per test item.

    Schemathesis' pytest plugin ends every ASGI lifespan it started when a test item ends, and this
    app's lifespan shutdown closes its Mongo client for good (as a real server's would), so one app
    object cannot serve two test items.
    """
    app = create_app(settings)
    yield app
    schemathesis_asgi.shutdown_lifespans()


@pytest.fixture
def contract_app(contract_settings: Settings) -> Iterator[Any]:
    yield from _app(contract_settings)


@pytest.fixture
def events_contract_app(events_contract_settings: Settings) -> Iterator[Any]:
    yield from _app(events_contract_settings)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stats = config.stash.get(_STATS_KEY, None)
    if stats is None:
        return
    terminalreporter.section("TMF680 contract (Schemathesis)")
    terminalreporter.write_line(stats.summary_line())
    for label, counts in stats.by_operation().items():
        detail = ", ".join(f"{key} {value}" for key, value in counts.items())
        terminalreporter.write_line(f"  {label}: {detail}")
    if stats.stateful_steps_by_operation:
        detail = ", ".join(f"{op} {n}" for op, n in sorted(stats.stateful_steps_by_operation.items()))
        terminalreporter.write_line(f"  stateful steps: {detail}")
    path = _write_summary(stats)
    if path is not None:
        terminalreporter.write_line(f"  summary written to {path}")


def _write_summary(stats: ContractStats) -> Path | None:
    payload = json.dumps(stats.as_dict(), indent=2) + "\n"
    targets = [stats.summary_path] if stats.summary_path is not None else []
    explicit = os.environ.get(SUMMARY_ENV, "").strip()
    if explicit:
        targets.append(Path(explicit))
    written = None
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(payload, encoding="utf-8")
        written = target
    return written


@pytest.fixture(autouse=True)
def _contract_timing(request: pytest.FixtureRequest, contract_stats: ContractStats) -> Iterator[None]:
    """Wall time of each contract test (fixtures included), for the summary."""
    started = time.perf_counter()
    yield
    contract_stats.durations[request.node.name] = time.perf_counter() - started
