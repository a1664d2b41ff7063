"""TM Forum resources in MongoDB: one collection per resource type, the same code for every API.

Each stored document carries, beside the resource ``r`` (keys escaped by ``storage.codec``):
- ``dt``: the resource's date-times as instants, for list filters on dates;
- ``created``: the default order of lists (newest first);
- ``outbox``: events caused by changes of this document, pushed *in the same single-document
  update* as the change (MongoDB updates one document atomically, replica set or not), so a crash
  between a change and its delivery loses nothing; ``services.notifications.Relay`` moves them on
  and acknowledges them;
- ``owner``: the creating party under the per-party restriction (never in the resource);
- ``v``: a revision, raised by every update, so a read-modify-write (PATCH) never overwrites a
  change it did not see;
- ``deleted``: set by a delete, which keeps the document only until its delete event has left the
  outbox (a tombstone nothing reads: the relay removes it once acknowledged).

``MongoQueryRepository`` (TMF680) and ``MongoPartyRoleRepository`` (TMF669) are this class with their
collection, their indexes and what only they need (task leases; the canvas system role).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from services.list_query import ListQuery
from services.ports import Document, Page
from storage.codec import date_shadow, decode, encode
from storage.filters import RESOURCE, to_mongo_filter, to_projection, to_sort
from storage.mongo import translate_errors

DEFAULT_SORT = [("created", DESCENDING), ("_id", DESCENDING)]
FIFO = [("created", ASCENDING), ("_id", ASCENDING)]  # oldest first; _id breaks equal timestamps
MAX_SKIP = 2**63 - 1  # BSON integers have 64 bits
OWNER = "owner"  # the creating party (per-party restriction): beside the resource, never in it
DELETED = "deleted"
REVISION = "v"
LIVE = {DELETED: {"$exists": False}}

Shape = Callable[[Document, "tuple[str, ...] | None"], Document]
Pending = list[tuple[Any, list[Document]]]  # (document key, its outbox events)
Keys = list[Any]


def _as_stored(resource: Document, fields: tuple[str, ...] | None = None) -> Document:
    return resource


class MongoResourceRepository:
    """Create, read, list, update and delete one resource type, with the events of each change.

    ``name`` is the collection and the resource's key in an event's ``event`` payload; ``shape``
    is applied to every resource read (list, retrieve, event snapshot), e.g. TMF680's
    ``recommendationItem`` default for queries stored by an earlier version."""

    def __init__(self, db: Database, name: str, query_timeout_ms: int = 5000,  # type: ignore[type-arg]
                 shape: Shape = _as_stored) -> None:
        self._col: Collection = db[name]  # type: ignore[type-arg]
        self._name = name
        self._timeout = query_timeout_ms
        self._shape = shape

    def base_indexes(self) -> list[IndexModel]:
        """What every resource collection needs: ids, the default order, dates, outbox, owners."""
        return [
            IndexModel([(f"{RESOURCE}.id", ASCENDING)], unique=True, name="id_unique"),
            IndexModel(DEFAULT_SORT, name="created_desc"),
            IndexModel([("dt.p", ASCENDING), ("dt.v", ASCENDING)], name="date_times"),
            IndexModel([("outbox.eventId", ASCENDING)], name="outbox", sparse=True),
            IndexModel([(OWNER, ASCENDING), *DEFAULT_SORT], name="owner_created",
                       partialFilterExpression={OWNER: {"$exists": True}}),
        ]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes(self.base_indexes())

    def stored(self, resource: Document, events: list[Document] | None = None,
               owner: str | None = None) -> dict[str, Any]:
        """The MongoDB document of a new resource (with its events in the outbox)."""
        doc = {RESOURCE: encode(resource), "dt": date_shadow(resource), "created": datetime.now(UTC),
               REVISION: 1, "outbox": [self.outbox_entry(e) for e in events or []]}
        if owner is not None:
            doc[OWNER] = owner
        return doc

    @translate_errors
    def add(self, resource: Document, events: list[Document] | None = None, owner: str | None = None) -> None:
        self._col.insert_one(self.stored(resource, events, owner))

    @translate_errors
    def get(self, resource_id: str, fields: tuple[str, ...] | None = None,
            owner: str | None = None) -> Document | None:
        found = self._col.find_one(_owned({f"{RESOURCE}.id": resource_id}, owner), to_projection(fields))
        return self._shape(decode(found[RESOURCE]), fields) if found else None

    @translate_errors
    def get_revision(self, resource_id: str, owner: str | None = None) -> tuple[Document, int] | None:
        """The resource and its revision, for a conditional ``replace``."""
        found = self._col.find_one(_owned({f"{RESOURCE}.id": resource_id}, owner), {RESOURCE: 1, REVISION: 1})
        return (self._shape(decode(found[RESOURCE]), None), int(found.get(REVISION, 0))) if found else None

    @translate_errors
    def replace(self, resource: Document, revision: int, events: list[Document]) -> bool:
        """Store the new version of a resource read at ``revision``, with its events; False when
        another change came first (the caller reads again)."""
        current: Any = revision if revision else {"$exists": False}  # documents from before revisions
        result = self._col.update_one(
            {f"{RESOURCE}.id": resource["id"], REVISION: current, **LIVE},
            {"$set": {RESOURCE: encode(resource), "dt": date_shadow(resource), REVISION: revision + 1},
             "$push": {"outbox": {"$each": [self.outbox_entry(e) for e in events]}}},
        )
        return result.modified_count == 1

    @translate_errors
    def delete(self, resource_id: str, event: Document, owner: str | None = None,
               unset: tuple[str, ...] = ()) -> bool:
        """Mark the resource deleted with its delete event; it leaves the collection once the relay
        has taken the event (``ack_outbox``). False when there is no such (live, owned) resource."""
        result = self._col.update_one(
            _owned({f"{RESOURCE}.id": resource_id}, owner),
            {"$set": {DELETED: datetime.now(UTC)}, "$push": {"outbox": self.outbox_entry(event)},
             **({"$unset": dict.fromkeys(unset, "")} if unset else {})},
        )
        return result.modified_count == 1

    @translate_errors
    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        """The page, then the total: a page shorter than the limit that has items (or that starts
        at the first item) already tells the total, which saves the count, a second round trip.
        With an ``owner``, only that party's resources (and the total counts only those)."""
        mongo_filter = _owned(to_mongo_filter(query), owner)
        items: list[Document] = []
        if query.limit > 0 and query.offset <= MAX_SKIP:  # beyond it nothing can be there (nor be sent)
            cursor = (
                self._col.find(mongo_filter, to_projection(query.fields))
                .sort(to_sort(query, DEFAULT_SORT))
                .skip(query.offset)
                .limit(query.limit)
                .max_time_ms(self._timeout)
            )
            items = [self._shape(decode(doc[RESOURCE]), query.fields) for doc in cursor]
            if len(items) < query.limit and (items or query.offset == 0):
                return Page(items=items, total=query.offset + len(items))
        return Page(items=items, total=self._col.count_documents(mongo_filter, maxTimeMS=self._timeout))

    # --- the outbox, read by services.notifications.Relay -------------------------------------------

    @translate_errors
    def outbox(self, limit: int = 100) -> Pending:
        """(document key, pending events in the order they happened) for documents with an outbox."""
        cursor = self._col.find({"outbox.0": {"$exists": True}}, {"outbox": 1}).sort(FIFO).limit(limit)
        return [(doc["_id"], [self.event_of(entry) for entry in doc["outbox"]]) for doc in cursor]

    @translate_errors
    def owners(self, keys: Keys) -> dict[Any, str]:
        """The owner of each of these documents (``outbox`` keys) that has one."""
        found = self._col.find({"_id": {"$in": keys}, OWNER: {"$exists": True}}, {OWNER: 1})
        return {doc["_id"]: doc[OWNER] for doc in found}

    @translate_errors
    def ack_outbox(self, key: Any, event_id: str) -> None:
        self._col.update_one({"_id": key}, {"$pull": {"outbox": {"eventId": event_id}}})
        self._col.delete_one({"_id": key, DELETED: {"$exists": True}, "outbox": {"$size": 0}})

    def outbox_entry(self, event: Document) -> dict[str, Any]:
        """An event as kept in the outbox: envelope fields, with the resource snapshot encoded."""
        envelope = {k: v for k, v in event.items() if k != "event"}
        resource = (event.get("event") or {}).get(self._name, {})
        return {**envelope, "resource": encode(resource)}

    def event_of(self, entry: dict[str, Any]) -> Document:
        envelope = {k: v for k, v in entry.items() if k != "resource"}
        return {**envelope, "event": {self._name: self._shape(decode(entry.get("resource", {})), None)}}


def _owned(mongo_filter: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """``mongo_filter`` limited to live documents (and to ``owner``'s: client filters only reach
    ``r.*`` and ``dt``, so they can neither read nor override the top-level owner)."""
    live = {**mongo_filter, **LIVE}
    return live if owner is None else {**live, OWNER: owner}
