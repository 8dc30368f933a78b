"""Tests of adversaries that adapt (``agents.adaptive``), sybil funding topologies
(``agents.farmers``) and the colluding validators' bribes (``agents.validators``).

Direction tests run paired over several seeds (the same seed with and without the lever)."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import numpy as np
import pytest

from ledgerlab.agents.adaptive import income_split
from ledgerlab.agents.farmers import STRAT_OPERATOR, STRAT_SYBIL, funding_tree
from ledgerlab.agents.plans import S_LABEL_FLIP, STRATEGIES
from ledgerlab.scenarios.schema import AdversaryStrategy
from ledgerlab.sim.model import EconomyModel

Factory = Callable[..., EconomyModel]
SEEDS = range(5)


def _run(model: EconomyModel) -> EconomyModel:
    while model.running:
        model.step()
    return model


def test_strategy_names_are_the_schemas() -> None:
    assert STRATEGIES == get_args(AdversaryStrategy)


def test_income_split_by_stock_of_points() -> None:
    stock = np.array([[0.0, 3.0, 1.0], [0.0, 0.0, 0.0]])
    split = income_split(stock, np.array([0, 2]))
    np.testing.assert_array_equal(split, [[0.0, 0.75, 0.25], [0.0, 0.0, 1.0]])


# ------------------------------------------------------------------------ fixed strategies


def test_fixed_strategies_draw_nothing_and_never_switch(tiny: Factory) -> None:
    model = tiny("antifarming_world", epochs=25, population__adaptation__enabled=False, check=False)
    stream = model.streams["adaptation"]
    before = stream.bit_generator.state
    launch = {rs.role: rs.cols.playing.copy() for rs in model.roles.adversaries}
    _run(model)
    assert stream.bit_generator.state == before  # off: the adaptation stream is untouched
    for rs in model.roles.adversaries:
        n = launch[rs.role].size
        np.testing.assert_array_equal(rs.cols.playing[:n], launch[rs.role])
    ts = model.timeseries()
    assert (ts["adversary_strategy_share_leave"] == 0).all()
    shares = ts[[f"adversary_strategy_share_{s}" for s in STRATEGIES]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)


# ----------------------------------------------------------------------------- the review


def test_losing_adversaries_leave_at_their_reviews(tiny: Factory) -> None:
    """Poisoners who lose all they spend (return −1) shift weight to ``leave`` at each
    review and leave once its probability reaches ``exit_share``; nobody leaves between
    reviews. Launch strategies open: label_flip and leave."""
    model = tiny(
        None,
        population__poisoners__label_flip=4,
        population__adaptation__review_every_epochs=5,
        check=False,
    )
    ps = model.roles.poisoners
    assert ps.learner_open(np.arange(4))[0].tolist() == [
        s in ("label_flip", "leave") for s in STRATEGIES
    ]
    rng = np.random.default_rng(0)
    left = 0
    for epoch in range(40):
        model.ledger.epoch = epoch
        ps.record_income(np.arange(4), np.zeros(4), np.full(4, 10.0))
        out, added = ps.adapt(rng, np.zeros(4, dtype=np.int64))
        assert added == 0
        if epoch % 5 != 4:
            assert out == 0  # exits happen at reviews only
        left += out
    assert left == 4 and not ps.cols.active.any()
    assert set(ps.cols.left_epoch.tolist()) <= {9, 14, 19, 24, 29, 34, 39}
    assert (ps.estimates[:, S_LABEL_FLIP] < 0).all()


def test_dedup_moves_farmers_off_copies() -> None:
    """With dedup on, copies are refused and earn nothing: the share of adversary
    identities uploading duplicates or near-duplicates falls from its launch value, and
    ends below the same seed's world without dedup (paired over 5 seeds)."""
    copies = ("adversary_strategy_share_duplicate", "adversary_strategy_share_near_duplicate")
    for seed in SEEDS:
        end = {}
        for label, defenses in (("none", []), ("dedup", [{"kind": "dedup"}])):
            model = EconomyModel(
                "antifarming_world",
                epochs=30,
                seed=seed,
                population__providers=60,
                population__consumers=50,
                defenses=defenses,
            )
            ts = _run(model).timeseries()
            share = ts[list(copies)].sum(axis=1)
            assert share.iloc[0] == pytest.approx(10 / 42)  # 5 + 5 of 42 identities
            end[label] = float(share.iloc[-5:].mean())
        assert end["dedup"] < 10 / 42 * 0.75, (seed, end)
        assert end["dedup"] < end["none"], (seed, end)


