"""Load the official TMF680 document, validate it, and normalise what it gets wrong.

The file in ``openapi/`` stays byte-for-byte the TM Forum document; every deviation the server
needs is made here, on a deep copy, and each one is covered by ``tests/unit/test_spec.py``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

SPEC_FILENAME = "TMF680-Recommendation-v4.0.0.swagger.json"
JSON = "application/json"
# Query parameters of the list operation that are paging/selection, not attribute filters.
LIST_OPERATION_ID = "listQueryProductRecommendation"


class SpecError(ValueError):
    """The document is not a valid OpenAPI/Swagger document."""


def spec_path() -> Path:
    return Path(str(resources.files("openapi").joinpath(SPEC_FILENAME)))


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


def normalise(document: dict[str, Any], base_path: str = "/") -> dict[str, Any]:
    """Return a copy of the document fit to drive routing and validation.

    - ``consumes``/``produces`` (top level and per operation) lose their charset parameter: the
      CTK and real clients send ``application/json`` and Connexion 3 rejects the charset form.
    - ``host``/``schemes`` are dropped (``serverRootserverRoot`` is a placeholder) and ``basePath``
      is the mount the API is served at.
    - ``offset``/``limit`` get ``minimum: 0`` so a negative page is a 400, not a database error.
    - the list operation declares ``206`` like its ``200``: TMF630 answers a page with 206 Partial
      Content when more items match.
    - ``ProductStatusType`` accepts ``aborted`` besides the document's ``"aborted "`` (trailing space).
    - ``QueryProductRecommendation_Create`` types ``validFor`` as the resource does, so a create
      cannot store a value the resource schema then rejects.
    """
    spec = copy.deepcopy(document)
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
                if param.get("in") == "query" and param.get("name") in {"offset", "limit"}:
                    param.setdefault("minimum", 0)
            responses = operation.get("responses", {})
            if operation.get("operationId") == LIST_OPERATION_ID and "200" in responses:
                responses.setdefault("206", {**copy.deepcopy(responses["200"]),
                                             "description": "Partial Content: one page of the matching items"})
    definitions = spec.get("definitions", {})
    status = definitions.get("ProductStatusType", {})
    enum = status.get("enum")
    if isinstance(enum, list):
        for value in list(enum):
            if isinstance(value, str) and value != value.strip() and value.strip() not in enum:
                enum.append(value.strip())
    create = definitions.get("QueryProductRecommendation_Create", {})
    resource = definitions.get("QueryProductRecommendation", {})
    resource_props = resource.get("properties", {})
    create_props = create.get("properties")
    if isinstance(create_props, dict) and "validFor" in resource_props and "validFor" not in create_props:
        create_props["validFor"] = copy.deepcopy(resource_props["validFor"])
    check(spec, source="normalised document")
    return spec


@cache
def _official() -> str:
    return json.dumps(load_document())


def official_document() -> dict[str, Any]:
    """The vendored document, validated once per process (a fresh copy each call)."""
    return json.loads(_official())  # type: ignore[no-any-return]


def list_parameter_names(spec: dict[str, Any]) -> frozenset[str]:
    """Names of the list operation's declared query parameters (fields, offset, limit)."""
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("operationId") == LIST_OPERATION_ID:
                return frozenset(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
    return frozenset()
