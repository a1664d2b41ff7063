"""``Engine.explain``: known answers on the small telco catalogue, and agreement with ``recommend``."""

from __future__ import annotations

import itertools

import pytest
from reco_helpers import context
from test_reco_engine import CATEGORIES, PAIRS, TELCO

from recommender import Catalog, Engine, train
from recommender.explanation import BASIS_HISTORY, BASIS_NO_MODEL, BASIS_POPULARITY, BASIS_UNKNOWN_TO_MODEL


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Catalog.from_documents(TELCO, CATEGORIES), train(PAIRS, "ease", {"l2": 1.0}))


def test_held_offerings_explain_the_score_with_their_weights(engine: Engine) -> None:
    ctx = context(held=["fiber", "m2m"], limit=2)
    found = engine.explain(ctx, "backup")
    assert (found.eligible, found.recommended, found.priority) == (True, True, 1)
    assert found.basis == BASIS_HISTORY
    assert [c.offering_id for c in found.contributions] == ["fiber", "m2m"]  # equal weights: by id
    assert all(c.source == "held" and c.name for c in found.contributions)
    # EASE scores are sums over the history: the shares add up to the score the ranking used
    assert sum(c.weight for c in found.contributions) == pytest.approx(found.score, abs=1e-6)
    assert found.score == pytest.approx(engine.recommend(ctx)[0].score)
    assert "requires one of dsl, fiber: fulfilled by fiber" in found.reasons
    assert found.failed == ()


def test_an_excluded_offering_names_what_excludes_it(engine: Engine) -> None:
    found = engine.explain(context(held=["fiber"]), "dsl")
    assert not found.eligible and found.priority is None and not found.recommended
    assert found.failed == ("relationships",)
    assert any(r.startswith("excluded by fiber") for r in found.reasons)


def test_missing_requirement_and_channel_are_both_reported(engine: Engine) -> None:
    found = engine.explain(context(cart=["backup"], channel_ids=("web",)), "security")
    assert found.failed == ("channel", "relationships")
    assert "not in the requested channel (web)" in found.reasons
    assert "requires one of dsl, fiber: none is held or in the cart" in found.reasons
    assert [(c.offering_id, c.source) for c in found.contributions] == [("backup", "cart")]


def test_an_offering_that_completes_the_cart_is_ranked_first(engine: Engine) -> None:
    ctx = context(cart=["backup"])
    internet = [engine.explain(ctx, oid) for oid in ("dsl", "fiber")]
    assert sorted(found.priority or 0 for found in internet) == [1, 2]  # before m2m, the most popular
    for found in internet:
        assert "fulfils a requirement of backup that nothing held meets (ranked before the others)" in found.reasons
    assert not any("fulfils" in r for r in engine.explain(ctx, "m2m").reasons)


def test_upsell_replacement_lifts_the_exclusion_of_what_it_replaces(engine: Engine) -> None:
    found = engine.explain(context(held=["m2m"], recommendation_type="upsell"), "year")
    assert found.eligible
    assert "would replace m2m, so m2m's exclusions do not apply" in found.reasons
    assert "a declared upgrade of m2m" in found.reasons
    blocked = engine.explain(context(held=["m2m"]), "year")
    assert blocked.failed == ("relationships",)


def test_cold_start_unknown_and_unsellable(engine: Engine) -> None:
    cold = engine.explain(context(), "fiber")
    assert cold.basis == BASIS_POPULARITY and cold.contributions == ()
    assert cold.score == 6.0  # six customers hold fiber
    retired = engine.explain(context(), "old")
    assert retired.basis == BASIS_UNKNOWN_TO_MODEL and retired.failed == ("sellable",)
    assert retired.reasons == ("not sellable now (lifecycleStatus 'Retired', or outside its validFor)",)
    held = engine.explain(context(held=["fiber"]), "fiber")
    assert "already held or in the cart" in held.reasons
    with pytest.raises(KeyError):
        engine.explain(context(), "no-such-offering")


def test_popularity_model_and_no_model_have_no_contributions() -> None:
    catalog = Catalog.from_documents(TELCO, CATEGORIES)
    popular = Engine(catalog, train(PAIRS, "popularity")).explain(context(held=["fiber"]), "backup")
    assert popular.basis == BASIS_POPULARITY and popular.contributions == ()
    assert popular.score == 7.0
    plain = Engine(catalog).explain(context(held=["fiber"]), "backup")
    assert plain.basis == BASIS_NO_MODEL and plain.score == 0.0 and plain.priority is not None


@pytest.mark.parametrize("kind", ["ease", "cooccurrence"])
def test_explain_agrees_with_recommend_everywhere(kind: str) -> None:
    """For every offering in many contexts: eligible iff a candidate, priority = its place in the
    full ranking, score = the ranking's score, shares add up to the score."""
    engine = Engine(Catalog.from_documents(TELCO, CATEGORIES), train(PAIRS, kind, {}))
    ids = [o["id"] for o in TELCO]
    contexts = [
        context(held=list(held), cart=list(cart), recommendation_type=kind_of, channel_ids=channels)
        for held, cart, kind_of, channels in itertools.product(
            [(), ("fiber",), ("dsl", "m2m")], [(), ("backup",)], [None, "cross-sell", "upsell"], [(), ("web",)])
    ]
    for ctx in contexts:
        ranking = engine.recommend(ctx)
        places = {r.offering_id: r for r in ranking}
        mask = engine.candidate_mask(ctx)
        for oid in ids:
            found = engine.explain(ctx, oid)
            assert found.eligible == bool(mask[engine.catalog.index[oid]]) == (not found.failed)
            if oid in places:
                assert found.priority == places[oid].priority
                assert found.score == pytest.approx(places[oid].score)
            if found.basis == BASIS_HISTORY:
                assert sum(c.weight for c in found.contributions) == pytest.approx(found.score, abs=1e-5)
