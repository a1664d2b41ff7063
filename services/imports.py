"""Importing the operator's catalogue (TMF620) and customer history (TMF637/TMF622).

Documents are read with line numbers; a bad one is reported and skipped, the rest are written in
batches of idempotent upserts (by id), so a re-import changes nothing and the API keeps serving.
History (millions of documents) keeps several batches in flight: while the database writes some,
this thread parses the next.

A *replacing* import (``replace_catalog``, ``replace_history``) then takes away what the file did not
hold: offerings are retired (``lifecycleStatus: Retired``, never recommended, kept so that history
and old answers still name them), categories and history documents are deleted. It does so only when
every document of the file was read: with one rejected line nothing is taken away.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    def upsert(self, collection: str, documents: Iterable[dict[str, Any]], source: str | None = None,
               run: str | None = None) -> int: ...

    def bump_version(self) -> int: ...


class ReplaceableCatalog(CatalogStore, Protocol):
    def retire_absent(self, run: str, before: datetime) -> dict[str, int]: ...


class HistoryStore(Protocol):
    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]], source: str | None = None,
               run: str | None = None) -> int: ...


class ReplaceableHistory(HistoryStore, Protocol):
    def remove_absent(self, run: str, before: datetime) -> int: ...


@dataclass
class ImportReport:
    read: int = 0
    written: dict[str, int] = field(default_factory=dict)
    errors: list[BadLine] = field(default_factory=list)
    # a replacing import: what it retired or removed per kind (None: it took nothing away)
    replaced: dict[str, int] | None = None

    def count(self, kind: str, n: int) -> None:
        self.written[kind] = self.written.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        out = {"read": self.read, "written": self.written, "errors": len(self.errors),
               "firstErrors": [{"line": e.line, "message": e.message} for e in self.errors[:20]]}
        if self.replaced is not None:
            out["replaced"] = self.replaced
        return out

    @property
    def complete(self) -> bool:
        """Every document read was written (a replacing import may take the rest away)."""
        return not self.errors and any(self.written.values())


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
                   batch: int = BATCH, source: str | None = None, run: str | None = None) -> ImportReport:
    """Upsert the catalogue documents; ``source`` tags them (e.g. ``demo``), ``run`` marks them
    for a replacing import."""
    report = ImportReport()
    pending: dict[str, list[dict[str, Any]]] = {CATEGORY: [], PRODUCT_OFFERING: []}

    def flush(kind: str) -> None:
        if pending[kind]:
            report.count(kind, store.upsert(kind, pending[kind], source=source, run=run))
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


def history_records(items: Iterable[Item], report: ImportReport,
                    progress: Progress | None = None) -> Iterator[tuple[HistoryRecord, dict[str, Any]]]:
    """(record, document) of every usable TMF637/TMF622 document; the others go to ``report``."""
    for line, _, document in _documents(items, report, progress):
        try:
            record = parse_history(document)
        except (HistoryError, TypeError, AttributeError) as exc:
            report.errors.append(BadLine(line, str(exc)))
            continue
        yield record, document


def import_history(items: Iterable[Item], store: HistoryStore, progress: Progress | None = None,
                   batch: int = HISTORY_BATCH, in_flight: int = IN_FLIGHT, source: str | None = None,
                   run: str | None = None) -> ImportReport:
    """Parse and upsert TMF637/TMF622 documents, up to ``in_flight`` batches being written at once
    (the store must be thread-safe); a batch that fails stops the import with its error. A document
    whose kind and id are in a batch still being written waits for it: the later line wins.
    ``source`` tags the documents (the demo's), ``run`` marks one replacing import."""
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
                future = pool.submit(store.upsert, list(pending), source=source, run=run)
                writing.append((future, Counter(r.kind for r, _ in pending), keys))
                pending.clear()
                settle(in_flight)

        try:
            for record, document in history_records(items, report, progress):
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


def replace_catalog(items: Iterable[Item], store: ReplaceableCatalog, progress: Progress | None = None,
                    batch: int = BATCH) -> ImportReport:
    """Import, then retire the offerings and delete the categories the file did not hold."""
    return replacing(lambda run: import_catalog(items, store, progress, batch, run=run), store.retire_absent)


def replace_history(items: Iterable[Item], store: ReplaceableHistory, progress: Progress | None = None,
                    batch: int = HISTORY_BATCH) -> ImportReport:
    """Import, then delete the products and orders the file did not hold."""
    return replacing(lambda run: import_history(items, store, progress, batch, run=run),
                     lambda run, started: {"removed": store.remove_absent(run, started)})


def replacing(run_import: Callable[[str], ImportReport],
               take_away: Callable[[str, datetime], dict[str, int]]) -> ImportReport:
    """One import marked as a run; once every document of it was written, what it left out goes."""
    run, started = uuid.uuid4().hex, datetime.now(UTC)
    report = run_import(run)
    if report.complete:
        report.replaced = take_away(run, started)
    return report
