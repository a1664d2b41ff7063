"""Group commit of received events: many requests in flight, a writer thread, one bulk write.

The event loop must not block on MongoDB, and a thread hand-off per event (``edge.wsgi_bridge``)
costs more than the event's own work. Requests put their event on a queue and await a future; a
writer thread gathers a batch (up to ``max_batch``), applies it with one call (``apply``:
``InboundEvents.receive_many``), and resolves the futures with one hop back to the loop. A request
is answered only once its event is stored: nothing acknowledged is lost.

A batch costs about five round trips whatever its size (1.5 ms of this process's CPU, against 0.07 ms
per event), so its size decides the cost of an event. The event loop hands events over one at a
time, a fraction of a millisecond apart, so a writer that took only what was queued wrote batches of
about five at 16 connections. A writer now gathers: after the first event it takes each next one
that follows within ``gap_s``, for at most ``linger_s`` in all, and one writer gathers while the
others write (``_gathering``). A lone event waits ``gap_s`` more; a burst is written together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Item = tuple[str, dict[str, Any]]  # (event type, event)
Apply = Callable[[Sequence[Item]], Sequence[Any]]  # one result per item: an outcome or an exception
_Pending = tuple[Item, asyncio.Future[Any], asyncio.AbstractEventLoop]
_STOP = None
GAP_S = 0.0006  # how long a writer waits for the next event of a batch
LINGER_S = 0.003  # how long at most it gathers one batch


class EventBatcher:
    def __init__(self, apply: Apply, max_batch: int = 256, writers: int = 2, gap_s: float = GAP_S,
                 linger_s: float = LINGER_S) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._writers = writers
        self._gap_s = gap_s
        self._linger_s = linger_s
        self._gathering = threading.Lock()  # one writer gathers the next batch while the others write
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def submit(self, event_type: str, event: dict[str, Any]) -> Any:
        """The event's result once it is applied (an exception of ``apply``'s is raised here)."""
        if self._closed:
            raise RuntimeError("the event batcher is closed")
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(((event_type, event), future, loop))
        result = await future
        if isinstance(result, BaseException):
            raise result
        return result

    def _start(self) -> None:
        if not self._threads:  # in the worker, on first use: never in the gunicorn master
            with self._lock:
                if not self._threads:
                    threads = [threading.Thread(target=self._run, name=f"event-writer-{k}", daemon=True)
                               for k in range(self._writers)]
                    for thread in threads:
                        thread.start()
                    self._threads = threads

    def _run(self) -> None:
        while True:
            with self._gathering:
                batch = self._gather()
            if batch is None:
                return
            self._write(batch)

    def _gather(self) -> list[_Pending] | None:
        """The next batch: the first event queued, then each that follows within ``gap_s``, for at
        most ``linger_s``, up to ``max_batch``; None when the writer is to stop."""
        first = self._queue.get()
        if first is _STOP:
            return None
        batch = [first]
        deadline = time.monotonic() + self._linger_s
        while len(batch) < self._max_batch:
            wait = min(self._gap_s, deadline - time.monotonic())
            try:
                more = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                self._queue.put(_STOP)  # finish this batch, then stop
                break
            batch.append(more)
        return batch

    def _write(self, batch: list[_Pending]) -> None:
        try:
            results: Sequence[Any] = self._apply([item for item, _, _ in batch])
        except Exception as exc:  # every waiting request gets the failure
            log.exception("applying %d events failed", len(batch))
            results = [exc] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for (_, future, loop), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, settled)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop taking events; those queued are still applied and answered."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)


def _settle(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        if not future.done():  # the client may have gone away (the request was cancelled)
            future.set_result(result)
