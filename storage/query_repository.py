"""queryProductRecommendation resources in MongoDB, with their task lease and event outbox.

Each stored document carries, beside the resource ``r``:
- ``outbox``: events caused by changes of this document, pushed *in the same single-document
  update* as the change (MongoDB updates one document atomically, replica set or not), so a crash
  between a state change and its delivery loses nothing; the relay moves them on and pulls them;
- ``lease``: ``{owner, until}`` while a worker computes the task; an expired lease lets another
  worker take the task over, and completion only succeeds for the lease's owner, so a task is
  never completed twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from services.list_query import ListQuery
from services.ports import Document, Page
from services.queries import with_items
from storage.codec import date_shadow, decode, encode
from storage.filters import RESOURCE, field_path, to_mongo_filter, to_projection, to_sort
from storage.mongo import translate_errors

COLLECTION = "queryProductRecommendation"
DEFAULT_SORT = [("created", DESCENDING), ("_id", DESCENDING)]
FIFO = [("created", ASCENDING), ("_id", ASCENDING)]  # oldest first; _id breaks equal timestamps
MAX_SKIP = 2**63 - 1  # BSON integers have 64 bits
REPLACED_INDEXES = frozenset({"relatedParty_id", "state"})  # earlier versions' (without _id in the order)
OWNER = "owner"  # the creating party (per-party restriction): beside the resource, never in it


class MongoQueryRepository:
    def __init__(self, db: Database, query_timeout_ms: int = 5000) -> None:  # type: ignore[type-arg]
        self._col: Collection = db[COLLECTION]  # type: ignore[type-arg]
        self._timeout = query_timeout_ms

    @translate_errors
    def ensure_indexes(self) -> None:
        existing = set(self._col.index_information())
        for replaced in REPLACED_INDEXES & existing:
            self._col.drop_index(replaced)
        self._col.create_indexes([
            IndexModel([(f"{RESOURCE}.id", ASCENDING)], unique=True, name="id_unique"),
            IndexModel([("created", DESCENDING), ("_id", DESCENDING)], name="created_desc"),
            # equality on the filtered attribute, then the default order: no in-memory sort
            IndexModel([(field_path(("relatedParty", "id")), ASCENDING), *DEFAULT_SORT], name="relatedParty_id_sorted"),
            IndexModel([(field_path(("state",)), ASCENDING), *DEFAULT_SORT], name="state_sorted"),
            IndexModel([(field_path(("name",)), ASCENDING)], name="name"),
            IndexModel([("dt.p", ASCENDING), ("dt.v", ASCENDING)], name="date_times"),
            IndexModel([(f"{RESOURCE}.state", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)],
                       name="task_queue"),
            IndexModel([("outbox.eventId", ASCENDING)], name="outbox", sparse=True),
            IndexModel([(OWNER, ASCENDING), ("created", DESCENDING), ("_id", DESCENDING)], name="owner_created",
                       partialFilterExpression={OWNER: {"$exists": True}}),
        ])

    @translate_errors
    def add(self, resource: Document, events: list[Document] | None = None, owner: str | None = None) -> None:
        doc = {RESOURCE: encode(resource), "dt": date_shadow(resource),
               "created": datetime.now(UTC), "outbox": [_outbox_entry(e) for e in events or []]}
        if owner is not None:
            doc[OWNER] = owner
        self._col.insert_one(doc)

    @translate_errors
    def claim(self, owner: str, lease_s: float, now: datetime, event: Document) -> Document | None:
        """Take the oldest ``accepted`` task (→ ``inProgress``, with its state-change event in the
        outbox), else one whose worker's lease ran out. Returns the resource, or None."""
        until = now + timedelta(seconds=lease_s)
        lease = {"owner": owner, "until": until}
        snapshot = {"$mergeObjects": [f"${RESOURCE}", {"state": "inProgress"}]}
        entry = {"$literal": {k: v for k, v in _outbox_entry(event).items() if k != "resource"}}
        found = self._col.find_one_and_update(
            {f"{RESOURCE}.state": "accepted"},
            [{"$set": {
                f"{RESOURCE}.state": "inProgress",
                "lease": {"$literal": lease},
                "outbox": {"$concatArrays": [{"$ifNull": ["$outbox", []]},
                                             [{"$mergeObjects": [entry, {"resource": snapshot,
                                                                         "correlationId": f"${RESOURCE}.id"}]}]]},
            }}],
            sort=FIFO, projection={RESOURCE: 1}, return_document=ReturnDocument.AFTER,
        )
        if found is None:  # a task whose worker died: same state, no new event
            found = self._col.find_one_and_update(
                {f"{RESOURCE}.state": "inProgress", "lease.until": {"$lt": now}},
                {"$set": {"lease": lease}},
                sort=FIFO, projection={RESOURCE: 1}, return_document=ReturnDocument.AFTER,
            )
        return _resource(found[RESOURCE]) if found else None

    @translate_errors
    def complete(self, resource: Document, owner: str, event: Document) -> bool:
        """Store the task's result if ``owner`` still holds its lease (False: another worker took it)."""
        result = self._col.update_one(
            {f"{RESOURCE}.id": resource["id"], f"{RESOURCE}.state": "inProgress", "lease.owner": owner},
            {"$set": {RESOURCE: encode(resource), "dt": date_shadow(resource)}, "$unset": {"lease": ""},
             "$push": {"outbox": _outbox_entry(event)}},
        )
        return result.modified_count == 1

    @translate_errors
    def extend_lease(self, resource_id: str, owner: str, until: datetime) -> bool:
        result = self._col.update_one({f"{RESOURCE}.id": resource_id, "lease.owner": owner},
                                      {"$set": {"lease.until": until}})
        return result.matched_count == 1

    @translate_errors
    def outbox(self, limit: int = 100) -> list[tuple[Any, list[Document]]]:
        """(document key, pending events in the order they happened) for documents with an outbox."""
        cursor = self._col.find({"outbox.0": {"$exists": True}}, {"outbox": 1}).sort(FIFO).limit(limit)
        return [(doc["_id"], [_event_of(entry) for entry in doc["outbox"]]) for doc in cursor]

    @translate_errors
    def owners(self, keys: list[Any]) -> dict[Any, str]:
        """The owner of each of these documents (``outbox`` keys) that has one."""
        found = self._col.find({"_id": {"$in": keys}, OWNER: {"$exists": True}}, {OWNER: 1})
        return {doc["_id"]: doc[OWNER] for doc in found}

    @translate_errors
    def ack_outbox(self, key: Any, event_id: str) -> None:
        self._col.update_one({"_id": key}, {"$pull": {"outbox": {"eventId": event_id}}})

    @translate_errors
    def oldest_created(self, state: str) -> datetime | None:
        """When the oldest stored query in ``state`` was created (None: there is none)."""
        found = self._col.find_one({f"{RESOURCE}.state": state}, {"created": 1}, sort=FIFO)
        return found["created"] if found else None

    @translate_errors
    def counts_by_state(self) -> dict[str, int]:
        pipeline = [{"$group": {"_id": f"${RESOURCE}.state", "n": {"$sum": 1}}}]
        return {str(row["_id"]): int(row["n"]) for row in self._col.aggregate(pipeline)}

    @translate_errors
    def get(self, resource_id: str, fields: tuple[str, ...] | None = None,
            owner: str | None = None) -> Document | None:
        found = self._col.find_one(_owned({f"{RESOURCE}.id": resource_id}, owner), to_projection(fields))
        return _resource(found[RESOURCE], fields) if found else None

    @translate_errors
    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        """The page, then the total: a page shorter than the limit that has items (or that starts
        at the first item) already tells the total, which saves the count, a second round trip.
        With an ``owner``, only that party's queries (and the total counts only those)."""
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
            items = [_resource(doc[RESOURCE], query.fields) for doc in cursor]
            if len(items) < query.limit and (items or query.offset == 0):
                return Page(items=items, total=query.offset + len(items))
        return Page(items=items, total=self._col.count_documents(mongo_filter, maxTimeMS=self._timeout))


def _resource(stored: dict[str, Any], fields: tuple[str, ...] | None = None) -> Document:
    """Every read of a stored query (retrieve, list, task claim, event snapshot) goes through here."""
    return with_items(decode(stored), fields)


def _owned(mongo_filter: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """``mongo_filter`` limited to ``owner``'s documents (client filters only reach ``r.*`` and
    ``dt``, so they can neither read nor override the top-level owner)."""
    return mongo_filter if owner is None else {**mongo_filter, OWNER: owner}


def _outbox_entry(event: Document) -> dict[str, Any]:
    """An event as kept in the outbox: envelope fields, with the resource snapshot encoded."""
    envelope = {k: v for k, v in event.items() if k != "event"}
    resource = (event.get("event") or {}).get("queryProductRecommendation", {})
    return {**envelope, "resource": encode(resource)}


def _event_of(entry: dict[str, Any]) -> Document:
    envelope = {k: v for k, v in entry.items() if k != "resource"}
    return {**envelope, "event": {"queryProductRecommendation": _resource(entry.get("resource", {}))}}
