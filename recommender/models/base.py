"""The interface every recommendation model implements.

A model only sees integer item indices ``0..n_items-1`` (the vocabulary that
maps business ids lives in :class:`recommender.serialization.TrainedModel`).
``fit`` takes a binary user x item CSR matrix; ``scores`` gets the indices of
the items a user holds (held + cart) and returns one float32 score per item.
An empty history gets the popularity scores (cold start). Models must
round-trip through plain arrays (``to_arrays`` / ``from_arrays``) so that they
can be stored without pickle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.intp]


def item_popularity(matrix: sparse.csr_matrix) -> FloatArray:
    """Number of users holding each item, as float32."""
    counts = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()
    return counts


class ItemModel(ABC):
    """Base class: parameters are plain JSON values given to ``__init__``."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.popularity: FloatArray = np.zeros(0, dtype=np.float32)

    @property
    def n_items(self) -> int:
        return int(self.popularity.shape[0])

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """JSON-able constructor arguments."""

    @abstractmethod
    def fit(self, matrix: sparse.csr_matrix, *, seed: int | None = None) -> Self:
        """Train on a binary users x items matrix; ``seed`` for stochastic models."""

    @abstractmethod
    def history_scores(self, items: IntArray) -> FloatArray:
        """Scores for a non-empty, duplicate-free history of item indices."""

    def scores(self, items: IntArray) -> FloatArray:
        """Per-item scores for a user holding ``items``; popularity if empty."""
        items = np.unique(np.asarray(items, dtype=np.intp))
        items = items[(items >= 0) & (items < self.n_items)]
        if items.size == 0:
            return self.popularity
        return self.history_scores(items)

    def contributions(self, items: IntArray, target: int) -> FloatArray | None:
        """How much each of ``items`` (a history) adds to ``target``'s score, when the model's score
        is a sum over the history; None when it is not (the history does not decompose)."""
        return None

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """All learnt state as named numeric arrays (no object dtype)."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_arrays`."""

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.to_arrays().values())
