"""Events this component receives from TMF620 (catalogue), TMF637 (inventory) and TMF622 (ordering).

Each event names one resource (``event.<resource>``) and what happened to it. What it does:

- ``category`` / ``productOffering`` Create, AttributeValueChange, StateChange → the document is stored
  in the catalogue (a create replaces it, a change is merged onto the stored one, attribute by
  attribute); Delete → the document is retired. Servers switch to the new catalogue version within
  ``TMF680_MODEL_REFRESH_S`` by reading only what changed (``EngineProvider``).
- ``product`` (TMF637) and ``productOrder`` (TMF622) Create, AttributeValueChange, StateChange → the
  customer's history document, read by the very next recommendation; Delete → removed (holds nothing).
- every other event of those documents (catalog, productOfferingPrice, productSpecification, batch,
  cancelProductOrder, information required) is acknowledged and changes nothing: the engine does not
  read those resources.

Ordering: every write keeps the *stamp* of the event that made it, and an event applies only if its
stamp is greater than the stored one; so a duplicate, or an event older than what is stored for that
resource, changes nothing, and the outcome does not depend on delivery order. The stamp compares, in
this order: the resource's own ``lastUpdate`` (else the event's ``eventTime``, else the time received),
the resource's ``version`` (numerically, ``1.10`` after ``1.9``), the event's ``eventTime``, and last a
delete after any other event of the same instant. Resources imported by ``tmf680 catalog|history
import`` have no stamp: the first event for them applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from recommender.documents import Category, ProductOffering
from services.dates import parse_date_time
from services.errors import Conflict, InvalidRequest
from services.history import ORDER, PRODUCT, HistoryError, HistoryRecord, parse_history
from services.ports import Document, Stamped

CATEGORY = "category"
PRODUCT_OFFERING = "productOffering"
_EVENT_NAME = re.compile(r"^(?P<resource>[A-Za-z]+?)(?P<action>Create|AttributeValueChange|StateChange|Delete)Event$")
_ATTEMPTS = 8


class Action(Enum):
    CREATE = "Create"
    CHANGE = "Change"
    DELETE = "Delete"


class Outcome(Enum):
    APPLIED = "applied"
    STALE = "stale"  # a duplicate, or older than what is stored: nothing changed
    IGNORED = "ignored"  # an event of a resource the engine does not read


class CatalogEventStore(Protocol):
    def current(self, collection: str, resource_id: str) -> Stamped | None: ...

    def write(self, collection: str, resource_id: str, document: dict[str, Any], *, deleted: bool, stamp: str,
              expected: Stamped | None) -> bool: ...



class HistoryEventStore(Protocol):
    def current(self, kind: str, resource_id: str) -> Stamped | None: ...

    def write(self, kind: str, resource_id: str, record: HistoryRecord | None, document: dict[str, Any], *,
              stamp: str, expected: Stamped | None) -> bool: ...

    def put_if_newer(self, record: HistoryRecord, document: dict[str, Any], stamp: str) -> bool: ...


@dataclass(frozen=True)
class Target:
    """Where events about one resource land: the catalogue (collection) or the history (kind)."""

    resource: str  # the key of the resource in the event payload
    catalog: str | None = None
    history: str | None = None


TARGETS = {
    "category": Target("category", catalog=CATEGORY),
    "productOffering": Target("productOffering", catalog=PRODUCT_OFFERING),
    "product": Target("product", history=PRODUCT),
    "productOrder": Target("productOrder", history=ORDER),
}


def classify(event_type: str) -> tuple[Target, Action] | None:
    """``ProductOfferingStateChangeEvent`` → (productOffering target, CHANGE); None when ignored."""
    match = _EVENT_NAME.match(event_type)
    if not match:
        return None
    name = match["resource"]
    target = TARGETS.get(name[:1].lower() + name[1:])
    if target is None:
        return None
    action = match["action"]
    return target, (Action.CREATE if action == "Create" else Action.DELETE if action == "Delete" else Action.CHANGE)


def _instant(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_date_time(str(value))
    if parsed is None:
        raise InvalidRequest(f"{what} is not an RFC 3339 date-time: {value!r}")
    return parsed


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fixed width: sorts as it orders


def _version_key(value: Any) -> str:
    """``"1.10"`` → zero-padded numeric parts that sort as versions; anything else sorts first."""
    parts = str(value or "").split(".")
    if not all(p.isdigit() and len(p) <= 12 for p in parts):
        return ""
    return ".".join(p.zfill(12) for p in parts[:6])


def stamp(resource: dict[str, Any], event: dict[str, Any], action: Action, received: datetime) -> str:
    """The order of this event among the events of its resource, as a string that sorts like it."""
    event_time = _instant(event.get("eventTime"), "eventTime")
    updated = _instant(resource.get("lastUpdate"), f"{resource.get('@type') or 'resource'}.lastUpdate")
    primary = updated or event_time or received
    return "|".join((_iso(primary), _version_key(resource.get("version")), _iso(event_time or primary),
                     "1" if action is Action.DELETE else "0"))


class InboundEvents:
    """Applies received TMF620/TMF637/TMF622 events to the catalogue and the customer history."""

    def __init__(self, catalog: CatalogEventStore, history: HistoryEventStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._catalog = catalog
        self._history = history
        self._clock = clock

    def receive(self, event_type: str, event: dict[str, Any]) -> Outcome:
        """Apply one event (already valid for its document's schema). ``InvalidRequest`` when it cannot
        be applied (no resource id, a resource the engine cannot read); nothing is changed then."""
        sent = event.get("eventType")
        if sent not in (None, event_type):
            raise InvalidRequest(f"this listener receives {event_type}, not {sent!r}")
        kind = classify(event_type)
        if kind is None:
            return Outcome.IGNORED
        target, action = kind
        payload = event.get("event")
        resource = payload.get(target.resource) if isinstance(payload, dict) else None
        if not isinstance(resource, dict) or resource.get("id") in (None, ""):
            raise InvalidRequest(f"{event_type} has no event.{target.resource}.id")
        resource_id = str(resource["id"])
        key = stamp(resource, event, action, self._clock())
        if action is Action.CREATE and target.history:  # the whole resource: one conditional upsert, no read
            record = _history_record(target.history, dict(resource))
            return Outcome.APPLIED if self._history.put_if_newer(record, dict(resource), key) else Outcome.STALE
        for _ in range(_ATTEMPTS):
            stored = self._current(target, resource_id)
            if stored is not None and stored.stamp is not None and key <= stored.stamp:
                return Outcome.STALE
            if self._write(target, action, resource_id, resource, key, stored):
                return Outcome.APPLIED
        raise Conflict(f"{target.resource} {resource_id} kept changing while this event was applied; send it again")

    def _current(self, target: Target, resource_id: str) -> Stamped | None:
        if target.catalog:
            return self._catalog.current(target.catalog, resource_id)
        assert target.history
        return self._history.current(target.history, resource_id)

    def _write(self, target: Target, action: Action, resource_id: str, resource: Document, key: str,
               stored: Stamped | None) -> bool:
        base = stored.document if stored is not None and not stored.deleted else None
        if action is Action.DELETE:
            document = {**(base or {}), **resource}
        elif action is Action.CHANGE and base is not None:
            document = {**base, **resource}  # a change event may carry only the changed attributes
        else:
            document = dict(resource)
        deleted = action is Action.DELETE
        if target.catalog:
            if not deleted:
                _check_catalog(target.catalog, document)
            return self._catalog.write(target.catalog, resource_id, document, deleted=deleted, stamp=key,
                                       expected=stored)
        assert target.history
        record = None if deleted else _history_record(target.history, document)
        return self._history.write(target.history, resource_id, record, document, stamp=key, expected=stored)


def _check_catalog(collection: str, document: Document) -> None:
    try:
        if collection == CATEGORY:
            Category.from_document(document)
        else:
            ProductOffering.from_document(document)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequest(f"the {collection} cannot be used: {exc}") from exc


def _history_record(kind: str, document: Document) -> HistoryRecord:
    try:
        record = parse_history({**document, "@type": "ProductOrder" if kind == ORDER else "Product"})
    except (HistoryError, TypeError, AttributeError) as exc:
        raise InvalidRequest(f"the {'productOrder' if kind == ORDER else 'product'} cannot be used: {exc}") from exc
    return record
