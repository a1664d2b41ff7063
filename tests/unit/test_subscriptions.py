"""Subscribing to the TMF620/TMF637/TMF622 hubs: callbacks, queries, the loopback refusal, the
service's bookkeeping, and the outbound retries (httpx with an in-process transport)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from outbound.hub_client import HubClient, HubError
from outbound.tmf620_client import CatalogSyncError, Tmf620Client
from services.subscriptions import (
    API_EVENTS,
    Registration,
    SubscriptionError,
    SubscriptionService,
    callback_url,
    check_callback_base,
    event_query,
    is_loopback,
)


def resolver(addresses: dict[str, list[str]]) -> Any:
    def resolve(host: str, _port: int) -> list[str]:
        if host not in addresses:
            raise OSError("unknown host")
        return addresses[host]

    return resolve


def test_callback_and_query_per_api() -> None:
    assert callback_url("https://reco.example.com/", "tmf620") == \
        "https://reco.example.com/tmf-api/productCatalogManagement/v4/listener"
    assert callback_url("https://reco.example.com/edge", "tmf622") == \
        "https://reco.example.com/edge/tmf-api/productOrderingManagement/v4/listener"
    assert event_query("tmf637") == ("eventType=ProductCreateEvent,ProductAttributeValueChangeEvent,"
                                     "ProductStateChangeEvent,ProductDeleteEvent")
    assert "ProductOfferingDeleteEvent" in API_EVENTS["tmf620"] and "CategoryCreateEvent" in API_EVENTS["tmf620"]


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:80",
                                  "http://api.localhost", "https://loop.example.com"])
def test_a_loopback_callback_base_is_refused_unless_allowed(base: str) -> None:
    resolve = resolver({"loop.example.com": ["127.0.1.1"]})
    with pytest.raises(SubscriptionError, match="loopback"):
        check_callback_base(base, allow_loopback=False, resolver=resolve)
    assert check_callback_base(base + "/", allow_loopback=True, resolver=resolve) == base


@pytest.mark.parametrize(("base", "message"), [("", "TMF680_PUBLIC_URL"), ("reco.example.com", "absolute"),
                                               ("ftp://reco.example.com", "absolute"),
                                               ("https://u:p@reco.example.com", "credentials")])
def test_unusable_callback_bases(base: str, message: str) -> None:
    with pytest.raises(SubscriptionError, match=message):
        check_callback_base(base, allow_loopback=True, resolver=resolver({}))


def test_public_and_private_hosts_are_not_loopback() -> None:
    resolve = resolver({"reco.internal": ["10.0.0.7", "fd00::7"]})
    assert not is_loopback("https://reco.internal", resolve)
    assert not is_loopback("https://unresolvable.example", resolve)  # judged by the hub, not here
    assert not is_loopback("http://192.168.1.2:8080", resolve)


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, api: str, hub: str, subscription_id: str, callback: str, query: str | None) -> None:
        self.rows[(api, hub)] = {"api": api, "hub": hub, "id": subscription_id, "callback": callback, "query": query}

    def find(self, api: str, hub: str) -> dict[str, Any] | None:
        return self.rows.get((api, hub))

    def all(self, api: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if api is None or r["api"] == api]

    def remove(self, api: str, hub: str) -> bool:
        return self.rows.pop((api, hub), None) is not None


class RecordingHub:
    def __init__(self, root: str, log: list[tuple[str, str, str]]) -> None:
        self.root, self.log, self.known = root, log, set[str]()

    def register(self, callback: str, query: str | None) -> Registration:
        sid = f"s{len(self.log)}"
        self.log.append(("register", self.root, callback))
        self.known.add(sid)
        return Registration(sid)

    def unregister(self, subscription_id: str) -> bool:
        self.log.append(("unregister", self.root, subscription_id))
        return subscription_id.startswith("s")


def test_the_service_registers_once_replaces_a_changed_callback_and_unsubscribes() -> None:
    store, log = MemoryStore(), []
    service = SubscriptionService(store, lambda root: RecordingHub(root, log))
    first = service.subscribe({"tmf620": "http://cat/v4/", "tmf637": "http://inv/v4"}, "https://a.example")
    assert [o.status for o in first] == ["subscribed", "subscribed"]
    assert store.find("tmf620", "http://cat/v4")["callback"] == callback_url("https://a.example", "tmf620")  # type: ignore[index]
    again = service.subscribe({"tmf620": "http://cat/v4"}, "https://a.example")
    assert again[0].status == "already subscribed" and len(log) == 2
    moved = service.subscribe({"tmf620": "http://cat/v4"}, "https://b.example")
    assert moved[0].status == "subscribed"
    assert log[2:] == [("register", "http://cat/v4", callback_url("https://b.example", "tmf620")),
                       ("unregister", "http://cat/v4", "s0")]  # the new one first, then the old one goes
    store.add("tmf622", "http://ord/v4", "gone-1", "cb", None)
    out = service.unsubscribe(["tmf637", "tmf622"])
    assert {(o.api, o.status) for o in out} == {("tmf637", "unsubscribed"), ("tmf622", "already gone")}
    assert [r["api"] for r in store.all()] == ["tmf620"]


def client(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_hub_client_retries_then_registers_and_reads_the_id() -> None:
    answers = iter([httpx.Response(503), httpx.Response(429), httpx.Response(201, json={"id": 7, "callback": "c"})])
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the lookup: a hub that does not list its subscriptions
            return httpx.Response(405)
        sent.append(request)
        return next(answers)

    slept: list[float] = []
    hub = HubClient("http://hub.example/api/", retries=2, client=client(handler), sleep=slept.append)
    registration = hub.register("https://me/listener", "eventType=A")
    assert registration == Registration("7", unchecked=True)  # the 503 may have registered, no list to tell
    assert [str(r.url) for r in sent] == ["http://hub.example/api/hub"] * 3
    assert sent[0].read() == b'{"callback":"https://me/listener","query":"eventType=A"}'
    assert len(slept) == 2 and slept[1] > slept[0] * 0.6  # backoff grows (with jitter)
    assert hub.requests == 4  # 3 POSTs and one lookup: a hub that does not list is not asked again


@pytest.mark.parametrize(("answer", "message"), [
    (httpx.Response(400, json={"reason": "bad callback"}), "answered 400"),
    (httpx.Response(201, text="<html>"), "not JSON"),
    (httpx.Response(201, json={"callback": "c"}), "no subscription id"),
    (httpx.Response(502), "failed after 2 attempts: HTTP 502"),
])
def test_hub_client_failures_are_clear(answer: httpx.Response, message: str) -> None:
    hub = HubClient("http://hub.example", retries=1, client=client(lambda _r: answer), sleep=lambda _s: None)
    with pytest.raises(HubError, match=message):
        hub.register("https://me/listener", None)


def test_hub_client_unregister_treats_unknown_as_gone() -> None:
    statuses = {"/hub/a%2Fb": 204, "/hub/x": 404}
    hub = HubClient("http://hub.example", client=client(lambda r: httpx.Response(statuses[r.url.raw_path.decode()])))
    assert hub.unregister("a/b") is True and hub.unregister("x") is False


def test_the_catalogue_client_shares_the_retries() -> None:
    answers = iter([httpx.ConnectError("refused"), httpx.Response(200, json=[{"id": "o1"}])])

    def handler(_request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    tmf620 = Tmf620Client("http://cat.example", page_size=10, client=client(handler), sleep=lambda _s: None)
    assert list(tmf620.pages("productOffering")) == [([{"id": "o1"}], None)]
    assert (tmf620.requests, tmf620.retried) == (2, 1)
    refused = Tmf620Client("http://cat.example", client=client(lambda _r: httpx.Response(404)))
    with pytest.raises(CatalogSyncError, match="answered 404"):
        list(refused.pages("category"))


def test_hub_client_takes_a_subscription_a_timed_out_registration_made() -> None:
    """The POST times out after the hub registered; the retry looks first and finds it."""
    held: list[dict[str, Any]] = []
    posts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.params["callback"] == "https://me/listener"
            return httpx.Response(200, json=[*held, {"id": "x", "callback": "https://other/listener"}])
        posts.append(request)
        held.append({"id": "h1", "callback": "https://me/listener", "query": "eventType=A"})
        raise httpx.ReadTimeout("no answer", request=request)

    hub = HubClient("http://hub.example", retries=3, client=client(handler), sleep=lambda _s: None)
    assert hub.register("https://me/listener", "eventType=A") == Registration("h1", found=True)
    assert len(posts) == 1


def test_hub_client_does_not_look_after_a_refused_connection() -> None:
    """A connection refused never reached the hub: retried without a lookup (none is listed)."""
    calls: list[str] = []
    answers = iter([httpx.ConnectError("refused"), httpx.Response(201, json={"id": "n"})])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "GET":
            return httpx.Response(200, json=[])
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    hub = HubClient("http://hub.example", retries=1, client=client(handler), sleep=lambda _s: None)
    assert hub.register("https://me/listener", None) == Registration("n")
    assert calls == ["GET", "POST", "POST"]
