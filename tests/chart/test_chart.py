"""The Helm chart: it lints and renders with the default and the production values, every object it renders
is valid for Kubernetes 1.31 (kubernetes-validate, offline) and the Component for the ODA Canvas's CRD, and
the Component, Services, probes and settings agree with what the server really serves and reads."""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_chart import (
    CHART,
    PRODUCTION,
    RELEASE,
    containers,
    default_values,
    one,
    render,
    run_helm,
    value_args,
    workloads,
)

from app.settings import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[2]
CRD = Path(__file__).parent / "oda-canvas" / "oda-component-crd.yaml"
K8S_VERSION = "1.31.0"
NAME = f"{RELEASE}-recommendation"
# Every optional part on: autoscaling, subscribed events, an existing Secret, no in-chart MongoDB.
EVERYTHING = ("api.autoscaling.enabled=true", "subscribedEvents.enabled=true",
              "subscribedEvents.names={productOfferingCreateEvent,categoryCreateEvent}",
              "mongodb.existingSecret=mongo", "mongodb.inChart.enabled=false")
VARIANTS = {"default": ((), ()), "production": ((PRODUCTION,), ()), "everything": ((), EVERYTHING),
            "no worker": ((), ("worker.enabled=false",))}


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    values, sets = VARIANTS[request.param]
    return render(values, sets)


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return render()


def component_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    v1 = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    assert v1["storage"] is True
    schema = closed(v1["schema"]["openAPIV3Schema"])
    schema.pop("additionalProperties")  # apiVersion, kind and metadata are implied at the root
    return dict(schema)


def closed(schema: Any) -> Any:
    """The CRD schema with unknown fields refused: the API server would prune them silently, so a misspelt
    field would be lost without this."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@pytest.mark.parametrize("values", [(), (PRODUCTION,)], ids=["default", "production"])
def test_helm_lint(values: tuple[Path, ...]) -> None:
    result = run_helm("lint", "--strict", str(CHART), *value_args(values))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_object_is_valid(rendered: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft7Validator(component_schema())
    kinds = set()
    for obj in rendered:
        kinds.add(obj["kind"])
        if obj["apiVersion"].startswith("oda.tmforum.org/"):
            assert obj["apiVersion"] == "oda.tmforum.org/v1"
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
            assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert {"Deployment", "Service", "ConfigMap", "Component"} <= kinds


def test_the_parts_each_variant_renders() -> None:
    default = {(o["kind"], o["metadata"]["name"]) for o in render()}
    assert {("Deployment", f"{NAME}-api"), ("Deployment", f"{NAME}-worker"), ("Service", NAME),
            ("Service", f"{NAME}-metrics"), ("PodDisruptionBudget", f"{NAME}-api"),
            ("StatefulSet", f"{NAME}-mongodb"), ("Secret", f"{NAME}-mongodb-uri"),
            ("Job", f"{NAME}-data-load-1"), ("Component", NAME)} <= default
    assert ("HorizontalPodAutoscaler", f"{NAME}-api") not in default
    production = {(o["kind"], o["metadata"]["name"]) for o in render((PRODUCTION,))}
    assert ("HorizontalPodAutoscaler", f"{NAME}-api") in production
    assert not {k for k, _ in production} & {"StatefulSet", "Secret"}  # an existing Secret, an operated MongoDB
    with_uri = render(sets=("mongodb.uri=mongodb://db:27017/?replicaSet=rs0", "component.enabled=false"))
    assert one(with_uri, "Secret")["stringData"]["MONGODB_URI"] == "mongodb://db:27017/?replicaSet=rs0"
    assert not {o["kind"] for o in with_uri} & {"StatefulSet", "Component"}
    refused = run_helm("template", RELEASE, str(CHART), "--set", "mongodb.inChart.enabled=false")
    assert refused.returncode != 0 and "mongodb.existingSecret" in refused.stderr


def test_canvas_labels(rendered: list[dict[str, Any]]) -> None:
    """oda.tmforum.org/componentName on every Deployment, its pods and every PVC; `name` on the metrics
    Service is the implementation the Component's metrics API names."""
    component = one(rendered, "Component")
    name = component["metadata"]["name"]
    for obj in rendered:
        assert obj["metadata"]["labels"]["oda.tmforum.org/componentName"] == name, obj["kind"]
    for workload in workloads(rendered):
        assert workload["spec"]["template"]["metadata"]["labels"]["oda.tmforum.org/componentName"] == name
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            assert claim["metadata"]["labels"]["oda.tmforum.org/componentName"] == name
    metrics_apis = component["spec"]["managementFunction"]["exposedAPIs"]
    assert [m["apiType"] for m in metrics_apis] == ["prometheus"]
    metrics_service = one(rendered, "Service", metrics_apis[0]["implementation"])
    assert metrics_service["metadata"]["labels"]["name"] == metrics_apis[0]["implementation"]


