"""A gunicorn worker killed (SIGKILL) under load: the master replaces it, only the requests in flight on the
killed worker's connections fail, and every acknowledged (201) create is still there."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import QPR, connections_of, running, serving_pid, worker_pids

CLIENTS = 4  # client threads, one connection each: at most one request in flight per connection


@dataclass
class Load:
    """Client threads sending create-then-retrieve pairs without retries; failures are kept, not hidden."""

    url: str
    clients: int
    acknowledged: list[str] = field(default_factory=list)
    ok: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
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

    def _record(self, response: httpx.Response | None, error: str | None = None) -> bool:
        with self._lock:
            if response is not None and response.status_code < 500:
                self.ok += 1
                return True
            detail = error or f"{response.status_code if response is not None else '?'}"
            self.failures.append((time.monotonic(), detail))
            return False

    def _call(self, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        try:
            response = send()
        except httpx.TransportError as exc:
            self._record(None, f"{type(exc).__name__}: {exc}")
            return None
        return response if self._record(response) else None

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                created = self._call(lambda: client.post(QPR, json={"name": f"load {n}-{i}"}))  # noqa: B023
                if created is None:
                    continue
                assert created.status_code == 201, created.text
                with self._lock:
                    self.acknowledged.append(created.json()["id"])
                self._call(lambda: client.get(f"{QPR}/{created.json()['id']}"))  # noqa: B023


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(
    tmp_path: Path, mongo_uri: str, record_figures: Callable[[dict[str, Any]], None]
) -> None:
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="false") as server:
        master = server.process.pid
        workers = wait_for(lambda: len(worker_pids(master)) == 2 and worker_pids(master), 30, "two workers")
        load = Load(server.url, CLIENTS)
        load.start()
        try:
            wait_for(lambda: load.ok >= 100, 30, "load running")
            port = int(server.url.rsplit(":", 1)[1])
            held = wait_for(lambda: (c := connections_of(port, workers)) and max(c.values()) > 0 and c, 10,
                            "client connections on the workers")
            victim = max(held, key=lambda pid: held[pid])  # the worker holding the most client connections
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            replacement = wait_for(lambda: worker_pids(master) - workers, 30, "a replacement worker")
            replaced_s = time.monotonic() - killed_at
            wait_for(lambda: serving_pid(server.url, replacement) in replacement, 30, "the replacement serving")
            served_s = time.monotonic() - killed_at
            ok_at_serving = load.ok
            wait_for(lambda: load.ok >= ok_at_serving + 200, 60, "load continuing after the replacement")
        finally:
            load.stop()
        survivors = worker_pids(master)

        failures_after_kill = [f for f in load.failures if f[0] >= killed_at]
        assert len(load.failures) == len(failures_after_kill)  # nothing failed before the fault
        assert len(failures_after_kill) <= CLIENTS, failures_after_kill
        assert victim not in survivors and len(survivors) == 2 and replacement <= survivors

        with httpx.Client(base_url=server.url, timeout=30) as client:
            missing = [i for i in load.acknowledged if client.get(f"{QPR}/{i}").status_code != 200]
        assert missing == []  # no acknowledged create lost
        assert len(set(load.acknowledged)) == len(load.acknowledged)

    record_figures({
        "fault": "gunicorn worker SIGKILLed under load (2 workers, 4 client connections)",
        "client_connections_on_killed_worker": held[victim], "requests_ok": load.ok,
        "requests_failed": len(failures_after_kill),
        "failures": sorted({detail.split(":")[0] for _, detail in failures_after_kill}),
        "acknowledged_creates": len(load.acknowledged), "acknowledged_lost": len(missing),
        "replacement_forked_s": round(replaced_s, 2), "replacement_served_s": round(served_s, 2),
    })
