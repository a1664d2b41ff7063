"""Read any TM Forum OpenAPI document, validate it, and normalise what it gets wrong.

The files in ``openapi/`` stay byte-for-byte TM Forum's documents. Every deviation the server needs is
made on a deep copy, in two steps:

1. the quirks common to the TM Forum family (``normalise``): the charset in ``consumes``/``produces``,
   the placeholder ``host`` and the ``basePath``, paging parameters without a minimum, and lists that
   answer 206 without declaring it;
2. the document's own mistakes, declared beside it as ``openapi/<api>/fixes.json`` (a JSON Patch).

The result is validated again (openapi-spec-validator); ``tests/unit/test_spec.py`` covers each step.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonpatch
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

JSON = "application/json"
DEFINITIONS = "#/definitions/"
FIXES_FILE = "fixes.json"
PAGING = frozenset({"offset", "limit"})


class SpecError(ValueError):
    """The document is not a valid OpenAPI/Swagger document, or its fixes do not apply to it."""


@dataclass(frozen=True)
class VendoredDocument:
    """One official document in ``openapi/<folder>/``, with its licence and optional ``fixes.json``."""

    folder: str
    filename: str

    @property
    def path(self) -> Path:
        return Path(str(resources.files("openapi").joinpath(self.folder, self.filename)))

    @property
    def fixes_path(self) -> Path:
        return self.path.with_name(FIXES_FILE)

    def fixes(self) -> list[dict[str, Any]]:
        if not self.fixes_path.is_file():
            return []
        return json.loads(self.fixes_path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def raw(self) -> dict[str, Any]:
        """The document as published, validated once per process (a fresh copy each call)."""
        return json.loads(_validated_text(self.path))  # type: ignore[no-any-return]

    def unvalidated(self) -> dict[str, Any]:
        """The document as published, read but not validated (a fresh copy each call)."""
        return json.loads(_text(self.path))  # type: ignore[no-any-return]

    def normalised(self, base_path: str = "/", only: str | None = None) -> dict[str, Any]:
        """The document fit to drive routing and validation at ``base_path``.

        ``only``: a path prefix (``/listener/``); the other paths, and the definitions only they use,
        are left out. Only what is kept is validated: the TMF620 document alone takes seconds to
        validate whole, at every worker start."""
        return json.loads(_normalised_text(self, base_path, only))  # type: ignore[no-any-return]


TMF680 = VendoredDocument("tmf680", "TMF680-Recommendation-v4.0.0.swagger.json")
# TMF620: v4.1.0 is mounted. Its listener operations are a superset of v4.0.0's (it adds the category,
# catalog and productSpecification attribute/state change events) with the same paths, operationIds and
# event envelopes; v4.0.0 is kept beside it so a test can hold that claim (tests/unit/test_spec.py).
TMF620 = VendoredDocument("tmf620", "TMF620-ProductCatalog-v4.1.0.swagger.json")
TMF620_V400 = VendoredDocument("tmf620_v4_0_0", "TMF620-ProductCatalog-v4.0.0.swagger.json")
TMF637 = VendoredDocument("tmf637", "TMF637-ProductInventory-v4.0.0.swagger.json")
TMF622 = VendoredDocument("tmf622", "TMF622-ProductOrdering-v4.0.0.swagger.json")
TMF669 = VendoredDocument("tmf669", "TMF669-PartyRole-v4.0.0.swagger.json")
VENDORED = (TMF680, TMF669, TMF620, TMF620_V400, TMF637, TMF622)
LISTENER_PREFIX = "/listener/"
EVENT_CALLBACK_PATH = "/listener"  # any of the document's events, dispatched by eventType
EVENT_CALLBACK_OPERATION = "listenToEvent"


@cache
def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read OpenAPI document {path}: {exc}") from exc


@cache
def _normalised_text(document: VendoredDocument, base_path: str, only: str | None) -> str:
    """Normalised and validated once per process: the gunicorn master does it before forking
    (``app.factory.prepare_documents``), so its workers start without validating again."""
    if only is None:
        return json.dumps(normalise(document.raw(), base_path=base_path, fixes=document.fixes()))
    return json.dumps(normalise(document.unvalidated(), base_path=base_path, fixes=document.fixes(), only=only))


@cache
def _validated_text(path: Path) -> str:
    return json.dumps(load_document(path))


def spec_path() -> Path:
    """The vendored TMF680 document."""
    return TMF680.path


def official_document() -> dict[str, Any]:
    """The vendored TMF680 document, validated once per process (a fresh copy each call)."""
    return TMF680.raw()


def load_document(path: Path | None = None) -> dict[str, Any]:
    """Read and validate a Swagger 2.0 / OpenAPI 3 document (the raw, un-normalised dict)."""
    path = path or spec_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read OpenAPI document {path}: {exc}") from exc
    check(document, source=str(path))
    return document  # type: ignore[no-any-return]


def check(document: Any, source: str = "document") -> None:
    if not isinstance(document, dict):
        raise SpecError(f"{source}: an OpenAPI document must be a JSON object")
    try:
        validate(document)
    except OpenAPIValidationError as exc:
        raise SpecError(f"{source} is not a valid OpenAPI document: {exc.message}") from exc


def _media_types(values: Any) -> list[str]:
    """``application/json;charset=utf-8`` → ``application/json`` (Connexion cannot match the former)."""
    out: list[str] = []
    for value in values or []:
        base = str(value).split(";", 1)[0].strip().lower()
        if base not in out:
            out.append(base)
    return out or [JSON]


def _identity(document: dict[str, Any]) -> tuple[str, str]:
    info = document.get("info") or {}
    return str(info.get("title")), str(info.get("version"))


def own_fixes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixes declared beside the vendored document with this title and version (none for others)."""
    for vendored in VENDORED:
        if _identity(vendored.unvalidated()) == _identity(document):
            return vendored.fixes()
    return []


