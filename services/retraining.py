"""Models follow the data: retrain when enough of the history changed since the model's snapshot.

The history store counts every document written or removed (``change_seq``); a model records the
count it was trained at (``historySeq``). A new model is trained when ``after`` changes accumulated,
or when ``every_s`` passed since the model was made and anything changed at all (whichever comes
first; 0 turns a trigger off), and when there is history but no model yet. One trainer at a time
across processes: the run holds the ``train`` lease in MongoDB and renews it while it trains, so a
second process finds it taken and a dead trainer's lease runs out. Serving processes pick the new
version up through ``EngineProvider`` as for ``tmf680 train``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.training import InteractionSource, ModelStore, TrainingError, train_and_publish

log = logging.getLogger(__name__)
LEASE = "train"
KEEP_MODELS = 3


class LeaseStore(Protocol):
    def acquire(self, name: str, owner: str, now: datetime, lease_s: float) -> bool: ...

    def renew(self, name: str, owner: str, now: datetime, lease_s: float) -> bool: ...

    def release(self, name: str, owner: str) -> None: ...


class VersionedModels(ModelStore, Protocol):
    def latest_info(self) -> dict[str, Any] | None: ...

    def prune(self, keep: int = 3) -> int: ...


@dataclass(frozen=True)
class RetrainPolicy:
    after: int  # history changes that make a retraining due (0: never by count)
    every_s: float  # age of the model that makes a retraining due if anything changed (0: never by time)
    lease_s: float = 120.0  # the trainer's lease, renewed every third of it while training
    check_s: float = 1.0  # how often the store is asked whether a retraining is due

    @property
    def enabled(self) -> bool:
        return self.after > 0 or self.every_s > 0


class Retrainer:
    """The background step that retrains; ``run_once`` is called by a worker loop."""

    def __init__(self, history: InteractionSource, models: VersionedModels, leases: LeaseStore, owner: str,
                 policy: RetrainPolicy, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._history = history
        self._models = models
        self._leases = leases
        self._owner = owner
        self.policy = policy
        self._clock = clock
        self._monotonic = monotonic
        self._checked = float("-inf")
        self._nothing_at: int | None = None  # a change count at which there was nothing to train on
        self.trained = 0

    def due(self) -> str | None:
        """Why a retraining is due now, or None."""
        seq = self._history.change_seq()
        if seq == self._nothing_at:
            return None
        info = self._models.latest_info()
        if info is None:
            return "no model yet" if seq > 0 else None
        changed = seq - info["historySeq"]
        if changed <= 0:
            return None
        if self.policy.after and changed >= self.policy.after:
            return f"{changed} history changes since model v{info['version']}"
        age_s = (self._clock() - info["created"]).total_seconds()
        if self.policy.every_s and age_s >= self.policy.every_s:
            return f"model v{info['version']} is {age_s:.0f} s old and {changed} history changes came since"
        return None

    def run_once(self) -> bool:
        """Retrain if due and the lease is ours; True when a model was published."""
        if not self.policy.enabled or self._monotonic() - self._checked < self.policy.check_s:
            return False
        self._checked = self._monotonic()
        if self.due() is None:
            return False
        if not self._leases.acquire(LEASE, self._owner, self._clock(), self.policy.lease_s):
            return False  # another process is training
        try:
            reason = self.due()  # again under the lease: the previous holder may have just published
            if reason is None:
                return False
            return self._train(reason)
        finally:
            self._leases.release(LEASE, self._owner)

    def _train(self, reason: str) -> bool:
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(stop,), name="tmf680-train-lease", daemon=True)
        renewer.start()
        try:
            log.info("retraining: %s", reason)
            version, model = train_and_publish(self._history, self._models)
        except TrainingError as exc:
            self._nothing_at = self._history.change_seq()
            log.warning("retraining skipped: %s", exc)
            return False
        finally:
            stop.set()
            renewer.join()
        self._models.prune(keep=KEEP_MODELS)
        self.trained += 1
        log.info("model v%s published (%s, %d interactions, %.2f s)", version, model.kind,
                 model.metadata.get("nInteractions", 0), model.metadata.get("trainingSeconds", 0.0))
        return True

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(self.policy.lease_s / 3):
            try:
                renewed = self._leases.renew(LEASE, self._owner, self._clock(), self.policy.lease_s)
            except Exception as exc:  # the store is away for a moment: try again at the next third
                log.warning("renewing the training lease: %s", exc)
                continue
            if not renewed:
                log.warning("the training lease was lost; another trainer may publish too")
                return
