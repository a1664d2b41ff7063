"""Reading operator documents (JSON array, NDJSON, or a ``{"collection": [...]}`` object) with
per-line error reporting, so one bad line never stops an import."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

COLLECTION_KEY = "@collection"
_MISSING = object()


@dataclass(frozen=True)
class BadLine:
    line: int
    message: str


Item = tuple[int, dict[str, Any] | BadLine]


def read_documents(stream: IO[str], fast: bool = False) -> Iterator[Item]:
    """Yield ``(line number, document or BadLine)`` from a JSON array/object or NDJSON text stream.

    NDJSON is streamed line by line (files larger than memory import fine); a JSON array or a
    pretty-printed object is read whole, and its items are numbered by position. An object whose
    values are lists of objects (``{"category": [...], "productOffering": [...]}``) yields each
    item with ``@collection`` set to its key.

    ``fast`` parses NDJSON lines with orjson (about three times faster: history files have millions
    of lines); it reads an integer beyond 64 bits as a float, which no id or date is. Without it
    (catalogues) such integers stay exact, as the storage codec keeps them.
    """
    buffered: list[str] = []
    first = ""
    for raw in stream:
        buffered.append(raw)
        if raw.strip():
            first = raw.strip()
            break
    if first.startswith("[") or (first.startswith("{") and not _parses(first)):
        yield from _whole("".join(buffered) + stream.read())
        return
    for number, raw in enumerate(itertools.chain(buffered, stream), 1):
        yield from _line(number, raw, fast)


def sniff_ndjson(stream: IO[bytes]) -> tuple[bool, bytes]:
    """Whether a binary stream is NDJSON (as ``read_documents`` tells), and the bytes read to tell:
    they start ``line_blocks`` or, for a JSON array or object, ``read_whole``."""
    head: list[bytes] = []
    for raw in stream:
        head.append(raw)
        if raw.strip():
            break
    first = head[-1].strip() if head else b""
    whole = first.startswith(b"[") or (first.startswith(b"{") and not _parses(first))
    return not whole, b"".join(head)


def line_blocks(head: bytes, stream: IO[bytes], block_bytes: int = 1 << 19) -> Iterator[tuple[int, bytes]]:
    """NDJSON as blocks of whole lines of about ``block_bytes``: (number of the block's first line,
    the lines), so that workers can parse them; the lines themselves are not split here."""
    number, carry = 1, head
    while chunk := stream.read(block_bytes):
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if not cut:
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        yield number, block
        number += block.count(b"\n")
    if carry:
        yield number, carry


def block_documents(number: int, block: bytes) -> Iterator[Item]:
    """The documents of one ``line_blocks`` block, as ``read_documents(fast=True)`` reads them."""
    for offset, raw in enumerate(block.split(b"\n")):
        yield from _line(number + offset, raw, True)


def read_whole(text: str | bytes) -> Iterator[Item]:
    """The documents of a JSON array or object read whole (see ``read_documents``)."""
    return _whole(text)


def _parses(text: str | bytes) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _expand(number: int, value: Any) -> Iterator[Item]:
    if not isinstance(value, dict):
        yield number, BadLine(number, f"expected a JSON object, got {type(value).__name__}")
        return
    lists = {k: v for k, v in value.items() if isinstance(v, list)}
    if "id" not in value and lists and len(lists) == len(value):
        for key, docs in lists.items():
            for doc in docs:
                if isinstance(doc, dict):
                    yield number, {COLLECTION_KEY: key, **doc}
                else:
                    yield number, BadLine(number, f"{key}: expected a JSON object, got {type(doc).__name__}")
        return
    yield number, value


def _line(number: int, raw: str | bytes, fast: bool) -> Iterator[Item]:
    value: Any = _MISSING
    if fast:
        with contextlib.suppress(orjson.JSONDecodeError):  # a blank line, or an error worded below
            value = orjson.loads(raw)
    if value is _MISSING:
        text = raw.strip()
        if not text:
            return
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield number, BadLine(number, f"not valid JSON: {exc}")
            return
    if isinstance(value, dict) and "id" in value:  # the usual line: one document
        yield number, value
        return
    yield from _expand(number, value)


def _whole(text: str | bytes) -> Iterator[Item]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        yield exc.lineno, BadLine(exc.lineno, f"not valid JSON: {exc}")
        return
    if isinstance(value, list):
        for position, doc in enumerate(value, 1):
            yield from _expand(position, doc)
    else:
        yield from _expand(1, value)
