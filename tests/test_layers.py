"""The layers of pyproject.toml's import-linter contracts cover every module, with no cycle.

`lint-imports` (run by `make test`) checks the imports between the layers it is
told about; these tests make sure it is told about every module, and that no
module reaches back to itself through a package it belongs to.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# Packages whose modules sit in different layers; their __init__ only re-exports, lazily.
SPLIT_PACKAGES = {"feedsvc", "feedsvc.ingest", "feedsvc.publish"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("feedsvc", cache_dir=None)


def layered_modules() -> set[str]:
    """Every module a `layers` contract names, with its container."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    named = set()
    for contract in contracts:
        if contract["type"] != "layers":
            continue
        for container in contract.get("containers", [""]):
            for layer in contract["layers"]:
                for tail in layer.replace(":", "|").split("|"):
                    named.add(f"{container}.{tail.strip().strip('()')}".lstrip("."))
    return named


def test_every_module_sits_in_a_layer(graph: grimp.ImportGraph) -> None:
    named = layered_modules()
    unlayered = sorted(
        module
        for module in graph.modules
        if module not in SPLIT_PACKAGES
        and not any(module == name or module.startswith(name + ".") for name in named)
    )
    assert not unlayered, f"modules in no layer of pyproject.toml's contracts: {unlayered}"


def test_the_layers_name_only_modules_that_exist(graph: grimp.ImportGraph) -> None:
    assert not sorted(layered_modules() - graph.modules)


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Each import that the imported module leads back from, as the loop it closes."""
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append((importer, *back))
    return cycles


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert import_cycles(graph) == []


def test_import_cycles_are_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="a.b")
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a")
    graph.add_import(importer="a.c", imported="a.d")
    assert import_cycles(graph) == [
        ("a", "a.b", "a.c", "a"),
        ("a.b", "a.c", "a", "a.b"),
        ("a.c", "a", "a.b", "a.c"),
    ]
