"""The per-machine model file cache against the real mongod: files written once from GridFS, shared
by two processes in the page cache, replaced by a new version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recommender import TrainedModel, train
from storage.model_cache import ModelFileCache
from storage.model_repository import MongoModelRepository

ROOT = Path(__file__).resolve().parents[2]
# A worker: map the newest model through the cache, touch every page of the weights, report, wait.
WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from pymongo import MongoClient
    from storage.model_cache import ModelFileCache
    from storage.model_repository import MongoModelRepository
    uri, db_name, directory = sys.argv[1:4]
    repo = MongoModelRepository(MongoClient(uri)[db_name])
    downloads = []
    real = repo.download
    repo.download = lambda file_id, dest: (downloads.append(1), real(file_id, dest))[1]
    meta, arrays, _ = ModelFileCache(repo, directory).load_arrays(repo.latest_version())
    total = float(np.asarray(arrays["weights"], dtype=np.float64).sum())
    print(json.dumps({"downloads": len(downloads), "sum": total, "file": str(arrays["weights"].filename)}), flush=True)
    sys.stdin.read()
""")


def model(n_items: int, seed: int) -> TrainedModel:
    rng = np.random.default_rng(seed)
    pairs = [(f"c{u}", f"o{int(i):04d}") for u in range(3000) for i in rng.integers(n_items, size=4)]
    return train(pairs, "ease", {"l2": 20.0})


@pytest.fixture
def models(db: Any) -> MongoModelRepository:
    repo = MongoModelRepository(db)
    repo.ensure_indexes()
    return repo


def mapping(pid: int, path: str) -> dict[str, int]:
    """The kB figures of the mapping of ``path`` in ``/proc/<pid>/smaps``."""
    figures: dict[str, int] = {}
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if "-" in line.split(" ", 1)[0] and len(line.split()) >= 5:
            inside = line.rstrip().endswith(path)
        elif inside and line.endswith(" kB"):
            key, value = line.split(":", 1)
            figures[key] = figures.get(key, 0) + int(value.split()[0])
    return figures


def test_cached_model_matches_the_stored_one(models: MongoModelRepository, tmp_path: Path) -> None:
    trained = model(300, 1)
    version = models.save(*trained.to_payload())
    meta, arrays, _ = ModelFileCache(models, tmp_path).load_arrays(version)  # type: ignore[misc]
    assert isinstance(arrays["weights"], np.memmap)
    mapped = TrainedModel.from_arrays(meta, arrays)
    probe = trained.item_indices(["o0001", "o0002", "o0100"])
    assert np.array_equal(mapped.model.scores(probe), trained.model.scores(probe))
    names = sorted(p.name for p in tmp_path.glob("*.npy"))
    stored = models.stored(version)
    assert stored is not None and all(a.sha256 for a in stored.arrays.values())
    assert names == sorted(f"v{version}-{n}-{a.sha256[:32]}.npy" for n, a in stored.arrays.items())  # type: ignore[index]


def test_two_worker_processes_share_one_file_in_the_page_cache(
        models: MongoModelRepository, mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    trained = model(1200, 2)  # 5.8 MB of weights
    models.save(*trained.to_payload())
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, mongo_uri, db_name, str(tmp_path)], cwd=ROOT,
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        reports = [json.loads(w.stdout.readline()) for w in workers]  # type: ignore[union-attr]
        assert sorted(r["downloads"] for r in reports) == [0, 2]  # one wrote both arrays, the other waited
        assert reports[0]["file"] == reports[1]["file"] and reports[0]["sum"] == reports[1]["sum"]
        weights_kb = Path(reports[0]["file"]).stat().st_size // 1024
        for worker in workers:
            seen = mapping(worker.pid, reports[0]["file"])
            assert seen["Rss"] >= weights_kb * 0.9  # every page was touched
            assert seen["Shared_Clean"] >= weights_kb * 0.9  # ... and is the other process's page too
            assert seen.get("Private_Dirty", 0) == 0
    finally:
        for worker in workers:
            worker.stdin.close()  # type: ignore[union-attr]
            worker.wait(timeout=30)
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_new_version_replaces_the_file(models: MongoModelRepository, tmp_path: Path) -> None:
    cache = ModelFileCache(models, tmp_path)
    first = models.save(*model(200, 3).to_payload())
    cache.load_arrays(first)
    assert {p.name.split("-")[0] for p in tmp_path.glob("*.npy")} == {f"v{first}"}
    second_model = model(200, 4)
    second = models.save(*second_model.to_payload())
    meta, arrays, _ = cache.load_arrays(second)  # type: ignore[misc]
    assert {p.name.split("-")[0] for p in tmp_path.glob("*.npy")} == {f"v{second}"}
    probe = second_model.item_indices(["o0003"])
    assert np.array_equal(TrainedModel.from_arrays(meta, arrays).model.scores(probe),
                          second_model.model.scores(probe))
