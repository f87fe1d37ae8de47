"""The layers of pyproject.toml's import-linter contracts cover every module, with no cycle.

`lint-imports` (run by `make test`) checks the imports between the layers it is
told about; these tests make sure it is told about every module, and that no
module reaches back to itself through a package it belongs to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def below_the_pipeline() -> set[str]:
    """Every module outside ingest/ in a layer of feedsvc's contract below ingest.probe."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c.get("containers") == ["feedsvc"])["layers"]
    lower = layers[layers.index("ingest.probe") + 1 :]
    tails = {tail.strip() for layer in lower for tail in layer.split("|")}
    return {f"feedsvc.{tail}" for tail in tails if not tail.startswith("ingest.")}


def test_the_pipeline_contract_names_every_module_below_it() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("forbidden_modules") == ["feedsvc.ingest"]]
    assert set(contract["source_modules"]) == below_the_pipeline()


def test_a_service_importing_from_the_pipeline_breaks_the_contract(tmp_path: Path) -> None:
    """The contract can fail: a copy of the package whose rules service reaches into ingest/."""
    package = tmp_path / "feedsvc"
    shutil.copytree(PYPROJECT.parent / "feedsvc", package)
    with (package / "rules.py").open("a") as rules:
        rules.write("\nfrom feedsvc.ingest import plan  # noqa\n")
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None
    result = subprocess.run(
        [lint, "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert "feedsvc.rules -> feedsvc.ingest.plan" in result.stdout
