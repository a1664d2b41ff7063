from __future__ import annotations

import ctypes.util

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
