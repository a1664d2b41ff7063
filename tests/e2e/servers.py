"""Real server processes in end-to-end tests: the command, waiting for the port, stopping."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


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


def terminate(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
