"""``POST <mount>/listener``: any event of a mounted document at one callback URL.

Many hubs POST every event to the one callback they were given. Connexion's routing has checked that
``eventType`` names one of the document's listener events (``edge.spec.loader.with_event_callback``);
here the body is validated against that event's own schema from the document, the same check its
``/listener/<event>`` operation makes, and handed to that operation's handler.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

import fastjsonschema
import orjson
from connexion.json_schema import Draft4RequestValidator
from fastjsonschema.draft04 import CodeGeneratorDraft04
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from edge.spec.loader import DEFINITIONS, EVENT_CALLBACK_PATH, listener_events
from services.errors import InvalidRequest


def acknowledgement(event: dict[str, Any], callback_url: str) -> dict[str, str]:
    """The 201 body of a received event, ``EventSubscription``-shaped as the listener operations
    declare: ``id`` = the event's ``eventId`` (or a new id), ``callback`` = the URL it was POSTed to."""
    return {"id": str(event.get("eventId") or uuid.uuid4()), "callback": callback_url}


class EventSchemas:
    """Each listener event's body validator, from the document's own definition of that event
    (``ProductCreateEvent``), inlined and compiled once, on first use.

    ``__call__`` gives jsonschema's validator (the one whose errors clients read); ``is_valid`` the
    same schema compiled to Python by fastjsonschema, about ten times faster, for the hot path. It
    checks formats with jsonschema's own format checker, fills in no defaults and reads Connexion's
    extensions (``x-nullable``, ``readOnly``) not at all: it may refuse an event jsonschema takes,
    never the reverse, and what it refuses goes to the full validation."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.events = listener_events(spec)
        # the callback base (``<base>/listener``: any event, by ``eventType``) is mounted too
        self.callback_base = bool(self.events) and EVENT_CALLBACK_PATH in spec.get("paths", {})
        self._definitions = spec.get("definitions", {})
        self._validators: dict[str, Draft4Validator] = {}
        self._compiled: dict[str, Callable[[Any], Any]] = {}

    def _schema(self, event_type: str) -> dict[str, Any]:
        return {**inline(self._definitions[event_type], self._definitions, (event_type,)),
                "definitions": self._definitions}

    def __call__(self, event_type: str) -> Draft4Validator:
        validator = self._validators.get(event_type)
        if validator is None:
            validator = Draft4RequestValidator(self._schema(event_type), format_checker=_FORMATS)
            self._validators[event_type] = validator
        return validator

    def is_valid(self, event_type: str, event: Any) -> bool:
        compiled = self._compiled.get(event_type)
        if compiled is None:
            compiled = self._compiled[event_type] = _compile(orjson.dumps(self._schema(event_type),
                                                                          option=orjson.OPT_SORT_KEYS))
        try:
            compiled(event)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def compile_all(self) -> None:
        """Compile every event's schema now (a second or so each on a busy machine): the gunicorn
        master does it before it forks, so no worker compiles one on its event loop."""
        for event_type in self.events:
            self.is_valid(event_type, None)


@functools.cache
def _compile(schema: bytes) -> Callable[[Any], Any]:
    """The compiled validator of a schema (its JSON text), kept for the process and its forks."""
    return fastjsonschema.compile(orjson.loads(schema), formats=_COMPILED_FORMATS, use_default=False,
                                  detailed_exceptions=False)


_FORMATS = Draft4Validator.FORMAT_CHECKER
# every format fastjsonschema knows, checked as jsonschema checks it (or not at all, as jsonschema)
_COMPILED_FORMATS: dict[str, Callable[[Any], bool]] = {
    name: functools.partial(_FORMATS.conforms, format=name) if name in _FORMATS.checkers else (lambda _: True)
    for name in (*CodeGeneratorDraft04.FORMAT_REGEXS, *_FORMATS.checkers)}


class EventCallback:
    """The handler of the event callback operation: validate by ``eventType``, then dispatch."""

    def __init__(self, schemas: EventSchemas, resolve: Callable[[str], Callable[..., Any]]) -> None:
        self._schemas = schemas
        self._resolve = resolve

    def __call__(self, data: dict[str, Any]) -> Any:
        event_type = str(data.get("eventType"))
        if event_type not in self._schemas.events:  # routing checked it; a handler called directly did not
            raise InvalidRequest(f"unknown eventType {event_type!r}")
        error = best_match(self._schemas(event_type).iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the body"
            raise InvalidRequest(f"not a valid {event_type}: {error.message} (at {where})")
        return self._resolve(self._schemas.events[event_type][1])(data=data)


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
