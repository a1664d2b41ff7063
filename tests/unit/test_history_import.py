"""History import with several batches in flight, and interactions built as integer arrays."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from recommender.interactions import InteractionBuilder, build_interactions
from services.documents import block_documents, line_blocks, read_documents, sniff_ndjson
from services.history import HistoryRecord
from services.history_import import import_history_blocks, import_history_file
from services.imports import import_history


class SlowStore:
    """A thread-safe store that takes its time, so batches overlap."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.fail_on = fail_on

    def upsert(self, records: list[tuple[HistoryRecord, dict[str, Any]]], source: str | None = None,
               run: str | None = None) -> int:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
            for record, doc in records:
                if record.id == self.fail_on:
                    raise RuntimeError("database gone")
                self.docs[(record.kind, record.id)] = doc
        return len(records)


def product_line(i: int, customer: int, status: str = "active") -> str:
    return json.dumps({"id": f"p{i}", "status": status, "productOffering": {"id": f"o{i % 7}"},
                       "relatedParty": [{"id": f"c{customer}", "role": "customer"}]})


def ndjson(lines: list[str]) -> io.StringIO:
    return io.StringIO("\n".join(lines) + "\n")


@pytest.mark.parametrize("fast", [True, False])
def test_batches_overlap_and_bad_lines_keep_their_numbers(fast: bool) -> None:
    lines = [product_line(i, i // 3) for i in range(1000)]
    lines[10] = '{"id": "p10", "status": "active"'  # truncated JSON
    lines[500] = '{"id": "p500", "status": "active"}'  # neither a product nor an order
    lines.insert(700, "")
    store = SlowStore()
    ticks: list[int] = []
    report = import_history(read_documents(ndjson(lines), fast), store, ticks.append, batch=50, in_flight=3)
    assert report.read == 1000 and report.written == {"product": 998}
    assert [(e.line, e.message.split(" ")[0]) for e in report.errors] == [(11, "not"), (501, "neither")]
    assert report.errors[0].message.startswith("not valid JSON")
    assert len(store.docs) == 998 and store.most_active >= 2
    assert sum(ticks) == 1000


def test_a_repeated_document_waits_for_its_earlier_version() -> None:
    lines = [product_line(i, i) for i in range(200)] + [product_line(5, 5, "terminated")]
    store = SlowStore()
    import_history(read_documents(ndjson(lines), True), store, batch=20, in_flight=3)
    assert store.docs[("product", "p5")]["status"] == "terminated"


def test_a_failing_batch_stops_the_import() -> None:
    with pytest.raises(RuntimeError, match="database gone"):
        import_history(read_documents(ndjson([product_line(i, i) for i in range(300)]), True),
                       SlowStore(fail_on="p120"), batch=25, in_flight=3)


def test_fast_reading_reads_like_the_standard_parser() -> None:
    text = ('{"id": "a", "n": NaN}\n\n[{"id": "b"}]\n{"product": [{"id": "c"}]}\n{"id": "d", "big": 1e400}\n'
            '{"id": "e", "x": [1, 2, {"y": null}]}\n{"id": \n')
    fast, exact = list(read_documents(io.StringIO(text), True)), list(read_documents(io.StringIO(text)))
    assert [line for line, _ in fast] == [1, 3, 4, 5, 6, 7]
    assert repr(fast) == repr(exact)


def reference_matrix(pairs: list[tuple[str, str]], users: tuple[str, ...], items: tuple[str, ...]) -> np.ndarray:
    dense = np.zeros((len(users), len(items)), dtype=np.float32)
    for user, item in pairs:
        if item in items:
            dense[users.index(user), items.index(item)] = 1.0
    return dense


def test_interactions_from_chunks_equal_the_pairs_they_came_from() -> None:
    rng = np.random.default_rng(4)
    pairs = [(f"c{int(u)}", f"o{int(i)}") for u, i in zip(rng.integers(300, size=3000), rng.zipf(1.5, 3000) % 40,
                                                         strict=True)]
    whole = build_interactions(pairs)
    builder = InteractionBuilder()
    for start in range(0, len(pairs), 257):
        chunk = pairs[start:start + 257]
        builder.add([u for u, _ in chunk], [i for _, i in chunk])
    chunked = builder.build()
    assert chunked.users == whole.users == tuple(dict.fromkeys(u for u, _ in pairs))
    assert chunked.items == whole.items == tuple(sorted({i for _, i in pairs}))
    expected = reference_matrix(pairs, whole.users, whole.items)
    assert np.array_equal(chunked.matrix.toarray(), expected)
    assert chunked.n_interactions == int(expected.sum()) < len(pairs)  # duplicates count once
    assert isinstance(chunked.matrix, sparse.csr_matrix) and chunked.matrix.indices.dtype == np.int32


def test_a_fixed_vocabulary_drops_other_items() -> None:
    pairs = [("a", "x"), ("a", "zz"), ("b", "y"), ("b", "x")]
    data = build_interactions(pairs, items=["y", "x"])
    assert data.items == ("y", "x")
    assert np.array_equal(data.matrix.toarray(), [[0, 1], [1, 1]])
    assert build_interactions([]).n_interactions == 0


def encode(record: HistoryRecord, document: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The worker processes' encoding for ``EncodingStore`` (picklable: a module function)."""
    return record.kind, record.id, document


class EncodingStore(SlowStore):
    """``SlowStore`` taking what the import's worker processes encoded, as the Mongo store does."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__(fail_on)
        self.removed: list[str] = []

    def encoder(self, source: str | None = None, run: str | None = None) -> Any:
        return encode

    def write_encoded(self, documents: list[tuple[str, str, dict[str, Any]]]) -> int:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.01)
        with self.lock:
            self.active -= 1
            for kind, doc_id, doc in documents:
                if doc_id == self.fail_on:
                    raise RuntimeError("database gone")
                self.docs[(kind, doc_id)] = doc
        return len(documents)

    def remove_absent(self, run: str, before: Any) -> int:
        self.removed.append(run)
        return 0


def blocks(lines: list[str], block_bytes: int) -> Any:
    stream = io.BytesIO(("\n".join(lines) + "\n").encode())
    ndjson_text, head = sniff_ndjson(stream)
    assert ndjson_text
    return line_blocks(head, stream, block_bytes)


def test_blocks_hold_whole_lines_with_their_numbers() -> None:
    lines = [product_line(i, i) for i in range(50)] + ["", "", product_line(50, 1)]
    text = "\n".join(lines)  # no newline at the end
    stream = io.BytesIO(text.encode())
    _, head = sniff_ndjson(stream)
    cut = list(line_blocks(head, stream, 300))
    assert len(cut) > 10 and b"".join(block for _, block in cut) == text.encode()
    assert all(block.endswith(b"\n") for _, block in cut[:-1])
    numbered = [(n, doc["id"]) for first, block in cut for n, doc in block_documents(first, block)]
    assert numbered == [(i + 1, f"p{i}") for i in range(50)] + [(53, "p50")]


def test_parallel_import_reads_and_reports_like_the_serial_one() -> None:
    lines = [product_line(i, i // 3) for i in range(1500)]
    lines[10] = '{"id": "p10", "status": "active"'  # truncated JSON
    lines[500] = '{"id": "p500", "status": "active"}'  # neither a product nor an order
    lines[1400] = '{"id": "p1400", "status": "active", "productOffering": {"id": "o1"}}'  # no customer
    lines.insert(700, "")
    serial_store, parallel_store = SlowStore(), EncodingStore()
    ticks: list[int] = []
    serial = import_history(read_documents(ndjson(lines), True), serial_store, batch=50, in_flight=3)
    parallel = import_history_blocks(blocks(lines, 4096), parallel_store, ticks.append, workers=2, in_flight=2)
    assert parallel.read == serial.read == 1500 and parallel.written == serial.written == {"product": 1497}
    assert parallel.errors == serial.errors and [e.line for e in parallel.errors] == [11, 501, 1402]
    assert parallel_store.docs == serial_store.docs and len(parallel_store.docs) == 1497
    assert sum(ticks) == 1500 and len(ticks) > 10  # a tick per block


def test_parallel_import_writes_a_repeated_document_last() -> None:
    lines = [product_line(i, i) for i in range(400)]
    lines += [product_line(5, 5, "terminated"), product_line(6, 6, "suspended"), product_line(6, 6, "terminated")]
    lines.insert(25, product_line(12, 12, "terminated"))  # the next block: its first version may be in flight
    store = EncodingStore()
    report = import_history_blocks(blocks(lines, 2048), store, workers=2, in_flight=3)
    assert report.written == {"product": 404} and len(store.docs) == 400
    assert store.docs[("product", "p5")]["status"] == store.docs[("product", "p12")]["status"] == "terminated"
    assert store.docs[("product", "p6")]["status"] == "terminated"  # the same block twice: still in order


def test_a_failing_batch_stops_the_parallel_import() -> None:
    with pytest.raises(RuntimeError, match="database gone"):
        import_history_blocks(blocks([product_line(i, i) for i in range(600)], 2048), EncodingStore(fail_on="p120"),
                              workers=2)


def test_a_file_replaces_the_history_only_when_every_line_was_read() -> None:
    good = [product_line(i, i) for i in range(30)]
    store = EncodingStore()
    report = import_history_file(io.BytesIO("\n".join(good).encode()), store, replace=True, workers=1)
    assert report.replaced == {"removed": 0} and len(store.removed) == 1 and len(store.docs) == 30
    bad = io.BytesIO("\n".join([*good, "{not json"]).encode())
    report = import_history_file(bad, store, replace=True, workers=1)
    assert report.replaced is None and len(store.removed) == 1 and [e.line for e in report.errors] == [31]


def test_a_json_array_file_is_read_whole() -> None:
    array = "[\n" + ",\n".join(product_line(i, i) for i in range(5)) + ',\n{"id": "x"}\n]'
    store = EncodingStore()
    report = import_history_file(io.BytesIO(array.encode()), store)
    assert report.read == 6 and report.written == {"product": 5} and [e.line for e in report.errors] == [6]
