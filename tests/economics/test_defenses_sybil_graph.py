"""Tests for economics.defenses.sybil_graph: funding graph, SybilRank, clusters, discount."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from ledgerlab.economics.defenses.base import DefenseInputError, DefenseParamError
from ledgerlab.economics.defenses.sybil_graph import (
    FundingGraph,
    SybilGraphDefense,
    SybilGraphParams,
    cluster_discount,
    cluster_sizes,
    detect,
    funding_clusters,
    pick_seeds,
    sybilrank,
)

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted ½
    (Mann–Whitney U / (n₊·n₋))."""
    r = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    u = r[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def edges_of(g: nx.Graph, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2) + offset
    return e[:, 0], e[:, 1]


def two_regions(
    n_honest: int, n_sybil: int, p_honest: float, p_sybil: float, attack_edges: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Honest random graph (ids 0..n_honest-1) + sybil random graph + random attack edges.
    Returns (src, dst, is_sybil)."""
    rng = np.random.default_rng(seed)
    hs, hd = edges_of(nx.gnp_random_graph(n_honest, p_honest, seed=seed))
    ss, sd = edges_of(nx.gnp_random_graph(n_sybil, p_sybil, seed=seed + 1), offset=n_honest)
    a_s = rng.integers(0, n_honest, size=attack_edges)
    a_d = rng.integers(n_honest, n_honest + n_sybil, size=attack_edges)
    src = np.concatenate([hs, ss, a_s])
    dst = np.concatenate([hd, sd, a_d])
    is_sybil = np.arange(n_honest + n_sybil) >= n_honest
    return src, dst, is_sybil


# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------


def test_params_defaults_and_normalisation():
    p = SybilGraphParams()
    assert p.method == "sybilrank" and p.discount == "one_identity" and p.iterations is None
    q = SybilGraphParams(method="clusters", discount=1, every_epochs=np.int64(3), iterations=4)
    assert q.discount == 1.0 and isinstance(q.discount, float)
    assert q.every_epochs == 3 and type(q.every_epochs) is int


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "pagerank"}, "method"),
        ({"every_epochs": 0}, "every_epochs"),
        ({"every_epochs": 1.5}, "every_epochs"),
        ({"discount": 1.5}, "discount"),
        ({"discount": -0.1}, "discount"),
        ({"discount": "half"}, "discount"),
        ({"discount": float("nan")}, "discount"),
        ({"trust_seeds": 0}, "trust_seeds"),
        ({"iterations": 0}, "iterations"),
        ({"trust_threshold": -1.0}, "trust_threshold"),
        ({"min_cluster_size": 1}, "min_cluster_size"),
        ({"lazy_walk": "yes"}, "lazy_walk"),
    ],
)
def test_params_reject_bad_values(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"SybilGraphParams.{field}"):
        SybilGraphParams(**kwargs)
    assert issubclass(DefenseParamError, ValueError)


# ---------------------------------------------------------------------------------------
# the funding graph
# ---------------------------------------------------------------------------------------


def test_funding_graph_grows_and_keeps_edges():
    g = FundingGraph(initial_capacity=2)
    g.add_edges([0, 0, 1], [1, 2, 3], [5.0, 1.0, 2.0])
    g.add_edges(np.array([4, 4, 4, 0, 1]), np.array([5, 6, 7, 1, 0]), [1.0, 1.0, 1.0, 2.5, 0.0])
    g.add_edges([], [], [])
    src, dst, amt = g.edges()
    assert g.n_edges == 8 and g.min_nodes == 8
    np.testing.assert_array_equal(src, [0, 0, 1, 4, 4, 4, 0, 1])
    np.testing.assert_array_equal(dst, [1, 2, 3, 5, 6, 7, 1, 0])
    np.testing.assert_array_equal(amt, [5.0, 1.0, 2.0, 1.0, 1.0, 1.0, 2.5, 0.0])


def test_funding_graph_bad_input_records_nothing():
    g = FundingGraph()
    g.add_edges([0], [1], [1.0])
    with pytest.raises(DefenseInputError, match="amounts_tokens"):
        g.add_edges([1, 2], [2, 3], [1.0, -1.0])
    with pytest.raises(DefenseInputError, match="same length"):
        g.add_edges([1, 2], [2], [1.0, 1.0])
    with pytest.raises(DefenseInputError, match="src"):
        g.add_edges([-1], [2], [1.0])
    with pytest.raises(DefenseInputError, match="integers"):
        g.add_edges([1.5], [2], [1.0])
    assert g.n_edges == 1


def test_adjacency_and_networkx_export():
    g = FundingGraph()
    # 0→1 twice, 1→0 once, a self-transfer 2→2, 2→3
    g.add_edges([0, 0, 1, 2, 2], [1, 1, 0, 2, 3], [1.0, 2.0, 4.0, 9.0, 0.5])
    a = g.adjacency(5).toarray()
    expected = np.zeros((5, 5))
    expected[0, 1] = expected[1, 0] = expected[2, 3] = expected[3, 2] = 1.0
    np.testing.assert_array_equal(a, expected)
    ad = g.adjacency(5, directed=True).toarray()
    assert ad[0, 1] == ad[1, 0] == ad[2, 3] == 1.0 and ad[3, 2] == 0.0 and ad[2, 2] == 0.0
    np.testing.assert_array_equal(g.degree(5), [1, 1, 1, 1, 0])

    un = g.to_networkx(5)
    assert isinstance(un, nx.Graph) and not un.is_directed()
    assert sorted(un.nodes) == [0, 1, 2, 3, 4] and un.number_of_edges() == 2
    assert un.edges[0, 1] == {"amount_tokens": 7.0, "transfers": 3}
    assert un.edges[2, 3] == {"amount_tokens": 0.5, "transfers": 1}
    di = g.to_networkx(5, directed=True)
    assert isinstance(di, nx.DiGraph)
    assert di.edges[0, 1] == {"amount_tokens": 3.0, "transfers": 2}
    assert di.edges[1, 0] == {"amount_tokens": 4.0, "transfers": 1}
    assert not di.has_edge(3, 2)
    with pytest.raises(DefenseInputError, match="n_nodes=3"):
        g.to_networkx(3)


# ---------------------------------------------------------------------------------------
# SybilRank
# ---------------------------------------------------------------------------------------


def test_sybilrank_hand_computed_path():
    # path 0 - 1 - 2, seed 0; deg = [1, 2, 1], vol = 4
    # 1 iteration: t = A·(t/deg) = [0, 1, 0];          relative = t·4/deg = [0, 2, 0]
    # 2 iterations: node 1 sends ½ to each neighbour:   t = [½, 0, ½], relative = [2, 0, 2]
    # lazy, 1 iteration: t = ½[1,0,0] + ½[0,1,0] = [½, ½, 0], relative = [2, 1, 0]
    src, dst = [0, 1], [1, 2]
    r1 = sybilrank(src, dst, [0], 4, iterations=1)
    np.testing.assert_allclose(r1.trust, [0, 1, 0, 0])
    np.testing.assert_allclose(r1.relative_trust[:3], [0, 2, 0])
    assert math.isnan(r1.relative_trust[3]) and r1.degree.tolist() == [1, 2, 1, 0]
    r2 = sybilrank(src, dst, [0], 4, iterations=2)
    np.testing.assert_allclose(r2.relative_trust[:3], [2, 0, 2])
    rl = sybilrank(src, dst, [0], 4, iterations=1, lazy_walk=True)
    np.testing.assert_allclose(rl.trust[:3], [0.5, 0.5, 0])
    np.testing.assert_allclose(rl.relative_trust[:3], [2, 1, 0])
    # default: ⌈log₂ 3⌉ = 2 iterations (3 accounts with an edge; the isolated one is ignored)
    assert sybilrank(src, dst, [0], 10).iterations == 2


def test_sybilrank_clique_pair_with_one_attack_edge():
    honest, sybil = nx.complete_graph(30), nx.complete_graph(30)
    hs, hd = edges_of(honest)
    ss, sd = edges_of(sybil, offset=30)
    src = np.concatenate([hs, ss, [0]])
    dst = np.concatenate([hd, sd, [30]])
    res = sybilrank(src, dst, seeds=[1, 2, 3], n_nodes=60)
    rel = res.relative_trust
    assert res.iterations == 6  # ⌈log₂ 60⌉
    assert rel[30:].max() < 0.05 * rel[:30].min()  # sybils: far lower degree-normalised trust
    is_honest = np.arange(60) < 30
    assert auroc(rel, is_honest) >= 0.9
    assert auroc(rel, is_honest) == 1.0
    assert res.trust.sum() == pytest.approx(1.0, rel=1e-12)  # trust is conserved


def test_sybilrank_random_regions_auroc_and_detection():
    src, dst, is_sybil = two_regions(300, 100, 0.04, 0.08, attack_edges=5, seed=7)
    n = is_sybil.size
    rng = np.random.default_rng(3)
    g = FundingGraph()
    g.add_edges(src, dst, np.ones(src.size))
    seeds = pick_seeds(np.flatnonzero(~is_sybil), g.degree(n), 10, rng)
    assert seeds.size == 10 and not is_sybil[seeds].any()
    for lazy in (False, True):
        res = sybilrank(src, dst, seeds, n, lazy_walk=lazy)
        assert auroc(res.relative_trust, ~is_sybil) >= 0.9
    det = detect(g, SybilGraphParams(trust_threshold=0.2), n, seeds)
    recall = det.flagged[is_sybil].mean()
    false_positive = det.flagged[~is_sybil].mean()
    assert recall >= 0.9 and false_positive <= 0.05


def test_sybilrank_matches_networkx_power_iteration():
    src, dst, _ = two_regions(40, 20, 0.2, 0.3, attack_edges=3, seed=11)
    g = FundingGraph()
    g.add_edges(src, dst, np.ones(src.size))
    a = nx.to_numpy_array(g.to_networkx(60), nodelist=range(60))  # dense, via networkx
    deg = a.sum(axis=1)
    t = np.zeros(60)
    t[[0, 5]] = 0.5
    for _ in range(4):
        t = a @ np.where(deg > 0, t / np.where(deg > 0, deg, 1), 0.0)
    res = sybilrank(src, dst, [0, 5], 60, iterations=4)
    np.testing.assert_allclose(res.trust, t, rtol=1e-12, atol=1e-15)
    has = deg > 0
    np.testing.assert_allclose(res.relative_trust[has], t[has] * deg.sum() / deg[has], rtol=1e-12)


def test_sybilrank_errors():
    with pytest.raises(DefenseInputError, match="no trust can spread"):
        sybilrank([0], [1], [5], 6)
    with pytest.raises(DefenseInputError, match="not below n_nodes"):
        sybilrank([0], [1], [7], 6)
    with pytest.raises(DefenseInputError, match="not below n_nodes"):
        sybilrank([0], [9], [0], 6)
    with pytest.raises(DefenseParamError, match="iterations"):
        sybilrank([0], [1], [0], 6, iterations=0)


def test_pick_seeds_only_connected_and_reproducible():
    degree = np.array([0, 2, 1, 0, 3, 1])
    a = pick_seeds([0, 1, 2, 3, 4], degree, 2, np.random.default_rng(5))
    b = pick_seeds([0, 1, 2, 3, 4], degree, 2, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.size == 2 and set(a.tolist()) <= {1, 2, 4}
    np.testing.assert_array_equal(pick_seeds([0, 3, 4], degree, 5, np.random.default_rng(0)), [4])
    assert pick_seeds([0, 3], degree, 1, np.random.default_rng(0)).size == 0
    with pytest.raises(DefenseInputError, match="beyond the degree array"):
        pick_seeds([9], degree, 1, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------
# funding clusters
# ---------------------------------------------------------------------------------------

# Hand-built forest (funder → funded):
#   0 → 1, 0 → 2, 2 → 3        one wallet, one transitive identity: cluster {0, 1, 2, 3}
#   4                          never funded:                          cluster {4}
#   5 → 6                                                             cluster {5, 6}
#   7 → 8, 9 → 8               two wallets funding one identity:      cluster {7, 8, 9}
FOREST_SRC = [0, 0, 2, 5, 7, 9]
FOREST_DST = [1, 2, 3, 6, 8, 8]
FOREST_CLUSTERS = [0, 0, 0, 0, 4, 5, 5, 7, 7, 7]


def test_funding_clusters_hand_built_forest():
    cid = funding_clusters(FOREST_SRC, FOREST_DST, 10)
    np.testing.assert_array_equal(cid, FOREST_CLUSTERS)
    assert cid.dtype == np.int64
    np.testing.assert_array_equal(cluster_sizes(cid), [4, 4, 4, 4, 1, 2, 2, 3, 3, 3])
    # an edge written in the other order (child listed first) gives the same clusters
    np.testing.assert_array_equal(funding_clusters(FOREST_DST, FOREST_SRC, 10), FOREST_CLUSTERS)
    assert funding_clusters([], [], 0).size == 0
    np.testing.assert_array_equal(funding_clusters([], [], 3), [0, 1, 2])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 25),
    edges=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=40),
)
def test_funding_clusters_match_networkx_weak_components(n, edges):
    edges = [(u % n, v % n) for u, v in edges]
    src = np.array([u for u, _ in edges], dtype=np.int64)
    dst = np.array([v for _, v in edges], dtype=np.int64)
    cid = funding_clusters(src, dst, n)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    expected = np.empty(n, dtype=np.int64)
    for comp in nx.weakly_connected_components(g):
        expected[list(comp)] = min(comp)
    np.testing.assert_array_equal(cid, expected)


def test_detect_clusters_method():
    g = FundingGraph()
    g.add_edges(FOREST_SRC, FOREST_DST, np.full(6, 10.0))
    det = detect(g, SybilGraphParams(method="clusters", min_cluster_size=3), 12)
    expected = np.zeros(12, dtype=bool)
    expected[[0, 1, 2, 3, 7, 8, 9]] = True
    np.testing.assert_array_equal(det.flagged, expected)
    np.testing.assert_array_equal(det.cluster_id, [*FOREST_CLUSTERS, 10, 11])
    assert np.isnan(det.relative_trust).all()
    det2 = detect(g, SybilGraphParams(method="clusters", min_cluster_size=2), 10)
    assert det2.flagged[[5, 6]].all() and not det2.flagged[4]


def test_detect_sybilrank_abstains_without_usable_seeds():
    g = FundingGraph()
    params = SybilGraphParams()
    assert not detect(g, params, 5, seeds=[0]).flagged.any()  # no edges at all
    g.add_edges([0, 0], [1, 2], [1.0, 1.0])
    det = detect(g, params, 5, seeds=[4])  # seed 4 has no edge: SybilRank abstains
    assert not det.flagged.any() and np.isnan(det.relative_trust).all()
    with pytest.raises(DefenseInputError, match="needs trust seeds"):
        detect(g, params, 5)
    with pytest.raises(DefenseInputError, match="n_nodes=2"):
        detect(g, params, 2, seeds=[0])


# ---------------------------------------------------------------------------------------
# discount
# ---------------------------------------------------------------------------------------


def test_cluster_discount_one_identity_by_hand():
    rewards = np.array([4.0, 2.0, 2.0, 10.0, 3.0])
    cid = np.array([0, 0, 0, 3, 4])
    # all flagged: cluster 0 earns 8, its best member 4 → scale ½; singletons unchanged
    adj, ret = cluster_discount(rewards, cid, "one_identity")
    np.testing.assert_allclose(adj, [2.0, 1.0, 1.0, 10.0, 3.0])
    assert ret == pytest.approx(4.0)
    # only 0 and 1 flagged: group {0, 1} earns 6, best 4 → scale ⅔; account 2 untouched
    flagged = np.array([True, True, False, False, False])
    adj, ret = cluster_discount(rewards, cid, "one_identity", flagged)
    np.testing.assert_allclose(adj, [8 / 3, 4 / 3, 2.0, 10.0, 3.0])
    assert ret == pytest.approx(2.0)
    # m equal earners are paid as one of them: r/m each
    adj, ret = cluster_discount(np.full(4, 6.0), np.zeros(4, dtype=np.int64), "one_identity")
    np.testing.assert_allclose(adj, 1.5)
    assert ret == pytest.approx(18.0)


def test_cluster_discount_float_factor_by_hand():
    rewards = np.array([4.0, 2.0, 2.0, 10.0, 3.0])
    flagged = np.array([True, False, True, False, False])
    adj, ret = cluster_discount(rewards, np.arange(5), 0.25, flagged)
    np.testing.assert_allclose(adj, [1.0, 2.0, 0.5, 10.0, 3.0])
    assert ret == pytest.approx(4.5)
    adj, ret = cluster_discount(rewards, np.arange(5), 0.0, flagged)
    np.testing.assert_allclose(adj, [0.0, 2.0, 0.0, 10.0, 3.0])
    assert ret == pytest.approx(6.0)


def test_cluster_discount_errors():
    with pytest.raises(DefenseInputError, match="rewards_by_account"):
        cluster_discount([-1.0], [0], "one_identity")
    with pytest.raises(DefenseInputError, match="same length"):
        cluster_discount([1.0, 2.0], [0], "one_identity")
    with pytest.raises(DefenseParamError, match="mode"):
        cluster_discount([1.0], [0], 2.0)
    with pytest.raises(DefenseParamError, match="mode"):
        cluster_discount([1.0], [0], "half")
    with pytest.raises(DefenseInputError, match="boolean mask"):
        cluster_discount([1.0], [0], "one_identity", flagged=[1])


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.floats(0, 1e6, allow_nan=False),  # reward
            st.integers(0, 5),  # cluster
            st.booleans(),  # flagged
        ),
        min_size=1,
        max_size=40,
    ),
    mode=st.one_of(st.just("one_identity"), st.floats(0.0, 1.0)),
)
def test_cluster_discount_conserves_and_only_lowers(data, mode):
    r = np.array([d[0] for d in data])
    cid = np.array([d[1] for d in data], dtype=np.int64)
    fl = np.array([d[2] for d in data])
    adj, ret = cluster_discount(r, cid, mode, fl)
    assert ret >= 0.0
    assert math.isclose(adj.sum() + ret, r.sum(), rel_tol=1e-12, abs_tol=1e-9)
    assert np.all(adj >= 0.0) and np.all(adj <= r)
    np.testing.assert_array_equal(adj[~fl], r[~fl])
    if mode == "one_identity":
        for c in np.unique(cid[fl]):  # check each flagged group against its definition
            members = fl & (cid == c)
            assert adj[members].sum() == pytest.approx(r[members].max(), rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------------------------------
# the stateful defence
# ---------------------------------------------------------------------------------------


def test_defense_cadence_and_discount_of_a_sybil_star():
    d = SybilGraphDefense(SybilGraphParams(method="clusters", every_epochs=3, min_cluster_size=3))
    assert [d.is_due(e) for e in range(7)] == [True, False, False, True, False, False, True]
    rewards = np.array([0.0, 5.0, 5.0, 5.0, 5.0, 7.0])
    # before any detection nothing is discounted
    adj, ret = d.apply(rewards)
    np.testing.assert_array_equal(adj, rewards)
    assert ret == 0.0
    # operator wallet 0 funds identities 1..4; 5 is honest and unfunded
    d.record_funding([0, 0, 0, 0], [1, 2, 3, 4], [10.0] * 4)
    assert not d.update(epoch=1, n_accounts=6)  # not due
    assert d.update(epoch=3, n_accounts=6) and d.runs == 1 and d.last_epoch == 3
    adj, ret = d.apply(rewards)
    np.testing.assert_allclose(adj, [0.0, 1.25, 1.25, 1.25, 1.25, 7.0])  # one identity: 5 in all
    assert ret == pytest.approx(15.0)
    # a new account (id 6) opened after the detection is an unflagged singleton
    adj, _ = d.apply(np.append(rewards, 2.0))
    assert adj[6] == 2.0
    np.testing.assert_array_equal(d.cluster_id(7), [0, 0, 0, 0, 0, 5, 6])
    assert d.update(epoch=4, n_accounts=7, force=True) and d.runs == 2
    with pytest.raises(DefenseParamError, match="SybilGraphParams"):
        SybilGraphDefense("clusters")  # type: ignore[arg-type]
