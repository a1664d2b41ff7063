"""Removing the demo data set from the store: the documents tagged as the demo's (``source: demo``),
and, in a store the demo was loaded into before the tags existed, the untagged documents that are
still exactly the packaged demo's (by id and content: an operator's document with a demo id, or a
demo document changed since, is kept and counted)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.history import parse_history

DEMO_SOURCE = "demo"  # the tag the demo's documents carry
CATEGORY, OFFERING, HISTORY = "category", "productOffering", "history"


class DemoCatalog(Protocol):
    def remove_source(self, source: str) -> dict[str, int]: ...

    def remove_untagged_copies(self, collection: str, documents: Mapping[str, dict[str, Any]]) -> tuple[int, int]:
        ...

    def count_source(self, source: str) -> dict[str, int]: ...

    def note_tagging(self, source: str) -> None: ...

    def tagging_noted(self, source: str) -> bool: ...


class DemoHistory(Protocol):
    def remove_source(self, source: str) -> int: ...

    def remove_untagged_copies(self, documents: Mapping[tuple[str, str], dict[str, Any]]) -> tuple[int, int]: ...

    def count_source(self, source: str) -> int: ...


@dataclass(frozen=True)
class DemoRemoval:
    """Per kind (``category``, ``productOffering``, ``history``): removed in all, of which untagged
    (loaded before the tags), and untagged documents kept (a demo id, other content)."""

    removed: dict[str, int]
    untagged: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)


def remove_demo(catalog: DemoCatalog, history: DemoHistory, categories: Iterable[dict[str, Any]],
                offerings: Iterable[dict[str, Any]], products: Iterable[dict[str, Any]]) -> DemoRemoval:
    """Remove the demo's documents (``categories``, ``offerings``, ``products``: the packaged demo
    files). Untagged copies are looked for only in a store with no tagged demo document and no
    record of a tagged load: once the demo is tagged, an untagged document is the operator's."""
    untagged_era = (not catalog.tagging_noted(DEMO_SOURCE) and not any(catalog.count_source(DEMO_SOURCE).values())
                    and not history.count_source(DEMO_SOURCE))
    tagged = catalog.remove_source(DEMO_SOURCE)
    removed = {CATEGORY: tagged[CATEGORY], OFFERING: tagged[OFFERING], HISTORY: history.remove_source(DEMO_SOURCE)}
    untagged: dict[str, int] = {}
    kept: dict[str, int] = {}
    if untagged_era:
        for kind, docs in ((CATEGORY, categories), (OFFERING, offerings)):
            untagged[kind], kept[kind] = catalog.remove_untagged_copies(kind, {str(d["id"]): d for d in docs})
        by_key = {}
        for product in products:
            record = parse_history(product)
            by_key[(record.kind, record.id)] = product
        untagged[HISTORY], kept[HISTORY] = history.remove_untagged_copies(by_key)
        for kind, n in untagged.items():
            removed[kind] += n
    catalog.note_tagging(DEMO_SOURCE)  # from now on the tags tell
    return DemoRemoval(removed, untagged, kept)
