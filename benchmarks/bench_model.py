"""Benchmark: the economy model's speed — vectorised role sets vs one Mesa agent per
individual, the model at 100,000 individuals, the baseline year, the cost of the eight
defences and of an epoch with nothing to do.

Why: the design keeps each role as an array-backed role set (DESIGN.md, "Performance
model"); this measures what that buys and whether the model meets its performance
targets, printed as one table with PASS/FAIL per target, then one ``TARGET <n>: ...``
summary line per target of issue 15 (``make bench`` collects them). Verdicts on time are
on CPU seconds of this process, pinned to one core: other work on a shared machine
stretches wall time, not CPU time (wall time is printed beside them).

1. **reference** (issue 4, section 7; issue 15) — the consumer role, vectorised
   (:meth:`agents.consumers.ConsumerSet.demand`, plus recording each consumer's
   inferences and spend and the inferences per model) vs the per-individual reference of
   ``benchmarks/reference_consumers.py`` (one ``mesa.Agent`` per consumer, run with
   ``shuffle_do("step")``), on the same consumers of the baseline scenario (rates and
   budgets of a built :class:`~sim.model.EconomyModel`) facing the same market (its
   trained builders' accuracies and prices), for the same number of epochs, in the same
   run. The >= 200x target is retired (issue 15: the random draws alone cost more): the
   ratio is printed, and so is how close the vectorised step is to its floor, the time of
   the random draws it needs measured alone. Both paths must produce statistically equal
   demand: paired z-scores over consumers, z = sum(D) / sqrt(sum(D^2)) with D the
   difference of each consumer's total inferences (and of its spend at list prices,
   which depends on its split over the models), and per model the z of the two totals,
   must stay within ``Z_MAX``. The full ``EconomyModel``'s epochs/second at that consumer
   count is printed for context (no target).
2. **scale** (issue 15, target 4) — 100,000 individuals x 1,000 epochs (80 % consumers,
   15 % providers, a few thousand farmers and poisoners, 8 builders, 32 validators;
   submission rates giving a few hundred points per epoch; a 10,000-point training
   window; the retrieval trail every 7 epochs; ground truth every 100 epochs; snapshots
   only at the end; chain on; churn exits on but no newcomers unless ``--entry-rate``, so
   the population stays at most 100,000). Targets: CPU time <= 30 s on one core and peak
   RSS (``ru_maxrss``, the whole process) <= 1 GiB.
3. **baseline** (issue 15, target 1) — ``scenarios/baseline.yaml`` as shipped (its own
   seed, 365 epochs): model setup plus every epoch, outputs not written. Target: CPU
   time <= ``TARGET_BASELINE_S``; the same scenario with the retrieval trail simulated
   every epoch (the sampling before issue 15) runs after it for the ratio.
4. **defences** (issue 5, section 5) — the baseline scenario with all eight defences vs
   none, timed epoch by epoch in alternating blocks so load on a shared machine hits
   both alike. Target: mean epoch time with defences <= 1.5x without.
5. **empty** (issue 15, target 3) — an epoch of a world of 10,000 holders and no other
   role, no datanet, no sell rule, order flow, emission or chain: its fixed cost, per
   phase too. Target: <= ``TARGET_EMPTY_US`` microseconds of CPU per epoch.

Run: ``python benchmarks/bench_model.py [--quick] [--sections scale reference baseline
defences empty] [--individuals 100000] [--epochs 1000] [--baseline-epochs 365]
[--profile 25] [--strict]`` (several minutes at the default sizes). ``--quick`` shrinks
every size so the run takes seconds (its PASS/FAIL lines are then informational). The
process, BLAS threads included, is pinned to one CPU core (``--all-cores`` to skip), with
one BLAS thread when run as a script. The scale section runs first so the peak RSS it
reports is its own; ``--profile N`` prints its top N cProfile rows.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread-count variables of the BLAS libraries numpy may use."""
if __name__ == "__main__" and "--all-cores" not in sys.argv:
    # One core means one BLAS thread: OpenBLAS threads sharing one pinned core spin
    # against each other (the baseline year took 12.9 s instead of 8.4 s). The variables
    # only take effect before numpy loads, so this runs before the imports below.
    for _var in BLAS_THREAD_VARS:
        os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from ledgerlab.scenarios import Scenario, apply_overrides, load  # noqa: E402
from ledgerlab.sim.defenses import KINDS  # noqa: E402
from ledgerlab.sim.model import EconomyModel  # noqa: E402

try:  # run as a script: benchmarks/ is on sys.path
    from reference_consumers import ReferenceConsumerModel
except ModuleNotFoundError:  # imported as benchmarks.bench_model (the smoke test)
    from benchmarks.reference_consumers import ReferenceConsumerModel

SEED = 20_250_401  # fixed: the same populations and draws on every run
TARGET_RATIO = 200.0  # vectorised / reference epochs per second (retired by issue 15: shown)
TARGET_SCALE_S = 30.0  # CPU seconds of the scale run on one core, at most (issue 15)
TARGET_SCALE_BYTES = 1 << 30  # peak RSS of the scale run, at most (1 GiB; issue 15)
TARGET_BASELINE_S = 2.5  # CPU seconds of the baseline year's simulation, at most (issue 15)
TARGET_EMPTY_US = 50.0  # CPU microseconds of an epoch with only 10,000 holders, at most
EMPTY_HOLDERS = 10_000  # holders of the empty-epoch world (individuals)
TARGET_DEFENCE_RATIO = 1.5  # epoch time with all eight defences / without, at most
Z_MAX = 4.0  # |paired z| above which vectorised and reference demand differ
DEFENCE_BLOCK_EPOCHS = 5  # epochs per alternating timing block of the defence section

