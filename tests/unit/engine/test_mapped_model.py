"""A model mapped read-only from ``.npy`` files ranks exactly like the same model in memory, and the
per-machine file cache writes each file once, atomically, checked against its hash."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
from reco_helpers import context, offering

from recommender import Catalog, Engine, TrainedModel, train
from recommender.serialization import array_from_bytes
from storage.model_cache import CorruptDownload, ModelFileCache, file_name
from storage.model_repository import StoredArray, StoredModel

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def pairs(n_users: int = 1500, n_items: int = 120, seed: int = 3) -> list[tuple[str, str]]:
    """Customers in a few segments, each segment preferring its own slice of the items."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        segment = u % 6
        size = 1 + rng.poisson(3)
        picks = (segment * 20 + rng.zipf(1.6, size=size)) % n_items
        out += [(f"c{u}", f"o{int(i):03d}") for i in picks]
    return out


def mapped(model: TrainedModel, directory: Path) -> TrainedModel:
    meta, blobs = model.to_payload()
    arrays = {}
    for name, blob in blobs.items():
        path = directory / f"{name}.npy"
        path.write_bytes(blob)
        arrays[name] = np.load(path, mmap_mode="r")
    return TrainedModel.from_arrays(meta, arrays)


def test_mapped_dense_ease_ranks_exactly_like_the_model_in_memory(tmp_path: Path) -> None:
    data = pairs()
    model = train(data, "ease", {"l2": 50.0})
    assert model.model.weights is not None and model.model.weights.dense is not None  # dense: 120 items
    files = mapped(model, tmp_path)
    dense = files.model.weights.dense  # type: ignore[attr-defined]
    assert isinstance(dense.base, np.memmap) or isinstance(dense, np.memmap)
    assert not dense.flags.writeable
    catalog = Catalog.from_documents([offering(f"o{i:03d}") for i in range(130)], [])
    in_memory, from_files = Engine(catalog, model), Engine(catalog, files)
    holdings: dict[str, set[str]] = {}
    for customer, item in data:
        holdings.setdefault(customer, set()).add(item)
    checked = 0
    for held in [set(), *list(holdings.values())[:300]]:
        ctx = context(held=held, limit=10)
        assert np.array_equal(in_memory.scores(ctx), from_files.scores(ctx))
        assert in_memory.recommend(ctx) == from_files.recommend(ctx)
        checked += 1
    assert checked == 301


def test_from_arrays_checks_what_it_maps(tmp_path: Path) -> None:
    model = train(pairs(200, 30), "ease", {"l2": 10.0})
    meta, blobs = model.to_payload()
    arrays = {name: array_from_bytes(blob) for name, blob in blobs.items()}
    with pytest.raises(ValueError, match="dtype"):
        TrainedModel.from_arrays(meta, {**arrays, "weights": arrays["weights"].astype(np.float64)})
    with pytest.raises(ValueError, match="lacks"):
        TrainedModel.from_arrays(meta, {"popularity": arrays["popularity"]})


class FakeStore:
    """Versions of models as the repository gives them: metadata, hashes, streamed bytes."""

    def __init__(self) -> None:
        self.models: dict[int, tuple[dict[str, Any], dict[str, bytes]]] = {}
        self.downloads = 0
        self.corrupt = False
        self.fail_after_bytes: int | None = None

    def publish(self, model: TrainedModel) -> int:
        version = max(self.models, default=0) + 1
        self.models[version] = model.to_payload()
        return version

    def latest_version(self) -> int:
        return max(self.models, default=0)

    def stored(self, version: int) -> StoredModel | None:
        import hashlib

        if version not in self.models:
            return None
        meta, blobs = self.models[version]
        arrays = {n: StoredArray((version, n), hashlib.sha256(b).hexdigest()) for n, b in blobs.items()}
        return StoredModel(version, meta, NOW, arrays)

    def download(self, file_id: Any, destination: IO[bytes]) -> None:
        self.downloads += 1
        version, name = file_id
        blob = self.models[version][1][name]
        if self.corrupt:
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        if self.fail_after_bytes is not None:
            destination.write(blob[: self.fail_after_bytes])
            raise OSError("connection lost")
        for start in range(0, len(blob), 1000):
            destination.write(blob[start : start + 1000])

    def load_arrays(self, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray], datetime] | None:
        meta, blobs = self.models[version]
        return meta, {n: np.load(io.BytesIO(b)) for n, b in blobs.items()}, NOW


def npy_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != ".lock")


def test_cache_writes_each_array_once_and_maps_it(tmp_path: Path) -> None:
    store = FakeStore()
    model = train(pairs(300, 40), "ease", {"l2": 10.0})
    version = store.publish(model)
    cache = ModelFileCache(store, tmp_path / "cache")
    meta, arrays, _ = cache.load_arrays(version)  # type: ignore[misc]
    assert store.downloads == 2 and isinstance(arrays["weights"], np.memmap)
    stored = store.stored(version)
    assert stored is not None
    assert npy_files(tmp_path / "cache") == sorted(file_name(version, n, a) for n, a in stored.arrays.items())
    again = ModelFileCache(store, tmp_path / "cache").load_arrays(version)  # another worker
    assert again is not None and store.downloads == 2  # found the files, downloaded nothing
    restored = TrainedModel.from_arrays(meta, arrays)
    probe = model.item_indices(["o001", "o005"])
    assert np.array_equal(restored.model.scores(probe), model.model.scores(probe))


def test_a_new_version_replaces_the_files_of_older_ones(tmp_path: Path) -> None:
    store = FakeStore()
    first = store.publish(train(pairs(300, 40), "ease", {"l2": 10.0}))
    cache = ModelFileCache(store, tmp_path)
    old = cache.load_arrays(first)
    assert old is not None
    second = store.publish(train(pairs(300, 40, seed=9), "ease", {"l2": 10.0}))
    cache.load_arrays(second)
    assert npy_files(tmp_path) and all(name.startswith(f"v{second}-") for name in npy_files(tmp_path))
    assert float(np.asarray(old[1]["weights"]).sum()) != 0.0  # the old mapping stays readable


def test_corrupt_or_broken_downloads_leave_no_file(tmp_path: Path) -> None:
    store = FakeStore()
    version = store.publish(train(pairs(300, 40), "ease", {"l2": 10.0}))
    store.corrupt = True
    with pytest.raises(CorruptDownload):
        ModelFileCache(store, tmp_path).load_arrays(version)
    assert npy_files(tmp_path) == []
    store.corrupt, store.fail_after_bytes = False, 500
    with pytest.raises(OSError):
        ModelFileCache(store, tmp_path)._fill(store.stored(version), {  # type: ignore[arg-type]
            "weights": tmp_path / "w.npy"})
    assert npy_files(tmp_path) == []
    (tmp_path / ".tmp-999-v1-weights-x.npy").write_bytes(b"half")  # a writer that died
    store.fail_after_bytes = None
    assert ModelFileCache(store, tmp_path).load_arrays(version) is not None
    assert not [n for n in npy_files(tmp_path) if n.startswith(".tmp-")]


def test_an_unwritable_directory_falls_back_to_a_private_copy(tmp_path: Path) -> None:
    store = FakeStore()
    version = store.publish(train(pairs(300, 40), "ease", {"l2": 10.0}))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    loaded = ModelFileCache(store, blocker / "cache").load_arrays(version)
    assert loaded is not None and not isinstance(loaded[1]["weights"], np.memmap)
