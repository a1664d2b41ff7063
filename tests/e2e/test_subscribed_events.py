"""Subscribe, then receive: ``tmf680 subscribe`` registers a running server's listeners at fake
TMF620/TMF637/TMF622 hubs (tests/e2e/hub_fake.py), and the events those hubs publish (made by
tests/e2e/event_source.py) change the server's answers. Real processes: the server, the commands."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from event_source import EventSource
from hub_fake import FakeTmfApis
from pymongo import MongoClient
from servers import terminate, tmf680, wait_for_port

from runtime.embedded_mongo import free_port
from services.history import parse_history
from services.training import train_and_publish
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository

TMF680 = "/tmf-api/recommendationManagement/v4"
CATALOGUE = [
    {"id": "fiber", "name": "Fiber", "category": [{"id": "internet"}]},
    {"id": "tv", "name": "TV", "category": [{"id": "tv"}]},
    {"id": "movies", "name": "Movies", "category": [{"id": "tv"}]},
    {"id": "phone", "name": "Phone", "category": [{"id": "voice"}]},
]
CATEGORIES = [{"id": c, "name": c.title(), "isRoot": True} for c in ("internet", "tv", "voice")]


@pytest.fixture
def setup(mongo_uri: str, db_name: str) -> Iterator[dict[str, Any]]:
    """A trained model on a small history, fake hubs serving the catalogue, a running server."""
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    db = client[db_name]
    history, models = MongoHistoryRepository(db), MongoModelRepository(db)
    history.ensure_indexes()
    models.ensure_indexes()
    docs = [{"id": f"p{n}-{o}", "@type": "Product", "status": "active", "productOffering": {"id": o},
             "relatedParty": [{"id": f"c{n}", "role": "customer"}]}
            for n in range(30) for o in ["fiber", "tv", "movies" if n % 3 else "phone"]]
    history.upsert([(parse_history(d), d) for d in docs])
    train_and_publish(history, models, kind="ease", params={"l2": 1.0})
    apis = FakeTmfApis()
    apis.categories, apis.offerings = list(CATEGORIES), list(CATALOGUE)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env.update({"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_MODEL_REFRESH_S": "1",
                "TMF680_WORKERS": "false", "TMF680_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    server = subprocess.Popen([*tmf680(), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, timeout=120)
        yield {"apis": apis, "env": env, "db": db, "url": f"http://127.0.0.1:{port}"}
    finally:
        terminate(server)
        apis.close()
        client.close()


def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*tmf680(), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def offered(http: httpx.Client, url: str, expect: int = 201, **body: Any) -> list[str]:
    """The offerings recommended; with ``expect=0``, an empty list for an answer that is not a 201 (a
    category the server does not know yet)."""
    if "relatedParty" in body:
        body["relatedParty"] = {"@referredType": "Customer", **body["relatedParty"]}
    answer = http.post(f"{url}{TMF680}/queryProductRecommendation", json={"instantSyncRecommendation": True, **body})
    if expect == 0 and answer.status_code != 201:
        return []
    assert answer.status_code == 201, answer.text
    return [item["productOffering"]["id"] for item in answer.json()["recommendationItem"]]


def wait_for(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_subscribed_events_change_the_answers_until_unsubscribed(setup: dict[str, Any]) -> None:
    apis, env, db, url = setup["apis"], setup["env"], setup["db"], setup["url"]
    done = command(env, "subscribe", "--tmf620", apis.root("tmf620"), "--tmf637", apis.root("tmf637"),
                   "--tmf622", apis.root("tmf622"), "--callback-base", url, "--allow-loopback")
    assert "synced 3 categories and 4 product offerings" in done.stdout
    source = EventSource()
    with httpx.Client(timeout=30) as http:
        wait_for(lambda: "fiber" in offered(http, url, category=[{"id": "internet"}]), timeout_s=10)

        # TMF620: a new offering in a new category, through the hub, is recommended for that category
        published = apis.publish("tmf620", source.category("Create", "gaming", name="Gaming", isRoot=True))
        published += apis.publish("tmf620", source.offering("Create", "console", name="Console",
                                                            lifecycleStatus="Active", category=[{"id": "gaming"}]))
        assert [a.status_code for a in published] == [201, 201]
        wait_for(lambda: offered(http, url, 0, category=[{"id": "gaming"}], relatedParty={"id": "c1"}) == ["console"],
                 timeout_s=10)
        # an event type the subscription's query leaves out is not sent by the hub
        assert apis.publish("tmf620", source.event("ProductOfferingPriceCreateEvent", {"id": "price-1"})) == []

        # TMF622: an order in flight removes the ordered offering from the very next recommendation
        first = offered(http, url, relatedParty={"id": "newcomer"}, category=[{"id": "tv"}])
        seq = db["versions"].find_one({"_id": "history"})["seq"]
        answers = apis.publish("tmf622", source.order("Create", "o-1", "newcomer", [first[0]]))
        assert [a.status_code for a in answers] == [201]
        assert first[0] not in offered(http, url, relatedParty={"id": "newcomer"}, category=[{"id": "tv"}])
        # TMF637: a product event reaches the history too; both count as changes for the retrainer
        answers = apis.publish("tmf637", source.product("Create", "p-new", "newcomer", "phone"))
        assert [a.status_code for a in answers] == [201]
        assert db["versions"].find_one({"_id": "history"})["seq"] == seq + 2

        command(env, "unsubscribe")
        assert apis.subscriptions == {}
        assert apis.publish("tmf637", source.product("Delete", "p-new", "newcomer", "phone")) == []
