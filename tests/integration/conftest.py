from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient


@pytest.fixture
def db(mongo_uri: str, db_name: str) -> Iterator[Any]:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    yield client[db_name]
    client.close()
