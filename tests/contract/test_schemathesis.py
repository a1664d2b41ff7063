"""Schemathesis contract run over every operation of both APIs (TMF680 and TMF669), in-process against
the real app and mongod.

- ``test_stateless[<operation>]`` (TMF680) and ``test_stateless_party_role[<operation>]`` (TMF669):
  the examples, coverage and fuzzing phases for each of the 7 + 11 operations, positive and negative
  data, every built-in check (settings: ``schemathesis.toml``).
- ``test_stateful[tmf680|tmf669]``: a state machine over the links Schemathesis infers from the
  ``Location`` headers the server answers with (create → retrieve/patch/delete, register →
  unregister) and from its dependency analysis of the response schemas (list → retrieve).

The tested schemas are the documents the server serves at ``<base>/openapi.json`` (asserted by
``test_served_document_is_the_tested_one``), i.e. the official document as ``edge/spec/loader.py``
normalises it (which also declares TMF630's 206 on the list). It is built at import time, so pytest
gets one item per operation; the app, which needs mongod, comes from a fixture and is passed to every
call.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.engine.observations import LocationHeaderEntry, Observations
from schemathesis.python import asgi as schemathesis_asgi

from app.factory import INBOUND, own_base_path
from edge.context import EXTENSION
from edge.spec.loader import (
    LISTENER_PREFIX,
    TMF669,
    TMF680,
    VendoredDocument,
    listener_events,
    normalise,
    official_document,
)

BASE = "/tmf-api/recommendationManagement/v4"
SPEC_URL = f"{BASE}/openapi.json"
CONFIG_FILE = Path(__file__).resolve().parents[2] / "schemathesis.toml"
BUDGET_ENV = "TMF680_CONTRACT_MAX_EXAMPLES"
# Every operation of TMF680 v4.0.0 (the document has no others).
EXPECTED_OPERATIONS = 7
LIST_PATH = "/queryProductRecommendation"


@dataclass(frozen=True)
class ContractApi:
    """One API of the server as the contract tier drives it."""

    name: str
    document: VendoredDocument
    base: str
    operations: int  # every operation of the document
    seeds: dict[tuple[str, str], dict[str, Any]]  # (path, method) → a body that creates a resource
    collections: tuple[str, ...]  # what its operations write (emptied before each stateful scenario)

    def served(self) -> dict[str, Any]:
        return normalise(self.document.raw(), base_path=self.base)


HUB_SEED = {("/hub", "POST"): {"callback": "http://127.0.0.1:9/tmf680/contract-seed"}}
EVENTS = ("hub", "listenerEvent", "event", "delivery")
APIS = {
    "tmf680": ContractApi("tmf680", TMF680, BASE, EXPECTED_OPERATIONS,
                          {(LIST_PATH, "POST"): {"name": "contract seed"}, **HUB_SEED},
                          ("queryProductRecommendation", *EVENTS)),
    "tmf669": ContractApi("tmf669", TMF669, "/tmf-api/partyRoleManagement/v4", 11,
                          {("/partyRole", "POST"): {"name": "contract seed"}, **HUB_SEED},
                          ("partyRole", *EVENTS)),
}


def load_config() -> schemathesis.Config:
    """``schemathesis.toml`` (by path: pytest may start anywhere), with the nightly budget applied."""
    config = schemathesis.Config.from_path(CONFIG_FILE)
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise pytest.UsageError(f"{BUDGET_ENV} must be a positive integer, got {raw!r}")
        config.projects.override.generation.update(max_examples=int(raw))
    return config


CONFIG = load_config()
SERVED = normalise(official_document(), base_path=BASE)
schema = schemathesis.openapi.from_dict(copy.deepcopy(SERVED), config=CONFIG)
PARTY_ROLE_SERVED = APIS["tmf669"].served()
party_role_schema = schemathesis.openapi.from_dict(copy.deepcopy(PARTY_ROLE_SERVED), config=CONFIG)
# The documents this component subscribes to: only their listener operations are mounted, each at the
# document's own base path (plus the one callback that takes any of its events, by eventType).
INBOUND_SERVED = {document.folder: document.normalised(own_base_path(document), only=LISTENER_PREFIX)
                  for document, _ in INBOUND}
INBOUND_OPERATIONS = {"tmf620": 22, "tmf637": 6, "tmf622": 9}  # listeners + the event callback
catalog_events_schema, inventory_events_schema, ordering_events_schema = (
    schemathesis.openapi.from_dict(copy.deepcopy(INBOUND_SERVED[name]), config=CONFIG)
    for name in ("tmf620", "tmf637", "tmf622"))


@pytest.fixture(scope="module", autouse=True)
def _describe_run(contract_stats: Any) -> None:
    contract_stats.seed = CONFIG.seed
    contract_stats.max_examples = schema.config.generation.max_examples
    contract_stats.operations = [f"{name}: {result.ok().label}"
                                 for name, each in (("tmf680", schema), ("tmf669", party_role_schema),
                                                    ("tmf620", catalog_events_schema),
                                                    ("tmf637", inventory_events_schema),
                                                    ("tmf622", ordering_events_schema))
                                 for result in each.get_all_operations()]


def test_served_document_is_the_tested_one(contract_app: Any, contract_settings: Any) -> None:
    # Schemathesis' own ASGI client: it leaves the app's lifespan (its Mongo client) running.
    client = schemathesis_asgi.get_client(contract_app)
    response = client.get(SPEC_URL)
    assert response.status_code == 200
    assert response.json() == SERVED
    assert len(list(schema.get_all_operations())) == EXPECTED_OPERATIONS
    # The legacy mount serves the same operations under its own basePath; fuzzing them twice would
    # test the same handlers again, so only the document is compared.
    for mount in contract_settings.mount_paths:
        served = client.get(f"{mount}/openapi.json")
        assert served.status_code == 200, mount
        assert served.json() == normalise(official_document(), base_path=mount)
    party_role = APIS["tmf669"]
    assert client.get(f"{party_role.base}/openapi.json").json() == PARTY_ROLE_SERVED
    assert len(list(party_role_schema.get_all_operations())) == party_role.operations
    for (document, _), each in zip(INBOUND, (catalog_events_schema, inventory_events_schema,
                                             ordering_events_schema), strict=True):
        base = own_base_path(document)
        assert client.get(f"{base}/openapi.json").json() == INBOUND_SERVED[document.folder], base
        assert len(list(each.get_all_operations())) == INBOUND_OPERATIONS[document.folder]


def test_the_events_of_a_resource_share_its_create_events_schema() -> None:
    """What lets schemathesis.toml run the coverage phase only on each resource's Create listener:
    every other event of the resource has the same resource schema, and an envelope that differs only
    by the optional strings ``id``, ``href`` and ``fieldPath``."""
    optional = ("id", "href", "fieldPath")
    for name, served in INBOUND_SERVED.items():
        definitions = served["definitions"]
        resources: dict[str, set[str]] = {}
        envelopes: set[str] = set()
        for event in listener_events(served):
            schema_ = definitions[event]
            properties = schema_["properties"]
            assert all(properties[k]["type"] == "string" for k in optional if k in properties), (name, event)
            envelopes.add(json.dumps({k: (v.get("type"), v.get("format"), v.get("$ref"))  # descriptions vary
                                      for k, v in properties.items() if k not in ("event", "eventType", *optional)}
                                     | {"required": sorted(set(schema_.get("required", [])) - set(optional))},
                                     sort_keys=True))
            payload = definitions[properties["event"]["$ref"].rsplit("/", 1)[-1]]
            [(resource, ref)] = payload["properties"].items()
            resources.setdefault(resource, set()).add(ref["$ref"])
            assert f"{resource[0].upper()}{resource[1:]}CreateEvent" in definitions, (name, event)
        assert len(envelopes) == 1, (name, envelopes)
        assert all(len(refs) == 1 for refs in resources.values()), (name, resources)


@schema.parametrize()
# The app is meant to be shared by every generated request, as a server is; the state they leave in
# the module's database is part of what is tested. Everything else comes from schemathesis.toml.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stateless(case: schemathesis.Case, contract_app: Any, contract_stats: Any) -> None:
    contract_stats.record_case(case)
    case.call_and_validate(app=contract_app)


@party_role_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stateless_party_role(case: schemathesis.Case, contract_app: Any, contract_stats: Any) -> None:
    contract_stats.record_case(case)
    case.call_and_validate(app=contract_app)


@catalog_events_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stateless_catalog_events(case: schemathesis.Case, events_contract_app: Any, contract_stats: Any) -> None:
    contract_stats.record_case(case)
    case.call_and_validate(app=events_contract_app)


@inventory_events_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stateless_inventory_events(case: schemathesis.Case, events_contract_app: Any, contract_stats: Any) -> None:
    contract_stats.record_case(case)
    case.call_and_validate(app=events_contract_app)


@ordering_events_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stateless_ordering_events(case: schemathesis.Case, events_contract_app: Any, contract_stats: Any) -> None:
    contract_stats.record_case(case)
    case.call_and_validate(app=events_contract_app)


def _observe_location_headers(stateful_schema: Any, api: ContractApi) -> Observations:
    """Create one resource per creating operation and keep the ``Location`` header it answers with.

    ``schemathesis run`` collects these from the responses of its earlier phases before the stateful
    phase; under pytest they are observed here, with real requests through the same transport.
    """
    observations = Observations()
    for (path, method), body in api.seeds.items():
        operation = stateful_schema[path][method]
        response = operation.Case(body=body, media_type="application/json").call()
        assert response.status_code == 201, (path, response.status_code, response.text)
        location = response.headers.get("location")
        assert location, f"{method} {path} answered 201 without a Location header"
        observations.location_headers.setdefault(operation, []).append(
            LocationHeaderEntry(status_code=response.status_code, value=location[0])
        )
    return observations


@pytest.mark.parametrize("api", list(APIS.values()), ids=list(APIS))
def test_stateful(contract_app: Any, contract_stats: Any, api: ContractApi) -> None:
    stateful_schema = schemathesis.openapi.from_dict(copy.deepcopy(api.served()), config=CONFIG)
    stateful_schema.app = contract_app  # what ``schemathesis.openapi.from_asgi`` does after loading
    inference = stateful_schema.apply_stateful_inference(_observe_location_headers(stateful_schema, api))
    contract_stats.stateful_links += inference.selected
    assert inference.selected, "Schemathesis inferred no links: the stateful phase would test nothing"

    base = stateful_schema.as_state_machine()
    stats = contract_stats
    db = contract_app.app.extensions[EXTENSION].db

    class Workflow(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            # Each scenario starts from an empty store: which links apply depends on the answers
            # (a list answers 206 only once more queries exist than its limit), and Hypothesis
            # requires a replayed scenario to draw the same steps (FlakyStrategyDefinition otherwise).
            for name in api.collections:  # indexes are kept; the catalogue and models are not touched
                db[name].delete_many({})
            stats.stateful_scenarios += 1
            super().setup()

        def step(self, input: Any) -> Any:  # noqa: A002 - Schemathesis' parameter name
            stats.stateful_steps += 1
            stats.stateful_steps_by_operation[input.case.operation.label] += 1
            if input.transition is not None:
                stats.stateful_linked_steps += 1
            return super().step(input)

    Workflow.run(settings=stateful_schema.config.get_hypothesis_settings(phase="stateful"))
