"""Group commit of received events: many requests in flight, a writer thread, one bulk write.

The event loop must not block on MongoDB, and a thread hand-off per event (``edge.wsgi_bridge``)
costs more than the event's own work. Requests put their event on a queue and await a future; one of
a few writer threads takes everything queued (up to ``max_batch``), applies it with one call
(``apply``: ``InboundEvents.receive_many``), and resolves the futures with one hop back to the loop.
Under load batches grow by themselves (what arrives during one write is the next batch); alone, an
event is a batch of one. Two writers keep mongod busy while one waits on a round trip (more make
batches smaller: more round trips per event). A request is answered only once its event is stored:
nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Item = tuple[str, dict[str, Any]]  # (event type, event)
Apply = Callable[[Sequence[Item]], Sequence[Any]]  # one result per item: an outcome or an exception
_Pending = tuple[Item, asyncio.Future[Any], asyncio.AbstractEventLoop]
_STOP = None


class EventBatcher:
    def __init__(self, apply: Apply, max_batch: int = 256, writers: int = 2) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._writers = writers
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
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(_STOP)  # finish this batch, then stop
                    break
                batch.append(more)
            self._write(batch)

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
