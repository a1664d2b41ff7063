"""Connexion's body validators, adjusted.

Requests: JSON is RFC 8259 JSON. Python's ``json`` accepts ``NaN``, ``Infinity`` and numbers that
overflow to infinity; stored, they would make every later response invalid JSON. They are refused
with a 400 before validation.

Responses (when response validation is on): a HEAD answer has no body to validate.
"""

from __future__ import annotations

import json
import math
import typing as t

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, JSONResponseBodyValidator
from starlette.types import Scope


class NonFiniteNumber(ValueError):
    pass


def _reject_constant(name: str) -> t.NoReturn:
    raise NonFiniteNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"{text} is out of the range of a JSON number")
    return value


def loads_strict(text: str) -> t.Any:
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


class StrictJSONRequestBodyValidator(JSONRequestBodyValidator):
    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        body = b"".join([message async for message in stream]).decode(self._encoding)
        if not body:
            return None
        try:
            return loads_strict(body)
        except NonFiniteNumber as exc:
            raise BadRequestProblem(detail=f"the request body is not valid JSON: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise BadRequestProblem(detail=f"the request body is not valid JSON: {exc}") from exc


class HeadAwareJSONResponseBodyValidator(JSONResponseBodyValidator):
    """A HEAD response carries GET's headers and no body: there is no body to validate."""

    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if self._scope.get("method") == "HEAD":
            return None
        return super()._validate(body)  # type: ignore[no-any-return]


def validator_map() -> dict[str, t.Any]:
    """Connexion's validators with the strict JSON body parser and HEAD-aware response checks."""
    body = MediaTypeDict(dict(VALIDATOR_MAP["body"]))
    body["*/*json"] = StrictJSONRequestBodyValidator
    response = MediaTypeDict(dict(VALIDATOR_MAP["response"]))
    response["*/*json"] = HeadAwareJSONResponseBodyValidator
    return {**VALIDATOR_MAP, "body": body, "response": response}
