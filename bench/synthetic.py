"""Synthetic customer histories shared by the benchmark scripts."""

from __future__ import annotations

import numpy as np


def synthetic_pairs(n_customers: int, n_items: int, rng: np.random.Generator, mean_basket: float,
                    n_segments: int = 50) -> list[tuple[int, int]]:
    """(customer index, offering index) pairs, distinct per customer; each latent segment prefers a
    random Zipf-like ranking of the offerings."""
    base = 1.0 / np.arange(1, n_items + 1) ** 0.8
    prefs = np.stack([rng.permutation(base) for _ in range(n_segments)])
    prefs /= prefs.sum(axis=1, keepdims=True)
    cum = np.cumsum(prefs, axis=1)
    cum[:, -1] = 1.0
    segment = rng.integers(n_segments, size=n_customers)
    sizes = 1 + rng.poisson(max(mean_basket - 1.0, 0.0), size=n_customers)
    owner = np.repeat(np.arange(n_customers), sizes)
    seg = segment[owner]
    flat = (cum + np.arange(n_segments)[:, None]).ravel()
    items = np.clip(np.searchsorted(flat, rng.random(owner.size) + seg) - seg * n_items, 0, n_items - 1)
    return list(dict.fromkeys(zip(owner.tolist(), items.tolist(), strict=True)))
