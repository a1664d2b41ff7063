"""The hot path's parts: validators compiled once, the JSON codec and the one-hand-off WSGI bridge."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from connexion.exceptions import BadRequestProblem
from jsonschema import Draft4Validator

from app.factory import MIDDLEWARES
from edge import json_codec
from edge.validation import CompiledSchemas, loads_strict, validator_map
from edge.wsgi_bridge import WSGIBridge

# --- validators compiled once ---------------------------------------------------------------------


def test_a_schema_object_gets_one_validator_for_the_app_lifetime() -> None:
    compiled = CompiledSchemas()
    schema = {"type": "string", "maxLength": 3}
    first = compiled.get(schema, Draft4Validator)
    assert compiled.get(schema, Draft4Validator) is first
    assert len(compiled) == 1


def test_an_equal_but_distinct_schema_object_is_not_mistaken_for_another() -> None:
    compiled = CompiledSchemas()
    one, two = {"type": "string"}, {"type": "integer"}
    assert compiled.get(one, Draft4Validator).schema is one
    assert compiled.get(two, Draft4Validator).schema is two
    assert len(compiled) == 2


def test_the_cache_is_bounded() -> None:
    compiled = CompiledSchemas(limit=4)
    schemas = [{"minimum": i} for i in range(10)]  # kept alive: distinct ids
    for schema in schemas:
        compiled.get(schema, Draft4Validator)
    assert len(compiled) <= 4


def test_each_validator_map_has_its_own_cache() -> None:
    one, two = validator_map(), validator_map()
    assert one["parameter"].compiled is not two["parameter"].compiled
    assert one["parameter"].compiled is one["body"]["application/json"].compiled


def _parameter_validator(parameters: list[dict[str, Any]]) -> Any:
    cls = validator_map()["parameter"]
    return cls(parameters, uri_parser=None)


def test_parameter_checks_give_connexion_s_messages() -> None:
    param = {"name": "limit", "in": "query", "type": "integer", "minimum": 0}
    validator = _parameter_validator([param])
    assert validator.validate_parameter("query", 5, param) is None
    error = validator.validate_parameter("query", -1, param)
    assert error is not None and "-1 is less than the minimum of 0" in error
    required = {"name": "id", "in": "path", "type": "string", "required": True}
    assert validator.validate_parameter("path", None, required) == "Missing path parameter 'id'"
    assert validator.validate_parameter("query", None, param) is None


def test_parameter_validation_compiles_each_definition_once() -> None:
    param = {"name": "fields", "in": "query", "type": "string"}
    validator = _parameter_validator([param])
    for value in ("a", "b", "c"):
        validator.validate_parameter("query", value, param)
    assert len(type(validator).compiled) == 1


def _parse_body(raw: bytes, encoding: str = "utf-8") -> Any:
    cls = validator_map()["body"]["application/json"]
    validator = cls(schema={"type": "object"}, encoding=encoding, strict_validation=False)

    async def stream() -> Any:
        yield raw

    return asyncio.run(validator._parse(stream(), {}))


def test_body_parsing_keeps_big_integers_and_refuses_non_finite_numbers() -> None:
    assert _parse_body(b'{"a": 1, "b": [true, null]}') == {"a": 1, "b": [True, None]}
    assert _parse_body(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    for bad in (b'{"n": NaN}', b'{"n": Infinity}', b'{"n": 1e999}', b'{"a": ', b"  "):
        with pytest.raises(BadRequestProblem):
            _parse_body(bad)


def test_body_parsing_in_another_declared_charset() -> None:
    assert _parse_body('{"name": "café"}'.encode("latin-1"), encoding="latin-1") == {"name": "café"}


# --- JSON codec -----------------------------------------------------------------------------------


def test_dumps_is_compact_utf8_in_insertion_order() -> None:
    assert json_codec.dumps({"b": 1, "a": "é", "c": [1.5, None]}) == '{"b":1,"a":"é","c":[1.5,null]}'


def test_dumps_falls_back_for_integers_beyond_64_bits() -> None:
    assert json_codec.dumps({"n": 2**70}) == '{"n":1180591620717411303424}'


def test_loads_gives_what_the_standard_parser_gives() -> None:
    assert json_codec.loads(b'{"s": "\\ud800"}', loads_strict) == {"s": "\ud800"}  # lone surrogate
    for big in (2**64, 123456789012345678901234567890, -(2**70)):
        parsed = json_codec.loads(f"[{big}]".encode(), loads_strict)
        assert parsed == [big] and type(parsed[0]) is int
    with pytest.raises(ValueError, match="Expecting"):
        json_codec.loads(b"{", loads_strict)


def test_flask_provider_parses_with_the_same_results() -> None:
    import flask

    provider = json_codec.FastFlaskJSONProvider(flask.Flask("t"))
    assert provider.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert provider.loads('{"n": 36893488147419103232}') == {"n": 2**65}
    with pytest.raises(ValueError):
        provider.loads(b"{")


# --- Connexion's stack ----------------------------------------------------------------------------


def test_the_stack_leaves_out_swagger_ui_and_security_only() -> None:
    names = [m.__name__ for m in MIDDLEWARES]
    assert "SwaggerUIMiddleware" not in names and "SecurityMiddleware" not in names
    assert names == ["ServerErrorMiddleware", "ExceptionMiddleware", "RoutingMiddleware",
                     "RequestValidationMiddleware", "ResponseValidationMiddleware", "LifespanMiddleware",
                     "ContextMiddleware"]


# --- WSGI bridge ----------------------------------------------------------------------------------

MARK: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="")


def _drive(bridge: WSGIBridge, body_parts: list[bytes], method: str = "POST") -> list[dict[str, Any]]:
    messages = [{"type": "http.request", "body": part, "more_body": i < len(body_parts) - 1}
                for i, part in enumerate(body_parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/x/y", "root_path": "", "query_string": b"a=1&a=2",
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("10.0.0.1", 5),
             "headers": [(b"content-type", b"application/json"), (b"x-thing", b"v")]}

    async def run() -> None:
        MARK.set("from the loop")
        await bridge(scope, receive, send)

    asyncio.run(run())
    return sent


def test_bridge_runs_the_wsgi_app_once_with_the_whole_body_and_returns_one_response() -> None:
    seen: dict[str, Any] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(body=environ["wsgi.input"].read(), query=environ["QUERY_STRING"], path=environ["PATH_INFO"],
                    header=environ["HTTP_X_THING"], mark=MARK.get(), scope=environ["asgi.scope"]["path"])
        write = start_response("201 Created", [("Content-Type", "application/json"), ("Location", "/x/1")])
        write(b"[")
        return [b"1", b"", b"]"]

    bridge = WSGIBridge(wsgi, threads=2)
    sent = _drive(bridge, [b'{"a"', b": 1}"])
    bridge.close()
    assert seen == {"body": b'{"a": 1}', "query": "a=1&a=2", "path": "/x/y", "header": "v",
                    "mark": "from the loop", "scope": "/x/y"}
    assert sent == [
        {"type": "http.response.start", "status": 201,
         "headers": [(b"content-type", b"application/json"), (b"location", b"/x/1")]},
        {"type": "http.response.body", "body": b"[1]"},
    ]


def test_bridge_re_raises_the_app_s_error_on_the_loop_and_closes_the_iterable() -> None:
    closed: list[bool] = []

    class Failing:
        def __iter__(self) -> Any:
            raise RuntimeError("boom")

        def close(self) -> None:
            closed.append(True)

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return Failing()

    bridge = WSGIBridge(wsgi, threads=1)
    with pytest.raises(RuntimeError, match="boom"):
        _drive(bridge, [b""], method="GET")
    bridge.close()
    assert closed == [True]
