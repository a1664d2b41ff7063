"""A fake TMF620 / TMF637 / TMF622 event source: builds the documents' events and POSTs them to a callback.

``EventSource`` makes events in each document's envelope (``eventId``, ``eventTime``, ``eventType``,
``event.<resource>``) with a clock that moves forward, so the order they are made in is the order they
happened in; ``post`` sends one to a callback URL (the listener base ``<base>/listener`` or a per-event
``<base>/listener/<event>``). ``Hub`` is one API's hub of the fake servers in ``hub_fake``: it takes
``POST <base>/hub`` registrations and ``DELETE <base>/hub/{id}``, and ``publish`` POSTs an event to
every registered callback whose ``query`` (``eventType=A,B`` or none) matches.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hub_fake import ROOTS, FakeTmfApis

BASES = ROOTS  # the API base paths, as the documents declare them
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


class Hub(FakeTmfApis):
    """One API's ``/hub`` of the fake TMF servers (``hub_fake.FakeTmfApis``), publishing with a
    given client and recording what each callback answered."""

    def __init__(self, api: str = "tmf620") -> None:
        super().__init__()
        self.api = api
        self.delivered: list[tuple[str, int]] = []  # (callback, status) per POST made by publish

    @property
    def url(self) -> str:
        """The API root a client registers at (``<url>/hub``)."""
        return self.root(self.api)

    def publish(self, client: httpx.Client, event: dict[str, Any]) -> list[httpx.Response]:  # type: ignore[override]
        answers = self.publish_to(self.api, event, client)
        self.delivered += [(str(a.request.url), a.status_code) for a in answers]
        return answers
