"""What pruning EASE to its top-K neighbours per item costs in quality (not a test).

    python -m bench.pruning_quality                                   # 2k, 5k, 10k offerings, 3 seeds
    python -m bench.pruning_quality --sizes 2000 --seeds 0 1 --json --plot bench/figures/pruning-quality.png

For every catalogue size and seed it draws a synthetic market (``bench/telco_synthetic.py``: Zipf
popularity, topics, bundles; ``--customers-per-offering`` customers per offering), hides one held
offering of each of up to ``--test-customers`` customers holding at least two (seeded), fits dense
EASE (the server's default lambda, ``--l2``) on everything else, and ranks every offering the test
customer does not hold, as the engine's model does (the sum of the rows of the held items; no
catalogue rules). The same fitted weights, pruned to the top K of each row as the server does above
``dense_max_items`` (``recommender.models.neighbours.prune_top_k``), rank the same customers.

Paired per customer: for each customer the difference (pruned - dense) of HR@10 (hidden offering in
the top 10) and NDCG@10. Reported per size: the mean difference over all seeds' customers with a 95 %
confidence interval (normal approximation of the paired differences), the per-seed means, and how
many customers only one of the two ranked in their top 10. Popularity is listed for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np
from scipy import sparse

from bench.telco_synthetic import holdings
from recommender.models.ease import DEFAULT_L2, ease_weights, gram_matrix
from recommender.models.neighbours import prune_top_k

TOP = 10
Z95 = 1.959964


def split(rows: np.ndarray, cols: np.ndarray, n_customers: int, n_offerings: int, n_test: int,
          rng: np.random.Generator) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Training matrix (one hidden offering removed per test customer), test customers, hidden items."""
    matrix = sparse.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n_customers, n_offerings))
    sizes = np.diff(matrix.indptr)
    eligible = np.flatnonzero(sizes >= 2)
    test = np.sort(rng.choice(eligible, size=min(n_test, eligible.size), replace=False))
    pick = matrix.indptr[test] + (rng.random(test.size) * sizes[test]).astype(np.int64)
    hidden = matrix.indices[pick].copy()
    matrix.data[pick] = 0.0
    matrix.eliminate_zeros()
    return matrix, test, hidden


def ranks(scores: np.ndarray, held: sparse.csr_matrix, hidden: np.ndarray) -> np.ndarray:
    """0-based rank of each hidden item among the items its customer does not hold (ties count
    against it, as a partial sort may put them first)."""
    scores = np.array(scores, dtype=np.float32)
    scores[held.nonzero()] = -np.inf
    target = scores[np.arange(hidden.size), hidden]
    return (scores >= target[:, None]).sum(axis=1) - 1


def metrics(rank: np.ndarray) -> dict[str, np.ndarray]:
    hit = (rank < TOP).astype(np.float64)
    return {"hr": hit, "ndcg": np.where(rank < TOP, 1.0 / np.log2(rank + 2.0), 0.0)}


