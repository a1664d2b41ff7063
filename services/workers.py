"""Background loops: tasks, outbox relay and deliveries, in threads of a server or `tmf680 worker`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


class Loop(threading.Thread):
    """Call ``step`` while it reports work done; when idle, wait ``idle_s`` (or until stopped)."""

    def __init__(self, name: str, step: Callable[[], object], idle_s: float, stop: threading.Event) -> None:
        super().__init__(name=f"tmf680-{name}", daemon=True)
        self._step = step
        self._idle_s = idle_s
        self._stop_event = stop
        self.errors = 0

    def run(self) -> None:
        failures = 0
        while not self._stop_event.is_set():
            try:
                worked = self._step()
                failures = 0
            except Exception as exc:
                failures += 1
                self.errors += 1
                log.warning("%s: %s (retrying)", self.name, exc)
                self._stop_event.wait(min(30.0, self._idle_s * 2**failures))
                continue
            if not worked:
                self._stop_event.wait(self._idle_s)


class BackgroundWorkers:
    def __init__(self, steps: Sequence[tuple[str, Callable[[], object]]], idle_s: float,
                 on_stop: Callable[[], None] | None = None) -> None:
        self._stop = threading.Event()
        self._loops = [Loop(name, step, idle_s, self._stop) for name, step in steps]
        self._on_stop = on_stop
        self.started = False

    def start(self) -> None:
        if not self.started:
            for loop in self._loops:
                loop.start()
            self.started = True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop taking new work and wait for the current step of every loop to finish."""
        self._stop.set()
        for loop in self._loops:
            if loop.is_alive():
                loop.join(timeout_s)
        if self._on_stop:
            self._on_stop()

    def wait(self) -> None:
        self._stop.wait()
