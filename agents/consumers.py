"""Consuming agents: want a Poisson number of inferences per epoch, choose among models by
quality and price (a softmax over utility = accuracy − weight·price), are limited by a
cash budget, and buy the tokens they need on the AMM before paying fees."""

from __future__ import annotations

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
        self, rng: np.random.Generator, accuracy: np.ndarray, price_usd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inferences each active consumer buys on each model this epoch.

        Returns ``(rows, counts)`` with ``counts[i, b]`` inferences of consumer ``rows[i]``
        on builder ``b``. Wanted inferences are Poisson(rate), capped by what the budget
        buys at the choice-weighted mean price.
        """
        p = self.params
        rows = self.active_rows()
        n_models = accuracy.shape[0]
        if rows.size == 0 or n_models == 0:
            return rows, np.zeros((rows.size, n_models), dtype=np.int64)
        probs = choice_probabilities(
            accuracy, price_usd, p.consumer_price_weight_per_usd, p.consumer_choice_temperature
        )
        wanted = rng.poisson(self.cols.rate[rows])
        mean_price = float(probs @ price_usd)
        if mean_price > 0:
            affordable = np.floor(self.cols.budget_usd[rows] / mean_price).astype(np.int64)
            wanted = np.minimum(wanted, affordable)
        counts = rng.multinomial(wanted, probs)
        return rows, counts.astype(np.int64)
