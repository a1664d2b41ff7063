"""Training a model from the stored history and publishing it as a new version."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from recommender import TrainedModel, train
from recommender.models import MODEL_KINDS

DEFAULT_KIND = "ease"


class InteractionSource(Protocol):
    def interactions(self) -> Iterator[tuple[str, str]]: ...

    def change_seq(self) -> int: ...


class ModelStore(Protocol):
    def save(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> int: ...

    def latest_version(self) -> int: ...

    def load(self, version: int) -> tuple[dict[str, Any], dict[str, bytes], datetime] | None: ...


class TrainingError(ValueError):
    """Nothing to train on, or an unknown model kind."""


def train_and_publish(history: InteractionSource, models: ModelStore, kind: str = DEFAULT_KIND,
                      params: Mapping[str, Any] | None = None, seed: int = 0,
                      progress: Callable[[int], object] | None = None) -> tuple[int, TrainedModel]:
    """Train ``kind`` on every stored interaction and save it as the newest model version.

    ``progress(n)`` is told of every interaction read (the slow part on a large history)."""
    if kind not in MODEL_KINDS:
        raise TrainingError(f"unknown model kind {kind!r}; choose one of {', '.join(sorted(MODEL_KINDS))}")
    started = time.perf_counter()
    snapshot = history.change_seq()  # read first: a change made while reading counts as not yet seen
    pairs = []
    for pair in history.interactions():
        pairs.append(pair)
        if progress is not None:
            progress(1)
    if not pairs:
        raise TrainingError("no customer history to train on (tmf680 history import / demo load)")
    model = train(pairs, kind, dict(params or {}), seed=seed)
    model.metadata["historySeq"] = snapshot
    model.metadata["readSeconds"] = round(time.perf_counter() - started - model.metadata["trainingSeconds"], 4)
    meta, blobs = model.to_payload()
    version = models.save(meta, blobs)
    return version, model
