"""Pulling a catalogue from a TMF620 Product Catalog Management server, page by page."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class CatalogSyncError(RuntimeError):
    """The TMF620 server could not be read (after retries, or with a non-retryable answer)."""


class Tmf620Client:
    def __init__(self, base_url: str, *, page_size: int = 100, retries: int = 5, timeout_s: float = 30.0,
                 backoff_s: float = 0.5, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False,
                                              headers={"Accept": "application/json"})
        self._sleep = sleep
        self.requests = 0
        self.retried = 0

    def close(self) -> None:
        self._client.close()

    def _get(self, url: str, params: dict[str, Any]) -> httpx.Response:
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (200, 206):
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise CatalogSyncError(f"GET {response.request.url} answered {response.status_code}: "
                                           f"{response.text[:200]}")
                problem = f"HTTP {response.status_code}"
            if attempt == self.retries:
                raise CatalogSyncError(f"GET {url} failed after {self.retries + 1} attempts: {problem}")
            self.retried += 1
            delay = self.backoff_s * (2 ** attempt) * (0.5 + random.random())
            log.warning("GET %s: %s; retrying in %.1f s", url, problem, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

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
