"""A trained model with its vocabulary, stored without pickle.

``to_payload()`` gives ``(meta, blobs)``: ``meta`` is JSON-able (kind, params,
vocabulary, metadata, and dtype/shape of every array) and ``blobs`` maps each
array name to ``np.save`` bytes written with ``allow_pickle=False``. The
storage layer keeps them (e.g. a MongoDB document plus GridFS files) under a
version number; ``from_payload`` (bytes) and ``from_arrays`` (arrays already read, e.g. mapped
from a file) refuse object arrays and check the declared dtypes and shapes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.models import MODEL_KINDS, ItemModel

PAYLOAD_FORMAT = "tmf680-recommender-model"
PAYLOAD_VERSION = 1


def array_to_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def array_from_bytes(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted :class:`ItemModel` plus the business ids of its item indices."""

    kind: str
    vocabulary: tuple[str, ...]
    model: ItemModel
    metadata: dict[str, Any] = field(default_factory=dict)
    index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.model.n_items != len(self.vocabulary):
            raise ValueError(f"vocabulary has {len(self.vocabulary)} ids but the model {self.model.n_items} items")
        object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        object.__setattr__(self, "index", {oid: i for i, oid in enumerate(self.vocabulary)})

    @property
    def params(self) -> dict[str, Any]:
        return self.model.params

    @property
    def nbytes(self) -> int:
        """Bytes of the model's arrays (the memory a loaded model holds)."""
        return self.model.nbytes

    def item_indices(self, offering_ids: Sequence[str] | frozenset[str]) -> np.ndarray:
        index = self.index
        return np.array(sorted(index[i] for i in offering_ids if i in index), dtype=np.intp)

    def to_payload(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        arrays = self.model.to_arrays()
        meta: dict[str, Any] = {
            "format": PAYLOAD_FORMAT,
            "formatVersion": PAYLOAD_VERSION,
            "kind": self.kind,
            "params": self.params,
            "vocabulary": list(self.vocabulary),
            "metadata": self.metadata,
            "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
        }
        return meta, {name: array_to_bytes(a) for name, a in arrays.items()}

    @classmethod
    def from_payload(cls, meta: Mapping[str, Any], blobs: Mapping[str, bytes]) -> TrainedModel:
        missing = [name for name in dict(meta.get("arrays") or {}) if name not in blobs]
        if missing:
            raise ValueError(f"payload lacks array {missing[0]!r}")
        return cls.from_arrays(meta, {name: array_from_bytes(blob) for name, blob in blobs.items()})

    @classmethod
    def from_arrays(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> TrainedModel:
        """The model of ``meta`` over already-read arrays: in memory, or mapped read-only from files
        (``np.load(mmap_mode="r")``), which the model then uses without copying."""
        if meta.get("format") != PAYLOAD_FORMAT or meta.get("formatVersion") != PAYLOAD_VERSION:
            raise ValueError("not a recommender model payload of a supported version")
        kind = str(meta["kind"])
        if kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {kind!r}")
        checked: dict[str, np.ndarray] = {}
        for name, spec in dict(meta["arrays"]).items():
            if name not in arrays:
                raise ValueError(f"payload lacks array {name!r}")
            array = arrays[name]
            if array.dtype.hasobject or array.dtype.str != spec["dtype"] or list(array.shape) != list(spec["shape"]):
                raise ValueError(f"array {name!r} does not match its declared dtype/shape")
            checked[name] = array
        model = MODEL_KINDS[kind].from_arrays(checked, dict(meta.get("params") or {}))
        return cls(
            kind=kind,
            vocabulary=tuple(str(v) for v in meta["vocabulary"]),
            model=model,
            metadata=dict(meta.get("metadata") or {}),
        )
