"""Co-occurrence baseline: ``W[i, j] = P(j | i) = C[i, j] / C[i, i]``.

``C = X^T X`` counts users holding both items; a user's score for j is the sum
of ``P(j | i)`` over the items i they hold.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy import sparse

from recommender.models.ease import gram_matrix
from recommender.models.neighbours import NeighbourModel


def conditional_probabilities(counts: np.ndarray) -> np.ndarray:
    """Row-normalise a co-occurrence matrix by its diagonal; zero diagonal."""
    diag = np.diag(counts).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(diag[:, None] > 0, counts / diag[:, None], 0.0)
    cond[np.diag_indices_from(cond)] = 0.0
    return cond.astype(np.float32)


class CooccurrenceModel(NeighbourModel):
    kind = "cooccurrence"

    @property
    def params(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "dense_max_items": self.dense_max_items}

    def fit(self, matrix: sparse.csr_matrix, *, seed: int | None = None) -> Self:
        self._store(conditional_probabilities(gram_matrix(matrix, np.float32)), matrix)
        return self
