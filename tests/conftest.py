"""Shared fixtures. The real mongod is started once per test session, only if a test needs it.

``TMF680_TEST_TOPOLOGY`` chooses it: ``standalone`` (the default: one mongod, no journal) or ``replset`` (a
3-member replica set of the same binary, ``runtime/replica_set.py``). ``TMF680_TEST_MONGODB_URI`` points the
suite at an existing MongoDB instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from app.settings import Settings
from runtime.embedded_mongo import EmbeddedMongo
from runtime.replica_set import ReplicaSet

BASE = "/tmf-api/recommendationManagement/v4"
TIERS = ("unit", "integration", "e2e", "contract", "robustness", "conformance")
TOPOLOGIES = ("standalone", "replset")
# enableTestCommands: tests inject faults with configureFailPoint
TEST_COMMANDS = ("--setParameter", "enableTestCommands=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts and tier != "unit":
                item.add_marker(getattr(pytest.mark, tier))


def _topology() -> str:
    topology = os.environ.get("TMF680_TEST_TOPOLOGY") or "standalone"
    if topology not in TOPOLOGIES:
        raise pytest.UsageError(f"TMF680_TEST_TOPOLOGY={topology!r}: expected one of {', '.join(TOPOLOGIES)}")
    return topology


@pytest.fixture(scope="session")
def test_mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo | ReplicaSet | None]:
    """The session's MongoDB processes (None: ``TMF680_TEST_MONGODB_URI`` names one we did not start)."""
    if os.environ.get("TMF680_TEST_MONGODB_URI"):
        yield None
    elif _topology() == "replset":
        # elections after 3 s without a primary (MongoDB's default 10 s): the fault tests kill the primary
        with ReplicaSet(tmp_path_factory.mktemp("replset"), election_timeout_ms=3_000, heartbeat_ms=500,
                        extra_args=TEST_COMMANDS) as replica_set:
            yield replica_set
    else:
        with EmbeddedMongo(tmp_path_factory.mktemp("mongod"), journal=False, extra_args=TEST_COMMANDS) as mongo:
            yield mongo


@pytest.fixture(scope="session")
def mongo_uri(test_mongo: EmbeddedMongo | ReplicaSet | None) -> str:
    return os.environ["TMF680_TEST_MONGODB_URI"] if test_mongo is None else test_mongo.uri


@pytest.fixture(scope="session")
def replica_set(test_mongo: EmbeddedMongo | ReplicaSet | None) -> ReplicaSet:
    """The session's replica set, for tests that step its primary down or kill it."""
    if not isinstance(test_mongo, ReplicaSet):
        pytest.skip("needs the replica-set topology (TMF680_TEST_TOPOLOGY=replset, tox -e replset)")
    return test_mongo


@pytest.fixture(scope="session")
def mongo_admin(mongo_uri: str) -> Iterator[MongoClient]:  # type: ignore[type-arg]
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    yield client
    client.close()


@pytest.fixture
def fail_point(mongo_admin: MongoClient) -> Iterator[Callable[..., None]]:  # type: ignore[type-arg]
    """``fail_point(name, mode, **data)`` on the session mongod (started with ``enableTestCommands``);
    every fail point set is turned off after the test."""
    names: list[str] = []

    def configure(name: str, mode: Any = "alwaysOn", **data: Any) -> None:
        names.append(name)
        mongo_admin.admin.command({"configureFailPoint": name, "mode": mode, "data": data})

    yield configure
    for name in names:
        mongo_admin.admin.command({"configureFailPoint": name, "mode": "off"})


@pytest.fixture
def db_name(mongo_uri: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(name)
    client.close()


@pytest.fixture
def settings(mongo_uri: str, db_name: str) -> Settings:
    # Background workers off: tests that need them turn them on and wait for their effects.
    # Callbacks to 127.0.0.1 are allowed: the tests run their listeners there.
    return Settings(mongodb_uri=mongo_uri, db_name=db_name, validate_responses=True, workers=False,
                    callback_allow="127.0.0.1")
