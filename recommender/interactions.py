"""From (customer id, offering id) pairs to a binary user x item CSR matrix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True, eq=False)
class InteractionMatrix:
    """``matrix[u, i] == 1`` when ``users[u]`` holds ``items[i]``."""

    matrix: sparse.csr_matrix
    users: tuple[str, ...]
    items: tuple[str, ...]

    @property
    def n_interactions(self) -> int:
        return int(self.matrix.nnz)


def build_interactions(pairs: Iterable[tuple[str, str]], items: Sequence[str] | None = None) -> InteractionMatrix:
    """Binarise the pairs (duplicates count once).

    The item vocabulary is ``items`` when given (pairs with other items are
    dropped), else the sorted distinct offering ids, so it is deterministic.
    Users are kept in first-seen order.
    """
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {} if items is None else {str(i): k for k, i in enumerate(items)}
    rows: list[int] = []
    cols: list[int] = []
    for user, item in pairs:
        if items is None:
            col = item_index.setdefault(item, len(item_index))
        elif (found := item_index.get(item)) is None:
            continue
        else:
            col = found
        rows.append(user_index.setdefault(user, len(user_index)))
        cols.append(col)
    col_arr = np.asarray(cols, dtype=np.int64)
    if items is None:
        vocabulary = sorted(item_index)
        remap = np.empty(len(vocabulary), dtype=np.int64)
        remap[[item_index[i] for i in vocabulary]] = np.arange(len(vocabulary))
        col_arr = remap[col_arr] if col_arr.size else col_arr
    else:
        vocabulary = [str(i) for i in items]
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64), col_arr)),
        shape=(len(user_index), len(vocabulary)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return InteractionMatrix(matrix=matrix, users=tuple(user_index), items=tuple(vocabulary))
