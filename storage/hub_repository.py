"""Event subscriptions (``/hub``) in MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from services.ports import Document
from storage.mongo import translate_errors

COLLECTION = "hub"
OWNER = "owner"  # the registering party (per-party restriction); never returned
API = "api"  # the API whose hub took the subscription (absent: TMF680's); never returned
_HIDDEN = {"_id": 0, "created": 0, OWNER: 0, API: 0}


class MongoHubRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._col: Collection = db[COLLECTION]  # type: ignore[type-arg]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([IndexModel([("id", ASCENDING)], unique=True, name="id_unique")])

    @translate_errors
    def add(self, subscription: Document, owner: str | None = None, api: str | None = None) -> None:
        extra = {key: value for key, value in ((OWNER, owner), (API, api)) if value is not None}
        self._col.insert_one({**subscription, "created": datetime.now(UTC), **extra})

    @translate_errors
    def delete(self, subscription_id: str, owner: str | None = None, api: str | None = None) -> bool:
        """Remove one subscription of ``api``'s hub (only ``owner``'s, when given)."""
        found: dict[str, object] = {"id": subscription_id, API: api}  # None also matches "absent"
        if owner is not None:
            found[OWNER] = owner
        return self._col.delete_one(found).deleted_count == 1

    @translate_errors
    def get(self, subscription_id: str) -> Document | None:
        return self._col.find_one({"id": subscription_id}, _HIDDEN)

    @translate_errors
    def count(self) -> int:
        return self._col.count_documents({})

    @translate_errors
    def all(self) -> list[Document]:
        """Every subscription, oldest first, with its ``owner`` and ``api`` when it has them (for the
        relay's matching; API answers never come from here)."""
        return list(self._col.find({}, {"_id": 0, "created": 0}).sort("created", ASCENDING))
