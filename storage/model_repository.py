"""Trained models in MongoDB: JSON metadata in ``model``, arrays (``np.save`` bytes) in GridFS.

No pickle anywhere: a model is its metadata plus named numeric arrays. Versions are 1, 2, 3...;
the newest complete version is the one servers use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import gridfs
from pymongo import DESCENDING, IndexModel
from pymongo.database import Database

from storage.mongo import next_count, translate_errors

COLLECTION = "model"
BUCKET = "modelArrays"


class MongoModelRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db
        self._col = db[COLLECTION]
        self._fs = gridfs.GridFSBucket(db, bucket_name=BUCKET)

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([IndexModel([("version", DESCENDING)], unique=True, name="version_unique")])

    @translate_errors
    def save(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> int:
        """Store a model; it becomes visible (``latest_version``) only once every array is written."""
        version = next_count(self._db, "model")
        files = {name: self._fs.upload_from_stream(f"v{version}/{name}", blob, metadata={"version": version})
                 for name, blob in blobs.items()}
        self._col.insert_one({"version": version, "created": datetime.now(UTC), "meta": meta, "files": files,
                              "complete": True})
        return version

    @translate_errors
    def latest_version(self) -> int:
        doc = self._col.find_one({"complete": True}, {"version": 1}, sort=[("version", DESCENDING)])
        return int(doc["version"]) if doc else 0

    @translate_errors
    def latest_info(self) -> dict[str, Any] | None:
        """``version``, ``created`` and ``historySeq`` (the history change counter it was trained
        at; 0 when unknown) of the newest complete model, without its arrays."""
        doc = self._col.find_one({"complete": True}, {"version": 1, "created": 1, "meta.metadata.historySeq": 1},
                                 sort=[("version", DESCENDING)])
        if doc is None:
            return None
        return {"version": int(doc["version"]), "created": doc["created"],
                "historySeq": int(doc.get("meta", {}).get("metadata", {}).get("historySeq") or 0)}

    @translate_errors
    def load(self, version: int) -> tuple[dict[str, Any], dict[str, bytes], datetime] | None:
        doc = self._col.find_one({"version": version, "complete": True})
        if doc is None:
            return None
        blobs = {name: self._fs.open_download_stream(file_id).read() for name, file_id in doc["files"].items()}
        return doc["meta"], blobs, doc["created"]

    @translate_errors
    def versions(self, limit: int = 20) -> list[dict[str, Any]]:
        cursor = self._col.find({}, {"_id": 0, "files": 0, "meta.vocabulary": 0}).sort("version", DESCENDING)
        return list(cursor.limit(limit))

    @translate_errors
    def prune(self, keep: int = 3) -> int:
        """Delete all but the newest ``keep`` versions (and their arrays)."""
        old = list(self._col.find({}, {"version": 1, "files": 1}).sort("version", DESCENDING).skip(keep))
        for doc in old:
            for file_id in doc.get("files", {}).values():
                self._fs.delete(file_id)
            self._col.delete_one({"_id": doc["_id"]})
        return len(old)
