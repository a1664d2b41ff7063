"""The TMF620 catalogue (productOffering, category) the engine recommends from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from storage.codec import decode, encode
from storage.mongo import COUNTERS, next_count, translate_errors

OFFERINGS = "productOffering"
CATEGORIES = "category"


class MongoCatalogRepository:
    """Idempotent upserts by id; every change bumps the catalogue version servers watch."""

    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db

    @translate_errors
    def ensure_indexes(self) -> None:
        for name in (OFFERINGS, CATEGORIES):
            self._db[name].create_indexes([IndexModel([("id", ASCENDING)], unique=True, name="id_unique")])

    @translate_errors
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]]) -> int:
        """Insert or replace documents by ``id``; returns how many were written."""
        assert collection in (OFFERINGS, CATEGORIES)
        now = datetime.now(UTC)
        ops = [UpdateOne({"id": str(doc["id"])}, {"$set": {"id": str(doc["id"]), "r": encode(doc), "updated": now}},
                         upsert=True) for doc in documents]
        if not ops:
            return 0
        self._db[collection].bulk_write(ops, ordered=False)
        return len(ops)

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