def evaluate(n_offerings: int, seed: int, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    n_customers = n_offerings * args.customers_per_offering
    rows, cols = holdings(n_customers, n_offerings, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    train, test, hidden = split(rows, cols, n_customers, n_offerings, args.test_customers, rng)
    started = time.perf_counter()
    dtype = np.float64 if n_offerings <= 4000 else np.float32
    dense = ease_weights(gram_matrix(train, dtype), args.l2).astype(np.float32)
    fit_s = time.perf_counter() - started
    pruned = {k: sparse.csr_matrix(prune_top_k(dense, k)) for k in args.top_k}
    popularity = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()
    held = train[test]
    out: dict[str, dict[str, list[float]]] = {}
    for start in range(0, test.size, 1000):
        block, block_hidden = held[start:start + 1000], hidden[start:start + 1000]
        variants = {"dense": block @ dense, "popularity": np.tile(popularity, (block.shape[0], 1))}
        for k, weights in pruned.items():
            variants[f"top{k}"] = (block @ weights).toarray()
        for name, scores in variants.items():
            for metric, values in metrics(ranks(scores, block, block_hidden)).items():
                out.setdefault(name, {}).setdefault(metric, []).extend(values.tolist())
    log(f"  {n_offerings} offerings, seed {seed}: {n_customers:,} customers, {train.nnz:,} interactions, "
        f"{test.size:,} test customers, EASE fitted in {fit_s:.1f} s; HR@10 dense "
        f"{np.mean(out['dense']['hr']):.4f}, " + ", ".join(f"top{k} {np.mean(out[f'top{k}']['hr']):.4f}"
                                                          for k in args.top_k))
    return {"offerings": n_offerings, "seed": seed, "customers": n_customers, "interactions": int(train.nnz),
            "testCustomers": int(test.size), "fitSeconds": round(fit_s, 1), "perCustomer": out}


def paired(runs: list[dict[str, Any]], variant: str, metric: str) -> dict[str, Any]:
    diffs = np.concatenate([np.array(r["perCustomer"][variant][metric]) - np.array(r["perCustomer"]["dense"][metric])
                            for r in runs])
    half = Z95 * diffs.std(ddof=1) / np.sqrt(diffs.size)
    per_seed = [round(float(np.mean(np.array(r["perCustomer"][variant][metric])
                                     - np.array(r["perCustomer"]["dense"][metric]))), 5) for r in runs]
    out = {"meanDiff": round(float(diffs.mean()), 5), "ci95": [round(float(diffs.mean() - half), 5),
                                                                round(float(diffs.mean() + half), 5)],
           "perSeed": per_seed, "n": int(diffs.size)}
    if metric == "hr":
        out["onlyVariantHits"] = int((diffs > 0).sum())
        out["onlyDenseHits"] = int((diffs < 0).sum())
    return out


def summarise(runs: list[dict[str, Any]], top_k: list[int]) -> list[dict[str, Any]]:
    table = []
    for n in sorted({r["offerings"] for r in runs}):
        mine = [r for r in runs if r["offerings"] == n]
        row: dict[str, Any] = {"offerings": n, "seeds": [r["seed"] for r in mine],
                               "testCustomers": sum(r["testCustomers"] for r in mine),
                               "fitSeconds": [r["fitSeconds"] for r in mine]}
        for variant in ["dense", "popularity", *[f"top{k}" for k in top_k]]:
            row[variant] = {m: round(float(np.mean(np.concatenate([r["perCustomer"][variant][m] for r in mine]))), 5)
                            for m in ("hr", "ndcg")}
            if variant != "dense":
                row[variant]["vsDense"] = {m: paired(mine, variant, m) for m in ("hr", "ndcg")}
        table.append(row)
    return table


def plot(table: list[dict[str, Any]], top_k: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(top_k)
    for j, k in enumerate(top_k):
        xs = np.arange(len(table)) + (j - (len(top_k) - 1) / 2) * width
        means = [row[f"top{k}"]["vsDense"]["hr"]["meanDiff"] for row in table]
        lows = [row[f"top{k}"]["vsDense"]["hr"]["ci95"][0] for row in table]
        highs = [row[f"top{k}"]["vsDense"]["hr"]["ci95"][1] for row in table]
        ax.bar(xs, means, width, label=f"top-{k} pruned", yerr=[np.subtract(means, lows), np.subtract(highs, means)],
               capsize=3)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(table)), [f"{row['offerings']:,} offerings\n(dense HR@10 {row['dense']['hr']:.3f})"
                                          for row in table])
    ax.set_ylabel("HR@10 pruned - dense (paired, 95 % CI)")
    ax.set_title("What pruning EASE costs (synthetic telco markets, seeds pooled)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 10000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--customers-per-offering", type=int, default=10)
    parser.add_argument("--test-customers", type=int, default=5000)
    parser.add_argument("--top-k", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--l2", type=float, default=DEFAULT_L2)
    parser.add_argument("--plot", help="write a PNG of the HR@10 differences")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = [evaluate(n, seed, args, log) for n in args.sizes for seed in args.seeds]
    table = summarise(runs, args.top_k)
    if args.plot:
        plot(table, args.top_k, args.plot)
    result = {"l2": args.l2, "customersPerOffering": args.customers_per_offering, "cpus": os.cpu_count(),
              "table": table}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in table:
            for variant in ["popularity", *[f"top{k}" for k in args.top_k]]:
                hr = row[variant]["vsDense"]["hr"]
                print(f"{row['offerings']:>6,} offerings, {row['testCustomers']:,} customers: dense HR@10 "
                      f"{row['dense']['hr']:.4f}, {variant} {row[variant]['hr']:.4f}, diff {hr['meanDiff']:+.4f} "
                      f"[{hr['ci95'][0]:+.4f}, {hr['ci95'][1]:+.4f}] (per seed {hr['perSeed']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
