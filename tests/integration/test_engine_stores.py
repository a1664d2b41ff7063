"""Catalogue, history and model repositories against the real mongod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from recommender import TrainedModel, train
from services.history import parse_history
from services.recommendations import EngineProvider
from services.training import TrainingError, train_and_publish
from storage.catalog_repository import OFFERINGS, MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def catalog(db: Any) -> MongoCatalogRepository:
    repo = MongoCatalogRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def history(db: Any) -> MongoHistoryRepository:
    repo = MongoHistoryRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def models(db: Any) -> MongoModelRepository:
    repo = MongoModelRepository(db)
    repo.ensure_indexes()
    return repo


def product(pid: str, customer: str, offering: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "productOffering": {"id": offering}, "relatedParty": [{"id": customer, "role": "customer"}],
            **extra}


def store(history: MongoHistoryRepository, *docs: dict[str, Any]) -> None:
    history.upsert([(parse_history(d), d) for d in docs])


def test_catalog_upserts_are_idempotent_and_versioned(catalog: MongoCatalogRepository) -> None:
    assert catalog.version() == 0
    catalog.upsert(OFFERINGS, [{"id": "a", "name": "A", "$odd.key": 1}, {"id": "b", "name": "B"}])
    catalog.upsert(OFFERINGS, [{"id": "a", "name": "A2"}])
    assert catalog.version() == 2  # each batch written takes a version: servers read what changed since theirs
    assert catalog.changes_since(1).offerings == {"a": {"id": "a", "name": "A2"}}
    assert catalog.bump_version() == 3 and catalog.bump_version() == 4
    assert catalog.offerings() == [{"id": "a", "name": "A2"}, {"id": "b", "name": "B"}]
    assert catalog.counts() == {"productOffering": 2, "category": 0}


def test_held_offerings_follow_status_and_termination(history: MongoHistoryRepository) -> None:
    store(history,
          product("p1", "c1", "dsl"),
          product("p2", "c1", "tv", status="terminated"),
          product("p3", "c1", "phone", terminationDate=(NOW - timedelta(days=1)).isoformat()),
          product("p4", "c1", "backup", terminationDate=(NOW + timedelta(days=30)).isoformat()),
          product("p5", "c2", "fiber"),
          {"id": "o1", "state": "inProgress", "relatedParty": [{"id": "c1", "role": "customer"}],
           "productOrderItem": [{"id": "7", "productOffering": {"id": "security"}}]})
    assert history.held_offerings("c1", NOW) == {"dsl", "backup", "security"}
    assert history.current_holdings(NOW) == {"c1": frozenset({"dsl", "backup", "security"}),
                                             "c2": frozenset({"fiber"})}
    assert sorted(history.interactions()) == sorted([
        ("c1", "dsl"), ("c1", "tv"), ("c1", "phone"), ("c1", "backup"), ("c2", "fiber"), ("c1", "security")])
    assert history.order_offerings(["o1"]) == {"security"}
    assert history.order_offerings([], [("o1", "7")]) == {"security"}
    assert history.order_offerings([], [("o1", "8")]) == frozenset()


def test_reimport_replaces(history: MongoHistoryRepository) -> None:
    store(history, product("p1", "c1", "dsl"))
    store(history, product("p1", "c1", "dsl", status="terminated"))
    assert history.count() == 1
    assert history.held_offerings("c1", NOW) == frozenset()


def test_model_round_trip_without_pickle(models: MongoModelRepository) -> None:
    trained = train([("a", "x"), ("a", "y"), ("b", "x")], "ease", {"l2": 1.0})
    meta, blobs = trained.to_payload()
    assert models.latest_version() == 0
    assert models.save(meta, blobs) == 1
    assert models.save(meta, blobs) == 2
    loaded = models.load(2)
    assert loaded is not None
    again = TrainedModel.from_payload(loaded[0], loaded[1])
    assert again.vocabulary == trained.vocabulary
    probe = trained.item_indices(["x"])
    assert np.allclose(again.model.scores(probe), trained.model.scores(probe))
    assert [v["version"] for v in models.versions()] == [2, 1]
    assert models.prune(keep=1) == 1 and models.load(1) is None and models.latest_version() == 2


def test_train_and_publish_then_the_provider_picks_it_up(
        catalog: MongoCatalogRepository, history: MongoHistoryRepository, models: MongoModelRepository) -> None:
    with pytest.raises(TrainingError):
        train_and_publish(history, models)
    catalog.upsert(OFFERINGS, [{"id": o, "name": o} for o in ("dsl", "tv", "phone")])
    catalog.bump_version()
    provider = EngineProvider(catalog, models, refresh_s=0)
    assert provider.current().model_version == 0
    store(history, product("p1", "c1", "dsl"), product("p2", "c1", "tv"), product("p3", "c2", "dsl"))
    version, model = train_and_publish(history, models, "cooccurrence")
    assert version == 1 and model.metadata["nUsers"] == 2
    state = provider.current()
    assert state.model_version == 1 and state.engine.model is not None
    assert len(state.engine.catalog) == 3
