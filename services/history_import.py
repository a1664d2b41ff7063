"""History import of an NDJSON file at telco scale: parsing in worker processes.

One Python thread parses about 25,000 documents a second; an operator's history has tens of
millions. So the file is cut into blocks of whole lines (no parsing: a search for the last newline),
and worker processes turn each block into what the store inserts (``store.encoder``: BSON, for
Mongo): the same reading, validation and line numbers as ``import_history``. This process only
hands blocks out, keeps their order, and has the batches written (``store.write_encoded``, unordered
inserts, from a thread, ``IN_FLIGHT``) while the workers parse the next; it does no per-document work
beyond a set of keys per batch, which keeps the rule of ``import_history``: a document whose kind and
id are in a batch still being written waits for it, so the later line wins.

A JSON array or object (a small export) is read whole and imported by ``import_history``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from services.documents import BadLine, block_documents, line_blocks, read_whole, sniff_ndjson
from services.history import HistoryRecord
from services.imports import ImportReport, Progress, history_records, import_history, replacing

# One batch written at a time, the next one ready behind it: ids of a file are mostly ascending, so
# concurrent inserts meet at the same right-most index pages and mongod retries write conflicts
# (measured: 2-3 batches at once cost mongod 3 times the CPU per document of one at a time).
IN_FLIGHT = 1
Encoder = Callable[[HistoryRecord, dict[str, Any]], Any]


class EncodingHistoryStore(Protocol):
    def encoder(self, source: str | None = None, run: str | None = None) -> Encoder:
        """A picklable function from (record, original document) to a document ``write_encoded`` takes."""

    def write_encoded(self, documents: list[Any]) -> int: ...

    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]], source: str | None = None,
               run: str | None = None) -> int: ...

    def remove_absent(self, run: str, before: datetime) -> int: ...


@dataclass
class ParsedBlock:
    """One block, parsed: documents in batches (a new batch where a kind and id repeat)."""

    read: int = 0
    errors: list[BadLine] = field(default_factory=list)
    # (encoded documents, their kind and id keys, documents per kind)
    batches: list[tuple[list[Any], set[str], Counter[str]]] = field(default_factory=list)


def parse_block(number: int, block: bytes, encode: Encoder) -> ParsedBlock:
    """Read, validate and encode one block of lines (in a worker process)."""
    report = ImportReport()
    parsed = ParsedBlock()
    docs: list[Any] = []
    keys: set[str] = set()
    kinds: Counter[str] = Counter()
    for record, document in history_records(block_documents(number, block), report):
        key = f"{record.kind}\n{record.id}"
        if key in keys:  # the same document again within the block: it goes in the next batch
            parsed.batches.append((docs, keys, kinds))
            docs, keys, kinds = [], set(), Counter()
        keys.add(key)
        kinds[record.kind] += 1
        docs.append(encode(record, document))
    if docs:
        parsed.batches.append((docs, keys, kinds))
    parsed.read, parsed.errors = report.read, report.errors
    return parsed


def default_workers() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def import_history_blocks(blocks: Iterable[tuple[int, bytes]], store: EncodingHistoryStore,
                          progress: Progress | None = None, workers: int | None = None,
                          in_flight: int = IN_FLIGHT, source: str | None = None,
                          run: str | None = None) -> ImportReport:
    """Import ``line_blocks`` with ``workers`` parsing processes and ``in_flight`` batches being
    written at once; bad lines are reported with their numbers, in file order. A batch that fails
    stops the import with its error."""
    report = ImportReport()
    encode = store.encoder(source=source, run=run)
    workers = max(1, workers or default_workers())
    writing: deque[tuple[Future[int], Counter[str], set[str]]] = deque()
    parsing: deque[Future[ParsedBlock]] = deque()

    def settle(limit: int) -> None:
        while len(writing) > limit:
            future, kinds, _ = writing.popleft()
            future.result()
            for kind, n in kinds.items():
                report.count(kind, n)

    # spawn: a fork would copy this process's client threads and sockets
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as parsers, \
            ThreadPoolExecutor(max(1, in_flight), thread_name_prefix="history-import") as writers:
        def take() -> None:
            parsed = parsing.popleft().result()
            report.read += parsed.read
            report.errors.extend(parsed.errors)
            for docs, keys, kinds in parsed.batches:
                if any(not keys.isdisjoint(held) for _, _, held in writing):
                    settle(0)  # an earlier version of one of them is being written: it goes first
                writing.append((writers.submit(store.write_encoded, docs), kinds, keys))
                settle(in_flight)
            if progress is not None and parsed.read:
                progress(parsed.read)

        try:
            for number, block in blocks:
                parsing.append(parsers.submit(parse_block, number, block, encode))
                if len(parsing) >= 2 * workers:  # bounded: the file is never read ahead of the workers
                    take()
            while parsing:
                take()
        finally:
            for future in parsing:
                future.cancel()
            settle(0)
    return report


def import_history_file(stream: IO[bytes], store: EncodingHistoryStore, progress: Progress | None = None,
                        replace: bool = False, workers: int | None = None) -> ImportReport:
    """Import (``replace``: as the whole history, see ``replace_history``) a binary stream of NDJSON
    in parallel, or of a JSON array or object with ``import_history``."""
    ndjson, head = sniff_ndjson(stream)

    def run_import(run: str | None) -> ImportReport:
        if ndjson:
            return import_history_blocks(line_blocks(head, stream), store, progress, workers, run=run)
        return import_history(read_whole(head + stream.read()), store, progress, run=run)

    if not replace:
        return run_import(None)
    return replacing(run_import, lambda run, started: {"removed": store.remove_absent(run, started)})
