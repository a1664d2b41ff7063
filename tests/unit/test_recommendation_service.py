"""The engine seam: context reading, reference checks and version pick-up, with in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from recommender import train
from recommender.serialization import array_from_bytes
from services.errors import UnknownReference
from services.ports import CatalogChanges
from services.recommendations import EngineProvider, RecommendationProcessor, cart_refs

NOW = datetime(2025, 6, 1, tzinfo=UTC)
OFFERINGS = [
    {"id": "dsl", "name": "DSL", "category": [{"id": "internet"}], "channel": [{"id": "web"}, {"id": "shop"}],
     "productOfferingRelationship": [{"id": "fiber", "relationshipType": "excludes"}]},
    {"id": "fiber", "name": "Fiber", "category": [{"id": "internet"}], "channel": [{"id": "web"}]},
    {"id": "tv", "name": "TV", "href": "/po/tv", "category": [{"id": "addons"}],
     "productOfferingRelationship": [{"id": "dsl", "relationshipType": "requires"},
                                     {"id": "fiber", "relationshipType": "requires"}]},
    {"id": "phone", "name": "Phone", "category": [{"id": "voice"}]},
    {"id": "old", "name": "Retired", "lifecycleStatus": "Retired"},
]
CATEGORIES = [{"id": "root", "isRoot": True}, {"id": "internet", "parentId": "root"},
              {"id": "addons", "parentId": "root"}, {"id": "voice", "parentId": "root"}]


class FakeCatalog:
    def __init__(self, offerings: list[dict[str, Any]]) -> None:
        self.docs = offerings
        self.v = 1
        self.reads = 0
        self.incremental_reads = 0
        self.written: dict[str, tuple[int, dict[str, Any] | None]] = {}
        self.started = [(1, datetime(2000, 1, 1, tzinfo=UTC))]  # (version, when its write started)

    def version(self) -> int:
        return self.v

    def version_written_before(self, when: datetime) -> int:
        return max((v for v, at in self.started if at < when), default=0)

    def offerings(self) -> list[dict[str, Any]]:
        self.reads += 1
        return self.docs

    def categories(self) -> list[dict[str, Any]]:
        return CATEGORIES

    def changes_since(self, seq: int) -> CatalogChanges:
        """Documents written after ``seq`` (``write`` records them with the version they took)."""
        self.incremental_reads += 1
        return CatalogChanges({i: d for i, (s, d) in self.written.items() if s > seq}, {})

    def counts(self) -> dict[str, int]:
        live = {d["id"] for d in self.docs} | {i for i, (_, d) in self.written.items() if d is not None}
        live -= {i for i, (_, d) in self.written.items() if d is None}
        return {"productOffering": len(live), "category": len(CATEGORIES)}

    def write(self, offering_id: str, doc: dict[str, Any] | None) -> None:
        self.started.append((self.v + 1, datetime.now(UTC)))
        self.v += 1
        self.written[offering_id] = (self.v, doc)


class FakeModels:
    def __init__(self) -> None:
        self.saved: dict[int, tuple[dict[str, Any], dict[str, bytes], datetime]] = {}

    def latest_version(self) -> int:
        return max(self.saved, default=0)

    def load_arrays(self, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray], datetime] | None:
        if version not in self.saved:
            return None
        meta, blobs, created = self.saved[version]
        return meta, {name: array_from_bytes(blob) for name, blob in blobs.items()}, created

    def publish(self, pairs: list[tuple[str, str]]) -> None:
        meta, blobs = train(pairs, "cooccurrence").to_payload()
        self.saved[self.latest_version() + 1] = (meta, blobs, NOW)


class FakeHistory:
    def __init__(self, held: dict[str, frozenset[str]], orders: dict[str, frozenset[str]] | None = None) -> None:
        self.held = held
        self.orders = orders or {}

    def held_offerings(self, customer_id: str, now: datetime) -> frozenset[str]:
        return self.held.get(customer_id, frozenset())

    def order_offerings(self, order_ids: Iterable[str], item_refs: Iterable[tuple[str, str]] = ()) -> frozenset[str]:
        out: set[str] = set()
        for order in [*order_ids, *(o for o, _ in item_refs)]:
            out |= self.orders.get(order, frozenset())
        return frozenset(out)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def processor(models: FakeModels | None = None, held: dict[str, frozenset[str]] | None = None,
              offerings: list[dict[str, Any]] | None = None, clock: Clock | None = None,
              orders: dict[str, frozenset[str]] | None = None) -> RecommendationProcessor:
    provider = EngineProvider(FakeCatalog(OFFERINGS if offerings is None else offerings), models or FakeModels(),
                              refresh_s=10, monotonic=clock or Clock())
    return RecommendationProcessor(provider, FakeHistory(held or {}, orders), default_limit=5, clock=lambda: NOW)


def offered(resource: dict[str, Any]) -> list[str]:
    return [item["productOffering"]["id"] for item in resource["recommendationItem"]]


def test_sync_query_is_done_with_ranked_eligible_items() -> None:
    models = FakeModels()
    models.publish([("a", "dsl"), ("a", "tv"), ("b", "dsl"), ("b", "tv"), ("c", "phone")])
    out = processor(models, {"c1": frozenset({"dsl"})}).on_create(
        {"id": "q", "instantSyncRecommendation": True, "relatedParty": {"id": "c1", "@referredType": "Customer"}})
    assert out["state"] == "done"
    assert offered(out)[0] == "tv"  # co-occurs with the held dsl
    assert "dsl" not in offered(out)  # held
    assert "fiber" not in offered(out)  # excluded by dsl
    assert "old" not in offered(out)  # not sellable
    assert [i["priority"] for i in out["recommendationItem"]] == list(range(1, len(offered(out)) + 1))
    tv = out["recommendationItem"][0]
    assert tv["productOffering"] == {"id": "tv", "name": "TV", "href": "/po/tv", "@referredType": "ProductOffering"}
    assert tv["product"]["productOffering"]["id"] == "tv"


def test_async_query_stays_accepted_without_items() -> None:
    query = {"id": "q", "state": "accepted", "instantSyncRecommendation": False, "category": [{"id": "internet"}],
             "recommendationItem": []}
    assert processor().on_create(dict(query)) == query


def test_a_query_without_the_indicator_is_answered_at_once() -> None:
    out = processor().on_create({"id": "q", "state": "accepted", "recommendationItem": [],
                                 "productOrderItem": [{"itemId": "itemId", "entityId": "entityId"}]})
    assert out["state"] == "done"
    assert offered(out)  # an ItemRef naming nothing known is no error: cold start


@pytest.mark.parametrize(
    ("resource", "named"),
    [
        ({"category": [{"id": "nope"}]}, "category 'nope'"),
        ({"channel": [{"id": "fax"}]}, "channel 'fax'"),
        ({"shoppingCartItem": [{"itemId": "ghost", "@referredType": "ProductOffering"}]}, "productOffering 'ghost'"),
    ],
)
def test_unknown_references_are_named(resource: dict[str, Any], named: str) -> None:
    with pytest.raises(UnknownReference, match=named):
        processor().on_create({"id": "q", **resource})


def test_known_references_pass() -> None:
    out = processor().on_create({"id": "q", "category": [{"id": "root"}], "channel": [{"id": "web"}]})
    assert out["id"] == "q"


def test_filters_and_cart_shape_the_answer() -> None:
    p = processor()
    in_addons = p.on_create({"id": "q", "instantSyncRecommendation": True, "category": [{"id": "addons"}],
                             "shoppingCartItem": [{"itemId": "fiber", "entityId": "cart-1"}]})
    assert offered(in_addons) == ["tv"]  # tv requires internet: fiber is in the cart
    no_internet = p.on_create({"id": "q", "instantSyncRecommendation": True, "category": [{"id": "addons"}]})
    assert offered(no_internet) == []
    shop = p.on_create({"id": "q", "instantSyncRecommendation": True, "channel": [{"id": "shop"}]})
    assert "fiber" not in offered(shop) and "dsl" in offered(shop)


def test_order_references_resolve_through_imported_orders() -> None:
    p = processor(orders={"ord-1": frozenset({"dsl"})})
    out = p.on_create({"id": "q", "instantSyncRecommendation": True, "productOrder": [{"id": "ord-1"}]})
    assert "dsl" not in offered(out) and "fiber" not in offered(out) and "tv" in offered(out)


def test_without_a_catalogue_a_sync_query_ends_in_error() -> None:
    out = processor(offerings=[]).on_create({"id": "q", "instantSyncRecommendation": True,
                                             "category": [{"id": "anything"}]})
    assert out["state"] == "terminatedWithError" and "catalogue" in out["stateReason"]


def test_a_new_model_version_is_picked_up_after_the_refresh_interval() -> None:
    models, clock = FakeModels(), Clock()
    p = processor(models, clock=clock)
    query = {"id": "q", "instantSyncRecommendation": True, "shoppingCartItem": [{"itemId": "fiber"}]}
    assert p._engines.current().model_version == 0
    models.publish([("a", "fiber"), ("a", "phone"), ("b", "fiber"), ("b", "phone"), ("c", "tv")])
    clock.t = 5
    assert p._engines.current().model_version == 0  # within the refresh interval
    clock.t = 11
    assert p._engines.current().model_version == 1
    assert offered(p.on_create(query))[0] == "phone"


def test_cart_refs() -> None:
    refs = cart_refs({
        "shoppingCartItem": [{"itemId": "po-1", "@referredType": "ProductOffering"}, {"itemId": "x", "entityId": "c"}],
        "productOrderItem": [{"entityId": "ord", "itemId": "2"}],
        "productOrder": [{"id": "ord-9"}],
    })
    assert refs.offering_ids == ("po-1",)
    assert refs.loose_ids == ("x", "c", "2", "ord")
    assert refs.order_items == (("ord", "2"),)
    assert refs.order_ids == ("ord-9",)


def test_the_after_rebuild_hook_runs_once_per_new_engine() -> None:
    clock = [0.0]
    calls: list[int] = []
    catalog = FakeCatalog(OFFERINGS)
    provider = EngineProvider(catalog, FakeModels(), refresh_s=5, monotonic=lambda: clock[0],
                              after_rebuild=lambda: calls.append(1))
    first = provider.current()
    assert calls == [1]
    clock[0] = 10.0  # versions checked again, unchanged: the same engine, no hook
    assert provider.current() is first and calls == [1]
    catalog.write("extra", {"id": "extra", "name": "Extra"})  # a new catalogue version: a new engine, the hook
    clock[0] = 20.0
    assert provider.current() is not first and calls == [1, 1]


def test_the_after_rebuild_hook_runs_once_the_old_engine_is_released() -> None:
    import weakref

    clock = [0.0]
    catalog = FakeCatalog(OFFERINGS)
    alive_at_hook: list[bool] = []
    old: list[weakref.ref[Any]] = []
    provider = EngineProvider(catalog, FakeModels(), refresh_s=5, monotonic=lambda: clock[0],
                              after_rebuild=lambda: alive_at_hook.append(bool(old) and old[0]() is not None))
    old.append(weakref.ref(provider.current().engine))
    catalog.write("extra", {"id": "extra", "name": "Extra"})
    clock[0] = 10.0
    provider.current()
    assert alive_at_hook == [False, False]  # first build: nothing before it; rebuild: the old engine is gone


def test_a_changed_catalogue_is_read_incrementally() -> None:
    """After the first load only the documents written since are read; a write whose version was
    taken before a refresh but which landed after it is still picked up by the next refresh."""
    clock = [0.0]
    catalog = FakeCatalog(OFFERINGS)
    provider = EngineProvider(catalog, FakeModels(), refresh_s=5, monotonic=lambda: clock[0])
    assert provider.current().engine.catalog.ids == ("dsl", "fiber", "tv", "phone", "old")
    catalog.write("new", {"id": "new", "name": "New", "category": [{"id": "fresh"}]})
    catalog.write("phone", None)  # retired
    catalog.v += 1  # a writer took version 4 ...
    clock[0] = 10.0
    state = provider.current()
    assert set(state.engine.catalog.ids) == {"dsl", "fiber", "tv", "old", "new"}
    assert "fresh" in state.engine.catalog.category_masks and catalog.reads == 1
    catalog.written["late"] = (4, {"id": "late", "name": "Late"})  # ... and its write lands now
    clock[0] = 20.0
    assert "late" in provider.current().engine.catalog
    assert catalog.reads == 1 and catalog.incremental_reads == 2
    clock[0] = 30.0  # settled: nothing more is read
    assert provider.current().engine.catalog is provider.current().engine.catalog and catalog.incremental_reads == 2


def test_offerings_removed_without_a_tombstone_are_found_by_a_whole_read() -> None:
    clock = [0.0]
    catalog = FakeCatalog(list(OFFERINGS))
    provider = EngineProvider(catalog, FakeModels(), refresh_s=5, monotonic=lambda: clock[0])
    assert "phone" in provider.current().engine.catalog
    catalog.docs = [d for d in OFFERINGS if d["id"] != "phone"]  # deleted outright: no change to read
    catalog.v += 1
    clock[0] = 10.0
    assert "phone" not in provider.current().engine.catalog and catalog.reads == 2


def test_explain_reads_the_customers_holdings_and_the_query_context() -> None:
    models = FakeModels()
    models.publish([("a", "dsl"), ("a", "tv"), ("b", "dsl"), ("b", "tv"), ("c", "phone")])
    p = processor(models, {"c1": frozenset({"dsl"})})
    query = {"relatedParty": {"id": "c1", "@referredType": "Customer"}}
    tv = p.explain(query, "tv")
    assert tv["eligible"] and tv["priority"] == 1 and tv["recommended"]
    assert tv["held"] == ["dsl"] and tv["customerId"] == "c1"
    assert tv["scoreBasis"] == "co-held offerings"
    assert [c["productOffering"]["id"] for c in tv["contributions"]] == ["dsl"]
    assert tv["contributions"][0]["weight"] == pytest.approx(tv["score"])  # P(tv | dsl) = 1
    assert "requires one of dsl, fiber: fulfilled by dsl" in tv["reasons"]
    fiber = p.explain(query, "fiber")
    assert not fiber["eligible"] and fiber["failedRules"] == ["relationships"]
    in_cart = p.explain({"shoppingCartItem": [{"itemId": "fiber", "@referredType": "ProductOffering"}]}, "tv")
    assert in_cart["inCart"] == ["fiber"] and in_cart["eligible"]


def test_explain_names_unknown_references() -> None:
    with pytest.raises(UnknownReference, match="productOffering 'ghost'"):
        processor().explain({}, "ghost")
    with pytest.raises(UnknownReference, match="channel 'fax'"):
        processor().explain({"channel": [{"id": "fax"}]}, "tv")
    with pytest.raises(UnknownReference, match="productOffering 'tv'"):
        processor(offerings=[]).explain({}, "tv")  # no catalogue loaded
