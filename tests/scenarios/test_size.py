"""The memory estimate: refuses worlds that cannot fit, accepts every shipped scenario."""

import textwrap
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides, load, loads, schema
from ledgerlab.scenarios.size import (
    BASE_BYTES,
    BYTES_PER_INDIVIDUAL,
    MEMORY_LIMIT_BYTES,
    estimate_memory_bytes,
    memory_terms,
)

GIB = 2**30


def _unlimited(overrides: dict[str, object]) -> Scenario:
    """The scenario of ``overrides`` validated without the memory limit, so that the
    estimate of a scenario too large to run can be computed (with a pool deep enough for
    any population's purchases, priced so the liquidity bucket can seed it, and stakes the
    treasury can fund for any number of builders and validators)."""
    deep = {
        "market.pool_liquidity_usd": 1e13,
        # 4e7 tokens in the pool: within the liquidity bucket (5e7), and 4x the wash fees
        # of the largest wash-farmer count drawn below (900,000 take ~2.5e6 tokens)
        "market.initial_price_usd": 2.5e5,
        "population.builder_stake_tokens": 0.0,
        "population.validator_stake_tokens": 0.0,
    }
    with mock.patch.object(schema, "MEMORY_LIMIT_BYTES", float("inf")):
        return apply_overrides(Scenario(), {**deep, **overrides})


def test_ten_million_providers_are_refused_with_the_estimate() -> None:
    with pytest.raises(ScenarioError) as info:
        loads("name: huge\npopulation:\n  providers: 10000000\n", source="h.yaml")
    [line] = str(info.value).splitlines()
    estimate = estimate_memory_bytes(_unlimited({"population.providers": 10_000_000}))
    # the 365 epochs of submissions drive it; the line points at the top-level `epochs`
    # (defaulted here, so at the scenario's first line)
    assert line.startswith(
        f"h.yaml:1:1: epochs: this run needs about {estimate / GIB:,.3g} GiB of memory, above "
        "the limit of 8 GiB (ledgerlab.scenarios.size); it is driven by epochs: "
        "3,650,000,000 points submitted to datanet 'main' over 365 epochs × 12 features ≈ "
        "585 GiB; collect.agent_snapshot_every_epochs: 11 agent snapshots × 10,000,142 "
        "individuals"
    )
    # the providers' own field is named with what it costs: their first epoch's batch
    assert (
        "population.providers: 10,000,000 points submitted to datanet 'main' in one epoch × "
        "12 features ≈ 6.17 GiB" in line
    )


def test_a_large_launch_population_alone_is_refused_at_its_field() -> None:
    # one epoch, nobody submits: the individuals' own rows are what does not fit
    text = textwrap.dedent(
        """\
        name: x
        epochs: 1
        population:
          providers: 10000000
          provider_submissions_per_epoch: 0
        tokenomics:
          vesting:
            - {name: community, share: 0.75, recipient: reward_pool, holders: 0}
            - {name: liquidity, share: 0.05, tge_fraction: 1, recipient: liquidity, holders: 0}
            - {name: investors, share: 0.1, holders: 10000000}
            - {name: team, share: 0.1, holders: 10}
        """
    )
    with pytest.raises(ScenarioError) as info:
        loads(text, source="p.yaml")
    [line] = str(info.value).splitlines()
    assert line.startswith("p.yaml:4:14: population.providers: this run needs about 12")
    assert "tokenomics.vesting[2].holders: 10,000,010 holders ≈ 5.77 GiB" in line


def test_every_shipped_scenario_fits(shipped_scenario_file: Path) -> None:
    assert estimate_memory_bytes(load(shipped_scenario_file)) < MEMORY_LIMIT_BYTES / 8


def test_every_shipped_variant_fits(shipped_variant: Scenario) -> None:
    assert estimate_memory_bytes(shipped_variant) < MEMORY_LIMIT_BYTES / 8


def test_the_baseline_estimate_is_the_base_process_and_a_little() -> None:
    estimate = estimate_memory_bytes(Scenario())
    assert BASE_BYTES < estimate < BASE_BYTES + 50 * 2**20
    assert all(t.bytes > 0 for t in memory_terms(Scenario()))


@settings(max_examples=40, deadline=None)
@given(
    role=st.sampled_from(
        [
            "population.providers",
            "population.consumers",
            "population.validators",
            "population.farmers.duplicate",
            "population.farmers.wash",
            "population.poisoners.noise",
            "tokenomics.vesting.investors.holders",
        ]
    ),
    low=st.integers(1, 400_000),
    extra=st.integers(1, 500_000),
    epochs=st.integers(1, 400),
)
def test_the_estimate_grows_with_every_population(
    role: str, low: int, extra: int, epochs: int
) -> None:
    def estimate(count: int) -> int:
        return estimate_memory_bytes(_unlimited({role: count, "epochs": epochs}))

    assert estimate(low + extra) > estimate(low)


def test_the_estimate_grows_with_the_horizon_and_the_points() -> None:
    base = estimate_memory_bytes(Scenario())
    assert estimate_memory_bytes(_unlimited({"epochs": 730})) > base
    assert estimate_memory_bytes(_unlimited({"datanets.0.n_features": 64})) > base
    assert estimate_memory_bytes(_unlimited({"datanets.0.seed_points": 10**7})) > base


def test_role_costs_are_a_few_hundred_bytes() -> None:
    assert set(BYTES_PER_INDIVIDUAL) >= {"providers", "consumers", "holders", "validators"}
    assert all(300 < cost < 2_000 for cost in BYTES_PER_INDIVIDUAL.values())
