"""Consuming agents: want a Poisson number of inferences per epoch, choose among models by
quality and price (a softmax over utility = accuracy − weight·price), are limited by a
cash budget, and buy the tokens they need on the AMM before paying fees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from agents.base import RoleSet

if TYPE_CHECKING:
    from scenarios.schema import Population
    from sim.model import EconomyModel


def choice_probabilities(
    accuracy: np.ndarray, price_usd: np.ndarray, price_weight_per_usd: float, temperature: float
) -> np.ndarray:
    """Softmax model-choice probabilities over utility u = accuracy − w·price_usd.

    Args:
        accuracy: Clean accuracy of each model (fraction).
        price_usd: Price of one inference on each model (USD).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
        temperature: Softmax temperature (accuracy units); small = pick the best.
    """
    u = (accuracy - price_weight_per_usd * price_usd) / temperature
    u = u - np.max(u)
    w = np.exp(u)
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

    def __init__(self, model: EconomyModel, population: Population) -> None:
        super().__init__(model)
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
        wanted = rng.poisson(self.cols.rate[rows])
        mean_price = float(probs @ price_usd)
        if mean_price > 0:
            affordable = np.floor(self.cols.budget_usd[rows] / mean_price).astype(np.int64)
            wanted = np.minimum(wanted, affordable)
        consumer = np.repeat(np.arange(rows.size), wanted)
        model = pick_models(rng.random(consumer.size), probs)
        return Demand(
            rows=rows,
            inferences=wanted.astype(np.int64),
            by_model=np.bincount(model, minlength=n_models).astype(np.int64),
            cost=np.bincount(consumer, weights=cost_b[model], minlength=rows.size),
            consumer=consumer,
            model=model,
        )


def pick_models(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The model each inference picks, given one uniform draw ``u`` in [0, 1) per inference
    and the choice probabilities ``probs`` (non-negative, summing to 1): the index b with
    cdf[b-1] <= u < cdf[b] (inverse-CDF sampling; a zero-probability model is never
    picked). Returns int64 model indices."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    if probs.size > 32:  # many models: binary search
        return np.searchsorted(cdf[:-1], u, side="right").astype(np.int64)
    picked = np.zeros(u.size, dtype=np.int64)
    for edge in cdf[:-1]:  # a few models: one comparison pass each is ~8x faster
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
        consumer: For each inference, the index into ``rows`` of its buyer.
        model: For each inference, the model it was bought on.
    """

    rows: np.ndarray
    inferences: np.ndarray
    by_model: np.ndarray
    cost: np.ndarray
    consumer: np.ndarray
    model: np.ndarray

    @classmethod
    def empty(cls, rows: np.ndarray, n_models: int) -> Demand:
        """No inferences: every consumer of ``rows`` buys nothing."""
        none = np.zeros(0, dtype=np.int64)
        return cls(
            rows=rows,
            inferences=np.zeros(rows.size, dtype=np.int64),
            by_model=np.zeros(n_models, dtype=np.int64),
            cost=np.zeros(rows.size),
            consumer=none,
            model=none,
        )

    def counts(self) -> np.ndarray:
        """Inferences [consumer row, model] (int64): dense, for tests and small sets."""
        n_models = self.by_model.size
        flat = np.bincount(
            self.consumer * n_models + self.model, minlength=self.rows.size * n_models
        )
        return flat.reshape(self.rows.size, n_models).astype(np.int64)
