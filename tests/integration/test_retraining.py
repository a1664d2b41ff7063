"""Retraining when the history changed, one trainer at a time (the train lease), on the real mongod."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.imports import import_history
from services.retraining import LEASE, Retrainer, RetrainPolicy
from storage.history_repository import MongoHistoryRepository
from storage.lease_repository import MongoLeaseRepository
from storage.model_repository import MongoModelRepository

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def products(customers: range, offerings: tuple[str, ...] = ("a", "b")) -> list[tuple[int, dict[str, Any]]]:
    docs = [{"id": f"p{c}-{o}", "@type": "Product", "status": "active", "productOffering": {"id": o},
             "relatedParty": [{"id": f"c{c}", "role": "customer"}]} for c in customers for o in offerings]
    return list(enumerate(docs, 1))


@pytest.fixture
def leases(db: Any) -> MongoLeaseRepository:
    return MongoLeaseRepository(db)


def retrainer(history: Any, models: MongoModelRepository, leases: MongoLeaseRepository, owner: str = "w1",
              after: int = 0, every_s: float = 0, clock: Any = None) -> Retrainer:
    return Retrainer(history, models, leases, owner, RetrainPolicy(after=after, every_s=every_s, check_s=0),
                     clock=clock or (lambda: datetime.now(UTC)))


def test_the_lease_has_one_holder_until_it_runs_out(leases: MongoLeaseRepository) -> None:
    assert leases.acquire("train", "a", NOW, 10)
    assert not leases.acquire("train", "b", NOW + timedelta(seconds=5), 10)
    assert leases.acquire("train", "a", NOW + timedelta(seconds=5), 10)  # the holder may take it again
    assert not leases.renew("train", "b", NOW, 10)
    assert leases.renew("train", "a", NOW + timedelta(seconds=9), 10)  # now until +19 s
    assert not leases.acquire("train", "b", NOW + timedelta(seconds=15), 10)
    assert leases.holder("train", NOW + timedelta(seconds=15)) == "a"
    assert leases.acquire("train", "b", NOW + timedelta(seconds=20), 10)  # a stopped renewing
    assert not leases.renew("train", "a", NOW + timedelta(seconds=21), 10)
    leases.release("train", "a")  # not a's any more: nothing happens
    assert leases.holder("train", NOW + timedelta(seconds=21)) == "b"
    leases.release("train", "b")
    assert leases.holder("train", NOW + timedelta(seconds=21)) is None
    assert leases.acquire("train", "a", NOW + timedelta(seconds=21), 10)


class SlowHistory(MongoHistoryRepository):
    """The real repository, reading its interactions slowly: two trainers overlap for certain."""

    def interactions(self) -> Iterator[tuple[str, str]]:
        time.sleep(0.5)
        yield from super().interactions()


def test_two_trainers_publish_one_model(db: Any, models: MongoModelRepository, leases: MongoLeaseRepository) -> None:
    history = SlowHistory(db)
    history.ensure_indexes()
    import_history(products(range(20)), history)
    trainers = [retrainer(history, models, leases, owner=f"w{i}", after=1) for i in range(2)]
    start = threading.Barrier(2)
    results: list[bool] = []

    def run(trainer: Retrainer) -> None:
        start.wait()
        results.append(trainer.run_once())

    threads = [threading.Thread(target=run, args=(t,)) for t in trainers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert models.latest_version() == 1 and [t.trained for t in trainers].count(1) == 1
    assert leases.holder(LEASE, datetime.now(UTC)) is None  # released after training


def test_a_held_lease_keeps_another_trainer_out(history: MongoHistoryRepository, models: MongoModelRepository,
                                                leases: MongoLeaseRepository) -> None:
    import_history(products(range(5)), history)
    assert leases.acquire(LEASE, "elsewhere", datetime.now(UTC), 60)
    trainer = retrainer(history, models, leases, after=1)
    assert trainer.due() == "no model yet"
    assert trainer.run_once() is False and models.latest_version() == 0
    leases.release(LEASE, "elsewhere")
    assert trainer.run_once() is True and models.latest_version() == 1


def test_retrains_after_enough_history_changes(history: MongoHistoryRepository, models: MongoModelRepository,
                                               leases: MongoLeaseRepository) -> None:
    trainer = retrainer(history, models, leases, after=5)
    assert trainer.due() is None  # no history, no model: nothing to do
    import_history(products(range(10)), history)  # 20 documents
    assert history.change_seq() == 20
    assert trainer.run_once() is True
    assert models.latest_info()["historySeq"] == 20  # type: ignore[index]
    import_history(products(range(10, 12)), history)  # 4 more: below 5
    assert trainer.due() is None and trainer.run_once() is False
    import_history(products(range(10, 12)), history)  # the same 4 written again: 8 changes
    assert trainer.due() == "8 history changes since model v1"
    assert trainer.run_once() is True and models.latest_version() == 2
    assert trainer.run_once() is False  # up to date


def test_retrains_when_the_model_is_old_and_anything_changed(history: MongoHistoryRepository,
                                                             models: MongoModelRepository,
                                                             leases: MongoLeaseRepository) -> None:
    now = [datetime.now(UTC)]
    trainer = retrainer(history, models, leases, after=1000, every_s=60, clock=lambda: now[0])
    import_history(products(range(10)), history)
    assert trainer.run_once() is True
    now[0] = models.latest_info()["created"] + timedelta(seconds=120)  # type: ignore[index]
    assert trainer.due() is None  # old, but nothing changed
    import_history(products(range(1)), history)  # 2 changes, far below 1000
    now[0] -= timedelta(seconds=100)
    assert trainer.due() is None  # 20 s old: not yet
    now[0] += timedelta(seconds=100)
    assert trainer.due() == "model v1 is 120 s old and 2 history changes came since"
    assert trainer.run_once() is True and models.latest_version() == 2


def test_nothing_to_train_on_is_not_retried_until_the_history_changes(
        history: MongoHistoryRepository, models: MongoModelRepository, leases: MongoLeaseRepository) -> None:
    trainer = retrainer(history, models, leases, after=1)
    import_history(products(range(3)), history)
    history.remove_absent("no-run", datetime.now(UTC) + timedelta(seconds=1))  # every document removed
    assert history.change_seq() == 12
    assert trainer.run_once() is False and models.latest_version() == 0  # no interactions to train on
    assert trainer.due() is None
    import_history(products(range(3)), history)
    assert trainer.run_once() is True


@pytest.mark.parametrize(("role", "in_server", "after", "expected"), [
    ("server", False, 1000, False), ("worker", False, 1000, True), ("server", True, 1000, True),
    ("worker", False, 0, False),
])
def test_who_retrains(settings: Any, role: str, in_server: bool, after: int, expected: bool) -> None:
    """Only ``tmf680 worker`` retrains unless TMF680_RETRAIN_IN_SERVER; both triggers 0: nobody."""
    from app.container import build_container

    container = build_container(settings.replace(retrain_in_server=in_server, retrain_after=after,
                                                 retrain_every_s=0 if not after else 3600), role)
    try:
        assert container.retrains is expected
        loops = {loop.name for loop in container.workers._loops}
        assert ("tmf680-retrain" in loops) is expected
    finally:
        container.close()
