from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tmf620)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tmf-api/productCatalogManagement/v4"
    server.shutdown()
    server.server_close()
