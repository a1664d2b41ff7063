"""The hand-off from Connexion's ASGI middleware to the Flask (WSGI) application: one per request.

Connexion 3 runs Flask through a2wsgi, which crosses between the event loop and the worker thread
for every message: each read of the body, the response start, each body chunk and the final empty
chunk are separate ``run_coroutine_threadsafe(...).result()`` round trips, each a wake-up of the
loop while the thread waits. Here the body (already read and size-checked by the edge middleware)
goes in with the environ, the thread runs Flask to completion and the response comes back in one
piece: one hand-off per request. Responses are buffered, which suits this API (JSON documents and
the docs page's static files of a few MB at most).

The hand-off itself is a queue and a callback: the loop puts the request on a ``queue.SimpleQueue``
that the bridge's threads take from, and the thread that ran it hands the result back with one
``loop.call_soon_threadsafe``. ``loop.run_in_executor`` costs more on the loop, which every request
queues for twice (the way in and the way back; issue 14, tail latency): a ``concurrent.futures.Future``
with its ``threading.Condition``, the executor's idle semaphore and ``asyncio.wrap_future``'s chained
callbacks, about 15 us of the loop's CPU per request against 1-2 us here, and several more switches of
the GIL between the loop and the threads.

Errors raised by Flask (Connexion sets PROPAGATE_EXCEPTIONS) re-raise on the loop, where
Connexion's exception middleware turns them into responses, as with a2wsgi.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import queue
import threading
from typing import Any, cast

from a2wsgi.wsgi import build_environ
from starlette.types import Receive, Scope, Send

WSGIApp = Any
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Response], contextvars.Context, dict[str, Any]]


class WSGIBridge:
    """ASGI → WSGI with one thread hand-off per request, on at most ``threads`` threads, started as
    requests need them (as ``ThreadPoolExecutor`` does)."""

    def __init__(self, app: WSGIApp, threads: int = 10) -> None:
        self.app = app
        self.max_threads = threads
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle: list[None] = []  # one entry per thread free for a job not yet queued (append/pop are atomic)
        self._closed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        body = await _read_body(receive)
        environ = cast(dict[str, Any], build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
        status, headers, content = await self.run(environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def run(self, environ: dict[str, Any]) -> asyncio.Future[Response]:
        """Run the WSGI app on one of the threads, in a copy of the caller's context."""
        if self._closed:
            raise RuntimeError("the WSGI bridge is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        try:
            self._idle.pop()  # a waiting thread will take it
        except IndexError:
            if len(self._threads) < self.max_threads:
                thread = threading.Thread(target=self._serve, name=f"wsgi_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put((loop, future, contextvars.copy_context(), environ))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, context, environ = job
            if not future.cancelled():  # as an executor drops a cancelled job that has not started
                try:
                    outcome: Response | BaseException = context.run(self._run, environ)
                except BaseException as exc:  # re-raised on the loop, as with the executor
                    outcome = exc
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for the answer
                    loop.call_soon_threadsafe(_settle, future, outcome)
                del outcome
            self._idle.append(None)
            del job, future, context, environ

    def _run(self, environ: dict[str, Any]) -> Response:
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            for chunk in iterable:
                if chunk:
                    chunks.append(chunk)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        status, headers = started
        encoded = [(name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")) for name, value in headers]
        return int(status.split(" ", 1)[0]), encoded, b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            self.close()
            await send({"type": "lifespan.shutdown.complete"})

    def close(self) -> None:
        """Let requests already handed to Flask finish, then stop the threads."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads.clear()


def _settle(future: asyncio.Future[Response], outcome: Response | BaseException) -> None:
    """On the loop: the thread's answer into the future the request awaits (unless it was cancelled)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        if isinstance(outcome, StopIteration):  # a future cannot hold one
            outcome = RuntimeError(f"the WSGI app raised {outcome!r}")
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def install(app: Any, threads: int = 10) -> WSGIBridge:
    """Put the bridge in place of a2wsgi under a Connexion ``FlaskApp`` (``edge.middleware.app`` is
    its ``FlaskASGIApp``, whose ``asgi_app`` attribute is the hand-off)."""
    flask_asgi = app.middleware.app
    bridge = WSGIBridge(flask_asgi.app.wsgi_app, threads=threads)
    flask_asgi.asgi_app = bridge
    return bridge

