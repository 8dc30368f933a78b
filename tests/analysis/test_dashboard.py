"""Tests for analysis.dashboard: the six-panel run dashboard (what each panel draws, how
missing and all-NaN columns are reported, the written PNG, and the errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.collections import PolyCollection
from matplotlib.image import imread

from ledgerlab.analysis.dashboard import PANELS, DashboardError, dashboard_figure, plot_dashboard

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL_COLUMNS = sorted({c for cols in PANELS.values() for c in cols})
GT_EPOCHS = np.array([0, 10, 20, 30, 39])


def _timeseries(epochs: int = 40) -> pd.DataFrame:
    """A deterministic one-run timeseries with every dashboard column."""
    t = np.arange(epochs, dtype=np.float64)
    fairness = np.full(epochs, np.nan)
    gt = GT_EPOCHS[GT_EPOCHS < epochs]
    frame = pd.DataFrame(
        {
            "run_id": "demo",
            "seed": 3,
            "epoch": t.astype(np.int64),
            "circulating_tokens": 2e8 + 1e6 * t,
            "locked_tokens": 8e8 - 1e6 * t,
            "burned_tokens": 10.0 * t,
            "circulating_inflation_annualised": np.full(epochs, 0.5),
            "price_usd": 0.5 + 0.01 * t,
            "market_cap_usd": (0.5 + 0.01 * t) * (2e8 + 1e6 * t),
            "reward_providers_tokens": np.full(epochs, 300.0),
            "reward_farmers_tokens": np.full(epochs, 150.0),
            "reward_wash_tokens": np.full(epochs, 40.0),
            "reward_poisoners_tokens": np.full(epochs, 10.0),
            "accuracy": np.full(epochs, 0.6),
            "accuracy_honest_only": np.full(epochs, 0.65),
            "attack_success": np.full(epochs, 0.2),
            "active_providers": 100.0 + t,
            "active_farmers": np.full(epochs, 20.0),
            "active_wash": np.full(epochs, 5.0),
            "active_poisoners": np.full(epochs, 3.0),
        }
    )
    for column, value in (("spearman", 0.4), ("adversary_capture", 2.0)):
        col = fairness.copy()
        col[gt] = value
        frame[column] = col
    gap = fairness.copy()
    gap[gt] = 0.3
    frame["proportionality_gap"] = gap
    return frame


def _panel_texts(ax) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(t.get_text() for t in ax.texts)


def _labels(fig, index: int) -> list[str]:  # type: ignore[no-untyped-def]
    legend = fig.axes[index].get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_png_is_written_readable_and_drawn(tmp_path: Path) -> None:
    out = plot_dashboard(_timeseries(), tmp_path / "dashboard.png")
    assert out == tmp_path / "dashboard.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    image = imread(out)
    assert image.shape[:2] == (1650, 1650)
    # Not a blank canvas, not a solid block: lines, areas and text on a white background.
    inked = (image[:, :, :3] < 0.9).any(axis=2).mean()
    assert 0.03 < inked < 0.6
    colours = image[::7, ::7, :3].reshape(-1, 3) @ np.array([1.0, 256.0, 65536.0])
    assert np.unique(colours).size > 50


def test_every_panel_draws_its_columns_with_final_values() -> None:
    fig = dashboard_figure(_timeseries())
    titles = [ax.get_title(loc="left") for ax in fig.axes[:6]]
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)"]
    assert fig._suptitle.get_text() == "demo · seed 3 · 40 epochs"
    supply = _labels(fig, 0)
    assert supply[:3] == ["circulating: 239M", "locked: 761M", "burned (cumulative): 390"]
    assert supply[3] == "inflation, annualised (mean 50%/yr)"
    assert _labels(fig, 1) == ["price: 0.89 USD", "market cap: 213M USD"]
    # 40 epochs x (300 + 150 + 40 + 10) tokens
    assert _labels(fig, 2) == [
        "providers: 12k total",
        "farmers: 6k total",
        "wash: 1.6k total",
        "poisoners: 400 total",
    ]
    assert _labels(fig, 4) == [
        "clean accuracy: 60%",
        "honest-only accuracy: 65%",
        "backdoor attack success: 20%",
    ]
    assert _labels(fig, 5) == ["providers: 139", "farmers: 20", "wash: 5", "poisoners: 3"]
    for ax in fig.axes[:6]:
        assert "no data" not in _panel_texts(ax)
        assert "not recorded" not in _panel_texts(ax)


def test_rewards_are_stacked_to_the_epoch_total() -> None:
    fig = dashboard_figure(_timeseries())
    areas = [c for c in fig.axes[2].collections if isinstance(c, PolyCollection)]
    assert len(areas) == 4
    top = max(float(p.vertices[:, 1].max()) for c in areas for p in c.get_paths())
    assert top == pytest.approx(500.0)


def test_rewards_of_multi_epoch_rows_are_drawn_per_epoch() -> None:
    """Rows every 4 epochs (collect.metrics_every_epochs) hold 4 epochs of rewards."""
    frame = _timeseries().iloc[::4].copy()
    for col in PANELS["rewards"]:
        frame[col] = frame[col] * 4.0
    frame.iloc[0, frame.columns.get_indexer(list(PANELS["rewards"]))] /= 4.0  # epoch 0: one
    fig = dashboard_figure(frame)
    areas = [c for c in fig.axes[2].collections if isinstance(c, PolyCollection)]
    top = max(float(p.vertices[:, 1].max()) for c in areas for p in c.get_paths())
    assert top == pytest.approx(500.0)
    legend = " ".join(t.get_text() for t in fig.axes[2].get_legend().get_texts())
    assert "providers: 11.1k total" in legend  # 300 + 9 rows x 4 epochs x 300


def test_negative_rewards_fall_back_to_lines() -> None:
    frame = _timeseries()
    frame.loc[3, "reward_wash_tokens"] = -5.0
    fig = dashboard_figure(frame)
    assert not [c for c in fig.axes[2].collections if isinstance(c, PolyCollection)]
    assert len(fig.axes[2].get_lines()) == 4


def test_fairness_draws_only_measured_epochs_with_markers() -> None:
    fig = dashboard_figure(_timeseries())
    left = fig.axes[3]
    lines = [ln for ln in left.get_lines() if ln.get_label().startswith(("Spearman", "prop"))]
    assert len(lines) == 2
    for line in lines:
        np.testing.assert_array_equal(line.get_xdata(), GT_EPOCHS)
        assert line.get_marker() == "o"
    capture = [
        ln
        for ax in fig.axes[6:]
        for ln in ax.get_lines()
        if ln.get_label().startswith("adversary capture")
    ]
    assert len(capture) == 1
    np.testing.assert_array_equal(capture[0].get_xdata(), GT_EPOCHS)
    np.testing.assert_array_equal(capture[0].get_ydata(), np.full(5, 2.0))


def test_missing_and_all_nan_columns_are_noted_in_their_panel() -> None:
    frame = _timeseries().drop(columns=["locked_tokens", "reward_wash_tokens", "market_cap_usd"])
    frame["attack_success"] = np.nan
    frame["spearman"] = np.nan
    fig = dashboard_figure(frame)
    assert "not recorded: locked_tokens" in _panel_texts(fig.axes[0])
    assert "not recorded: market_cap_usd" in _panel_texts(fig.axes[1])
    assert "not recorded: reward_wash_tokens" in _panel_texts(fig.axes[2])
    assert "no values: spearman" in _panel_texts(fig.axes[3])
    assert "no values: attack_success" in _panel_texts(fig.axes[4])
    assert len(_labels(fig, 2)) == 3  # the other three roles are still drawn
    assert _panel_texts(fig.axes[5]) == ""


def test_panel_without_any_data_says_so() -> None:
    frame = _timeseries()[["epoch", "price_usd"]].copy()
    fig = dashboard_figure(frame, title="only price")
    assert fig._suptitle.get_text() == "only price"
    assert "no data" not in _panel_texts(fig.axes[1])
    for index in (0, 2, 3, 4, 5):
        text = _panel_texts(fig.axes[index])
        assert text.startswith("no data to show")
        assert "not recorded" in text


def test_empty_frame_and_frame_without_epoch_column(tmp_path: Path) -> None:
    out = plot_dashboard(pd.DataFrame(), tmp_path / "empty.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    frame = _timeseries().drop(columns=["epoch", "run_id", "seed"])
    fig = dashboard_figure(frame)
    assert fig.axes[0].get_xlabel() == "epoch (row number)"
    assert fig._suptitle.get_text() == "40 epochs"


def test_inflation_spike_is_clipped_and_noted() -> None:
    frame = _timeseries()
    frame.loc[20, "circulating_inflation_annualised"] = 40.0  # a one-epoch unlock spike
    fig = dashboard_figure(frame)
    twin = next(ax for ax in fig.axes[6:] if ax.get_ylabel().startswith("circulating inflation"))
    assert twin.get_ylim()[1] == pytest.approx(1.0)  # 2 x the 95th percentile (0.5)
    assert "spikes up to 4000%/yr clipped" in _panel_texts(twin)


def test_several_runs_are_refused() -> None:
    both = pd.concat([_timeseries(), _timeseries().assign(run_id="other")])
    with pytest.raises(DashboardError, match=r"holds 2 runs \(demo, other\)"):
        dashboard_figure(both)


def test_bad_inputs_raise_dashboard_errors(tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match="must be a pandas DataFrame, got dict"):
        dashboard_figure({"epoch": [0, 1]})  # type: ignore[arg-type]
    with pytest.raises(DashboardError, match="cannot write"):
        plot_dashboard(_timeseries(5), tmp_path / "missing-folder" / "d.png")
    assert issubclass(DashboardError, ValueError)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    keep=st.lists(st.sampled_from(ALL_COLUMNS), unique=True),
    epochs=st.integers(0, 30),
    nan_fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_subset_of_columns_with_gaps_draws(
    keep: list[str], epochs: int, nan_fraction: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    data = {"epoch": np.arange(epochs)}
    for column in keep:
        values = rng.normal(1.0, 0.5, epochs)
        values[rng.random(epochs) < nan_fraction] = np.nan
        data[column] = values
    fig = dashboard_figure(pd.DataFrame(data))
    for name, ax in zip(PANELS, fig.axes[:6], strict=True):
        text = _panel_texts(ax)
        drawn = [c for c in PANELS[name] if c in keep and np.isfinite(data[c]).any()]
        skipped = [c for c in PANELS[name] if c not in drawn]
        assert text.startswith("no data to show") == (not drawn)
        for column in skipped:
            assert column in text
