"""Registering this component's listener at another TMF API's notification hub (TMF630:
``POST {api}/hub`` with ``{callback, query}``, ``DELETE {api}/hub/{id}``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from outbound.retry import RETRY_STATUSES, Failure, RetryingClient
from services.subscriptions import HubFailure, Registration


class HubError(HubFailure):
    """The hub refused the request, answered something unusable, or kept failing."""


class HubClient(RetryingClient):
    """One TMF API's hub. Connection errors, 429 and 5xx are retried with backoff; a repeated
    DELETE finds nothing, which counts as done.

    Registering is idempotent where the hub lists its subscriptions (``GET {api}/hub``, which the
    TMF v4 documents do not declare but many hubs offer): before a POST, and before each retry of a
    POST the hub may have carried out (a timeout or a lost connection after sending, a 5xx), the
    subscriptions with this callback and query are looked up and an existing one is taken instead of
    registering again; duplicates a late-landing attempt left are deleted. A hub that does not list
    (404, 405, anything but a JSON array) can end up with two subscriptions after such a retry: the
    ``Registration`` says so (``unchecked``), and the listener ignores the duplicate events."""

    def __init__(self, api_root: str, *, retries: int = 5, timeout_s: float = 30.0, backoff_s: float = 0.5,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(retries=retries, timeout_s=timeout_s, backoff_s=backoff_s, client=client, sleep=sleep)
        self.api_root = api_root.rstrip("/")
        self.hub_url = f"{self.api_root}/hub"
        self._unlisted = False  # the hub answered a lookup with something else than a list: not asked again

    def register(self, callback: str, query: str | None) -> Registration:
        """This callback's subscription at the hub: an existing one, or a new ``POST``."""
        found = self.find(callback, query)
        if found:
            return self._keep_one(found, None)
        body: dict[str, Any] = {"callback": callback}
        if query:
            body["query"] = query
        what = f"POST {self.hub_url}"
        retrying = self._retrying
        uncertain = False  # an earlier attempt may have registered
        failure: Failure | None = None
        for attempt in range(retrying.retries + 1):
            if failure is not None:
                retrying.pause(attempt - 1, what, failure)
                if uncertain and (found := self.find(callback, query)):
                    return self._keep_one(found, None)
            outcome = retrying.attempt(what, lambda: self._client.post(self.hub_url, json=body), (200, 201),
                                       HubError)
            if isinstance(outcome, httpx.Response):
                subscription_id = self._subscription_id(what, outcome)
                if not uncertain:
                    return Registration(subscription_id)
                listed = self.find(callback, query)
                if listed is None:
                    return Registration(subscription_id, unchecked=True)
                return self._keep_one(listed, subscription_id)
            failure = outcome
            uncertain = uncertain or outcome.maybe_done
        assert failure is not None
        if uncertain and (found := self.find(callback, query)):  # the hub recovered: it may hold one
            return self._keep_one(found, None)
        raise HubError(retrying.spent(what, failure))

    def find(self, callback: str, query: str | None) -> list[dict[str, Any]] | None:
        """The hub's subscriptions with this callback and query (``GET {api}/hub?callback=...``,
        filtered here too), oldest first as listed; None when the hub does not list them (or did
        not answer)."""
        if self._unlisted:
            return None
        self._retrying.requests += 1
        try:
            response = self._client.get(self.hub_url, params={"callback": callback})
        except httpx.HTTPError:
            return None
        try:
            listed = response.json() if response.status_code in (200, 206) else None
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            self._unlisted = response.status_code not in RETRY_STATUSES
            return None
        return [s for s in listed if isinstance(s, dict) and s.get("id") not in (None, "")
                and s.get("callback") == callback and (s.get("query") or None) == (query or None)]

    def _keep_one(self, found: list[dict[str, Any]], new_id: str | None) -> Registration:
        """Keep ``new_id`` (or the first found when None) and delete the others: they would
        duplicate every event. ``found`` empty with ``new_id``: the new one is not listed yet."""
        ids = [str(s["id"]) for s in found]
        keep = new_id if new_id is not None else ids[0]
        removed = sum(self.unregister(other) for other in ids if other != keep)
        return Registration(keep, found=new_id is None, duplicates_removed=removed)

    def unregister(self, subscription_id: str) -> bool:
        """Remove the subscription; False when the hub does not know it (already removed)."""
        url = f"{self.hub_url}/{quote(subscription_id, safe='')}"
        response = self._retrying.send(f"DELETE {url}", lambda: self._client.delete(url), (200, 202, 204, 404),
                                       HubError)
        return response.status_code != 404

    @staticmethod
    def _subscription_id(what: str, response: httpx.Response) -> str:
        try:
            subscription = response.json()
        except ValueError as exc:
            raise HubError(f"{what}: the answer is not JSON") from exc
        if not isinstance(subscription, dict) or subscription.get("id") in (None, ""):
            raise HubError(f"{what}: the answer has no subscription id")
        return str(subscription["id"])
