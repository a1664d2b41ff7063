"""queryProductRecommendation resources in MongoDB (TMF680): the generic resource store
(``storage.resource_repository``) with the task lease and the queries' own indexes.

Beside what every resource document carries (see ``MongoResourceRepository``), a query has a
``lease``: ``{owner, until}`` while a worker computes the task; an expired lease lets another
worker take the task over, and completion only succeeds for the lease's owner, so a task is
never completed twice.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database

from services.ports import Document
from services.queries import with_items
from storage.codec import date_shadow, decode, encode
from storage.filters import RESOURCE, field_path
from storage.mongo import new_lease, translate_errors
from storage.resource_repository import DEFAULT_SORT, FIFO, MongoResourceRepository

COLLECTION = "queryProductRecommendation"
REPLACED_INDEXES = frozenset({"relatedParty_id", "state"})  # earlier versions' (without _id in the order)


class MongoQueryRepository(MongoResourceRepository):
    def __init__(self, db: Database, query_timeout_ms: int = 5000) -> None:  # type: ignore[type-arg]
        super().__init__(db, COLLECTION, query_timeout_ms, shape=with_items)

    @translate_errors
    def ensure_indexes(self) -> None:
        existing = set(self._col.index_information())
        for replaced in REPLACED_INDEXES & existing:
            self._col.drop_index(replaced)
        self._col.create_indexes([
            *self.base_indexes(),
            # equality on the filtered attribute, then the default order: no in-memory sort
            IndexModel([(field_path(("relatedParty", "id")), ASCENDING), *DEFAULT_SORT], name="relatedParty_id_sorted"),
            IndexModel([(field_path(("state",)), ASCENDING), *DEFAULT_SORT], name="state_sorted"),
            IndexModel([(field_path(("name",)), ASCENDING)], name="name"),
            IndexModel([(f"{RESOURCE}.state", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)],
                       name="task_queue"),
        ])

    @translate_errors
    def claim(self, owner: str, lease_s: float, now: datetime, event: Document) -> Document | None:
        """Take the oldest ``accepted`` task (→ ``inProgress``, with its state-change event in the
        outbox), else one whose worker's lease ran out. Returns the resource, or None."""
        lease = new_lease(owner, now, lease_s)
        snapshot = {"$mergeObjects": [f"${RESOURCE}", {"state": "inProgress"}]}
        entry = {"$literal": {k: v for k, v in self.outbox_entry(event).items() if k != "resource"}}
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
        return with_items(decode(found[RESOURCE])) if found else None

    @translate_errors
    def complete(self, resource: Document, owner: str, event: Document) -> bool:
        """Store the task's result if ``owner`` still holds its lease (False: another worker took it)."""
        result = self._col.update_one(
            {f"{RESOURCE}.id": resource["id"], f"{RESOURCE}.state": "inProgress", "lease.owner": owner},
            {"$set": {RESOURCE: encode(resource), "dt": date_shadow(resource)}, "$unset": {"lease": ""},
             "$push": {"outbox": self.outbox_entry(event)}},
        )
        return result.modified_count == 1

    @translate_errors
    def extend_lease(self, resource_id: str, owner: str, until: datetime) -> bool:
        result = self._col.update_one({f"{RESOURCE}.id": resource_id, "lease.owner": owner},
                                      {"$set": {"lease.until": until}})
        return result.matched_count == 1

    @translate_errors
    def oldest_created(self, state: str) -> datetime | None:
        """When the oldest stored query in ``state`` was created (None: there is none)."""
        found = self._col.find_one({f"{RESOURCE}.state": state}, {"created": 1}, sort=FIFO)
        return found["created"] if found else None

    @translate_errors
    def counts_by_state(self) -> dict[str, int]:
        pipeline = [{"$group": {"_id": f"${RESOURCE}.state", "n": {"$sum": 1}}}]
        return {str(row["_id"]): int(row["n"]) for row in self._col.aggregate(pipeline)}
