"""The eight phases of an epoch, one module each, run in this order by
``EconomyModel.step`` (DESIGN.md, "Time and the epoch loop"):

1. :mod:`.market` — vesting unlocks, sell policies, exogenous flow, one netted AMM trade.
2. :mod:`.contribute` — providers, farmers and poisoners submit; defences screen.
3. :mod:`.train` — builders retrain on their cadence; quality on the held-out set.
4. :mod:`.consume` — consumers choose models, buy tokens, pay; fees are split.
5. :mod:`.reward` — attribution, emission, defences' reward rules, payouts; ground truth.
6. :mod:`.settle` — the epoch's transactions go through the chain; gas is paid.
7. :mod:`.churn` — individuals book income and cost; they leave or join.
8. :mod:`.collect` — the KPI row, agent snapshots, invariants.

Each phase is a function of the state it touches, the epoch's ``sim.flows.EpochFlows`` and
its random stream; it returns the part of the flows it adds.
"""

ORDER = ("market", "contribute", "train", "consume", "reward", "settle", "churn", "collect")
"""The phase modules in the order an epoch runs them."""
