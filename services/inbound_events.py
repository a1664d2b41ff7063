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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from recommender.documents import Category, ProductOffering
from services.dates import date_time_field
from services.errors import Conflict, DomainError, InvalidRequest
from services.history import ORDER, PRODUCT, HistoryError, HistoryRecord, parse_history
from services.ports import CatalogWrite, Document, HistoryWrite, Stamped

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
    def current_many(self, collection: str, resource_ids: Sequence[str]) -> dict[str, Stamped]: ...

    def write_many(self, collection: str, writes: Sequence[CatalogWrite]) -> list[bool]: ...


class HistoryEventStore(Protocol):
    def current_many(self, kind: str, resource_ids: Sequence[str]) -> dict[str, Stamped]: ...

    def write_many(self, kind: str, writes: Sequence[HistoryWrite]) -> list[bool]: ...

    def put_many_if_newer(self, items: Sequence[tuple[HistoryRecord, dict[str, Any], str]]) -> list[bool]: ...


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
    event_time = date_time_field(event.get("eventTime"), "eventTime", InvalidRequest)
    updated = date_time_field(resource.get("lastUpdate"), f"{resource.get('@type') or 'resource'}.lastUpdate",
                              InvalidRequest)
    primary = updated or event_time or received
    return "|".join((_iso(primary), _version_key(resource.get("version")), _iso(event_time or primary),
                     "1" if action is Action.DELETE else "0"))


