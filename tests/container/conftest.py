"""Container tier: the image is built on a Debian base made by mmdebstrap (no public registry is reachable
from CI) and run by the machine's dockerd against the session's mongod. Without a daemon the tier skips with
the reason (``TMF680_REQUIRE_DOCKER=1`` makes that a failure)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from docker_cli import BASE_TAG, IMAGE_TAG, DockerUnavailable, ensure_daemon, inspect, script

_FIGURES = pytest.StashKey[dict[str, Any]]()


@pytest.fixture(scope="session")
def docker_daemon() -> str:
    try:
        return ensure_daemon()
    except DockerUnavailable as exc:
        if os.environ.get("TMF680_REQUIRE_DOCKER") == "1":
            raise
        pytest.skip(f"no Docker daemon can run here: {exc}")


@pytest.fixture(scope="session")
def image(docker_daemon: str, figures: dict[str, Any]) -> str:
    """The image built from this checkout's Dockerfile on the Debian base (both kept by tag: a rebuild with
    nothing changed is served from the layer cache)."""
    started = time.monotonic()
    base = script("container-base.sh", BASE_TAG)
    figures["base image build or reuse (s)"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    tag = script("build-image.sh", IMAGE_TAG, env={**os.environ, "BASE_IMAGE": base})
    figures["image build (s)"] = round(time.monotonic() - started, 1)
    figures["image size (MB)"] = round(inspect("image", tag)["Size"] / 1e6, 1)
    return tag


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.config.stash.setdefault(_FIGURES, {})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the figures, and keep them as container-figures.json in TMF680_SCREENSHOT_DIR when set."""
    figures = config.stash.get(_FIGURES, None)
    if not figures:
        return
    terminalreporter.section("TMF680 container figures")
    for key, value in figures.items():
        terminalreporter.write_line(f"{key}: {value}")
    out_dir = os.environ.get("TMF680_SCREENSHOT_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "container-figures.json").write_text(json.dumps(figures, indent=2) + "\n")
