"""TMF620/TMF637/TMF622 events applied to the real stores: duplicates, reordering, deletes, merges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.errors import InvalidRequest
from services.inbound_events import InboundEvents, Outcome
from services.ports import Stamped
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
    catalog, _ = stores
    assert catalog.write(OFFERINGS, "po", {"id": "po"}, deleted=False, stamp="b", expected=None)
    assert not catalog.write(OFFERINGS, "po", {"id": "po"}, deleted=False, stamp="c", expected=None)  # exists now
    stale = Stamped({"id": "po"}, "a")
    assert not catalog.write(OFFERINGS, "po", {"id": "po", "name": "x"}, deleted=False, stamp="c", expected=stale)
    assert catalog.write(OFFERINGS, "po", {"id": "po", "name": "y"}, deleted=False, stamp="c",
                         expected=catalog.current(OFFERINGS, "po"))
    assert catalog.offerings() == [{"id": "po", "name": "y"}]


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
        assert catalog.write(OFFERINGS, "a", {"id": "a", "name": "A2"}, deleted=False, stamp="s1",
                             expected=catalog.current(OFFERINGS, "a"))
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
