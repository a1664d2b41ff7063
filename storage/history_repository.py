"""Customer history (TMF637 products, TMF622 orders) as the engine reads it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database

from services.history import ORDER, HistoryRecord
from storage.codec import encode
from storage.mongo import translate_errors

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

    @translate_errors
    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]]) -> int:
        """Insert or replace (record, original document) pairs by kind and id."""
        ops = [
            UpdateOne(
                {"kind": rec.kind, "id": rec.id},
                {"$set": {
                    "kind": rec.kind, "id": rec.id, "customers": list(rec.customer_ids),
                    "offerings": list(rec.offering_ids), "heldStatus": rec.held_status, "signal": rec.signal,
                    "start": rec.start, "end": rec.end,
                    "orderItems": [{"i": i, "o": o} for i, o in rec.order_items],
                    "r": encode(doc),
                }},
                upsert=True,
            )
            for rec, doc in records
        ]
        if ops:
            self._col.bulk_write(ops, ordered=False)
        return len(ops)

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
