"""Pulling a catalogue from a TMF620 Product Catalog Management server, page by page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from outbound.retry import RetryingClient


class CatalogSyncError(RuntimeError):
    """The TMF620 server could not be read (after retries, or with a non-retryable answer)."""


class Tmf620Client(RetryingClient):
    def __init__(self, base_url: str, *, page_size: int = 100, retries: int = 5, timeout_s: float = 30.0,
                 backoff_s: float = 0.5, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(retries=retries, timeout_s=timeout_s, backoff_s=backoff_s, client=client, sleep=sleep)
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size

    def _get(self, url: str, params: dict[str, Any]) -> httpx.Response:
        return self._retrying.send(f"GET {url}", lambda: self._client.get(url, params=params), (200, 206),
                                   CatalogSyncError)

    def pages(self, resource: str) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Yield (page of documents, X-Total-Count if the server sent it) until the list ends."""
        url = f"{self.base_url}/{resource}"
        offset = 0
        while True:
            response = self._get(url, {"offset": offset, "limit": self.page_size})
            try:
                page = response.json()
            except ValueError as exc:
                raise CatalogSyncError(f"GET {url}: the answer is not JSON") from exc
            if not isinstance(page, list):
                raise CatalogSyncError(f"GET {url}: expected a JSON array, got {type(page).__name__}")
            total_header = response.headers.get("X-Total-Count", "")
            total = int(total_header) if total_header.isdigit() else None
            docs = [d for d in page if isinstance(d, dict)]
            yield docs, total
            offset += len(page)
            # a short page ends the list; so does an over-long one (the server ignored limit)
            if len(page) != self.page_size or (total is not None and offset >= total):
                return
