"""The conformance tier (``tox -e ctk``): newman runs the project's Postman collections against live
servers started as the README says. Every run's assertion counts are kept; the session ends with a table
of them and, as its very last line, ``N passed, N failed`` summed over all runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # newman_runner, servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))  # the shared process helpers

from newman_runner import RunResult

_RUNS = pytest.StashKey[list[RunResult]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RUNS] = []


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[RunResult], None]:
    return request.config.stash[_RUNS].append


def _totals(config: pytest.Config) -> tuple[int, int]:
    runs = config.stash.get(_RUNS, [])
    return sum(r.passed for r in runs), sum(r.failed for r in runs)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    runs = config.stash.get(_RUNS, [])
    if not runs:
        return
    terminalreporter.section("conformance assertions (newman)")
    for r in runs:
        terminalreporter.write_line(
            f"{r.collection:<33} {r.server:<18} {r.passed:>6} passed {r.failed:>4} failed "
            f"({r.requests} requests, {r.seconds:.1f} s)")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The last line of the session: the assertions of every newman run, summed."""
    if _RUNS not in config.stash:
        return
    passed, failed = _totals(config)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    line = f"{passed} passed, {failed} failed"
    if terminal is not None:
        terminal.write_line(line)
    else:
        print(line)
