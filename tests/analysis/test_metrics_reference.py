"""docs/metrics.md: generated from the KPI registry, fresh, and covering every output."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledgerlab
from ledgerlab.analysis.cli import app
from ledgerlab.analysis.metrics_reference import markdown_metrics
from ledgerlab.sim import defenses
from ledgerlab.sim import kpis as K

ROOT = Path(__file__).resolve().parents[2]


def test_docs_metrics_md_is_generated_from_the_registry() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    if committed != markdown_metrics():
        pytest.fail("docs/metrics.md is stale: regenerate it with `make docs`")


def test_every_column_is_documented_once() -> None:
    doc = markdown_metrics()
    for name in K.KPI_NAMES:
        assert doc.count(f"| `{name}` |") == 1, name


def documented_summary_keys() -> set[str]:
    keys = set(K.SUMMARY_EXTRAS) | {"run_id"}
    for k in K.KPIS:
        keys.add({"total": f"total_{k.name}", "mean": f"{k.name}_mean"}.get(str(k.summary), k.name))
    return keys | set(defenses.KPI_NAMES)


def test_every_summary_entry_of_an_adversarial_run_is_documented() -> None:
    result = ledgerlab.run("antifarming_world", epochs=3)
    missing = set(result.summary) - documented_summary_keys()
    assert not missing, f"summary entries missing from docs/metrics.md: {sorted(missing)}"


def test_ratio_columns_say_when_they_are_nan() -> None:
    """A share or ratio that can be undefined must say when (the reader meets the NaN)."""
    ratio = ("_share", "_rate", "capture", "_ratio", "_gap", "inflation", "_annualised")
    ratios = [k for k in K.KPIS if k.name.endswith(ratio) or k.name.startswith(("spearman",
              "kendall", "real_yield", "emission_to_"))]  # fmt: skip
    assert len(ratios) > 20
    silent = [k.name for k in ratios if "NaN" not in k.description]
    assert not silent, f"ratio columns that do not say when they are NaN: {silent}"


def test_metrics_command_lists_every_column() -> None:
    result = CliRunner().invoke(app, ["metrics"])
    assert result.exit_code == 0
    for name in ("excess_share", "overpayment_usd", "price_usd"):
        assert name in result.stdout
