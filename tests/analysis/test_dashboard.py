"""The run dashboard and the figures it is made of (``analysis.plots``, ``analysis.style``):
panels that answer one question each, left out when they do not apply, calendar time,
units, and the sweep figures (fan, benefit vs cost)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from ledgerlab.analysis import plots
from ledgerlab.analysis.dashboard import DashboardError, dashboard_figure, plot_dashboard
from ledgerlab.analysis.style import PowerOfTenFormatter, human, time_axis
from ledgerlab.sim.run import RunResult, run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = {"population.providers": 15, "population.consumers": 10}


@pytest.fixture(scope="module")
def honest() -> RunResult:
    return run("baseline", epochs=12, overrides=SMALL, progress=False)


@pytest.fixture(scope="module")
def attacked() -> RunResult:
    defended = {**SMALL, "defenses": [{"kind": "dedup"}, {"kind": "stake_slash"}]}
    return run("antifarming_world", epochs=12, overrides=defended, progress=False)


def _titles(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]


def test_honest_run_leaves_out_adversary_and_defence_panels(honest: RunResult) -> None:
    fig = dashboard_figure(honest)
    titles = " | ".join(_titles(fig))
    assert "Is supply inflating?" in titles and "What moved the price?" in titles
    for question in ("Who was paid?", "What did the attack cost", "What did the defences"):
        assert question not in titles
    assert "engine retrieval" in fig._suptitle.get_text()  # the title names engine, defences
    labels = {ax.get_xlabel() for ax in fig.axes}
    assert "days since launch" in labels and not any("epoch" in label for label in labels)


def test_attacked_defended_run_shows_who_was_paid_and_the_defences(attacked: RunResult) -> None:
    fig = dashboard_figure(attacked)
    titles = " | ".join(_titles(fig))
    for question in ("Who was paid?", "What did the attack cost", "What did the defences"):
        assert question in titles
    assert "dedup, stake_slash" in fig._suptitle.get_text()


def test_rewards_are_shares_in_per_cent_with_totals_in_the_legend(attacked: RunResult) -> None:
    fig = plots.rewards(attacked)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50 %"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels and all(" % (" in label and label.endswith("tokens)") for label in labels)


def test_inflation_axis_starts_at_zero(honest: RunResult) -> None:
    fig = plots.supply(honest)
    inflation = fig.axes[2]
    assert inflation.get_ylim()[0] <= 0.0
    assert "%/year" in inflation.get_ylabel()


def test_reward_vs_value_is_log_log_with_the_fair_diagonal(attacked: RunResult) -> None:
    ax = plots.reward_vs_value(attacked).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "fair reward" in ax.get_xlabel() and "tokens" in ax.get_ylabel()


def test_log_axes_label_powers_of_ten_in_plain_text(attacked: RunResult) -> None:
    """10ⁿ in superscript digits, not mathtext (whose parser is set up on a process's
    first dashboard); other ticks in compact numbers."""
    fmt = PowerOfTenFormatter()
    assert [fmt(v) for v in (1e-3, 1.0, 1e4, 2e3, 0.0)] == ["10⁻³", "10⁰", "10⁴", "2k", ""]
    fig = plots.reward_vs_value(attacked)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert any(label.startswith("10") for label in labels)
    assert not any("$" in label for label in labels)


def test_a_panel_that_does_not_apply_is_refused_with_a_reason(honest: RunResult) -> None:
    with pytest.raises(plots.PlotError, match="does not apply"):
        plots.defences(honest)


def test_png_is_written_and_drawn(honest: RunResult, tmp_path: Path) -> None:
    out = plot_dashboard(honest, tmp_path / "dashboard.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    image = imread(out)
    inked = (image[:, :, :3] < 0.9).any(axis=2).mean()
    assert 0.02 < inked < 0.6


def test_several_runs_need_a_run_id(honest: RunResult, attacked: RunResult) -> None:
    both = pd.concat([honest.timeseries, attacked.timeseries.assign(run_id="other")])
    with pytest.raises(DashboardError, match="holds 2 runs"):
        dashboard_figure(both)
    assert dashboard_figure(both, run_id="other")


def test_missing_folder_is_a_clear_error(honest: RunResult, tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match="does not exist"):
        plot_dashboard(honest, tmp_path / "nope" / "d.png")


def test_compact_numbers_round_before_choosing_the_unit() -> None:
    assert human(999_999_000) == "1B"
    assert human(187_432) == "187k"
    assert human(-3.2e6) == "-3.2M"
    assert human(float("nan")) == "n/a"


@pytest.mark.parametrize(
    ("epochs", "epoch_days", "unit"),
    [
        (30, 1.0, "days"),
        (365, 1.0, "months"),
        (150, 30.4375, "years"),
        (60, 30.4375, "months"),
        (50, None, "epochs"),
    ],
)
def test_time_axis_is_calendar_time(epochs: int, epoch_days: float | None, unit: str) -> None:
    axis = time_axis(epochs, epoch_days)
    assert axis.unit == unit
    if epoch_days:
        assert axis(np.array([epochs - 1]))[0] > 0


def _sweep_like(groups: int) -> object:
    rows = [
        {"run_id": f"{g}-r{r}", "variant": f"v{g}", "epoch": e, "accuracy": 0.5 + 0.01 * g + r}
        for g in range(groups)
        for r in range(3)
        for e in range(5)
    ]

    class Loaded:
        timeseries = pd.DataFrame(rows)

    return Loaded()


def test_fan_puts_few_variants_in_one_panel_and_many_in_small_multiples() -> None:
    assert len(plots.fan(_sweep_like(3), "accuracy").axes) == 1
    many = plots.fan(_sweep_like(6), "accuracy", epoch_days=1.0)
    assert sum(ax.get_visible() for ax in many.axes) == 6
    assert "%" in many.axes[0].yaxis.get_major_formatter()(0.5, 0)


def test_benefit_cost_needs_both_metrics() -> None:
    table = pd.DataFrame(
        {
            "metric": ["excess_share"] * 2 + ["honest_provider_net_usd"] * 2,
            "variant": ["none", "dedup"] * 2,
            "reference": "none",
            "diff": [0.0, -0.2, 0.0, 500.0],
            "ci_low": [0.0, -0.25, 0.0, 300.0],
            "ci_high": [0.0, -0.15, 0.0, 700.0],
            "verdict": ["reference", "lower (better)", "reference", "higher (better)"],
        }
    )
    ax = plots.benefit_cost(table).axes[0]
    x, y = ax.lines[0].get_xydata()[0] if ax.lines else (None, None)
    assert "excess share removed" in ax.get_ylabel()
    assert (x, y) == (-500.0, pytest.approx(20.0))
    with pytest.raises(plots.PlotError, match="no metric 'excess_share'"):
        plots.benefit_cost(table[table["metric"] != "excess_share"])
