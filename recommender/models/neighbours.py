"""Item-item weight matrices, dense for small catalogues and top-K CSR for large.

A dense float32 item-item matrix costs ``4 n^2`` bytes: 4 MB at 1,000 items but
400 MB at 10,000. Above ``dense_max_items`` only the ``top_k`` largest weights of
each row (source item) are kept, as CSR with int32 indices (``8 n K`` bytes).
Keeping the largest (not the largest absolute) weights is deliberate: a user's
score for item j is ``sum_i W[i, j]`` over held items i, and the top of that
ranking is made of the large positive contributions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from recommender.models.base import FloatArray, IntArray, ItemModel, item_popularity

DEFAULT_TOP_K = 200
DEFAULT_DENSE_MAX_ITEMS = 2000
_PRUNE_CHUNK_ROWS = 512


def prune_top_k(weights: NDArray[np.floating], top_k: int) -> sparse.csr_array:
    """Keep the ``top_k`` largest non-zero weights of every row, as float32 CSR."""
    n_rows, n_cols = weights.shape
    k = max(0, min(top_k, n_cols))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    for start in range(0, n_rows, _PRUNE_CHUNK_ROWS):
        chunk = weights[start : start + _PRUNE_CHUNK_ROWS]
        if k == 0:
            break
        if k < n_cols:
            top = np.argpartition(-chunk, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(n_cols), chunk.shape)
        values = np.take_along_axis(chunk, top, axis=1).astype(np.float32)
        keep = values != 0
        row_ids = np.broadcast_to(np.arange(start, start + chunk.shape[0])[:, None], top.shape)
        rows.append(row_ids[keep])
        cols.append(top[keep])
        vals.append(values[keep])
    if rows:
        row_ids, col_ids, data = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        row_ids, col_ids, data = np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32)
    order = np.lexsort((col_ids, row_ids))
    index_dtype = np.int32 if max(data.size, n_cols) < 2**31 else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(np.bincount(row_ids, minlength=n_rows), out=indptr[1:])
    return sparse.csr_array(
        (data[order], col_ids[order].astype(index_dtype), indptr), shape=(n_rows, n_cols), copy=False
    )


class NeighbourWeights:
    """``W[i, j]``: how much holding item i raises the score of item j."""

    def __init__(self, dense: FloatArray | None = None, csr: sparse.csr_array | None = None) -> None:
        if (dense is None) == (csr is None):
            raise ValueError("exactly one of dense / csr is required")
        self.dense = dense
        self.csr = csr
        self.n_items = int(dense.shape[1] if dense is not None else csr.shape[1])  # type: ignore[union-attr]

    @classmethod
    def build(cls, weights: NDArray[np.floating], *, top_k: int, dense_max_items: int) -> NeighbourWeights:
        if weights.shape[0] > dense_max_items:
            return cls(csr=prune_top_k(weights, top_k))
        return cls(dense=np.ascontiguousarray(weights, dtype=np.float32))

    @property
    def is_sparse(self) -> bool:
        return self.csr is not None

    def row_sum(self, items: IntArray) -> FloatArray:
        """``sum_i W[i, :]`` over the given (unique) item indices."""
        if self.dense is not None:
            if items.size == 1:
                return self.dense[int(items[0])].copy()
            return self.dense[items].sum(axis=0, dtype=np.float32)
        assert self.csr is not None
        indptr, indices, data = self.csr.indptr, self.csr.indices, self.csr.data
        if items.size == 1:
            s, e = int(indptr[items[0]]), int(indptr[items[0] + 1])
            out = np.zeros(self.n_items, dtype=np.float32)
            out[indices[s:e]] = data[s:e]
            return out
        spans = [slice(int(indptr[i]), int(indptr[i + 1])) for i in items]
        cols = np.concatenate([indices[s] for s in spans])
        weights = np.concatenate([data[s] for s in spans])
        return np.bincount(cols, weights=weights, minlength=self.n_items).astype(np.float32)

    def to_arrays(self, prefix: str = "weights") -> dict[str, np.ndarray]:
        if self.dense is not None:
            return {prefix: self.dense}
        assert self.csr is not None
        return {
            f"{prefix}_data": self.csr.data,
            f"{prefix}_indices": self.csr.indices,
            f"{prefix}_indptr": self.csr.indptr,
            f"{prefix}_shape": np.array(self.csr.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "weights") -> NeighbourWeights:
        if prefix in arrays:
            return cls(dense=np.ascontiguousarray(arrays[prefix], dtype=np.float32))
        shape = tuple(int(x) for x in arrays[f"{prefix}_shape"])
        csr = sparse.csr_array(
            (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
            shape=shape,
        )
        return cls(csr=csr)


class NeighbourModel(ItemModel):
    """A model whose learnt state is an item-item weight matrix (dense or top-K pruned) plus
    popularity; a user's scores are the sum of the rows of the items they hold."""

    def __init__(self, top_k: int = DEFAULT_TOP_K, dense_max_items: int = DEFAULT_DENSE_MAX_ITEMS) -> None:
        super().__init__()
        self.top_k = int(top_k)
        self.dense_max_items = int(dense_max_items)
        self.weights: NeighbourWeights | None = None

    def _store(self, weights: NDArray[np.floating], matrix: sparse.csr_matrix) -> None:
        """Keep fitted weights (pruned as configured) and the items' popularity."""
        self.weights = NeighbourWeights.build(weights, top_k=self.top_k, dense_max_items=self.dense_max_items)
        self.popularity = item_popularity(matrix)

    def history_scores(self, items: IntArray) -> FloatArray:
        assert self.weights is not None, "model not fitted"
        return self.weights.row_sum(items)

    def contributions(self, items: IntArray, target: int) -> FloatArray:
        """``W[i, target]`` for each i: the score of each one-item history, which add up to the
        history's score (``history_scores`` sums the rows)."""
        return np.array([self.history_scores(np.array([i], dtype=np.intp))[target] for i in items], dtype=np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        assert self.weights is not None, "model not fitted"
        return {"popularity": self.popularity, **self.weights.to_arrays()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        model = cls(**params)
        model.popularity = np.asarray(arrays["popularity"], dtype=np.float32)
        model.weights = NeighbourWeights.from_arrays(arrays)
        return model
