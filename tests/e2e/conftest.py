from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from local_http import LocalHTTPServer
from tmf620_fake import Tmf620

from app.factory import create_app
from app.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def tmf620() -> Iterator[str]:
    """A TMF620 server on a free port (tmf620_fake.Tmf620); its API root."""
    Tmf620.failures_left, Tmf620.calls = 1, []
    server = LocalHTTPServer(Tmf620)
    yield server.url("/tmf-api/productCatalogManagement/v4")
    server.close()