@dataclass(frozen=True)
class _Change:
    """One parsed event: its resource, what happens to it, and its stamp. ``whole_history``: a TMF637
    product or TMF622 order create (record, document), written without reading what is stored."""

    target: Target
    action: Action
    resource_id: str
    resource: dict[str, Any]
    key: str
    whole_history: tuple[HistoryRecord, dict[str, Any]] | None


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
        [result] = self.receive_many([(event_type, event)])
        if isinstance(result, DomainError):
            raise result
        return result

    def receive_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> list[Outcome | DomainError]:
        """``receive`` for each (event type, event), in one go: the creates of TMF637 products and TMF622 orders (most
        of the traffic) are written by one bulk write, the other events one by one after them (a create is written
        whole, without reading what is stored). Per event, its outcome or the domain error ``receive`` would have
        raised; an event's error changes nothing and does not stop the others."""
        results: list[Outcome | DomainError] = []
        changes: list[_Change | None] = []
        for event_type, event in events:
            try:
                change = self._parse(event_type, event)
            except DomainError as exc:
                results.append(exc)
                changes.append(None)
                continue
            results.append(Outcome.IGNORED)
            changes.append(change)
        creates = [(k, change.whole_history[0], change.whole_history[1], change.key)
                   for k, change in enumerate(changes) if change is not None and change.whole_history is not None]
        if creates:
            written: list[Outcome | DomainError]
            try:
                written = [Outcome.APPLIED if w else Outcome.STALE for w in
                           self._history.put_many_if_newer([(record, doc, key) for _, record, doc, key in creates])]
            except DomainError as exc:  # the store failed them all (unavailable): each event gets the error
                written = [exc] * len(creates)
            for (k, *_), result in zip(creates, written, strict=True):
                results[k] = result
        self._apply_many([(k, change) for k, change in enumerate(changes)
                          if change is not None and change.whole_history is None], results)
        return results

    def _parse(self, event_type: str, event: dict[str, Any]) -> _Change | None:
        """What the event changes, checked, before anything is read or written; None when ignored."""
        sent = event.get("eventType")
        if sent not in (None, event_type):
            raise InvalidRequest(f"this listener receives {event_type}, not {sent!r}")
        kind = classify(event_type)
        if kind is None:
            return None
        target, action = kind
        payload = event.get("event")
        resource = payload.get(target.resource) if isinstance(payload, dict) else None
        if not isinstance(resource, dict) or resource.get("id") in (None, ""):
            raise InvalidRequest(f"{event_type} has no event.{target.resource}.id")
        key = stamp(resource, event, action, self._clock())
        whole = None
        if action is Action.CREATE and target.history:
            whole = (_history_record(target.history, dict(resource)), dict(resource))
        return _Change(target, action, str(resource["id"]), resource, key, whole)

    def _apply_many(self, pending: list[tuple[int, _Change]], results: list[Outcome | DomainError]) -> None:
        """Changes, deletes and catalogue creates (``results[k]`` for the k-th): read what is stored
        for all of them at once, merge, and write those still as read in one bulk write per target;
        one whose resource changed in between is read and decided again (optimistic concurrency,
        no lock). Two events for one resource go in turn, one per round."""
        for _ in range(_ATTEMPTS):
            if not pending:
                return
            rounds: dict[Target, list[tuple[int, _Change]]] = {}
            later: list[tuple[int, _Change]] = []
            seen: set[tuple[str, str]] = set()
            for k, change in pending:
                resource = (change.target.resource, change.resource_id)
                (later if resource in seen else rounds.setdefault(change.target, [])).append((k, change))
                seen.add(resource)
            for target, items in rounds.items():
                try:
                    later += self._round(target, items, results)
                except DomainError as exc:  # the store failed (unavailable): each of these events gets it
                    for k, _ in items:
                        results[k] = exc
            pending = sorted(later, key=lambda item: item[0])
        for k, change in pending:
            results[k] = Conflict(f"{change.target.resource} {change.resource_id} kept changing while this event "
                                  "was applied; send it again")

    def _round(self, target: Target, items: list[tuple[int, _Change]],
               results: list[Outcome | DomainError]) -> list[tuple[int, _Change]]:
        """One read and one write for ``items`` (distinct resources of ``target``); returns those
        whose resource changed between the two."""
        if target.catalog:
            stored = self._catalog.current_many(target.catalog, [change.resource_id for _, change in items])
        else:
            assert target.history
            stored = self._history.current_many(target.history, [change.resource_id for _, change in items])
        to_write: list[tuple[int, _Change, Document, Stamped | None]] = []
        for k, change in items:
            before = stored.get(change.resource_id)
            if before is not None and before.stamp is not None and change.key <= before.stamp:
                results[k] = Outcome.STALE
                continue
            base = before.document if before is not None and not before.deleted else None
            if change.action is Action.DELETE:
                document = {**(base or {}), **change.resource}
            elif change.action is Action.CHANGE and base is not None:
                document = {**base, **change.resource}  # a change event may carry only the changed attributes
            else:
                document = dict(change.resource)
            to_write.append((k, change, document, before))
        written = self._write_many(target, to_write, results)
        again = []
        for (k, change, _, _), done in zip(to_write, written, strict=True):
            if done is None:
                continue  # not writable (results[k] says why)
            if done:
                results[k] = Outcome.APPLIED
            else:
                again.append((k, change))
        return again

    def _write_many(self, target: Target, to_write: list[tuple[int, _Change, Document, Stamped | None]],
                    results: list[Outcome | DomainError]) -> list[bool | None]:
        """Per item: written, not written (changed since read), or None (invalid: ``results`` has it)."""
        out: list[bool | None] = [None] * len(to_write)
        catalog: list[tuple[int, CatalogWrite]] = []
        history: list[tuple[int, HistoryWrite]] = []
        for n, (k, change, document, before) in enumerate(to_write):
            deleted = change.action is Action.DELETE
            try:
                if target.catalog:
                    if not deleted:
                        _check_catalog(target.catalog, document)
                    catalog.append((n, CatalogWrite(change.resource_id, document, deleted, change.key, before)))
                else:
                    assert target.history
                    record = None if deleted else _history_record(target.history, document)
                    history.append((n, HistoryWrite(change.resource_id, record, document, change.key, before)))
            except DomainError as exc:
                results[k] = exc
        if catalog:
            assert target.catalog
            for (n, _), done in zip(catalog, self._catalog.write_many(target.catalog, [w for _, w in catalog]),
                                    strict=True):
                out[n] = done
        if history:
            assert target.history
            for (n, _), done in zip(history, self._history.write_many(target.history, [w for _, w in history]),
                                    strict=True):
                out[n] = done
        return out


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
