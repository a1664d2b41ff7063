from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from reco_helpers import NOW, offering

from recommender import Catalog

CATEGORIES: list[dict[str, Any]] = [
    {"id": "root", "name": "Root", "isRoot": True},
    {"id": "internet", "name": "Internet", "parentId": "root"},
    {"id": "access", "name": "Access", "parentId": "internet"},
    {"id": "addons", "name": "Add-ons", "parentId": "internet"},
    {"id": "tv", "name": "TV", "parentId": "root"},
]


def selected(catalog: Catalog, mask: np.ndarray) -> list[str]:
    return [catalog.ids[i] for i in np.flatnonzero(mask)]


def test_index_and_basic_access() -> None:
    catalog = Catalog.from_documents([offering("b"), offering("a")], CATEGORIES)
    assert catalog.ids == ("b", "a")
    assert catalog.index == {"b": 0, "a": 1}
    assert "a" in catalog and "zz" not in catalog and len(catalog) == 2
    assert catalog.offering("a").name == "A"
    assert list(catalog.id_rank) == [1, 0]


def test_channel_masks_treat_missing_channel_as_everywhere() -> None:
    catalog = Catalog.from_documents(
        [offering("web-only", channels=["web"]), offering("shop-only", channels=["shop"]), offering("anywhere")]
    )
    assert selected(catalog, catalog.channel_mask(["web"])) == ["web-only", "anywhere"]
    assert selected(catalog, catalog.channel_mask(["web", "shop"])) == ["web-only", "shop-only", "anywhere"]
    assert selected(catalog, catalog.channel_mask([])) == ["web-only", "shop-only", "anywhere"]
    assert selected(catalog, catalog.channel_mask(["unknown"])) == ["anywhere"]


def test_place_masks() -> None:
    catalog = Catalog.from_documents([offering("north", places=["n"]), offering("all")])
    assert selected(catalog, catalog.place_mask(["n"])) == ["north", "all"]
    assert selected(catalog, catalog.place_mask(["s"])) == ["all"]


def test_category_masks_include_sub_categories() -> None:
    catalog = Catalog.from_documents(
        [
            offering("dsl", categories=["access"]),
            offering("backup", categories=["addons"]),
            offering("movies", categories=["tv"]),
            offering("nocat"),
        ],
        CATEGORIES,
    )
    assert selected(catalog, catalog.category_mask(["internet"])) == ["dsl", "backup"]
    assert selected(catalog, catalog.category_mask(["root"])) == ["dsl", "backup", "movies"]
    assert selected(catalog, catalog.category_mask(["addons", "tv"])) == ["backup", "movies"]
    assert selected(catalog, catalog.category_mask(["nope"])) == []


def test_category_tree_from_sub_category_refs_and_cycles() -> None:
    categories: list[dict[str, Any]] = [
        {"id": "top", "subCategory": [{"id": "leaf"}]},
        {"id": "leaf"},
        {"id": "x", "parentId": "y"},
        {"id": "y", "parentId": "x"},  # a cycle must not hang
    ]
    catalog = Catalog.from_documents([offering("a", categories=["leaf"]), offering("b", categories=["x"])], categories)
    assert selected(catalog, catalog.category_mask(["top"])) == ["a"]
    assert selected(catalog, catalog.category_mask(["y"])) == ["b"]


def test_sellable_status_is_configurable_and_case_insensitive() -> None:
    docs = [
        offering("active", status="ACTIVE"),
        offering("launched", status="launched"),
        offering("retired", status="Retired"),
        offering("none", status=None),
    ]
    catalog = Catalog.from_documents(docs)
    assert selected(catalog, catalog.sellable_at(NOW)) == ["active", "launched", "none"]
    custom = Catalog.from_documents(docs, sellable_statuses={"Retired"})
    assert selected(custom, custom.sellable_at(NOW)) == ["retired", "none"]


def test_valid_for_window_is_vectorised_and_inclusive() -> None:
    catalog = Catalog.from_documents(
        [
            offering("past", end="2025-01-01T00:00:00Z"),
            offering("future", start="2026-01-01T00:00:00Z"),
            offering("now", start="2025-01-01T00:00:00+00:00", end="2025-12-31T23:59:59Z"),
            offering("edge", start="2025-06-01T12:00:00Z"),
            offering("naive", start="2025-01-01T00:00:00"),
            offering("open"),
        ]
    )
    assert selected(catalog, catalog.sellable_at(NOW)) == ["now", "edge", "naive", "open"]
    later = datetime(2026, 6, 1, tzinfo=UTC)
    assert selected(catalog, catalog.sellable_at(later)) == ["future", "edge", "naive", "open"]


def test_invalid_valid_for_is_unsellable_and_reported() -> None:
    catalog = Catalog.from_documents([offering("bad", start="not a date"), offering("ok")])
    assert selected(catalog, catalog.sellable_at(NOW)) == ["ok"]
    assert any("bad" in w for w in catalog.warnings)


def test_duplicate_offering_ids_keep_the_first() -> None:
    catalog = Catalog.from_documents([offering("a", status="Active"), offering("a", status="Retired")])
    assert len(catalog) == 1 and catalog.offering("a").lifecycle_status == "Active"
    assert catalog.warnings


def test_unknown_reference_helpers() -> None:
    catalog = Catalog.from_documents(
        [offering("a", categories=["access"], channels=["web"], places=["n"]), offering("b")], CATEGORIES
    )
    assert catalog.unknown_offerings(["a", "x", "x", "y"]) == ["x", "y"]
    assert catalog.unknown_categories(["tv", "root", "nope"]) == ["nope"]
    assert catalog.unknown_channels(["web", "fax"]) == ["fax"]
    assert catalog.unknown_places(["n", "mars"]) == ["mars"]


def test_unknown_channels_and_places_cannot_be_told_without_any_reference() -> None:
    catalog = Catalog.from_documents([offering("a")])
    assert catalog.unknown_channels(["web"]) == []
    assert catalog.unknown_places(["n"]) == []
    # a category referenced only by an offering is known
    assert Catalog.from_documents([offering("a", categories=["c"])]).unknown_categories(["c"]) == []


def test_restricted_to_keeps_rules_towards_removed_offerings() -> None:
    catalog = Catalog.from_documents(
        [offering("dsl"), offering("addon", rels=[("requires", "dsl")]), offering("other")]
    )
    sub = catalog.restricted_to(["addon", "other"])
    assert sub.ids == ("addon", "other")
    held = sub.rules.refs(["dsl"])
    assert selected(sub, sub.rules.eligible(held)) == ["addon", "other"]
    assert selected(sub, sub.rules.eligible([])) == ["other"]
