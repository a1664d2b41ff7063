"""JSON in and out of the API: orjson on the hot path, the standard library for what it cannot do.

orjson is several times faster than ``json`` at both ends but refuses lone surrogates, reads
integers beyond 64 bits as floats and will not write them (clients may send them and the store
keeps them); those bodies, and every malformed one, take the standard library's path, so results
and error messages are the same as with ``json``.
Output is compact UTF-8 (no ASCII escaping), keys in insertion order.
"""

from __future__ import annotations

import json
import re
import typing as t

import orjson
from connexion.frameworks.flask import FlaskJSONProvider
from connexion.jsonifier import JSONEncoder, Jsonifier

# orjson reads an integer beyond 64 bits as a float (precision lost): a run of 19+ digits anywhere
# (even inside a string: only slower) sends the body to the standard parser.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False, "allow_nan": False, "cls": JSONEncoder}


def dumps(data: t.Any) -> str:
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # an integer beyond 64 bits, a type orjson does not know
        return json.dumps(data, **_COMPACT)


def loads(body: bytes, fallback: t.Callable[[str], t.Any]) -> t.Any:
    """Parse UTF-8 ``body``; anything orjson refuses goes to ``fallback`` (the strict stdlib parser),
    which either parses it (big integers) or raises the error the client sees."""
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return fallback(body.decode("utf-8"))


class FastJsonifier(Jsonifier):
    """Connexion's serialisation point (handler results) with :func:`dumps`."""

    def __init__(self) -> None:
        super().__init__(json, **_COMPACT)

    def dumps(self, data: t.Any, **kwargs: t.Any) -> str:
        if kwargs:
            return super().dumps(data, **kwargs)  # type: ignore[no-any-return]
        return dumps(data)


class FastFlaskJSONProvider(FlaskJSONProvider):
    """Flask's side: the handler's body arrives through ``request.get_json()``, parsed again after
    Connexion validated it; orjson parses it, the standard library what orjson refuses."""

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        raw = s.encode("utf-8") if isinstance(s, str) else s
        return loads(raw, lambda text: json.loads(text, **kwargs))
