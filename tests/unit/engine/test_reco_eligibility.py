from __future__ import annotations

import pytest
from reco_helpers import engine_for, offering, recommended_ids

INTERNET = [
    offering("dsl", rels=[("excludes", "fiber")]),
    offering("fiber"),
    offering("addon", rels=[("requires", "dsl"), ("requires", "fiber")]),
    offering("phone"),
    offering("lines", rels=[("dependsOn", "phone")]),
]


@pytest.mark.parametrize(
    ("held", "cart", "expected"),
    [
        ((), (), ["dsl", "fiber", "phone"]),
        (("dsl",), (), ["addon", "phone"]),  # fiber excluded by dsl, addon's requirement met
        (("fiber",), (), ["addon", "phone"]),  # exclusion is symmetric
        ((), ("fiber",), ["addon", "phone"]),  # the cart counts as held
        (("phone",), ("dsl",), ["addon", "lines"]),
        (("addon",), (), ["dsl", "fiber", "phone"]),  # completions first, then the rest
    ],
)
def test_requires_any_of_and_symmetric_excludes(
    held: tuple[str, ...], cart: tuple[str, ...], expected: list[str]
) -> None:
    assert recommended_ids(engine_for(INTERNET), held=held, cart=cart) == expected


@pytest.mark.parametrize("kind", ["requires", "Requires", "dependsOn", "depends-on", "DEPENDENCY", "depends_on"])
def test_requires_type_aliases(kind: str) -> None:
    engine = engine_for([offering("base"), offering("x", rels=[(kind, "base")])])
    assert recommended_ids(engine) == ["base"]
    assert recommended_ids(engine, held=["base"]) == ["x"]


@pytest.mark.parametrize("kind", ["excludes", "Exclusivity", "incompatible"])
def test_excludes_type_aliases(kind: str) -> None:
    engine = engine_for([offering("a", rels=[(kind, "b")]), offering("b"), offering("c")])
    assert recommended_ids(engine, held=["b"]) == ["c"]
    assert recommended_ids(engine, held=["a"]) == ["c"]


@pytest.mark.parametrize("kind", ["alternative", "exclusiveWith", "mutually_exclusive"])
def test_alternative_groups_are_transitive(kind: str) -> None:
    engine = engine_for(
        [offering("m2m", rels=[(kind, "one")]), offering("one", rels=[(kind, "two")]), offering("two"), offering("x")]
    )
    for held in ("m2m", "one", "two"):
        assert recommended_ids(engine, held=[held]) == ["x"]


def test_bundled_group_with_upper_limit_one_is_a_choice_group() -> None:
    group = {
        "name": "speed",
        "bundledGroupProductOfferingOption": {"numberRelOfferLowerLimit": 1, "numberRelOfferUpperLimit": 1},
        "bundledProductOffering": [{"id": "s100"}, {"id": "s500"}],
    }
    loose = {
        **group,
        "bundledGroupProductOfferingOption": {"numberRelOfferUpperLimit": 2},
        "bundledProductOffering": [{"id": "tv"}, {"id": "radio"}],
    }
    bundle = offering("bundle", isBundle=True, bundledGroupProductOffering=[group, loose])
    engine = engine_for([bundle, offering("s100"), offering("s500"), offering("tv"), offering("radio")])
    # no model: catalogue order
    assert recommended_ids(engine, held=["s100"]) == ["bundle", "tv", "radio"]
    assert recommended_ids(engine, held=["tv"]) == ["bundle", "s100", "s500", "radio"]


def test_rules_towards_offerings_outside_the_catalogue() -> None:
    engine = engine_for([offering("x", rels=[("requires", "retired")]), offering("y", rels=[("excludes", "legacy")])])
    assert recommended_ids(engine) == ["y"]
    assert recommended_ids(engine, held=["retired"]) == ["x", "y"]
    assert recommended_ids(engine, held=["legacy"]) == []


def test_unknown_relationship_types_and_self_references_are_ignored() -> None:
    engine = engine_for([offering("a", rels=[("frobnicates", "b"), ("requires", "a")]), offering("b")])
    assert recommended_ids(engine) == ["a", "b"]


def test_completions_are_only_unmet_requirements() -> None:
    rules = engine_for(INTERNET).catalog.rules
    refs = rules.refs
    assert rules.completions(refs(["addon"])).tolist() == [True, True, False, False, False]
    assert not rules.completions(refs(["addon", "dsl"])).any()
    assert rules.completions(refs(["lines"])).tolist() == [False, False, False, True, False]
