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

The formulas live in ``economics/defenses/``; this module wires them to the model's
arrays and measures both sides of each defence: what it caught (flags on adversaries,
precision and recall) and what it cost (honest points refused, honest individuals
slashed, rewards withheld, extra transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from ledgerlab.agents.base import ROLE_NAMES
from ledgerlab.economics import defenses as D
from ledgerlab.economics import metrics as M
from ledgerlab.sim import datanet as dn

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel
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

CHALLENGE_CHECK = D.QualityFilterParams(k=10, min_label_agreement=0.4)
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


def _params(spec: Any) -> Any:
    """The economics parameter object for one scenario defence section."""
    k = spec.kind
    if k == "stake_slash":
        return D.StakeSlashParams(
            bond_base_tokens=spec.bond_base_tokens,
            bond_per_point_tokens=spec.bond_per_point_tokens,
            challenge_window_epochs=spec.challenge_window_epochs,
            slash_fraction=spec.slash_fraction,
            severity_exponent=spec.severity_exponent,
            slash_to=spec.slash_to,
        )
    if k == "reputation":
        return D.ReputationParams(
            decay=spec.decay,
            gamma=spec.gamma,
            penalty_threshold=spec.penalty_threshold,
            initial=spec.initial_reputation,
        )
    if k == "dedup":
        return D.DedupParams(
            near_distance=spec.near_duplicate_distance, exact=spec.exact, near=spec.near
        )
    if k == "quality_filter":
        return D.QualityFilterParams(
            k=spec.knn_k,
            min_label_agreement=spec.min_label_agreement,
            max_robust_z=spec.max_robust_z,
            min_reference_points=spec.min_reference_points,
        )
    if k == "sybil_graph":
        return D.SybilGraphParams(
            method=spec.method,
            every_epochs=spec.every_epochs,
            discount=spec.discount,
            trust_seeds=spec.trust_seeds,
            iterations=spec.iterations,
            trust_threshold=spec.trust_threshold,
            min_cluster_size=spec.min_cluster_size,
            lazy_walk=spec.lazy_walk,
        )
    if k == "rate_limit":
        return D.RateLimitParams(
            max_submissions_per_epoch=spec.max_submissions_per_epoch,
            min_age_epochs=spec.min_age_epochs,
        )
    if k == "wash_guard":
        return D.WashGuardParams(multiplier=spec.multiplier)
    return D.ValidatorVoteParams(
        kappa=spec.kappa, approve_threshold=spec.approve_threshold, noise_std=spec.noise_std
    )


def _kpi_names() -> tuple[str, ...]:
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


_FLOW_KPI_NAMES = (
    "defense_rejected_points",
    "defense_rejected_honest_points",
    "defense_rejected_adversary_points",
    "defense_withheld_tokens",
    "defense_tx",
    "slashed_tokens",
    "slashed_honest_tokens",
    *(f"{k}_flagged_points" for k in SCREENING),
)


class DefensePipeline:
    """The scenario's defences, applied in the order listed. With no defences every call
    is the identity: everything is accepted and rewards are paid as attributed."""

    KPI_NAMES: ClassVar[tuple[str, ...]] = _kpi_names()
    FLOW_KPI_NAMES: ClassVar[tuple[str, ...]] = _FLOW_KPI_NAMES
    """The per-epoch flows among ``KPI_NAMES`` (points, tokens, transactions)."""

    def __init__(self, model: EconomyModel, specs: Sequence[Any]) -> None:
        self.model = model
        self.specs = tuple(specs)
        self.kinds = tuple(s.kind for s in self.specs)
        self.params: dict[str, Any] = {s.kind: _params(s) for s in self.specs}
        self.rng = model.streams["defenses"]
        self.reputation = np.zeros(0)
        self.book = D.BondBook(self.params["stake_slash"]) if "stake_slash" in self.params else None
        self.sybil = (
            D.SybilGraphDefense(self.params["sybil_graph"])
            if "sybil_graph" in self.params
            else None
        )
        self._edges_seen = 0
        self._epoch_kpis: dict[str, float] = {}
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
                "defense_tx",
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

    def begin_epoch(self) -> None:
        """Reset this epoch's measurements."""
        self._epoch_kpis = dict.fromkeys(self.KPI_NAMES, 0.0) if self.active else {}

    # --------------------------------------------------------------- phase 2: screen
    def screen(self, ctx: ScreenContext) -> np.ndarray:
        """Accept mask over ``ctx.batch``'s points (all True without screening defences)."""
        n = ctx.batch.size
        if not self.active or n == 0:
            return np.ones(n, dtype=bool)
        model = self.model
        batch, sub = ctx.batch, ctx.submission
        store = ctx.state.store
        ref = ctx.state.training_rows()
        tree = cKDTree(store.x[ref]) if ref.size else None
        adversary = model.account_adversary[batch.owner]
        results: list[D.ScreenResult] = []
        for kind in self.kinds:
            p = self.params[kind]
            if kind == "rate_limit":
                r = D.screen_rate(ctx.submission_owner, p)
                res = D.ScreenResult.from_masks(
                    kind, r.accept[sub], r.flagged[sub], r.severity[sub], [("rate", ~r.accept[sub])]
                )
            elif kind == "dedup":
                res = D.screen_duplicates(
                    batch.x,
                    batch.hash,
                    batch.owner,
                    store.x[ref],
                    store.hash[ref],
                    store.owner[ref],
                    p,
                    old_tree=tree,
                )
            elif kind == "quality_filter":
                res = D.screen_quality(
                    batch.x, batch.y, store.x[ref], store.y[ref], p, ref_tree=tree
                )
            elif kind == "validator_vote":
                res = self._vote(ctx, p)
            else:
                continue
            results.append(res)
            # The rate limit refuses without flagging; its catch is what it refused.
            caught = ~np.asarray(res.accept) if kind == "rate_limit" else res.flagged
            self._count_flags(kind, caught, adversary)
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
            self._bond(ctx, validation)
        if "reputation" in self.params:
            self._score(ctx, accept & ~np.asarray(validation.flagged, dtype=bool))
        self._count_rejections(accept, adversary)
        return accept

    def _vote(self, ctx: ScreenContext, p: Any) -> D.ScreenResult:
        """Validators check each submission's labels (a noisy score of its true label
        accuracy); colluders approve their allies; Yuma consensus decides."""
        model = self.model
        v = model.validators
        n_sub = ctx.submission_owner.size
        correct = np.bincount(
            ctx.submission, weights=(ctx.batch.y == ctx.batch.y_true), minlength=n_sub
        )
        size = np.maximum(np.bincount(ctx.submission, minlength=n_sub), 1)
        quality = correct / size
        allied = np.isin(ctx.submission_role, [ROLE_NAMES.index(r) for r in ALLIED_ROLES])
        stake = model.ledger.staked[v.cols.account]
        if stake.sum() <= 0:
            return D.ScreenResult.passthrough(ctx.batch.size, "validator_vote")
        out = D.vote_and_screen(quality, allied, stake, v.cols.colluding, p, self.rng)
        ok = np.asarray(out.approved, dtype=bool)[ctx.submission]
        return D.ScreenResult.from_masks(
            "validator_vote", ok, ~ok, (~ok).astype(float), [("vote", ~ok)]
        )

    def _bond(self, ctx: ScreenContext, validation: D.ScreenResult) -> None:
        """Post a bond per submission (submitters buy the tokens they lack on the AMM) and
        record its severity for the end of the challenge window: a submission fails when
        at least ``FAIL_SHARE`` of its points are flagged by ``validation``, and is then
        slashed by its points' mean slash severity. Bonds refuse nobody: submitters buy
        what they lack."""
        model = self.model
        p: D.StakeSlashParams = self.params["stake_slash"]
        n_sub = ctx.submission_owner.size
        n_pts = np.bincount(ctx.submission, minlength=n_sub)
        required = D.bond_required(n_pts, p)
        owners = ctx.submission_owner
        led = model.ledger
        need = np.bincount(owners, weights=required, minlength=led.n_accounts)
        accts = np.flatnonzero(need > 0)
        shortfall = np.maximum(need[accts] - led.balance[accts], 0.0) * (1.0 + 1e-9)
        model.buy_tokens_for(accts, shortfall)  # USD → tokens the submitter keeps
        led.bond_many(accts, np.minimum(need[accts], led.balance[accts]))
        sev_pts = np.asarray(validation.slash_severity, dtype=float)
        flagged_share = np.bincount(
            ctx.submission, weights=sev_pts > 0, minlength=n_sub
        ) / np.maximum(n_pts, 1)
        mean_sev = np.bincount(ctx.submission, weights=sev_pts, minlength=n_sub) / np.maximum(
            n_pts, 1
        )
        # A submission fails validation when at least FAIL_SHARE of its points are flagged;
        # only failed submissions are slashed, by their mean severity.
        sev = np.where(flagged_share >= FAIL_SHARE, mean_sev, 0.0)
        ids = self.book.post(owners, required, model.epoch)
        self.book.set_severity(ids, np.clip(sev, 0.0, 1.0))
        honest = ~model.account_adversary[owners]
        self._bonded_honest_ids.update(int(a) for a in np.unique(owners[honest]))
        self._epoch_kpis["defense_tx"] += float(n_sub)

    def _score(self, ctx: ScreenContext, passed_pts: np.ndarray) -> None:
        """Reputation update from the share of each submitter's points that passed."""
        p: D.ReputationParams = self.params["reputation"]
        n = self.model.ledger.n_accounts
        if self.reputation.size < n:
            grown = np.full(n, p.initial)
            grown[: self.reputation.size] = self.reputation
            self.reputation = grown
        owners = ctx.batch.owner
        s, observed = D.owner_scores(owners, passed_pts, n)
        self.reputation = D.update_reputation(self.reputation, s, observed, p)

    def _count_flags(self, kind: str, flagged: Any, adversary: np.ndarray) -> None:
        f = np.asarray(flagged, dtype=bool)
        tp = float(np.count_nonzero(f & adversary))
        self._epoch_kpis[f"{kind}_flagged_points"] += float(f.sum())
        acc = self._flags[kind]
        acc[0] += tp
        acc[1] += float(f.sum())
        acc[2] += float(adversary.sum())
        prec, rec = M.detection_precision_recall(f, adversary)
        self._epoch_kpis[f"{kind}_precision"] = prec
        self._epoch_kpis[f"{kind}_recall"] = rec

    def _count_rejections(self, accept: np.ndarray, adversary: np.ndarray) -> None:
        rej = ~accept
        honest = ~adversary
        e = self._epoch_kpis
        e["defense_rejected_points"] += float(rej.sum())
        e["defense_rejected_honest_points"] += float(np.count_nonzero(rej & honest))
        e["defense_rejected_adversary_points"] += float(np.count_nonzero(rej & adversary))
        t = self._totals
        t["rejected_points"] += float(rej.sum())
        t["rejected_honest_points"] += float(np.count_nonzero(rej & honest))
        t["submitted_honest_points"] += float(honest.sum())
        t["rejected_adversary_points"] += float(np.count_nonzero(rej & adversary))
        t["submitted_adversary_points"] += float(adversary.sum())
        e["_submitted_honest"] = e.get("_submitted_honest", 0.0) + float(honest.sum())

    # -------------------------------------------------------------- phase 5: rewards
    def adjust_weights(self, state: DatanetState, weights: np.ndarray) -> np.ndarray:
        """Per-account reward weights after reputation and earning-age rules."""
        if not self.active:
            return weights
        n = weights.size
        if "reputation" in self.params:
            p = self.params["reputation"]
            r = np.full(n, p.initial)
            m = min(n, self.reputation.size)
            r[:m] = self.reputation[:m]
            weights = weights * D.reputation_multiplier(r, p)
        if "rate_limit" in self.params and self.params["rate_limit"].min_age_epochs > 0:
            joined = self.model.account_joined[:n]
            weights = weights * D.earning_mask(
                joined, self.model.epoch, self.params["rate_limit"].min_age_epochs
            )
        return weights

    def cap_rewards(self, paid: np.ndarray) -> np.ndarray:
        """Rewards after the sybil discount and the wash cap (withheld tokens stay in
        the pools)."""
        if not self.active:
            return paid
        model = self.model
        n = paid.size
        withheld = 0.0
        if self.sybil is not None:
            edges = model.funding_edges
            clusters = self.params["sybil_graph"].method == "clusters"
            for src, dst, amt in edges[self._edges_seen :]:  # new funding batches only
                if clusters:
                    # Protocol grants are not "one wallet funding its identities": a
                    # cluster detector ignores them (SybilRank uses them as the honest
                    # region's edges).
                    keep = ~np.isin(src, model.protocol_accounts)
                    src, dst, amt = src[keep], dst[keep], amt[keep]
                if src.size:
                    self.sybil.record_funding(src, dst, amt)
            self._edges_seen = len(edges)
            self.sybil.update(model.epoch, n, seeds=model.trust_seeds())
            res = self.sybil.apply(paid)
            paid = np.asarray(res.adjusted_tokens, dtype=float)
            withheld += float(res.returned_tokens)
            if getattr(self.sybil, "last", None) is not None:
                flagged = self.sybil.flagged(n)
                flagged[model.protocol_accounts[model.protocol_accounts < n]] = False
                self._epoch_kpis["sybil_flagged_accounts"] = float(np.count_nonzero(flagged))
        if "wash_guard" in self.params:
            attributable = model.independent_contributor_fees(n)
            res = D.cap_rewards(paid, attributable, self.params["wash_guard"].multiplier)
            paid = np.asarray(res.capped_tokens, dtype=float)
            withheld += float(res.returned_tokens)
        self._epoch_kpis["defense_withheld_tokens"] = withheld
        self._totals["withheld_tokens"] += withheld
        return paid

    def after_rewards(self, paid: np.ndarray) -> None:
        """Release or slash the bonds whose challenge window ends this epoch."""
        if self.book is None:
            return
        model = self.model
        led = model.ledger
        due = self.book.due(model.epoch)
        if due.ids.size == 0:
            return
        s = self.book.ledger_settlement(due, led.bonded)
        p: D.StakeSlashParams = self.params["stake_slash"]
        to = None if p.burns else model.treasury
        led.slash_many(s.accounts, s.slash_tokens, to=to)
        led.release_bond_many(s.accounts, s.release_tokens)
        self.book.settle(due.ids)
        slashed = float(s.slash_tokens.sum())
        honest = ~model.account_adversary[s.accounts]
        slashed_honest = float(s.slash_tokens[honest].sum())
        self._slashed_honest_ids.update(int(a) for a in s.accounts[honest & (s.slash_tokens > 0)])
        model.record_defense_cost(s.accounts, s.slash_tokens * model.price_usd)
        e = self._epoch_kpis
        e["slashed_tokens"] = slashed
        e["slashed_honest_tokens"] = slashed_honest
        e["defense_tx"] += float(s.accounts.size)
        self._totals["slashed_tokens"] += slashed
        self._totals["slashed_honest_tokens"] += slashed_honest

    # ---------------------------------------------------------------- measurements
    def kpis(self) -> dict[str, float]:
        """This epoch's defence measurements (columns of ``timeseries``)."""
        if not self.active:
            return {}
        e = dict(self._epoch_kpis)
        sub_h = e.pop("_submitted_honest", 0.0)
        e["defense_false_reject_rate"] = (
            e["defense_rejected_honest_points"] / sub_h if sub_h > 0 else np.nan
        )
        bonded = len(self._bonded_honest_ids)
        e["false_slash_rate"] = len(self._slashed_honest_ids) / bonded if bonded else np.nan
        for k in SCREENING:
            if k not in self.params:
                for suffix in ("flagged_points", "precision", "recall"):
                    e[f"{k}_{suffix}"] = np.nan
        return e

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
