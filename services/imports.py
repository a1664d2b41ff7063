"""Importing the operator's catalogue (TMF620) and customer history (TMF637/TMF622).

Documents are read with line numbers; a bad one is reported and skipped, the rest are written in
batches of idempotent upserts (by id), so a re-import changes nothing and the API keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from recommender.documents import Category, ProductOffering
from services.documents import COLLECTION_KEY, BadLine, Item
from services.history import HistoryError, HistoryRecord, parse_history

CATEGORY = "category"
PRODUCT_OFFERING = "productOffering"
BATCH = 1000
Progress = Callable[[int], None]


class CatalogStore(Protocol):
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]]) -> int: ...

    def bump_version(self) -> int: ...


class HistoryStore(Protocol):
    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]]) -> int: ...


@dataclass
class ImportReport:
    read: int = 0
    written: dict[str, int] = field(default_factory=dict)
    errors: list[BadLine] = field(default_factory=list)

    def count(self, kind: str, n: int) -> None:
        self.written[kind] = self.written.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "written": self.written, "errors": len(self.errors),
                "firstErrors": [{"line": e.line, "message": e.message} for e in self.errors[:20]]}


def _documents(items: Iterable[Item], report: ImportReport,
               progress: Progress | None) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Count and report what was read; yield (line, document as read, document without the
    reader's ``@collection`` hint) for the usable ones."""
    for line, doc in items:
        report.read += 1
        if progress:
            progress(1)
        if isinstance(doc, BadLine):
            report.errors.append(doc)
            continue
        yield line, doc, {k: v for k, v in doc.items() if k != COLLECTION_KEY}


def catalog_kind(doc: dict[str, Any]) -> str:
    """``category`` or ``productOffering``, from the wrapper key, ``@type``, or the shape."""
    hint = str(doc.get(COLLECTION_KEY) or doc.get("@type") or "").replace("_", "").lower()
    if hint in {"category", "categories"}:
        return CATEGORY
    if hint in {"productoffering", "productofferings", "bundledproductoffering"}:
        return PRODUCT_OFFERING
    if hint:
        raise ValueError(f"not a catalogue document type: {hint!r}")
    if ("isRoot" in doc or "parentId" in doc or "subCategory" in doc) and "productSpecification" not in doc:
        return CATEGORY
    return PRODUCT_OFFERING


def import_catalog(items: Iterable[Item], store: CatalogStore, progress: Progress | None = None,
                   batch: int = BATCH) -> ImportReport:
    report = ImportReport()
    pending: dict[str, list[dict[str, Any]]] = {CATEGORY: [], PRODUCT_OFFERING: []}

    def flush(kind: str) -> None:
        if pending[kind]:
            report.count(kind, store.upsert(kind, pending[kind]))
            pending[kind] = []

    for line, doc, document in _documents(items, report, progress):
        try:
            kind = catalog_kind(doc)
            if kind == CATEGORY:
                Category.from_document(document)
            else:
                ProductOffering.from_document(document)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            report.errors.append(BadLine(line, str(exc)))
            continue
        pending[kind].append(document)
        if len(pending[kind]) >= batch:
            flush(kind)
    for kind in pending:
        flush(kind)
    if any(report.written.values()):
        store.bump_version()
    return report


def import_history(items: Iterable[Item], store: HistoryStore, progress: Progress | None = None,
                   batch: int = BATCH) -> ImportReport:
    report = ImportReport()
    pending: list[tuple[HistoryRecord, dict[str, Any]]] = []

    def flush() -> None:
        if pending:
            store.upsert(pending)
            for record, _ in pending:
                report.count(record.kind, 1)
            pending.clear()

    for line, _, document in _documents(items, report, progress):
        try:
            record = parse_history(document)
        except (HistoryError, TypeError, AttributeError) as exc:
            report.errors.append(BadLine(line, str(exc)))
            continue
        pending.append((record, document))
        if len(pending) >= batch:
            flush()
    flush()
    return report
