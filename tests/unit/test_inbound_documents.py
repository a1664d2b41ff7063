"""The TMF620/TMF637/TMF622 documents as mounted: only their listeners, one callback for all events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.datastructures import URL

from app.factory import own_base_path
from edge.event_callback import EventCallback, EventSchemas
from edge.event_intake import callback_url
from edge.spec.loader import (
    DEFINITIONS,
    EVENT_CALLBACK_OPERATION,
    EVENT_CALLBACK_PATH,
    LISTENER_PREFIX,
    TMF620,
    TMF620_V400,
    TMF622,
    TMF637,
    listener_events,
)
from handlers import catalog_events, inventory_events, ordering_events
from services.errors import InvalidRequest
from services.inbound_events import Action, classify, stamp

# the files of ../shared/spec (public mirrors named in its README), byte for byte
SHA256 = {
    TMF620: "e4d73a59e906fc5daf379273d923cc0874305634b1cee8bc52275b8d6cac354a",
    TMF620_V400: "396dc8b9c9d6208851cda8fb5224dce5b10e65c293d19bc6bf84b1b7936fed84",
    TMF637: "ab24403bf2b9fa6f122acad55042bb3cde0112ca2c84c614d74c6133708feded",
    TMF622: "c4272dcf9ee9e405e1049f2a0b69a0a3149e7328fb172b7f69b77f7f197950ef",
}
MOUNTED = ((TMF620, catalog_events), (TMF637, inventory_events), (TMF622, ordering_events))


@pytest.mark.parametrize("document", list(SHA256))
def test_the_vendored_documents_are_the_official_files(document: Any) -> None:
    assert hashlib.sha256(document.path.read_bytes()).hexdigest() == SHA256[document]


def test_tmf620_v4_1_0_listeners_are_a_superset_of_v4_0_0() -> None:
    """Why v4.1.0 alone is mounted: every v4.0.0 listener is there, same path and operationId, and a
    v4.0.0 event is a valid v4.1.0 event: the attributes both envelopes declare have the same type, and
    the two v4.0.0 has beyond them (``id``, ``href`` of a "process flow") are allowed, as v4.1.0 does not
    forbid additional properties."""
    old, new = TMF620_V400.unvalidated(), TMF620.unvalidated()
    old_events, new_events = listener_events(old), listener_events(new)
    assert set(new_events) > set(old_events)
    for event_type, route in old_events.items():
        assert new_events[event_type] == route
        old_props, new_props = (d["definitions"][event_type]["properties"] for d in (old, new))
        assert set(old_props) - set(new_props) <= {"id", "href"}
        assert "additionalProperties" not in new["definitions"][event_type]
        for name in set(old_props) & set(new_props):
            assert {k: v for k, v in old_props[name].items() if k != "description"} == {
                k: v for k, v in new_props[name].items() if k != "description"}, (event_type, name)


@pytest.mark.parametrize(("document", "handlers"), MOUNTED)
def test_only_the_listeners_are_mounted_with_the_definitions_they_use(document: Any, handlers: Any) -> None:
    spec = document.normalised("/base", only=LISTENER_PREFIX)
    paths = set(spec["paths"])
    assert paths == {EVENT_CALLBACK_PATH} | {p for p in document.unvalidated()["paths"] if p.startswith("/listener/")}
    referenced = {ref for ref in _refs(spec)}
    assert referenced <= set(spec["definitions"])  # nothing dangling
    assert len(spec["definitions"]) < len(document.unvalidated()["definitions"])  # and nothing else
    operation_ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert operation_ids - {EVENT_CALLBACK_OPERATION} == set(handlers.OPERATIONS)
    callback = spec["paths"][EVENT_CALLBACK_PATH]["post"]
    enum = callback["parameters"][0]["schema"]["properties"]["eventType"]["enum"]
    assert enum == sorted(listener_events(spec)) == sorted(handlers.EVENT_TYPES)
    assert callback["responses"]["201"]["schema"] == {"$ref": DEFINITIONS + "EventSubscription"}


@pytest.mark.parametrize("document", [TMF637, TMF622])
def test_product_status_aborted_without_the_trailing_space(document: Any) -> None:
    enum = document.normalised("/b", only=LISTENER_PREFIX)["definitions"]["ProductStatusType"]["enum"]
    assert "aborted" in enum and "aborted " in enum


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"][len(DEFINITIONS):]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_the_callback_validates_an_event_against_its_own_schema_then_dispatches() -> None:
    spec = TMF620.normalised("/b", only=LISTENER_PREFIX)
    called: list[tuple[str, dict[str, Any]]] = []

    def resolve(operation_id: str) -> Any:
        return lambda data: called.append((operation_id, data)) or "answer"

    callback = EventCallback(EventSchemas(spec), resolve)
    event = {"eventType": "ProductOfferingCreateEvent", "event": {"productOffering": {"id": "x", "isBundle": True}}}
    assert callback(data=event) == "answer"
    assert called == [("listenToProductOfferingCreateEvent", event)]
    with pytest.raises(InvalidRequest, match=r"not a valid ProductOfferingCreateEvent: .*boolean.*isBundle"):
        callback(data={**event, "event": {"productOffering": {"id": "x", "isBundle": "yes"}}})
    with pytest.raises(InvalidRequest, match="date-time"):
        callback(data={"eventType": "CategoryDeleteEvent", "eventTime": "Tuesday"})
    with pytest.raises(InvalidRequest, match="unknown eventType"):
        callback(data={"eventType": "QueryProductRecommendationCreateEvent"})
    assert len(called) == 1


@pytest.mark.parametrize(("event_type", "resource", "action"), [
    ("ProductOfferingCreateEvent", "productOffering", Action.CREATE),
    ("ProductOfferingAttributeValueChangeEvent", "productOffering", Action.CHANGE),
    ("CategoryStateChangeEvent", "category", Action.CHANGE),
    ("ProductDeleteEvent", "product", Action.DELETE),
    ("ProductOrderStateChangeEvent", "productOrder", Action.CHANGE),
])
def test_events_are_classified_by_resource_and_action(event_type: str, resource: str, action: Action) -> None:
    found = classify(event_type)
    assert found is not None and (found[0].resource, found[1]) == (resource, action)


@pytest.mark.parametrize("event_type", ["ProductOfferingPriceCreateEvent", "ProductSpecificationDeleteEvent",
                                        "CatalogBatchEvent", "ProductBatchEvent", "CancelProductOrderCreateEvent",
                                        "ProductOrderInformationRequiredEvent"])
def test_events_of_resources_the_engine_does_not_read_are_not_applied(event_type: str) -> None:
    assert classify(event_type) is None


RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def key(event_time: str | None = None, action: Action = Action.CHANGE, **resource: Any) -> str:
    return stamp(resource, {"eventTime": event_time} if event_time else {}, action, RECEIVED)


def test_the_ordering_stamp() -> None:
    # the resource's own lastUpdate first, whatever the event time
    assert key("2026-01-09T00:00:00Z", lastUpdate="2026-01-01T00:00:00Z") < key(
        "2026-01-02T00:00:00Z", lastUpdate="2026-01-02T00:00:00Z")
    # then its version, compared as numbers
    assert key(lastUpdate="2026-01-01T00:00:00Z", version="1.9") < key(lastUpdate="2026-01-01T00:00:00Z",
                                                                      version="1.10")
    # then the event time; offsets are compared as instants
    assert key("2026-01-01T01:00:00+02:00") < key("2026-01-01T00:00:00Z")
    # a delete after any other event of the same instant; a duplicate is equal
    assert key("2026-01-01T00:00:00Z") < key("2026-01-01T00:00:00Z", Action.DELETE)
    assert key("2026-01-01T00:00:00Z") == key("2026-01-01T00:00:00Z")
    # no time at all: the time received
    assert key() > key("2029-12-31T23:59:59Z")
    with pytest.raises(InvalidRequest):
        key(lastUpdate="soon")


def _mutations(value: Any) -> Any:
    """``value`` with one leaf or key changed, each way: other types, bad date-times, keys removed."""
    others = [None, 1, 1.5, True, "x", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00+0100", [], {}]
    yield from others
    if isinstance(value, dict):
        for key, item in value.items():
            yield {k: v for k, v in value.items() if k != key}
            for changed in _mutations(item):
                yield {**value, key: changed}
    elif isinstance(value, list) and value:
        for changed in _mutations(value[0]):
            yield [changed, *value[1:]]


EVENTS = [
    ("/tmf-api/productInventory/v4", {
        "eventId": "e1", "eventTime": "2026-01-01T00:00:00Z", "eventType": "ProductCreateEvent",
        "event": {"product": {"id": "p1", "status": "active", "startDate": "2026-01-01T00:00:00Z",
                              "relatedParty": [{"id": "c1", "role": "customer", "@referredType": "Customer"}],
                              "productOffering": {"id": "tv", "@referredType": "ProductOffering"}}}}),
    ("/tmf-api/productOrderingManagement/v4", {
        "eventId": "e2", "eventTime": "2026-01-01T00:00:00Z", "eventType": "ProductOrderStateChangeEvent",
        "event": {"productOrder": {"id": "o1", "state": "acknowledged", "orderDate": "2026-01-01T00:00:00Z",
                                   "productOrderItem": [{"id": "1", "action": "add", "quantity": 1,
                                                         "productOffering": {"id": "tv"}}]}}}),
    ("/tmf-api/productCatalogManagement/v4", {
        "eventId": "e3", "eventTime": "2026-01-01T00:00:00Z", "eventType": "ProductOfferingCreateEvent",
        "event": {"productOffering": {"id": "po", "name": "TV", "lifecycleStatus": "Active", "isBundle": False,
                                      "lastUpdate": "2026-01-01T00:00:00Z", "version": "1.0",
                                      "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
                                      "category": [{"id": "tv", "name": "TV"}],
                                      "productOfferingPrice": [{"id": "pop1", "name": "monthly"}]}}}),
]


@pytest.mark.parametrize(("base", "event"), EVENTS, ids=[e["eventType"] for _, e in EVENTS])
def test_the_compiled_schema_never_takes_an_event_the_full_validation_refuses(base: str, event: Any) -> None:
    """edge.event_intake answers what ``EventSchemas.is_valid`` takes and sends the rest to Connexion:
    over every one-change mutation of a valid event, the compiled check agrees with jsonschema or is
    stricter, and it takes the valid event itself."""
    document = {own_base_path(d): d for d, _ in MOUNTED}[base]
    schemas = EventSchemas(document.normalised(base, only=LISTENER_PREFIX))
    event_type = event["eventType"]
    assert schemas.is_valid(event_type, event) and schemas(event_type).is_valid(event)
    taken = refused = 0
    for candidate in _mutations(event):
        fast = schemas.is_valid(event_type, candidate)
        assert not fast or schemas(event_type).is_valid(candidate), candidate
        taken, refused = taken + fast, refused + (not fast)
    assert taken > 10 and refused > 10  # both sides were exercised


@pytest.mark.parametrize(("scheme", "server", "host", "path"), [
    ("http", ("127.0.0.1", 8080), b"127.0.0.1:8080", "/tmf-api/productInventory/v4/listener"),
    ("https", ("10.0.0.5", 443), b"tmf680.example.com", "/tmf-api/productInventory/v4/listener/productCreateEvent"),
    ("http", ("10.0.0.5", 80), None, "/tmf-api/productOrderingManagement/v4/listener"),
    ("http", ("::1", 8080), None, "/tmf-api/productOrderingManagement/v4/listener"),
    ("https", ("10.0.0.5", 8443), b"evil host/x?y", "/tmf-api/productCatalogManagement/v4/listener"),
    ("http", ("10.0.0.5", 8080), b"h:99999", "/a?b#c"),
    ("http", None, None, "//tmf-api/listener"),
])
def test_the_intakes_callback_url_is_starlettes(scheme: str, server: Any, host: bytes | None, path: str) -> None:
    """The 201's ``callback`` from the fast path (cached per scheme, address, Host and path) is the URL
    Starlette makes of the request, its query left out, whatever the Host header holds."""
    scope = {"type": "http", "scheme": scheme, "server": server, "path": path, "query_string": b"a=1",
             "headers": [(b"content-type", b"application/json"), *([] if host is None else [(b"host", host)])]}
    expected = str(URL(scope=scope).replace(query=""))
    assert callback_url(scope) == expected
    assert callback_url(scope) == expected  # from the cache
