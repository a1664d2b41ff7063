"""ASGI middleware at the edge: request body size and encoding, checked before Connexion parses."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import RequestRejected

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base in {"", "application/json"} or base.endswith("+json")


class BodyGuard:
    """Reject bodies over ``max_bytes`` (413), bodies without a Content-Type (415), JSON bodies that
    are not UTF-8 (400) and paths with a line feed (404).

    Connexion would otherwise read any size into memory and answer undecodable bytes with a 500
    (connexion issue 1860). The body is read once here and replayed to the next app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\n" in scope.get("path", ""):
            # Connexion's router never matches a path with a line feed but Flask's does, and the
            # operation would then run without Connexion's context (a 500).
            raise RequestRejected(404, "no resource or operation at this path")
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise RequestRejected(413, f"the request body is larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise RequestRejected(413, f"the request body is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and not headers.get("content-type", "").strip():
            # Connexion would validate it as JSON but hand the handler raw bytes (a 500)
            raise RequestRejected(415, "a request body needs a Content-Type: application/json")
        if body and _is_json(headers.get("content-type", "")):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RequestRejected(
                    400, f"the request body is not valid UTF-8 (byte {exc.start})"
                ) from exc
        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then what ``receive`` gives (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
