"""Where the defences plug into the epoch loop.

``DefensePipeline`` holds the scenario's defences in the order listed and is called at
four points of an epoch:

* ``screen`` (phase 2): each datanet's submitted points → accept mask. Screening
  defences (``rate_limit``, ``dedup``, ``quality_filter``, ``validator_vote``) refuse
  points; ``stake_slash`` takes a bond per submission and records how badly the
  submission failed validation (its severity) for slashing at the end of the challenge
  window; ``reputation`` scores each submitter by the share of its submissions that
  passed.
* ``adjust_weights`` (phase 5): per-account reward weights × reputation multiplier ×
  earning age (``rate_limit.min_age_epochs``).
* ``cap_rewards`` (phase 5): per-account rewards after the sybil-cluster discount and
  the wash guard's cap; what is withheld stays in the reward pools.
* ``after_rewards`` (phase 5): bonds whose challenge window ended are released or
  slashed on the ledger.

The formulas live in ``economics/defenses/`` (parameters built by ``sim.build``); this
module wires them to the account registry, the market and the validators it is given, and
measures both sides of each defence: what it caught (flags on adversaries, precision and
recall) and what it cost (honest points refused, honest individuals slashed, rewards
withheld, extra transactions). An epoch's measurements go into its
``sim.flows.DefenseFlows``; the pipeline keeps only what lasts (bonds, reputation, the
funding graph, whole-run totals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial import cKDTree

from ledgerlab.agents.base import ROLE_NAMES
from ledgerlab.agents.providers import ProviderSet
from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.economics import defenses as D
from ledgerlab.economics import metrics as M
from ledgerlab.sim import build
from ledgerlab.sim import datanet as dn
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.flows import DefenseFlows

if TYPE_CHECKING:
    from ledgerlab.sim.world import DatanetState

KINDS = (
    "stake_slash",
    "reputation",
    "dedup",
    "quality_filter",
    "sybil_graph",
    "rate_limit",
    "wash_guard",
    "validator_vote",
)
"""Every defence kind, in the order of DESIGN.md."""

SCREENING = ("rate_limit", "dedup", "quality_filter", "validator_vote")
"""Defences that refuse points at submission time."""

ALLIED_ROLES = ("farmers", "wash")
"""Roles whose submissions colluding validators approve whatever their quality."""

CHALLENGE_CHECK = D.QualityFilterParams(knn_k=10, min_label_agreement=0.4)
"""The validators' challenge when no screening defence is configured: a point fails when
fewer than 40 % of its 10 nearest accepted points share its label. It scores bonds and
reputation; it refuses nothing."""

FAIL_SHARE = 0.6
"""A bonded submission fails validation when at least this share of its points is
flagged (fraction); passing submissions are never slashed."""


@dataclass
class ScreenContext:
    """One datanet's submissions of one epoch, as the screening defences see them.

    Attributes:
        datanet: Datanet index.
        state: The datanet's state (accepted points so far).
        batch: Submitted points. ``batch.y_true`` and ``batch.kind`` are simulator truth:
            only the validators' manual label checks (``validator_vote``) read
            ``y_true``, through a noisy score; no other defence reads either.
        submission: Submission index of every point (into the ``submission_*`` arrays).
        submission_owner: Ledger account of each submission's submitter.
        submission_role: Role code of each submission's submitter.
    """

    datanet: int
    state: DatanetState
    batch: dn.Batch
    submission: np.ndarray
    submission_owner: np.ndarray
    submission_role: np.ndarray


def _kpi_names() -> tuple[str, ...]:
    """Every defence KPI (a timeseries column each; NaN without defences)."""
    names = [
        "defense_rejected_points",
        "defense_rejected_honest_points",
        "defense_rejected_adversary_points",
        "defense_false_reject_rate",
        "defense_withheld_tokens",
        "defense_tx",
        "slashed_tokens",
        "slashed_honest_tokens",
        "false_slash_rate",
        "sybil_flagged_accounts",
    ]
    for k in SCREENING:
        names += [f"{k}_flagged_points", f"{k}_precision", f"{k}_recall"]
    return tuple(names)


KPI_NAMES = _kpi_names()
"""The defence KPIs, in column order."""


def kpi_description(name: str) -> str:
    """What a defence KPI measures, its unit, and when it is NaN (every one is NaN in a
    run without defences)."""
    fixed = {
        "defense_rejected_points": "points the defences refused this epoch (points)",
        "defense_rejected_honest_points": "honest points refused this epoch: the defences' "
        "cost to honest contributors (points)",
        "defense_rejected_adversary_points": "adversaries' points refused this epoch (points)",
        "defense_false_reject_rate": "honest points refused ÷ honest points submitted this "
        "epoch (fraction; NaN when no honest point was submitted)",
        "defense_withheld_tokens": "rewards withheld by reputation, sybil discounts and the "
        "wash cap this epoch (tokens)",
        "defense_tx": "transactions the defences sent to the chain (bonds, slashes, votes)",
        "slashed_tokens": "bond tokens slashed this epoch (tokens)",
        "slashed_honest_tokens": "bond tokens slashed from honest contributors this epoch (tokens)",
        "false_slash_rate": "honest contributors ever slashed ÷ honest contributors ever "
        "bonded (fraction; NaN before any bond)",
        "sybil_flagged_accounts": "accounts the sybil-graph defence flags this epoch (accounts)",
    }
    if name in fixed:
        return fixed[name]
    for k in SCREENING:
        if name == f"{k}_flagged_points":
            return f"points {k} flagged this epoch (points; NaN when {k} is off)"
        if name == f"{k}_precision":
            return (
                f"share of {k}'s flags this epoch that hit adversaries' points (fraction; "
                f"NaN when {k} is off or flagged nothing)"
            )
        if name == f"{k}_recall":
            return (
                f"share of adversaries' submitted points {k} flagged this epoch (fraction; "
                f"NaN when {k} is off or no adversary point was screened)"
            )
    raise KeyError(name)


FLOW_KPI_NAMES = (
    "defense_rejected_points",
    "defense_rejected_honest_points",
    "defense_rejected_adversary_points",
    "defense_withheld_tokens",
    "defense_tx",
    "slashed_tokens",
    "slashed_honest_tokens",
    *(f"{k}_flagged_points" for k in SCREENING),
)
"""The per-epoch flows among :data:`KPI_NAMES` (points, tokens, transactions)."""


class DefensePipeline:
    """The scenario's defences, applied in the order listed. With no defences every call
    is the identity: everything is accepted and rewards are paid as attributed.

    Args:
        specs: The scenario's ``defenses`` entries.
        accounts: The account registry (adversary flags, join epochs, funding graph).
        exchange: The market submitters buy their bonds on.
        validators: The validators who vote (``validator_vote``) and their stake.
        providers: The honest providers, whose founders seed SybilRank's trust.
        rng: The defences' random stream.
    """

    def __init__(
        self,
        specs: Sequence[Any],
        accounts: Accounts,
        exchange: Exchange,
        validators: ValidatorSet,
        providers: ProviderSet,
        rng: np.random.Generator,
    ) -> None:
        self.specs = tuple(specs)
        self.kinds = tuple(s.kind for s in self.specs)
        self.params: dict[str, Any] = {s.kind: build.defense_params(s) for s in self.specs}
        self.accounts = accounts
        self.exchange = exchange
        self.validators = validators
        self.providers = providers
        self.rng = rng
        self.reputation = np.zeros(0)
        self.book = D.BondBook(self.params["stake_slash"]) if "stake_slash" in self.params else None
        self.sybil = (
            D.SybilGraphDefense(self.params["sybil_graph"])
            if "sybil_graph" in self.params
            else None
        )
        self._edges_seen = 0
        self._totals: dict[str, float] = dict.fromkeys(
            (
                "rejected_points",
                "rejected_honest_points",
                "submitted_honest_points",
                "rejected_adversary_points",
                "submitted_adversary_points",
                "withheld_tokens",
                "slashed_tokens",
                "slashed_honest_tokens",
            ),
            0.0,
        )
        self._flags: dict[str, list[float]] = {k: [0.0, 0.0, 0.0] for k in SCREENING}
        self._slashed_honest_ids: set[int] = set()
        self._bonded_honest_ids: set[int] = set()

    @property
    def active(self) -> bool:
        """Whether any defence is configured."""
        return bool(self.specs)

    # --------------------------------------------------------------- phase 2: screen
    def screen(self, ctx: ScreenContext, flows: DefenseFlows) -> np.ndarray:
        """Accept mask over ``ctx.batch``'s points (all True without screening defences);
        bonds and reputation are judged on the way."""
        n = ctx.batch.size
        if not self.active or n == 0:
            return np.ones(n, dtype=bool)
        batch = ctx.batch
        store = ctx.state.store
        ref = ctx.state.training_rows()
        tree = cKDTree(store.x[ref]) if ref.size else None
        adversary = self.accounts.cols.adversary[batch.owner]
        results: list[D.ScreenResult] = []
        for kind in self.kinds:
            if kind not in SCREENING:
                continue
            res = self._screen_one(kind, ctx, ref, tree)
            results.append(res)
            # The rate limit refuses without flagging; its catch is what it refused.
            caught = ~np.asarray(res.accept) if kind == "rate_limit" else res.flagged
            self._count_flags(kind, caught, adversary, flows)
        combined = D.combine(results) if results else D.ScreenResult.passthrough(n, "none")
        accept = np.array(combined.accept, dtype=bool)
        # What bonds and reputation are judged by: the screening defences' flags, or
        # without any, a validators' challenge (CHALLENGE_CHECK) that refuses nothing.
        validation = combined
        if (
            not results
            and tree is not None
            and (self.book is not None or "reputation" in self.params)
        ):
            validation = D.screen_quality(
                batch.x, batch.y, store.x[ref], store.y[ref], CHALLENGE_CHECK, ref_tree=tree
            )
        if self.book is not None:
            self._bond(ctx, validation, flows)
        if "reputation" in self.params:
            self._score(ctx, accept & ~np.asarray(validation.flagged, dtype=bool))
        self._count_rejections(accept, adversary, flows)
        return accept

    def _screen_one(
        self, kind: str, ctx: ScreenContext, ref: np.ndarray, tree: cKDTree | None
    ) -> D.ScreenResult:
        """One screening defence's verdict on the batch (``ref``: the accepted rows it is
        compared with, ``tree`` their kd-tree)."""
        p = self.params[kind]
        batch, sub, store = ctx.batch, ctx.submission, ctx.state.store
        if kind == "rate_limit":
            r = D.screen_rate(ctx.submission_owner, p)
            refused = ~r.accept[sub]
            return D.ScreenResult.from_masks(
                kind, r.accept[sub], r.flagged[sub], r.severity[sub], [("rate", refused)]
            )
        if kind == "dedup":
            return D.screen_duplicates(
                batch.x,
                batch.hash,
                batch.owner,
                store.x[ref],
                store.hash[ref],
                store.owner[ref],
                p,
                old_tree=tree,
            )
        if kind == "quality_filter":
            return D.screen_quality(batch.x, batch.y, store.x[ref], store.y[ref], p, ref_tree=tree)
        return self._vote(ctx, p)

    def _vote(self, ctx: ScreenContext, p: Any) -> D.ScreenResult:
        """Validators check each submission's labels (a noisy score of its true label
        accuracy); colluders approve their allies; Yuma consensus decides."""
        v = self.validators
        n_sub = ctx.submission_owner.size
        correct = np.bincount(
            ctx.submission, weights=(ctx.batch.y == ctx.batch.y_true), minlength=n_sub
        )
        size = np.maximum(np.bincount(ctx.submission, minlength=n_sub), 1)
        quality = correct / size
        allied = np.isin(ctx.submission_role, [ROLE_NAMES.index(r) for r in ALLIED_ROLES])
        stake = self.accounts.ledger.staked[v.cols.account]
        if stake.sum() <= 0:
            return D.ScreenResult.passthrough(ctx.batch.size, "validator_vote")
        out = D.vote_and_screen(quality, allied, stake, v.cols.colluding, p, self.rng)
        ok = np.asarray(out.approved, dtype=bool)[ctx.submission]
        return D.ScreenResult.from_masks(
            "validator_vote", ok, ~ok, (~ok).astype(float), [("vote", ~ok)]
        )

    def _bond(self, ctx: ScreenContext, validation: D.ScreenResult, flows: DefenseFlows) -> None:
        """Post a bond per submission (submitters buy the tokens they lack on the AMM) and
        record its severity for the end of the challenge window: a submission fails when
        at least ``FAIL_SHARE`` of its points are flagged by ``validation``, and is then
        slashed by its points' mean slash severity. Bonds refuse nobody: submitters buy
        what they lack."""
        assert self.book is not None
        p: D.StakeSlashParams = self.params["stake_slash"]
        n_sub = ctx.submission_owner.size
        n_pts = np.bincount(ctx.submission, minlength=n_sub)
        required = D.bond_required(n_pts, p)
        owners = ctx.submission_owner
        led = self.accounts.ledger
        need = np.bincount(owners, weights=required, minlength=led.n_accounts)
        accts = np.flatnonzero(need > 0)
        shortfall = np.maximum(need[accts] - led.balance[accts], 0.0) * (1.0 + 1e-9)
        self.exchange.buy_tokens_for(accts, shortfall)  # USD → tokens the submitter keeps
        led.bond_many(accts, np.minimum(need[accts], led.balance[accts]))
        sev_pts = np.asarray(validation.slash_severity, dtype=float)
        per_pt = np.maximum(n_pts, 1)
        flagged_share = np.bincount(ctx.submission, weights=sev_pts > 0, minlength=n_sub) / per_pt
        mean_sev = np.bincount(ctx.submission, weights=sev_pts, minlength=n_sub) / per_pt
        # A submission fails validation when at least FAIL_SHARE of its points are flagged;
        # only failed submissions are slashed, by their mean severity.
        sev = np.where(flagged_share >= FAIL_SHARE, mean_sev, 0.0)
        ids = self.book.post(owners, required, self.accounts.epoch)
        self.book.set_severity(ids, np.clip(sev, 0.0, 1.0))
        honest = ~self.accounts.cols.adversary[owners]
        self._bonded_honest_ids.update(int(a) for a in np.unique(owners[honest]))
        flows.tx += float(n_sub)

    def _score(self, ctx: ScreenContext, passed_pts: np.ndarray) -> None:
        """Reputation update from the share of each submitter's points that passed."""
        p: D.ReputationParams = self.params["reputation"]
        n = self.accounts.ledger.n_accounts
        if self.reputation.size < n:
            grown = np.full(n, p.initial_reputation)
            grown[: self.reputation.size] = self.reputation
            self.reputation = grown
        owners = ctx.batch.owner
        s, observed = D.owner_scores(owners, passed_pts, n)
        self.reputation = D.update_reputation(self.reputation, s, observed, p)

    def _count_flags(
        self, kind: str, flagged: Any, adversary: np.ndarray, flows: DefenseFlows
    ) -> None:
        f = np.asarray(flagged, dtype=bool)
        tp = float(np.count_nonzero(f & adversary))
        flows.flagged_points[kind] = flows.flagged_points.get(kind, 0.0) + float(f.sum())
        acc = self._flags[kind]
        acc[0] += tp
        acc[1] += float(f.sum())
        acc[2] += float(adversary.sum())
        flows.precision[kind], flows.recall[kind] = M.detection_precision_recall(f, adversary)

    def _count_rejections(
        self, accept: np.ndarray, adversary: np.ndarray, flows: DefenseFlows
    ) -> None:
        rej = ~accept
        honest = ~adversary
        flows.rejected_points += float(rej.sum())
        flows.rejected_honest_points += float(np.count_nonzero(rej & honest))
        flows.rejected_adversary_points += float(np.count_nonzero(rej & adversary))
        flows.submitted_honest_points += float(honest.sum())
        t = self._totals
        t["rejected_points"] += float(rej.sum())
        t["rejected_honest_points"] += float(np.count_nonzero(rej & honest))
        t["submitted_honest_points"] += float(honest.sum())
        t["rejected_adversary_points"] += float(np.count_nonzero(rej & adversary))
        t["submitted_adversary_points"] += float(adversary.sum())

    # -------------------------------------------------------------- phase 5: rewards
    def adjust_weights(self, weights: np.ndarray) -> np.ndarray:
        """Per-account reward weights after reputation and earning-age rules."""
        if not self.active:
            return weights
        n = weights.size
        if "reputation" in self.params:
            p = self.params["reputation"]
            r = np.full(n, p.initial_reputation)
            m = min(n, self.reputation.size)
            r[:m] = self.reputation[:m]
            weights = weights * D.reputation_multiplier(r, p)
        if "rate_limit" in self.params and self.params["rate_limit"].min_age_epochs > 0:
            joined = self.accounts.cols.joined_epoch[:n]
            min_age = self.params["rate_limit"].min_age_epochs
            weights = weights * D.earning_mask(joined, self.accounts.epoch, min_age)
        return weights

    def cap_rewards(
        self,
        paid: np.ndarray,
        flows: DefenseFlows,
        independent_fees: Callable[[int], np.ndarray],
    ) -> np.ndarray:
        """Rewards after the sybil discount and the wash cap (withheld tokens stay in the
        pools). ``independent_fees(n)``: per account, the contributor fees paid by
        independent consumers that attribution credited to it (the wash guard's base)."""
        if not self.active:
            return paid
        withheld = 0.0
        if self.sybil is not None:
            paid, held = self._discount_sybils(paid, flows)
            withheld += held
        if "wash_guard" in self.params:
            attributable = independent_fees(paid.size)
            res = D.cap_rewards(paid, attributable, self.params["wash_guard"].multiplier)
            paid = np.asarray(res.capped_tokens, dtype=float)
            withheld += float(res.returned_tokens)
        flows.withheld_tokens = withheld
        self._totals["withheld_tokens"] += withheld
        return paid

    def _discount_sybils(self, paid: np.ndarray, flows: DefenseFlows) -> tuple[np.ndarray, float]:
        """The sybil defence on the funding graph seen so far: rewards after its discount
        and the tokens withheld."""
        assert self.sybil is not None
        n = paid.size
        edges = self.accounts.funding_edges
        protocol = self.accounts.protocol.ids
        clusters = self.params["sybil_graph"].method == "clusters"
        for src, dst, amt in edges[self._edges_seen :]:  # new funding batches only
            if clusters:
                # Protocol grants are not "one wallet funding its identities": a cluster
                # detector ignores them (SybilRank uses them as the honest region's edges).
                keep = ~np.isin(src, protocol)
                src, dst, amt = src[keep], dst[keep], amt[keep]
            if src.size:
                self.sybil.record_funding(src, dst, amt)
        self._edges_seen = len(edges)
        self.sybil.update(self.accounts.epoch, n, seeds=self._trust_seeds())
        res = self.sybil.apply(paid)
        if getattr(self.sybil, "last", None) is not None:
            flagged = self.sybil.flagged(n)
            flagged[protocol[protocol < n]] = False
            flows.sybil_flagged_accounts = float(np.count_nonzero(flagged))
        return np.asarray(res.adjusted_tokens, dtype=float), float(res.returned_tokens)

    def _trust_seeds(self) -> np.ndarray:
        """Accounts the protocol knows to be honest (SybilRank seeds): the first
        launch-time providers, as many as the sybil defence asks for."""
        want = self.params["sybil_graph"].trust_seeds
        n = min(want, self.providers.founders, len(self.providers))
        return self.providers.cols.account[:n].copy()

    def after_rewards(self, price_usd: float, flows: DefenseFlows) -> None:
        """Release or slash the bonds whose challenge window ends this epoch."""
        if self.book is None:
            return
        led = self.accounts.ledger
        due = self.book.due(self.accounts.epoch)
        if due.ids.size == 0:
            return
        s = self.book.ledger_settlement(due, led.bonded)
        p: D.StakeSlashParams = self.params["stake_slash"]
        to = None if p.burns else self.accounts.protocol.treasury
        led.slash_many(s.accounts, s.slash_tokens, to=to)
        led.release_bond_many(s.accounts, s.release_tokens)
        self.book.settle(due.ids)
        slashed = float(s.slash_tokens.sum())
        honest = ~self.accounts.cols.adversary[s.accounts]
        slashed_honest = float(s.slash_tokens[honest].sum())
        self._slashed_honest_ids.update(int(a) for a in s.accounts[honest & (s.slash_tokens > 0)])
        flows.add_cost(s.accounts, s.slash_tokens * price_usd, led.n_accounts)
        flows.slashed_tokens = slashed
        flows.slashed_honest_tokens = slashed_honest
        flows.tx += float(s.accounts.size)
        self._totals["slashed_tokens"] += slashed
        self._totals["slashed_honest_tokens"] += slashed_honest

    # ---------------------------------------------------------------- measurements
    def kpis(self, flows: DefenseFlows) -> dict[str, float]:
        """This epoch's defence measurements (:data:`KPI_NAMES`; none without defences)."""
        if not self.active:
            return {}
        sub_h = flows.submitted_honest_points
        bonded = len(self._bonded_honest_ids)
        out = {
            "defense_rejected_points": flows.rejected_points,
            "defense_rejected_honest_points": flows.rejected_honest_points,
            "defense_rejected_adversary_points": flows.rejected_adversary_points,
            "defense_false_reject_rate": (
                flows.rejected_honest_points / sub_h if sub_h > 0 else np.nan
            ),
            "defense_withheld_tokens": flows.withheld_tokens,
            "defense_tx": flows.tx,
            "slashed_tokens": flows.slashed_tokens,
            "slashed_honest_tokens": flows.slashed_honest_tokens,
            "false_slash_rate": len(self._slashed_honest_ids) / bonded if bonded else np.nan,
            "sybil_flagged_accounts": flows.sybil_flagged_accounts,
        }
        for k in SCREENING:
            on = k in self.params  # precision and recall: of the last batch screened, or 0
            out[f"{k}_flagged_points"] = flows.flagged_points.get(k, 0.0) if on else np.nan
            out[f"{k}_precision"] = flows.precision.get(k, 0.0) if on else np.nan
            out[f"{k}_recall"] = flows.recall.get(k, 0.0) if on else np.nan
        return out

    def summary(self) -> dict[str, Any]:
        """Whole-run defence measurements (entries of ``summary.json``)."""
        if not self.active:
            return {}
        t = self._totals
        out: dict[str, Any] = {
            "defense_false_reject_rate": t["rejected_honest_points"] / t["submitted_honest_points"]
            if t["submitted_honest_points"]
            else float("nan"),
            "defense_adversary_reject_rate": t["rejected_adversary_points"]
            / t["submitted_adversary_points"]
            if t["submitted_adversary_points"]
            else float("nan"),
            "defense_withheld_tokens": t["withheld_tokens"],
            "slashed_tokens": t["slashed_tokens"],
            "slashed_honest_tokens": t["slashed_honest_tokens"],
            "false_slash_rate": len(self._slashed_honest_ids) / len(self._bonded_honest_ids)
            if self._bonded_honest_ids
            else float("nan"),
        }
        for k in SCREENING:
            if k in self.params:
                tp, flagged, positives = self._flags[k]
                out[f"{k}_precision"] = tp / flagged if flagged else float("nan")
                out[f"{k}_recall"] = tp / positives if positives else float("nan")
        return out
