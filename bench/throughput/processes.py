"""The processes the HTTP benchmark starts: gunicorn servers (ours and the baseline), the raw uvicorn
endpoint of the load generator's ceiling, and the ``tmf680`` CLI. Each server runs in its own process
group and is stopped with it, whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runtime.embedded_mongo import free_port

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = "python:app.gunicorn_conf"
OUR_APP = "app.factory:create_asgi_app()"
BASELINE_APP = "bench.baseline_app:create_app()"
CEILING_APP = "bench.throughput.ceiling_app:app"
UVICORN_STARTED = "Application startup complete."  # logged by each uvicorn worker after the app's lifespan start


def venv_tool(name: str) -> str:
    """A console script of this interpreter's environment (gunicorn, uvicorn, tmf680)."""
    candidate = Path(sys.executable).parent / name
    if not candidate.exists():
        raise FileNotFoundError(f"{candidate} not found: install the package with its bench extra")
    return str(candidate)


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    """``taskset -c CPUS argv`` (taskset execs the command: same pid, inherited by forked workers)."""
    return ["taskset", "-c", cpus, *argv] if cpus is not None else list(argv)


@dataclass
class Server:
    """One server process group; ``log`` receives its stdout and stderr."""

    name: str
    app: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    workers: int = 1
    ready_line: str | None = None  # a log line each worker writes once it serves (None: just the port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_offset: int = field(default=0, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> Server:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        """Until the port accepts connections and every worker has built its application (gunicorn
        binds the port before its workers have imported anything)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; log {self.log}:\n{tail}")
            with socket.socket() as sock:
                listening = sock.connect_ex(("127.0.0.1", self.port)) == 0
            if listening and len(self.worker_pids()) >= self.workers and self._workers_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout_s:.0f} s (log {self.log})")

    @property
    def exit_code(self) -> int | None:
        """The server's exit code if it has exited (None while it runs or before it started)."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _workers_ready(self) -> bool:
        if self.ready_line is None:
            return True
        with open(self.log, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace").count(self.ready_line) >= self.workers

    def worker_pids(self) -> list[int]:
        """The processes serving requests: gunicorn's workers (children of the master), or the
        process itself when it has no children (plain uvicorn)."""
        if self.process is None:
            return []
        children = child_pids(self.process.pid)
        return children or [self.process.pid]

    def stop(self, timeout_s: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        stop_group(process, timeout_s)


def stop_group(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM to the process group, then SIGKILL to what is left of it."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        pgid = process.pid
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(pgid):
            break
        time.sleep(0.2)
    process.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (scanning /proc: works without CONFIG_PROC_CHILDREN)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def named_children(pid: int, name: str) -> list[int]:
    """Children of ``pid`` whose command name is ``name`` (e.g. the embedded mongod)."""
    found = []
    for child in child_pids(pid):
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                found.append(child)
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB (2**20 bytes)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def gunicorn_server(name: str, app: str, env: Mapping[str, str], log_dir: Path, workers: int = 1,
                    cpus: str | None = None, access_log: Path | None = None) -> Server:
    """gunicorn with the production configuration (app/gunicorn_conf.py: uvicorn workers)."""
    port = free_port()
    server_env = {
        **env,
        "WEB_CONCURRENCY": str(workers),
        "TMF680_BIND": f"127.0.0.1:{port}",
        "TMF680_GRACEFUL_TIMEOUT": "5",
        "TMF680_ACCESS_LOG": str(access_log) if access_log else "",
    }
    argv = [venv_tool("gunicorn"), "-c", GUNICORN_CONF, app]
    if _has_control_socket():  # gunicorn >= 27: one socket per server, not the shared ~/.gunicorn/gunicorn.ctl
        argv[1:1] = ["--control-socket", str(log_dir / f"{name}.ctl")]
    argv = pinned(argv, cpus)
    return Server(name, app, argv, server_env, port, log_dir / f"{name}.log", workers, UVICORN_STARTED)


def _has_control_socket() -> bool:
    from gunicorn.config import Config

    return "control_socket" in Config().settings


def uvicorn_server(name: str, app: str, env: Mapping[str, str], log_dir: Path, cpus: str | None = None) -> Server:
    """Plain uvicorn, one process (the raw endpoint of the load generator's ceiling)."""
    port = free_port()
    argv = pinned([venv_tool("uvicorn"), app, "--host", "127.0.0.1", "--port", str(port),
                   "--no-access-log", "--log-level", "warning"], cpus)
    return Server(name, app, argv, dict(env), port, log_dir / f"{name}.log")


def start_cli(args: Sequence[str], env: Mapping[str, str], log: Path, cpus: str | None) -> subprocess.Popen[bytes]:
    """``tmf680 ARGS`` in the background (pinned to ``cpus``), output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(pinned([venv_tool("tmf680"), *args], cpus), env=dict(env), cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def run_cli(args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
    """``tmf680 ARGS`` to completion; its output goes to ``log`` (shown on failure)."""
    with open(log, "ab") as out:
        done = subprocess.run([venv_tool("tmf680"), *args], env=dict(env), cwd=REPO, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tmf680 {' '.join(args)} failed ({done.returncode}):\n"
                           f"{log.read_text(errors='replace')[-3000:]}")
