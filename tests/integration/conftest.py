from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from storage.catalog_repository import MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository


@pytest.fixture
def db(mongo_uri: str, db_name: str) -> Iterator[Any]:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    yield client[db_name]
    client.close()


@pytest.fixture
def catalog(db: Any) -> MongoCatalogRepository:
    repo = MongoCatalogRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def history(db: Any) -> MongoHistoryRepository:
    repo = MongoHistoryRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def models(db: Any) -> MongoModelRepository:
    repo = MongoModelRepository(db)
    repo.ensure_indexes()
    return repo
