"""MongoDB client construction and the translation of driver failures into domain errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from pymongo import InsertOne, MongoClient, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from services.errors import InvalidRequest, StoreUnavailable

DUPLICATE_KEY = 11000
NAMESPACE_EXISTS = 48  # create: the collection exists
_OVERFLOW = 15  # MongoDB's error code for a document nested deeper than it stores (about 180 levels)

P = ParamSpec("P")
R = TypeVar("R")


def make_client(uri: str, timeout_ms: int, app_name: str = "tmf680",
                write_concern: str = "1") -> MongoClient:  # type: ignore[type-arg]
    """A client for one process. pymongo clients are not fork-safe: build one per worker.

    Every write is acknowledged (``w`` = a number of nodes, or ``majority`` on a replica set, which
    also waits for the journal there by default), so a 201 is only answered once MongoDB has the
    resource."""
    return MongoClient(
        uri,
        appname=app_name,
        w=int(write_concern) if write_concern.isdigit() else write_concern,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 2, 10_000),
        connect=False,
    )


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn driver failures into domain errors so no caller needs to know pymongo."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ExecutionTimeout as exc:
            raise InvalidRequest("the query took too long; narrow the filter or the regular expression") from exc
        except (ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout, ConnectionFailure, WTimeoutError) as exc:
            raise StoreUnavailable(f"the database is unavailable: {type(exc).__name__}") from exc
        except OperationFailure as exc:
            # a body nested deeper than MongoDB stores is the client's mistake, not a 500
            if exc.code == _OVERFLOW and "nested" in str(exc):
                raise InvalidRequest("the request body is nested too deeply") from exc
            raise
        except UnicodeEncodeError as exc:  # JSON can escape a lone surrogate ("\\ud800"); BSON strings cannot
            raise InvalidRequest("the request holds a lone UTF-16 surrogate, which is not a Unicode character") from exc

    return wrapper


COUNTERS = "versions"  # one document per counter: the catalogue and model versions, the event sequence


def next_count(db: Database, name: str, field: str = "version", also_set: Mapping[str, Any] | None = None,
               by: int = 1) -> int:
    """Increment the counter ``name`` atomically by ``by`` (created at ``by``) and return its new value."""
    update: dict[str, Any] = {"$inc": {field: by}}
    if also_set:
        update["$set"] = dict(also_set)
    doc = db[COUNTERS].find_one_and_update({"_id": name}, update, upsert=True, return_document=ReturnDocument.AFTER)
    assert doc is not None  # upsert=True always returns the document
    return int(doc[field])


def add_to_count(db: Database, name: str, field: str, by: int) -> None:
    """``next_count`` without reading the new value back (an update, not a find-and-modify)."""
    db[COUNTERS].update_one({"_id": name}, {"$inc": {field: by}}, upsert=True)


def read_count(db: Database, name: str, field: str = "version") -> int:
    """The counter's current value (0 before its first increment)."""
    doc = db[COUNTERS].find_one({"_id": name}, {field: 1})
    return int(doc.get(field, 0)) if doc else 0


# A lease is ``{owner, until}`` in the leased document: whoever holds an unexpired one does the work
# (a task, a delivery, a training run); a holder that dies stops renewing and the lease runs out.
def new_lease(owner: str, now: datetime, lease_s: float) -> dict[str, Any]:
    return {"owner": owner, "until": now + timedelta(seconds=lease_s)}


def lease_free(now: datetime) -> dict[str, Any]:
    """Filter: the document has no lease, or its lease ran out."""
    return {"$or": [{"lease": None}, {"lease.until": {"$lt": now}}]}


def stamped_write_many(col: Collection,  # type: ignore[type-arg]
                       items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], str | None, bool]]) -> list[bool]:
    """Write each (key, fields, expected stamp, exists) only if its document is still as read: absent
    (``exists`` false), or with the ``stamp`` read (None also matches a document without one); one
    unordered bulk write. Per item, False when another write came first: the caller reads again and
    decides again (optimistic concurrency, no lock). ``fields`` holds the new ``stamp``."""
    if not items:
        return []
    ops: list[InsertOne[Any] | UpdateOne] = [
        UpdateOne({**key, "stamp": expected}, {"$set": dict(fields)}) if exists else InsertOne({**key, **fields})
        for key, fields, expected, exists in items]
    written = [True] * len(items)
    try:
        matched = col.bulk_write(ops, ordered=False).matched_count
    except BulkWriteError as exc:
        for k in _duplicates(exc):  # an insert whose document exists by now
            written[k] = False
        matched = int(exc.details.get("nMatched", 0))
    updates = [k for k, (_, _, _, exists) in enumerate(items) if exists]
    if matched < len(updates):  # which updates found their document changed: the stamps now stored tell
        keys = [items[k][0] for k in updates]
        names = sorted(keys[0])
        now = {tuple(d.get(n) for n in names): d.get("stamp")
               for d in col.find({"$or": keys}, {"_id": 0, "stamp": 1, **dict.fromkeys(names, 1)})}
        for k in updates:
            key, fields, _, _ = items[k]
            written[k] = now.get(tuple(key[n] for n in names)) == fields["stamp"]
    return written


def stamped_put_many(col: Collection,  # type: ignore[type-arg]
                     items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], str]]) -> list[bool]:
    """Insert or replace each document ``key`` with ``fields`` and ``stamp``, unless the stored one has
    a stamp at least as great (a duplicate or an older event); per item, whether it was written.

    New documents (the usual case: a create event) go in with one unordered ``insert_many``, about a
    third of an upsert's work for mongod. Those that exist already are then put conditionally in one
    unordered bulk write; one whose stored stamp is not older fails there as a duplicate key error
    (the upsert's insert collided with the existing document). Two items for one document end as
    the newer of the two, whatever order mongod takes."""
    if not items:
        return []
    written = [True] * len(items)
    try:
        col.insert_many([{**key, **fields, "stamp": stamp} for key, fields, stamp in items], ordered=False)
        return written
    except BulkWriteError as exc:
        existing = _duplicates(exc)
    try:
        col.bulk_write([UpdateOne({**items[k][0], "$or": [{"stamp": None}, {"stamp": {"$lt": items[k][2]}}]},
                                  {"$set": {**items[k][1], "stamp": items[k][2]}}, upsert=True) for k in existing],
                       ordered=False)
    except BulkWriteError as exc:
        for n in _duplicates(exc):
            written[existing[n]] = False
    return written


def _duplicates(exc: BulkWriteError) -> list[int]:
    """The indexes of the writes that failed on a unique index; ``exc`` itself if others failed."""
    errors = exc.details.get("writeErrors", [])
    if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return sorted(e["index"] for e in errors)


SOURCE = "source"  # what loaded a document ("demo"), so that it can be removed as a whole


def tagged_update(fields: dict[str, Any], source: str | None, run: str | None) -> dict[str, Any]:
    """The ``$set`` of an import's write: ``fields``, the import ``run`` that wrote it (replacing
    imports take away what it did not write), and the ``source`` tag, removed when not given (a
    document the operator imports over a demo one is the operator's)."""
    extra: dict[str, Any] = {} if run is None else {"run": run}
    if source is None:
        return {"$set": {**fields, **extra}, "$unset": {SOURCE: ""}}
    return {"$set": {**fields, **extra, SOURCE: source}}
