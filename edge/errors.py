"""The HTTP edge of errors: every failure leaves as a TMF ``Error`` body with ``application/json``.

Three places can fail and each is covered here:
- Connexion's middleware (routing, media type, request validation) raises ``ProblemException``
  or Starlette ``HTTPException``: handled by ``add_error_handler`` on the Connexion app;
- Flask (unknown path, method not allowed) raises Werkzeug ``HTTPException``;
- the services raise ``DomainError`` subclasses; anything else is a 500 without internals.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import flask
import werkzeug.exceptions
from connexion import FlaskApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import (
    Conflict,
    DomainError,
    InvalidRequest,
    NotFound,
    StoreUnavailable,
    UnknownReference,
)

log = logging.getLogger(__name__)
JSON = "application/json"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})

_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (UnknownReference, 400),
    (InvalidRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (StoreUnavailable, 503),
)


class RequestRejected(Exception):
    """Raised by the edge middleware before a request reaches Connexion (size, encoding,
    authentication). ``headers`` (``WWW-Authenticate``) go out with the TMF Error."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, str]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {
        "code": str(status),
        "reason": reason or phrase,
        "message": message or phrase,
        "status": str(status),
        "@type": "Error",
    }


def error_bytes(status: int, message: str, reason: str | None = None) -> bytes:
    return json.dumps(error_body(status, message, reason)).encode()


def _headers(extra: Mapping[str, str] | None, status: int) -> dict[str, str]:
    headers = {"Content-Type": JSON}
    if status == 503:
        headers["Retry-After"] = "1"
    if extra:
        for key, value in extra.items():
            if key.lower() in {"allow", "retry-after", "www-authenticate"}:
                headers[key] = value
    return headers


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and client message for an exception (500 hides the details)."""
    if isinstance(exc, DomainError):
        for kind, status in _DOMAIN_STATUS:
            if isinstance(exc, kind):
                return status, exc.message
    if isinstance(exc, RequestRejected):
        return exc.status, exc.message
    if isinstance(exc, ProblemException):
        if isinstance(exc.__context__, json.JSONDecodeError):
            return 400, f"the request body is not valid JSON: {exc.__context__}"
        # jsonschema's message first paragraph; the schema dump after it helps nobody
        return exc.status, str(exc.detail or exc.title or "").split("\n\nFailed validating", 1)[0]
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail or "")
    if isinstance(exc, werkzeug.exceptions.HTTPException):
        return exc.code or 500, exc.description or ""
    if isinstance(exc, RecursionError):
        return 400, "the request body is nested too deeply"
    return 500, "the server could not complete the request; it has been logged"


def _log(status: int, exc: BaseException) -> None:
    if status >= 500:
        log.error("request failed with %s: %r", status, exc, exc_info=status == 500)
    else:
        log.info("request rejected with %s: %s", status, exc)


def _message(status: int, message: str, exc: BaseException) -> str:
    if status == 404 and isinstance(exc, (werkzeug.exceptions.NotFound, StarletteHTTPException)):
        return "no resource or operation at this path"
    if status == 405:
        return "this method is not defined for this resource"
    return message


AllowedMethods = tuple[tuple[re.Pattern[str], str], ...]


def allowed_methods(document: Mapping[str, Any], mounts: tuple[str, ...]) -> AllowedMethods:
    """(path pattern, "GET, POST") for every path of every mount, as the document declares them:
    a 405's ``Allow`` names every method of the path, not only those of the route that matched."""
    out = []
    for template, item in document.get("paths", {}).items():
        methods = ", ".join(sorted(m.upper() for m in item if m in _METHODS))
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        for mount in mounts:
            out.append((re.compile("^" + re.escape(mount.rstrip("/")) + pattern + "/?$"), methods))
    return tuple(out)


def _allow(path: str, allowed: AllowedMethods) -> dict[str, str]:
    for pattern, methods in allowed:
        if pattern.match(path):
            return {"Allow": methods}
    return {}


def connexion_error_handler(
    request: ConnexionRequest, exc: Exception, allowed: AllowedMethods = ()
) -> ConnexionResponse:
    status, message = status_of(exc)
    _log(status, exc)
    extra = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        extra.update(_allow(request.url.path, allowed))
    return ConnexionResponse(
        status_code=status,
        mimetype=JSON,
        body=error_bytes(status, _message(status, message, exc)),
        headers=_headers(extra, status),
    )


def flask_error_handler(exc: Exception, allowed: AllowedMethods = ()) -> flask.Response:
    status, message = status_of(exc)
    _log(status, exc)
    extra: dict[str, str] = {}
    if status == 405:
        extra = _allow(flask.request.path, allowed)
        if not extra and isinstance(exc, werkzeug.exceptions.MethodNotAllowed) and exc.valid_methods:
            extra["Allow"] = ", ".join(sorted(set(exc.valid_methods)))
    return flask.Response(
        error_bytes(status, _message(status, message, exc)),
        status=status,
        headers=_headers(extra, status),
        mimetype=JSON,
    )


def install(app: FlaskApp, allowed: AllowedMethods = ()) -> None:
    """Register the TMF error handlers on the Connexion app and its Flask app."""
    on_connexion = functools.partial(connexion_error_handler, allowed=allowed)
    for kind in (ProblemException, StarletteHTTPException, DomainError, RequestRejected, Exception):
        app.add_error_handler(kind, on_connexion)
    on_flask = functools.partial(flask_error_handler, allowed=allowed)
    flask_app: Any = app.app
    for kind in (werkzeug.exceptions.HTTPException, DomainError, Exception):
        flask_app.register_error_handler(kind, on_flask)
