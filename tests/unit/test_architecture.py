"""The folder tree is the architecture: imports between the top-level packages only point down.

    cli → app → handlers → edge → outbound | storage → services → recommender

``runtime`` (embedded mongod, memory, the gunicorn workers' sockets) serves the processes and imports no
package of the project; ``openapi`` is data. Imports under ``TYPE_CHECKING`` and inside functions count.
"""

from __future__ import annotations

import grimp
import pytest

LAYERS = ("cli", "app", "handlers", "edge", grimp.Layer("outbound", "storage", independent=True), "services",
          "recommender")
STANDALONE = ("runtime", "openapi")
PACKAGES = ("cli", "app", "handlers", "edge", "outbound", "storage", "services", "recommender", *STANDALONE)


@pytest.fixture
def graph() -> grimp.ImportGraph:
    """The project's import graph, built anew for each test (the tests below add imports to it)."""
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _illegal(graph: grimp.ImportGraph) -> list[str]:
    found = []
    for dependency in graph.find_illegal_dependencies_for_layers(layers=LAYERS):
        for route in dependency.routes:
            found.append(f"{dependency.importer} -> {dependency.imported}: {route.heads} ... {route.tails}")
    for package in STANDALONE:
        for module in graph.find_children(package) | graph.find_descendants(package) | {package}:
            for imported in graph.find_modules_directly_imported_by(module):
                if imported.split(".")[0] in PACKAGES and imported.split(".")[0] != package:
                    found.append(f"{module} -> {imported}: {package} imports no package of the project")
    return found


def _package_cycles(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    edges = {(m.split(".")[0], i.split(".")[0]) for m in graph.modules
             for i in graph.find_modules_directly_imported_by(m)}
    edges = {(a, b) for a, b in edges if a != b}
    return sorted((a, b) for a, b in edges if (b, a) in edges)


def test_imports_between_packages_only_point_down(graph: grimp.ImportGraph) -> None:
    assert _illegal(graph) == []


def test_no_import_cycle_between_packages(graph: grimp.ImportGraph) -> None:
    assert _package_cycles(graph) == []


def test_every_package_is_checked(graph: grimp.ImportGraph) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    on_disk = {p.parent.name for p in root.glob("*/__init__.py")} - {"tests", "bench", "build"}
    assert on_disk <= set(PACKAGES), f"add {on_disk - set(PACKAGES)} to the layers"


@pytest.mark.parametrize(("importer", "imported"), [
    ("services.queries", "edge.context"),        # a service reaching up to the HTTP edge
    ("edge.context", "app.container"),           # the edge reaching the composition root
    ("storage.mongo", "outbound.event_sender"),  # one adapter using its sibling
    ("runtime.memory", "app.settings"),          # the process helpers reading the root's settings
])
def test_an_upward_import_is_caught(graph: grimp.ImportGraph, importer: str, imported: str) -> None:
    graph.add_import(importer=importer, imported=imported)
    assert _illegal(graph), f"{importer} -> {imported} went unnoticed"


def test_a_package_cycle_is_caught(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="recommender.engine", imported="services.errors")
    assert ("recommender", "services") in _package_cycles(graph)
