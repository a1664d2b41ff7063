"""Giving freed heap memory back to the system.

Loading a catalogue and a model allocates far more than the engine keeps (the documents from
MongoDB, the model's bytes before they become arrays). CPython frees them, but glibc's allocator keeps
the pages of its heap until asked: without this, a worker serving a 10,000-offering model holds about
25 MB more than it uses, and every model refresh can add to it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging

log = logging.getLogger(__name__)
_frozen = False  # freeze_long_lived_objects ran in this process


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None


def release_freed_memory() -> bool:
    """Collect garbage, then return free heap pages to the system. False where unsupported."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def freeze_long_lived_objects() -> int:
    """Exclude every object alive now from the cyclic garbage collector's walks (``gc.freeze``), once per
    process (its one application); returns how many objects are frozen (0 when it was done already).

    A started worker holds about 110,000 container objects that live as long as it does (modules, the
    OpenAPI document, Connexion's routes and validators, pymongo's). A full collection walks them all: 70-100
    ms of CPU on the benchmark machine, with the GIL held, so every request in flight waits for it; under
    load one ran every few seconds, which made the GET-by-id tail. Frozen objects are never walked, and
    never collected either: call this once the start-up objects exist, not on objects that will become
    garbage (a replaced model is freed by reference counting all the same)."""
    global _frozen  # noqa: PLW0603 - one freeze per process
    if _frozen:
        return 0
    _frozen = True
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
