from __future__ import annotations

import io
import json

import numpy as np
import pytest

from recommender import TrainedModel, train
from recommender.serialization import array_to_bytes

PAIRS = [("u0", "a"), ("u0", "b"), ("u1", "a"), ("u1", "b"), ("u2", "b"), ("u2", "c"), ("u3", "a")]


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("ease", {"l2": 1.0}),
        ("ease", {"l2": 1.0, "dense_max_items": 1, "top_k": 1}),
        ("cooccurrence", {}),
        ("cooccurrence", {"dense_max_items": 1, "top_k": 2}),
        ("popularity", {}),
    ],
)
def test_payload_round_trip_without_pickle(kind: str, params: dict[str, float]) -> None:
    model = train(PAIRS, kind, params, seed=3, metadata={"source": "test"})
    meta, blobs = model.to_payload()
    meta = json.loads(json.dumps(meta))  # JSON-able
    for blob in blobs.values():
        np.load(io.BytesIO(blob), allow_pickle=False)
    restored = TrainedModel.from_payload(meta, blobs)
    assert restored.kind == kind
    assert restored.vocabulary == ("a", "b", "c")
    assert restored.params == model.params
    assert restored.metadata["source"] == "test" and restored.metadata["seed"] == 3
    assert restored.metadata["nUsers"] == 4 and restored.metadata["nInteractions"] == 7
    for history in ([], ["a"], ["b", "c"]):
        items = model.item_indices(history)
        np.testing.assert_array_equal(restored.model.scores(items), model.model.scores(items))
    assert restored.nbytes == model.nbytes > 0


def test_payload_is_validated() -> None:
    meta, blobs = train(PAIRS, "ease", {"l2": 1.0}).to_payload()
    with pytest.raises(ValueError, match="version"):
        TrainedModel.from_payload({**meta, "formatVersion": 99}, blobs)
    with pytest.raises(ValueError, match="kind"):
        TrainedModel.from_payload({**meta, "kind": "pickle"}, blobs)
    with pytest.raises(ValueError, match="lacks"):
        TrainedModel.from_payload(meta, {})
    wrong = {**blobs, "popularity": array_to_bytes(np.zeros(3, dtype=np.float64))}
    with pytest.raises(ValueError, match="dtype"):
        TrainedModel.from_payload(meta, wrong)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        TrainedModel.from_payload(meta, {**blobs, "popularity": buffer.getvalue()})


def test_vocabulary_must_match_the_model() -> None:
    model = train(PAIRS, "popularity")
    with pytest.raises(ValueError, match="vocabulary"):
        TrainedModel(kind="popularity", vocabulary=("a",), model=model.model)


def test_train_with_fixed_vocabulary_drops_unknown_items() -> None:
    model = train(PAIRS, "popularity", items=["c", "a", "z"])
    assert model.vocabulary == ("c", "a", "z")
    np.testing.assert_array_equal(model.model.popularity, [1.0, 3.0, 0.0])