def test_operators_add_identities_while_sybil_farming_pays(tiny: Factory) -> None:
    """Paid per point (``volume``) and undefended, sybil farming pays: operators add
    identities at their reviews, never beyond ``max_identities_per_operator``; at the cap
    they add none."""
    base = {
        "epochs": 40,
        "check": False,
        "population__farmers__identities_per_operator": 6,
        "population__adaptation__identities_added_per_review": 3,
    }
    for seed in range(3):
        grown = _run(
            tiny(
                "sybil_farming",
                seed=seed,
                population__adaptation__max_identities_per_operator=12,
                **base,
            )
        )
        capped = _run(
            tiny(
                "sybil_farming",
                seed=seed,
                population__adaptation__max_identities_per_operator=6,
                **base,
            )
        )
        for model, most in ((grown, 12), (capped, 6)):
            f = model.roles.farmers
            ops = np.flatnonzero(f.cols.strategy == STRAT_OPERATOR)
            mine = f.cols.active & (f.cols.strategy == STRAT_SYBIL)
            per_op = np.array([np.sum(mine & (f.cols.learner == o)) for o in ops])
            assert (per_op <= most).all()
        assert grown.roles.farmers.added_total > 0
        assert capped.roles.farmers.added_total == 0


# ------------------------------------------------------------------------ funding topologies


def test_funding_tree_exact() -> None:
    parent, size = funding_tree(7, 2)
    assert parent.tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert size.tolist() == [4, 3, 2, 1, 1, 1, 1]
    parent, size = funding_tree(4, 1)
    assert parent.tolist() == [0, 1, 2, 3] and size.tolist() == [4, 3, 2, 1]
    parent, size = funding_tree(3, 5)
    assert parent.tolist() == [0, 0, 0] and size.tolist() == [1, 1, 1]


@pytest.mark.parametrize("topology", ["fan", "chain", "tree", "exchange"])
def test_each_identity_is_funded_once_by_its_topology(tiny: Factory, topology: str) -> None:
    model = tiny(
        None,
        epochs=1,
        population__farmers__sybil_operators=1,
        population__farmers__identities_per_operator=7,
        population__farmers__sybil_funding_tokens=5.0,
        population__farmers__sybil_funding=topology,
        population__farmers__sybil_tree_branching=2,
    )
    f = model.roles.farmers.cols
    wallet = int(f.account[f.strategy == STRAT_OPERATOR][0])
    ids = f.account[f.strategy == STRAT_SYBIL]
    np.testing.assert_allclose(model.ledger.balance[ids], 5.0, rtol=1e-12)
    mine = np.concatenate([[wallet], ids])
    edges = [(s, d) for s, d, _ in model.accounts.funding_edges if np.isin(d, mine).any()]
    if topology == "exchange":
        assert edges == []  # bought on the market: no link to the operator or each other
        return
    src = np.concatenate([s for s, _ in edges])
    dst = np.concatenate([d for _, d in edges])
    assert sorted(dst.tolist()) == sorted(ids.tolist())  # each identity funded once
    expected = {"fan": [wallet] * 7, "chain": [wallet, *ids[:6]], "tree": None}[topology]
    if expected is None:
        nodes = np.concatenate([[wallet], ids])
        expected = nodes[funding_tree(7, 2)[0]].tolist()
    assert src.tolist() == list(expected)
    model.ledger.check_invariants()


def _sybil_recall(topology: str, method: str, seed: int) -> tuple[float, float]:
    model = EconomyModel(
        "sybil_farming",
        epochs=8,  # detections at epochs 0 and 7 (every_epochs 7)
        seed=seed,
        population__providers=30,
        population__consumers=20,
        population__farmers__sybil_funding=topology,
        defenses=[{"kind": "sybil_graph", "method": method}],
    )
    _run(model)
    f = model.roles.farmers.cols
    flagged = model.defenses.sybil.flagged(model.accounts.n)
    ids = f.account[f.strategy == STRAT_SYBIL]
    honest = model.roles.providers.cols.account
    return float(flagged[ids].mean()), float(flagged[honest].mean())


