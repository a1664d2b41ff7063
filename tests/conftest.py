"""Shared fixtures. The real mongod is started once per test session, only if a test needs it.

``TMF680_TEST_MONGODB_URI`` points the suite at an existing MongoDB instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.settings import Settings
from runtime.embedded_mongo import EmbeddedMongo

BASE = "/tmf-api/recommendationManagement/v4"
TIERS = ("unit", "integration", "e2e", "contract", "robustness", "conformance")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts and tier != "unit":
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TMF680_TEST_MONGODB_URI")
    if configured:
        yield configured
        return
    # enableTestCommands: tests inject faults with configureFailPoint
    with EmbeddedMongo(tmp_path_factory.mktemp("mongod"), journal=False,
                       extra_args=("--setParameter", "enableTestCommands=1")) as mongo:
        yield mongo.uri


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
