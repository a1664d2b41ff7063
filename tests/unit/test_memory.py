from __future__ import annotations

import ctypes.util
import json

from runtime.memory import release_freed_memory


def test_freed_memory_is_given_back_where_glibc_allows() -> None:
    # On glibc (this project's Linux targets) malloc_trim exists and runs; elsewhere it is a no-op.
    assert release_freed_memory() is (ctypes.util.find_library("c") is not None)


def test_the_token_libraries_are_loaded_only_when_authentication_is_on() -> None:
    import subprocess
    import sys

    code = "import sys, app.factory; print(sorted({'jwt', 'cryptography'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_long_lived_objects_are_frozen_once_so_full_collections_skip_them() -> None:
    """In a fresh interpreter (freezing is for the life of a process): the start-up objects leave the
    collector's generations, a full collection no longer walks them, and a second call freezes nothing."""
    import subprocess
    import sys

    code = """
import gc, json, time
import app.factory  # the application's modules: tens of thousands of long-lived objects
from runtime.memory import freeze_long_lived_objects
tracked = len(gc.get_objects())
frozen = freeze_long_lived_objects()
json.dump({"tracked": tracked, "frozen": frozen, "after": len(gc.get_objects()),
           "again": freeze_long_lived_objects()}, __import__("sys").stdout)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout)
    assert figures["tracked"] > 20_000 and figures["frozen"] >= figures["tracked"] * 0.9
    assert figures["after"] < figures["tracked"] * 0.05  # what a full collection still walks
    assert figures["again"] == 0
