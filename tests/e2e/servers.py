"""Real server processes in end-to-end tests: the command, waiting for the port or for the workers to
serve, stopping."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def tmf680() -> list[str]:
    """The ``tmf680`` console script of this interpreter's environment (else ``python -m cli``)."""
    found = shutil.which("tmf680", path=os.path.dirname(sys.executable)) or shutil.which("tmf680")
    return [found] if found else [sys.executable, "-m", "cli"]


def _output(process: subprocess.Popen[bytes], log: Path | None) -> str:
    if log is not None:
        return log.read_text(errors="replace")
    return process.stdout.read().decode(errors="replace") if process.stdout else ""


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60, log: Path | None = None) -> None:
    """Until something listens on 127.0.0.1:``port``; fail with the server's output if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{_output(process, log)}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path, workers: int = 1,
                       timeout: float = 180, data: bool = False) -> dict[str, Any]:
    """Until each of the server's ``workers`` has started its application and ``<url>/health/ready``
    answers, within ``timeout`` seconds; the readiness answer. Fails with the server's output if it exits.

    A listening port is not a serving worker: gunicorn's master listens before its workers have imported
    and built the app (seconds, more on a loaded machine), and a request that reaches a booting worker's
    socket waits for it. So the helper waits for every worker's "Application startup complete." (uvicorn's
    lifespan line) in ``log``, then polls the readiness probe, each attempt bounded by what remains of the
    deadline. ``data``: also the catalogue and model (200); else a database answering is enough (503 for a
    new database without them)."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{_output(process, log)}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"not serving within {timeout} s (last readiness answer: {seen}):\n"
                                 f"{_output(process, log)}")
        if log.read_text(errors="replace").count("Application startup complete.") >= workers:
            try:
                answer = httpx.get(f"{url}/health/ready", timeout=min(left, 30))
                seen = answer.json() if answer.headers.get("content-type", "").startswith("application/json") \
                    else answer.status_code
            except httpx.TransportError as exc:
                seen = repr(exc)
            else:
                if answer.status_code == 200 or (
                        not data and isinstance(seen, dict) and seen.get("checks", {}).get("mongodb") == "ok"):
                    return seen  # type: ignore[no-any-return]
        time.sleep(0.2)


def terminate(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
