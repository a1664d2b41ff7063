"""``tmf680 subscribe`` / ``unsubscribe`` as real processes against fake TMF620/TMF637/TMF622 hubs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_fake import FakeTmfApis, event_types
from pymongo import MongoClient
from servers import tmf680
from tmf620_fake import CATEGORIES, OFFERINGS

from services.subscriptions import event_query

CALLBACK_BASE = "http://127.0.0.1:18080"


@pytest.fixture
def apis() -> Iterator[FakeTmfApis]:
    fake = FakeTmfApis()
    fake.categories, fake.offerings = list(CATEGORIES), list(OFFERINGS)
    yield fake
    fake.close()


@pytest.fixture
def run(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env.update({"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_DATA_DIR": str(tmp_path / "data"),
                "TMF680_LOG_FORMAT": "text"})

    def invoke(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*tmf680(), *args], env={**env, **extra_env}, capture_output=True, text=True,
                              timeout=120, check=False)

    yield invoke


@pytest.fixture
def db(mongo_uri: str, db_name: str) -> Iterator[Any]:
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    yield client[db_name]
    client.close()


def test_subscribe_registers_stores_syncs_and_unsubscribe_removes(run: Any, apis: FakeTmfApis, db: Any) -> None:
    apis.fail_hub_posts = 1  # the first registration meets a 503: retried
    done = run("subscribe", "--tmf620", apis.root("tmf620"), "--tmf637", apis.root("tmf637"),
               "--tmf622", apis.root("tmf622"), "--allow-loopback", TMF680_PUBLIC_URL=CALLBACK_BASE)
    assert done.returncode == 0, done.stderr
    posts = apis.hub_requests("POST")
    assert len(posts) == 4  # 3 registrations, one of them sent twice
    registered = {s["api"]: s for s in apis.subscriptions.values()}
    assert set(registered) == {"tmf620", "tmf637", "tmf622"}
    assert registered["tmf620"]["callback"] == f"{CALLBACK_BASE}/tmf-api/productCatalogManagement/v4/listener"
    assert registered["tmf637"]["callback"] == f"{CALLBACK_BASE}/tmf-api/productInventory/v4/listener"
    assert event_types(registered["tmf620"]["query"]) >= {"ProductOfferingCreateEvent", "CategoryDeleteEvent"}
    assert event_types(registered["tmf622"]["query"]) >= {"ProductOrderStateChangeEvent"}
    stored = {s["api"]: s["id"] for s in db["outboundSubscription"].find()}
    assert stored == {api: s["id"] for api, s in registered.items()}
    # the first TMF620 subscription is followed by a full catalogue sync, after the registration
    assert "synced 2 categories and 3 product offerings" in done.stdout
    assert db["productOffering"].count_documents({}) == 3
    order = [(m, p) for m, p, _ in apis.requests]
    first_get = next(i for i, (m, p) in enumerate(order) if m == "GET" and "/hub" not in p)
    assert all(m == "POST" or p.endswith("/hub?callback=" + p.partition("=")[2]) for m, p in order[:first_get])
    assert sum(m == "POST" for m, _ in order[:first_get]) == 4

    again = run("subscribe", "--tmf620", apis.root("tmf620"), "--allow-loopback", TMF680_PUBLIC_URL=CALLBACK_BASE)
    assert again.returncode == 0 and "already subscribed" in again.stdout
    assert len(apis.hub_requests("POST")) == 4 and "synced" not in again.stdout

    listed = run("subscriptions")
    assert listed.returncode == 0 and listed.stdout.count("callback=") == 3

    gone = run("unsubscribe", "--api", "tmf637")
    assert gone.returncode == 0 and "tmf637: unsubscribed" in gone.stdout
    assert {s["api"] for s in apis.subscriptions.values()} == {"tmf620", "tmf622"}
    apis.subscriptions.clear()  # the hub forgot them (e.g. restarted): unsubscribe still cleans up here
    rest = run("unsubscribe")
    assert rest.returncode == 0 and rest.stdout.count("already gone") == 2
    assert db["outboundSubscription"].count_documents({}) == 0
    assert len(apis.hub_requests("DELETE")) == 3


def test_a_loopback_callback_is_refused_unless_allowed(run: Any, apis: FakeTmfApis, db: Any) -> None:
    refused = run("subscribe", "--tmf637", apis.root("tmf637"), "--callback-base", "http://localhost:8080")
    assert refused.returncode == 2 and "loopback" in refused.stderr
    missing = run("subscribe", "--tmf637", apis.root("tmf637"))
    assert missing.returncode == 2 and "TMF680_PUBLIC_URL" in missing.stderr
    assert apis.requests == [] and db["outboundSubscription"].count_documents({}) == 0


def test_a_hub_that_keeps_failing_is_a_clear_error(run: Any, apis: FakeTmfApis, db: Any) -> None:
    apis.fail_hub_posts = 10
    failed = run("subscribe", "--tmf622", apis.root("tmf622"), "--callback-base", CALLBACK_BASE,
                 "--allow-loopback", "--retries", "2")
    assert failed.returncode == 1 and "failed after 3 attempts: HTTP 503" in failed.stderr
    assert db["outboundSubscription"].count_documents({}) == 0


def test_a_registration_whose_answer_was_lost_is_found_at_a_listing_hub(run: Any, apis: FakeTmfApis,
                                                                         db: Any) -> None:
    apis.lists_hub = True
    apis.lose_hub_answers = 1  # the hub registers, the connection drops before the answer: retried
    done = run("subscribe", "--tmf637", apis.root("tmf637"), "--callback-base", CALLBACK_BASE,
               "--allow-loopback", "--retries", "3")
    assert done.returncode == 0, done.stderr
    assert "tmf637: found at the hub" in done.stdout
    assert len(apis.hub_requests("POST")) == 1  # no second registration
    assert len(apis.subscriptions) == 1
    [only] = apis.subscriptions
    assert [s["id"] for s in db["outboundSubscription"].find()] == [only]
    # subscribing again from a store that lost its record (e.g. a new database) takes it too
    db["outboundSubscription"].delete_many({})
    again = run("subscribe", "--tmf637", apis.root("tmf637"), "--callback-base", CALLBACK_BASE, "--allow-loopback")
    assert again.returncode == 0 and "found at the hub" in again.stdout
    assert list(apis.subscriptions) == [only] and len(apis.hub_requests("POST")) == 1


def test_duplicate_subscriptions_found_at_a_listing_hub_are_deleted(run: Any, apis: FakeTmfApis, db: Any) -> None:
    apis.lists_hub = True
    mine = {"api": "tmf637", "query": event_query("tmf637"),
            "callback": f"{CALLBACK_BASE}/tmf-api/productInventory/v4/listener"}
    for sid in ("first", "orphan"):  # e.g. left by retries at a time the hub did not list
        apis.subscriptions[sid] = {"id": sid, **mine}
    apis.subscriptions["other"] = {**mine, "id": "other", "callback": "https://other.example/listener"}
    done = run("subscribe", "--tmf637", apis.root("tmf637"), "--callback-base", CALLBACK_BASE, "--allow-loopback")
    assert done.returncode == 0, done.stderr
    assert "found at the hub" in done.stdout and "1 duplicate subscription(s)" in done.stdout
    assert sorted(apis.subscriptions) == ["first", "other"] and apis.hub_requests("POST") == []
    assert [s["id"] for s in db["outboundSubscription"].find()] == ["first"]


def test_without_a_listing_hub_a_lost_answer_can_register_twice_and_says_so(run: Any, apis: FakeTmfApis,
                                                                          db: Any) -> None:
    apis.lose_hub_answers = 1
    done = run("subscribe", "--tmf622", apis.root("tmf622"), "--callback-base", CALLBACK_BASE,
               "--allow-loopback", "--retries", "3")
    assert done.returncode == 0, done.stderr
    assert "may have been made twice" in done.stdout
    assert len(apis.hub_requests("POST")) == 2 and len(apis.subscriptions) == 2  # the documented limit
    [stored] = db["outboundSubscription"].find()
    assert stored["id"] in apis.subscriptions


def test_unsubscribe_keeps_what_an_unreachable_hub_holds_and_removes_it_later(run: Any, apis: FakeTmfApis,
                                                                              db: Any) -> None:
    orders = FakeTmfApis()
    order_port = orders.port
    subscribed = run("subscribe", "--tmf622", orders.root("tmf622"), "--tmf637", apis.root("tmf637"),
                     "--callback-base", CALLBACK_BASE, "--allow-loopback")
    assert subscribed.returncode == 0, subscribed.stderr
    [order_subscription] = orders.subscriptions.values()
    orders.close()  # the ordering API's hub is gone

    failed = run("unsubscribe", "--retries", "1", "--timeout", "2")
    assert failed.returncode == 1
    assert "tmf622: kept at" in failed.stdout and "tmf637: unsubscribed" in failed.stdout
    assert "1 subscription(s) kept" in failed.stderr and "unsubscribe again" in failed.stderr
    assert apis.subscriptions == {}  # the reachable hub's subscription was removed all the same
    assert [s["api"] for s in db["outboundSubscription"].find()] == ["tmf622"]

    back = FakeTmfApis(port=order_port)  # the hub is back, holding the subscription
    try:
        back.subscriptions[order_subscription["id"]] = order_subscription
        retried = run("unsubscribe")
        assert retried.returncode == 0, retried.stderr
        assert "tmf622: unsubscribed" in retried.stdout
        assert back.subscriptions == {} and db["outboundSubscription"].count_documents({}) == 0
    finally:
        back.close()