def test_hardened_containers(rendered: list[dict[str, Any]]) -> None:
    for workload in workloads(rendered):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_api_probes_and_ports(default: list[dict[str, Any]]) -> None:
    api = one(default, "Deployment", f"{NAME}-api")
    (container,) = containers(api)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert "command" not in container  # the image's gunicorn entrypoint
    (port,) = container["ports"]
    settings = one(default, "ConfigMap")["data"]
    assert settings["TMF680_BIND"] == f"0.0.0.0:{port['containerPort']}"
    for service in (o for o in default if o["kind"] == "Service" and "mongodb" not in o["metadata"]["name"]):
        (service_port,) = service["spec"]["ports"]
        assert service_port["port"] == 8080 and service_port["targetPort"] == port["name"]
        assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    worker = one(default, "Deployment", f"{NAME}-worker")
    assert containers(worker)[0]["command"] == ["tmf680"] and containers(worker)[0]["args"] == ["worker"]
    assert settings["TMF680_WORKERS"] == "false"  # the worker Deployment runs them
    assert int(api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]) > int(
        settings["TMF680_GRACEFUL_TIMEOUT"])


def test_without_the_worker_the_api_runs_the_workers() -> None:
    objects = render(sets=("worker.enabled=false",))
    assert one(objects, "ConfigMap")["data"]["TMF680_WORKERS"] == "true"
    assert not [o for o in objects if o["metadata"]["name"].endswith("-worker")]


def test_mongodb_uri_comes_from_a_secret(rendered: list[dict[str, Any]]) -> None:
    secrets = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Secret"}
    for workload in (w for w in workloads(rendered) if "mongodb" not in w["metadata"]["name"]):
        (env,) = [e for e in containers(workload)[0]["env"] if e["name"] == "MONGODB_URI"]
        ref = env["valueFrom"]["secretKeyRef"]
        if ref["name"] in secrets:  # created by the chart
            assert secrets[ref["name"]]["stringData"][ref["key"]].startswith("mongodb://")
        else:
            assert ref["name"] in {"mongo", "tmf680-mongodb"}  # the existing Secret the values name


def gunicorn_settings() -> set[str]:
    conf = next(p for p in (ROOT / "runtime" / "gunicorn_conf.py", ROOT / "app" / "gunicorn_conf.py") if p.exists())
    return set(re.findall(r"environ\.get\(\"(TMF680_[A-Z_]+|WEB_CONCURRENCY)\"", conf.read_text()))


