from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reco_helpers import NOW, offering

from recommender import Catalog
from recommender.evaluation import evaluate, evaluate_demo, leave_one_out, plot_hit_rate, ranking_metrics

HOLDINGS = {
    "u1": {"a", "b", "c"},
    "u2": {"a", "b"},
    "u3": {"c"},
    "u4": {"b", "c", "x"},
}


def test_leave_one_out_is_seeded_and_hides_one_of_two_or_more() -> None:
    split = leave_one_out(HOLDINGS, seed=1)
    assert split == leave_one_out(HOLDINGS, seed=1)
    assert set(split.hidden) == {"u1", "u2", "u4"}
    for customer, target in split.hidden.items():
        assert target in HOLDINGS[customer]
        assert split.train[customer] == frozenset(HOLDINGS[customer]) - {target}
    assert split.train["u3"] == {"c"}
    only = leave_one_out(HOLDINGS, seed=1, hideable={"a", "b"})
    assert set(only.hidden) == {"u1", "u2"}
    assert all(t in {"a", "b"} for t in only.hidden.values())


def test_ranking_metrics_known_answer() -> None:
    rankings = [np.array([0, 1, 2]), np.array([1, 0, 2]), np.array([2, 0]), np.array([1])]
    metrics = ranking_metrics([1, 2, 4, None], rankings, n_catalog=4, k=1, max_k=3)
    assert metrics["HR@1"] == pytest.approx(0.25)
    assert metrics["HR@3"] == pytest.approx(0.5)
    assert metrics["NDCG@3"] == pytest.approx((1 + 1 / np.log2(3)) / 4)
    assert metrics["MRR"] == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert metrics["coverage@1"] == pytest.approx(0.75)  # items 0, 1, 2 of 4


def test_evaluate_on_a_tiny_catalogue() -> None:
    catalog = Catalog.from_documents([offering(i) for i in "abc"])
    result = evaluate(catalog, HOLDINGS, seeds=(0, 1), k=1, max_k=2, ease_l2=1.0, now=NOW)
    assert result["protocol"]["testCustomers"] == [3, 3]  # "x" is not in the catalogue
    assert set(result["models"]) == {
        "ease",
        "popularity",
        "cooccurrence",
        "ease-without-rules",
        "ease-without-completion",
    }
    assert len(result["models"]["ease"]["perSeed"]) == 2
    assert set(result["models"]["ease"]["mean"]) >= {"HR@1", "HR@2", "NDCG@1", "MRR", "coverage@1"}


def test_reduced_demo_evaluation_engine_beats_popularity(tmp_path: Path) -> None:
    result = evaluate_demo(contracts="none", seeds=(0,), ease_l2=100.0)
    models = result["models"]
    assert result["protocol"]["testCustomers"] == [5_779]
    ease, pop = models["ease"]["mean"], models["popularity"]["mean"]
    assert ease["HR@3"] > pop["HR@3"]
    assert ease["HR@3"] > 0.9 and ease["NDCG@3"] > 0.75
    assert models["ease"]["mean"]["HR@3"] > models["ease-without-rules"]["mean"]["HR@3"]
    pytest.importorskip("matplotlib")
    out = plot_hit_rate(result, tmp_path / "hr.png")
    assert out.stat().st_size > 1000
