"""Registering this component's listener at another TMF API's notification hub (TMF630:
``POST {api}/hub`` with ``{callback, query}``, ``DELETE {api}/hub/{id}``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from outbound.retry import RetryingClient


class HubError(RuntimeError):
    """The hub refused the request, answered something unusable, or kept failing."""


class HubClient(RetryingClient):
    """One TMF API's hub. Connection errors, 429 and 5xx are retried with backoff: a POST the hub
    handled but whose answer was lost can register twice, which only duplicates events (the
    listener is idempotent by event); a repeated DELETE finds nothing, which counts as done."""

    def __init__(self, api_root: str, *, retries: int = 5, timeout_s: float = 30.0, backoff_s: float = 0.5,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(retries=retries, timeout_s=timeout_s, backoff_s=backoff_s, client=client, sleep=sleep)
        self.api_root = api_root.rstrip("/")
        self.hub_url = f"{self.api_root}/hub"

    def register(self, callback: str, query: str | None) -> dict[str, Any]:
        """The hub's ``EventSubscription`` (``id``, ``callback``, ``query``) for this callback."""
        body: dict[str, Any] = {"callback": callback}
        if query:
            body["query"] = query
        response = self._retrying.send(f"POST {self.hub_url}", lambda: self._client.post(self.hub_url, json=body),
                                       (200, 201), HubError)
        try:
            subscription = response.json()
        except ValueError as exc:
            raise HubError(f"POST {self.hub_url}: the answer is not JSON") from exc
        if not isinstance(subscription, dict) or subscription.get("id") in (None, ""):
            raise HubError(f"POST {self.hub_url}: the answer has no subscription id")
        return {**subscription, "id": str(subscription["id"])}

    def unregister(self, subscription_id: str) -> bool:
        """Remove the subscription; False when the hub does not know it (already removed)."""
        url = f"{self.hub_url}/{quote(subscription_id, safe='')}"
        response = self._retrying.send(f"DELETE {url}", lambda: self._client.delete(url), (200, 202, 204, 404),
                                       HubError)
        return response.status_code != 404
