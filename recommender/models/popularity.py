"""Popularity baseline: every user gets the number of holders of each item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from scipy import sparse

from recommender.models.base import FloatArray, IntArray, ItemModel, item_popularity


class PopularityModel(ItemModel):
    kind = "popularity"

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def fit(self, matrix: sparse.csr_matrix, *, seed: int | None = None) -> Self:
        self.popularity = item_popularity(matrix)
        return self

    def history_scores(self, items: IntArray) -> FloatArray:
        return self.popularity

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        model = cls(**params)
        model.popularity = np.asarray(arrays["popularity"], dtype=np.float32)
        return model
