"""EASE (Steck, 2019): a closed-form linear item-item autoencoder.

``P = (X^T X + lambda I)^-1`` and ``B = I - P diag(1/diag(P))``, which has a zero
diagonal, so an item never recommends itself. The inverse uses a Cholesky
factorisation (the Gram matrix plus ``lambda I`` is symmetric positive
definite), in float64 up to ``float64_max_items`` items and float32 above to
halve time and memory; the result is stored as float32, dense or pruned to
the top-K neighbours per item (see :mod:`recommender.models.neighbours`).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from recommender.models.neighbours import DEFAULT_DENSE_MAX_ITEMS, DEFAULT_TOP_K, NeighbourModel

DEFAULT_L2 = 100.0
FLOAT64_MAX_ITEMS = 4000


def gram_matrix(matrix: sparse.csr_matrix, dtype: type[np.floating[Any]] = np.float64) -> np.ndarray:
    """Dense ``X^T X`` of a binary users x items matrix."""
    x = sparse.csr_array(matrix, dtype=np.float32)
    return np.asarray((x.T @ x).toarray(), dtype=dtype)


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix via Cholesky (overwrites input)."""
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    factor, info = potrf(matrix, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed (info={info})")
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inversion failed (info={info})")
    upper = np.triu(inverse)
    return upper + np.triu(upper, 1).T


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """``B = I - P diag(1/diag(P))`` with ``P = (G + l2 I)^-1``; zero diagonal."""
    g = np.array(gram, copy=True)
    g[np.diag_indices_from(g)] += l2
    p = spd_inverse(g)
    b = p / (-np.diag(p))[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


class EaseModel(NeighbourModel):
    kind = "ease"

    def __init__(
        self,
        l2: float = DEFAULT_L2,
        top_k: int = DEFAULT_TOP_K,
        dense_max_items: int = DEFAULT_DENSE_MAX_ITEMS,
    ) -> None:
        super().__init__(top_k, dense_max_items)
        if l2 <= 0:
            raise ValueError("EASE l2 (lambda) must be > 0")
        self.l2 = float(l2)

    @property
    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "top_k": self.top_k, "dense_max_items": self.dense_max_items}

    def fit(self, matrix: sparse.csr_matrix, *, seed: int | None = None) -> Self:
        n = matrix.shape[1]
        dtype = np.float64 if n <= FLOAT64_MAX_ITEMS else np.float32
        self._store(ease_weights(gram_matrix(matrix, dtype), self.l2), matrix)
        return self