def test_every_setting_is_reachable_from_values() -> None:
    """Each setting app/settings.py documents (and each TMF680_* the gunicorn configuration reads) reaches
    the pods; the values' defaults are the server's own (except the data directory, the image's volume)."""
    values = default_values()
    documented = {v.name for v in ENV_VARS} | gunicorn_settings()
    chart_decided = {"MONGODB_URI", "TMF680_WORKERS", "TMF680_BIND", "TMF680_GRACEFUL_TIMEOUT", "WEB_CONCURRENCY",
                     "TMF680_CANVAS_SYSTEM_ROLE", "TMF680_ACCESS_LOG"}
    missing = documented - set(values["settings"]) - chart_decided
    assert not missing, f"settings not in values.yaml `settings`: {sorted(missing)}"
    for var in ENV_VARS:
        if var.name in values["settings"] and var.name != "TMF680_DATA_DIR":
            assert str(values["settings"][var.name]) == var.default, var.name
    # each one set through values reaches the API container (ConfigMap or env)
    sets = [f"settings.{name}=x{n}" for n, name in enumerate(sorted(values["settings"]))]
    objects = render(sets=(*sets, "extraSettings.TMF680_FUTURE=1"))
    (container,) = containers(one(objects, "Deployment", f"{NAME}-api"))
    data = one(objects, "ConfigMap")["data"]
    assert container["envFrom"] == [{"configMapRef": {"name": one(objects, "ConfigMap")["metadata"]["name"]}}]
    reachable = set(data) | {e["name"] for e in container["env"]}
    assert documented | {"TMF680_FUTURE"} <= reachable | {"TMF680_ACCESS_LOG"}
    for n, name in enumerate(sorted(values["settings"])):
        assert data[name] == f"x{n}"


def test_chart_version_is_the_package_version() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == config["metadata"]["version"]


def test_component_declares_tmfc050(default: list[dict[str, Any]]) -> None:
    spec = one(default, "Component")["spec"]
    assert spec["componentMetadata"]["id"] == "TMFC050"
    assert spec["componentMetadata"]["name"] == "ProductRecommendationManagement"
    (exposed,) = [a for a in spec["coreFunction"]["exposedAPIs"] if a["apiType"] == "openapi"]
    assert (exposed["id"], exposed["name"], exposed["required"]) == ("TMF680", "recommendation-management-api", True)
    assert [s["version"].split(".")[0] for s in exposed["specification"]] == ["4"]
    dependent = {d["id"]: d for d in spec["coreFunction"]["dependentAPIs"]}
    assert dependent["TMF620"]["required"] is True
    assert dependent["TMF620"]["specification"][0]["version"].split(".")[0] in {"4", "5"}
    assert dependent["TMF637"]["required"] is False and dependent["TMF622"]["required"] is False
    published = spec["eventNotification"]["publishedEvents"]
    assert [e["name"] for e in published] == ["queryProductRecommendationCreateEvent",
                                              "queryProductRecommendationStateChangeEvent"]
    subscribed = default_values()["subscribedEvents"]
    assert [e["name"] for e in spec["eventNotification"]["subscribedEvents"]] == (
        subscribed["names"] if subscribed["enabled"] else [])  # only those the server handles (test below)
    assert spec["securityFunction"]["canvasSystemRole"] == "Admin"
    (partyrole,) = spec["securityFunction"]["exposedAPIs"]
    assert "partyrole" in partyrole["name"] and partyrole["id"] == "TMF669"
    assert partyrole["path"] == getattr(Settings.from_env({}), "party_role_base_path",
                                        "/tmf-api/partyRoleManagement/v4")
    api = one(default, "Deployment", f"{NAME}-api")
    env = {e["name"]: e.get("value") for e in containers(api)[0]["env"]}
    assert env["TMF680_CANVAS_SYSTEM_ROLE"] == "Admin"


def test_subscribed_events_when_enabled() -> None:
    spec = one(render(sets=EVERYTHING), "Component")["spec"]
    subscribed = spec["eventNotification"]["subscribedEvents"]
    assert [e["name"] for e in subscribed] == ["productOfferingCreateEvent", "categoryCreateEvent"]
    for event in subscribed:
        (specification,) = event["specification"]
        assert specification["callback"] == "/tmf-api/productCatalogManagement/v4/listener"
        assert specification["implementation"] == NAME and specification["port"] == 8080
    refused = run_helm("template", RELEASE, str(CHART), "--set", "subscribedEvents.enabled=true",
                       "--set", "subscribedEvents.callback=")
    assert refused.returncode != 0 and "subscribedEvents.callback" in refused.stderr


