"""Benchmark of the recommendation service path (not a test): MongoDB holdings lookup + engine.

    python bench/service_latency.py                       # 1k and 10k offerings, 20k customers
    python bench/service_latency.py --json --sizes 1000 --customers 5000 --requests 500

For each catalogue size it starts a private ``mongod`` (``runtime.embedded_mongo.EmbeddedMongo``, no
journal, in a temporary directory), wires the real repositories with ``app.container.build_container``
and loads through the same code the CLI uses:

- a synthetic TMF620 catalogue (category tree, channels, a few requires/excludes relationships,
  some retired or not-yet-valid offerings) via ``services.imports.import_catalog``;
- a synthetic TMF637 product history (customers in latent segments with Zipf-like tastes, about
  ``--basket`` products each, a few terminated) via ``services.imports.import_history``;
- an EASE model via ``services.training.train_and_publish`` (default parameters).

Then, after a warm-up, it times ``RecommendationProcessor.recommend`` (``container.recommendations``)
for ``--requests`` queryProductRecommendation resources of random existing customers, with a random
mix of channel and category filters. This is the whole synchronous service call: engine-provider
version check (every ``model_refresh_s``), context parsing, the indexed holdings query, the engine,
building ``recommendationItem``; no HTTP, no JSON, no query-document write.

The parts are timed separately, right after each service call and without changing the code:
``history.held_offerings`` (the Mongo lookup) and ``Engine.recommend`` on the same context with the
same holdings (the engine). Percentiles of the parts do not add up to the whole; the means do,
roughly, with the rest being parsing and response building.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import synthetic_pairs

from app.container import Container, build_container
from app.settings import Settings
from recommender import Catalog
from runtime.embedded_mongo import EmbeddedMongo
from services.documents import COLLECTION_KEY, Item
from services.imports import CATEGORY, PRODUCT_OFFERING, import_catalog, import_history
from services.recommendations import RecommendationProcessor, recommendation_item
from services.training import train_and_publish

CHANNELS = ("web", "app", "callCentre", "retailStore")
# p99 of the whole service call the targets ask for, by catalogue size (ms).
TARGETS_P99_MS = {1000: 2.0, 10000: 20.0}
PARTS = ("service", "mongoLookup", "engine")
PART_LABELS = {"service": "service call", "mongoLookup": "mongo lookup", "engine": "engine"}


# -- synthetic data ------------------------------------------------------------------------------

def synthetic_catalog(n_items: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Category tree (root, tops, leaves) and offerings, as import items with ``@collection``."""
    n_top = max(2, n_items // 200)
    n_leaf = max(4, n_items // 20)
    docs: list[dict[str, Any]] = [{COLLECTION_KEY: CATEGORY, "id": "root", "name": "Root", "isRoot": True}]
    docs += [{COLLECTION_KEY: CATEGORY, "id": f"top{t}", "name": f"Top {t}", "parentId": "root"}
             for t in range(n_top)]
    docs += [{COLLECTION_KEY: CATEGORY, "id": f"cat{c}", "name": f"Leaf {c}", "parentId": f"top{c % n_top}"}
             for c in range(n_leaf)]
    for i in range(n_items):
        doc: dict[str, Any] = {
            COLLECTION_KEY: PRODUCT_OFFERING,
            "id": f"po{i:05d}",
            "href": f"/tmf-api/productCatalogManagement/v4/productOffering/po{i:05d}",
            "name": f"Offering {i}",
            "lifecycleStatus": "Retired" if rng.random() < 0.02 else "Active",
            "validFor": {"startDateTime": "2030-01-01T00:00:00Z" if rng.random() < 0.02
                         else "2020-01-01T00:00:00Z"},
            "category": [{"id": f"cat{int(rng.integers(n_leaf))}"}],
        }
        if rng.random() < 0.3:
            picked = rng.choice(len(CHANNELS), size=2, replace=False)
            doc["channel"] = [{"id": CHANNELS[int(c)]} for c in picked]
        rels: list[dict[str, str]] = []
        if i > 10 and rng.random() < 0.1:
            rels += [{"id": f"po{int(t):05d}", "relationshipType": "requires"} for t in rng.integers(0, i, 2)]
        if i > 10 and rng.random() < 0.05:
            rels.append({"id": f"po{int(rng.integers(0, i)):05d}", "relationshipType": "excludes"})
        if rels:
            doc["productOfferingRelationship"] = rels
        docs.append(doc)
    return docs


def history_items(pairs: Iterable[tuple[int, int]], rng: np.random.Generator) -> Iterator[Item]:
    """TMF637 Product documents (about 5 % terminated: a training signal, not a holding)."""
    for k, (customer, item) in enumerate(pairs, 1):
        yield k, {
            "id": f"p{k}",
            "@type": "Product",
            "status": "terminated" if rng.random() < 0.05 else "active",
            "productOffering": {"id": f"po{item:05d}"},
            "relatedParty": [{"id": f"c{customer}", "role": "customer", "@referredType": "Customer"}],
        }


def random_queries(n: int, n_customers: int, catalog: Catalog, rng: np.random.Generator) -> list[dict[str, Any]]:
    """queryProductRecommendation resources: random existing customer, ~half with a channel filter,
    ~a fifth with a (leaf or top) category filter."""
    category_ids = sorted(c for c in catalog.category_masks if c.startswith(("cat", "top")))
    queries = []
    for _ in range(n):
        resource: dict[str, Any] = {
            "instantSyncRecommendation": True,
            "relatedParty": {"id": f"c{int(rng.integers(n_customers))}", "@referredType": "Customer"},
            "@type": "QueryProductRecommendation",
        }
        if rng.random() < 0.5:
            resource["channel"] = [{"id": CHANNELS[int(rng.integers(len(CHANNELS)))]}]
        if rng.random() < 0.2:
            resource["category"] = [{"id": category_ids[int(rng.integers(len(category_ids)))]}]
        queries.append(resource)
    return queries


# -- measurement ---------------------------------------------------------------------------------

class FixedHistory:
    """A ``HistorySource`` answering with holdings already read, to build the engine's context
    exactly as the service does without a second Mongo round trip."""

    def __init__(self) -> None:
        self.held: frozenset[str] = frozenset()

    def held_offerings(self, customer_id: str, now: datetime) -> frozenset[str]:
        return self.held

    def order_offerings(self, order_ids: Iterable[str], item_refs: Iterable[tuple[str, str]] = ()) -> frozenset[str]:
        return frozenset()


def summary(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
        "max": round(float(ms.max()), 3),
        "mean": round(float(ms.mean()), 3),
    }


def bench_size(mongo_uri: str, n_items: int, args: argparse.Namespace,
               log: Callable[[str], None]) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    db_name = f"bench_service_{n_items}"
    container: Container = build_container(Settings(mongodb_uri=mongo_uri, db_name=db_name))
    try:
        t0 = time.perf_counter()
        catalog_docs = synthetic_catalog(n_items, rng)
        report = import_catalog(enumerate(catalog_docs, 1), container.catalog)
        catalog_s = time.perf_counter() - t0
        if report.errors:
            raise RuntimeError(f"catalogue import rejected documents: {report.as_dict()['firstErrors']}")
        log(f"[{n_items}] catalogue: {report.written} in {catalog_s:.1f} s")

        pairs = synthetic_pairs(args.customers, n_items, rng, args.basket)
        t0 = time.perf_counter()
        report = import_history(history_items(pairs, rng), container.history)
        history_s = time.perf_counter() - t0
        if report.errors:
            raise RuntimeError(f"history import rejected documents: {report.as_dict()['firstErrors']}")
        log(f"[{n_items}] history: {len(pairs)} products of {args.customers} customers in {history_s:.1f} s")

        t0 = time.perf_counter()
        version, model = train_and_publish(container.history, container.models, "ease", seed=args.seed)
        train_s = time.perf_counter() - t0
        log(f"[{n_items}] EASE v{version}: {train_s:.1f} s (fit {model.metadata['trainingSeconds']} s)")

        t0 = time.perf_counter()
        engine = container.engines.current().engine  # first call loads catalogue + model from Mongo
        engine_load_s = time.perf_counter() - t0

        processor = container.recommendations
        history = container.history
        fixed = FixedHistory()
        limit = container.settings.recommendation_limit
        shadow = RecommendationProcessor(container.engines, fixed, default_limit=limit)
        queries = random_queries(args.warmup + args.requests, args.customers, engine.catalog, rng)
        for resource in queries[: args.warmup]:
            processor.recommend(resource)

        n = args.requests
        timings = {part: np.empty(n) for part in PARTS}
        empty = mismatched = 0
        started = time.perf_counter()
        for k, resource in enumerate(queries[args.warmup:]):
            t_start = time.perf_counter_ns()
            result = processor.recommend(resource)
            t_service = time.perf_counter_ns()

            customer = str(resource["relatedParty"]["id"])
            now = datetime.now(UTC)
            t_lookup_start = time.perf_counter_ns()
            fixed.held = history.held_offerings(customer, now)
            t_lookup = time.perf_counter_ns()

            engine = container.engines.current().engine
            ctx = shadow.context(resource, engine.catalog)
            t_engine_start = time.perf_counter_ns()
            recs = engine.recommend(ctx)
            t_engine = time.perf_counter_ns()

            timings["service"][k] = (t_service - t_start) / 1e6
            timings["mongoLookup"][k] = (t_lookup - t_lookup_start) / 1e6
            timings["engine"][k] = (t_engine - t_engine_start) / 1e6
            items = result["recommendationItem"]
            empty += not items
            mismatched += items != [recommendation_item(r) for r in recs]
        loop_s = time.perf_counter() - started
        latency = {part: summary(timings[part]) for part in PARTS}
        target = TARGETS_P99_MS.get(n_items)
        log(f"[{n_items}] {n} requests timed in {loop_s:.1f} s (service p99 {latency['service']['p99']} ms)")
        return {
            "offerings": n_items,
            "customers": args.customers,
            "historyProducts": len(pairs),
            "interactions": int(model.metadata["nInteractions"]),
            "modelMB": round(model.nbytes / 2**20, 2),
            "modelParams": model.model.params,
            "requests": n,
            "warmup": args.warmup,
            "emptyResults": empty,
            "partsDisagree": mismatched,
            "loadSeconds": {
                "catalogImport": round(catalog_s, 2),
                "historyImport": round(history_s, 2),
                "trainAndPublish": round(train_s, 2),
                "fit": model.metadata["trainingSeconds"],
                "engineLoad": round(engine_load_s, 3),
            },
            "latencyMs": latency,
            "targetP99Ms": target,
            "targetMet": None if target is None else latency["service"]["p99"] <= target,
        }
    finally:
        container.client.drop_database(db_name)
        container.close()


# -- output --------------------------------------------------------------------------------------

def table(results: list[dict[str, Any]]) -> str:
    header = (f"{'offerings':>9} {'customers':>9}  {'part':<13} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} "
              f"{'mean':>8}  (ms)")
    lines = [header, "-" * len(header)]
    for res in results:
        for j, part in enumerate(PARTS):
            lat = res["latencyMs"][part]
            first = f"{res['offerings']:>9} {res['customers']:>9}" if j == 0 else " " * 19
            lines.append(f"{first}  {PART_LABELS[part]:<13} {lat['p50']:>8.3f} {lat['p95']:>8.3f} "
                         f"{lat['p99']:>8.3f} {lat['max']:>8.3f} {lat['mean']:>8.3f}")
    lines.append("")
    for res in results:
        load = res["loadSeconds"]
        target = res["targetP99Ms"]
        verdict = ("no target" if target is None
                   else f"target p99 <= {target:g} ms {'MET' if res['targetMet'] else 'NOT MET'}")
        lines.append(
            f"{res['offerings']:>6} offerings: catalogue import {load['catalogImport']} s, "
            f"history import {load['historyImport']} s ({res['historyProducts']} products), "
            f"train+publish {load['trainAndPublish']} s (fit {load['fit']} s, model {res['modelMB']} MB), "
            f"engine load {load['engineLoad']} s | {res['requests']} requests, "
            f"{res['emptyResults']} empty, {res['partsDisagree']} part/whole mismatches | {verdict}"
        )
    return "\n".join(lines)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Service-path latency benchmark (embedded MongoDB + engine)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="catalogue sizes (offerings)")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--basket", type=float, default=6.0, help="mean products per customer")
    parser.add_argument("--requests", type=int, default=2000, help="timed service calls per size")
    parser.add_argument("--warmup", type=int, default=200, help="untimed service calls first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print JSON only (progress still goes to stderr)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.customers < 1 or args.warmup < 0 or min(args.sizes) < 10:
        parser.error("need --requests >= 1, --customers >= 1, --warmup >= 0 and sizes >= 10")

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    # Stop mongod on Ctrl-C even when started with SIGINT ignored (background job), and on kill.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tmf680-bench-") as tmp, \
                EmbeddedMongo(Path(tmp), journal=False) as mongo:
            log(f"mongod on {mongo.uri} (data in {tmp})")
            results.extend(bench_size(mongo.uri, n, args, log) for n in args.sizes)
    except KeyboardInterrupt:
        log("interrupted; mongod stopped")
        return 130
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
