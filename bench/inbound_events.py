"""Benchmark of the TMF620/TMF637/TMF622 event listeners (issue 13's targets; numbers, not a test).

    python bench/inbound_events.py [--offerings 1000] [--customers 5000] [--refresh 1] [--duration 5]

One private mongod, a synthetic catalogue, history and EASE model (``bench/service_latency.py``'s
generators), and our server under gunicorn with ONE uvicorn worker (``TMF680_MODEL_REFRESH_S`` =
``--refresh``). It measures:

1. order event → changed recommendation: for each of ``--orders`` customers, a recommendation, then a
   ``ProductOrderCreateEvent`` for its first offering, then, as soon as the event's 201 arrives, the
   same recommendation again; the time from the 201 to that answer, and whether the ordered offering
   was gone from it (target p99 ≤ 100 ms);
2. offering event → recommendable: a ``CategoryCreateEvent`` and a ``ProductOfferingCreateEvent`` for
   an offering in that new category, then a recommendation for that category every 20 ms; the time
   from the offering event's 201 to the first answer that has it (target ≤ refresh + 1 s);
3. event ingestion with wrk (``bench/throughput``'s Lua harness; every event unique, 80 % TMF637
   product and TMF622 order events, 20 % TMF620 offering changes, all POSTed to the callback bases
   ``<base>/listener``): GET by id alone and events alone (each saturating the worker), then GETs
   saturating while ``--offered`` events/s are offered (``paced.lua``: ``--event-connections``
   connections, each pausing before each event; the rate wrk measured is reported): the GET rate
   with that ingestion over the GET rate alone (target ≥ 2,000 events/s, GET slowed ≤ 20 %).

On a shared machine the absolute figures move with the load; the ratios come from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service_latency import history_items, synthetic_catalog  # run as a script, like the other two
from synthetic import synthetic_pairs

from bench.throughput import processes, wrk
from runtime.embedded_mongo import EmbeddedMongo

TMF680 = "/tmf-api/recommendationManagement/v4/queryProductRecommendation"
CATALOGUE = "/tmf-api/productCatalogManagement/v4/listener"
INVENTORY = "/tmf-api/productInventory/v4/listener"
ORDERING = "/tmf-api/productOrderingManagement/v4/listener"
PARTY = {"role": "customer", "@referredType": "Customer"}


def load_data(mongo_uri: str, db_name: str, args: argparse.Namespace) -> None:
    from pymongo import MongoClient

    from services.imports import import_catalog, import_history
    from services.training import train_and_publish
    from storage.catalog_repository import MongoCatalogRepository
    from storage.history_repository import MongoHistoryRepository
    from storage.model_repository import MongoModelRepository

    rng = np.random.default_rng(args.seed)
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    db = client[db_name]
    catalog, history, models = MongoCatalogRepository(db), MongoHistoryRepository(db), MongoModelRepository(db)
    for repo in (catalog, history, models):
        repo.ensure_indexes()
    import_catalog(enumerate(synthetic_catalog(args.offerings, rng), 1), catalog)
    pairs = synthetic_pairs(args.customers, args.offerings, rng, mean_basket=3.0)
    import_history(history_items(pairs, rng), history)
    train_and_publish(history, models, kind="ease", params={"l2": 50.0})
    client.close()


def recommend(http: httpx.Client, url: str, customer: str, category: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"instantSyncRecommendation": True, "relatedParty": {"id": customer, **PARTY}}
    if category:
        body["category"] = [{"id": category}]
    return http.post(url + TMF680, json=body)


def offered(answer: httpx.Response) -> list[str]:
    if answer.status_code != 201:
        return []
    return [i["productOffering"]["id"] for i in answer.json().get("recommendationItem", [])]


def order_event(order_id: str, customer: str, offering: str) -> dict[str, Any]:
    return {"eventId": order_id, "eventTime": "2026-01-01T00:00:00Z", "eventType": "ProductOrderCreateEvent",
            "event": {"productOrder": {"id": order_id, "state": "acknowledged",
                                       "relatedParty": [{"id": customer, **PARTY}],
                                       "productOrderItem": [{"id": "1", "action": "add",
                                                             "productOffering": {"id": offering}}]}}}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def order_latency(url: str, n: int, customers: int) -> dict[str, Any]:
    latencies: list[float] = []
    still_offered = 0
    with httpx.Client(timeout=30) as http:
        for k in range(n):
            customer = f"c{(k * 37) % customers}"
            before = offered(recommend(http, url, customer))
            if not before:
                continue
            answer = http.post(url + ORDERING, json=order_event(f"bench-order-{k}", customer, before[0]))
            assert answer.status_code == 201, answer.text
            acknowledged = time.perf_counter()
            after = offered(recommend(http, url, customer))
            latencies.append((time.perf_counter() - acknowledged) * 1000)
            still_offered += before[0] in after
    return {"orders": len(latencies), "p50Ms": round(percentile(latencies, 50), 2),
            "p99Ms": round(percentile(latencies, 99), 2), "maxMs": round(max(latencies), 2),
            "stillOffered": still_offered}


def offering_latency(url: str, n: int, refresh_s: float) -> dict[str, Any]:
    waits: list[float] = []
    with httpx.Client(timeout=30) as http:
        for k in range(n):
            category, offering = f"bench-new-cat-{k}", f"bench-new-po-{k}"
            at = f"2026-01-01T00:00:{k:02d}Z"
            http.post(url + CATALOGUE, json={"eventType": "CategoryCreateEvent", "eventTime": at,
                                             "event": {"category": {"id": category, "name": category}}})
            answer = http.post(url + CATALOGUE, json={
                "eventType": "ProductOfferingCreateEvent", "eventTime": at,
                "event": {"productOffering": {"id": offering, "name": offering, "lifecycleStatus": "Active",
                                              "category": [{"id": category}]}}})
            assert answer.status_code == 201, answer.text
            acknowledged = time.perf_counter()
            while offering not in offered(recommend(http, url, "c1", category)):
                if time.perf_counter() - acknowledged > refresh_s + 30:
                    raise RuntimeError(f"{offering} not recommendable after {refresh_s + 30} s")
                time.sleep(0.02)
            waits.append(time.perf_counter() - acknowledged)
            time.sleep(refresh_s * (k % 3) / 3)  # events land at different points of the refresh cycle
    return {"offerings": n, "meanS": round(statistics.mean(waits), 3), "maxS": round(max(waits), 3),
            "boundS": refresh_s + 1, "allS": [round(w, 3) for w in waits]}


def event_requests(n: int, customers: int, offerings: int) -> list[wrk.Request]:
    out = []
    for k in range(n):
        customer, offering = f"c{k % customers}", f"po{k % offerings:05d}"
        at = f"2026-02-01T{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}Z"
        party = [{"id": customer, **PARTY}]
        if k % 5 == 4:
            body: dict[str, Any] = {"eventType": "ProductOfferingAttributeValueChangeEvent", "eventTime": at,
                                    "event": {"productOffering": {"id": offering, "description": f"v{k}"}}}
            out.append(wrk.Request("POST", CATALOGUE, body))
        elif k % 2:
            body = {"eventType": "ProductCreateEvent", "eventTime": at,
                    "event": {"product": {"id": f"bench-p-{k}", "status": "active", "relatedParty": party,
                                          "productOffering": {"id": offering}}}}
            out.append(wrk.Request("POST", INVENTORY, body))
        else:
            out.append(wrk.Request("POST", ORDERING, order_event(f"bench-o-{k}", customer, offering)))
    return out


def create_queries(url: str, n: int) -> list[str]:
    with httpx.Client(timeout=30) as http:
        return [http.post(url + TMF680, json={"name": f"q{k}", "relatedParty": {"id": f"c{k}", **PARTY}}).json()["id"]
                for k in range(n)]


def ingestion(url: str, work: Path, args: argparse.Namespace, server_pids: list[int]) -> dict[str, Any]:
    events_file = wrk.write_requests(work / "events.txt",
                                     event_requests(args.events, args.customers, args.offerings))
    gets_file = wrk.write_requests(work / "gets.txt",
                                   [wrk.Request("GET", f"{TMF680}/{i}") for i in create_queries(url, 500)])

    def run(requests: Path, expected: str, connections: int, pause_ms: int | None = None) -> wrk.WrkResult:
        return wrk.run(wrk.command(url, requests, [int(expected)], args.duration, connections, pause_ms=pause_ms),
                       server_pids)

    get_alone = run(gets_file, "200", args.connections)
    events_alone = run(events_file, "201", args.connections)
    # the offered event rate: --event-connections connections, each pausing before each event
    pause_ms = max(1, round(args.event_connections * 1000 / args.offered))
    both: dict[str, wrk.WrkResult] = {}
    runs = (("get", gets_file, "200", args.connections, None),
            ("events", events_file, "201", args.event_connections, pause_ms))
    threads = [threading.Thread(target=lambda k=k, f=f, s=s, c=c, p=p: both.__setitem__(k, run(f, s, c, p)))
               for k, f, s, c, p in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def figures(r: wrk.WrkResult) -> dict[str, Any]:
        return {"rps": round(r.rps, 1), "p50Ms": r.latency_ms.get("p50"), "p99Ms": r.latency_ms.get("p99"),
                "errors": r.errors, "serverCpu": round(r.server_cpu_share, 2), "machineBusy": r.system_busy}

    return {"getAlone": figures(get_alone), "eventsAlone": figures(events_alone),
            "offeredEventsPerS": args.offered, "pauseMs": pause_ms,
            "getWithEvents": figures(both["get"]), "eventsWithGet": figures(both["events"]),
            "getRatio": round(both["get"].rps / get_alone.rps, 3) if get_alone.rps else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offerings", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--refresh", type=int, default=1, help="TMF680_MODEL_REFRESH_S of the server")
    parser.add_argument("--orders", type=int, default=300, help="order events for the latency figure")
    parser.add_argument("--new-offerings", type=int, default=6)
    parser.add_argument("--events", type=int, default=60000, help="distinct events in wrk's request file")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections of the saturating runs")
    parser.add_argument("--offered", type=int, default=2000, help="events/s offered while GETs run (target rate)")
    parser.add_argument("--event-connections", type=int, default=32, help="connections offering those events")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tmf680-inbound-")))
        mongo = stack.enter_context(EmbeddedMongo(work / "mongo", journal=False))
        started = time.monotonic()
        load_data(mongo.uri, "bench_inbound", args)
        loaded_s = time.monotonic() - started
        env = {**os.environ, "MONGODB_URI": mongo.uri, "TMF680_DB_NAME": "bench_inbound",
               "TMF680_WORKERS": "false", "TMF680_VALIDATE_RESPONSES": "false", "TMF680_LOG_LEVEL": "WARNING",
               "TMF680_ACCESS_LOG_LEVEL": "WARNING", "TMF680_MODEL_REFRESH_S": str(args.refresh)}
        server = processes.gunicorn_server("inbound", processes.OUR_APP, env, work, workers=1).start()
        stack.callback(server.stop)
        result = {"options": vars(args), "dataLoadS": round(loaded_s, 1),
                  "orderToRecommendation": order_latency(server.url, args.orders, args.customers),
                  "offeringToRecommendable": offering_latency(server.url, args.new_offerings, args.refresh),
                  "ingestion": ingestion(server.url, work, args, server.worker_pids())}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


def report(r: dict[str, Any]) -> str:
    o, f, i = r["orderToRecommendation"], r["offeringToRecommendable"], r["ingestion"]
    ev, ga, gw = i["eventsAlone"], i["getAlone"], i["getWithEvents"]
    return "\n".join([
        f"order event 201 -> next recommendation: p50 {o['p50Ms']} ms, p99 {o['p99Ms']} ms, max {o['maxMs']} ms "
        f"over {o['orders']} orders; ordered offering still offered: {o['stillOffered']} (target p99 <= 100 ms)",
        f"offering event 201 -> recommendable: mean {f['meanS']} s, max {f['maxS']} s over {f['offerings']} "
        f"(target <= refresh + 1 = {f['boundS']} s)",
        f"event ingestion, one worker: {ev['rps']} events/s alone (p99 {ev['p99Ms']} ms, errors {ev['errors']}, "
        f"worker CPU {ev['serverCpu']}) (target >= 2,000)",
        f"GET by id alone {ga['rps']} req/s (p99 {ga['p99Ms']} ms); with {i['offeredEventsPerS']} events/s offered "
        f"({i['eventsWithGet']['rps']} events/s taken, errors {i['eventsWithGet']['errors']}): {gw['rps']} req/s "
        f"(p99 {gw['p99Ms']} ms) = {i['getRatio']}x (target >= 0.8x); machine busy {ev['machineBusy']}",
    ])


if __name__ == "__main__":
    sys.exit(main())