# --- the Component against the server itself -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(mongo_uri: str) -> Iterator[Any]:
    """The server as the chart's default settings configure it (the values' TMF680_* over an empty
    environment), on the session's mongod."""
    from pymongo import MongoClient

    from app.factory import create_app

    env = {k: str(v) for k, v in default_values()["settings"].items()}
    env |= {"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": "chart_paths", "TMF680_WORKERS": "false",
            "TMF680_ACCESS_LOG_LEVEL": "CRITICAL", "TMF680_LOG_LEVEL": "ERROR"}
    app = create_app(Settings.from_env(env))
    with app.test_client() as client:
        yield client
    MongoClient(mongo_uri).drop_database("chart_paths")


def serves_tmf669() -> bool:
    code = [p for p in ROOT.rglob("*.py") if not {"tests", "charts", ".tox", "bench"} & set(p.parts)]
    return any("partyRoleManagement" in p.read_text(errors="replace") for p in code)


def test_component_paths_are_served(default: list[dict[str, Any]], server: Any) -> None:
    spec = one(default, "Component")["spec"]
    services = {o["metadata"]["name"]: o for o in default if o["kind"] == "Service"}
    (exposed,) = [a for a in spec["coreFunction"]["exposedAPIs"] if a["apiType"] == "openapi"]
    assert exposed["path"] == Settings.from_env({}).base_path  # the server's default mount
    assert server.get(f"{exposed['path']}/queryProductRecommendation").status_code == 200
    docs = server.get(exposed["developerUI"])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    (mcp,) = [a for a in spec["coreFunction"]["exposedAPIs"] if a["apiType"] == "mcp"]
    assert mcp["path"] == Settings.from_env({}).mcp_path
    assert server.get(mcp["path"]).status_code == 405  # the MCP endpoint: POST only (404 if not mounted)
    for event in spec["eventNotification"]["publishedEvents"]:
        (specification,) = event["specification"]
        assert specification["hub"] == f"{exposed['path']}/hub"
        assert server.post(specification["hub"], json={}).status_code == 400  # the hub, refusing no callback
    (metrics,) = spec["managementFunction"]["exposedAPIs"]
    answer = server.get(metrics["path"])
    assert answer.status_code == 200 and "tmf680_" in answer.text
    apis = [exposed, metrics, *spec["securityFunction"]["exposedAPIs"],
            *(s for e in spec["eventNotification"]["publishedEvents"] for s in e["specification"])]
    for api in apis:
        service = services[api["implementation"]]
        assert api["port"] in [p["port"] for p in service["spec"]["ports"]]
    (partyrole,) = spec["securityFunction"]["exposedAPIs"]
    if not serves_tmf669():
        pytest.skip("the server does not serve TMF669 Party Role yet; the Component declares it at "
                    f"{partyrole['path']}")
    roles = server.get(f"{partyrole['path']}/partyRole")
    assert roles.status_code == 200, roles.text
    assert any(r.get("name") == spec["securityFunction"]["canvasSystemRole"] for r in roles.json())


