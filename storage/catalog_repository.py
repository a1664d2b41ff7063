"""The TMF620 catalogue (productOffering, category) the engine recommends from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from services.ports import CatalogChanges, CatalogWrite, Stamped
from storage.codec import decode, encode
from storage.mongo import (
    COUNTERS,
    SOURCE,
    next_count,
    read_count,
    stamped_write_many,
    tagged_update,
    translate_errors,
)

OFFERINGS = "productOffering"
CATEGORIES = "category"
RETIRED = "Retired"  # the TMF620 lifecycleStatus given to offerings a replacing import left out
LIVE = {"deleted": {"$ne": True}}


class MongoCatalogRepository:
    """Idempotent upserts by id; every change bumps the catalogue version servers watch.

    Each document carries ``seq``, the catalogue version its last write took, so a server can read
    only what changed since the version it has (``changes_since``). A retired document stays as a
    tombstone (``deleted``) with the ``stamp`` of the event that retired it: an older event arriving
    later finds it and changes nothing, and servers see the retirement as a change. Removals by a
    replacing import or ``demo remove`` are tombstones too, for the same reason."""

    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db

    @translate_errors
    def ensure_indexes(self) -> None:
        for name in (OFFERINGS, CATEGORIES):
            self._db[name].create_indexes([IndexModel([("id", ASCENDING)], unique=True, name="id_unique"),
                                           IndexModel([("seq", ASCENDING)], name="seq")])

    @translate_errors
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]], source: str | None = None,
               run: str | None = None) -> int:
        """Insert or replace documents by ``id``; returns how many were written. ``source`` tags
        them (a later write without it removes the tag); ``run`` marks them as written by one import
        (``retire_absent``)."""
        assert collection in (OFFERINGS, CATEGORIES)
        now = datetime.now(UTC)
        docs = list(documents)
        if not docs:
            return 0
        seq = self.bump_version()
        ops = []
        for doc in docs:
            fields = {"id": str(doc["id"]), "r": encode(doc), "updated": now, "seq": seq, "deleted": False}
            ops.append(UpdateOne({"id": str(doc["id"])}, tagged_update(fields, source, run), upsert=True))
        self._db[collection].bulk_write(ops, ordered=False)
        return len(ops)

    @translate_errors
    def current_many(self, collection: str, resource_ids: Sequence[str]) -> dict[str, Stamped]:
        """The stored documents (tombstones too) with their stamps, by id; absent ones left out."""
        assert collection in (OFFERINGS, CATEGORIES)
        found = self._db[collection].find({"id": {"$in": [str(i) for i in resource_ids]}},
                                          {"_id": 0, "id": 1, "r": 1, "stamp": 1, "deleted": 1})
        return {doc["id"]: Stamped(decode(doc["r"]), doc.get("stamp"), bool(doc.get("deleted"))) for doc in found}

    @translate_errors
    def write_many(self, collection: str, writes: Sequence[CatalogWrite]) -> list[bool]:
        """Store (or retire) each document if it is still as ``expected`` was read, all under one new
        catalogue version; per write, whether it was written."""
        assert collection in (OFFERINGS, CATEGORIES)
        if not writes:
            return []
        now, seq = datetime.now(UTC), self.bump_version()
        return stamped_write_many(self._db[collection], [
            ({"id": w.resource_id}, {"r": encode(w.document), "updated": now, "seq": seq, "stamp": w.stamp,
                                     "deleted": w.deleted}, w.expected.stamp if w.expected else None,
             w.expected is not None) for w in writes])

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
    def retire_absent(self, run: str, before: datetime) -> dict[str, int]:
        """After the replacing import ``run``: offerings it did not write get ``lifecycleStatus:
        Retired`` (kept, never recommended again; a later import or event can bring them back),
        categories it did not write become tombstones (removed). Documents written after ``before``
        (events during the import) are left alone. Each change takes a new catalogue version."""
        absent = {"run": {"$ne": run}, "updated": {"$not": {"$gte": before}}, **LIVE}
        now = datetime.now(UTC)
        retired = self._db[OFFERINGS].update_many(
            {**absent, "r.lifecycleStatus": {"$ne": RETIRED}},
            {"$set": {"r.lifecycleStatus": RETIRED, "updated": now, "retiredAt": now,
                      "seq": self.bump_version()}}).modified_count
        removed = self._tombstones(CATEGORIES, absent)
        return {OFFERINGS: retired, CATEGORIES: removed}

    def _tombstones(self, collection: str, found: dict[str, Any]) -> int:
        return self._db[collection].update_many(
            {**found, **LIVE}, {"$set": {"deleted": True, "updated": datetime.now(UTC),
                                         "seq": self.bump_version()}}).modified_count

    @translate_errors
    def remove_source(self, source: str) -> dict[str, int]:
        """Remove (as tombstones) every live offering and category tagged ``source``."""
        return {name: self._tombstones(name, {SOURCE: source}) for name in (OFFERINGS, CATEGORIES)}

    @translate_errors
    def remove_untagged_copies(self, collection: str, documents: Mapping[str, dict[str, Any]]) -> tuple[int, int]:
        """Remove (as tombstones) the live documents without a ``source`` tag that are exactly
        ``documents[id]``; returns (removed, kept: those with such an id and other content)."""
        assert collection in (OFFERINGS, CATEGORIES)
        same: list[str] = []
        kept = 0
        for doc in self._db[collection].find({"id": {"$in": list(documents)}, SOURCE: {"$exists": False}, **LIVE},
                                             {"_id": 0, "id": 1, "r": 1}):
            if decode(doc["r"]) == documents[doc["id"]]:
                same.append(doc["id"])
            else:
                kept += 1
        removed = self._tombstones(collection, {"id": {"$in": same}, SOURCE: {"$exists": False}}) if same else 0
        return removed, kept

    @translate_errors
    def note_tagging(self, source: str) -> None:
        """Record that ``source`` documents carry their tag from now on: a store that has no such
        record may hold untagged ones, written before the tags existed."""
        next_count(self._db, f"tagged:{source}")

    @translate_errors
    def tagging_noted(self, source: str) -> bool:
        return read_count(self._db, f"tagged:{source}") > 0

    @translate_errors
    def count_source(self, source: str) -> dict[str, int]:
        return {name: self._db[name].count_documents({SOURCE: source, **LIVE}) for name in (OFFERINGS, CATEGORIES)}

    @translate_errors
    def bump_version(self) -> int:
        return next_count(self._db, "catalog", also_set={"updated": datetime.now(UTC)})

    @translate_errors
    def version(self) -> int:
        doc = self._db[COUNTERS].find_one({"_id": "catalog"})
        return int(doc["version"]) if doc else 0

    @translate_errors
    def version_written_before(self, when: datetime) -> int:
        """The newest version taken by a write that started before ``when``, a lower bound of the
        version at that time (a write stamps ``updated`` before it takes its version; a document
        written again since carries its later version): the seq index read from the newest down to
        the first older document."""
        newest = 0
        for name in (OFFERINGS, CATEGORIES):
            doc = self._db[name].find_one({"updated": {"$lt": when}, "seq": {"$gt": newest}}, {"_id": 0, "seq": 1},
                                          sort=[("seq", DESCENDING)])
            if doc is not None:
                newest = int(doc["seq"])
        return newest

    @translate_errors
    def offerings(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[OFFERINGS].find(LIVE, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def categories(self) -> list[dict[str, Any]]:
        return [decode(d["r"]) for d in self._db[CATEGORIES].find(LIVE, {"_id": 0, "r": 1}).sort("id", ASCENDING)]

    @translate_errors
    def counts(self) -> dict[str, int]:
        return {name: self._db[name].count_documents(LIVE) for name in (OFFERINGS, CATEGORIES)}
