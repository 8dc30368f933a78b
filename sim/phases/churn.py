"""Phase 7 — churn: each contributing role set books this epoch's income (rewards at the
current price, USD) and cost (production cost, wash consumers' fees, slashed bonds, USD);
then individuals leave or join by their return on cost (``RoleSet.churn``). New honest
providers receive the protocol's onboarding grant."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ledgerlab.agents.base import RoleSet
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.flows import ChurnFlows, EpochFlows


def churn_roles(
    flows: EpochFlows,
    contributors: Sequence[RoleSet],
    accounts: Accounts,
    price_usd: float,
    rng: np.random.Generator,
) -> ChurnFlows:
    """Book income and cost, then apply each role's churn rule (see the module docstring)."""
    r, c, con = flows.rewards, flows.contribution, flows.consumption
    assert r is not None and c is not None and con is not None
    defense_cost = flows.defense.cost_usd
    n = accounts.n
    if defense_cost.size < n:
        defense_cost = np.concatenate([defense_cost, np.zeros(n - defense_cost.size)])
    left: dict[str, int] = {}
    joined: dict[str, int] = {}
    none = (np.zeros(0, np.int64), np.zeros(0))
    for rs in contributors:
        income = r.paid_tokens[rs.cols.account] * price_usd
        c_rows, c_cost = c.cost_usd.get(rs.role, none)
        if rs.role == "wash":  # wash consumers also pay for their own inferences
            w_rows, w_usd = con.wash_cost_usd
            c_rows = np.concatenate([c_rows, w_rows])
            c_cost = np.concatenate([c_cost, w_usd])
        cost = defense_cost[rs.cols.account] + np.bincount(
            c_rows, weights=c_cost, minlength=len(rs)
        )
        rs.record_income(np.arange(len(rs)), income, cost)
        out = rs.churn(rng)
        if rs.role == "providers":
            accounts.onboard(rs.cols.account[out.new_rows])
        left[rs.role] = out.left
        joined[rs.role] = out.joined
    return ChurnFlows(left=left, joined=joined)
