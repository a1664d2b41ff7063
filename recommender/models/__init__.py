"""Recommendation models over integer item indices, and their registry by kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recommender.models.base import ItemModel
from recommender.models.cooccurrence import CooccurrenceModel
from recommender.models.ease import EaseModel
from recommender.models.popularity import PopularityModel

MODEL_KINDS: dict[str, type[ItemModel]] = {
    EaseModel.kind: EaseModel,
    PopularityModel.kind: PopularityModel,
    CooccurrenceModel.kind: CooccurrenceModel,
}


def create_model(kind: str, params: Mapping[str, Any] | None = None) -> ItemModel:
    """Instantiate a model by kind (``"ease"``, ``"popularity"``, ``"cooccurrence"``)."""
    try:
        cls = MODEL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(MODEL_KINDS)}") from None
    return cls(**dict(params or {}))


__all__ = [
    "MODEL_KINDS",
    "CooccurrenceModel",
    "EaseModel",
    "ItemModel",
    "PopularityModel",
    "create_model",
]