SECTIONS = ("scale", "reference", "baseline", "defences", "empty")
"""Sections in the order they run."""


@dataclass(frozen=True)
class Sizes:
    """Sizes of one bench run.

    Attributes:
        consumers: Consumer counts of the reference comparison (individuals each).
        reference_epochs: Epochs both consumer paths run at each count (epochs).
        individuals: Individuals of the scale run (individuals).
        scale_epochs: Epochs of the scale run (epochs).
        defence_epochs: Epochs of each defence run, on and off (epochs).
        baseline_epochs: Epochs of the baseline run; None = the scenario's own (epochs).
        empty_epochs: Timed epochs of the holders-only world (epochs).
    """

    consumers: tuple[int, ...] = (2_000, 20_000)
    reference_epochs: int = 20
    individuals: int = 100_000
    scale_epochs: int = 1_000
    defence_epochs: int = 100
    baseline_epochs: int | None = None
    empty_epochs: int = 500


FULL = Sizes()
"""The issues' sizes."""

QUICK = Sizes(
    consumers=(300, 1_500),
    reference_epochs=5,
    individuals=5_000,
    scale_epochs=30,
    defence_epochs=10,
    baseline_epochs=20,
    empty_epochs=30,
)
"""Seconds-long sizes for a smoke run."""


class BenchError(ValueError):
    """A bench size or option is out of range."""


# ------------------------------------------------------------------------ 1. reference


def consumer_market(
    consumers: int, seed: int = SEED
) -> tuple[EconomyModel, np.ndarray, np.ndarray]:
    """The baseline economy with ``consumers`` consumers (consumer adoption off, so none
    arrives or leaves), stepped one epoch so every builder has trained, and the market its
    consumers face.

    Returns ``(model, accuracy, price_usd)``: per builder, the clean accuracy of its model
    (fraction; ``-inf`` if untrained) and the price of one inference (USD/inference), as
    ``sim.phases.consume.serve_inferences`` computes them.
    """
    if consumers < 1:
        raise BenchError(f"consumer_market: consumers must be >= 1, got {consumers}")
    model = EconomyModel(
        None, seed=seed, population__consumers=consumers, population__adoption__enabled=False
    )
    model.step()
    b = model.roles.builders
    fee_tokens = model.pricing.fee_tokens[b.cols.datanet] * b.cols.price_factor
    accuracy = np.where(b.cols.trained_epoch >= 0, b.cols.accuracy, -np.inf)
    return model, accuracy, fee_tokens * model.exchange.price_usd


