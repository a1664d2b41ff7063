"""Retries with exponential backoff and jitter for the outbound clients (catalogue sync, hub
subscriptions): connection errors, 429 and 5xx are retried, other answers are final."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# Transport errors raised before the request left this process: the server cannot have acted on it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Failure:
    """One attempt that may be retried: what went wrong, and whether the server may have acted on
    the request anyway (a timeout or a lost connection after sending, a 5xx)."""

    problem: str
    maybe_done: bool


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
            outcome = self.attempt(what, request, accept, error)
            if isinstance(outcome, httpx.Response):
                return outcome
            if attempt == self.retries:
                raise error(self.spent(what, outcome))
            self.pause(attempt, what, outcome)
        raise AssertionError("unreachable")

    def attempt(self, what: str, request: Callable[[], httpx.Response], accept: Collection[int],
                error: Callable[[str], Exception]) -> httpx.Response | Failure:
        """One request: its response when accepted, a ``Failure`` when it may be retried;
        ``error(message)`` is raised for a final answer."""
        self.requests += 1
        try:
            response = request()
        except httpx.TransportError as exc:
            return Failure(f"{type(exc).__name__}: {exc}", maybe_done=not isinstance(exc, NOT_SENT))
        if response.status_code in accept:
            return response
        if response.status_code not in RETRY_STATUSES:
            raise error(f"{what} answered {response.status_code}: {response.text[:200]}")
        return Failure(f"HTTP {response.status_code}", maybe_done=response.status_code != 429)

    def spent(self, what: str, failure: Failure) -> str:
        return f"{what} failed after {self.retries + 1} attempts: {failure.problem}"

    def pause(self, attempt: int, what: str, failure: Failure) -> None:
        """The backoff before retry number ``attempt + 1``."""
        self.retried += 1
        delay = self.backoff_s * (2 ** attempt) * (0.5 + random.random())
        log.warning("%s: %s; retrying in %.1f s", what, failure.problem, delay)
        self._sleep(delay)


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
