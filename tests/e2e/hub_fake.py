"""Fake TMF620 / TMF637 / TMF622 servers for subscription and event tests: each API's TMF630 hub
(``POST <root>/hub``, ``DELETE <root>/hub/{id}``, and, when ``lists_hub``, the ``GET <root>/hub`` many hubs
offer beside the documents' two operations), TMF620's ``category`` and ``productOffering``
lists (offset/limit), and ``publish`` to POST an event to every callback registered for it, as a
real hub does. One HTTP server on 127.0.0.1 serves the three API roots.

Shared by the subscription tests (the hub side) and the listener tests (the event side)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from local_http import LocalHTTPServer

ROOTS = {
    "tmf620": "/tmf-api/productCatalogManagement/v4",
    "tmf637": "/tmf-api/productInventory/v4",
    "tmf622": "/tmf-api/productOrderingManagement/v4",
}


def event_types(query: str | None) -> set[str] | None:
    """The event types of a TMF630 ``eventType=A,B`` query (None: every event)."""
    if not query:
        return None
    types: set[str] = set()
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name.strip() == "eventType":
            types.update(v.strip() for v in unquote(value).split(",") if v.strip())
    return types


class FakeTmfApis:
    def __init__(self, port: int = 0) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}  # id → {api, callback, query}
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, JSON body)
        self.categories: list[dict[str, Any]] = []
        self.offerings: list[dict[str, Any]] = []
        self.fail_hub_posts = 0  # answer this many next POST /hub with 503
        self.lose_hub_answers = 0  # carry out this many next POST /hub, then close without answering
        self.lists_hub = False  # GET <root>/hub lists the subscriptions (a ``callback`` filter applies)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _api(self, path: str) -> tuple[str, str] | None:
                for api, root in ROOTS.items():
                    if path.startswith(root + "/"):
                        return api, path[len(root):]
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                outer._record("POST", self.path, body)
                found = self._api(urlsplit(self.path).path)
                if found is None or found[1] != "/hub":
                    return self._answer(404, {"code": "404", "reason": "Not Found"})
                with outer._lock:
                    if outer.fail_hub_posts:
                        outer.fail_hub_posts -= 1
                        return self._answer(503, {"code": "503", "reason": "Service Unavailable"})
                if not isinstance(body, dict) or not isinstance(body.get("callback"), str):
                    return self._answer(400, {"code": "400", "reason": "callback is required"})
                subscription = {"id": uuid.uuid4().hex, "callback": body["callback"], "query": body.get("query")}
                with outer._lock:
                    outer.subscriptions[subscription["id"]] = {**subscription, "api": found[0]}
                    if outer.lose_hub_answers:  # registered, but the answer never reaches the client
                        outer.lose_hub_answers -= 1
                        self.close_connection = True
                        return None
                return self._answer(201, subscription,
                                    {"Location": f"{ROOTS[found[0]]}/hub/{subscription['id']}"})

            def do_DELETE(self) -> None:
                outer._record("DELETE", self.path, None)
                found = self._api(urlsplit(self.path).path)
                if found is None or not found[1].startswith("/hub/"):
                    return self._answer(404, {"code": "404", "reason": "Not Found"})
                with outer._lock:
                    removed = outer.subscriptions.pop(unquote(found[1][len("/hub/"):]), None)
                return self._answer(204) if removed else self._answer(404, {"code": "404", "reason": "Not Found"})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                outer._record("GET", self.path, None)
                found = self._api(url.path)
                query = parse_qs(url.query)
                if found and found[1] == "/hub" and outer.lists_hub:
                    with outer._lock:
                        listed = [{k: v for k, v in s.items() if k != "api"} for s in outer.subscriptions.values()
                                  if s["api"] == found[0] and s["callback"] in query.get("callback", [s["callback"]])]
                    return self._answer(200, listed)
                data = {"/category": outer.categories, "/productOffering": outer.offerings}.get(
                    found[1] if found and found[0] == "tmf620" else "")
                if data is None:
                    return self._answer(404, {"code": "404", "reason": "Not Found"})
                offset = int(query.get("offset", ["0"])[0])
                limit = int(query.get("limit", [str(len(data))])[0])
                return self._answer(200, data[offset: offset + limit], {"X-Total-Count": str(len(data))})

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LocalHTTPServer(Handler, port)
        self.port = self._http.port

    def _record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append((method, path, body))

    def root(self, api: str) -> str:
        """The API root to give ``tmf680 subscribe --<api>``."""
        return f"http://127.0.0.1:{self.port}{ROOTS[api]}"

    def hub_requests(self, method: str) -> list[tuple[str, Any]]:
        with self._lock:
            return [(path, body) for m, path, body in self.requests if m == method and "/hub" in path]

    def publish(self, api: str, event: dict[str, Any]) -> list[httpx.Response]:
        """POST ``event`` to the callback of every subscription of ``api`` whose query takes its
        ``eventType``; the listeners' answers."""
        with httpx.Client(timeout=10.0) as client:
            return self.publish_to(api, event, client)

    def publish_to(self, api: str, event: dict[str, Any], client: httpx.Client) -> list[httpx.Response]:
        with self._lock:
            targets = [s for s in self.subscriptions.values() if s["api"] == api]
        answers = []
        for subscription in targets:
            wanted = event_types(subscription.get("query"))
            if wanted is None or event.get("eventType") in wanted:
                answers.append(client.post(subscription["callback"], json=event))
        return answers

    def close(self) -> None:
        self._http.close()
