"""Consuming agents: want a Poisson number of inferences per epoch, choose among models by
quality and price (a softmax over utility = accuracy − weight·price), are limited by a
cash budget, and buy the tokens they need on the AMM before paying fees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


def choice_probabilities(
    accuracy: np.ndarray, price_usd: np.ndarray, price_weight_per_usd: float, temperature: float
) -> np.ndarray:
    """Softmax model-choice probabilities over utility u = accuracy − w·price_usd.

    Computed as ``exp((u − max u) / temperature)``: the best model's term is exactly 1,
    so neither a tiny temperature nor huge prices can overflow to inf (and inf − inf to
    NaN); the others underflow to 0 at worst. Models with u = −inf (not for sale, or
    infinitely expensive) get 0. If no model has a finite utility, the choice is uniform
    over the models for sale (``accuracy`` > −inf), or over all models if none is.

    Args:
        accuracy: Clean accuracy of each model (fraction; −inf = not for sale).
        price_usd: Price of one inference on each model (USD).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
        temperature: Softmax temperature (accuracy units); small = pick the best.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        u = accuracy - price_weight_per_usd * price_usd
    u = np.where(np.isnan(u), -np.inf, u)
    top = np.max(u)
    if not np.isfinite(top):
        for_sale = accuracy > -np.inf
        w = (for_sale if for_sale.any() else np.ones_like(for_sale)).astype(np.float64)
        return w / w.sum()
    with np.errstate(over="ignore", under="ignore"):
        w = np.exp((u - top) / temperature)
    return w / w.sum()


class ConsumerSet(RoleSet):
    """Consumers. Columns: ``rate`` (mean inferences wanted per epoch), ``budget_usd``
    (cash per epoch, USD), ``inferences`` (cumulative inferences bought), ``spent_usd``
    (cumulative USD spent on tokens for fees). Parameters: ``scenario.population``."""

    role: ClassVar[str] = "consumers"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {
        "rate": np.float64,
        "budget_usd": np.float64,
        "inferences": np.int64,
        "spent_usd": np.float64,
    }

    def __init__(
        self, model: mesa.Model, accounts: AccountRegistry, population: Population
    ) -> None:
        super().__init__(model, accounts)
        self.params = population

    def populate(self, rng: np.random.Generator) -> None:
        """Heterogeneous consumers: rates and budgets log-normal around the scenario means."""
        p = self.params
        n = p.consumers
        if n == 0:
            return
        spread = rng.lognormal(mean=-0.125, sigma=0.5, size=n)  # mean 1
        self.add(
            n,
            rate=p.consumer_inferences_per_epoch * spread,
            budget_usd=p.consumer_budget_usd_per_epoch * spread,
        )
        self.founders = n

    def demand(
        self,
        rng: np.random.Generator,
        accuracy: np.ndarray,
        price_usd: np.ndarray,
        cost_per_model: np.ndarray | None = None,
    ) -> Demand:
        """Inferences each active consumer buys on each model this epoch.

        Each consumer wants Poisson(rate) inferences, capped by what its budget buys at the
        choice-weighted mean price; each inference then picks its model independently by
        the softmax choice rule. Per consumer this is exactly a multinomial split of its
        inferences over the models, drawn inference by inference (one uniform each): about
        twice as fast as numpy's per-row multinomial at the default demand, and it never
        builds a consumers x models matrix.

        Args:
            rng: The consumers' stream.
            accuracy: Clean accuracy of each model (fraction; ``-inf`` = not for sale).
            price_usd: Price of one inference on each model (USD/inference).
            cost_per_model: What one inference on each model costs the consumer, in any
                unit (e.g. tokens/inference), summed per consumer into ``Demand.cost``.
                Defaults to ``price_usd``.
        """
        p = self.params
        rows = self.active_rows()
        n_models = accuracy.shape[0]
        if rows.size == 0 or n_models == 0:
            return Demand.empty(rows, n_models)
        cost_b = price_usd if cost_per_model is None else np.asarray(cost_per_model, float)
        probs = choice_probabilities(
            accuracy, price_usd, p.consumer_price_weight_per_usd, p.consumer_choice_temperature
        )
        wanted = affordable_inferences(
            rng.poisson(self.cols.rate[rows]),
            self.cols.budget_usd[rows],
            float(probs @ price_usd),
        )
        # float32 uniforms: half the memory traffic; choice probabilities are resolved to
        # 2^-24 (about 6e-8), far below any sampling noise of the simulation.
        model = pick_models(rng.random(int(wanted.sum()), dtype=np.float32), probs)
        # Inferences come grouped by consumer, in row order: each consumer's cost is the
        # sum of one contiguous segment (reduceat over the non-empty segments).
        cost = np.zeros(rows.size)
        buying = wanted > 0
        if buying.any():
            starts = (np.cumsum(wanted) - wanted)[buying]
            cost[buying] = np.add.reduceat(cost_b[model], starts)
        return Demand(
            rows=rows,
            inferences=wanted,
            by_model=np.bincount(model, minlength=n_models).astype(np.int64),
            cost=cost,
            model=model,
        )


