"""Training a model from the stored history and publishing it as a new version."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from recommender import TrainedModel
from recommender.interactions import InteractionBuilder
from recommender.models import MODEL_KINDS
from recommender.training import train_matrix

DEFAULT_KIND = "ease"


class InteractionSource(Protocol):
    def interaction_chunks(self) -> Iterator[tuple[list[str], list[str]]]:
        """(customer ids, offering ids) of the stored interactions, chunk by chunk."""

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

    The interactions are streamed chunk by chunk into integer arrays (``InteractionBuilder``), so
    tens of millions fit in memory; ``progress(n)`` is told of every chunk read."""
    if kind not in MODEL_KINDS:
        raise TrainingError(f"unknown model kind {kind!r}; choose one of {', '.join(sorted(MODEL_KINDS))}")
    started = time.perf_counter()
    snapshot = history.change_seq()  # read first: a change made while reading counts as not yet seen
    builder = InteractionBuilder()
    for customers, offerings in history.interaction_chunks():
        builder.add(customers, offerings)
        if progress is not None:
            progress(len(customers))
    data = builder.build()
    if not data.n_interactions:
        raise TrainingError("no customer history to train on (tmf680 history import / demo load)")
    read_seconds = time.perf_counter() - started
    model = train_matrix(data, kind, dict(params or {}), seed=seed)
    del data
    model.metadata["historySeq"] = snapshot
    model.metadata["readSeconds"] = round(read_seconds, 4)
    meta, blobs = model.to_payload()
    version = models.save(meta, blobs)
    return version, model
