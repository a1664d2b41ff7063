"""The fast path of the listener POSTs: a hub's events answered without Connexion's stack.

A hub may POST thousands of TMF620/TMF637/TMF622 events a second. Through Connexion each one costs
its router, its validation middleware, the thread hand-off to Flask and a write of its own. This
middleware sits inside the access log, the authentication and ``BodyGuard`` (their checks still
apply) and right before Connexion's routing. It takes a POST whose path is a listener operation of
a mounted document (``<base>/listener/<event>`` or the callback base ``<base>/listener``), with a
JSON body that is valid for that event's schema, and answers it itself:

- the routes and the schemas are those of the same normalised documents Connexion mounts
  (``listener_events``, ``EventSchemas``), so routing and validation still come from the document;
- the event goes to the ``EventBatcher``: events in flight share one bulk write, and the 201 (the
  handler's body, ``edge.event_callback.acknowledgement``) leaves
  only once the event is stored; a ``DomainError`` becomes the same TMF Error as from the handler.

Everything else, an invalid event included, goes on to Connexion unchanged, which answers it as
it answers any operation: the errors stay those of the one validation path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from edge import json_codec
from edge.event_batcher import EventBatcher
from edge.event_callback import EventSchemas, acknowledgement
from edge.middleware import replay
from edge.request_log import SCOPE_KEY, RequestInfo
from edge.spec.loader import EVENT_CALLBACK_OPERATION, EVENT_CALLBACK_PATH
from edge.validation import NonFiniteNumber, loads_strict

_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Route:
    """One listener operation: its event type (None at the callback base: the body's ``eventType``)."""

    mount: str
    operation_id: str
    event_type: str | None
    schemas: EventSchemas


def routes(apis: Iterable[tuple[EventSchemas, str]]) -> dict[str, Route]:
    """path → route, for each (mounted listener document's ``EventSchemas``, mount)."""
    table: dict[str, Route] = {}
    for schemas, mount in apis:
        prefix = mount.rstrip("/")
        for event_type, (path, operation_id) in schemas.events.items():
            table[prefix + path] = Route(prefix, operation_id, event_type, schemas)
        if schemas.callback_base:
            table[prefix + EVENT_CALLBACK_PATH] = Route(prefix, EVENT_CALLBACK_OPERATION, None, schemas)
    return table


class EventIntake:
    def __init__(self, app: ASGIApp, routes: Mapping[str, Route], batcher: EventBatcher) -> None:
        self.app = app
        self.routes = routes
        self.batcher = batcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if route is None or not _json_body(scope):
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        if body is None:  # the client went away
            return
        event = _event(body)
        event_type = route.event_type or (event.get("eventType") if isinstance(event, dict) else None)
        if (not isinstance(event, dict) or not isinstance(event_type, str) or event_type not in route.schemas.events
                or not route.schemas.is_valid(event_type, event)):
            await self.app(scope, replay(body, receive), send)  # Connexion answers it, as any invalid request
            return
        info = scope.get(SCOPE_KEY)
        if isinstance(info, RequestInfo):  # what Connexion's routing would have noted for the access log
            info.routed, info.operation_id, info.mount = True, route.operation_id, route.mount
        await self.batcher.submit(event_type, event)  # a DomainError: Connexion's error handler answers it
        answer = json_codec.dumps(acknowledgement(event, callback_url(scope))).encode()
        await send({"type": "http.response.start", "status": 201,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


def callback_url(scope: Scope) -> str:
    """The URL the event was POSTed to, without its query, as Starlette's ``URL`` makes it (the Host
    header if it is a valid authority, else the server's address)."""
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    server = scope.get("server")
    return _url(scope.get("scheme", "http"), None if server is None else tuple(server), host, scope["path"])


@functools.lru_cache(maxsize=256)
def _url(scheme: str, server: tuple[str, int] | None, host: bytes | None, path: str) -> str:
    """A hub POSTs to a few URLs, over and over: each is made once (``URL`` validates the Host header
    and splits the URL: a fifth of the intake's time in a profile of 700 events/s)."""
    scope = {"type": "http", "scheme": scheme, "server": server, "path": path, "query_string": b"",
             "headers": [] if host is None else [(b"host", host)]}
    return str(URL(scope=scope))


def _json_body(scope: Scope) -> bool:
    """A JSON body in UTF-8 (the media type the listener operations consume)."""
    for key, value in scope["headers"]:
        if key == b"content-type":
            media, _, params = value.decode("latin-1").partition(";")
            charset = params.strip().lower().replace(" ", "")
            return media.strip().lower() == "application/json" and charset in ("", "charset=utf-8")
    return False


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _event(body: bytes) -> Any:
    """The parsed body, parsed as Connexion's validation parses it; None when it is not JSON."""
    try:
        return json_codec.loads(body, loads_strict)
    except (NonFiniteNumber, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None

