"""Request observation at the ASGI edge, and one structured access line per request.

Two small ASGI middlewares share one ``RequestInfo`` per request, so a request is timed once and
every observer (the access log here, the Prometheus metrics in ``edge.metrics``) sees the same
numbers:

- ``ObserveRequests`` is the outermost middleware Connexion lets us add (``BEFORE_EXCEPTION``:
  only Starlette's ``ServerErrorMiddleware`` is outside it). It starts the clock, assigns the
  request id, echoes it as ``X-Request-ID``, sees the *final* status (errors raised by routing,
  validation, ``BodyGuard`` and the handlers have already been turned into responses by
  Connexion's ``ExceptionMiddleware`` inside it; an exception that escapes it counts as 500) and,
  when the request is over, hands the ``RequestInfo`` to the observers.
- ``NoteOperation`` sits right after Connexion's routing (``BEFORE_VALIDATION``) and copies the
  matched operationId, the API mount and the ``id`` path parameter into the ``RequestInfo``
  (reached through the scope: Connexion's router passes a shallow copy of it on). A request
  rejected before routing (413 and bad encoding from ``BodyGuard``) is matched against the same
  path templates by ``RouteTable``, so it is still counted under its operation.

The access line is a JSON object on the ``tmf680.access`` logger with ``ts``, ``level``,
``method``, ``path`` (the mount and path template, e.g. ``.../queryProductRecommendation/{id}``),
``raw_path`` (the request path without query string, at most 256 characters; resource ids are
not secrets), ``operation``, ``status``, ``duration_ms``, ``request_id``, ``correlationId``
(when known) and ``client``. The query string, headers (``Authorization`` among them) and bodies
are never logged.

``correlationId`` is the resource's id, as events carry it: an incoming ``X-Correlation-ID``
header if it is a sane token; else, in every mounted API, for an operation on one resource
(``GET``, ``PATCH``, ``DELETE /<resource>/{id}``: ``retrieveQueryProductRecommendation``,
``retrievePartyRole``, ...) the ``{id}`` of the path, and for a create (``POST /<resource>``)
answered 201 the last segment of its ``Location`` header (the new resource's id) — no body is read
or parsed for it. Which operations these are is read from each document's paths. Hub
subscriptions are no resource an event names (no correlationId); the listener operations carry a
correlationId inside their body, which is not logged.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from connexion.middleware import MiddlewarePosition
from connexion.middleware.abstract import ROUTING_CONTEXT
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.api_root import OPERATION as API_ROOT
from edge.api_root import root_paths

log = logging.getLogger(__name__)
access_log = logging.getLogger("tmf680.access")

SCOPE_KEY = "tmf680.request"
EXTENSION = "tmf680.observe"
REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_HEADER = "X-Correlation-ID"
UNMATCHED = "unmatched"
CLIENT_CLOSED = 499  # the client went away before any response was started (nginx's convention)
UNCORRELATED = frozenset({"hub", "listener"})  # first path segments whose ids are no resource's
MAX_RAW_PATH = 256
_TOKEN = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
QUIET_OPERATIONS = frozenset({"metrics", "health_live", "health_ready"})
FIELDS = "tmf680_fields"  # LogRecord attribute holding the access line's fields

# The current request's id, for every log record written while the request is served (a2wsgi
# copies the context into the thread that runs the Flask handler).
REQUEST_ID: ContextVar[str | None] = ContextVar("tmf680_request_id", default=None)


def sane_token(value: str | None) -> str | None:
    """``value`` if it is a short token safe to log and echo (≤ 128 of ``A-Za-z0-9._:+/=-``)."""
    return value if value and _TOKEN.fullmatch(value) else None


@dataclass
class RequestInfo:
    """What the edge learns about one request. Filled by the middlewares, read by the observers."""

    method: str
    raw_path: str
    request_id: str
    started: float
    client: str | None = None
    correlation_header: str | None = None
    status: int | None = None
    duration_s: float = 0.0
    routed: bool = False  # Connexion's router ran (operation_id None then means: no operation)
    operation_id: str | None = None
    mount: str = ""
    path_id: str | None = None
    location: str | None = None
    # resolved when the request is over
    operation: str = UNMATCHED  # the metric label: an operationId, a static route's name, or "unmatched"
    path: str | None = None  # the path template (mount included)
    correlation_id: str | None = None


Observer = Callable[[RequestInfo], None]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    operation_id: str
    mount: str


class RouteTable:
    """operationId ↔ path template, per mount, from the OpenAPI document the API is served from."""

    def __init__(self, document: Mapping[str, Any], mounts: Iterable[str]) -> None:
        self.templates: dict[str, str] = {}
        self.creates: set[str] = set()  # POST /<resource>: the new resource's id is in its Location
        self.by_id: set[str] = set()  # GET, PATCH, DELETE /<resource>/{id}: the path names the resource
        self._routes: tuple[_Route, ...] = ()
        self.add(document, mounts)

    def add(self, document: Mapping[str, Any], mounts: Iterable[str]) -> None:
        """The operations of another mounted document."""
        mounts = tuple(mounts)
        routes: list[_Route] = list(self._routes)
        for template, item in document.get("paths", {}).items():
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            for method, operation in item.items():
                if method not in _HTTP_METHODS or not isinstance(operation, dict):
                    continue
                operation_id = operation.get("operationId")
                if not operation_id:
                    continue
                self.templates[operation_id] = template
                self._note_correlation(operation_id, method, template)
                for mount in mounts:
                    regex = re.compile("^" + re.escape(mount.rstrip("/")) + pattern + "$")
                    routes.append(_Route(method.upper(), regex, operation_id, mount.rstrip("/")))
                    if method == "get":
                        routes.append(_Route("HEAD", regex, operation_id, mount.rstrip("/")))
        self._routes = tuple(routes)

    def _note_correlation(self, operation_id: str, method: str, template: str) -> None:
        segments = template.strip("/").split("/")
        if segments[0] in UNCORRELATED:
            return
        if method == "post" and len(segments) == 1:
            self.creates.add(operation_id)
        elif method in {"get", "patch", "delete"} and segments[1:] == ["{id}"]:
            self.by_id.add(operation_id)

    def match(self, method: str, path: str) -> tuple[str, str] | None:
        """(operationId, mount) of the operation ``method path`` addresses, or None."""
        for route in self._routes:
            if route.method == method and route.pattern.match(path):
                return route.operation_id, route.mount
        return None


class Observation:
    """The observers and static routes of one application (one per app, in its Flask extensions)."""

    def __init__(self, routes: RouteTable) -> None:
        self.routes = routes
        self.static_routes: dict[str, str] = {}  # exact path → operation label ("openapi", "metrics", "docs")
        self.static_prefixes: list[tuple[str, str, str]] = []  # (path prefix, label, path template)
        self.observers: list[Observer] = []
        self.on_start: list[Callable[[], None]] = []
        self.on_stop: list[Callable[[], None]] = []
        self.installed: set[str] = set()

    def add_api(self, document: Mapping[str, Any], mounts: Iterable[str]) -> None:
        """Another document mounted beside the first (the listeners of TMF620/TMF637/TMF622)."""
        mounts = tuple(mounts)
        self.routes.add(document, mounts)
        for mount in mounts:
            self.static_routes[f"{mount.rstrip('/')}/openapi.json"] = "openapi"

    def add_pages(self, mounts: Iterable[str]) -> None:
        """The pages a whole API's mounts serve besides its operations: the root (``edge.api_root``)
        and the docs page (``edge.docs_page``: ``<mount>/docs``, ``docs/`` and ``docs/static/<name>``)."""
        for mount in mounts:
            prefix = mount.rstrip("/")
            self.static_routes.update(dict.fromkeys(root_paths(mount), API_ROOT))
            self.static_routes[f"{prefix}/docs"] = "docs"
            self.static_routes[f"{prefix}/docs/"] = "docs"
            self.static_prefixes.append((f"{prefix}/docs/static/", "docs", f"{prefix}/docs/static/{{name}}"))

    def resolve(self, info: RequestInfo) -> None:
        """Set ``operation``, ``path`` and ``correlation_id`` from what the middlewares saw."""
        operation_id, mount = info.operation_id, info.mount
        if not info.routed:  # rejected before Connexion's router ran: match the templates here
            found = self.routes.match(info.method, info.raw_path)
            if found:
                operation_id, mount = found
        if operation_id and operation_id in self.routes.templates:
            info.operation = operation_id
            info.path = mount.rstrip("/") + self.routes.templates[operation_id]
        elif info.raw_path in self.static_routes:
            info.operation = self.static_routes[info.raw_path]
            info.path = info.raw_path
        else:
            info.operation, info.path = UNMATCHED, None
            for prefix, label, template in self.static_prefixes:
                if info.raw_path.startswith(prefix):
                    info.operation, info.path = label, template
                    break
        info.correlation_id = info.correlation_header
        if info.correlation_id is None and info.routed:
            if info.operation in self.routes.by_id:
                info.correlation_id = sane_token(info.path_id)
            elif info.operation in self.routes.creates and info.status == 201 and info.location:
                info.correlation_id = sane_token(info.location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])

    def finish(self, info: RequestInfo) -> None:
        self.resolve(info)
        for observer in self.observers:
            try:
                observer(info)
            except Exception:  # observing must never fail a request
                log.exception("request observer %r failed", observer)

    def started(self) -> None:
        for hook in self.on_start:
            hook()

    def stopped(self) -> None:
        for hook in self.on_stop:
            try:
                hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class ObserveRequests:
    """Outermost edge middleware: timing, request id, final status; then the observers."""

    def __init__(self, app: ASGIApp, observation: Observation) -> None:
        self.app = app
        self.observation = observation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        info = RequestInfo(
            method=str(scope.get("method", "")).upper()[:16],
            raw_path=str(scope.get("path", ""))[:MAX_RAW_PATH],
            request_id=sane_token(_header(scope, b"x-request-id")) or uuid.uuid4().hex,
            started=time.perf_counter(),
            client=str(client[0]) if client else None,
            correlation_header=sane_token(_header(scope, b"x-correlation-id")),
        )
        echoed = (b"x-request-id", info.request_id.encode("ascii"))

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                info.status = int(message["status"])
                headers = []
                for key, value in message.get("headers", ()):
                    lowered = key.lower()
                    if lowered == b"x-request-id":
                        continue
                    if lowered == b"location":
                        info.location = value.decode("latin-1")
                    headers.append((key, value))
                headers.append(echoed)
                message = {**message, "headers": headers}
            await send(message)

        token = REQUEST_ID.set(info.request_id)
        try:
            await self.app({**scope, SCOPE_KEY: info}, receive, send_observed)
        except BaseException:
            if info.status is None:
                info.status = 500  # ServerErrorMiddleware answers it
            raise
        finally:
            info.duration_s = time.perf_counter() - info.started
            if info.status is None:
                info.status = CLIENT_CLOSED
            REQUEST_ID.reset(token)
            self.observation.finish(info)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_observed(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.observation.started()
            elif message["type"] == "lifespan.shutdown.complete":
                self.observation.stopped()  # after the app's own shutdown (workers stopped)
            await send(message)

        await self.app(scope, receive, send_observed)


class NoteOperation:
    """Right after Connexion's routing: note the operationId, mount and ``{id}`` for the edge."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = scope.get(SCOPE_KEY)
        if scope["type"] == "http" and isinstance(info, RequestInfo):
            routing = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
            info.routed = True
            info.operation_id = routing.get("operation_id")
            info.mount = str(routing.get("api_base_path") or "")
            path_id = scope.get("path_params", {}).get("id")
            info.path_id = str(path_id) if path_id is not None else None
        await self.app(scope, receive, send)