def is_list_operation(method: str, operation: dict[str, Any]) -> bool:
    """A GET that pages (declares ``offset`` or ``limit``): TMF630 answers its partial pages with 206."""
    names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    return method == "get" and bool(names & PAGING)


def normalise(document: dict[str, Any], base_path: str = "/",
              fixes: list[dict[str, Any]] | None = None, only: str | None = None) -> dict[str, Any]:
    """Return a copy of the document fit to drive routing and validation.

    The family's quirks, for every document:

    - ``consumes``/``produces`` (top level and per operation) lose their charset parameter: the
      CTK and real clients send ``application/json`` and Connexion 3 rejects the charset form.
    - ``host``/``schemes`` are dropped (``serverRootserverRoot`` is a placeholder) and ``basePath``
      is the mount the API is served at.
    - ``offset``/``limit`` get ``minimum: 0`` so a negative page is a 400, not a database error.
    - a list operation declares ``206`` like its ``200``: TMF630 answers a page with 206 Partial
      Content when more items match.

    Then ``fixes`` (a JSON Patch; by default the one declared beside the vendored document of the same
    title and version), e.g. TMF680's ``"aborted "`` status and untyped ``validFor`` on create.

    ``only`` (a path prefix, ``/listener/``) mounts part of a document: the other paths and the
    definitions nothing kept refers to are dropped, and the event callback operation is added
    (``with_event_callback``).
    """
    spec = copy.deepcopy(document)
    if only is not None:
        spec["paths"] = {path: item for path, item in spec.get("paths", {}).items() if path.startswith(only)}
    spec.pop("host", None)
    spec.pop("schemes", None)
    spec["basePath"] = base_path or "/"
    spec["consumes"] = _media_types(spec.get("consumes"))
    spec["produces"] = _media_types(spec.get("produces"))
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            for key in ("consumes", "produces"):
                if key in operation:
                    operation[key] = _media_types(operation[key])
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and param.get("name") in PAGING:
                    param.setdefault("minimum", 0)
            responses = operation.get("responses", {})
            if is_list_operation(method, operation) and "200" in responses:
                responses.setdefault("206", {**copy.deepcopy(responses["200"]),
                                             "description": "Partial Content: one page of the matching items"})
    patch = own_fixes(document) if fixes is None else fixes
    try:
        spec = jsonpatch.apply_patch(spec, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise SpecError(f"the document's fixes do not apply: {exc}") from exc
    if only is not None:
        if only == LISTENER_PREFIX:
            spec = with_event_callback(spec)
        spec["definitions"] = reachable_definitions(spec)
    check(spec, source="normalised document")
    return spec


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFINITIONS):
            yield ref[len(DEFINITIONS):]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def reachable_definitions(spec: dict[str, Any]) -> dict[str, Any]:
    """The definitions the paths refer to, directly or through other definitions."""
    definitions = spec.get("definitions", {})
    kept: dict[str, Any] = {}
    pending = list(_refs(spec.get("paths", {})))
    while pending:
        name = pending.pop()
        if name in kept or name not in definitions:
            continue
        kept[name] = definitions[name]
        pending.extend(_refs(definitions[name]))
    return dict(sorted(kept.items()))


def listener_events(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """eventType → (listener path, operationId), from each ``/listener/...`` POST's body schema: the
    event type is the name of the definition the body refers to (``ProductOfferingCreateEvent``)."""
    events: dict[str, tuple[str, str]] = {}
    for path, item in spec.get("paths", {}).items():
        operation = item.get("post") if path.startswith(LISTENER_PREFIX) else None
        if not isinstance(operation, dict):
            continue
        for param in operation.get("parameters", []):
            ref = (param.get("schema") or {}).get("$ref", "") if param.get("in") == "body" else ""
            if ref.startswith(DEFINITIONS):
                events[ref[len(DEFINITIONS):]] = (path, operation["operationId"])
    return events


def with_event_callback(spec: dict[str, Any]) -> dict[str, Any]:
    """Add ``POST /listener``: any of the document's listener events at one callback URL (many hubs
    POST every event to the callback they were given). Routing here checks only that ``eventType`` names
    one of them; the event is then validated against that event's own schema (``edge.apis``)."""
    events = sorted(listener_events(spec))
    if not events:
        return spec
    some_path, _ = listener_events(spec)[events[0]]
    template = spec["paths"][some_path]["post"]
    operation = {
        "operationId": EVENT_CALLBACK_OPERATION,
        "summary": "Client listener for any of this API's events, dispatched by eventType",
        "description": "Not in the TM Forum document: added by this server so that a hub may POST every "
                       "event to one callback URL. The body must validate against the schema of the "
                       "event its eventType names.",
        "tags": template.get("tags", []),
        "parameters": [{"name": "data", "in": "body", "required": True, "description": "The event",
                        "schema": {"type": "object", "required": ["eventType"],
                                   "properties": {"eventType": {"type": "string", "enum": events}}}}],
        "responses": copy.deepcopy(template["responses"]),
    }
    return {**spec, "paths": {**spec["paths"], EVENT_CALLBACK_PATH: {"post": operation}}}


def list_parameter_names(spec: dict[str, Any]) -> frozenset[str]:
    """Names of the list operations' declared query parameters (TMF680: fields, offset, limit)."""
    names: set[str] = set()
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and is_list_operation(method, operation):
                names.update(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
    return frozenset(names)
