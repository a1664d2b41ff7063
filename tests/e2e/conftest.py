from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.factory import create_app
from app.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    with app.test_client() as test_client:
        yield test_client
