"""Train a model from (customer id, offering id) pairs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from recommender.interactions import InteractionMatrix, build_interactions
from recommender.models import create_model
from recommender.serialization import TrainedModel


def train_matrix(
    data: InteractionMatrix,
    kind: str = "ease",
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TrainedModel:
    """Fit a model of ``kind`` on an already-built interaction matrix."""
    model = create_model(kind, params)
    started = time.perf_counter()
    model.fit(data.matrix, seed=seed)
    elapsed = time.perf_counter() - started
    meta: dict[str, Any] = {
        "seed": seed,
        "nUsers": len(data.users),
        "nItems": len(data.items),
        "nInteractions": data.n_interactions,
        "trainingSeconds": round(elapsed, 4),
        "bytes": model.nbytes,
    }
    meta.update(metadata or {})
    return TrainedModel(kind=kind, vocabulary=data.items, model=model, metadata=meta)


def train(
    interactions: Iterable[tuple[str, str]],
    kind: str = "ease",
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    *,
    items: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TrainedModel:
    """Train ``kind`` (``"ease"``, ``"popularity"``, ``"cooccurrence"``) on pairs.

    ``items`` fixes the vocabulary (e.g. the catalogue ids); by default it is
    the sorted set of offering ids seen. ``seed`` is recorded and passed to the
    model (the three built-in models are deterministic).
    """
    data = build_interactions(interactions, items)
    return train_matrix(data, kind, params, seed, metadata)
