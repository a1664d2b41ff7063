"""JSON Merge Patch (RFC 7386), the PATCH format TMF630 requires (``application/merge-patch+json``)."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """The target with the patch applied: an object merges key by key, ``null`` removes a key, and
    anything else (an array, a string, ...) replaces the value whole. Neither argument is changed."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
