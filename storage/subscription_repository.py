"""This component's own subscriptions at other APIs' hubs (TMF620/TMF637/TMF622), so that
``tmf680 unsubscribe`` can remove them. Not to be confused with ``hub``: the subscriptions others
made at this server's hub."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

from storage.mongo import translate_errors

COLLECTION = "outboundSubscription"


class MongoSubscriptionRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._col = db[COLLECTION]

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([IndexModel([("api", ASCENDING), ("hub", ASCENDING)], unique=True,
                                             name="api_hub")])

    @translate_errors
    def add(self, api: str, hub: str, subscription_id: str, callback: str, query: str | None) -> None:
        """Record (or replace) the subscription held at ``hub`` for ``api``."""
        self._col.replace_one({"api": api, "hub": hub},
                              {"api": api, "hub": hub, "id": subscription_id, "callback": callback, "query": query,
                               "created": datetime.now(UTC)}, upsert=True)

    @translate_errors
    def find(self, api: str, hub: str) -> dict[str, Any] | None:
        return self._col.find_one({"api": api, "hub": hub}, {"_id": 0})

    @translate_errors
    def all(self, api: str | None = None) -> list[dict[str, Any]]:
        query = {"api": api} if api else {}
        return list(self._col.find(query, {"_id": 0}).sort([("api", ASCENDING), ("created", ASCENDING)]))

    @translate_errors
    def remove(self, api: str, hub: str) -> bool:
        return self._col.delete_one({"api": api, "hub": hub}).deleted_count == 1
