"""Events received by the client-side listener endpoints, kept for inspection."""

from __future__ import annotations

from pymongo import DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from services.ports import Document
from storage.codec import decode, encode
from storage.mongo import translate_errors

COLLECTION = "listenerEvent"


class MongoListenerEventRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._col: Collection = db[COLLECTION]  # type: ignore[type-arg]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([
            IndexModel([("receivedAt", DESCENDING)], name="received"),
            IndexModel([("eventType", DESCENDING), ("receivedAt", DESCENDING)], name="type_received"),
        ])

    @translate_errors
    def add(self, record: Document) -> None:
        self._col.insert_one({**record, "event": encode(record["event"])})

    @translate_errors
    def count(self) -> int:
        return self._col.estimated_document_count()

    @translate_errors
    def recent(self, limit: int, event_type: str | None = None) -> list[Document]:
        query = {"eventType": event_type} if event_type else {}
        cursor = self._col.find(query, {"_id": 0}).sort("receivedAt", DESCENDING).limit(limit)
        return [{**doc, "event": decode(doc["event"])} for doc in cursor]
