"""The task lifecycle of asynchronous queries: accepted → inProgress → done | terminatedWithError."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from services.events import STATE_CHANGE_EVENT, EventFactory
from services.ports import Document

log = logging.getLogger(__name__)


class TaskStore(Protocol):
    def claim(self, owner: str, lease_s: float, now: datetime, event: Document) -> Document | None: ...

    def complete(self, resource: Document, owner: str, event: Document) -> bool: ...


class Recommender(Protocol):
    def recommend(self, resource: Mapping[str, Any]) -> Document: ...


class TaskRunner:
    """Claims one task at a time with a lease, computes it, and completes it if the lease still holds.

    A worker that dies mid-task simply stops: its lease runs out and another worker takes the task
    over. Completion is conditional on the lease owner, so a task is completed exactly once.
    """

    def __init__(self, store: TaskStore, recommender: Recommender, events: EventFactory, owner: str,
                 lease_s: float = 30.0, delay_s: float = 0.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._recommender = recommender
        self._events = events
        self.owner = owner
        self._lease_s = lease_s
        self._delay_s = delay_s  # test/demo knob: simulates a slow computation
        self._clock = clock
        self.completed = 0
        self.lost = 0

    def run_once(self) -> bool:
        """Process one task; False when there was none to claim."""
        claimed = self._store.claim(self.owner, self._lease_s, self._clock(),
                                    self._events(STATE_CHANGE_EVENT, {"state": "inProgress"}))
        if claimed is None:
            return False
        if self._delay_s:
            time.sleep(self._delay_s)
        try:
            result = self._recommender.recommend(claimed)
        except Exception as exc:
            log.exception("task %s failed", claimed.get("id"))
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            result = {**claimed, "state": "terminatedWithError", "stateReason": str(reason)[:500]}
        if self._store.complete(result, self.owner, self._events(STATE_CHANGE_EVENT, result)):
            self.completed += 1
            log.info("task %s %s", result.get("id"), result.get("state"))
        else:
            self.lost += 1
            log.warning("task %s: lease lost to another worker; result discarded", claimed.get("id"))
        return True
