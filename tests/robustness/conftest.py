"""Fixtures of the robustness tier: real server processes (``tmf680 serve`` and gunicorn) on the session's
real mongod (``mongo_uri``, started with ``enableTestCommands`` so tests can inject faults with
``configureFailPoint``), and the figures every fault and load test records.

The figures (fault injected → requests failed / lost / recovery time, the soak's numbers) are printed at
the end of the session and written to ``robustness-figures.json`` in ``TMF680_SCREENSHOT_DIR`` (the test
artifacts directory ``scripts/test.sh`` sets) or else in pytest's base temp directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIGURES_FILENAME = "robustness-figures.json"
_FIGURES = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """Keep one test's figures for the closing summary."""
    figures = request.config.stash.setdefault(_FIGURES, [])

    def record(values: dict[str, Any]) -> None:
        figures.append({"test": request.node.name, **values})

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, None)
    if not figures:
        return
    terminalreporter.section("TMF680 robustness figures")
    for entry in figures:
        terminalreporter.write_line(json.dumps(entry, sort_keys=False))
    target = Path(os.environ.get("TMF680_SCREENSHOT_DIR") or config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    target.mkdir(parents=True, exist_ok=True)
    (target / FIGURES_FILENAME).write_text(json.dumps(figures, indent=2) + "\n")
    terminalreporter.write_line(f"written to {target / FIGURES_FILENAME}")
