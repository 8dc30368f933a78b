"""Phase 2 — contribute: providers, farmers, wash consumers and poisoners return submission
plans; their points are generated per datanet (one generator call per role and point kind),
the defences screen them, and the accepted points join the datanet.

Each role draws its points from its own substream of the epoch's ``contribute`` stream,
keyed by its role code and the datanet (``sim.streams``): honest providers' points depend on
their own plans only, never on what adversaries drew before them, so a world and its
honest-only twin (``sim.twins``) give honest providers the same points while their plans
agree (common random numbers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from ledgerlab.agents.base import ROLE_NAMES
from ledgerlab.agents.plans import Kind, SubmissionPlan
from ledgerlab.scenarios.schema import Population
from ledgerlab.sim import datanet as dn
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.defenses import DefensePipeline, ScreenContext
from ledgerlab.sim.fairness import GroundTruth
from ledgerlab.sim.flows import ContributionFlows, DefenseFlows
from ledgerlab.sim.streams import substream
from ledgerlab.sim.world import DatanetState


class Submitter(Protocol):
    """A role set that submits data (providers, farmers, wash consumers, poisoners)."""

    role: str

    def plan(self, rng: np.random.Generator) -> SubmissionPlan: ...


def submit_and_screen(
    epoch: int,
    submitters: Sequence[Submitter],
    streams: Mapping[str, np.random.Generator],
    datanets: list[DatanetState],
    defenses: DefensePipeline,
    accounts: Accounts,
    population: Population,
    defense_flows: DefenseFlows,
    truth: GroundTruth | None,
) -> ContributionFlows:
    """Plan, generate, screen and store the epoch's submissions (each role plans on the
    epoch's stream of its name; points are drawn from per-role substreams of the epoch's
    ``contribute`` stream, see :func:`make_points`); the ground truth values each accepted
    batch as it is stored."""
    plans = [rs.plan(streams[rs.role]) for rs in submitters]
    flows = ContributionFlows(
        plans=plans,
        cost_usd={p.role: (p.rows, p.n_points * p.cost_usd_per_point) for p in plans},
    )
    rng = streams["contribute"]
    for d, state in enumerate(datanets):
        batch, sub_of_point, sub_owner, sub_role = make_points(d, state, plans, population, rng)
        if batch.size == 0:
            continue
        ctx = ScreenContext(
            datanet=d,
            state=state,
            batch=batch,
            submission=sub_of_point,
            submission_owner=sub_owner,
            submission_role=sub_role,
        )
        accept = defenses.screen(ctx, defense_flows)
        accepted = batch.select(accept)
        rows = state.store.append(accepted, epoch=epoch)
        state.sync_columns()
        if truth is not None:
            truth.value_arrivals(d, state, rows, accounts)
        accounts.cols.points_accepted[:] += np.bincount(accepted.owner, minlength=accounts.n)
        flows.points_accepted += accepted.size
        flows.points_rejected += batch.size - accepted.size
    flows.points_submitted = flows.points_accepted + flows.points_rejected
    return flows


def make_points(
    d: int,
    state: DatanetState,
    plans: list[SubmissionPlan],
    population: Population,
    rng: np.random.Generator,
) -> tuple[dn.Batch, np.ndarray, np.ndarray, np.ndarray]:
    """Generate datanet ``d``'s submitted points, one generator call per role and kind,
    each role drawing from ``substream(rng, role code, d)`` (roles in plan order, kinds in
    code order within a role).

    Returns the batch, the submission index of every point, and per submission its
    owner and role code.
    """
    owners = np.concatenate([p.owner for p in plans])
    sel_dn = np.concatenate([p.datanet for p in plans]) == d
    n_points = np.concatenate([p.n_points for p in plans])[sel_dn]
    kinds = np.concatenate([p.kind for p in plans])[sel_dn]
    quality = np.concatenate([p.quality for p in plans])[sel_dn]
    roles = np.concatenate(
        [np.full(p.n_submissions, ROLE_NAMES.index(p.role), dtype=np.int8) for p in plans]
    )[sel_dn]
    sub_owner = owners[sel_dn]
    batches: list[dn.Batch] = []
    subs: list[np.ndarray] = []
    for code in dict.fromkeys(roles.tolist()):  # at most four roles, in plan order
        role_rng = substream(rng, code, d)
        mine = roles == code
        for kind in np.unique(kinds[mine]):  # at most six kinds
            s_idx = np.flatnonzero(mine & (kinds == kind))
            sub = np.repeat(s_idx, n_points[s_idx])
            # copiers of every role: a copy's source pool leaves out all their points
            copiers = sub_owner[(kinds == kind) & (n_points > 0)]
            b = _generate(
                Kind(kind), state, sub_owner[sub], quality[sub], copiers, population, role_rng
            )
            if b is None:
                continue
            batches.append(b)
            subs.append(sub)
    if not batches:
        return dn.Batch.empty(state.spec.n_features), np.zeros(0, np.int64), sub_owner, roles
    return dn.concat_batches(batches), np.concatenate(subs), sub_owner, roles


def _generate(
    kind: Kind,
    state: DatanetState,
    owner: np.ndarray,
    quality: np.ndarray,
    copiers: np.ndarray,
    population: Population,
    rng: np.random.Generator,
) -> dn.Batch | None:
    """The points of one kind, one per entry of ``owner`` (None: copies with nothing to
    copy). Farmers copy from the points models currently train on (the window), leaving out
    the points of every owner in ``copiers`` (all who copy this way this epoch, of any
    role): bounded work per epoch however large the store grows."""
    pois = population.poisoners
    if kind == Kind.HONEST:
        # Sybil "fresh" points are drawn like honest ones at the sybils' label quality;
        # their owners, not their kind, mark them as farmed.
        return dn.honest(state.task, owner, quality, rng)
    if kind == Kind.LABEL_FLIP:
        target = pois.label_flip_target_class if pois.label_flip_targeted else None
        return dn.label_flip(state.task, owner, rng, target=target)
    if kind == Kind.BACKDOOR:
        return dn.backdoor(
            state.task,
            owner,
            rng,
            pois.backdoor_trigger_features,
            pois.backdoor_trigger_value,
            pois.backdoor_target_class,
        )
    if kind == Kind.NOISE:
        return dn.noise(state.task, owner, rng)
    store = state.store
    active = state.training_rows()
    foreign = active[~np.isin(store.owner[active], copiers)]
    if foreign.size == 0:
        return None
    src = (store.x[foreign], store.y[foreign])
    kw = {"source_owner": store.owner[foreign], "source_y_true": store.y_true[foreign]}
    jitter = population.farmers.near_duplicate_jitter
    if kind == Kind.DUPLICATE or jitter == 0:  # no jitter: exact copies
        return dn.duplicate(*src, owner, rng, **kw)
    return dn.near_duplicate(*src, owner, rng, jitter=jitter, **kw)
