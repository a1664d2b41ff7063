"""The TMF620 catalogue (productOffering, category) the engine recommends from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from storage.codec import decode, encode
from storage.mongo import COUNTERS, SOURCE, next_count, tagged_update, translate_errors

OFFERINGS = "productOffering"
CATEGORIES = "category"
RETIRED = "Retired"  # the TMF620 lifecycleStatus given to offerings a replacing import left out


class MongoCatalogRepository:
    """Idempotent upserts by id; every change bumps the catalogue version servers watch."""

    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db

    @translate_errors
    def ensure_indexes(self) -> None:
        for name in (OFFERINGS, CATEGORIES):
            self._db[name].create_indexes([IndexModel([("id", ASCENDING)], unique=True, name="id_unique")])

    @translate_errors
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]], source: str | None = None,
               run: str | None = None) -> int:
        """Insert or replace documents by ``id``; returns how many were written. ``source`` tags
        them (a later write without it removes the tag); ``run`` marks them as written by one import
        (``retire_absent``)."""
        assert collection in (OFFERINGS, CATEGORIES)
        now = datetime.now(UTC)
        ops = []
        for doc in documents:
            fields = {"id": str(doc["id"]), "r": encode(doc), "updated": now}
            ops.append(UpdateOne({"id": str(doc["id"])}, tagged_update(fields, source, run), upsert=True))
        if not ops:
            return 0
        self._db[collection].bulk_write(ops, ordered=False)
        return len(ops)

    @translate_errors
    def retire_absent(self, run: str, before: datetime) -> dict[str, int]:
        """After the replacing import ``run``: offerings it did not write get ``lifecycleStatus:
        Retired`` (kept, never recommended again; a later import or event can bring them back),
        categories it did not write are deleted. Documents written after ``before`` (events during
        the import) are left alone. Bumps the catalogue version when something changed."""
        absent = {"run": {"$ne": run}, "updated": {"$not": {"$gte": before}}}
        now = datetime.now(UTC)
        retired = self._db[OFFERINGS].update_many(
            {**absent, "r.lifecycleStatus": {"$ne": RETIRED}},
            {"$set": {"r.lifecycleStatus": RETIRED, "updated": now, "retiredAt": now}}).modified_count
        removed = self._db[CATEGORIES].delete_many(absent).deleted_count
        if retired or removed:
            self.bump_version()
        return {OFFERINGS: retired, CATEGORIES: removed}

    @translate_errors
    def remove_source(self, source: str) -> dict[str, int]:
        """Delete every offering and category tagged ``source``; bumps the version if any."""
        removed = {name: self._db[name].delete_many({SOURCE: source}).deleted_count for name in (OFFERINGS, CATEGORIES)}
        if any(removed.values()):
            self.bump_version()
        return removed

    @translate_errors
    def count_source(self, source: str) -> dict[str, int]:
        return {name: self._db[name].count_documents({SOURCE: source}) for name in (OFFERINGS, CATEGORIES)}

    @translate_errors
    def bump_version(self) -> int:
        return next_count(self._db, "catalog", also_set={"updated": datetime.now(UTC)})

    @translate_errors
    def version(self) -> int:
        doc = self._db[COUNTERS].find_one({"_id": "catalog"})
        return int(doc["version"]) if doc else 0

    @translate_errors
    def offerings(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[OFFERINGS].find({}, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def categories(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[CATEGORIES].find({}, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def counts(self) -> dict[str, int]:
        return {name: self._db[name].estimated_document_count() for name in (OFFERINGS, CATEGORIES)}
