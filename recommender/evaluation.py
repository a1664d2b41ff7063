"""Offline evaluation: seeded leave-one-out with the server's eligibility rules.

Protocol, per seed: every customer holding at least two catalogue offerings
has one of them hidden (chosen with the seed); each model is trained once on
everyone's remaining holdings; each test customer's catalogue is ranked by the
:class:`~recommender.engine.Engine` exactly as the server does (context with
``held`` = remaining holdings, no channel filter), and the hidden offering's
rank gives HR@k, NDCG@k (one relevant item: ``1/log2(rank+1)``), MRR (0 when
the hidden offering is not ranked at all) and catalogue coverage@k (share of
the catalogue that appears in someone's top k). Mean and std over the seeds.

EASE's lambda is tuned honestly: inside each seed's training data a second
leave-one-out split (seed ``+ 10_000``) picks the lambda with the best NDCG@k,
and the model is then refitted on the whole training data.

Two ablations use the same EASE model: ``ease-without-rules`` ranks with a
catalogue stripped of its relationship rules (held offerings still excluded;
no requirement completion either), ``ease-without-completion`` keeps the rules
but not the engine's requirement-completion ordering.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recommender.catalog import Catalog
from recommender.context import RecommendationContext
from recommender.engine import Engine
from recommender.training import train

DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
DEFAULT_L2_GRID: tuple[float, ...] = (0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
DEFAULT_MODELS: tuple[str, ...] = ("ease", "popularity", "cooccurrence")
WITHOUT_RULES = "ease-without-rules"
WITHOUT_COMPLETION = "ease-without-completion"
INNER_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """``train``: every customer's holdings minus the hidden one; ``hidden``: test targets."""

    train: dict[str, frozenset[str]]
    hidden: dict[str, str]


def leave_one_out(
    holdings: Mapping[str, Collection[str]], seed: int, hideable: Collection[str] | None = None
) -> LeaveOneOutSplit:
    """Hide one random (seeded) holding of each customer holding at least two.

    With ``hideable``, only those offerings count and can be hidden; the other
    holdings stay in the training data and in the test context (side information).
    """
    rng = np.random.default_rng(seed)
    train_sets: dict[str, frozenset[str]] = {}
    hidden: dict[str, str] = {}
    for customer in sorted(holdings):
        held = frozenset(holdings[customer])
        targets = sorted(held if hideable is None else held.intersection(hideable))
        if len(targets) >= 2:
            target = targets[int(rng.integers(len(targets)))]
            hidden[customer] = target
            train_sets[customer] = held - {target}
        else:
            train_sets[customer] = held
    return LeaveOneOutSplit(train_sets, hidden)


def _pairs(holdings: Mapping[str, Collection[str]]) -> list[tuple[str, str]]:
    return [(customer, item) for customer in sorted(holdings) for item in sorted(holdings[customer])]


def hidden_ranks(
    engine: Engine,
    split: LeaveOneOutSplit,
    now: datetime,
    masks: Mapping[str, np.ndarray] | None = None,
) -> tuple[list[int | None], list[np.ndarray]]:
    """1-based rank of each hidden offering (``None`` if not a candidate) and each
    customer's full ranking. ``masks`` caches candidate masks across models."""
    catalog = engine.catalog
    ranks: list[int | None] = []
    rankings: list[np.ndarray] = []
    for customer, target in split.hidden.items():
        ctx = RecommendationContext(customer_id=customer, held=split.train[customer], now=now, limit=len(catalog))
        ranking, _ = engine.rank(ctx, None, mask=masks[customer] if masks is not None else None)
        position = np.flatnonzero(ranking == catalog.index[target])
        ranks.append(int(position[0]) + 1 if position.size else None)
        rankings.append(ranking)
    return ranks, rankings