def observation(app: Any, document: Mapping[str, Any], mounts: Iterable[str]) -> Observation:
    """The app's ``Observation``; the first call adds the two middlewares (before the app starts)."""
    extensions = app.app.extensions
    existing = extensions.get(EXTENSION)
    if isinstance(existing, Observation):
        return existing
    mounts = tuple(mounts)
    found = Observation(RouteTable(document, mounts))
    found.static_routes.update({"/health/live": "health_live", "/health/ready": "health_ready"})  # edge.health
    for mount in mounts:
        found.static_routes[f"{mount.rstrip('/')}/openapi.json"] = "openapi"
    found.add_pages(mounts)
    app.add_middleware(ObserveRequests, position=MiddlewarePosition.BEFORE_EXCEPTION, observation=found)
    app.add_middleware(NoteOperation, position=MiddlewarePosition.BEFORE_VALIDATION)
    extensions[EXTENSION] = found
    return found


def access_fields(info: RequestInfo) -> dict[str, Any]:
    """The access line's fields (besides ``ts``, ``level`` and ``logger``, added by the formatter)."""
    fields: dict[str, Any] = {
        "method": info.method,
        "path": info.path,
        "raw_path": info.raw_path,
        "operation": info.operation,
        "status": info.status,
        "duration_ms": round(info.duration_s * 1000, 3),
        "request_id": info.request_id,
    }
    if info.correlation_id:
        fields["correlationId"] = info.correlation_id
    if info.client:
        fields["client"] = info.client
    return fields


