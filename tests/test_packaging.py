"""The distribution maps every project folder into the one ``ledgerlab`` package."""

from __future__ import annotations

import os
import subprocess
import sys
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


_BLAS_PROBE = (
    "import os, sys, ledgerlab.__main__ as m\n"
    "sys.argv = ['ledgerlab', '--version']\n"
    "try:\n"
    "    m.main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(os.environ['OPENBLAS_NUM_THREADS'], 'numpy' in sys.modules)\n"
)


def test_the_command_runs_with_one_blas_thread_unless_told_otherwise() -> None:
    """The ``ledgerlab`` command is ``ledgerlab.__main__:main``, which picks one BLAS
    thread before numpy loads, and leaves a value the caller set alone."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["ledgerlab"] == "ledgerlab.__main__:main"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",)}
    for preset, expected in ((None, "1"), ("3", "3")):
        if preset is not None:
            env["OPENBLAS_NUM_THREADS"] = preset
        out = subprocess.run(
            [sys.executable, "-c", _BLAS_PROBE], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[-2:] == [expected, "True"]
    version = subprocess.run(
        [sys.executable, "-m", "ledgerlab", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("ledgerlab ")
