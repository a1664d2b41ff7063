"""Customer history (TMF637 products, TMF622 orders) as the engine reads it.

Each document's ``_id`` is its kind and id (``history_key``), in a collection clustered on it
(MongoDB 5.3 or later; a plain collection elsewhere): one B-tree per insert fewer than an ``_id``
plus a unique (kind, id) index, which cost mongod more than half of an import's insert (15.4 against
6.8 µs a document, measured on 1 million products). A collection made before keyed ids (it has the
unique ``kind_id`` index) keeps working as it is, found by kind and id.

Every write (imports, and the TMF637/TMF622 events) and every removal adds the number of documents
it touched to the ``history`` change counter (``change_seq``): a model records the counter it was
trained at, and the retrainer compares the two to know how much changed since.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import bson
import orjson
import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, CollectionInvalid, OperationFailure

from services.history import ORDER, HistoryRecord
from services.ports import HistoryWrite, Stamped
from storage.codec import decode
from storage.mongo import (
    DUPLICATE_KEY,
    NAMESPACE_EXISTS,
    SOURCE,
    add_to_count,
    read_count,
    stamped_put_many,
    stamped_write_many,
    tagged_update,
    translate_errors,
)
from storage.prefetch import prefetched

COLLECTION = "customerHistory"
COUNTER = "history"  # the change counter, in storage.mongo's counters collection
UNTAGGED_CHUNK = 2000  # ids per query when looking for untagged copies of known documents
BULK_TIMEOUT_S = 300  # one batch of an import (the client's socket timeout is for requests)
_DECODE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)
_CUSTOMER, _OFFERING = operator.itemgetter("c"), operator.itemgetter("o")


def json_text(doc: dict[str, Any]) -> str:
    """The document as compact JSON text (integers beyond 64 bits too)."""
    try:
        return orjson.dumps(doc).decode()
    except TypeError:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _document(raw: Any) -> dict[str, Any]:
    """The stored original: JSON text; documents stored before the text form hold the escaped object."""
    return json.loads(raw) if isinstance(raw, str) else decode(raw)


def stored_fields(rec: HistoryRecord, doc: dict[str, Any]) -> dict[str, Any]:
    """What is stored of one product or order: the fields the queries use, and the original
    document as its JSON text (``r``: read back only for one resource at a time, by ``current``; text
    costs neither a key-escaping walk nor the BSON encoding of every nested field)."""
    return {
        "kind": rec.kind, "id": rec.id, "customers": list(rec.customer_ids),
        "offerings": list(rec.offering_ids), "heldStatus": rec.held_status, "signal": rec.signal,
        "start": rec.start, "end": rec.end,
        "orderItems": [{"i": i, "o": o} for i, o in rec.order_items],
        "r": json_text(doc), "deleted": False, "written": datetime.now(UTC),
    }


def history_key(kind: str, resource_id: str) -> str:
    """A product's or order's ``_id``: its kind and id (no kind holds the separator)."""
    return f"{kind}:{resource_id}"


def encode_history(rec: HistoryRecord, doc: dict[str, Any], tags: dict[str, str], keyed: bool = True) -> bytes:
    """One product or order as the BSON an import inserts (``tags``: its ``run`` and ``source``;
    ``keyed``: with its ``history_key`` as ``_id``). A module function, so that an import's worker
    processes can encode what they parsed and the process that writes does no per-document work."""
    key = {"_id": history_key(rec.kind, rec.id)} if keyed else {}
    return bson.encode({**key, **stored_fields(rec, doc), **tags})


def _tags(source: str | None, run: str | None) -> dict[str, str]:
    return {**({} if run is None else {"run": run}), **({} if source is None else {SOURCE: source})}


LEGACY_INDEX = "kind_id"  # the unique (kind, id) index of a collection made before keyed ids


class MongoHistoryRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._db = db
        self._col = db[COLLECTION]

    @functools.cached_property
    def _keyed(self) -> bool:
        """Whether documents are found by ``_id`` (``history_key``): yes, unless the collection was
        made before keyed ids. Makes the collection when it has no document yet (an insert would
        make a plain one)."""
        if self._col.find_one({}, {"_id": 1}) is None:
            self._create()
        return LEGACY_INDEX not in self._col.index_information()

    def _create(self) -> None:
        """The collection, clustered on ``_id``; plain on a MongoDB before 5.3, which refuses that."""
        try:
            self._db.create_collection(COLLECTION, clusteredIndex={"key": {"_id": 1}, "unique": True})
        except CollectionInvalid:
            return  # it exists
        except OperationFailure as exc:
            if exc.code == NAMESPACE_EXISTS:
                return  # made meanwhile by another process
            try:
                self._db.create_collection(COLLECTION, check_exists=False)
            except OperationFailure as again:
                if again.code != NAMESPACE_EXISTS:
                    raise

    @translate_errors
    def ensure_indexes(self) -> None:
        legacy = [] if self._keyed else [
            IndexModel([("kind", ASCENDING), ("id", ASCENDING)], unique=True, name=LEGACY_INDEX)]
        self._col.create_indexes([
            IndexModel([("customers", ASCENDING), ("heldStatus", ASCENDING)], name="customer_held"),
            *legacy,
            IndexModel([(SOURCE, ASCENDING)], name="source", partialFilterExpression={SOURCE: {"$exists": True}}),
        ])

    def _one(self, kind: str, resource_id: str) -> dict[str, Any]:
        """The filter for one product or order."""
        return {"_id": history_key(kind, resource_id)} if self._keyed else {"kind": kind, "id": resource_id}

    def _many(self, kind: str, resource_ids: Iterable[str]) -> dict[str, Any]:
        """The filter for several products or orders of one kind."""
        if self._keyed:
            return {"_id": {"$in": [history_key(kind, i) for i in resource_ids]}}
        return {"kind": kind, "id": {"$in": list(resource_ids)}}

    @translate_errors
    def upsert(self, records: Iterable[tuple[HistoryRecord, dict[str, Any]]], source: str | None = None,
               run: str | None = None) -> int:
        """Insert or replace (record, original document) pairs by kind and id; safe to call from
        several threads at once. ``source`` tags the documents (a later write without it removes the
        tag); ``run`` marks them as written by one import (``remove_absent``)."""
        encode = self.encoder(source, run)
        return self.write_encoded([encode(rec, doc) for rec, doc in records])

    @translate_errors
    def encoder(self, source: str | None = None,
                run: str | None = None) -> Callable[[HistoryRecord, dict[str, Any]], bytes]:
        """A picklable function from (record, original document) to what ``write_encoded`` takes,
        with the import's ``source`` and ``run`` tags (see ``upsert``)."""
        return functools.partial(encode_history, tags=_tags(source, run), keyed=self._keyed)

    @translate_errors
    def write_encoded(self, documents: Sequence[bytes]) -> int:
        """Insert or replace ``encoder`` output by kind and id (``upsert`` of encoded documents);
        thread-safe.

        New documents (a first import: millions) go in with one unordered ``insert_many`` of the BSON
        as it is, about a third of an upsert's work for mongod; those whose kind and id exist already
        fail on the unique index and are then updated in place, in batch order (a re-import; ``$set``
        keeps the ordering stamp an event left)."""
        if not documents:
            return 0
        try:
            with pymongo.timeout(BULK_TIMEOUT_S):  # a busy mongod may take longer than a request may wait
                self._col.insert_many([RawBSONDocument(d) for d in documents], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            updates = []
            for i in sorted(e["index"] for e in errors):
                fields = bson.decode(documents[i], _DECODE)
                run, source = fields.pop("run", None), fields.pop(SOURCE, None)
                fields.pop("_id", None)
                updates.append(UpdateOne(self._one(fields["kind"], fields["id"]),
                                         tagged_update(fields, source, run), upsert=True))
            with pymongo.timeout(BULK_TIMEOUT_S):
                self._col.bulk_write(updates, ordered=True)
        self._changed(len(documents))
        return len(documents)

    @translate_errors
    def current_many(self, kind: str, resource_ids: Sequence[str]) -> dict[str, Stamped]:
        """The stored products or orders (removed ones too) with their stamps, by id; absent ones left out."""
        found = self._col.find(self._many(kind, (str(i) for i in resource_ids)),
                               {"_id": 0, "id": 1, "r": 1, "stamp": 1, "deleted": 1})
        return {doc["id"]: Stamped(_document(doc["r"]), doc.get("stamp"), bool(doc.get("deleted"))) for doc in found}

    @translate_errors
    def write_many(self, kind: str, writes: Sequence[HistoryWrite]) -> list[bool]:
        """Store each product or order (``record`` None: removed, a tombstone that holds nothing and
        trains nothing) if it is still as ``expected`` was read; per write, whether it was written."""
        items = []
        for w in writes:
            if w.record is None:
                fields: dict[str, Any] = {"kind": kind, "id": w.resource_id, "customers": [], "offerings": [],
                                          "heldStatus": False, "signal": False, "start": None, "end": None,
                                          "orderItems": [], "r": json_text(w.document), "deleted": True,
                                          "written": datetime.now(UTC)}
            else:
                fields = stored_fields(w.record, w.document)
            items.append((self._one(kind, w.resource_id), {**fields, "stamp": w.stamp},
                          w.expected.stamp if w.expected else None, w.expected is not None))
        written = stamped_write_many(self._col, items)
        self._changed(sum(written))
        return written

    @translate_errors
    def put_many_if_newer(self, items: Sequence[tuple[HistoryRecord, dict[str, Any], str]]) -> list[bool]:
        """Store whole products or orders, (record, document, stamp) each, unless the stored one's stamp is not older:
        no read, and a burst of events costs one round trip (``stamped_put_many``). Per item, whether it was
        written. Two items for the same resource in one call end as the newer of the two."""
        if not items:
            return []
        written = stamped_put_many(self._col, [(self._one(rec.kind, rec.id), stored_fields(rec, doc), stamp)
                                               for rec, doc, stamp in items])
        self._changed(sum(written))
        return written

    def _changed(self, n: int) -> None:
        if n:
            add_to_count(self._db, COUNTER, "seq", n)

    @translate_errors
    def change_seq(self) -> int:
        """How many document writes and removals the history has seen (a monotonic counter)."""
        return read_count(self._db, COUNTER, field="seq")

    @translate_errors
    def remove_absent(self, run: str, before: datetime) -> int:
        """Delete what the import ``run`` did not write (documents written after ``before``, e.g. by
        events during the import, stay). Returns how many were deleted."""
        deleted = self._col.delete_many({"run": {"$ne": run}, "written": {"$not": {"$gte": before}}}).deleted_count
        self._changed(deleted)
        return deleted

    @translate_errors
    def remove_source(self, source: str) -> int:
        deleted = self._col.delete_many({SOURCE: source}).deleted_count
        self._changed(deleted)
        return deleted

    @translate_errors
    def remove_untagged_copies(self, documents: Mapping[tuple[str, str], dict[str, Any]]) -> tuple[int, int]:
        """Delete the documents (by kind and id) without a ``source`` tag that are exactly
        ``documents[(kind, id)]``; returns (removed, kept: those with such a key and other content)."""
        by_kind: dict[str, list[str]] = {}
        for kind, resource_id in documents:
            by_kind.setdefault(kind, []).append(resource_id)
        removed = kept = 0
        for kind, ids in by_kind.items():
            for start in range(0, len(ids), UNTAGGED_CHUNK):
                untagged = {SOURCE: {"$exists": False}, "deleted": {"$ne": True}}  # an event's tombstone stays
                same = []
                for doc in self._col.find({**self._many(kind, ids[start:start + UNTAGGED_CHUNK]), **untagged},
                                          {"_id": 0, "id": 1, "r": 1}):
                    if _document(doc["r"]) == documents[(kind, doc["id"])]:
                        same.append(doc["id"])
                    else:
                        kept += 1
                if same:
                    removed += self._col.delete_many({**self._many(kind, same), **untagged}).deleted_count
        self._changed(removed)
        return removed, kept

    @translate_errors
    def count_source(self, source: str) -> int:
        return self._col.count_documents({SOURCE: source})

    @translate_errors
    def held_offerings(self, customer_id: str, now: datetime) -> frozenset[str]:
        """Offerings the customer holds now (current products, orders in flight): one indexed query."""
        cursor = self._col.find(
            {"customers": customer_id, "heldStatus": True, "$or": [{"end": None}, {"end": {"$gt": now}}]},
            {"_id": 0, "offerings": 1},
        )
        return frozenset(o for doc in cursor for o in doc["offerings"])

    @translate_errors
    def order_offerings(self, order_ids: Iterable[str], item_refs: Iterable[tuple[str, str]] = ()) -> frozenset[str]:
        """Offerings of whole orders, and of (order id, order item id) items, from imported orders."""
        order_ids = list(dict.fromkeys(order_ids))
        items = list(dict.fromkeys(item_refs))
        wanted = list(dict.fromkeys([*order_ids, *(o for o, _ in items)]))
        if not wanted:
            return frozenset()
        found: set[str] = set()
        whole = set(order_ids)
        pairs = set(items)
        for doc in self._col.find(self._many(ORDER, wanted), {"_id": 0, "id": 1, "orderItems": 1}):
            for item in doc.get("orderItems", []):
                if doc["id"] in whole or (doc["id"], item["i"]) in pairs:
                    found.add(item["o"])
        return frozenset(found)

    @translate_errors
    def interaction_chunks(self, size: int = 200_000) -> Iterator[tuple[list[str], list[str]]]:
        """Training interactions of every signal-bearing document, ``size`` at a time, as two
        parallel lists (customer ids, offering ids): one pass over the collection, nothing kept
        per interaction beyond the chunk.

        mongod pairs each document's customers with its offerings (``$unwind``: an order names
        several) and sends ``{c, o}`` pairs; this process only decodes whole batches (in C) and
        takes the two fields, while a thread fetches the next batches (``prefetched``): at 25
        million products, Python's time per interaction was most of the training read."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"signal": True}},
            {"$project": {"_id": 0, "c": "$customers", "o": "$offerings"}},
            {"$unwind": "$c"}, {"$unwind": "$o"},
        ]
        customers: list[str] = []
        offerings: list[str] = []
        batches = self._col.aggregate_raw_batches(pipeline, batchSize=min(size, 20_000))
        for batch in prefetched(batches, name="history-read"):
            pairs = bson.decode_all(batch)
            customers += map(_CUSTOMER, pairs)
            offerings += map(_OFFERING, pairs)
            if len(customers) >= size:
                yield customers, offerings
                customers, offerings = [], []
        if customers:
            yield customers, offerings

    def interactions(self) -> Iterator[tuple[str, str]]:
        """(customer id, offering id) training pairs (small histories, tests)."""
        for customers, offerings in self.interaction_chunks():
            yield from zip(customers, offerings, strict=True)

    @translate_errors
    def current_holdings(self, now: datetime) -> dict[str, frozenset[str]]:
        """Customer id → offerings held now, for every customer (offline evaluation)."""
        held: dict[str, set[str]] = {}
        cursor = self._col.find(
            {"heldStatus": True, "$or": [{"end": None}, {"end": {"$gt": now}}]},
            {"_id": 0, "customers": 1, "offerings": 1}, batch_size=5000)
        for doc in cursor:
            for customer in doc["customers"]:
                held.setdefault(customer, set()).update(doc["offerings"])
        return {c: frozenset(o) for c, o in held.items()}

    @translate_errors
    def count(self) -> int:
        return self._col.estimated_document_count()
