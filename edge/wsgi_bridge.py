"""The hand-off from Connexion's ASGI middleware to the Flask (WSGI) application: one per request.

Connexion 3 runs Flask through a2wsgi, which crosses between the event loop and the worker thread
for every message: each read of the body, the response start, each body chunk and the final empty
chunk are separate ``run_coroutine_threadsafe(...).result()`` round trips, each a wake-up of the
loop while the thread waits. Here the body (already read and size-checked by the edge middleware)
goes in with the environ, the thread runs Flask to completion and the response comes back in one
piece: one hand-off per request. Responses are buffered, which suits this API (JSON documents and
the docs page's static files of a few MB at most).

Errors raised by Flask (Connexion sets PROPAGATE_EXCEPTIONS) re-raise on the loop, where
Connexion's exception middleware turns them into responses, as with a2wsgi.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from a2wsgi.wsgi import build_environ
from starlette.types import Receive, Scope, Send

WSGIApp = Any
Response = tuple[int, list[tuple[bytes, bytes]], bytes]


class WSGIBridge:
    """ASGI → WSGI with one thread hand-off per request, on a bounded thread pool."""

    def __init__(self, app: WSGIApp, threads: int = 10) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        body = await _read_body(receive)
        environ = cast(dict[str, Any], build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.executor, context.run, self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

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
        self.executor.shutdown(wait=True)


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

