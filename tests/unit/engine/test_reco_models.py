"""One known-answer test shared by every model kind, plus model-specific checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from recommender.models import MODEL_KINDS, EaseModel, create_model
from recommender.models.neighbours import NeighbourWeights, prune_top_k

# users x items: u0 {0,1}, u1 {0,1}, u2 {1,2}, u3 {0}
X = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=np.float32))

# Scores for a user holding item 0, derived by hand:
#   popularity = column sums; co-occurrence = C[0, j] / C[0, 0] with C = X^T X;
#   EASE (lambda = 1): P = (X^T X + I)^-1, B[0, j] = -P[0, j] / P[j, j] (det = 20).
KNOWN = {
    "popularity": ({}, [3.0, 3.0, 1.0]),
    "cooccurrence": ({}, [0.0, 2 / 3, 0.0]),
    "ease": ({"l2": 1.0}, [0.0, 0.5, -1 / 6]),
}


def test_every_model_kind_has_a_known_answer() -> None:
    assert set(KNOWN) == set(MODEL_KINDS)


@pytest.mark.parametrize("kind", sorted(KNOWN))
@pytest.mark.parametrize("sparse_weights", [False, True])
def test_known_answer(kind: str, sparse_weights: bool) -> None:
    params, expected = KNOWN[kind]
    if sparse_weights and kind != "popularity":
        params = {**params, "dense_max_items": 0, "top_k": 3}
    model = create_model(kind, params).fit(X, seed=0)
    assert model.n_items == 3
    np.testing.assert_allclose(model.scores(np.array([0])), expected, atol=1e-6)
    # cold start and out-of-range indices -> popularity
    np.testing.assert_allclose(model.scores(np.array([], dtype=np.intp)), [3.0, 3.0, 1.0])
    np.testing.assert_allclose(model.scores(np.array([7, -1])), [3.0, 3.0, 1.0])
    # round trip through plain arrays
    clone = type(model).from_arrays(model.to_arrays(), model.params)
    np.testing.assert_allclose(clone.scores(np.array([0, 2])), model.scores(np.array([0, 2])))
    assert all(a.dtype != object for a in model.to_arrays().values())


def test_ease_matches_the_closed_form_and_sums_rows() -> None:
    model = EaseModel(l2=1.0).fit(X)
    dense = X.toarray().astype(np.float64)
    p = np.linalg.inv(dense.T @ dense + np.eye(3))
    b = np.eye(3) - p / np.diag(p)
    np.testing.assert_allclose(model.scores(np.array([0, 1])), b[0] + b[1], atol=1e-6)
    assert model.scores(np.array([0])).dtype == np.float32
    assert model.weights is not None and model.weights.dense is not None
    np.testing.assert_array_equal(np.diag(model.weights.dense), 0.0)


def test_ease_rejects_non_positive_lambda() -> None:
    with pytest.raises(ValueError, match="l2"):
        EaseModel(l2=0)


def test_unknown_model_kind() -> None:
    with pytest.raises(ValueError, match="unknown model kind"):
        create_model("als")


def test_prune_top_k_keeps_the_largest_weights_per_row() -> None:
    w = np.array([[0.0, 3.0, 1.0, 2.0], [5.0, 0.0, -1.0, 4.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    csr = prune_top_k(w, 2)
    np.testing.assert_array_equal(csr.toarray(), [[0.0, 3.0, 0.0, 2.0], [5.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    weights = NeighbourWeights.build(w, top_k=2, dense_max_items=2)
    assert weights.is_sparse
    np.testing.assert_allclose(weights.row_sum(np.array([0, 1])), [5.0, 3.0, 0.0, 6.0])
    np.testing.assert_allclose(weights.row_sum(np.array([1])), [5.0, 0.0, 0.0, 4.0])
    assert not NeighbourWeights.build(w, top_k=2, dense_max_items=3).is_sparse


def test_large_catalogue_switches_to_sparse_automatically() -> None:
    rng = np.random.default_rng(0)
    matrix = sparse.random(300, 60, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    matrix.data[:] = 1.0
    model = EaseModel(l2=10.0, top_k=5, dense_max_items=50).fit(matrix)
    assert model.weights is not None and model.weights.is_sparse
    assert model.weights.csr is not None and np.diff(model.weights.csr.indptr).max() <= 5
    dense = EaseModel(l2=10.0).fit(matrix)
    assert dense.weights is not None and not dense.weights.is_sparse
    # the pruned model agrees with the dense one on each item's best neighbour
    for i in range(60):
        assert np.argmax(model.scores(np.array([i]))) == np.argmax(dense.scores(np.array([i])))