def affordable_inferences(
    wanted: np.ndarray, budget_usd: np.ndarray, mean_price_usd: float
) -> np.ndarray:
    """Inferences each consumer buys: what it wants, capped by what its budget buys at the
    mean price, ``min(wanted, floor(budget_usd / mean_price_usd))`` (inferences, int64).

    The cap is taken in float64 *before* any integer cast: after a price collapse
    ``budget / price`` can exceed the int64 range (or be infinite), and casting it would
    wrap to a negative count. The result is bounded by ``wanted`` (a Poisson draw, already
    an exact integer), so its cast is exact. A NaN or non-positive mean price leaves
    ``wanted`` unchanged.

    Args:
        wanted: Inferences each consumer wants this epoch (inferences, integers >= 0).
        budget_usd: Each consumer's cash for the epoch (USD, >= 0).
        mean_price_usd: Choice-weighted mean price of one inference (USD/inference).
    """
    want = np.asarray(wanted, dtype=np.float64)
    if mean_price_usd > 0:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            afford = np.floor(np.asarray(budget_usd, dtype=np.float64) / mean_price_usd)
        want = np.fmin(want, np.maximum(afford, 0.0))  # fmin: a NaN cap does not bind
    return want.astype(np.int64)


def pick_models(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The model each inference picks, given one uniform draw ``u`` in [0, 1) per inference
    and the choice probabilities ``probs`` (non-negative, summing to 1): the index b with
    cdf[b-1] <= u < cdf[b] (inverse-CDF sampling; a zero-probability model is never
    picked). ``u`` may be float32: the edges are then rounded to float32 too, which
    keeps the comparisons in float32. Returns model indices, int8 when there are at most
    32 models (an eighth of the memory traffic of int64), else int64."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    edges = cdf[:-1].astype(np.float32) if u.dtype == np.float32 else cdf[:-1]
    if probs.size > 32:  # many models: binary search
        return np.searchsorted(edges, u, side="right").astype(np.int64)
    picked = np.zeros(u.size, dtype=np.int8)
    for edge in edges:  # a few models: one comparison pass each is ~8x faster
        picked += u >= edge
    return picked


@dataclass(frozen=True)
class Demand:
    """One epoch of consumer demand.

    Attributes:
        rows: Active consumer rows, in order (rows).
        inferences: Inferences bought by each of ``rows`` (inferences).
        by_model: Inferences bought on each model, over all consumers (inferences).
        cost: Sum over each consumer's inferences of the per-model cost passed to
            :meth:`ConsumerSet.demand` (that array's unit).
        model: The model of every inference, grouped by consumer in the order of ``rows``
            (``inferences[0]`` entries for the first consumer, and so on).
    """

    rows: np.ndarray
    inferences: np.ndarray
    by_model: np.ndarray
    cost: np.ndarray
    model: np.ndarray

    @classmethod
    def empty(cls, rows: np.ndarray, n_models: int) -> Demand:
        """No inferences: every consumer of ``rows`` buys nothing."""
        return cls(
            rows=rows,
            inferences=np.zeros(rows.size, dtype=np.int64),
            by_model=np.zeros(n_models, dtype=np.int64),
            cost=np.zeros(rows.size),
            model=np.zeros(0, dtype=np.int8),
        )

    def counts(self) -> np.ndarray:
        """Inferences [consumer row, model] (int64): dense, for tests and small sets."""
        n_models = self.by_model.size
        consumer = np.repeat(np.arange(self.rows.size, dtype=np.int64), self.inferences)
        flat = np.bincount(
            consumer * n_models + self.model.astype(np.int64), minlength=self.rows.size * n_models
        )
        return flat.reshape(self.rows.size, n_models).astype(np.int64)