def paired_z(a: np.ndarray, b: np.ndarray) -> float:
    """z-score of sum(a - b) for independent paired draws with equal means under the null:
    sum(D) / sqrt(sum(D^2)), D = a - b elementwise (0 when every pair is equal)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    ss = float(np.sum(d * d))
    return 0.0 if ss == 0.0 else float(d.sum() / np.sqrt(ss))


def compare_reference(consumers: int, epochs: int, seed: int = SEED) -> dict[str, Any]:
    """Time the vectorised consumer role and the per-individual reference on the same
    consumers and market for ``epochs`` epochs each, and test their demand is equal.

    Returns a dict: ``consumers``, ``epochs``, ``n_models``, ``vectorised_s`` /
    ``reference_s`` (seconds for all epochs), ``floor_s`` (seconds of the random draws
    the vectorised step needs, alone) and ``floor_ratio`` (vectorised / floor),
    ``vectorised_eps`` / ``reference_eps``
    (epochs/second), ``ratio`` (vectorised / reference epochs/second), ``mean_vectorised``
    / ``mean_reference`` (inferences per consumer-epoch), ``se_diff`` (standard error of
    their difference), ``z_total`` (paired z of per-consumer totals), ``z_spend`` (paired z
    of per-consumer spend), ``z_models`` (largest |z| of the per-model totals), ``equal``
    (all three |z| <= ``Z_MAX``),
    ``model_eps`` (full ``EconomyModel`` epochs/second at this consumer count) and
    ``passed`` (ratio >= target).
    """
    if epochs < 1:
        raise BenchError(f"compare_reference: epochs must be >= 1, got {epochs}")
    model, accuracy, price_usd = consumer_market(consumers, seed)
    cs = model.roles.consumers
    params = cs.params
    rows = cs.active_rows()
    rng_vec, rng_ref = (
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(2)
    )

    # (a) vectorised: ConsumerSet.demand, then record each consumer's inferences.
    before = cs.cols.inferences.copy()
    spent = np.zeros(rows.size)
    by_model = np.zeros(accuracy.size, dtype=np.int64)
    t0 = time.perf_counter()
    for _ in range(epochs):
        dem = cs.demand(rng_vec, accuracy, price_usd)
        cs.cols.inferences[dem.rows] += dem.inferences
        spent += dem.cost
        by_model += dem.by_model
    vec_s = time.perf_counter() - t0
    vec_total = (cs.cols.inferences - before)[rows]

    # (a') the floor: only the random draws the vectorised step needs (a Poisson count per
    # consumer, one float32 uniform per inference), on a stream of their own.
    rng_floor = np.random.Generator(np.random.PCG64(seed + 1))
    rate = cs.cols.rate[rows]
    t0 = time.perf_counter()
    for _ in range(epochs):
        wanted = rng_floor.poisson(rate)
        rng_floor.random(int(wanted.sum()), dtype=np.float32)
    floor_s = time.perf_counter() - t0

    # (b) per-individual reference on the same consumers and market.
    ref = ReferenceConsumerModel(
        cs.cols.rate[rows],
        cs.cols.budget_usd[rows],
        accuracy,
        price_usd,
        params.consumer_price_weight_per_usd,
        params.consumer_choice_temperature,
        rng_ref,
    )
    t0 = time.perf_counter()
    for _ in range(epochs):
        ref.step()
    ref_s = time.perf_counter() - t0
    ref_total = ref.inferences_per_consumer()
    ref_spent = ref.spent_per_consumer()

    n_obs = rows.size * epochs
    d = (vec_total - ref_total).astype(np.float64)
    z_spend = paired_z(spent, ref_spent)
    # Per model, over all consumers: two independent counts, variance at most their sum.
    both = by_model + ref.inferences_by_model
    z_models = float(
        np.max(
            np.abs(by_model - ref.inferences_by_model)[both > 0] / np.sqrt(both[both > 0]),
            initial=0.0,
        )
    )
    z_total = paired_z(vec_total, ref_total)

    # Context: the whole model's epoch loop at this consumer count.
    full = EconomyModel(
        None, seed=seed, population__consumers=consumers, population__adoption__enabled=False
    )
    t0 = time.perf_counter()
    for _ in range(epochs):
        full.step()
    model_s = time.perf_counter() - t0

    vec_eps = epochs / vec_s
    ref_eps = epochs / ref_s
    ratio = vec_eps / ref_eps
    return {
        "consumers": int(rows.size),
        "epochs": epochs,
        "n_models": int(accuracy.size),
        "vectorised_s": vec_s,
        "reference_s": ref_s,
        "floor_s": floor_s,
        "floor_ratio": vec_s / floor_s,
        "vectorised_eps": vec_eps,
        "reference_eps": ref_eps,
        "ratio": ratio,
        "mean_vectorised": float(vec_total.sum()) / n_obs,
        "mean_reference": float(ref_total.sum()) / n_obs,
        "se_diff": float(np.sqrt(np.sum(d * d))) / n_obs,
        "z_total": z_total,
        "z_models": z_models,
        "z_spend": z_spend,
        "equal": bool(abs(z_total) <= Z_MAX and abs(z_spend) <= Z_MAX and z_models <= Z_MAX),
        "model_eps": epochs / model_s,
        "passed": bool(ratio >= TARGET_RATIO),
    }


# ---------------------------------------------------------------------------- 2. scale


def scale_scenario(
    individuals: int = 100_000, epochs: int = 1_000, entry_rate_per_epoch: float = 0.0
) -> Scenario:
    """The baseline scenario grown to ``individuals`` individuals at launch (every role set
    counted, holders included), for ``epochs`` epochs.

    Mix: 15 % providers, 1 % each of duplicate farmers, near-duplicate farmers and sybil
    identities (operators of 100 identities each), 0.4 % wash consumers, 0.6 % label-flip,
    0.2 % backdoor and 0.3 % noise poisoners, 8 builders, 32 validators, consumers the rest
    (about 80 %). Submission rates (0.002 per provider, 0.005 per adversary, per epoch)
    keep new points in the hundreds per epoch at 100,000; models train on the latest
    10,000 points; the retrieval trail simulated every 7 epochs and on every retrain
    (attribution on its own cadence: in between, fees are credited in the proportions of
    each model's last trail); ground truth every 100 epochs; agent snapshots only after
    the last epoch; the chain settles every epoch.

    Churn stays on (individuals whose returns fall short leave), but newcomers arrive at
    ``entry_rate_per_epoch`` (fraction of a role's launch size per epoch; default 0) and
    consumers neither arrive nor leave by adoption (``population.adoption.enabled: false``)
    so the run measures ~``individuals`` individuals: with the baseline's entry rate and
    adoption, the population triples over 1,000 epochs. No counterfactual twin runs beside
    it (``counterfactuals: []``; what twins cost is measured by ``bench_twins.py``).
    """
    if individuals < 1_000:
        raise BenchError(
            f"scale_scenario: individuals must be >= 1000 (the fixed roles alone are ~70), "
            f"got {individuals}"
        )
    if epochs < 1:
        raise BenchError(f"scale_scenario: epochs must be >= 1, got {epochs}")
    base = Scenario()
    holders = sum(b.holders for b in base.tokenomics.vesting if b.recipient == "holders")
    n = individuals
    ids_per_op = 100
    ops = max(1, round(0.01 * n / ids_per_op))
    counts = {  # individuals of each role other than consumers and sybil farms
        "population.providers": round(0.15 * n),
        "population.builders": 8,
        "population.validators": 32,
        "population.farmers.duplicate": round(0.01 * n),
        "population.farmers.near_duplicate": round(0.01 * n),
        "population.farmers.wash": round(0.004 * n),
        "population.poisoners.label_flip": round(0.006 * n),
        "population.poisoners.backdoor": round(0.002 * n),
        "population.poisoners.noise": round(0.003 * n),
    }
    sybil_farms = ops * (1 + ids_per_op)  # each operator's wallet and its identities
    consumers = n - holders - sum(counts.values()) - sybil_farms
    if consumers < 1:
        raise BenchError(f"scale_scenario: individuals={n} leaves no room for consumers")
    return apply_overrides(
        base,
        {
            "name": "bench_scale",
            "epochs": epochs,
            **counts,
            "population.farmers.sybil_operators": ops,
            "population.farmers.identities_per_operator": ids_per_op,
            "population.consumers": consumers,
            "population.provider_submissions_per_epoch": 0.002,
            "population.farmers.submissions_per_epoch": 0.005,
            "population.poisoners.submissions_per_epoch": 0.005,
            "datanets.0.window_points": 10_000,
            "attribution.ground_truth.every_epochs": 100,
            "attribution.trail_every_epochs": 7,
            "collect.agent_snapshot_every_epochs": 0,
            "chain.enabled": True,
            "population.churn.entry_rate_per_epoch": entry_rate_per_epoch,
            "population.adoption.enabled": False,
            "counterfactuals": [],
        },
    )


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (bytes; ``ru_maxrss`` is KiB on
    Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_scale(
    individuals: int = 100_000,
    epochs: int = 1_000,
    seed: int = SEED,
    *,
    entry_rate_per_epoch: float = 0.0,
    profile_top: int = 0,
    progress_every: int = 0,
) -> dict[str, Any]:
    """Build and run :func:`scale_scenario` and measure it.

    Args:
        individuals: Individuals at launch (individuals).
        epochs: Epochs to run (epochs).
        seed: Scenario seed.
        entry_rate_per_epoch: Newcomers per epoch as a fraction of each role's launch
            size (fraction/epoch), see :func:`scale_scenario`.
        profile_top: If > 0, run under cProfile and keep this many rows of the profile,
            sorted by internal time and by cumulative time (rows).
        progress_every: If > 0, print elapsed seconds every this many epochs (epochs).

    Returns a dict: ``individuals`` (at launch, all role sets), ``active_end`` (active
    at the end; churn lets individuals leave and join), ``ever`` (every individual that
    took part), ``epochs``, ``setup_s``, ``run_s``, ``wall_s`` (setup + run), ``cpu_s``
    (process CPU seconds over the same span), ``peak_rss_bytes``, ``points_per_epoch``,
    ``points_first`` / ``points_last`` (mean submitted per epoch over all, the first 100
    and the last 100 epochs; points), ``stored_points`` (at the end),
    ``inferences_per_epoch`` (mean), ``passed_time``, ``passed_memory`` and ``profile``
    (text, empty unless profiled).
    """
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    model = EconomyModel(scale_scenario(individuals, epochs, entry_rate_per_epoch), seed=seed)
    setup_s = time.perf_counter() - t0
    built = int(sum(len(rs) for rs in model.roles.all))
    prof = cProfile.Profile() if profile_top > 0 else None
    t1 = time.perf_counter()
    if prof is not None:
        prof.enable()
    while model.running:
        model.step()
        if progress_every and model.epoch % progress_every == 0:
            print(
                f"  scale: epoch {model.epoch}/{epochs} after {time.perf_counter() - t1:.1f} s",
                flush=True,
            )
    if prof is not None:
        prof.disable()
    run_s = time.perf_counter() - t1
    cpu_s = _cpu_s() - cpu0
    peak = peak_rss_bytes()
    ts = model.timeseries()
    head = ts["points_submitted"].iloc[: min(100, len(ts))]
    tail = ts["points_submitted"].iloc[-min(100, len(ts)) :]
    text = ""
    if prof is not None:
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("tottime").print_stats(profile_top)
        stats.sort_stats("cumulative").print_stats(profile_top)
        text = buf.getvalue()
    wall_s = setup_s + run_s
    return {
        "individuals": built,
        "active_end": int(sum(rs.n_active for rs in model.roles.all)),
        "ever": int(sum(len(rs) for rs in model.roles.all)),
        "epochs": int(model.epoch),
        "setup_s": setup_s,
        "run_s": run_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "peak_rss_bytes": peak,
        "points_per_epoch": float(ts["points_submitted"].mean()),
        "points_first": float(head.mean()),
        "points_last": float(tail.mean()),
        "stored_points": int(sum(s.store.size for s in model.datanets)),
        "inferences_per_epoch": float(ts["inferences"].mean()),
        "passed_time": bool(cpu_s <= TARGET_SCALE_S),
        "passed_memory": bool(peak <= TARGET_SCALE_BYTES),
        "profile": text,
    }


# ------------------------------------------------------------------------- 3. defences


ALL_DEFENCES: tuple[dict[str, str], ...] = tuple({"kind": k} for k in KINDS)
"""Every defence kind with its default parameters."""


BASELINE_FILE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
"""The shipped baseline scenario."""


def _timed_run(scenario: Scenario) -> tuple[float, float, float]:
    """Build ``scenario`` and run every epoch: (setup wall s, epochs wall s, CPU s)."""
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    model = EconomyModel(scenario)
    t1 = time.perf_counter()
    while model.running:
        model.step()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, _cpu_s() - cpu0


def time_baseline(epochs: int | None = None, *, reference: bool = True) -> dict[str, Any]:
    """Build the shipped baseline scenario (its own seed) and run it, timing setup and
    epochs; with ``reference``, then the same scenario with the retrieval trail simulated
    every epoch (``attribution.trail_every_epochs: 1``, the sampling before issue 15) in
    the same run, for the ratio. ``epochs`` shortens the run (the target is then
    informational).

    Returns a dict: ``epochs``, ``full`` (the scenario's whole length was run),
    ``setup_s``, ``epochs_s``, ``wall_s``, ``cpu_s`` (seconds), ``ms_per_epoch``,
    ``reference_cpu_s`` / ``ratio`` (reference CPU / this CPU; NaN without a reference)
    and ``passed`` (CPU seconds <= ``TARGET_BASELINE_S``: the process is pinned to one
    core, and other work on a shared machine stretches wall time, not CPU time).
    """
    scenario = load(BASELINE_FILE)
    n = scenario.epochs if epochs is None else epochs
    if n < 1:
        raise BenchError(f"time_baseline: epochs must be >= 1, got {n}")
    full = n == scenario.epochs
    if not full:
        scenario = apply_overrides(scenario, {"epochs": n})
    setup_s, epochs_s, cpu_s = _timed_run(scenario)
    ref_cpu = np.nan
    if reference:
        per_epoch = apply_overrides(scenario, {"attribution.trail_every_epochs": 1})
        ref_cpu = _timed_run(per_epoch)[2]
    return {
        "epochs": n,
        "full": full,
        "setup_s": setup_s,
        "epochs_s": epochs_s,
        "wall_s": setup_s + epochs_s,
        "cpu_s": cpu_s,
        "ms_per_epoch": 1e3 * epochs_s / n,
        "reference_cpu_s": ref_cpu,
        "ratio": ref_cpu / cpu_s,
        "passed": bool(cpu_s <= TARGET_BASELINE_S),
    }


PHASES: dict[str, tuple[str, ...]] = {
    "market": ("unlock_and_trade",),
    "contribute": ("submit_and_screen",),
    "train": ("retrain",),
    "consume": ("serve_inferences",),
    "reward": ("attribute_and_pay",),
    "settle": ("settle_transactions",),
    "churn": ("churn_roles",),
    "collect": ("collect",),
}
"""The phase functions ``EconomyModel.step`` calls, by phase module (``sim.phases``)."""


def empty_scenario(holders: int = EMPTY_HOLDERS) -> Scenario:
    """``holders`` holders in one vesting bucket and no other role, no datanet: no data,
    no sell rules, no outside order flow, no emission drip and no chain — an epoch with
    nothing to do but its bookkeeping (issue 15, target 3)."""
    return apply_overrides(
        Scenario(),
        {
            "name": "bench_empty",
            "epochs": 100_000,
            "population.providers": 0,
            "population.builders": 0,
            "population.consumers": 0,
            "population.validators": 0,
            "population.churn.enabled": False,
            "datanets": [],
            "tokenomics.vesting": [
                {"name": "holders", "share": 0.95, "holders": holders, "tge_fraction": 1.0},
                {
                    "name": "liquidity",
                    "share": 0.05,
                    "tge_fraction": 1.0,
                    "recipient": "liquidity",
                    "holders": 0,
                },
            ],
            "tokenomics.emission": {"kind": "constant", "tokens_per_epoch": 0.0},
            "tokenomics.sell_policies": [],
            "market.order_flow.mean_usd_per_epoch": 0.0,
            "chain.enabled": False,
            "collect.agent_snapshot_every_epochs": 0,
        },
    )


def time_empty(epochs: int = 500, holders: int = EMPTY_HOLDERS) -> dict[str, Any]:
    """CPU microseconds per epoch of :func:`empty_scenario`, in total and per phase (each
    phase function wrapped with a timer; "model" is what ``step`` spends outside them).

    Returns a dict: ``holders``, ``epochs``, ``us_per_epoch``, ``phases_us`` (phase ->
    microseconds per epoch), ``passed`` (``us_per_epoch`` <= ``TARGET_EMPTY_US``) — or
    ``{"skipped": reason}`` when this tree cannot build that world yet.
    """
    import importlib

    try:
        model = EconomyModel(empty_scenario(holders))
    except ValueError as exc:  # a world this tree cannot build yet: reported, not hidden
        return {"skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    for _ in range(5):  # first epochs: caches, lazy imports
        model.step()
    spent: dict[str, float] = {}
    originals: list[tuple[Any, str, Any]] = []

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - c0

        return wrapper

    for phase, names in PHASES.items():
        module = importlib.import_module(f"ledgerlab.sim.phases.{phase}")
        for fname in names:
            if hasattr(module, fname):
                originals.append((module, fname, getattr(module, fname)))
                setattr(module, fname, timed(phase, getattr(module, fname)))
    try:
        c0 = time.process_time()
        for _ in range(epochs):
            model.step()
        total = time.process_time() - c0
    finally:
        for module, fname, fn in originals:
            setattr(module, fname, fn)
    # An untimed pass: the wrappers' own cost stays out of the verdict.
    c0 = time.process_time()
    for _ in range(epochs):
        model.step()
    bare = time.process_time() - c0
    phases = {k: 1e6 * v / epochs for k, v in spent.items()}
    phases["model"] = 1e6 * (total - sum(spent.values())) / epochs
    us = 1e6 * bare / epochs
    return {
        "holders": holders,
        "epochs": epochs,
        "us_per_epoch": us,
        "phases_us": phases,
        "passed": bool(us <= TARGET_EMPTY_US),
    }


def compare_defences(epochs: int = 100, seed: int = SEED) -> dict[str, Any]:
    """Mean epoch time of the baseline with all eight defences vs none.

    Both models step in alternating blocks of ``DEFENCE_BLOCK_EPOCHS`` epochs, each step
    timed on its own, so a load change on a shared machine affects both alike.

    Returns a dict: ``epochs``, ``off_ms`` / ``on_ms`` (mean milliseconds per epoch),
    ``ratio`` (on / off), ``points_rejected`` / ``defense_tx`` (totals with defences on:
    evidence the defences ran), ``kinds`` (the defences on) and ``passed``.
    """
    if epochs < 1:
        raise BenchError(f"compare_defences: epochs must be >= 1, got {epochs}")
    base = apply_overrides(Scenario(), {"epochs": epochs})
    models = {
        "off": EconomyModel(base, seed=seed),
        "on": EconomyModel(apply_overrides(base, {"defenses": list(ALL_DEFENCES)}), seed=seed),
    }
    spent = dict.fromkeys(models, 0.0)
    while any(m.running for m in models.values()):
        for name, m in models.items():  # two models, alternating blocks of epochs
            for _ in range(DEFENCE_BLOCK_EPOCHS):
                if not m.running:
                    break
                t0 = time.perf_counter()
                m.step()
                spent[name] += time.perf_counter() - t0
    on_ts = models["on"].timeseries()
    off_ms = spent["off"] / epochs * 1e3
    on_ms = spent["on"] / epochs * 1e3
    ratio = on_ms / off_ms
    return {
        "epochs": epochs,
        "off_ms": off_ms,
        "on_ms": on_ms,
        "ratio": ratio,
        "points_rejected": float(on_ts["points_rejected"].sum()),
        "defense_tx": float(on_ts["defense_tx"].sum()) if "defense_tx" in on_ts else 0.0,
        "kinds": [d.kind for d in models["on"].scenario.defenses],
        "passed": bool(ratio <= TARGET_DEFENCE_RATIO),
    }


# ---------------------------------------------------------------------------- report


def _threads() -> list[int]:
    """Ids of this process's threads (Linux ``/proc/self/task``; else the caller only)."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def set_affinity(cpus: set[int]) -> None:
    """Restrict every thread of this process to ``cpus``. A thread's affinity is its own
    on Linux, so BLAS worker threads started at import are set one by one."""
    for tid in _threads():  # a handful of threads
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:  # the thread ended meanwhile
            continue


def pin_to_one_core() -> tuple[str, set[int] | None]:
    """Restrict this process, BLAS threads included, to one CPU core, as the targets
    assume. Returns a description for the output and the previous CPU set (to restore
    with :func:`set_affinity`; None where the OS has no affinity call, in which case
    nothing was changed)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no CPU affinity on this OS)", None
    before = set(os.sched_getaffinity(0))
    core = max(before)
    set_affinity({core})
    return f"pinned to CPU core {core} of {len(before)}", before


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[str, Any]) -> str:
    """The results of :func:`run` as a fixed-width table with PASS/FAIL per target."""
    rows: list[tuple[str, str, str, str, str]] = []
    for r in results.get("reference", []):
        tag = f"reference @ {r['consumers']:,} consumers x {r['epochs']} epochs"
        rows.append(
            (tag, "vectorised ConsumerSet.demand", f"{r['vectorised_eps']:,.1f} ep/s", "", "")
        )
        rows.append((tag, "per-individual Mesa agents", f"{r['reference_eps']:,.2f} ep/s", "", ""))
        rows.append(
            (
                tag,
                "vectorised / its floor (the draws alone)",
                f"{r['floor_ratio']:,.2f}x ({r['floor_s'] * 1e3 / r['epochs']:,.2f} ms/epoch)",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "speed-up vectorised / reference",
                f"{r['ratio']:,.1f}x",
                "(>= 200x retired, issue 15)",
                "",
            )
        )
        rows.append(
            (
                tag,
                "inferences / consumer-epoch (vec | ref)",
                f"{r['mean_vectorised']:.3f} | {r['mean_reference']:.3f} (se {r['se_diff']:.3f})",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "z: inferences | spend | worst model",
                f"{r['z_total']:+.2f} | {r['z_spend']:+.2f} | {r['z_models']:.2f}",
                f"|z| <= {Z_MAX:g}",
                _verdict(r["equal"]),
            )
        )
        rows.append((tag, "full EconomyModel (context)", f"{r['model_eps']:,.1f} ep/s", "", ""))
    s = results.get("scale")
    if s is not None:
        tag = f"scale @ {s['individuals']:,} individuals x {s['epochs']:,} epochs"
        rows.append(
            (
                tag,
                "wall time (setup + epochs)",
                f"{s['wall_s']:,.1f} s ({s['setup_s']:.1f} + {s['run_s']:,.1f})",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "CPU time, one core",
                f"{s['cpu_s']:,.1f} s",
                f"<= {TARGET_SCALE_S:g} s",
                _verdict(s["passed_time"]),
            )
        )
        rows.append(
            (
                tag,
                "peak RSS (process)",
                f"{s['peak_rss_bytes'] / 2**20:,.0f} MiB",
                f"<= {TARGET_SCALE_BYTES / 2**20:,.0f} MiB",
                _verdict(s["passed_memory"]),
            )
        )
        rows.append(
            (
                tag,
                "individuals: launch | active at end | ever",
                f"{s['individuals']:,} | {s['active_end']:,} | {s['ever']:,}",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "points / epoch: first 100 | last 100 | mean",
                f"{s['points_first']:,.0f} | {s['points_last']:,.0f} | {s['points_per_epoch']:,.0f}",
                "",
                "",
            )
        )
        rows.append((tag, "points stored at the end", f"{s['stored_points']:,}", "", ""))
        rows.append(
            (tag, "consumer inferences / epoch", f"{s['inferences_per_epoch']:,.0f}", "", "")
        )
    bl = results.get("baseline")
    if bl is not None:
        tag = f"baseline.yaml x {bl['epochs']} epochs"
        rows.append(
            (
                tag,
                "wall time (setup + epochs)",
                f"{bl['wall_s']:.1f} s ({bl['setup_s']:.1f} + {bl['epochs_s']:.1f})",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "CPU time, one core",
                f"{bl['cpu_s']:.2f} s",
                f"<= {TARGET_BASELINE_S:g} s",
                _verdict(bl["passed"]) if bl["full"] else "",
            )
        )
        rows.append((tag, "per epoch", f"{bl['ms_per_epoch']:.1f} ms", "", ""))
        if np.isfinite(bl["reference_cpu_s"]):
            rows.append(
                (
                    tag,
                    "CPU with the trail every epoch | ratio",
                    f"{bl['reference_cpu_s']:.2f} s | {bl['ratio']:.2f}x",
                    "",
                    "",
                )
            )
    d = results.get("defences")
    if d is not None:
        tag = f"defences @ baseline x {d['epochs']} epochs"
        rows.append((tag, "epoch time, no defences", f"{d['off_ms']:.1f} ms", "", ""))
        rows.append(
            (tag, f"epoch time, all {len(d['kinds'])} defences", f"{d['on_ms']:.1f} ms", "", "")
        )
        rows.append(
            (
                tag,
                "ratio on / off",
                f"{d['ratio']:.2f}x",
                f"<= {TARGET_DEFENCE_RATIO:g}x",
                _verdict(d["passed"]),
            )
        )
        rows.append(
            (
                tag,
                "points rejected | defence tx (on)",
                f"{d['points_rejected']:,.0f} | {d['defense_tx']:,.0f}",
                "",
                "",
            )
        )
    e = results.get("empty")
    if e is not None and "skipped" in e:
        rows.append(("empty epoch", "skipped", e["skipped"], "", ""))
    elif e is not None:
        tag = f"empty epoch @ {e['holders']:,} holders x {e['epochs']} epochs"
        rows.append(
            (
                tag,
                "CPU per epoch",
                f"{e['us_per_epoch']:,.0f} us",
                f"<= {TARGET_EMPTY_US:g} us",
                _verdict(e["passed"]),
            )
        )
        by_cost = sorted(e["phases_us"].items(), key=lambda kv: -kv[1])
        rows.append(
            (tag, "per phase (timed pass)", ", ".join(f"{k} {v:,.0f}" for k, v in by_cost), "", "")
        )
    header = ("section", "measurement", "value", "target", "result")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    last = None
    for row in rows:
        shown = ("" if row[0] == last else row[0], *row[1:])
        last = row[0]
        lines.append(fmt.format(*shown).rstrip())
    verdicts = [row[4] for row in rows if row[4]]
    lines.append(
        f"targets: {verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL"
        + (" (quick sizes: informational)" if results.get("quick") else "")
    )
    lines.extend(target_lines(results))
    return "\n".join(lines)


def target_lines(results: dict[str, Any]) -> list[str]:
    """One ``TARGET <n>: ...`` summary line per issue-15 target this run measured
    (``make bench`` collects them); quick sizes are marked informational."""
    note = " (quick sizes: informational)" if results.get("quick") else ""
    out: list[str] = []
    bl = results.get("baseline")
    if bl is not None:
        ratio = (
            f"; {bl['ratio']:.2f}x faster than the trail every epoch"
            if np.isfinite(bl["ratio"])
            else ""
        )
        out.append(
            f"TARGET 1a: baseline year, simulation only, one core {bl['cpu_s']:.2f} s CPU "
            f"(wall {bl['wall_s']:.2f} s{ratio}) <= {TARGET_BASELINE_S:g} s "
            f"{_verdict(bl['passed']) if bl['full'] else 'n/a (shortened)'}{note}"
        )
    e = results.get("empty")
    if e is not None and "skipped" not in e:
        worst = max(e["phases_us"].items(), key=lambda kv: kv[1])
        out.append(
            f"TARGET 3: epoch with {e['holders']:,} holders and no other roles "
            f"{e['us_per_epoch']:,.0f} us CPU ({e['us_per_epoch'] / TARGET_EMPTY_US:.1f}x the "
            f"target; costliest: {worst[0]} {worst[1]:,.0f} us) <= {TARGET_EMPTY_US:g} us "
            f"{_verdict(e['passed'])}{note}"
        )
    elif e is not None:
        out.append(f"TARGET 3: not measured ({e['skipped']})")
    s = results.get("scale")
    if s is not None:
        ok = s["passed_time"] and s["passed_memory"]
        out.append(
            f"TARGET 4: {s['individuals']:,} individuals x {s['epochs']:,} epochs "
            f"{s['cpu_s']:,.1f} s CPU (wall {s['wall_s']:,.1f} s), peak "
            f"{s['peak_rss_bytes'] / 2**20:,.0f} MiB <= {TARGET_SCALE_S:g} s, "
            f"{TARGET_SCALE_BYTES / 2**20:,.0f} MiB {_verdict(ok)}{note}"
        )
    return out


def run(
    sizes: Sizes = FULL,
    sections: tuple[str, ...] = SECTIONS,
    seed: int = SEED,
    *,
    entry_rate_per_epoch: float = 0.0,
    profile_top: int = 0,
    progress_every: int = 0,
) -> dict[str, Any]:
    """Run the chosen ``sections`` (scale first, so its peak RSS is its own) at ``sizes``.

    Returns ``{"reference": [one dict per consumer count], "scale": dict, "baseline": dict,
    "defences": dict}`` (only the sections run), see :func:`compare_reference`,
    :func:`run_scale`, :func:`time_baseline` and :func:`compare_defences`.
    """
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise BenchError(f"run: unknown sections {unknown}; choose from {list(SECTIONS)}")
    out: dict[str, Any] = {}
    if "scale" in sections:
        out["scale"] = run_scale(
            sizes.individuals,
            sizes.scale_epochs,
            seed,
            entry_rate_per_epoch=entry_rate_per_epoch,
            profile_top=profile_top,
            progress_every=progress_every,
        )
    if "reference" in sections:
        out["reference"] = [
            compare_reference(n, sizes.reference_epochs, seed) for n in sizes.consumers
        ]
    if "baseline" in sections:
        out["baseline"] = time_baseline(sizes.baseline_epochs)
    if "defences" in sections:
        out["defences"] = compare_defences(sizes.defence_epochs, seed)
    if "empty" in sections:
        out["empty"] = time_empty(sizes.empty_epochs)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to run"
    )
    parser.add_argument("--individuals", type=int, help="individuals of the scale run")
    parser.add_argument("--epochs", type=int, help="epochs of the scale run")
    parser.add_argument(
        "--entry-rate",
        type=float,
        default=0.0,
        help="newcomers per epoch in the scale run, fraction of each role's launch size "
        "(default 0: ~constant population; the baseline uses 0.005)",
    )
    parser.add_argument(
        "--consumers", type=int, nargs="+", help="consumer counts of the reference comparison"
    )
    parser.add_argument("--reference-epochs", type=int, help="epochs of each consumer path")
    parser.add_argument("--defence-epochs", type=int, help="epochs of each defence run")
    parser.add_argument(
        "--baseline-epochs", type=int, help="epochs of the baseline run (default: all 365)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of every run")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the scale run; top N rows"
    )
    parser.add_argument(
        "--progress", type=int, default=0, metavar="E", help="print scale progress every E epochs"
    )
    parser.add_argument(
        "--all-cores",
        action="store_true",
        help="do not pin the process to one CPU core (the targets are for one core)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        consumers=tuple(args.consumers) if args.consumers else base.consumers,
        reference_epochs=args.reference_epochs or base.reference_epochs,
        individuals=args.individuals or base.individuals,
        scale_epochs=args.epochs or base.scale_epochs,
        defence_epochs=args.defence_epochs or base.defence_epochs,
        baseline_epochs=args.baseline_epochs or base.baseline_epochs,
        empty_epochs=base.empty_epochs,
    )
    if (
        min(sizes.consumers) < 1
        or min(sizes.reference_epochs, sizes.scale_epochs, sizes.defence_epochs) < 1
    ):
        parser.error("consumer counts and epochs must be >= 1")
    if sizes.individuals < 1_000:
        parser.error("--individuals must be >= 1000")
    chosen = tuple(s for s in SECTIONS if s in args.sections)
    cores, restore = ("all cores", None) if args.all_cores else pin_to_one_core()
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "library default")
    print(
        f"bench_model: sections {', '.join(chosen)}; seed {args.seed}; {cores}; "
        f"BLAS threads {blas}" + ("; quick sizes" if args.quick else ""),
        flush=True,
    )
    try:
        results = run(
            sizes,
            chosen,
            args.seed,
            entry_rate_per_epoch=args.entry_rate,
            profile_top=args.profile,
            progress_every=args.progress,
        )
    finally:
        if restore is not None:
            set_affinity(restore)
    results["quick"] = args.quick
    print(report(results))
    if results.get("scale", {}).get("profile"):
        print("\nprofile of the scale run:\n" + results["scale"]["profile"])
    equal = all(r["equal"] for r in results.get("reference", []))
    if not equal:
        print("error: vectorised and reference demand differ statistically", file=sys.stderr)
        return 1
    missed = [
        s
        for s, ok in (
            (
                "scale",
                not results.get("scale")
                or (results["scale"]["passed_time"] and results["scale"]["passed_memory"]),
            ),
            (
                "baseline",
                not results.get("baseline", {}).get("full") or results["baseline"]["passed"],
            ),
            ("defences", results.get("defences", {}).get("passed", True)),
            ("empty", results.get("empty", {}).get("passed", True)),
        )
        if not ok
    ]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
