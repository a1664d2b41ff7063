"""MongoDB client construction and the translation of driver failures into domain errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pymongo import MongoClient
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from services.errors import InvalidRequest, StoreUnavailable

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

    return wrapper
