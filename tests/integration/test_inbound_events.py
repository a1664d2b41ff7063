"""TMF620/TMF637/TMF622 events applied to the real stores: duplicates, reordering, deletes, merges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.errors import Conflict, InvalidRequest
from services.inbound_events import InboundEvents, Outcome
from services.ports import CatalogWrite, Stamped
from services.recommendations import EngineProvider
from storage.catalog_repository import CATEGORIES, OFFERINGS, MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOMER = [{"id": "c1", "role": "customer", "@referredType": "Customer"}]


@pytest.fixture
def stores(db: Any) -> tuple[MongoCatalogRepository, MongoHistoryRepository]:
    catalog, history = MongoCatalogRepository(db), MongoHistoryRepository(db)
    catalog.ensure_indexes()
    history.ensure_indexes()
    return catalog, history


@pytest.fixture
def events(stores: tuple[MongoCatalogRepository, MongoHistoryRepository]) -> InboundEvents:
    return InboundEvents(*stores, clock=lambda: NOW)


def offering_event(kind: str, at: str, **offering: Any) -> dict[str, Any]:
    return {"eventId": f"{kind}-{at}", "eventTime": at, "eventType": f"ProductOffering{kind}Event",
            "event": {"productOffering": {"id": "po", "name": "Offer", **offering}}}


def order_event(kind: str, at: str, state: str, offering: str = "po") -> dict[str, Any]:
    return {"eventType": f"ProductOrder{kind}Event", "eventTime": at,
            "event": {"productOrder": {"id": "o1", "state": state, "relatedParty": CUSTOMER,
                                       "productOrderItem": [{"id": "1", "action": "add",
                                                             "productOffering": {"id": offering}}]}}}


def product_event(kind: str, at: str, status: str) -> dict[str, Any]:
    return {"eventType": f"Product{kind}Event", "eventTime": at,
            "event": {"product": {"id": "p1", "status": status, "relatedParty": CUSTOMER,
                                  "productOffering": {"id": "tv"}}}}


def receive(events: InboundEvents, event: dict[str, Any]) -> Outcome:
    return events.receive(event["eventType"], event)


def test_a_duplicate_changes_nothing(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    event = offering_event("Create", "2026-01-01T00:00:00Z", lifecycleStatus="Active")
    assert receive(events, event) is Outcome.APPLIED
    version = catalog.version()
    assert receive(events, event) is Outcome.STALE
    assert catalog.version() == version and [o["id"] for o in catalog.offerings()] == ["po"]


def test_an_older_event_after_a_newer_one_changes_nothing(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    newer = offering_event("StateChange", "2026-01-02T00:00:00Z", lifecycleStatus="Retired")
    older = offering_event("Create", "2026-01-01T00:00:00Z", lifecycleStatus="Active")
    assert receive(events, newer) is Outcome.APPLIED
    assert receive(events, older) is Outcome.STALE
    assert catalog.offerings()[0]["lifecycleStatus"] == "Retired"


def test_the_resource_lastupdate_and_version_decide_before_the_event_time(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    # sent later, but describing an older state of the offering
    assert receive(events, offering_event("AttributeValueChange", "2026-01-05T00:00:00Z", name="v2",
                                          lastUpdate="2026-01-02T00:00:00Z", version="1.10")) is Outcome.APPLIED
    assert receive(events, offering_event("AttributeValueChange", "2026-01-06T00:00:00Z", name="v1",
                                          lastUpdate="2026-01-02T00:00:00Z", version="1.9")) is Outcome.STALE
    assert receive(events, offering_event("AttributeValueChange", "2026-01-07T00:00:00Z", name="v0",
                                          lastUpdate="2026-01-01T00:00:00Z")) is Outcome.STALE
    assert catalog.offerings()[0]["name"] == "v2"


def test_a_change_is_merged_onto_the_stored_document(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    receive(events, offering_event("Create", "2026-01-01T00:00:00Z", category=[{"id": "tv"}]))
    changed = {"eventType": "ProductOfferingStateChangeEvent", "eventTime": "2026-01-02T00:00:00Z",
               "event": {"productOffering": {"id": "po", "lifecycleStatus": "Retired"}}}
    assert receive(events, changed) is Outcome.APPLIED
    assert catalog.offerings()[0] == {"id": "po", "name": "Offer", "category": [{"id": "tv"}],
                                      "lifecycleStatus": "Retired"}


def test_delete_retires_and_an_older_create_does_not_bring_it_back(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    receive(events, offering_event("Create", "2026-01-01T00:00:00Z"))
    seen = catalog.version()
    assert receive(events, offering_event("Delete", "2026-01-03T00:00:00Z")) is Outcome.APPLIED
    assert catalog.offerings() == [] and catalog.counts()[OFFERINGS] == 0
    assert catalog.changes_since(seen).offerings == {"po": None}
    assert receive(events, offering_event("Create", "2026-01-02T00:00:00Z")) is Outcome.STALE
    assert catalog.offerings() == []
    assert receive(events, offering_event("Create", "2026-01-04T00:00:00Z")) is Outcome.APPLIED  # re-created later
    assert [o["id"] for o in catalog.offerings()] == ["po"]


def test_category_events(events: InboundEvents, stores: Any) -> None:
    catalog, _ = stores
    create = {"eventType": "CategoryCreateEvent", "eventTime": "2026-01-01T00:00:00Z",
              "event": {"category": {"id": "fresh", "name": "Fresh", "isRoot": True}}}
    assert receive(events, create) is Outcome.APPLIED
    assert catalog.categories() == [{"id": "fresh", "name": "Fresh", "isRoot": True}]
    delete = {**create, "eventType": "CategoryDeleteEvent", "eventTime": "2026-01-02T00:00:00Z"}
    assert receive(events, delete) is Outcome.APPLIED and catalog.categories() == []
    assert catalog.counts()[CATEGORIES] == 0


def test_events_the_engine_does_not_read_are_acknowledged_and_change_nothing(events: InboundEvents,
                                                                              stores: Any) -> None:
    catalog, _ = stores
    price = {"eventType": "ProductOfferingPriceCreateEvent", "event": {"productOfferingPrice": {"id": "x"}}}
    assert receive(events, price) is Outcome.IGNORED and catalog.version() == 0


def test_an_event_that_cannot_be_applied_changes_nothing(events: InboundEvents, stores: Any) -> None:
    catalog, history = stores
    with pytest.raises(InvalidRequest, match=r"no event\.productOffering\.id"):
        receive(events, {"eventType": "ProductOfferingCreateEvent", "event": {"productOffering": {"name": "x"}}})
    with pytest.raises(InvalidRequest, match="relatedParty"):
        receive(events, {"eventType": "ProductCreateEvent",
                         "event": {"product": {"id": "p", "productOffering": {"id": "tv"}}}})
    with pytest.raises(InvalidRequest, match="not 'ProductDeleteEvent'"):
        events.receive("ProductCreateEvent", product_event("Delete", "2026-01-01T00:00:00Z", "active"))
    with pytest.raises(InvalidRequest, match="eventTime"):
        receive(events, {**offering_event("Create", "2026-01-01T00:00:00Z"), "eventTime": "yesterday"})
    assert catalog.version() == 0 and history.count() == 0


def test_product_events_change_the_holdings_at_once(events: InboundEvents, stores: Any) -> None:
    _, history = stores
    assert receive(events, product_event("Create", "2026-01-01T00:00:00Z", "active")) is Outcome.APPLIED
    assert history.held_offerings("c1", NOW) == {"tv"}
    assert receive(events, product_event("Create", "2026-01-01T00:00:00Z", "terminated")) is Outcome.STALE
    assert history.held_offerings("c1", NOW) == {"tv"}  # a create is one conditional upsert: a duplicate loses
    assert receive(events, product_event("StateChange", "2026-01-03T00:00:00Z", "terminated")) is Outcome.APPLIED
    assert history.held_offerings("c1", NOW) == frozenset()
    # a late attribute change from before the termination changes nothing
    assert receive(events, product_event("AttributeValueChange", "2026-01-02T00:00:00Z", "active")) is Outcome.STALE
    assert history.held_offerings("c1", NOW) == frozenset()
    assert receive(events, product_event("StateChange", "2026-01-04T00:00:00Z", "active")) is Outcome.APPLIED
    assert receive(events, product_event("Delete", "2026-01-05T00:00:00Z", "active")) is Outcome.APPLIED
    assert history.held_offerings("c1", NOW) == frozenset()
    assert ("c1", "tv") not in set(history.interactions())


def test_an_order_in_flight_counts_as_held_until_cancelled(events: InboundEvents, stores: Any) -> None:
    _, history = stores
    assert receive(events, order_event("Create", "2026-01-01T00:00:00Z", "acknowledged")) is Outcome.APPLIED
    assert history.held_offerings("c1", NOW) == {"po"}
    assert receive(events, order_event("StateChange", "2026-01-02T00:00:00Z", "cancelled")) is Outcome.APPLIED
    assert history.held_offerings("c1", NOW) == frozenset()
    assert receive(events, order_event("StateChange", "2026-01-01T12:00:00Z", "inProgress")) is Outcome.STALE
    assert history.held_offerings("c1", NOW) == frozenset()


def test_a_write_based_on_a_stale_read_is_refused(stores: Any) -> None:
    catalog, _history = stores

    def write(document: dict[str, Any], stamp: str, expected: Stamped | None) -> bool:
        [done] = catalog.write_many(OFFERINGS, [CatalogWrite("po", document, False, stamp, expected)])
        return bool(done)

    assert write({"id": "po"}, "b", None)
    assert not write({"id": "po"}, "c", None)  # exists now
    stale = Stamped({"id": "po"}, "a")
    assert not write({"id": "po", "name": "x"}, "c", stale)
    assert write({"id": "po", "name": "y"}, "c", catalog.current_many(OFFERINGS, ["po"])["po"])
    assert catalog.offerings() == [{"id": "po", "name": "y"}]


def test_one_bulk_write_tells_which_writes_found_their_document_changed(stores: Any) -> None:
    catalog, _history = stores
    catalog.write_many(OFFERINGS, [CatalogWrite(i, {"id": i}, False, "a", None) for i in ("p1", "p2", "p3")])
    read = catalog.current_many(OFFERINGS, ["p1", "p2", "p3", "absent"])
    assert set(read) == {"p1", "p2", "p3"}
    stale = Stamped({"id": "p2"}, "old")
    done = catalog.write_many(OFFERINGS, [CatalogWrite("p1", {"id": "p1", "name": "1"}, False, "b", read["p1"]),
                                          CatalogWrite("p2", {"id": "p2", "name": "2"}, False, "b", stale),
                                          CatalogWrite("p3", {"id": "p3", "name": "3"}, True, "b", read["p3"]),
                                          CatalogWrite("p4", {"id": "p4"}, False, "b", None),
                                          CatalogWrite("p1", {"id": "p1"}, False, "c", None)])  # exists
    assert done == [True, False, True, True, False]
    assert [o["id"] for o in catalog.offerings()] == ["p1", "p2", "p4"]  # p3 retired
    assert catalog.current_many("productOffering", ["p1"])["p1"] == Stamped({"id": "p1", "name": "1"}, "b", False)


def test_servers_switch_to_the_changed_catalogue_reading_only_the_changes(events: InboundEvents, stores: Any,
                                                                        db: Any) -> None:
    catalog, _ = stores
    catalog.upsert(OFFERINGS, [{"id": f"o{i}", "name": f"O{i}"} for i in range(50)])
    catalog.bump_version()
    clock = [0.0]
    later = datetime.now(UTC) + timedelta(hours=1)  # the 50 were written long before this server started
    provider = EngineProvider(catalog, MongoModelRepository(db), refresh_s=1, monotonic=lambda: clock[0],
                              wall=lambda: later)
    first = provider.current().engine.catalog
    assert len(first) == 50
    receive(events, {"eventType": "ProductOfferingCreateEvent", "eventTime": "2026-01-01T00:00:00Z",
                     "event": {"productOffering": {"id": "new", "name": "New", "category": [{"id": "fresh"}]}}})
    receive(events, {"eventType": "ProductOfferingDeleteEvent", "eventTime": "2026-01-01T00:00:00Z",
                     "event": {"productOffering": {"id": "o3"}}})
    clock[0] = 2.0
    second = provider.current().engine.catalog
    assert len(second) == 50 and "new" in second and "o3" not in second
    assert second.category_mask(["fresh"]).sum() == 1
    assert second.offering("o4") is first.offering("o4")  # unchanged offerings are not read or parsed again


def test_a_batch_gives_each_event_the_outcome_it_gets_alone(events: InboundEvents, stores: Any) -> None:
    """receive_many: creates in one bulk write, changes read and written together, two events for one
    resource in turn whatever their order in the batch, an invalid event alone rejected."""
    catalog, history = stores
    batch = [
        order_event("StateChange", "2026-01-02T00:00:00Z", "cancelled"),  # newer than the create after it
        order_event("Create", "2026-01-01T00:00:00Z", "acknowledged"),
        offering_event("Create", "2026-01-01T00:00:00Z", lifecycleStatus="Active"),
        offering_event("AttributeValueChange", "2026-01-03T00:00:00Z", description="changed"),
        {"eventType": "ProductOfferingDeleteEvent", "event": {"productOffering": {"name": "no id"}}},
        product_event("Create", "2026-01-01T00:00:00Z", "active"),
        product_event("Create", "2026-01-01T00:00:00Z", "active"),  # a duplicate in the same batch
    ]
    results = events.receive_many([(e["eventType"], e) for e in batch])
    assert results[1] is Outcome.APPLIED and results[0] is Outcome.APPLIED  # the create first, the change on it
    assert results[2:4] == [Outcome.APPLIED, Outcome.APPLIED]
    assert isinstance(results[4], InvalidRequest)
    assert sorted(r.value for r in results[5:]) == ["applied", "stale"]  # type: ignore[union-attr]
    assert history.held_offerings("c1", NOW) == {"tv"}  # the order cancelled, the product held
    assert catalog.offerings() == [{"id": "po", "name": "Offer", "lifecycleStatus": "Active",
                                    "description": "changed"}]


def test_a_resource_that_keeps_changing_is_a_conflict_for_that_event_only(events: InboundEvents,
                                                                           stores: Any) -> None:
    catalog, _ = stores
    real = catalog.write_many
    catalog.write_many = lambda collection, writes: [False] * len(writes)  # another writer always first
    try:
        results = events.receive_many([(e["eventType"], e) for e in (
            offering_event("Create", "2026-01-01T00:00:00Z"),
            product_event("Create", "2026-01-01T00:00:00Z", "active"))])
    finally:
        catalog.write_many = real
    assert isinstance(results[0], Conflict) and results[1] is Outcome.APPLIED


class InterleavedCatalog(MongoCatalogRepository):
    """The real repository, with something run between a write taking its version and landing."""

    between: Callable[[], object] | None = None

    def bump_version(self) -> int:
        version = super().bump_version()
        if self.between is not None:
            run, self.between = self.between, None
            run()
        return version


@pytest.mark.parametrize("kind", ["changed", "new"])
def test_a_write_landing_during_the_first_whole_read_is_picked_up(db: Any, kind: str) -> None:
    catalog = InterleavedCatalog(db)
    catalog.ensure_indexes()
    catalog.upsert(OFFERINGS, [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}])
    clock = [0.0]
    provider = EngineProvider(catalog, MongoModelRepository(db), refresh_s=1, monotonic=lambda: clock[0])
    loaded: list[Any] = []
    catalog.between = lambda: loaded.append(provider.current())  # the server starts and reads the whole catalogue
    if kind == "changed":  # an event's write: its version is taken, the server reads, then the write lands
        stored = catalog.current_many(OFFERINGS, ["a"])["a"]
        assert catalog.write_many(OFFERINGS, [CatalogWrite("a", {"id": "a", "name": "A2"}, deleted=False, stamp="s1",
                                                           expected=stored)]) == [True]
    else:  # an import's batch
        catalog.upsert(OFFERINGS, [{"id": "c", "name": "C"}])
    [first] = loaded
    assert first.engine.catalog.offering("a").name == "A" and "c" not in first.engine.catalog  # landed after
    clock[0] = 2.0
    refreshed = provider.current().engine.catalog
    if kind == "changed":
        assert refreshed.offering("a").name == "A2"
    else:
        assert "c" in refreshed and len(refreshed) == 3
    clock[0] = 4.0
    assert provider.current().engine.catalog is refreshed  # settled: nothing read again