@pytest.mark.parametrize("method", ["clusters", "sybilrank"])
def test_sybil_graph_catch_falls_where_links_are_hidden(method: str) -> None:
    """The funding-graph defence catches identities linked by funding edges, whatever the
    shape (fan, chain, tree), and none funded through the exchange (paired over seeds);
    it flags no honest provider."""
    for seed in range(3):
        recall = {t: _sybil_recall(t, method, seed) for t in ("fan", "chain", "tree", "exchange")}
        assert recall["fan"][0] > recall["exchange"][0], (seed, recall)
        assert recall["fan"][0] == recall["chain"][0] == recall["tree"][0] == 1.0
        assert recall["exchange"][0] == 0.0
        assert all(r[1] == 0.0 for r in recall.values())


# ---------------------------------------------------------------------------------- bribes


def test_colluding_validators_are_paid_a_share_of_the_rings_rewards(tiny: Factory) -> None:
    share = 0.4
    model = tiny(
        "collusive_validators",
        epochs=20,
        population__validator_bribe_share=share,
        population__adaptation__enabled=False,
        check=True,
    )
    v = model.roles.validators.cols
    seen = 0.0
    paid_any = False
    while model.running:
        model.step()
        f = model.flows
        assert f is not None and f.rewards is not None
        ring = f.rewards.by_role_tokens["farmers"] + f.rewards.by_role_tokens["wash"]
        now = float(v.bribes_tokens.sum())
        assert now - seen == pytest.approx(share * ring, rel=1e-9, abs=1e-12)
        paid_any |= ring > 0
        seen = now
    assert paid_any
    assert (v.bribes_tokens[~v.colluding] == 0).all()
    assert (v.bribes_tokens[v.colluding] > 0).all()
    ts = model.timeseries()
    assert ts["validator_bribes_tokens"].iloc[-1] == pytest.approx(seen)


# ------------------------------------------------------------------ builder-run wash rings


def test_a_builder_running_wash_consumers_passes_its_fee_share_back(tiny: Factory) -> None:
    """Each epoch a builder-run ring's wash consumers get back the builder's share β of the
    net fee of each of their inferences (booked as their income); an independent builder
    keeps it. Paired: the same seed with the flag off earns the ring less."""
    income = {}
    for run_by_builder in (False, True):
        model = tiny(
            "wash_inference",
            epochs=12,
            population__farmers__wash_run_by_builder=run_by_builder,
            population__adaptation__enabled=False,
            check=True,
        )
        w, b = model.roles.wash.cols, model.roles.builders.cols
        split, net = model.pricing.split.builder, model.pricing.net_fee_tokens
        seen = np.zeros(len(w))
        while model.running:
            model.step()
            per_inference = split * net[b.datanet[w.builder]] * b.price_factor[w.builder]
            expected = w.inferences_this_epoch * per_inference * (1 - 1e-12)
            got = w.kickback_tokens - seen
            if run_by_builder:
                np.testing.assert_allclose(got, expected, rtol=1e-9)
            else:
                assert (got == 0).all()
            seen = w.kickback_tokens.copy()
        income[run_by_builder] = float(w.income_usd.sum())
        if run_by_builder:
            assert w.kickback_tokens.sum() > 0
    assert income[True] > income[False]


def test_the_scenario_lists_the_open_strategies(tiny: Factory) -> None:
    model = tiny(
        "antifarming_world",
        epochs=1,
        population__adaptation__strategies=["duplicate", "label_flip", "leave"],
    )
    want = {
        "farmers": ["duplicate", "label_flip", "leave"],
        "wash": ["duplicate", "label_flip", "leave"],
        "poisoners": ["duplicate", "label_flip", "leave"],
    }
    for rs in model.roles.adversaries:
        plain = np.flatnonzero(rs.cols.learner == np.arange(len(rs)))
        if rs.role == "farmers":
            plain = plain[rs.cols.strategy[plain] != STRAT_OPERATOR]
        opened = rs.learner_open(plain)
        names = [s for s, on in zip(STRATEGIES, opened[0], strict=True) if on]
        assert names == want[rs.role]
    ops = np.flatnonzero(model.roles.farmers.cols.strategy == STRAT_OPERATOR)
    assert not model.roles.farmers.learner_open(ops)[:, STRATEGIES.index("sybil")].any()
    default = tiny("antifarming_world", epochs=1).roles.farmers
    assert default.learner_open(ops)[:, STRATEGIES.index("sybil")].all()  # launch set


def test_a_strategy_listed_twice_is_refused() -> None:
    from pydantic import ValidationError

    from ledgerlab.scenarios.schema import Adaptation

    with pytest.raises(ValidationError, match="listed twice"):
        Adaptation.model_validate({"strategies": ["junk", "leave", "junk"]})
