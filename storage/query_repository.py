"""queryProductRecommendation resources in MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from services.list_query import ListQuery
from services.ports import Document, Page
from storage.codec import date_shadow, decode, encode
from storage.filters import RESOURCE, field_path, to_mongo_filter, to_projection, to_sort
from storage.mongo import translate_errors

COLLECTION = "queryProductRecommendation"
DEFAULT_SORT = [("created", DESCENDING), ("_id", DESCENDING)]


class MongoQueryRepository:
    def __init__(self, db: Database, query_timeout_ms: int = 5000) -> None:  # type: ignore[type-arg]
        self._col: Collection = db[COLLECTION]  # type: ignore[type-arg]
        self._timeout = query_timeout_ms

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([
            IndexModel([(f"{RESOURCE}.id", ASCENDING)], unique=True, name="id_unique"),
            IndexModel([("created", DESCENDING), ("_id", DESCENDING)], name="created_desc"),
            IndexModel([(field_path(("relatedParty", "id")), ASCENDING), ("created", DESCENDING)],
                       name="relatedParty_id"),
            IndexModel([(field_path(("state",)), ASCENDING), ("created", DESCENDING)], name="state"),
            IndexModel([(field_path(("name",)), ASCENDING)], name="name"),
            IndexModel([("dt.p", ASCENDING), ("dt.v", ASCENDING)], name="date_times"),
        ])

    def _document(self, resource: Document, created: datetime) -> dict[str, Any]:
        return {RESOURCE: encode(resource), "dt": date_shadow(resource), "created": created}

    @translate_errors
    def add(self, resource: Document) -> None:
        self._col.insert_one(self._document(resource, datetime.now(UTC)))

    @translate_errors
    def replace(self, resource: Document) -> None:
        self._col.update_one(
            {f"{RESOURCE}.id": resource["id"]},
            {"$set": {RESOURCE: encode(resource), "dt": date_shadow(resource)}},
        )

    @translate_errors
    def get(self, resource_id: str, fields: tuple[str, ...] | None = None) -> Document | None:
        found = self._col.find_one({f"{RESOURCE}.id": resource_id}, to_projection(fields))
        return decode(found[RESOURCE]) if found else None

    @translate_errors
    def list(self, query: ListQuery) -> Page:
        mongo_filter = to_mongo_filter(query)
        total = self._col.count_documents(mongo_filter, maxTimeMS=self._timeout)
        if query.limit == 0 or query.offset >= total:
            return Page(items=[], total=total)
        cursor = (
            self._col.find(mongo_filter, to_projection(query.fields))
            .sort(to_sort(query, DEFAULT_SORT))
            .skip(query.offset)
            .limit(query.limit)
            .max_time_ms(self._timeout)
        )
        return Page(items=[decode(doc[RESOURCE]) for doc in cursor], total=total)