def test_each_exposed_api_root_answers_with_the_declared_resources(default: list[dict[str, Any]],
                                                                   server: Any) -> None:
    """The ODA component test kit GETs each exposed API's root (its ``path``) and expects a 2xx: the root
    describes the API, with the developer UI and the resources (and their operations) the Component declares."""
    spec = one(default, "Component")["spec"]
    apis = [a for a in (*spec["coreFunction"]["exposedAPIs"], *spec["securityFunction"]["exposedAPIs"])
            if a["apiType"] == "openapi"]
    assert [a["id"] for a in apis] == ["TMF680", "TMF669"]
    for api in apis:
        for path in (api["path"], api["path"] + "/"):
            root = server.get(path)
            assert root.status_code == 200, (path, root.text)
        body = root.json()
        assert (body["id"], body["basePath"]) == (api["id"], api["path"])
        assert body["links"]["docs"].endswith(api["developerUI"])
        assert server.get(api["developerUI"]).status_code == 200
        served = {r["name"]: sorted(r["operations"]) for r in body["resources"]}
        declared = {name: sorted(operations) for each in api["resources"] for name, operations in each.items()}
        assert served == declared, api["name"]


def test_the_validators_refuse_a_misspelt_field(default: list[dict[str, Any]]) -> None:
    """Both validators can fail: an unknown field in the Component and in a Deployment is refused."""
    component = one(default, "Component")
    broken = {**component, "spec": {**component["spec"], "securityFunction": {"canvasSystemRol": "Admin"}}}
    assert list(jsonschema.Draft7Validator(component_schema()).iter_errors(broken))
    deployment = one(default, "Deployment", f"{NAME}-api")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**deployment, "spec": {**deployment["spec"], "replica": 2}}, K8S_VERSION,
                                     strict=True)


@pytest.mark.parametrize("values", [(), (PRODUCTION,)], ids=["default", "production"])
def test_commands_the_chart_runs_exist(values: tuple[Path, ...]) -> None:
    """The worker's and the data-load Job's ``tmf680`` commands are commands of the package's console script."""
    from importlib.metadata import entry_points

    from click.testing import CliRunner

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tmf680"]
    cli = script.load()
    objects = render(values)
    commands = [c for w in workloads(objects) for c in containers(w) if c.get("command") == ["tmf680"]]
    assert {c["name"] for c in commands} == {"worker", "data-load"}
    for container in commands:
        result = CliRunner().invoke(cli, [*container["args"], "--help"])
        assert result.exit_code == 0, (container["args"], result.output)
        assert result.output.startswith("Usage: ")


def test_the_vendored_crd_is_the_shared_one() -> None:
    """The vendored CRD is the Canvas's copy beside the checkout (``../shared/oda``) when there is one."""
    shared = ROOT.parent / "shared" / "oda" / "oda-component-crd.yaml"
    if not shared.exists():
        pytest.skip(f"no {shared} beside this checkout")
    assert CRD.read_bytes() == shared.read_bytes()
    assert (CRD.parent / "LICENSE").read_bytes() == (shared.parent / "LICENSE").read_bytes()


# TMFC050's subscribed events (TMF620)
TMFC050_SUBSCRIBED = tuple(f"{resource}{event}Event" for resource, events in (
    ("productSpecification", ("Create", "Delete")), ("category", ("Create", "Delete")),
    ("productOffering", ("Create", "AttributeValueChange", "StateChange", "Delete")),
    ("productOfferingPrice", ("Create", "AttributeValueChange", "StateChange", "Delete"))) for event in events)


def test_subscribed_events_are_the_ones_the_server_handles(server: Any) -> None:
    """Declared: each is served at <callback>/<name>. Not declared (until the server has a TMF620 listener):
    none is served there, nor under the TMF680 base path, so the Canvas wires no event nobody receives."""
    values = default_values()["subscribedEvents"]
    assert set(values["names"]) <= set(TMFC050_SUBSCRIBED)
    callback = values["callback"].rstrip("/")
    if values["enabled"]:
        for name in values["names"]:
            assert server.post(f"{callback}/{name}", json={}).status_code != 404, name
    else:
        base = Settings.from_env({}).base_path
        served = [name for name in TMFC050_SUBSCRIBED for path in (f"{callback}/{name}", f"{base}/listener/{name}")
                  if server.post(path, json={}).status_code != 404]
        assert not served, f"the server handles {served}: enable subscribedEvents in values.yaml"
