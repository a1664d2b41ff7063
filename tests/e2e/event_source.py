"""A fake TMF620 / TMF637 / TMF622 event source: builds the documents' events and POSTs them to a callback.

``EventSource`` makes events in each document's envelope (``eventId``, ``eventTime``, ``eventType``,
``event.<resource>``) with a clock that moves forward, so the order they are made in is the order they
happened in; ``post`` sends one to a callback URL (the listener base ``<base>/listener`` or a per-event
``<base>/listener/<event>``). ``Hub`` is the small HTTP app around it: it takes ``POST <base>/hub``
registrations and ``DELETE <base>/hub/{id}`` like a TMF620/TMF637/TMF622 server, and ``publish``
POSTs an event to every registered callback whose ``query`` (``eventType=A,B`` or none) matches.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

BASES = {
    "tmf620": "/tmf-api/productCatalogManagement/v4",
    "tmf637": "/tmf-api/productInventory/v4",
    "tmf622": "/tmf-api/productOrderingManagement/v4",
}
CUSTOMER_ROLE = "customer"


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


class EventSource:
    """Events of one document family, stamped by a clock that advances one second per event."""

    def __init__(self, start: datetime | None = None) -> None:
        self._time = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._ids = itertools.count(1)

    def now(self) -> str:
        self._time += timedelta(seconds=1)
        return self._time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def event(self, event_type: str, resource: dict[str, Any], resource_key: str | None = None) -> dict[str, Any]:
        """``event_type`` like ``ProductOfferingCreateEvent``; the payload key is derived from it."""
        key = resource_key or _lower_first(event_type.removesuffix("Event").replace("AttributeValueChange", "")
                                           .replace("StateChange", "").replace("Create", "").replace("Delete", ""))
        return {"eventId": f"ev-{next(self._ids)}-{uuid.uuid4().hex[:6]}", "eventTime": self.now(),
                "eventType": event_type, "event": {key: resource}}

    # -- TMF620 ---------------------------------------------------------------
    def category(self, action: str, category_id: str, **attrs: Any) -> dict[str, Any]:
        return self.event(f"Category{action}Event", {"id": category_id, "@type": "Category", **attrs})

    def offering(self, action: str, offering_id: str, **attrs: Any) -> dict[str, Any]:
        return self.event(f"ProductOffering{action}Event",
                          {"id": offering_id, "@type": "ProductOffering", **attrs})

    # -- TMF637 ---------------------------------------------------------------
    def product(self, action: str, product_id: str, customer: str, offering: str, status: str = "active",
                **attrs: Any) -> dict[str, Any]:
        return self.event(f"Product{action}Event", {
            "id": product_id, "@type": "Product", "status": status, "productOffering": {"id": offering},
            "relatedParty": [{"id": customer, "role": CUSTOMER_ROLE, "@referredType": "Customer"}], **attrs})

    # -- TMF622 ---------------------------------------------------------------
    def order(self, action: str, order_id: str, customer: str, offerings: list[str], state: str = "acknowledged",
              **attrs: Any) -> dict[str, Any]:
        items = [{"id": str(n), "action": "add", "productOffering": {"id": o}} for n, o in enumerate(offerings, 1)]
        return self.event(f"ProductOrder{action}Event", {
            "id": order_id, "@type": "ProductOrder", "state": state, "productOrderItem": items,
            "relatedParty": [{"id": customer, "role": CUSTOMER_ROLE, "@referredType": "Customer"}], **attrs})


def post(client: httpx.Client, callback: str, event: dict[str, Any]) -> httpx.Response:
    return client.post(callback, json=event)


def _matches(query: str | None, event: dict[str, Any]) -> bool:
    if not query:
        return True
    for part in query.split("&"):
        name, _, values = part.partition("=")
        if name == "eventType" and event.get("eventType") not in values.split(","):
            return False
    return True


class Hub:
    """A TMF620/TMF637/TMF622 server's ``/hub`` on a free port, and the publisher of its events."""

    def __init__(self, api: str = "tmf620") -> None:
        self.base = BASES[api]
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.delivered: list[tuple[str, int]] = []  # (callback, status) per POST made by publish
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if self.path.rstrip("/") != f"{hub.base}/hub":
                    return self._answer(404)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not isinstance(body, dict) or not body.get("callback"):
                    return self._answer(400, {"code": "400", "reason": "callback is required"})
                subscription = {"id": uuid.uuid4().hex, "callback": body["callback"], "query": body.get("query")}
                hub.subscriptions[subscription["id"]] = subscription
                return self._answer(201, subscription)

            def do_DELETE(self) -> None:
                found = hub.subscriptions.pop(self.path.rsplit("/", 1)[-1], None)
                self._answer(204 if found else 404)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The API root a client registers at (``<url>/hub``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.base}"

    def publish(self, client: httpx.Client, event: dict[str, Any]) -> list[httpx.Response]:
        answers = []
        for subscription in list(self.subscriptions.values()):
            if _matches(subscription.get("query"), event):
                answer = post(client, subscription["callback"], event)
                self.delivered.append((subscription["callback"], answer.status_code))
                answers.append(answer)
        return answers

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
