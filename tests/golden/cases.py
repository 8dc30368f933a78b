"""The golden cases: every shipped scenario and variant, plus coverage cases.

Each case is a scenario reference and overrides, resolved once (by ``python -m
tests.golden.regen --init``) into ``data/<case>.scenario.yaml``. From then on the stored
scenario is the case: the golden test and ``regen`` read it, not the shipped files, so a
shipped file that later changes (e.g. a variant file turned into a sweep file) leaves the
goldens alone.

* ``<file>`` — a plain shipped scenario (``scenarios/<file>.yaml``), 30 epochs, its seed.
* ``<file>.<variant>`` — a variant of a shipped variant file: ``base`` + the variant's
  overrides, 30 epochs, the base's seed.
* ``cover.<what>`` — shipped worlds with overrides that reach what the shipped files do
  not: every attribution engine, the logistic model, every emission kind, the streaming
  payout policy and tips, a disabled chain, two datanets with a training window and a
  trail cadence, SybilRank, a metrics cadence, order-flow shocks, churn with newcomers.
"""

from __future__ import annotations

from typing import Any

EPOCHS = 30
"""Horizon of every golden run (epochs)."""

PLAIN = (
    "antifarming_world",
    "baseline",
    "collusive_validators",
    "competitor_price_cut",
    "death_spiral",
    "label_flip",
    "sybil_farming",
    "targeted_backdoor",
    "tokenomics_only",
    "unlock_cliff",
    "wash_inference",
)
"""Plain shipped scenario files (as of the goldens' recording)."""

VARIANT_FILES = ("antifarming_comparison", "no_slashing_vs_slashing")
"""Shipped variant files (``base`` + ``variants``) as of the goldens' recording."""

COVER: dict[str, tuple[str, dict[str, Any]]] = {
    **{
        f"cover.engine_{engine}": (
            "antifarming_world",
            {"attribution.engine": engine, "attribution.budget": 20},
        )
        for engine in ("uniform", "loo", "tmc_shapley", "banzhaf", "influence")
    },
    "cover.logistic": (
        "targeted_backdoor",
        {
            "datanets": [{"model": "logistic", "window_points": 400}],
            "attribution.engine": "banzhaf",
            "attribution.budget": 20,
        },
    ),
    **{
        f"cover.emission_{kind}": (
            "baseline",
            {"tokenomics.emission": emission, "population.providers": 60},
        )
        for kind, emission in {
            "constant": {"kind": "constant", "tokens_per_epoch": 5000.0},
            "linear_decay": {
                "kind": "linear_decay",
                "initial_tokens_per_epoch": 8000.0,
                "final_tokens_per_epoch": 1000.0,
                "decay_epochs": 20,
            },
            "exponential_decay": {
                "kind": "exponential_decay",
                "initial_tokens_per_epoch": 8000.0,
                "half_life_epochs": 10.0,
                "cap_tokens": 60000.0,
            },
            "halving": {
                "kind": "halving",
                "initial_tokens_per_epoch": 8000.0,
                "halving_interval_epochs": 7,
            },
            "supply_halving": {
                "kind": "supply_halving",
                "initial_tokens_per_epoch": 8000.0,
                "cap_tokens": 100000.0,
            },
            "table": {
                "kind": "table",
                "steps": [
                    {"start_epoch": 0, "tokens_per_epoch": 3000.0},
                    {"start_epoch": 12, "tokens_per_epoch": 500.0},
                ],
            },
        }.items()
    },
    "cover.stream_retrieval": (
        "wash_inference",
        {"chain.payout_policy": "stream", "chain.tip_tokens": 0.001},
    ),
    "cover.stream_volume": (
        "sybil_farming",
        {"chain.payout_policy": "stream", "chain.block_capacity_tx": 500},
    ),
    "cover.chain_off": ("baseline", {"chain.enabled": False}),
    "cover.two_datanets": (
        "unlock_cliff",
        {
            "datanets": [
                {"name": "a", "window_points": 600, "retrain_every_epochs": 3},
                {"name": "b", "n_classes": 4, "n_features": 5, "k": 3, "seed_points": 50},
            ],
            "attribution.trail_every_epochs": 3,
            "attribution.retrieval_weights": "inverse_distance",
            "population.builders": 5,
            "population.farmers.duplicate": 4,
            "population.poisoners.noise": 4,
            "population.poisoners.label_flip": 3,
            "population.poisoners.label_flip_targeted": True,
            "population.churn.entry_rate_per_epoch": 0.05,
            "population.churn.lookback_epochs": 5,
        },
    ),
    "cover.sybilrank": (
        "sybil_farming",
        {
            "defenses": [
                {"kind": "sybil_graph", "every_epochs": 5},
                {"kind": "reputation"},
                {"kind": "rate_limit", "max_submissions_per_epoch": 2, "min_age_epochs": 5},
                {"kind": "stake_slash", "slash_to": "treasury"},
            ],
            "population.farmers.sybil_content": "duplicate",
        },
    ),
    "cover.sybil_entry": (
        "sybil_farming",
        {
            "population.churn.lookback_epochs": 5,
            "population.churn.entry_rate_per_epoch": 0.05,
            "population.farmers.cost_usd_per_point": 0.0,
        },
    ),
    "cover.metrics_every_4": (
        "antifarming_world",
        {
            "collect.metrics_every_epochs": 4,
            "collect.agent_snapshot_every_epochs": 7,
            "defenses": [{"kind": "stake_slash"}, {"kind": "dedup"}, {"kind": "wash_guard"}],
        },
    ),
    "cover.market": (
        "unlock_cliff",
        {
            "market.order_flow.growth_per_epoch": 0.01,
            "market.order_flow.persistent": True,
            "market.order_flow.shocks": [
                {"epoch": 5, "multiplier": 4.0, "net_usd": -20000.0},
                {"epoch": 12, "multiplier": 0.0, "net_usd": 50000.0},
            ],
            "tokenomics.staking.initial_staked_fraction": 0.3,
            "epoch_days": 7.0,
        },
    ),
    "cover.market_sides": (
        "baseline",
        {
            "market.buyback": {"share": 0.5, "destination": "burn"},
            "market.arbitrage.enabled": True,
            "market.shocks": [
                {"at_epoch": 8, "kind": "price", "size": -0.5},
                {"at_epoch": 12, "kind": "demand", "size": 0.4, "duration_epochs": 10},
            ],
        },
    ),
    "cover.digits": (
        "label_flip",
        {"datanets": [{"task": "digits"}], "population.providers": 40},
    ),
    **{
        f"cover.sybil_{topology}": (
            "sybil_farming",
            {"population.farmers.sybil_funding": topology},
        )
        for topology in ("chain", "tree", "exchange")
    },
}
"""Coverage cases: (plain shipped scenario, overrides)."""


def case_keys() -> list[str]:
    """Every case this module defines (variant cases need their variant file, so this
    lists the variant files' cases as recorded: one stored scenario per variant)."""
    return [*PLAIN, *COVER]
