"""TMF620/TMF637/TMF622 events POSTed by a fake event source to a real gunicorn server (2 workers).

The catalogue, history and model are stored first; then every change arrives as an event at the
listener endpoints, and the TMF680 answers of the server show what it did.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from event_source import BASES, EventSource, Hub
from pymongo import MongoClient
from servers import terminate, wait_for_port

from runtime.embedded_mongo import free_port
from services.history import parse_history
from services.training import train_and_publish
from storage.catalog_repository import CATEGORIES, OFFERINGS, MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository

TMF680 = "/tmf-api/recommendationManagement/v4"
REFRESH_S = 1
CATALOGUE = [
    {"id": "dsl", "name": "DSL", "category": [{"id": "internet"}]},
    {"id": "fiber", "name": "Fiber", "category": [{"id": "internet"}]},
    {"id": "tv", "name": "TV", "category": [{"id": "tv"}]},
    {"id": "phone", "name": "Phone", "category": [{"id": "voice"}]},
    {"id": "movies", "name": "Movies", "category": [{"id": "tv"}]},
]
CATEGORY_DOCS = [{"id": c, "name": c.title(), "isRoot": True} for c in ("internet", "tv", "voice")]


def history_docs() -> list[dict[str, Any]]:
    """Customers holding fiber+tv, most also movies: a model that ranks movies first after tv."""
    docs = []
    for n in range(30):
        held = ["fiber", "tv"] + (["movies"] if n % 3 else ["phone"])
        for offering in held:
            docs.append({"id": f"p-{n}-{offering}", "@type": "Product", "status": "active",
                         "productOffering": {"id": offering}, "relatedParty": [{"id": f"c{n}", "role": "customer"}]})
    return docs


@pytest.fixture(scope="module")
def server(mongo_uri: str) -> Iterator[str]:
    db_name = "inbound_e2e"
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    client.drop_database(db_name)
    db = client[db_name]
    catalog, history, models = MongoCatalogRepository(db), MongoHistoryRepository(db), MongoModelRepository(db)
    for repo in (catalog, history, models):
        repo.ensure_indexes()
    catalog.upsert(OFFERINGS, CATALOGUE)
    catalog.upsert(CATEGORIES, CATEGORY_DOCS)
    history.upsert([(parse_history(d), d) for d in history_docs()])
    train_and_publish(history, models, kind="ease", params={"l2": 1.0})
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name,
           "TMF680_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "TMF680_WORKERS": "false",
           "TMF680_MODEL_REFRESH_S": str(REFRESH_S), "TMF680_LOG_LEVEL": "WARNING"}
    repo_root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]
    process = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, timeout=120)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/health/ready", timeout=30).status_code != 200:  # both workers' first answers
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.2)
        yield url
    finally:
        terminate(process)
        client.drop_database(db_name)
        client.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def recommend(http: httpx.Client, server: str, **body: Any) -> httpx.Response:
    if "relatedParty" in body:
        body["relatedParty"] = {"@referredType": "Customer", **body["relatedParty"]}
    return http.post(f"{server}{TMF680}/queryProductRecommendation", json={"instantSyncRecommendation": True, **body})


def offered(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 201, answer.text
    return [item["productOffering"]["id"] for item in answer.json()["recommendationItem"]]


def callback(server: str, api: str, event: str | None = None) -> str:
    return f"{server}{BASES[api]}/listener" + (f"/{event[:1].lower()}{event[1:]}" if event else "")


def wait_for(check: Any, timeout_s: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, "not within the time allowed"
        time.sleep(0.05)
    return time.monotonic() - started


def test_the_served_documents_mount_only_the_listeners(server: str, http: httpx.Client) -> None:
    for api, base in BASES.items():
        paths = http.get(f"{server}{base}/openapi.json").json()["paths"]
        assert paths and all(p == "/listener" or p.startswith("/listener/") for p in paths), api
    assert "/listener/productOfferingCreateEvent" in http.get(f"{server}{BASES['tmf620']}/openapi.json").json()["paths"]
    assert http.get(f"{server}{BASES['tmf620']}/productOffering").status_code == 404


def test_a_new_offering_in_a_new_category_is_recommended_within_the_refresh_interval(
        server: str, http: httpx.Client) -> None:
    source = EventSource()
    assert recommend(http, server, category=[{"id": "gaming"}]).status_code == 400  # unknown category
    category = source.category("Create", "gaming", name="Gaming", isRoot=True)
    offering = source.offering("Create", "console", name="Console", lifecycleStatus="Active",
                               category=[{"id": "gaming"}])
    assert http.post(callback(server, "tmf620"), json=category).status_code == 201
    answer = http.post(callback(server, "tmf620", "ProductOfferingCreateEvent"), json=offering)
    assert answer.status_code == 201
    assert answer.json() == {"id": offering["eventId"],
                             "callback": callback(server, "tmf620", "ProductOfferingCreateEvent")}
    acknowledged = time.monotonic()

    def recommended() -> bool:
        got = recommend(http, server, category=[{"id": "gaming"}], relatedParty={"id": "c1"})
        return got.status_code == 201 and offered(got) == ["console"]

    wait_for(recommended, timeout_s=REFRESH_S + 10)
    print(f"new offering recommendable {time.monotonic() - acknowledged:.2f} s after its event's 201")
    # a retired offering is never recommended again
    http.post(callback(server, "tmf620"), json=source.offering("Delete", "console"))
    wait_for(lambda: offered(recommend(http, server, category=[{"id": "gaming"}], relatedParty={"id": "c1"})) == [],
             timeout_s=REFRESH_S + 10)


def test_an_order_event_changes_the_very_next_recommendation(server: str, http: httpx.Client) -> None:
    source = EventSource()
    customer = {"id": "c-new-order"}
    first = offered(recommend(http, server, relatedParty=customer, category=[{"id": "tv"}]))
    assert first[0] in ("tv", "movies")
    ordered = first[0]
    created = http.post(callback(server, "tmf622"), json=source.order("Create", "o-1", customer["id"], [ordered]))
    assert created.status_code == 201
    for _ in range(4):  # every answer, whichever worker gives it
        assert ordered not in offered(recommend(http, server, relatedParty=customer, category=[{"id": "tv"}]))
    cancelled = source.order("StateChange", "o-1", customer["id"], [ordered], state="cancelled")
    assert http.post(callback(server, "tmf622", "ProductOrderStateChangeEvent"), json=cancelled).status_code == 201
    assert ordered in offered(recommend(http, server, relatedParty=customer, category=[{"id": "tv"}]))


def test_product_events_duplicates_reordering_and_deletes(server: str, http: httpx.Client) -> None:
    source = EventSource()
    customer = "c-inventory"
    created = source.product("Create", "p-x", customer, "phone")
    terminated = source.product("StateChange", "p-x", customer, "phone", status="terminated")
    url = callback(server, "tmf637")
    assert http.post(url, json=created).status_code == 201
    assert "phone" not in offered(recommend(http, server, relatedParty={"id": customer}))
    assert http.post(url, json=created).status_code == 201  # a duplicate: acknowledged, nothing changes
    assert "phone" not in offered(recommend(http, server, relatedParty={"id": customer}))
    assert http.post(url, json=terminated).status_code == 201
    assert "phone" in offered(recommend(http, server, relatedParty={"id": customer}))
    assert http.post(url, json=created).status_code == 201  # older than what is stored: changes nothing
    assert "phone" in offered(recommend(http, server, relatedParty={"id": customer}))
    reactivated = source.product("StateChange", "p-x", customer, "phone", status="active")
    deleted = source.product("Delete", "p-x", customer, "phone")
    assert http.post(url, json=deleted).status_code == 201  # the delete arrives first
    assert http.post(url, json=reactivated).status_code == 201
    assert "phone" in offered(recommend(http, server, relatedParty={"id": customer}))


@pytest.mark.parametrize(("api", "event"), [
    ("tmf620", {"eventType": "ProductOfferingCreateEvent", "eventTime": "not a time",
                "event": {"productOffering": {"id": "bad", "name": "Bad"}}}),
    ("tmf620", {"eventType": "ProductOfferingCreateEvent",
                "event": {"productOffering": {"id": "bad", "isBundle": "no"}}}),
    ("tmf620", {"eventType": "NoSuchEvent", "event": {}}),
    ("tmf620", {"event": {"productOffering": {"id": "bad"}}}),
    ("tmf622", {"eventType": "ProductOrderCreateEvent",
                "event": {"productOrder": {"id": "bad", "state": "acknowledged"}}}),
    ("tmf637", {"eventType": "ProductCreateEvent", "event": {"product": {"id": "bad"}}}),
])
def test_a_malformed_event_is_a_400_tmf_error_and_changes_nothing(server: str, http: httpx.Client, api: str,
                                                                 event: dict[str, Any], mongo_uri: str) -> None:
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    try:
        db = client["inbound_e2e"]
        before = (db["versions"].find_one({"_id": "catalog"}), db["customerHistory"].count_documents({}))
        answer = http.post(callback(server, api), json=event)
        assert answer.status_code == 400, answer.text
        assert answer.json()["@type"] == "Error" and answer.json()["code"] == "400"
        assert db["productOffering"].count_documents({"id": "bad"}) == 0
        assert (db["versions"].find_one({"_id": "catalog"}), db["customerHistory"].count_documents({})) == before
    finally:
        client.close()


def test_an_event_of_another_type_than_the_path_is_a_400(server: str, http: httpx.Client) -> None:
    event = EventSource().offering("Delete", "tv")
    answer = http.post(callback(server, "tmf620", "ProductOfferingCreateEvent"), json=event)
    assert answer.status_code == 400 and "ProductOfferingDeleteEvent" in answer.json()["message"]
    assert "tv" in offered(recommend(http, server, relatedParty={"id": "nobody"}, category=[{"id": "tv"}]))


def test_the_fake_hub_publishes_to_registered_callbacks(server: str, http: httpx.Client) -> None:
    hub = Hub("tmf620")
    try:
        registered = http.post(f"{hub.url}/hub", json={"callback": callback(server, "tmf620"),
                                                       "query": "eventType=CategoryCreateEvent"}).json()
        source = EventSource()
        assert [a.status_code for a in hub.publish(http, source.category("Create", "hub-made", name="H"))] == [201]
        assert hub.publish(http, source.offering("Create", "ignored-by-query", name="I")) == []
        assert http.delete(f"{hub.url}/hub/{registered['id']}").status_code == 204
    finally:
        hub.close()


def test_a_burst_of_events_is_acknowledged_only_once_each_is_stored(server: str, mongo_uri: str) -> None:
    """Many events in flight at once share bulk writes (edge.event_batcher); each 201 names its event
    and the URL it was sent to, and every acknowledged event is in the history when its answer arrives."""
    source = EventSource()
    events = [source.product("Create", f"burst-{n}", f"burst-c{n % 7}", "tv") for n in range(300)]
    url = callback(server, "tmf637")
    with httpx.Client(timeout=30) as http, ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda event: http.post(url + "?from=hub", json=event), events))
    assert [a.status_code for a in answers] == [201] * len(events), {a.status_code for a in answers}
    assert [a.json() for a in answers] == [{"id": e["eventId"], "callback": url} for e in events]
    assert all(a.headers["content-type"] == "application/json" and a.headers.get("x-request-id") for a in answers)
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    try:
        stored = client["inbound_e2e"]["customerHistory"].count_documents({"id": {"$regex": "^burst-"}})
    finally:
        client.close()
    assert stored == len(events)