def access_level(info: RequestInfo) -> int:
    """ERROR for 5xx; DEBUG for the scrapes and probes that arrive every few seconds (WARNING when
    they fail); INFO otherwise."""
    failed = info.status is not None and info.status >= 500
    if info.operation in QUIET_OPERATIONS:
        return logging.WARNING if failed else logging.DEBUG
    return logging.ERROR if failed else logging.INFO


def log_access(info: RequestInfo) -> None:
    level = access_level(info)
    if access_log.isEnabledFor(level):
        fields = access_fields(info)
        # The message is the JSON only for a text formatter; the JSON formatter reads the fields.
        access_log.log(level, "%s", _Json(fields), extra={FIELDS: fields})


def install_request_log(app: Any, settings: Any, document: Mapping[str, Any] | None = None) -> Observation:
    """Write one access line per request. ``settings``: ``mount_paths`` and optional
    ``access_log_level``. Call before the app serves its first request; a second call does nothing."""
    if document is None:
        from edge.spec.loader import official_document

        document = official_document()
    found = observation(app, document, settings.mount_paths)
    if "access_log" not in found.installed:
        found.observers.append(log_access)
        found.installed.add("access_log")
    level = getattr(settings, "access_log_level", None)
    if level:
        access_log.setLevel(str(level).upper())
    return found


