"""Importing the operator's catalogue (TMF620) and customer history (TMF637/TMF622).

Documents are read with line numbers; a bad one is reported and skipped, the rest are written in
batches of idempotent upserts (by id), so a re-import changes nothing and the API keeps serving.
History (millions of documents) keeps several batches in flight: while the database writes some,
this thread parses the next.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from recommender.documents import Category, ProductOffering
from services.documents import COLLECTION_KEY, BadLine, Item
from services.history import HistoryError, HistoryRecord, parse_history

CATEGORY = "category"
PRODUCT_OFFERING = "productOffering"
BATCH = 1000
HISTORY_BATCH = 2000
IN_FLIGHT = 3  # history batches being written at once
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
    """Count and report what was read (progress every thousand documents); yield (line, document
    as read, document without the reader's ``@collection`` hint) for the usable ones."""
    told = 0
    for line, doc in items:
        report.read += 1
        if progress and report.read - told >= 1000:
            progress(report.read - told)
            told = report.read
        if isinstance(doc, BadLine):
            report.errors.append(doc)
            continue
        yield line, doc, ({k: v for k, v in doc.items() if k != COLLECTION_KEY} if COLLECTION_KEY in doc else doc)
    if progress and report.read > told:
        progress(report.read - told)


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
                   batch: int = HISTORY_BATCH, in_flight: int = IN_FLIGHT) -> ImportReport:
    """Parse and upsert TMF637/TMF622 documents, up to ``in_flight`` batches being written at once
    (the store must be thread-safe); a batch that fails stops the import with its error. A document
    whose kind and id are in a batch still being written waits for it: the later line wins."""
    report = ImportReport()
    pending: list[tuple[HistoryRecord, dict[str, Any]]] = []
    writing: deque[tuple[Future[int], Counter[str], set[tuple[str, str]]]] = deque()
    unsettled: set[tuple[str, str]] = set()  # kind and id of every document not yet written

    def settle(limit: int) -> None:
        while len(writing) > limit:
            future, kinds, keys = writing.popleft()
            future.result()
            unsettled.difference_update(keys)
            for kind, n in kinds.items():
                report.count(kind, n)

    with ThreadPoolExecutor(max(1, in_flight), thread_name_prefix="history-import") as pool:
        def flush() -> None:
            if pending:
                keys = {(r.kind, r.id) for r, _ in pending}
                writing.append((pool.submit(store.upsert, list(pending)), Counter(r.kind for r, _ in pending), keys))
                pending.clear()
                settle(in_flight)

        try:
            for line, _, document in _documents(items, report, progress):
                try:
                    record = parse_history(document)
                except (HistoryError, TypeError, AttributeError) as exc:
                    report.errors.append(BadLine(line, str(exc)))
                    continue
                key = (record.kind, record.id)
                if key in unsettled:  # the same document again: write what came before it first
                    flush()
                    settle(0)
                unsettled.add(key)
                pending.append((record, document))
                if len(pending) >= batch:
                    flush()
            flush()
        finally:
            settle(0)
    return report
