"""Trained models in MongoDB: JSON metadata in ``model``, arrays (``np.save`` bytes) in GridFS.

No pickle anywhere: a model is its metadata plus named numeric arrays. Versions are 1, 2, 3...;
the newest complete version is the one servers use. Each array's SHA-256 is kept with the version:
servers map the arrays from a per-machine file cache (``storage/model_cache.py``) keyed by it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import gridfs
import numpy as np
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database

from recommender.serialization import array_from_bytes
from storage.mongo import next_count, translate_errors

COLLECTION = "model"
BUCKET = "modelArrays"
DOWNLOAD_BATCH_CHUNKS = 4


@dataclass(frozen=True)
class StoredArray:
    """One array of a stored model: its GridFS file and content hash (None for models stored before
    hashes were kept)."""

    file_id: Any
    sha256: str | None


@dataclass(frozen=True)
class StoredModel:
    version: int
    meta: dict[str, Any]
    created: datetime
    arrays: dict[str, StoredArray]


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
        hashes = {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}
        self._col.insert_one({"version": version, "created": datetime.now(UTC), "meta": meta, "files": files,
                              "sha256": hashes, "complete": True})
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
    def load_arrays(self, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray], datetime] | None:
        """The model's metadata and arrays, read into this process's memory."""
        loaded = self.load(version)
        if loaded is None:
            return None
        meta, blobs, created = loaded
        return meta, {name: array_from_bytes(blob) for name, blob in blobs.items()}, created

    @translate_errors
    def stored(self, version: int) -> StoredModel | None:
        """What a version is made of, without reading its arrays."""
        doc = self._col.find_one({"version": version, "complete": True})
        if doc is None:
            return None
        hashes = doc.get("sha256") or {}
        arrays = {name: StoredArray(file_id, hashes.get(name)) for name, file_id in doc["files"].items()}
        return StoredModel(version, doc["meta"], doc["created"], arrays)

    @translate_errors
    def download(self, file_id: Any, destination: IO[bytes]) -> None:
        """Stream one array's bytes (``np.save`` format) into ``destination``, a few GridFS chunks
        (255 kB each) per round trip: GridFS's own reader asks for 16 MB batches, and a serving
        worker that downloads the model for the machine would keep that heap (measured: 32 MB more
        private memory than the other workers)."""
        files = self._db[f"{BUCKET}.files"].find_one({"_id": file_id}, {"length": 1})
        if files is None:
            raise gridfs.errors.NoFile(f"no model array file {file_id!r}")
        expected, written = int(files["length"]), 0
        chunks = self._db[f"{BUCKET}.chunks"].find({"files_id": file_id}, {"_id": 0, "n": 1, "data": 1},
                                                   sort=[("n", ASCENDING)], batch_size=DOWNLOAD_BATCH_CHUNKS)
        for number, chunk in enumerate(chunks):
            if chunk["n"] != number:
                raise gridfs.errors.CorruptGridFile(f"model array file {file_id!r} lacks chunk {number}")
            destination.write(chunk["data"])
            written += len(chunk["data"])
        if written != expected:
            raise gridfs.errors.CorruptGridFile(f"model array file {file_id!r}: {written} of {expected} bytes")

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