def ranking_metrics(
    ranks: Sequence[int | None], rankings: Sequence[np.ndarray], n_catalog: int, k: int, max_k: int
) -> dict[str, float]:
    """HR@1..max_k, NDCG@1..max_k, MRR and coverage@k of one run."""
    n = max(len(ranks), 1)
    found = np.array([r for r in ranks if r is not None], dtype=np.float64)
    metrics: dict[str, float] = {}
    for cut in range(1, max_k + 1):
        metrics[f"HR@{cut}"] = float((found <= cut).sum() / n)
    for cut in range(1, max_k + 1):
        metrics[f"NDCG@{cut}"] = float((1.0 / np.log2(found[found <= cut] + 1.0)).sum() / n)
    metrics["MRR"] = float((1.0 / found).sum() / n) if found.size else 0.0
    covered = {int(i) for ranking in rankings for i in ranking[:k]}
    metrics[f"coverage@{k}"] = len(covered) / n_catalog if n_catalog else 0.0
    return metrics


def tune_ease_l2(
    catalog: Catalog,
    train_holdings: Mapping[str, Collection[str]],
    seed: int,
    *,
    grid: Sequence[float] = DEFAULT_L2_GRID,
    k: int = 3,
    now: datetime | None = None,
    hideable: Collection[str] | None = None,
) -> tuple[float, dict[str, float]]:
    """Pick lambda by NDCG@k on an inner leave-one-out split of the training data."""
    now = now or datetime.now(UTC)
    inner = leave_one_out(train_holdings, seed + INNER_SEED_OFFSET, hideable)
    pairs = _pairs(inner.train)
    masks = _candidate_masks(Engine(catalog), inner, now)
    scores: dict[str, float] = {}
    for l2 in grid:
        model = train(pairs, "ease", {"l2": float(l2)}, seed=seed, items=catalog.ids)
        ranks, rankings = hidden_ranks(Engine(catalog, model), inner, now, masks)
        scores[str(l2)] = ranking_metrics(ranks, rankings, len(catalog), k, k)[f"NDCG@{k}"]
    best = max(grid, key=lambda l2: (scores[str(l2)], -l2))
    return float(best), scores


def _candidate_masks(engine: Engine, split: LeaveOneOutSplit, now: datetime) -> dict[str, np.ndarray]:
    return {
        customer: engine.candidate_mask(RecommendationContext(held=split.train[customer], now=now))
        for customer in split.hidden
    }


