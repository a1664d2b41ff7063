"""Retries with exponential backoff and jitter for the outbound clients (catalogue sync, hub
subscriptions): connection errors, 429 and 5xx are retried, other answers are final."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection

import httpx

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Retrying:
    """One client's retry policy; counts the requests it sent and how many were retried."""

    def __init__(self, retries: int = 5, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self.requests = 0
        self.retried = 0

    def send(self, what: str, request: Callable[[], httpx.Response], accept: Collection[int],
             error: Callable[[str], Exception]) -> httpx.Response:
        """``request()`` until it answers a status in ``accept``; ``error(message)`` is raised for
        another non-retryable status, or once the retries are spent. ``what`` names the request
        in messages (``GET https://...``)."""
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                response = request()
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in accept:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise error(f"{what} answered {response.status_code}: {response.text[:200]}")
                problem = f"HTTP {response.status_code}"
            if attempt == self.retries:
                raise error(f"{what} failed after {self.retries + 1} attempts: {problem}")
            self.retried += 1
            delay = self.backoff_s * (2 ** attempt) * (0.5 + random.random())
            log.warning("%s: %s; retrying in %.1f s", what, problem, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")


class RetryingClient:
    """An httpx client (JSON, no redirects followed) whose requests go through one ``Retrying``."""

    def __init__(self, *, retries: int, timeout_s: float, backoff_s: float, client: httpx.Client | None,
                 sleep: Callable[[float], None]) -> None:
        self._retrying = Retrying(retries, backoff_s, sleep)
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False,
                                              headers={"Accept": "application/json"})

    @property
    def requests(self) -> int:
        return self._retrying.requests

    @property
    def retried(self) -> int:
        return self._retrying.retried

    def close(self) -> None:
        self._client.close()
