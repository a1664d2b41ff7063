"""Connexion's body validators, adjusted.

Requests: JSON is RFC 8259 JSON. Python's ``json`` accepts ``NaN``, ``Infinity`` and numbers that
overflow to infinity; stored, they would make every later response invalid JSON. They are refused
with a 400 before validation.

Responses (when response validation is on): a HEAD answer has no body to validate.

Speed: Connexion 3 builds a new jsonschema validator for every parameter and body of every request
(with a deep copy of each parameter and a fresh ``$ref`` resolver). The validators here are built
once per schema object of the loaded spec and reused; the schemas are the operation's own dicts,
which live as long as the app. Validation runs in the ASGI middleware on the event loop's thread,
so a compiled validator is never used by two threads at once.
"""

from __future__ import annotations

import json
import math
import typing as t

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    ParameterValidator,
)
from jsonschema import Draft4Validator, ValidationError
from jsonschema.protocols import Validator
from starlette.types import Scope

from edge import json_codec

_FORMATS = Draft4Validator.FORMAT_CHECKER


class CompiledSchemas:
    """Validators built once per schema object (by identity) and kept for the app's lifetime.

    The entry holds the schema too, so an ``id`` reused by a new object is never mistaken for the
    old one. ``limit`` bounds the memory if a caller ever passed fresh schema objects per request.
    """

    def __init__(self, limit: int = 1024) -> None:
        self._entries: dict[tuple[int, type], tuple[t.Any, Validator]] = {}
        self._limit = limit

    def get(self, schema: t.Any, cls: type) -> Validator:
        key = (id(schema), cls)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema:
            return entry[1]
        if len(self._entries) >= self._limit:
            self._entries.clear()
        validator = cls(schema, format_checker=_FORMATS)
        self._entries[key] = (schema, validator)
        return validator

    def __len__(self) -> int:
        return len(self._entries)


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
    compiled: t.ClassVar[CompiledSchemas]

    @property
    def _validator(self) -> Validator:
        return self.compiled.get(self._schema, Draft4RequestValidator)

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        raw = b"".join([message async for message in stream])
        if not raw:
            return None
        try:
            if self._encoding.lower().replace("-", "") == "utf8":
                return json_codec.loads(raw, loads_strict)
            return loads_strict(raw.decode(self._encoding))
        except NonFiniteNumber as exc:
            raise BadRequestProblem(detail=f"the request body is not valid JSON: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise BadRequestProblem(detail=f"the request body is not valid JSON: {exc}") from exc


class HeadAwareJSONResponseBodyValidator(JSONResponseBodyValidator):
    """A HEAD response carries GET's headers and no body: there is no body to validate."""

    compiled: t.ClassVar[CompiledSchemas]

    @property
    def validator(self) -> Validator:
        return self.compiled.get(self._schema, Draft4ResponseValidator)

    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if self._scope.get("method") == "HEAD":
            return None
        return super()._validate(body)  # type: ignore[no-any-return]


class CompiledParameterValidator(ParameterValidator):
    """Connexion's parameter checks with one compiled validator per parameter definition."""

    compiled: t.ClassVar[CompiledSchemas]

    def validate_parameter(  # type: ignore[override]
        self, parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            schema = param.get("schema", param)
            try:
                self.compiled.get(schema, Draft4Validator).validate(value)
            except ValidationError as exception:
                return str(exception)
            return None
        if param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None


def validator_map() -> dict[str, t.Any]:
    """Connexion's validators with the strict JSON body parser, HEAD-aware response checks and
    validators compiled once; each call has its own cache (one per app)."""
    compiled = CompiledSchemas()
    shared = {"compiled": compiled}
    body = MediaTypeDict(dict(VALIDATOR_MAP["body"]))
    body["*/*json"] = type("StrictJSONRequestBodyValidator", (StrictJSONRequestBodyValidator,), shared)
    response = MediaTypeDict(dict(VALIDATOR_MAP["response"]))
    response["*/*json"] = type("HeadAwareJSONResponseBodyValidator", (HeadAwareJSONResponseBodyValidator,), shared)
    parameter = type("CompiledParameterValidator", (CompiledParameterValidator,), shared)
    return {**VALIDATOR_MAP, "parameter": parameter, "body": body, "response": response}
