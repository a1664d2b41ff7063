"""Relayed events and their deliveries to hub subscribers.

``event``: one document per event (``_id`` = eventId, so relaying twice stores it once) with a
global sequence number giving the order events happened in. ``delivery``: one document per
(subscription, event) (``_id`` = "subscription:event", so matching twice creates it once), with
its state, attempts, next attempt time and a short lease while a dispatcher is sending it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.codec import decode, encode
from storage.mongo import lease_free, new_lease, next_count, translate_errors

EVENTS = "event"
DELIVERIES = "delivery"
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


class MongoNotificationRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db
        self._events = db[EVENTS]
        self._deliveries = db[DELIVERIES]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._events.create_indexes([IndexModel([("seq", ASCENDING)], name="seq")])
        self._deliveries.create_indexes([
            IndexModel([("status", ASCENDING), ("subscription", ASCENDING), ("seq", ASCENDING)], name="queue"),
            IndexModel([("subscription", ASCENDING), ("status", ASCENDING)], name="subscription"),
        ])

    @translate_errors
    def store_event(self, event: dict[str, Any]) -> int:
        """Keep an event once; returns its sequence number (the first one's, if already stored)."""
        seq = next_count(self._db, "event", field="seq")
        try:
            self._events.insert_one({"_id": event["eventId"], "seq": seq,
                                     "eventType": event["eventType"], "payload": encode(event)})
            return seq
        except DuplicateKeyError:
            existing = self._events.find_one({"_id": event["eventId"]}, {"seq": 1})
            assert existing is not None
            return int(existing["seq"])

    @translate_errors
    def event(self, event_id: str) -> dict[str, Any] | None:
        found = self._events.find_one({"_id": event_id}, {"payload": 1})
        return decode(found["payload"]) if found else None

    @translate_errors
    def add_delivery(self, subscription: dict[str, Any], event_id: str, seq: int, now: datetime) -> None:
        self._deliveries.update_one(
            {"_id": f"{subscription['id']}:{event_id}"},
            {"$setOnInsert": {"subscription": subscription["id"], "callback": subscription["callback"],
                              "eventId": event_id, "seq": seq, "status": PENDING, "attempts": 0,
                              "created": now, "nextAt": now, "lastError": None}},
            upsert=True,
        )

    @translate_errors
    def heads(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """The oldest pending delivery of each subscription, when it is due and nobody sends it:
        one callback gets its events one at a time, in order."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"status": PENDING}},
            {"$sort": {"subscription": 1, "seq": 1}},
            {"$group": {"_id": "$subscription", "head": {"$first": "$$ROOT"}}},
            {"$replaceRoot": {"newRoot": "$head"}},
            {"$match": {"nextAt": {"$lte": now}, **lease_free(now)}},
            {"$sort": {"seq": 1}},
            {"$limit": limit},
        ]
        return list(self._deliveries.aggregate(pipeline))

    @translate_errors
    def claim(self, delivery_id: str, owner: str, now: datetime, lease_s: float) -> dict[str, Any] | None:
        return self._deliveries.find_one_and_update(
            {"_id": delivery_id, "status": PENDING, **lease_free(now)},
            {"$set": {"lease": new_lease(owner, now, lease_s)}},
            return_document=ReturnDocument.AFTER,
        )

    @translate_errors
    def delivered(self, delivery_id: str, owner: str, now: datetime) -> None:
        self._deliveries.update_one(
            {"_id": delivery_id, "lease.owner": owner},
            {"$set": {"status": DELIVERED, "deliveredAt": now, "lease": None}, "$inc": {"attempts": 1}})

    @translate_errors
    def retry_later(self, delivery_id: str, owner: str, error: str, next_at: datetime | None) -> None:
        """Count a failed attempt; ``next_at`` None gives up (``failed``)."""
        change: dict[str, Any] = {"lastError": error[:500], "lease": None}
        if next_at is None:
            change["status"] = FAILED
        else:
            change["nextAt"] = next_at
        self._deliveries.update_one({"_id": delivery_id, "lease.owner": owner},
                                    {"$set": change, "$inc": {"attempts": 1}})

    @translate_errors
    def cancel(self, subscription_id: str) -> int:
        """Unregistering stops delivery: the subscription's pending deliveries are cancelled."""
        result = self._deliveries.update_many({"subscription": subscription_id, "status": PENDING},
                                              {"$set": {"status": CANCELLED, "lease": None}})
        return result.modified_count

    @translate_errors
    def deliveries(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = {"status": status} if status else {}
        return list(self._deliveries.find(query).sort("seq", ASCENDING).limit(limit))

    @translate_errors
    def counts(self) -> dict[str, int]:
        pipeline = [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        return {str(row["_id"]): int(row["n"]) for row in self._deliveries.aggregate(pipeline)}