def _summary(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    keys = list(runs[0]) if runs else []
    return {
        "mean": {key: float(np.mean([r[key] for r in runs])) for key in keys},
        "std": {key: float(np.std([r[key] for r in runs])) for key in keys},
    }


def evaluate(
    catalog: Catalog,
    holdings: Mapping[str, Collection[str]],
    *,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    k: int = 3,
    max_k: int = 10,
    models: Sequence[str] = DEFAULT_MODELS,
    ease_l2: float | None = None,
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    ablations: bool = True,
    hideable: Collection[str] | None = None,
    now: datetime | None = None,
    on_seed_done: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the leave-one-out protocol; returns a JSON-able dict.

    ``on_seed_done(seed)`` is called after each seed (progress reporting).

    Holdings are restricted to the catalogue's offerings. ``ease_l2=None``
    tunes lambda per seed on an inner split; a number fixes it.
    ``result["models"][name]`` has ``mean``/``std`` dicts of every metric and
    ``perSeed``; ``result["protocol"]`` describes the run. ``hideable``
    restricts which offerings are test targets (see :func:`leave_one_out`).
    """
    now = now or datetime.now(UTC)
    max_k = max(max_k, k)
    known = set(catalog.ids)
    held = {c: frozenset(i for i in items if i in known) for c, items in holdings.items()}
    held = {c: items for c, items in held.items() if items}
    per_model: dict[str, list[dict[str, float]]] = {}
    chosen_l2: list[float] = []
    test_counts: list[int] = []
    plain = Engine(catalog)
    bare_catalog = catalog.without_relationship_rules()
    for seed in seeds:
        split = leave_one_out(held, seed, hideable)
        test_counts.append(len(split.hidden))
        pairs = _pairs(split.train)
        masks = _candidate_masks(plain, split, now)
        for kind in models:
            params: dict[str, Any] = {}
            if kind == "ease":
                l2 = ease_l2
                if l2 is None:
                    l2, _ = tune_ease_l2(catalog, split.train, seed, grid=l2_grid, k=k, now=now, hideable=hideable)
                chosen_l2.append(l2)
                params = {"l2": l2}
            model = train(pairs, kind, params, seed=seed, items=catalog.ids)
            ranks, rankings = hidden_ranks(Engine(catalog, model), split, now, masks)
            per_model.setdefault(kind, []).append(ranking_metrics(ranks, rankings, len(catalog), k, max_k))
            if kind == "ease" and ablations:
                for name, engine, cached in (
                    (WITHOUT_RULES, Engine(bare_catalog, model), None),
                    (WITHOUT_COMPLETION, Engine(catalog, model, complete_requirements=False), masks),
                ):
                    ranks, rankings = hidden_ranks(engine, split, now, cached)
                    per_model.setdefault(name, []).append(ranking_metrics(ranks, rankings, len(catalog), k, max_k))
        if on_seed_done is not None:
            on_seed_done(seed)
    return {
        "protocol": {
            "seeds": list(seeds),
            "k": k,
            "maxK": max_k,
            "catalogSize": len(catalog),
            "customers": len(held),
            "testCustomers": test_counts,
            "easeL2": chosen_l2,
            "easeL2Tuning": "fixed" if ease_l2 is not None else f"inner leave-one-out, NDCG@{k}",
            "l2Grid": [float(x) for x in l2_grid],
            "hideable": sorted(hideable) if hideable is not None else None,
        },
        "models": {name: {**_summary(runs), "perSeed": runs} for name, runs in per_model.items()},
    }


DEMO_CONTRACT_MODES = ("none", "context", "all")


def evaluate_demo(contracts: str = "context", **kwargs: Any) -> dict[str, Any]:
    """:func:`evaluate` on the shipped Telco demo data.

    ``contracts`` says what the contract offerings are in the evaluation:

    * ``"none"``: left out; the catalogue is the 10 service offerings (the
      set-up of the data set's published baselines);
    * ``"context"``: all 13 offerings are in the catalogue and the training
      history (as on the server, where a customer's contract is one of their
      products), but only services are hidden: same test customers and
      targets as ``"none"``, with the contract as extra context;
    * ``"all"``: contracts are also test targets.
    """
    from recommender.demo import contract_offering_ids, holdings_from_products, load_demo

    if contracts not in DEMO_CONTRACT_MODES:
        raise ValueError(f"contracts must be one of {DEMO_CONTRACT_MODES}")
    categories, offerings, products = load_demo()
    catalog = Catalog.from_documents(offerings, categories)
    contract_ids = contract_offering_ids(offerings)
    services = [i for i in catalog.ids if i not in contract_ids]
    if contracts == "none":
        catalog = catalog.restricted_to(services)
    if contracts == "context":
        kwargs.setdefault("hideable", services)
    result = evaluate(catalog, holdings_from_products(products), **kwargs)
    result["protocol"]["contracts"] = contracts
    return result


def plot_hit_rate(results: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Plot mean HR@k (k = 1..maxK) of every model into ``path`` (PNG/SVG/PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    max_k = int(results["protocol"]["maxK"])
    ks = list(range(1, max_k + 1))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, summary in results["models"].items():
        mean = [summary["mean"][f"HR@{k}"] for k in ks]
        std = [summary["std"][f"HR@{k}"] for k in ks]
        ax.errorbar(ks, mean, yerr=std, marker="o", capsize=3, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("hit rate @ k (leave-one-out)")
    ax.set_xticks(ks)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


__all__ = [
    "LeaveOneOutSplit",
    "evaluate",
    "evaluate_demo",
    "hidden_ranks",
    "leave_one_out",
    "plot_hit_rate",
    "ranking_metrics",
    "tune_ease_l2",
]
