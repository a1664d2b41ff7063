"""MongoDB client construction and the translation of driver failures into domain errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from pymongo import MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from services.errors import InvalidRequest, StoreUnavailable

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


def next_count(db: Database, name: str, field: str = "version", also_set: Mapping[str, Any] | None = None) -> int:
    """Increment the counter ``name`` atomically (created at 1) and return its new value."""
    update: dict[str, Any] = {"$inc": {field: 1}}
    if also_set:
        update["$set"] = dict(also_set)
    doc = db[COUNTERS].find_one_and_update({"_id": name}, update, upsert=True, return_document=ReturnDocument.AFTER)
    assert doc is not None  # upsert=True always returns the document
    return int(doc[field])


def stamped_write(col: Collection, key: Mapping[str, Any], fields: Mapping[str, Any],  # type: ignore[type-arg]
                  exists: bool, expected_stamp: str | None) -> bool:
    """Write ``fields`` to the document ``key`` only if it is still as read: absent (``exists`` false),
    or with the ``stamp`` read (None also matches a document without one). False when another write
    came first; the caller reads again and decides again (optimistic concurrency, no lock)."""
    if not exists:
        try:
            col.insert_one({**key, **fields})
        except DuplicateKeyError:
            return False
        return True
    return col.update_one({**key, "stamp": expected_stamp}, {"$set": dict(fields)}).matched_count == 1


def stamped_put(col: Collection, key: Mapping[str, Any], fields: Mapping[str, Any],  # type: ignore[type-arg]
                stamp: str) -> bool:
    """Insert or replace the document ``key`` with ``fields`` and ``stamp`` in one round trip, unless
    the stored one has a stamp at least as great (then False: a duplicate or an older event)."""
    newer = {"$or": [{"stamp": None}, {"stamp": {"$lt": stamp}}]}
    try:
        col.update_one({**key, **newer}, {"$set": {**fields, "stamp": stamp}}, upsert=True)
    except DuplicateKeyError:  # the document exists and is not older: the upsert's insert collided
        return False
    return True
