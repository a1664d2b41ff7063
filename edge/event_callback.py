"""``POST <mount>/listener``: any event of a mounted document at one callback URL.

Many hubs POST every event to the one callback they were given. Connexion's routing has checked that
``eventType`` names one of the document's listener events (``edge.spec.loader.with_event_callback``);
here the body is validated against that event's own schema from the document, the same check its
``/listener/<event>`` operation makes, and handed to that operation's handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.json_schema import Draft4RequestValidator
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from edge.spec.loader import DEFINITIONS, listener_events
from services.errors import InvalidRequest


class EventCallback:
    """The handler of the event callback operation: validate by ``eventType``, then dispatch."""

    def __init__(self, spec: dict[str, Any], resolve: Callable[[str], Callable[..., Any]]) -> None:
        self._events = listener_events(spec)
        self._resolve = resolve
        self._definitions = spec.get("definitions", {})
        self._validators: dict[str, Draft4Validator] = {}

    def _validator(self, event_type: str) -> Draft4Validator:
        validator = self._validators.get(event_type)
        if validator is None:
            schema = {**inline(self._definitions[event_type], self._definitions, (event_type,)),
                      "definitions": self._definitions}
            validator = Draft4RequestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
            self._validators[event_type] = validator
        return validator

    def __call__(self, data: dict[str, Any]) -> Any:
        event_type = str(data.get("eventType"))
        if event_type not in self._events:  # routing checked it; a handler called directly did not
            raise InvalidRequest(f"unknown eventType {event_type!r}")
        error = best_match(self._validator(event_type).iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the body"
            raise InvalidRequest(f"not a valid {event_type}: {error.message} (at {where})")
        return self._resolve(self._events[event_type][1])(data=data)


def inline(schema: Any, definitions: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """The schema with every ``#/definitions/...`` reference replaced by the definition itself, except
    a reference back into a definition being inlined (kept, resolved from ``definitions``): jsonschema
    then validates without looking references up, several times faster on these documents."""
    if isinstance(schema, list):
        return [inline(item, definitions, stack) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(DEFINITIONS):
        name = ref[len(DEFINITIONS):]
        if name in stack or name not in definitions:
            return {"$ref": ref}
        return inline(definitions[name], definitions, (*stack, name))
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: inline(sub, definitions, stack) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = inline(value, definitions, stack)
        else:  # "enum", "example", "required", ...: data, left alone
            out[key] = value
    return out


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependencies"})  # name → schema
_SUBSCHEMAS = frozenset({"items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"})  # schema(s)
