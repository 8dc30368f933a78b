"""Per-individual reference of the consumer role: one plain ``mesa.Agent`` per consumer.

Why: the design keeps every role as an array-backed role set (``agents.consumers.
ConsumerSet``) because a Mesa agent-step costs about a microsecond of pure overhead
(DESIGN.md, "Performance model"). This module is the thing it is measured against, and a
check that the vectorised role does the same thing: the consumer role written the
textbook way, each consumer an object with its own rate and budget whose ``step()``

1. draws the inferences it wants this epoch, Poisson(rate);
2. caps them by what its budget buys at the choice-weighted mean price;
3. splits them over the models by the softmax choice rule
   (:func:`agents.consumers.choice_probabilities`), a multinomial draw;
4. records its inferences and their list price (cumulative), and the market's inferences
   per model — what the vectorised role records.

Agents act in random order each epoch through ``model.agents.shuffle_do("step")`` (the
Mesa 3 scheduling API). The model computes the choice probabilities once per epoch from
the market (model accuracies and prices are the same for every consumer), so each agent
does only its own draws and bookkeeping: this is the cheapest faithful per-individual
version, which makes any speed-up measured against it a lower bound.

Used by ``benchmarks/bench_model.py`` (and its smoke test); it is a test of the product,
not part of it.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from ledgerlab.agents.consumers import choice_probabilities


class ReferenceInputError(ValueError):
    """The reference model was given inconsistent inputs (sizes, signs, shapes)."""


class ConsumerAgent(mesa.Agent):
    """One consumer.

    Attributes:
        rate: Mean inferences wanted per epoch (inferences/epoch).
        budget_usd: Cash the consumer may spend per epoch (USD/epoch).
        inferences: Cumulative inferences bought (inferences).
        spent_usd: Cumulative list price of the inferences bought (USD).
    """

    def __init__(self, model: ReferenceConsumerModel, rate: float, budget_usd: float) -> None:
        super().__init__(model)
        self.rate = float(rate)
        self.budget_usd = float(budget_usd)
        self.inferences = 0
        self.spent_usd = 0.0

    def step(self) -> None:
        """Draw this epoch's demand, cap it by the budget, choose models and record it."""
        market: ReferenceConsumerModel = self.model  # type: ignore[assignment]
        rng = market.draw_rng
        wanted = int(rng.poisson(self.rate))
        if market.mean_price_usd > 0:
            wanted = min(wanted, math.floor(self.budget_usd / market.mean_price_usd))
        counts = rng.multinomial(wanted, market.probs)
        self.inferences += wanted
        self.spent_usd += float(counts @ market.price_usd)
        market.inferences_by_model += counts


class ReferenceConsumerModel(mesa.Model):
    """Consumers as one Mesa agent each, facing a fixed market of models.

    Args:
        rate: Mean inferences each consumer wants per epoch (inferences/epoch), one per
            consumer.
        budget_usd: Cash each consumer may spend per epoch (USD/epoch), one per consumer.
        accuracy: Clean accuracy of each model (fraction; ``-inf`` = not available).
        price_usd: Price of one inference on each model (USD/inference).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
        temperature: Softmax temperature of the model choice (accuracy units).
        rng: Generator of every draw the consumers make; Mesa's scheduling shuffle is
            seeded from it too, so one Generator fixes the whole run.
    """

    def __init__(
        self,
        rate: np.ndarray,
        budget_usd: np.ndarray,
        accuracy: np.ndarray,
        price_usd: np.ndarray,
        price_weight_per_usd: float,
        temperature: float,
        rng: np.random.Generator,
    ) -> None:
        rate = np.asarray(rate, dtype=np.float64)
        budget_usd = np.asarray(budget_usd, dtype=np.float64)
        accuracy = np.asarray(accuracy, dtype=np.float64)
        price_usd = np.asarray(price_usd, dtype=np.float64)
        if rate.ndim != 1 or rate.shape != budget_usd.shape:
            raise ReferenceInputError(
                f"ReferenceConsumerModel: rate and budget_usd must be 1-D of equal length, got "
                f"shapes {rate.shape} and {budget_usd.shape}; pass one value per consumer"
            )
        if accuracy.ndim != 1 or accuracy.shape != price_usd.shape or accuracy.size == 0:
            raise ReferenceInputError(
                f"ReferenceConsumerModel: accuracy and price_usd must be 1-D, non-empty and of "
                f"equal length, got shapes {accuracy.shape} and {price_usd.shape}; pass one "
                "value per model"
            )
        if np.any(rate < 0) or np.any(budget_usd < 0):
            raise ReferenceInputError(
                f"ReferenceConsumerModel: rate and budget_usd must be >= 0, got minima "
                f"{rate.min(initial=0.0)} and {budget_usd.min(initial=0.0)}"
            )
        super().__init__(rng=int(rng.integers(0, 2**31 - 1)))
        self.draw_rng = rng
        self.n_models = int(accuracy.size)
        self.accuracy = accuracy
        self.price_usd = price_usd
        self.price_weight_per_usd = float(price_weight_per_usd)
        self.temperature = float(temperature)
        self.probs = np.full(self.n_models, 1.0 / self.n_models)
        self.mean_price_usd = 0.0
        self.inferences_by_model = np.zeros(self.n_models, dtype=np.int64)
        self.consumers = [
            ConsumerAgent(self, r, b)
            for r, b in zip(rate.tolist(), budget_usd.tolist(), strict=True)
        ]

    def step(self) -> None:
        """One epoch: the market's choice probabilities, then every consumer in random order."""
        self.probs = choice_probabilities(
            self.accuracy, self.price_usd, self.price_weight_per_usd, self.temperature
        )
        self.mean_price_usd = float(self.probs @ self.price_usd)
        self.agents.shuffle_do("step")

    def inferences_per_consumer(self) -> np.ndarray:
        """Cumulative inferences of each consumer, in creation order (inferences)."""
        return np.fromiter((a.inferences for a in self.consumers), np.int64, len(self.consumers))

    def spent_per_consumer(self) -> np.ndarray:
        """Cumulative list price of each consumer's inferences, creation order (USD)."""
        return np.fromiter((a.spent_usd for a in self.consumers), np.float64, len(self.consumers))
