"""From the outbox to the subscribers: relay events, then deliver them to hub callbacks.

``Relay`` moves each pending outbox event to the event store (idempotently, by eventId), creates
one delivery per matching subscription, then removes it from the outbox: a crash anywhere in
between repeats work, never loses it. ``Dispatcher`` sends, for every subscription, its oldest
pending delivery (so one callback receives its events in order), retrying with exponential
backoff and jitter until ``retry_for_s`` has passed: at-least-once, with a stable ``eventId``.
Sends run in a thread pool, so a slow or dead callback holds only its own queue.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.events import compile_query, matches
from services.ports import Document

log = logging.getLogger(__name__)


class Outbox(Protocol):
    def outbox(self, limit: int = 100) -> list[tuple[Any, list[Document]]]: ...

    def owners(self, keys: list[Any]) -> dict[Any, str]: ...

    def ack_outbox(self, key: Any, event_id: str) -> None: ...


class Subscriptions(Protocol):
    def all(self) -> list[Document]: ...

    def get(self, subscription_id: str) -> Document | None: ...


class NotificationStore(Protocol):
    def store_event(self, event: dict[str, Any]) -> int: ...

    def event(self, event_id: str) -> dict[str, Any] | None: ...

    def add_delivery(self, subscription: dict[str, Any], event_id: str, seq: int, now: datetime) -> None: ...

    def heads(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]: ...

    def claim(self, delivery_id: str, owner: str, now: datetime, lease_s: float) -> dict[str, Any] | None: ...

    def delivered(self, delivery_id: str, owner: str, now: datetime) -> None: ...

    def retry_later(self, delivery_id: str, owner: str, error: str, next_at: datetime | None) -> None: ...


class SendOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def status(self) -> int | None: ...

    @property
    def error(self) -> str | None: ...


class Sender(Protocol):
    def send(self, url: str, event: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> SendOutcome: ...


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Relay:
    """Relays the outbox of every API: ``sources`` pairs each outbox with the ``api`` tag of its
    hub's subscriptions (None: TMF680's), so a subscription gets only its own API's events.

    ``per_party``: a subscription gets only the events of resources its own party created (both
    carry an ``owner``; events of ownerless resources go to no one), as the API shows each party
    only its own resources."""

    def __init__(self, sources: Outbox | list[tuple[Outbox, str | None]], subscriptions: Subscriptions,
                 store: NotificationStore, clock: Clock = _now, per_party: bool = False) -> None:
        self._sources = sources if isinstance(sources, list) else [(sources, None)]
        self._subscriptions = subscriptions
        self._store = store
        self._clock = clock
        self._per_party = per_party

    def run_once(self) -> int:
        """Relay every pending event; returns how many."""
        pending = [(outbox, api, outbox.outbox()) for outbox, api in self._sources]
        if not any(entries for _, _, entries in pending):
            return 0
        subscriptions = [(s, compile_query(s.get("query"))) for s in self._subscriptions.all()]
        return sum(self._relay(outbox, [(s, f) for s, f in subscriptions if s.get("api") == api], entries)
                   for outbox, api, entries in pending if entries)

    def _relay(self, outbox: Outbox, subscriptions: list[tuple[Document, Any]],
               pending: list[tuple[Any, list[Document]]]) -> int:
        owners = outbox.owners([key for key, _ in pending]) if self._per_party else {}
        relayed = 0
        for key, events in pending:
            audience = subscriptions
            if self._per_party:
                owner = owners.get(key)
                audience = [(s, f) for s, f in subscriptions if owner is not None and s.get("owner") == owner]
            for event in events:
                seq = self._store.store_event(event)
                for subscription, filters in audience:
                    if matches(filters, event):
                        self._store.add_delivery(subscription, event["eventId"], seq, self._clock())
                outbox.ack_outbox(key, event["eventId"])
                relayed += 1
        return relayed


@dataclass
class DeliveryCounters:
    attempts: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0


class Dispatcher:
    def __init__(self, store: NotificationStore, subscriptions: Subscriptions, sender: Sender, owner: str,
                 retry_for_s: float = 3600.0, backoff_s: float = 1.0, max_backoff_s: float = 300.0,
                 lease_s: float = 60.0, threads: int = 8, clock: Clock = _now) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._sender = sender
        self.owner = owner
        self._retry_for = timedelta(seconds=retry_for_s)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._lease_s = lease_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tmf680-delivery")
        self._in_flight: dict[str, Future[None]] = {}
        self.counters = DeliveryCounters()

    def close(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def run_once(self) -> int:
        """Start sending every due head of queue that is not in flight here; returns how many."""
        self._in_flight = {k: f for k, f in self._in_flight.items() if not f.done()}
        started = 0
        now = self._clock()
        for head in self._store.heads(now):
            if head["subscription"] in self._in_flight:
                continue
            claimed = self._store.claim(head["_id"], self.owner, now, self._lease_s)
            if claimed is None:
                continue
            self._in_flight[head["subscription"]] = self._pool.submit(self._deliver, claimed)
            started += 1
        return started

    def _backoff(self, attempts: int) -> float:
        base = min(self._max_backoff_s, self._backoff_s * 2 ** max(attempts - 1, 0))
        return base * (0.5 + random.random())

    def _deliver(self, delivery: dict[str, Any]) -> None:
        try:
            self._attempt(delivery)
        except Exception:  # a thread must not die silently; the lease lets it be retried
            log.exception("delivery %s crashed", delivery["_id"])

    def _attempt(self, delivery: dict[str, Any]) -> None:
        subscription = self._subscriptions.get(delivery["subscription"])
        event = self._store.event(delivery["eventId"])
        if subscription is None or event is None:
            self._store.retry_later(delivery["_id"], self.owner, "subscription or event gone", None)
            return
        self.counters.attempts += 1
        outcome = self._sender.send(subscription["callback"], event)
        now = self._clock()
        if outcome.ok:
            self.counters.delivered += 1
            self._store.delivered(delivery["_id"], self.owner, now)
            log.info("delivered %s %s to %s", event.get("eventType"), event.get("eventId"), subscription["callback"])
            return
        self.counters.failed_attempts += 1
        attempts = int(delivery.get("attempts", 0)) + 1
        created = delivery.get("created") or now
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        next_at: datetime | None = now + timedelta(seconds=self._backoff(attempts))
        if next_at is not None and next_at - created > self._retry_for:
            next_at = None
            self.counters.given_up += 1
        log.warning("delivery of %s to %s failed (attempt %d): %s%s", event.get("eventId"), subscription["callback"],
                    attempts, outcome.error or outcome.status, "; giving up" if next_at is None else "")
        self._store.retry_later(delivery["_id"], self.owner, str(outcome.error or outcome.status), next_at)
