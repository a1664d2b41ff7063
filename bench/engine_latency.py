"""Benchmark of the recommendation engine (not a test): latency, memory, training time.

    python bench/engine_latency.py                 # 1k and 10k offerings, 100k customers
    python bench/engine_latency.py --json --sizes 1000 --contexts 2000

For each catalogue size it builds a synthetic TMF620 catalogue (category tree,
channels, places, requires/excludes/alternative/upgrade relationships, a few
retired or not-yet-valid offerings) and a synthetic purchase history (customers
in latent segments with Zipf-like tastes), trains EASE from the (customer,
offering) pairs, and times ``Engine.recommend`` on random contexts built from
real histories (some with a cart item, a channel, a category filter or a
recommendation type). Times are wall-clock inside the engine, no HTTP. The same
model mapped read-only from ``.npy`` files (as servers use it) is timed on the
same contexts, interleaved (``mappedLatencyMs``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import synthetic_pairs

from recommender import Catalog, Engine, RecommendationContext, TrainedModel
from recommender.training import train

CHANNELS = ("web", "app", "callCentre", "retailStore")
PLACES = ("north", "south", "east")
REC_TYPES = (None, None, None, "cross-sell", "upsell", "nbo")
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def synthetic_catalog(n_items: int, rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n_top = max(2, n_items // 200)
    n_leaf = max(4, n_items // 20)
    categories = [{"id": "root", "name": "Root", "isRoot": True}]
    categories += [{"id": f"top{t}", "name": f"Top {t}", "parentId": "root"} for t in range(n_top)]
    categories += [{"id": f"cat{c}", "name": f"Leaf {c}", "parentId": f"top{c % n_top}"} for c in range(n_leaf)]
    offerings: list[dict[str, Any]] = []
    for i in range(n_items):
        doc: dict[str, Any] = {
            "id": f"po{i:05d}",
            "href": f"/tmf-api/productCatalogManagement/v4/productOffering/po{i:05d}",
            "name": f"Offering {i}",
            "lifecycleStatus": "Retired" if rng.random() < 0.02 else "Active",
            "validFor": {"startDateTime": "2020-01-01T00:00:00Z"},
            "category": [{"id": f"cat{int(rng.integers(n_leaf))}"}],
            "productOfferingRelationship": [],
        }
        if rng.random() < 0.02:
            doc["validFor"] = {"startDateTime": "2030-01-01T00:00:00Z"}
        if rng.random() < 0.3:
            doc["channel"] = [{"id": c} for c in rng.choice(CHANNELS, size=2, replace=False)]
        if rng.random() < 0.1:
            doc["place"] = [{"id": str(rng.choice(PLACES))}]
        rels = doc["productOfferingRelationship"]
        if i > 10 and rng.random() < 0.1:
            rels += [{"id": f"po{int(t):05d}", "relationshipType": "requires"} for t in rng.integers(0, i, 2)]
        if i > 10 and rng.random() < 0.05:
            rels.append({"id": f"po{int(rng.integers(0, i)):05d}", "relationshipType": "excludes"})
        if i > 10 and rng.random() < 0.05:
            rels.append({"id": f"po{int(rng.integers(0, i)):05d}", "relationshipType": "alternative"})
        if i > 10 and rng.random() < 0.05:
            rels.append({"id": f"po{int(rng.integers(0, i)):05d}", "relationshipType": "upgrade"})
        offerings.append(doc)
    return categories, offerings


def synthetic_history(
    n_customers: int, n_items: int, rng: np.random.Generator, mean_basket: float = 6.0
) -> list[tuple[str, str]]:
    """(customer id, offering id) pairs: customers in latent segments with Zipf-like tastes."""
    return [(f"c{u}", f"po{i:05d}") for u, i in synthetic_pairs(n_customers, n_items, rng, mean_basket)]


def random_contexts(
    histories: list[list[str]], catalog: Catalog, n: int, rng: np.random.Generator
) -> list[RecommendationContext]:
    category_ids = [c for c in catalog.category_masks if c.startswith("cat")]
    contexts = []
    for _ in range(n):
        held = histories[int(rng.integers(len(histories)))]
        cart = [catalog.ids[int(rng.integers(len(catalog)))]] if rng.random() < 0.3 else []
        contexts.append(
            RecommendationContext(
                customer_id="bench",
                held=frozenset(held),
                cart=frozenset(cart),
                channel_ids=(str(rng.choice(CHANNELS)),) if rng.random() < 0.5 else (),
                place_ids=(str(rng.choice(PLACES)),) if rng.random() < 0.2 else (),
                category_ids=(str(rng.choice(category_ids)),) if rng.random() < 0.2 else (),
                now=NOW,
                limit=5,
                recommendation_type=REC_TYPES[int(rng.integers(len(REC_TYPES)))],
            )
        )
    return contexts


def mapped_model(meta: dict[str, Any], blobs: dict[str, bytes], directory: Path) -> TrainedModel:
    """The model as servers use it: arrays mapped read-only from ``.npy`` files (storage/model_cache.py)."""
    arrays = {}
    for name, blob in blobs.items():
        (directory / f"{name}.npy").write_bytes(blob)
        arrays[name] = np.load(directory / f"{name}.npy", mmap_mode="r")
    return TrainedModel.from_arrays(meta, arrays)


def percentiles(timings: np.ndarray) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(timings, 50)), 4),
        "p90": round(float(np.percentile(timings, 90)), 4),
        "p99": round(float(np.percentile(timings, 99)), 4),
        "max": round(float(timings.max()), 4),
        "mean": round(float(timings.mean()), 4),
    }


def bench_size(
    n_items: int, n_customers: int, n_contexts: int, seed: int, top_k: int, basket: float = 6.0
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    categories, offerings = synthetic_catalog(n_items, rng)
    t0 = time.perf_counter()
    catalog = Catalog.from_documents(offerings, categories)
    catalog_seconds = time.perf_counter() - t0
    pairs = synthetic_history(n_customers, n_items, rng, mean_basket=basket)
    t0 = time.perf_counter()
    model = train(pairs, "ease", {"l2": 100.0, "top_k": top_k}, seed=seed)
    train_seconds = time.perf_counter() - t0
    meta, blobs = model.to_payload()
    t0 = time.perf_counter()
    model = TrainedModel.from_payload(meta, blobs)
    load_seconds = time.perf_counter() - t0
    engine = Engine(catalog, model)

    histories: dict[str, list[str]] = {}
    for customer, item in pairs[: min(len(pairs), 200_000)]:
        histories.setdefault(customer, []).append(item)
    contexts = random_contexts(list(histories.values()), catalog, n_contexts, rng)
    with tempfile.TemporaryDirectory(prefix="engine-latency-") as tmp:
        mapped = Engine(catalog, mapped_model(meta, blobs, Path(tmp)))
        for ctx in contexts[:200]:  # warm-up
            engine.recommend(ctx)
            mapped.recommend(ctx)
        timings = np.empty(len(contexts))
        mapped_timings = np.empty(len(contexts))
        empty = 0
        for k, ctx in enumerate(contexts):  # interleaved: both see the same machine
            start = time.perf_counter_ns()
            result = engine.recommend(ctx)
            timings[k] = (time.perf_counter_ns() - start) / 1e6
            start = time.perf_counter_ns()
            mapped.recommend(ctx)
            mapped_timings[k] = (time.perf_counter_ns() - start) / 1e6
            empty += not result
    return {
        "offerings": n_items,
        "customers": n_customers,
        "interactions": int(model.metadata["nInteractions"]),
        "catalogBuildSeconds": round(catalog_seconds, 3),
        "trainSeconds": round(train_seconds, 2),
        "fitSeconds": model.metadata["trainingSeconds"],
        "payloadLoadSeconds": round(load_seconds, 3),
        "modelBytes": model.nbytes,
        "modelMB": round(model.nbytes / 2**20, 2),
        "sparse": bool(model.model.params.get("dense_max_items", 0) < n_items),
        "topK": top_k,
        "contexts": n_contexts,
        "emptyResults": empty,
        "latencyMs": percentiles(timings),
        "mappedLatencyMs": percentiles(mapped_timings),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Engine latency / memory / training-time benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contexts", type=int, default=3000)
    parser.add_argument("--top-k", type=int, default=200)
    parser.add_argument("--basket", type=float, default=6.0, help="mean offerings per customer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    results = []
    for n in args.sizes:
        res = bench_size(n, args.customers, args.contexts, args.seed, args.top_k, args.basket)
        results.append(res)
        if not args.json:
            lat = res["latencyMs"]
            print(
                f"{n:>6} offerings | {res['customers']} customers, {res['interactions']} pairs | "
                f"train {res['trainSeconds']} s (fit {res['fitSeconds']} s) | "
                f"model {res['modelMB']} MB{' (top-K CSR)' if res['sparse'] else ' (dense)'} | "
                f"recommend p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms "
                f"over {res['contexts']} contexts; mapped from files p50 {res['mappedLatencyMs']['p50']} ms, "
                f"p99 {res['mappedLatencyMs']['p99']} ms"
            )
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
