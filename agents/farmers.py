"""Reward farmers: identities that try to earn rewards without adding value.

* ``duplicate`` — re-upload exact copies of other owners' accepted points;
* ``near_duplicate`` — re-upload copies with a tiny jitter (defeats exact hashing);
* ``sybil`` — one operator runs many identities funded by a topology
  (``farmers.sybil_funding``): fanned out from the operator's wallet, passed down a chain
  or a tree of identities (those funding transfers are the funding-graph edges a
  ``sybil_graph`` defence sees), or bought by each identity on the market, as any consumer
  does (no on-chain link); identities upload copies, jittered copies or fresh, noisily
  labelled points, and an adaptive operator adds identities while sybil farming pays;
* ``wash`` — wash consumers (:class:`WashSet`) upload jittered copies and then pay for
  inferences whose queries sit on their own points, so a per-inference (retrieval)
  attribution credits their data with their own fees and a share of emission; a builder
  may run them against its own model and pass its fee share back
  (``farmers.wash_run_by_builder``).

Farmers are profit-seekers: they stay while rewards (valued at the token price) cover
their costs and leave otherwise (the shared churn rule), so a defence that makes farming
unprofitable shows up as a shrinking farmer population; with ``population.adaptation``
they also move to whichever open strategy pays (``agents.adaptive``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.adaptive import ADAPTIVE_COLUMNS, AdversarySet
from ledgerlab.agents.base import AccountRegistry, ChurnRule, TokenMarket
from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.plans import (
    CONTENT_KIND,
    S_DUPLICATE,
    S_LEAVE,
    S_NEAR_DUPLICATE,
    S_SYBIL,
    S_WASH,
    Kind,
    SubmissionPlan,
    plan_for,
    poisson_submissions,
)

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Adaptation, Farmers

# Strategy codes of the ``strategy`` column.
STRAT_DUPLICATE, STRAT_NEAR_DUPLICATE, STRAT_SYBIL, STRAT_OPERATOR = range(4)
STRATEGY_NAMES = ("duplicate", "near_duplicate", "sybil", "operator")
_SYBIL_KIND = {
    "duplicate": Kind.DUPLICATE,
    "near_duplicate": Kind.NEAR_DUPLICATE,
    "fresh": Kind.HONEST,  # freshly drawn points at the sybils' label quality
}
_PLAYING_OF = np.array([S_DUPLICATE, S_NEAR_DUPLICATE, S_SYBIL, -1], dtype=np.int8)
"""Launch strategy (``agents.plans.STRATEGIES`` code) of each farmer ``strategy`` code
(operators play nothing themselves: their identities do)."""


def adaptive_kinds(playing: np.ndarray, sybil_content: str) -> np.ndarray:
    """Point kind of each submission of an adaptive adversary from the strategy it plays
    (``sybil``: the operator's ``sybil_content``)."""
    kind = CONTENT_KIND[playing]
    return np.where(playing == S_SYBIL, _SYBIL_KIND[sybil_content], kind).astype(np.int8)


def funding_tree(n: int, branching: int) -> tuple[np.ndarray, np.ndarray]:
    """Funding tree of ``n`` identities below their operator (node 0; identities are
    nodes 1..n in breadth-first order, each with ``branching`` children): the parent of
    each identity and the size of the subtree it heads (itself included), so each
    funder passes on what its subtree needs. ``branching`` 1 is a chain."""
    k = np.arange(1, n + 1)
    if branching == 1:  # a chain: each identity passes on what the rest need
        return k - 1, n - k + 1
    parent = (k - 1) // branching
    depth = np.zeros(n + 1, dtype=np.int64)
    for level_start in _levels(n, branching):  # O(log n) levels (n for a chain)
        depth[level_start] = depth[parent[level_start - 1]] + 1
    size = np.ones(n + 1, dtype=np.int64)
    for d in range(int(depth.max()), 0, -1):  # bottom-up, one level at a time
        at = np.flatnonzero(depth == d)
        np.add.at(size, parent[at - 1], size[at])
    return parent, size[1:]


def _levels(n: int, branching: int) -> list[np.ndarray]:
    """Node ids of each level of a breadth-first tree of ``n`` nodes below a root."""
    levels: list[np.ndarray] = []
    first, width = 1, branching
    while first <= n:
        levels.append(np.arange(first, min(first + width, n + 1)))
        first += width
        width *= branching
    return levels


class FarmerSet(AdversarySet):
    """Duplicate, near-duplicate and sybil farmers.

    Columns: ``strategy`` (launch code, see ``STRATEGY_NAMES``), ``operator`` (ledger
    account of the sybil operator's wallet, -1 for others), ``datanet`` (target datanet
    index), and the adaptive columns (``agents.adaptive``): a sybil identity plays by its
    operator's weights, a plain farmer by its own. Parameters come from
    ``scenario.population.farmers`` (units in the schema).
    """

    role: ClassVar[str] = "farmers"
    opens: ClassVar[frozenset[str]] = frozenset({"sybil"})
    extra_columns: ClassVar[dict[str, object]] = {
        "strategy": np.int8,
        "operator": np.int64,
        "datanet": np.int64,
        **ADAPTIVE_COLUMNS,
    }

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        market: TokenMarket,
        farmers: Farmers,
        churn: ChurnRule,
        n_datanets: int,
        adaptation: Adaptation | None = None,
        allowed: np.ndarray | None = None,
    ) -> None:
        super().__init__(model, accounts, churn, adaptation, allowed)
        self.market = market
        self.params = farmers
        self.n_datanets = n_datanets

    def populate(self, rng: np.random.Generator) -> None:
        """Create the launch population: plain farmers, then operators and identities."""
        p = self.params
        n_dn = self.n_datanets
        for strategy, count in (
            (STRAT_DUPLICATE, p.duplicate),
            (STRAT_NEAR_DUPLICATE, p.near_duplicate),
        ):
            if count:
                self.add(
                    count,
                    strategy=strategy,
                    operator=-1,
                    datanet=rng.integers(0, n_dn, size=count),
                    playing=_PLAYING_OF[strategy],
                )
        for _ in range(p.sybil_operators):  # one operator at a time: a handful at most
            self.add_operator(rng)
        self.founders = len(self)

    def add_operator(self, rng: np.random.Generator) -> None:
        """Add one sybil operator and its identities, funded by the scenario's topology."""
        p = self.params
        op_row = self.add(1, strategy=STRAT_OPERATOR, operator=-1, datanet=0, playing=-1)
        self.cols.operator[op_row] = int(self.cols.account[op_row[0]])
        datanet = int(rng.integers(0, self.n_datanets))
        self.add_identities(int(op_row[0]), p.identities_per_operator, datanet)

    def add_identities(self, op_row: int, n: int, datanet: int) -> np.ndarray:
        """Add ``n`` identities to the operator at ``op_row`` on ``datanet`` and fund them
        (:meth:`fund_identities`). Returns their rows."""
        op_acct = int(self.cols.account[op_row])
        ids = self.add(
            n,
            strategy=STRAT_SYBIL,
            operator=op_acct,
            datanet=datanet,
            playing=S_SYBIL,
            learner=op_row,
        )
        self.fund_identities(op_acct, self.cols.account[ids])
        return ids

    def fund_identities(self, op_acct: int, ids: np.ndarray) -> None:
        """Fund new identities with ``sybil_funding_tokens`` each, by the topology:

        * ``fan`` — the operator buys the funding on the market and sends each its share;
        * ``chain`` / ``tree`` — the operator buys it all and funds the first identities,
          which pass on what the identities below them need (funding-graph edges between
          identities; a chain is a tree with one child per funder);
        * ``exchange`` — each identity buys its own funding on the market, as consumers
          do: no funding edge links it to the operator or to another identity.

        A thin market may sell less than asked for: funders share what they got.
        """
        p = self.params
        funding = p.sybil_funding_tokens
        if funding <= 0 or ids.size == 0:
            return
        if p.sybil_funding == "exchange":
            self.market.buy_tokens_for(ids, np.full(ids.size, funding))
            return
        self.market.buy_tokens_for(np.array([op_acct]), np.array([funding * ids.size]))
        each = self.accounts.affordable_each(op_acct, ids.size, funding)
        if each <= 0:
            return
        if p.sybil_funding == "fan":
            self.accounts.fund(op_acct, ids, each)
            return
        branching = 1 if p.sybil_funding == "chain" else p.sybil_tree_branching
        parent, subtree = funding_tree(ids.size, branching)
        nodes = np.concatenate([[op_acct], ids])
        # One batch of transfers with a source per edge (the ledger applies a batch at
        # once, so a chain a → b → c passes on empty accounts).
        self.accounts.fund(nodes[parent], ids, each * subtree)  # type: ignore[arg-type]

    def founding_code(self, rows: np.ndarray) -> np.ndarray:
        """Launch strategy of each learner: operators start on ``sybil``."""
        code = self.cols.playing[rows].astype(np.int64)
        return np.where(self.cols.strategy[rows] == STRAT_OPERATOR, S_SYBIL, code)

    def learner_open(self, rows: np.ndarray) -> np.ndarray:
        """Only operators (for their identities) may play ``sybil``."""
        opened = super().learner_open(rows)
        opened[:, S_SYBIL] &= self.cols.strategy[rows] == STRAT_OPERATOR
        return opened

    def grow(self, due: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> int:
        """Operators whose identities' sybil farming returned more than
        ``grow_above_return`` since their last review add identities, up to
        ``max_identities_per_operator``. Returns the identities added."""
        a = self.adaptation
        assert a is not None
        cols = self.cols
        is_op = cols.strategy[due] == STRAT_OPERATOR
        pays = observed[:, S_SYBIL] > a.grow_above_return  # NaN (not played) never grows
        growing = due[is_op & pays]
        if growing.size == 0 or a.identities_added_per_review == 0:
            return 0
        own = np.flatnonzero(cols.active & (cols.strategy == STRAT_SYBIL))
        counts = np.bincount(cols.learner[own], minlength=len(cols))
        room = np.maximum(a.max_identities_per_operator - counts[growing], 0)
        add = np.minimum(room, a.identities_added_per_review)
        # An operator farms one datanet: its identities' (it has some: its sybil farming paid).
        datanet = np.zeros(len(cols), dtype=np.int64)
        datanet[cols.learner[own]] = cols.datanet[own]
        added = 0
        for op_row, n in zip(growing, add, strict=True):  # the growing operators: a handful
            if n > 0:
                added += int(self.add_identities(int(op_row), int(n), int(datanet[op_row])).size)
        return added

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Newcomers copy the strategy mix of the launch population (operators excluded)."""
        founders = self.cols.strategy[: self.founders]
        plain = founders[founders < STRAT_SYBIL]
        if plain.size == 0:
            return np.empty(0, dtype=np.int64)
        strategy = rng.choice(plain, size=n)
        return self.add(
            n,
            strategy=strategy,
            operator=-1,
            datanet=rng.integers(0, self.n_datanets, size=n),
            playing=_PLAYING_OF[strategy],
        )

    def on_leave(self, rows: np.ndarray) -> None:
        """An operator leaving takes its identities with it."""
        cols = self.cols
        ops = cols.account[rows[cols.strategy[rows] == STRAT_OPERATOR]]
        if ops.size:
            orphan = cols.active & np.isin(cols.operator, ops)
            cols.active[orphan] = False
            cols.left_epoch[orphan] = self.accounts.epoch

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """This epoch's farmed submissions (operators themselves do not submit; with
        adaptation, each identity uploads what its strategy says and ``leave`` nothing)."""
        p = self.params
        cols = self.cols
        active = self.active_rows()
        if self.adaptation is not None:
            playing = cols.playing[active]
            uploaders = active[(playing >= 0) & (playing != S_LEAVE)]
            rows = poisson_submissions(rng, uploaders, p.submissions_per_epoch)
            kind = adaptive_kinds(cols.playing[rows], p.sybil_content)
        else:
            uploaders = active[cols.strategy[active] != STRAT_OPERATOR]
            rows = poisson_submissions(rng, uploaders, p.submissions_per_epoch)
            strategy = cols.strategy[rows]
            kind = np.where(
                strategy == STRAT_DUPLICATE,
                Kind.DUPLICATE,
                np.where(
                    strategy == STRAT_NEAR_DUPLICATE,
                    Kind.NEAR_DUPLICATE,
                    _SYBIL_KIND[p.sybil_content],
                ),
            ).astype(np.int8)
        return plan_for(
            self.role,
            rows,
            cols.account,
            cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=kind,
            quality=p.sybil_label_quality,
            cost_usd_per_point=p.cost_usd_per_point,
        )


class WashSet(AdversarySet):
    """Wash consumers: upload jittered copies, then buy inferences that retrieve them.

    Columns: ``builder`` (row of the colluding builder whose model they query),
    ``datanet`` (that builder's datanet), and the adaptive columns (``agents.adaptive``):
    with adaptation a wash consumer may turn to another open strategy (then it uploads
    that content and buys no inferences) or sit out. Parameters come from
    ``scenario.population.farmers`` (``wash``, ``wash_inferences_per_epoch``, ...).
    """

    role: ClassVar[str] = "wash"
    opens: ClassVar[frozenset[str]] = frozenset({"wash"})
    extra_columns: ClassVar[dict[str, object]] = {
        "builder": np.int64,
        "datanet": np.int64,
        "inferences_this_epoch": np.int64,
        "kickback_tokens": np.float64,
        **ADAPTIVE_COLUMNS,
    }

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        farmers: Farmers,
        churn: ChurnRule,
        builders: BuilderSet,
        adaptation: Adaptation | None = None,
        allowed: np.ndarray | None = None,
    ) -> None:
        super().__init__(model, accounts, churn, adaptation, allowed)
        self.params = farmers
        self.builders = builders
        self.pending_income_usd = np.zeros(0)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Add ``n`` wash consumers, each colluding with a random builder."""
        builders = self.builders
        if len(builders) == 0:
            return np.empty(0, dtype=np.int64)
        b = rng.integers(0, len(builders), size=n)
        return self.add(n, builder=b, datanet=builders.cols.datanet[b], playing=S_WASH)

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """Jittered copies to be retrieved later by the wash queries (with adaptation:
        the content of each row's strategy, nothing for ``leave``)."""
        p = self.params
        if self.adaptation is not None:
            active = self.active_rows()
            uploaders = active[self.cols.playing[active] != S_LEAVE]
            rows = poisson_submissions(rng, uploaders, p.submissions_per_epoch)
            kind: np.ndarray | int = adaptive_kinds(self.cols.playing[rows], p.sybil_content)
        else:
            rows = poisson_submissions(rng, self.active_rows(), p.submissions_per_epoch)
            kind = Kind.NEAR_DUPLICATE
        return plan_for(
            self.role,
            rows,
            self.cols.account,
            self.cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=kind,
            quality=1.0,
            cost_usd_per_point=p.cost_usd_per_point,
        )

    def demand(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Self-dealt inferences this epoch: (rows, inference counts), Poisson per row
        (with adaptation, only the rows playing ``wash``)."""
        rows = self.active_rows()
        if self.adaptation is not None:
            rows = rows[self.cols.playing[rows] == S_WASH]
        counts = rng.poisson(self.params.wash_inferences_per_epoch, size=rows.size)
        keep = counts > 0
        self.cols.inferences_this_epoch[:] = 0
        self.cols.inferences_this_epoch[rows[keep]] = counts[keep]
        return rows[keep], counts[keep].astype(np.int64)

    def take_kickbacks(self, builder_share_tokens: np.ndarray, price_usd: float) -> float:
        """A builder-run ring (``wash_run_by_builder``): each colluding builder passes its
        share of the fees of this epoch's wash inferences on its model
        (``builder_share_tokens``: tokens per inference, per builder row) back to the wash
        consumers who paid them, at most what it holds, in one batch of transfers. The
        kickback is their income this epoch (booked at ``price_usd`` with their rewards).
        Returns the tokens passed back."""
        cols = self.cols
        self.pending_income_usd = np.zeros(len(cols))
        if not self.params.wash_run_by_builder:
            return 0.0
        rows = np.flatnonzero(cols.inferences_this_epoch > 0)
        if rows.size == 0:
            return 0.0
        b = cols.builder[rows]
        want = cols.inferences_this_epoch[rows] * builder_share_tokens[b]
        ledger = self.accounts.ledger
        src = self.builders.cols.account[b]
        owed = np.bincount(b, weights=want, minlength=len(self.builders))
        have = ledger.balance[self.builders.cols.account]
        scale = np.divide(have, owed, out=np.ones_like(owed), where=owed > have)
        amounts = want * np.minimum(scale, 1.0)[b] * (1.0 - 1e-12)
        ledger.transfer_many(src, cols.account[rows], amounts)
        cols.kickback_tokens[rows] += amounts
        self.pending_income_usd[rows] = amounts * price_usd
        return float(amounts.sum())

    def record_income(self, rows: np.ndarray, income_usd: np.ndarray, cost_usd: np.ndarray) -> None:
        """Book the epoch's income and cost, the builder's kickbacks included."""
        extra = np.zeros(len(self.cols))
        extra[: self.pending_income_usd.size] = self.pending_income_usd
        self.pending_income_usd = np.zeros(0)
        inc = np.bincount(
            rows, weights=np.broadcast_to(income_usd, rows.shape), minlength=extra.size
        )
        super().record_income(
            np.arange(extra.size),
            inc + extra,
            np.bincount(rows, weights=np.broadcast_to(cost_usd, rows.shape), minlength=extra.size),
        )
