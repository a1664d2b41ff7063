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


class InteractionBuilder:
    """Collects (customer ids, offering ids) chunks as integer arrays, then builds the matrix.

    Millions of interactions: each chunk becomes two int32 arrays right away (customer codes from a
    dict, offering codes from the vocabulary), so no Python tuple is kept per interaction and the
    CSR matrix is built from the concatenated arrays. ``items`` fixes the vocabulary (others are
    dropped); by default it is the sorted distinct offering ids seen. Users keep first-seen order.
    """

    def __init__(self, items: Sequence[str] | None = None) -> None:
        self._fixed = [str(i) for i in items] if items is not None else None
        self._items: dict[str, int] = {} if items is None else {str(i): k for k, i in enumerate(items)}
        self._users: dict[str, int] = {}
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []

    def add(self, customers: Sequence[str], offerings: Sequence[str]) -> None:
        """One chunk: ``customers[k]`` holds ``offerings[k]``."""
        users, items = self._users, self._items
        rows = np.fromiter((users.setdefault(c, len(users)) for c in customers), np.int32, len(customers))
        if self._fixed is not None:
            cols = np.fromiter((items.get(o, -1) for o in offerings), np.int32, len(offerings))
            known = cols >= 0
            rows, cols = rows[known], cols[known]
        else:
            cols = np.fromiter((items.setdefault(o, len(items)) for o in offerings), np.int32, len(offerings))
        self._rows.append(rows)
        self._cols.append(cols)

    def build(self) -> InteractionMatrix:
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, np.int32)
        cols = np.concatenate(self._cols) if self._cols else np.zeros(0, np.int32)
        self._rows, self._cols = [], []
        if self._fixed is not None:
            vocabulary = self._fixed
        else:
            vocabulary = sorted(self._items)
            remap = np.empty(len(vocabulary), dtype=np.int32)
            remap[[self._items[i] for i in vocabulary]] = np.arange(len(vocabulary), dtype=np.int32)
            cols = remap[cols] if cols.size else cols
        shape = (len(self._users), len(vocabulary))
        matrix = sparse.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=shape)
        del rows, cols
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return InteractionMatrix(matrix=matrix, users=tuple(self._users), items=tuple(vocabulary))


def build_interactions(pairs: Iterable[tuple[str, str]], items: Sequence[str] | None = None,
                       chunk: int = 100_000) -> InteractionMatrix:
    """Binarise the pairs (duplicates count once); see :class:`InteractionBuilder`."""
    builder = InteractionBuilder(items)
    customers: list[str] = []
    offerings: list[str] = []
    for user, item in pairs:
        customers.append(user)
        offerings.append(item)
        if len(customers) >= chunk:
            builder.add(customers, offerings)
            customers, offerings = [], []
    builder.add(customers, offerings)
    return builder.build()
