"""The TMF620 catalogue (productOffering, category) the engine recommends from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from services.ports import CatalogChanges, Stamped
from storage.codec import decode, encode
from storage.mongo import COUNTERS, next_count, stamped_write, translate_errors

OFFERINGS = "productOffering"
CATEGORIES = "category"


LIVE = {"deleted": {"$ne": True}}


class MongoCatalogRepository:
    """Idempotent upserts by id; every change bumps the catalogue version servers watch.

    Each document carries ``seq``, the catalogue version its last write took, so a server can read
    only what changed since the version it has (``changes_since``). A retired document stays as a
    tombstone (``deleted``) with the ``stamp`` of the event that retired it: an older event arriving
    later finds it and changes nothing, and servers see the retirement as a change."""

    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db

    @translate_errors
    def ensure_indexes(self) -> None:
        for name in (OFFERINGS, CATEGORIES):
            self._db[name].create_indexes([IndexModel([("id", ASCENDING)], unique=True, name="id_unique"),
                                           IndexModel([("seq", ASCENDING)], name="seq")])

    @translate_errors
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]]) -> int:
        """Insert or replace documents by ``id``; returns how many were written."""
        assert collection in (OFFERINGS, CATEGORIES)
        now = datetime.now(UTC)
        docs = list(documents)
        if not docs:
            return 0
        seq = self.bump_version()
        ops = [UpdateOne({"id": str(doc["id"])},
                         {"$set": {"id": str(doc["id"]), "r": encode(doc), "updated": now, "seq": seq,
                                   "deleted": False}}, upsert=True) for doc in docs]
        self._db[collection].bulk_write(ops, ordered=False)
        return len(ops)

    @translate_errors
    def current(self, collection: str, resource_id: str) -> Stamped | None:
        """The stored document (a tombstone too) with its stamp, or None."""
        assert collection in (OFFERINGS, CATEGORIES)
        doc = self._db[collection].find_one({"id": resource_id}, {"_id": 0, "r": 1, "stamp": 1, "deleted": 1})
        if doc is None:
            return None
        return Stamped(decode(doc["r"]), doc.get("stamp"), bool(doc.get("deleted")))

    @translate_errors
    def write(self, collection: str, resource_id: str, document: dict[str, Any], *, deleted: bool, stamp: str,
              expected: Stamped | None) -> bool:
        """Store (or retire) one document if it is still as ``expected`` was read; False otherwise."""
        assert collection in (OFFERINGS, CATEGORIES)
        fields = {"r": encode(document), "updated": datetime.now(UTC), "seq": self.bump_version(),
                  "stamp": stamp, "deleted": deleted}
        return stamped_write(self._db[collection], {"id": resource_id}, fields, expected is not None,
                             expected.stamp if expected else None)

    @translate_errors
    def changes_since(self, seq: int) -> CatalogChanges:
        """Offerings and categories written after catalogue version ``seq``: id → document, or None
        for a retired one."""
        out: list[dict[str, dict[str, Any] | None]] = []
        for name in (OFFERINGS, CATEGORIES):
            found: dict[str, dict[str, Any] | None] = {}
            for doc in self._db[name].find({"seq": {"$gt": seq}}, {"_id": 0, "id": 1, "r": 1, "deleted": 1}):
                found[doc["id"]] = None if doc.get("deleted") else decode(doc["r"])
            out.append(found)
        return CatalogChanges(offerings=out[0], categories=out[1])

    @translate_errors
    def bump_version(self) -> int:
        return next_count(self._db, "catalog", also_set={"updated": datetime.now(UTC)})

    @translate_errors
    def version(self) -> int:
        doc = self._db[COUNTERS].find_one({"_id": "catalog"})
        return int(doc["version"]) if doc else 0

    @translate_errors
    def offerings(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[OFFERINGS].find(LIVE, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def categories(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[CATEGORIES].find(LIVE, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def counts(self) -> dict[str, int]:
        return {name: self._db[name].count_documents(LIVE) for name in (OFFERINGS, CATEGORIES)}
