"""The rules of the rooms (docs/architecture.md): phases hand data on only through the
epoch's flows, role sets never hold the model to act on it, imports flow
``analysis → sim → agents → economics``, and the model never branches on an engine name."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from ledgerlab.sim.model import EconomyModel
from tests.conftest import ROOT

Factory = Callable[..., EconomyModel]


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, including under ``if TYPE_CHECKING``."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_no_attribute_is_created_outside_init(tiny: Factory) -> None:
    model = tiny(None, epochs=3, population__farmers__wash=2, defenses=[{"kind": "stake_slash"}])
    names = set(vars(model))
    for _ in range(3):
        model.step()
        assert set(vars(model)) == names


LAZY_UPWARD_IMPORTS = {"sim/sweep.py": {"ledgerlab.analysis.results"}}
"""Known exceptions: ``Sweep.load`` returns the analysis layer's results (imported inside
the method, for type checking only at module level)."""


@pytest.mark.parametrize(
    ("folder", "allowed", "forbidden"),
    [
        ("economics", ("ledgerlab.economics",), ("ledgerlab.",)),
        ("agents", (), ("ledgerlab.sim", "ledgerlab.analysis")),
        ("sim", (), ("ledgerlab.analysis",)),
    ],
)
def test_imports_flow_one_way(
    folder: str, allowed: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    for path in _modules(folder):
        where = str(path.relative_to(ROOT))
        imported = _imports(path) - LAZY_UPWARD_IMPORTS.get(where, set())
        bad = {m for m in imported if m.startswith(forbidden) and not m.startswith(allowed)}
        assert not bad, f"{where} imports {sorted(bad)}"


def test_role_sets_act_on_what_they_are_given_not_on_the_model() -> None:
    """No role set (a ``*Set`` class) reads ``self.model``: what it acts on is given to it
    (the account registry, the market, the builders it colludes with)."""
    for path in _modules("agents"):
        for cls in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(cls, ast.ClassDef) and cls.name.endswith("Set")):
                continue
            for node in ast.walk(cls):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("model", "model_")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                ):
                    pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} reaches for the model")


def test_the_model_does_not_branch_on_engine_names() -> None:
    for path in _modules("sim"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Attribute) and s.attr == "engine" for s in sides)
            literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides)
            assert not (named and literal), f"{path.relative_to(ROOT)}:{node.lineno}"
