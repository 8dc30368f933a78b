"""The distribution maps every project folder into the one ``ledgerlab`` package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ledgerlab

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("economics", "agents", "sim", "scenarios", "analysis")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_under_ledgerlab() -> None:
    listed = set(_setuptools()["packages"])
    found = {"ledgerlab"}
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            found.add(".".join(("ledgerlab", *rel)))
    assert found == listed, f"pyproject.toml packages differ: missing {found - listed}"


def test_each_folder_maps_to_its_ledgerlab_name() -> None:
    mapping = _setuptools()["package-dir"]
    assert mapping == {"ledgerlab": "ledgerlab", **{f"ledgerlab.{f}": f for f in FOLDERS}}


def test_public_door() -> None:
    for name in ("run", "load", "load_scenario", "Scenario", "compare", "__version__"):
        assert hasattr(ledgerlab, name), name
    assert ledgerlab.load_scenario("baseline").name == "baseline"
    assert ledgerlab.__version__ != "0+unknown"
