"""Customer history (TMF637 products, TMF622 orders) as the engine reads it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from services.history import ORDER, HistoryRecord
from services.ports import Stamped
from storage.codec import decode, encode
from storage.mongo import stamped_put, stamped_write, translate_errors

COLLECTION = "customerHistory"


class MongoHistoryRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._col = db[COLLECTION]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([
            IndexModel([("customers", ASCENDING), ("heldStatus", ASCENDING)], name="customer_held"),
            IndexModel([("kind", ASCENDING), ("id", ASCENDING)], unique=True, name="kind_id"),
        ])

    @staticmethod
    def _fields(rec: HistoryRecord, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": rec.kind, "id": rec.id, "customers": list(rec.customer_ids),
            "offerings": list(rec.offering_ids), "heldStatus": rec.held_status, "signal": rec.signal,
            "start": rec.start, "end": rec.end,
            "orderItems": [{"i": i, "o": o} for i, o in rec.order_items],
            "r": encode(doc), "deleted": False,
        }

    @translate_errors
    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]]) -> int:
        """Insert or replace (record, original document) pairs by kind and id."""
        ops = [UpdateOne({"kind": rec.kind, "id": rec.id}, {"$set": self._fields(rec, doc)}, upsert=True)
               for rec, doc in records]
        if ops:
            self._col.bulk_write(ops, ordered=False)
        return len(ops)

    @translate_errors
    def current(self, kind: str, resource_id: str) -> Stamped | None:
        """The stored product or order (a removed one too) with its stamp, or None."""
        doc = self._col.find_one({"kind": kind, "id": resource_id}, {"_id": 0, "r": 1, "stamp": 1, "deleted": 1})
        if doc is None:
            return None
        return Stamped(decode(doc["r"]), doc.get("stamp"), bool(doc.get("deleted")))

    @translate_errors
    def write(self, kind: str, resource_id: str, record: HistoryRecord | None, document: dict[str, Any], *,
              stamp: str, expected: Stamped | None) -> bool:
        """Store one product or order (``record`` None: removed, a tombstone that holds nothing and
        trains nothing) if it is still as ``expected`` was read; False otherwise."""
        if record is None:
            fields: dict[str, Any] = {"kind": kind, "id": resource_id, "customers": [], "offerings": [],
                                      "heldStatus": False, "signal": False, "start": None, "end": None,
                                      "orderItems": [], "r": encode(document), "deleted": True}
        else:
            fields = self._fields(record, document)
        return stamped_write(self._col, {"kind": kind, "id": resource_id}, {**fields, "stamp": stamp},
                             expected is not None, expected.stamp if expected else None)

    @translate_errors
    def put_if_newer(self, record: HistoryRecord, document: dict[str, Any], stamp: str) -> bool:
        """Store one whole product or order unless the stored one's stamp is not older (one round trip)."""
        return stamped_put(self._col, {"kind": record.kind, "id": record.id}, self._fields(record, document), stamp)

    @translate_errors
    def held_offerings(self, customer_id: str, now: datetime) -> frozenset[str]:
        """Offerings the customer holds now (current products, orders in flight): one indexed query."""
        cursor = self._col.find(
            {"customers": customer_id, "heldStatus": True, "$or": [{"end": None}, {"end": {"$gt": now}}]},
            {"_id": 0, "offerings": 1},
        )
        return frozenset(o for doc in cursor for o in doc["offerings"])

    @translate_errors
    def order_offerings(self, order_ids: Iterable[str], item_refs: Iterable[tuple[str, str]] = ()) -> frozenset[str]:
        """Offerings of whole orders, and of (order id, order item id) items, from imported orders."""
        order_ids = list(dict.fromkeys(order_ids))
        items = list(dict.fromkeys(item_refs))
        wanted = list(dict.fromkeys([*order_ids, *(o for o, _ in items)]))
        if not wanted:
            return frozenset()
        found: set[str] = set()
        whole = set(order_ids)
        pairs = set(items)
        for doc in self._col.find({"kind": ORDER, "id": {"$in": wanted}}, {"_id": 0, "id": 1, "orderItems": 1}):
            for item in doc.get("orderItems", []):
                if doc["id"] in whole or (doc["id"], item["i"]) in pairs:
                    found.add(item["o"])
        return frozenset(found)

    @translate_errors
    def interactions(self) -> Iterator[tuple[str, str]]:
        """(customer id, offering id) training pairs from every signal-bearing document."""
        cursor = self._col.find({"signal": True}, {"_id": 0, "customers": 1, "offerings": 1}, batch_size=5000)
        for doc in cursor:
            for customer in doc["customers"]:
                for offering in doc["offerings"]:
                    yield customer, offering

    @translate_errors
    def current_holdings(self, now: datetime) -> dict[str, frozenset[str]]:
        """Customer id → offerings held now, for every customer (offline evaluation)."""
        held: dict[str, set[str]] = {}
        cursor = self._col.find(
            {"heldStatus": True, "$or": [{"end": None}, {"end": {"$gt": now}}]},
            {"_id": 0, "customers": 1, "offerings": 1}, batch_size=5000)
        for doc in cursor:
            for customer in doc["customers"]:
                held.setdefault(customer, set()).update(doc["offerings"])
        return {c: frozenset(o) for c, o in held.items()}

    @translate_errors
    def count(self) -> int:
        return self._col.estimated_document_count()
