"""Helpers of the robustness tier: real server processes on the session's mongod, and the checks every
case ends with (a TMF ``Error`` of the exact status; the service still healthy)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))  # the shared process helpers

from servers import terminate, tmf680, wait_for_port

from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A server process under test: its base URL, its process (gunicorn master or ``tmf680 serve``), its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    db_name: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(mongo_uri: str, db_name: str, **extra: str) -> dict[str, str]:
    """The environment of a server process: none of the caller's TMF680_/MONGODB_ settings, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env.update(PYTHONUNBUFFERED="1", MONGODB_URI=mongo_uri, TMF680_DB_NAME=db_name,
               TMF680_LOG_LEVEL="WARNING", TMF680_ACCESS_LOG_LEVEL="WARNING", TMF680_MODEL_REFRESH_S="0")
    env.update(extra)
    return env


def gunicorn_command() -> list[str]:
    """The README's production command."""
    return [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]


@contextmanager
def running(kind: str, tmp_path: Path, mongo_uri: str, db_name: str | None = None,
            **extra: str) -> Iterator[Server]:
    """A ``serve`` (uvicorn, one process) or ``gunicorn`` server on the real mongod; stopped (SIGTERM) on exit."""
    port = free_port()
    db_name = db_name or f"r_{uuid.uuid4().hex[:12]}"
    if kind == "gunicorn":
        cmd = gunicorn_command()
        extra = {"TMF680_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", **extra}
    else:
        cmd = [*tmf680(), "serve", "--port", str(port)]
    log = tmp_path / f"{kind}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=server_env(mongo_uri, db_name, **extra),
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log, db_name)
    try:
        wait_for_port(port, process, log=log)
        wait_until_serving(server.url)
        yield server
    finally:
        terminate(process)


def wait_until_serving(url: str, timeout: float = 60) -> None:
    """Until the API answers (the port can be open before the app is built)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not serve within {timeout} s")


def assert_healthy(url: str) -> None:
    """The service still lives and still stores: /health/live 200, a create then its retrieve."""
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/health/live").status_code == 200
        created = client.post(QPR, json={"name": "still healthy"})
        assert created.status_code == 201, created.text
        got = client.get(f"{QPR}/{created.json()['id']}")
        assert got.status_code == 200 and got.json()["name"] == "still healthy"


def assert_tmf_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The exact status and the TMF ``Error`` body of ``edge.errors.error_body``."""
    assert response.status_code == status, f"{response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == body["status"] == str(status)
    assert body["@type"] == "Error" and isinstance(body["reason"], str) and body["reason"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def worker_pids(master: int) -> set[int]:
    """The children of a gunicorn master (its workers). A master thread (gunicorn's control socket, a
    reload) can end between listing the threads and reading one: it has no children then."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        try:
            children.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return children


ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def _loopback(port: int) -> str:
    return f"0100007F:{port:04X}"


def _tcp_rows() -> Iterator[list[str]]:
    """The IPv4 TCP sockets: local address, remote address, state, ..., inode (fields 1, 2, 3, 9)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        yield line.split()


def _tcp_inode(local_port: int, remote_port: int) -> str | None:
    """The socket inode of the TCP connection 127.0.0.1:local_port ↔ 127.0.0.1:remote_port (server side)."""
    local, remote = _loopback(local_port), _loopback(remote_port)
    return next((fields[9] for fields in _tcp_rows() if fields[1] == local and fields[2] == remote), None)


def tcp_sockets(port: int, state: str) -> set[str]:
    """The inodes of the sockets on 127.0.0.1:``port`` in ``state`` (ESTABLISHED, LISTEN)."""
    local = _loopback(port)
    return {fields[9] for fields in _tcp_rows() if fields[1] == local and fields[3] == state}


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds open (empty if it is gone)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    out = set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def connections_of(port: int, pids: set[int]) -> dict[int, int]:
    """How many established client connections to 127.0.0.1:``port`` each of ``pids`` holds."""
    inodes = tcp_sockets(port, ESTABLISHED)
    return {pid: len(_socket_inodes(pid) & inodes) for pid in pids}


def serving_pid(url: str, candidates: set[int]) -> int | None:
    """Which of ``candidates`` answers a fresh connection: one request kept open while the server-side
    socket is looked up in each candidate's file descriptors."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
        if not sock.recv(65536).startswith(b"HTTP/1.1 200"):
            return None
        inode = _tcp_inode(int(port), sock.getsockname()[1])
        return next((pid for pid in candidates if inode in _socket_inodes(pid)), None)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy value of ``condition()``, polled every 50 ms; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


class Failure(NamedTuple):
    """A request that failed: when it ended, what happened, how long it took, which client thread sent it."""

    when: float
    detail: str
    taken: float
    client: int


@dataclass
class Load:
    """Client threads sending create-then-retrieve pairs without retries; failures are kept, not hidden."""

    url: str
    clients: int
    body: dict[str, Any] = field(default_factory=dict)  # more attributes of every create
    acknowledged: list[str] = field(default_factory=list)
    ok: int = 0
    failures: list[Failure] = field(default_factory=list)
    last_ok: float = 0.0
    ok_times: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def first_ok_after(self, moment: float) -> float:
        """When the first request answered after ``moment`` succeeded (inf: none did)."""
        with self._lock:
            return min((t for t in self.ok_times if t > moment), default=float("inf"))

    def _record(self, client: int, started: float, response: httpx.Response | None, error: str | None = None) -> bool:
        now = time.monotonic()
        with self._lock:
            if response is not None and response.status_code < 500:
                self.ok += 1
                self.last_ok = now
                self.ok_times.append(now)
                return True
            detail = error or f"{response.status_code if response is not None else '?'}"
            self.failures.append(Failure(now, detail, now - started, client))
            return False

    def _call(self, client: int, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = send()
        except httpx.TransportError as exc:
            self._record(client, started, None, f"{type(exc).__name__}: {exc}")
            return None
        return response if self._record(client, started, response) else None

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                created = self._call(n, lambda: client.post(QPR, json={"name": f"load {n}-{i}", **self.body}))  # noqa: B023
                if created is None:
                    continue
                assert created.status_code == 201, created.text
                with self._lock:
                    self.acknowledged.append(created.json()["id"])
                self._call(n, lambda: client.get(f"{QPR}/{created.json()['id']}"))  # noqa: B023
