"""The chart's pods on the image, as a kubelet would run them: each container's image, command, environment
(the settings ConfigMap and its env), user, read-only root, dropped capabilities and writable mounts, taken
from ``helm template`` with the default values; only MongoDB (the session's mongod) and the listen address
(a free port on 127.0.0.1, the test's containers share the host's network) differ. The data-load Job loads the
demo, the API answers the chart's probes, the worker runs."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from docker_cli import Container, docker, env_args
from helm_chart import containers, one, render
from pymongo import MongoClient

from runtime.embedded_mongo import free_port

NAME = "reco-recommendation"


def pod_options(workload: dict[str, Any]) -> list[str]:
    """``docker run`` options for the pod's (only) container: user, read-only root, capabilities, mounts."""
    pod = workload["spec"]["template"]["spec"]
    (container,) = containers(workload)
    context = {**pod["securityContext"], **container["securityContext"]}
    options = ["--network", "host", "--user", f"{context['runAsUser']}:{pod['securityContext']['runAsGroup']}"]
    if context["readOnlyRootFilesystem"]:
        options.append("--read-only")
    options += [a for cap in context["capabilities"]["drop"] for a in ("--cap-drop", cap)]
    if context["allowPrivilegeEscalation"] is False:
        options += ["--security-opt", "no-new-privileges"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        assert "emptyDir" in volumes[mount["name"]], mount  # the chart's writable paths are emptyDirs
        options += ["--tmpfs", mount["mountPath"]]
    if "command" in container:
        options += ["--entrypoint", container["command"][0]]
    return options


def pod_env(objects: list[dict[str, Any]], workload: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    (container,) = containers(workload)
    (source,) = container["envFrom"]
    env = dict(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container["env"]:
        env[item["name"]] = item.get("value", "")  # valueFrom (the MongoDB Secret) is in overrides
    return env | overrides


@pytest.fixture(scope="module")
def chart(image: str) -> list[dict[str, Any]]:
    repository, _, tag = image.rpartition(":")
    return render(sets=(f"image.repository={repository}", f"image.tag={tag}"))


@pytest.fixture(scope="module")
def overrides(mongo_uri: str) -> Iterator[dict[str, str]]:
    db_name = f"chart_pods_{uuid.uuid4().hex[:12]}"
    yield {"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_BIND": f"127.0.0.1:{free_port()}"}
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(db_name)
    client.close()


def test_the_chart_pods_run_on_the_image(image: str, chart: list[dict[str, Any]], overrides: dict[str, str],
                                         figures: dict[str, Any]) -> None:
    job = one(chart, "Job")
    api = one(chart, "Deployment", f"{NAME}-api")
    worker = one(chart, "Deployment", f"{NAME}-worker")
    for workload in (job, api, worker):
        assert containers(workload)[0]["image"] == image
        assert pod_env(chart, workload, {})["MONGODB_URI"] == ""  # only from the Secret

    (load,) = containers(job)
    loaded = docker("run", "--rm", *pod_options(job), *env_args(pod_env(chart, job, overrides)), image,
                    *load["args"], timeout=300)
    assert "model v1 trained" in loaded.stdout + loaded.stderr

    (api_container,) = containers(api)
    probes = {kind: api_container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe",
                                                                        "readinessProbe")}
    url = f"http://{overrides['TMF680_BIND']}"
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        server = Container(image, f"tmf680-chart-api-{uuid.uuid4().hex[:8]}", pod_env(chart, api, overrides),
                           options=pod_options(api))
        cleanup.callback(server.close)
        workers = Container(image, f"tmf680-chart-worker-{uuid.uuid4().hex[:8]}",
                            pod_env(chart, worker, overrides), command=containers(worker)[0]["args"],
                            options=pod_options(worker))
        cleanup.callback(workers.close)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.running(), server.logs()[-3000:]
            try:
                if httpx.get(url + probes["readinessProbe"], timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(f"the readiness probe never passed:\n{server.logs()[-3000:]}")
        figures["chart's API pod on the image: start to ready (s)"] = round(time.monotonic() - started, 2)
        for kind, path in probes.items():
            assert httpx.get(url + path, timeout=5).status_code == 200, kind
        assert workers.running(), workers.logs()
        assert "running" in workers.logs()
        assert server.exec("id", "-u").stdout.strip() == str(api["spec"]["template"]["spec"]["securityContext"][
            "runAsUser"])

