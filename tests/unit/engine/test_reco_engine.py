from __future__ import annotations

from typing import Any

import pytest
from reco_helpers import NOW, context, engine_for, offering, recommended_ids

from recommender import Catalog, Engine, Recommendation, train

CATEGORIES: list[dict[str, Any]] = [
    {"id": "root", "isRoot": True},
    {"id": "internet", "parentId": "root"},
    {"id": "access", "parentId": "internet"},
    {"id": "addons", "parentId": "internet"},
    {"id": "contracts", "parentId": "root"},
]
TELCO = [
    offering("dsl", categories=["access"], rels=[("excludes", "fiber"), ("upgrade", "fiber")]),
    offering("fiber", categories=["access"], channels=["web", "shop"]),
    offering("backup", categories=["addons"], rels=[("requires", "dsl"), ("requires", "fiber")]),
    offering("security", categories=["addons"], channels=["shop"], rels=[("requires", "dsl"), ("requires", "fiber")]),
    offering("m2m", categories=["contracts"], rels=[("alternative", "year"), ("upgrade", "year")]),
    offering("year", categories=["contracts"], places=["north"]),
    offering("old", categories=["addons"], status="Retired"),
    offering("soon", start="2026-01-01T00:00:00Z"),
]
# customers: fiber+backup is frequent, dsl+security, contracts
PAIRS = [
    *[(f"f{i}", o) for i in range(6) for o in ("fiber", "backup", "m2m")],
    *[(f"d{i}", o) for i in range(3) for o in ("dsl", "security", "year")],
    ("x", "dsl"),
    ("x", "backup"),
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Catalog.from_documents(TELCO, CATEGORIES), train(PAIRS, "ease", {"l2": 1.0}))


def test_recommend_returns_priorities_scores_and_hrefs(engine: Engine) -> None:
    recs = engine.recommend(context(held=["fiber", "m2m"], limit=2))
    assert [r.priority for r in recs] == [1, 2]
    assert recs[0] == Recommendation(
        offering_id="backup",
        name="BACKUP",
        href="/tmf-api/productCatalogManagement/v4/productOffering/backup",
        score=recs[0].score,
        priority=1,
    )
    assert recs[0].score >= recs[1].score
    assert engine.recommend(context(held=["fiber"], limit=0)) == []


def test_held_cart_retired_and_future_offerings_are_never_recommended(engine: Engine) -> None:
    ids = recommended_ids(engine, held=["fiber"], cart=["backup"])
    assert "fiber" not in ids and "backup" not in ids
    assert "old" not in ids and "soon" not in ids
    assert "dsl" not in ids  # excluded by fiber
    assert "soon" in [
        r.offering_id
        for r in Engine(engine.catalog, engine.model).recommend(context(now=NOW.replace(year=2026), limit=50))
    ]


def test_channel_place_and_category_filters(engine: Engine) -> None:
    assert set(recommended_ids(engine, channel_ids=("app",))) == {"dsl", "m2m", "year"}
    assert "fiber" in recommended_ids(engine, channel_ids=("app", "web"))
    assert "year" not in recommended_ids(engine, place_ids=("south",))
    assert "year" in recommended_ids(engine, place_ids=("north",))
    assert set(recommended_ids(engine, category_ids=("internet",))) == {"dsl", "fiber"}
    assert set(recommended_ids(engine, held=["dsl"], category_ids=("internet",))) == {"backup", "security"}


def test_cold_start_ranks_by_popularity(engine: Engine) -> None:
    # popularity: backup 7, fiber 6, m2m 6, dsl 4, security 3, year 3 (ties by id)
    assert recommended_ids(engine) == ["fiber", "m2m", "dsl", "year"]


def test_ties_are_broken_by_offering_id() -> None:
    offerings = [offering("c"), offering("a"), offering("b")]
    model = train([("u", "a"), ("v", "b"), ("w", "c")], "popularity")
    assert recommended_ids(engine_for(offerings, model=model)) == ["a", "b", "c"]
    # without a model the catalogue order decides
    assert recommended_ids(engine_for(offerings)) == ["c", "a", "b"]
    # tie at the cut-off of a limited list
    assert recommended_ids(engine_for(offerings, model=model), limit=1) == ["a"]


def test_catalogue_items_unknown_to_the_model_and_model_items_not_in_catalogue() -> None:
    model = train([("u", "a"), ("u", "gone"), ("v", "gone"), ("v", "b")], "cooccurrence")
    engine = engine_for([offering("a"), offering("b"), offering("new")], model=model)
    recs = engine.recommend(context(held=["gone"]))  # "gone" still counts as history
    assert [(r.offering_id, round(r.score, 3)) for r in recs] == [("a", 0.5), ("b", 0.5), ("new", 0.0)]
    assert all(r.offering_id != "gone" for r in engine.recommend(context()))


def test_requirement_completion_comes_first(engine: Engine) -> None:
    ids = recommended_ids(engine, cart=["security"])
    assert ids[:2] in (["dsl", "fiber"], ["fiber", "dsl"])
    without = Engine(engine.catalog, engine.model, complete_requirements=False)
    assert set(recommended_ids(without, cart=["security"])) == set(ids)
    assert recommended_ids(engine, cart=["security"], limit=1) == ids[:1]


@pytest.mark.parametrize("kind", [None, "", "nbo", "next_best_offer", "something-else"])
def test_recommendation_types_that_mean_all(engine: Engine, kind: str | None) -> None:
    assert recommended_ids(engine, held=["dsl"], recommendation_type=kind) == recommended_ids(engine, held=["dsl"])


def test_cross_sell_only_offers_categories_the_customer_has_nothing_in(engine: Engine) -> None:
    assert set(recommended_ids(engine, held=["dsl"], recommendation_type="crossSell")) == {
        "backup",
        "security",
        "m2m",
        "year",
    }
    assert set(recommended_ids(engine, held=["dsl", "backup"], recommendation_type="cross_sell")) == {"m2m", "year"}


def test_upsell_offers_upgrades_and_same_category_replacements(engine: Engine) -> None:
    # fiber replaces dsl: dsl's exclusion is lifted for its own replacement only
    assert recommended_ids(engine, held=["dsl"], recommendation_type="up-sell") == ["fiber"]
    # same category counts as replacement, in both directions (fiber -> dsl too)
    assert set(recommended_ids(engine, held=["m2m", "fiber"], recommendation_type="upsell")) == {"year", "dsl"}
    assert set(recommended_ids(engine, held=["dsl", "backup"], recommendation_type="Upsell")) == {"fiber", "security"}
    assert recommended_ids(engine, recommendation_type="upsell") == []
