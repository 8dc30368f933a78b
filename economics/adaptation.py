"""Multiplicative weights (Hedge) over strategies: how adaptive adversaries choose.

Why: attackers move to whatever still pays. A defence that makes one strategy unprofitable
should push adversaries towards the others (or out), and a model with fixed strategies
cannot show that. Each *learner* (an adversary operator) holds log-weights over S
strategies; a strategy it may not use has weight 0 (log-weight ``-inf``).

One review of a learner (Freund & Schapire's Hedge, on estimated gains):

* the realised return of each strategy it played since the last review is
  ``(income − cost) / cost`` (USD over USD; clipped to ``[−1, return_cap]``, so one lucky
  epoch cannot dominate, and −1 = everything spent was lost) — :func:`realised_return`;
* its return estimate per strategy moves towards what was observed
  (``est ← est + estimate_weight · (observed − est)``; a first observation is taken as
  it is); strategies not played keep their estimate (NaN until first observed, which
  counts as 0 in the update) — :func:`update_estimates`;
* every open strategy's weight is multiplied by ``exp(learning_rate · est)``:
  :func:`hedge_update` (full-information Hedge on the estimates);
* the learner then plays strategy s with probability
  ``(1 − exploration) · w_s / Σw + exploration / k`` over its k open strategies:
  :func:`hedge_probabilities`. The exploration floor keeps stale estimates of strategies it
  stopped playing from freezing (a defence may be switched off, a price may recover).

Everything is vectorised over learners (rows) and strategies (columns); the only random
draw, :func:`sample_strategies`, takes a numpy Generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "HedgeParams",
    "hedge_probabilities",
    "hedge_update",
    "initial_log_weights",
    "realised_return",
    "sample_strategies",
    "update_estimates",
]


@dataclass(frozen=True)
class HedgeParams:
    """Parameters of the Hedge learner (the scenario's ``population.adaptation`` names).

    Attributes:
        learning_rate: η, log-weight change per unit of estimated return on cost at each
            review (per unit return).
        exploration: Share of the play probability spread evenly over the open strategies
            (fraction, [0, 1)).
        estimate_weight: Weight of a new observation in a strategy's return estimate
            (fraction, (0, 1]; 1 = the last observation only).
        return_cap: Upper clip of a realised return on cost (dimensionless, > 0).
    """

    learning_rate: float = 2.0
    exploration: float = 0.05
    estimate_weight: float = 0.5
    return_cap: float = 5.0

    def __post_init__(self) -> None:
        if not (self.learning_rate >= 0 and np.isfinite(self.learning_rate)):
            raise ValueError(f"HedgeParams.learning_rate must be >= 0, got {self.learning_rate}")
        if not 0 <= self.exploration < 1:
            raise ValueError(f"HedgeParams.exploration must be in [0, 1), got {self.exploration}")
        if not 0 < self.estimate_weight <= 1:
            raise ValueError(
                f"HedgeParams.estimate_weight must be in (0, 1], got {self.estimate_weight}"
            )
        if not (self.return_cap > 0 and np.isfinite(self.return_cap)):
            raise ValueError(f"HedgeParams.return_cap must be > 0, got {self.return_cap}")


def realised_return(income_usd: np.ndarray, cost_usd: np.ndarray, cap: float) -> np.ndarray:
    """Return on cost ``(income − cost) / cost`` (dimensionless), clipped to ``[−1, cap]``;
    NaN where nothing was spent (no observation: a strategy not played, or sitting out)."""
    income = np.asarray(income_usd, dtype=np.float64)
    cost = np.asarray(cost_usd, dtype=np.float64)
    out = np.full(np.broadcast(income, cost).shape, np.nan)
    spent = cost > 0
    safe = np.where(spent, cost, 1.0)
    ratio = (income - cost) / safe
    out[spent] = np.clip(ratio, -1.0, cap)[spent]
    return out


def update_estimates(
    estimate: np.ndarray, observed: np.ndarray, estimate_weight: float
) -> np.ndarray:
    """Move each estimate towards its observation where there is one (``observed`` not
    NaN); a first observation (``estimate`` NaN: none yet) becomes the estimate; keep the
    estimate elsewhere. Same shape in, same shape out (dimensionless returns)."""
    est = np.asarray(estimate, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    seen = ~np.isnan(obs)
    o = np.where(seen, obs, 0.0)
    moved = np.where(np.isnan(est), o, est + estimate_weight * (o - est))
    return np.where(seen, moved, est)


def hedge_update(
    log_weights: np.ndarray, gains: np.ndarray, open_mask: np.ndarray, learning_rate: float
) -> np.ndarray:
    """One Hedge step: ``log w ← log w + η · gain`` on open strategies (closed ones stay
    ``-inf``; a NaN gain, a strategy never observed, counts as 0), renormalised so each row's largest log-weight is 0 (probabilities are
    unchanged by the shift; it keeps the numbers bounded over long runs)."""
    lw = np.asarray(log_weights, dtype=np.float64)
    is_open = np.broadcast_to(np.asarray(open_mask, dtype=bool), lw.shape)
    g = np.nan_to_num(np.asarray(gains, dtype=np.float64), nan=0.0)
    out = np.where(is_open, lw + learning_rate * g, -np.inf)
    top = np.max(out, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return out - top


def hedge_probabilities(
    log_weights: np.ndarray, open_mask: np.ndarray, exploration: float
) -> np.ndarray:
    """Play probabilities per row: the softmax of the log-weights over the open strategies
    mixed with ``exploration`` spread evenly over them. A row with no open strategy gets
    all zeros."""
    lw = np.asarray(log_weights, dtype=np.float64)
    is_open = np.broadcast_to(np.asarray(open_mask, dtype=bool), lw.shape)
    lw = np.where(is_open, lw, -np.inf)
    top = np.max(lw, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    w = np.where(is_open, np.exp(lw - top), 0.0)
    total = w.sum(axis=-1, keepdims=True)
    k = is_open.sum(axis=-1, keepdims=True)
    soft = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    even = np.divide(is_open, k, out=np.zeros_like(w), where=k > 0)
    return (1.0 - exploration) * soft + exploration * even


def initial_log_weights(
    founding: np.ndarray, open_mask: np.ndarray, initial_share: float
) -> np.ndarray:
    """Log-weights at which a learner plays its founding strategy with probability
    ``initial_share`` (before exploration) and the rest of its open strategies evenly;
    rows whose founding code is negative (none) start even. Shape (learners, S)."""
    is_open = np.asarray(open_mask, dtype=bool)
    s = is_open.shape[1]
    founding = np.asarray(founding, dtype=np.int64)
    others = np.maximum(is_open.sum(axis=1) - 1, 1)
    w = np.where(is_open, ((1.0 - initial_share) / others)[:, None], 0.0)
    has = (founding >= 0) & (founding < s)
    rows = np.flatnonzero(has)
    founded = is_open[rows, founding[rows]]
    w[rows[founded], founding[rows[founded]]] = initial_share
    w[~has] = is_open[~has].astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(w > 0, np.log(np.where(w > 0, w, 1.0)), -np.inf)


def sample_strategies(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One strategy code per row, drawn from that row's probabilities (inverse CDF, one
    uniform per row; int64). Rows whose probabilities are all zero get -1."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    cdf = np.cumsum(p, axis=1)
    total = cdf[:, -1]
    u = rng.random(p.shape[0]) * total
    code = np.minimum((cdf <= u[:, None]).sum(axis=1), p.shape[1] - 1)
    # never land on a zero-probability column through rounding at the top
    last_open = p.shape[1] - 1 - np.argmax((p > 0)[:, ::-1], axis=1)
    code = np.minimum(code, last_open)
    return np.where(total > 0, code, -1).astype(np.int64)