# --- logging configuration ------------------------------------------------------------------------

def _dumps(fields: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(fields, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), default=str)


class _Json:
    """Serialised only if a formatter asks for the message (the text format)."""

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return _dumps(self.fields)


def _timestamp(record: logging.LogRecord) -> str:
    seconds = int(record.created)
    return f"{_second(seconds)}.{int((record.created - seconds) * 1000):03d}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, then the access fields, or
    ``message`` (plus ``request_id`` inside a request and ``exc_info`` for exceptions)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name}
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
            request_id = REQUEST_ID.get()
            if request_id:
                line["request_id"] = request_id
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _dumps(line)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (test runners swap it)."""

    _tmf680 = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return


def configure_logging(level: str = "INFO", fmt: str = "json") -> logging.Handler:
    """Log to stderr from the root logger at ``level``, as JSON lines (``fmt == "json"``) or text.

    Idempotent: the handler a previous call installed is replaced, and so is a plain stderr
    ``StreamHandler`` as ``logging.basicConfig`` installs it (no line is written twice); other
    handlers (files, test capture) are left alone.
    """
    if fmt not in {"json", "text"}:
        raise ValueError(f"log format must be json or text, got {fmt!r}")
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        stderr_default = type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.__stderr__)
        if getattr(handler, "_tmf680", False) or stderr_default:
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    return handler

