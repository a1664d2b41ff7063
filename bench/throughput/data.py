"""What the HTTP benchmark sends: request bodies from the demo data, the queries it creates first (for
GET by id and the list filter), the wait for the background workers, and the synthetic model whose
memory it measures."""

from __future__ import annotations

import importlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import httpx
import numpy as np
from pymongo import MongoClient

from app.settings import DEFAULT_BASE_PATH
from bench.throughput.wrk import Request

COLLECTION_PATH = f"{DEFAULT_BASE_PATH}/queryProductRecommendation"
CHANNELS = ("web", "app", "callCentre", "retailStore")
CATEGORIES = ("internet-add-ons", "entertainment", "voice")
PENDING_STATES = ("accepted", "inProgress")

Json = dict[str, Any]


def bench_script(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module. The scripts import their sibling ``synthetic`` by its bare name
    (they are run with ``bench/`` first on ``sys.path``); the package's copy is registered under it."""
    sys.modules.setdefault("synthetic", importlib.import_module("bench.synthetic"))
    return importlib.import_module(f"bench.{name}")


def demo_customers() -> list[str]:
    """The demo data set's customer ids, sorted."""
    from recommender.demo import load_demo

    _, _, products = load_demo()
    return sorted({str(p["id"]) for product in products for p in product.get("relatedParty") or ()
                   if str(p.get("role", "")).lower() == "customer"})


def demo_offering_count() -> int:
    from recommender.demo import load_demo

    return len(load_demo()[1])


def query_body(customer: str, rng: random.Random, sync: bool) -> Json:
    """A realistic queryProductRecommendation create body from a sales channel. A synchronous one asks
    for the next best offers without a category filter (the customer is known to get some); an
    asynchronous one may ask for cross-sell or name a category."""
    channel = rng.choice(CHANNELS)
    body: Json = {
        "name": f"{channel} basket",
        "description": "recommendations for the customer's current session",
        "instantSyncRecommendation": sync,
        "recommendationType": "next-best-offer" if sync else rng.choice(("next-best-offer", "cross-sell")),
        "relatedParty": {"id": customer, "@referredType": "Customer", "role": "customer",
                         "name": f"customer {customer}"},
        "channel": [{"id": channel, "@referredType": "SalesChannel"}],
        "@type": "QueryProductRecommendation",
    }
    if not sync and rng.random() < 0.3:
        body["category"] = [{"id": rng.choice(CATEGORIES)}]
    return body


def post(client: httpx.Client, body: Json) -> Json:
    response = client.post(COLLECTION_PATH, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"create answered {response.status_code}: {response.text[:500]}")
    return response.json()  # type: ignore[no-any-return]


def bodies_with_recommendations(base_url: str, candidates: Sequence[str], wanted: int,
                                rng: random.Random) -> list[Json]:
    """``wanted`` synchronous bodies (one per candidate customer, in order) that are answered with at
    least one recommendation: the channel is part of the body, and a customer may hold everything one
    channel sells."""
    found: list[Json] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for customer in candidates:
            body = query_body(customer, rng, sync=True)
            if post(client, body).get("recommendationItem"):
                found.append(body)
                if len(found) == wanted:
                    break
    if not found:
        raise RuntimeError("no demo customer got a recommendation: is the model trained?")
    return found


def seed_queries(base_url: str, bodies: Sequence[Json]) -> list[str]:
    """Create the queries GET by id and the list read; their ids."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return [str(post(client, body)["id"]) for body in bodies]


def get_by_id_requests(ids: Sequence[str]) -> list[Request]:
    return [Request("GET", f"{COLLECTION_PATH}/{query_id}") for query_id in ids]


def list_requests(parties: Sequence[str], limit: int = 20) -> list[Request]:
    return [Request("GET", f"{COLLECTION_PATH}?relatedParty.id={party}&limit={limit}") for party in parties]


def create_requests(bodies: Sequence[Json]) -> list[Request]:
    return [Request("POST", COLLECTION_PATH, body) for body in bodies]


def pending_tasks(mongo_uri: str, db_name: str) -> int:
    from storage.filters import RESOURCE
    from storage.query_repository import COLLECTION

    client: MongoClient[Json] = MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        return client[db_name][COLLECTION].count_documents({f"{RESOURCE}.state": {"$in": list(PENDING_STATES)}})
    finally:
        client.close()


def wait_for_tasks(mongo_uri: str, db_name: str, timeout_s: float) -> tuple[float, int]:
    """Until the background workers have answered every asynchronous query (or the timeout);
    (seconds waited, tasks still pending)."""
    started = time.monotonic()
    pending = pending_tasks(mongo_uri, db_name)
    while pending and time.monotonic() - started < timeout_s:
        time.sleep(0.5)
        pending = pending_tasks(mongo_uri, db_name)
    return round(time.monotonic() - started, 1), pending


def store_synthetic_model(mongo_uri: str, db_name: str, n_items: int, n_customers: int, seed: int,
                          log: Callable[[str], None]) -> Json:
    """A synthetic catalogue, history and EASE model in ``db_name``, loaded through the services the
    CLI uses (bench/service_latency.py's generators); a customer id that has a history."""
    from app.container import build_container
    from app.settings import Settings
    from services.imports import import_catalog, import_history
    from services.training import train_and_publish

    service_latency = bench_script("service_latency")
    synthetic = bench_script("synthetic")
    rng = np.random.default_rng(seed)
    container = build_container(Settings(mongodb_uri=mongo_uri, db_name=db_name))
    try:
        started = time.perf_counter()
        report = import_catalog(enumerate(service_latency.synthetic_catalog(n_items, rng), 1), container.catalog)
        if report.errors:
            raise RuntimeError(f"synthetic catalogue rejected: {report.as_dict()['firstErrors']}")
        pairs = synthetic.synthetic_pairs(n_customers, n_items, rng, 6.0)
        report = import_history(service_latency.history_items(pairs, rng), container.history)
        if report.errors:
            raise RuntimeError(f"synthetic history rejected: {report.as_dict()['firstErrors']}")
        loaded_s = time.perf_counter() - started
        version, model = train_and_publish(container.history, container.models, "ease", seed=seed)
        log(f"synthetic {n_items}-offering model v{version}: {len(pairs)} products of {n_customers} customers "
            f"loaded in {loaded_s:.0f} s, trained in {model.metadata['trainingSeconds']:.1f} s, "
            f"{model.nbytes / 2**20:.1f} MB")
        return {"offerings": n_items, "customers": n_customers, "historyProducts": len(pairs),
                "modelMB": round(model.nbytes / 2**20, 2), "trainSeconds": model.metadata["trainingSeconds"],
                "customer": f"c{pairs[0][0]}"}
    finally:
        container.close()


def engine_latency(sizes: Sequence[int], customers: int, contexts: int, seed: int = 7,
                   top_k: int = 200) -> list[Json]:
    """bench/engine_latency.py's measurement for each catalogue size."""
    module = bench_script("engine_latency")
    return [module.bench_size(n, customers, contexts, seed, top_k) for n in sizes]
