"""One copy of a model per machine: its arrays as ``.npy`` files that every worker maps read-only.

A worker that loaded a model from GridFS into its own memory held a private copy (400 MB for a
dense 10,000-offering EASE). Here the arrays are written once per machine into a cache directory and
opened with ``np.load(mmap_mode="r")``: the pages live in the kernel's page cache, shared by every
process that maps the file, and a request touches only the rows of the items its customer holds.

A file is named by model version, array name and content hash (SHA-256 recorded when the model was
saved; the GridFS file id for older models), so a file of that name is always the right content.
Writing is atomic: the first process takes an exclusive ``flock`` on the directory's lock file,
streams the array from GridFS into a temporary file (checking the hash on the way), ``fsync``s it
and renames it into place; the others wait on the lock and then find the finished file (a reader
that finds the file never takes the lock). Once a version is in place, the files of older versions
are deleted: a process still mapping one keeps its pages until it moves on (POSIX unlink semantics).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from storage.model_repository import StoredArray, StoredModel

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"
TEMP_PREFIX = ".tmp-"
_FILE = re.compile(r"^v(\d+)-")


class ArraySource(Protocol):
    def latest_version(self) -> int: ...

    def stored(self, version: int) -> StoredModel | None: ...

    def download(self, file_id: Any, destination: IO[bytes]) -> None: ...

    def load_arrays(self, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray], datetime] | None: ...


class CorruptDownload(ValueError):
    """The bytes read from GridFS do not have the hash recorded with the model."""


class _HashingWriter:
    """A binary file that hashes what is written to it."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self._file.write(data)


def _map(path: Path) -> np.ndarray:
    """The array of a ``.npy`` file, mapped read-only (an empty array cannot be mapped: read it)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        return np.load(path, allow_pickle=False)


def file_name(version: int, name: str, array: StoredArray) -> str:
    key = array.sha256[:32] if array.sha256 else f"id{array.file_id}"
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"v{version}-{safe}-{key}.npy"


class ModelFileCache:
    """The model source servers use: ``latest_version`` from the store, ``load_arrays`` mapped from
    the machine's cache directory (filled from the store on first use)."""

    def __init__(self, store: ArraySource, directory: Path) -> None:
        self._store = store
        self.directory = Path(directory)

    def latest_version(self) -> int:
        return self._store.latest_version()

    def load_arrays(self, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray], datetime] | None:
        """The version's metadata and its arrays mapped read-only (``np.memmap``)."""
        stored = self._store.stored(version)
        if stored is None:
            return None
        paths = {name: self.directory / file_name(version, name, array) for name, array in stored.arrays.items()}
        try:
            if not all(path.exists() for path in paths.values()):
                self._fill(stored, paths)
            arrays = {name: _map(path) for name, path in paths.items()}
        except OSError as exc:  # e.g. a read-only or full directory: serve, with a private copy
            log.warning("model cache %s unusable (%s); loading model v%s into this process's memory",
                        self.directory, exc, version)
            return self._store.load_arrays(version)
        return stored.meta, arrays, stored.created

    def _fill(self, stored: StoredModel, paths: dict[str, Path]) -> None:
        """Write the missing files under the directory lock, then drop older versions' files."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            for stale in self.directory.glob(f"{TEMP_PREFIX}*"):  # left by a writer that died
                stale.unlink(missing_ok=True)
            for name, path in paths.items():
                if not path.exists():
                    self._write(stored.arrays[name], path)
            for old in self.directory.glob("v*.npy"):
                match = _FILE.match(old.name)
                if match and int(match.group(1)) < stored.version:
                    old.unlink(missing_ok=True)
        log.info("model v%s cached in %s", stored.version, self.directory)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, array: StoredArray, path: Path) -> None:
        temp = self.directory / f"{TEMP_PREFIX}{os.getpid()}-{path.name}"
        try:
            with open(temp, "wb") as out:
                writer = _HashingWriter(out)
                self._store.download(array.file_id, writer)  # type: ignore[arg-type]
                out.flush()
                os.fsync(out.fileno())
            if array.sha256 and writer.sha256.hexdigest() != array.sha256:
                raise CorruptDownload(f"{path.name}: content does not match the model's recorded SHA-256")
            os.rename(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
