"""Consuming agents: want a Poisson number of inferences per epoch, choose among the
network's models and a centralised outside option by a multinomial logit on absolute
quality and USD price (``economics.demand.logit_shares``), are limited by a cash budget, and
buy the tokens they need on the AMM before paying fees.

Behavioural gravity (DESIGN.md, "The world model"): each consumer keeps a moving average of
the utility the network actually gave it (share of correct answers minus the weighted USD
price it paid) minus the outside option's utility, and leaves once that average is below the
exit threshold; newcomers arrive by a Bass diffusion driven by the active consumers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet
from ledgerlab.economics.demand import logit_shares, utilities

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


def choice_probabilities(
    accuracy: np.ndarray, price_usd: np.ndarray, price_weight_per_usd: float, temperature: float
) -> np.ndarray:
    """Logit model-choice probabilities over utility u = accuracy − w·price_usd
    (``economics.demand.logit_shares``; its docstring says how overflow, ``-inf`` and an
    all-``-inf`` menu are handled).

    Args:
        accuracy: Clean accuracy of each model (fraction; −inf = not for sale).
        price_usd: Price of one inference on each model (USD).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
        temperature: Softmax temperature (accuracy units); small = pick the best.
    """
    return logit_shares(accuracy, price_usd, price_weight_per_usd, temperature)


@dataclass(frozen=True)
class OutsideOffer:
    """The outside option as consumers see it this epoch.

    Attributes:
        accuracy: Its accuracy (fraction).
        price_usd: Its price (USD/inference).
    """

    accuracy: float
    price_usd: float


class ConsumerSet(RoleSet):
    """Consumers. Columns: ``rate`` (mean inferences wanted per epoch), ``budget_usd``
    (cash per epoch, USD), ``inferences`` (cumulative inferences bought on the network),
    ``spent_usd`` (cumulative USD spent on tokens for fees), ``outside_inferences``
    (cumulative inferences bought from the outside option), ``utility_gap_ema`` (moving
    average of the network's realised utility minus the outside option's, accuracy units).
    Parameters: ``scenario.population`` (``adoption`` for arrivals and exits)."""

    role: ClassVar[str] = "consumers"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {
        "rate": np.float64,
        "budget_usd": np.float64,
        "inferences": np.int64,
        "spent_usd": np.float64,
        "outside_inferences": np.int64,
        "utility_gap_ema": np.float64,
    }

    def __init__(
        self, model: mesa.Model, accounts: AccountRegistry, population: Population
    ) -> None:
        super().__init__(model, accounts)
        self.params = population

    def populate(self, rng: np.random.Generator) -> None:
        """The launch consumers (``population.consumers``), see :meth:`spawn`."""
        n = self.params.consumers
        if n == 0:
            return
        self.spawn(n, rng)
        self.founders = n

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Add ``n`` heterogeneous consumers: rates and budgets log-normal around the
        scenario means (one common factor of mean 1 per consumer). Returns their rows."""
        p = self.params
        spread = rng.lognormal(mean=-0.125, sigma=0.5, size=n)  # mean 1
        return self.add(
            n,
            rate=p.consumer_inferences_per_epoch * spread,
            budget_usd=p.consumer_budget_usd_per_epoch * spread,
        )

    def demand(
        self,
        rng: np.random.Generator,
        accuracy: np.ndarray,
        price_usd: np.ndarray,
        cost_per_model: np.ndarray | None = None,
        outside: OutsideOffer | None = None,
        demand_factor: float = 1.0,
    ) -> Demand:
        """Inferences each active consumer buys on each model, and from the outside option,
        this epoch.

        Each consumer wants Poisson(rate × ``demand_factor``) inferences, capped by what its
        budget buys at the choice-weighted mean price; each inference then picks its
        alternative independently by the logit choice rule over the models and, when
        given, the outside option (the last alternative). Per consumer this is exactly a
        multinomial split of its inferences, drawn inference by inference (one uniform
        each): about twice as fast as numpy's per-row multinomial at the default demand,
        and it never builds a consumers x models matrix.

        Args:
            rng: The consumers' stream.
            accuracy: Clean accuracy of each model (fraction; ``-inf`` = not for sale).
            price_usd: Price of one inference on each model (USD/inference).
            cost_per_model: What one inference on each model costs the consumer, in any
                unit (e.g. tokens/inference), summed per consumer into ``Demand.cost``.
                Defaults to ``price_usd``. The outside option costs nothing in it (it is
                paid in USD, outside the ledger).
            outside: The outside option, or None when there is none.
            demand_factor: Factor on every consumer's rate (a demand shock; dimensionless).
        """
        p = self.params
        rows = self.active_rows()
        n_models = accuracy.shape[0]
        cost_b = price_usd if cost_per_model is None else np.asarray(cost_per_model, float)
        acc_all, price_all, cost_all = accuracy, price_usd, cost_b
        if outside is not None:
            acc_all = np.append(accuracy, outside.accuracy)
            price_all = np.append(price_usd, outside.price_usd)
            cost_all = np.append(cost_b, 0.0)
        if acc_all.size == 0:
            return Demand.empty(rows, n_models)
        probs = choice_probabilities(
            acc_all, price_all, p.consumer_price_weight_per_usd, p.consumer_choice_temperature
        )
        if rows.size == 0:
            return Demand.empty(rows, n_models, probs)
        wanted = affordable_inferences(
            rng.poisson(self.cols.rate[rows] * demand_factor),
            self.cols.budget_usd[rows],
            float(probs @ price_all),
        )
        # float32 uniforms: half the memory traffic; choice probabilities are resolved to
        # 2^-24 (about 6e-8), far below any sampling noise of the simulation.
        pick = pick_models(rng.random(int(wanted.sum()), dtype=np.float32), probs)
        return Demand.split(rows, wanted, pick, n_models, cost_all, probs)

    def record_service(
        self,
        rng: np.random.Generator,
        dem: Demand,
        accuracy: np.ndarray,
        price_usd: np.ndarray,
        outside: OutsideOffer,
    ) -> None:
        """Update each active consumer's moving average of the utility gap: the utility the
        network gave it this epoch minus the outside option's (accuracy units).

        The network's utility is realised: each network inference is answered correctly
        with its model's accuracy (one uniform each, from ``rng``), so a consumer scores
        its share of correct answers minus the weighted USD price it paid on average.
        A consumer that bought nothing on the network this epoch is scored by the
        choice-weighted expected utility of the network's models (0 if none is for sale:
        no service). The average has the horizon ``adoption.exit_lookback_epochs``.

        Args:
            rng: The gravity stream.
            dem: This epoch's demand (:meth:`demand`, with the outside option).
            accuracy: Accuracy of each model (fraction; ``-inf`` = not for sale).
            price_usd: Price of one inference on each model (USD/inference).
            outside: The outside option this epoch.
        """
        p, a = self.params, self.params.adoption
        w = p.consumer_price_weight_per_usd
        u_out = float(utilities(np.array([outside.accuracy]), np.array([outside.price_usd]), w)[0])
        u_models = utilities(accuracy, price_usd, w)
        net_probs = dem.probs[: accuracy.size]
        expected = (
            float(net_probs @ np.where(np.isfinite(u_models), u_models, 0.0) / net_probs.sum())
            if np.isfinite(u_models).any() and net_probs.sum() > 0
            else 0.0
        )
        gap = np.full(dem.rows.size, expected - u_out)
        served = dem.inferences > 0
        if served.any():
            model = dem.model.astype(np.int64)
            correct = rng.random(model.size, dtype=np.float32) < accuracy[model]
            starts = (np.cumsum(dem.inferences) - dem.inferences)[served]
            hits = np.add.reduceat(correct.astype(np.float64), starts)
            paid_usd = np.add.reduceat(price_usd[model], starts)
            n = dem.inferences[served]
            gap[served] = (hits - w * paid_usd) / n - u_out
        alpha = 1.0 / a.exit_lookback_epochs
        ema = self.cols.utility_gap_ema
        ema[dem.rows] += alpha * (gap - ema[dem.rows])

    def leave_unserved(self) -> int:
        """Consumers who have been in the network for ``adoption.exit_lookback_epochs`` and
        whose utility-gap average is below ``adoption.exit_below_utility_gap`` leave (the
        outside option served them better). Returns how many left."""
        a = self.params.adoption
        cols = self.cols
        epoch = self.accounts.epoch
        leave = (
            cols.active
            & (epoch - cols.joined_epoch >= a.exit_lookback_epochs)
            & (cols.utility_gap_ema < a.exit_below_utility_gap)
        )
        n = int(np.count_nonzero(leave))
        if n:
            cols.active[leave] = False
            cols.left_epoch[leave] = epoch
        self.left_total += n
        return n

    @property
    def market_potential(self) -> int:
        """Bass market potential M: ``adoption.market_potential``, or twice the launch
        consumers when it is null (individuals)."""
        m = self.params.adoption.market_potential
        return 2 * self.params.consumers if m is None else m


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
        inferences: Inferences bought on the network by each of ``rows`` (inferences).
        by_model: Inferences bought on each model, over all consumers (inferences).
        cost: Sum over each consumer's network inferences of the per-model cost passed to
            :meth:`ConsumerSet.demand` (that array's unit).
        model: The model of every network inference, grouped by consumer in the order of
            ``rows`` (``inferences[0]`` entries for the first consumer, and so on).
        outside: Inferences bought from the outside option by each of ``rows``
            (inferences; zeros without one).
        probs: The choice probabilities, one per model and, last, the outside option when
            there is one (probability).
    """

    rows: np.ndarray
    inferences: np.ndarray
    by_model: np.ndarray
    cost: np.ndarray
    model: np.ndarray
    outside: np.ndarray
    probs: np.ndarray

    @classmethod
    def empty(cls, rows: np.ndarray, n_models: int, probs: np.ndarray | None = None) -> Demand:
        """No inferences: every consumer of ``rows`` buys nothing (``probs``: the choice
        probabilities nobody drew from; zeros by default)."""
        return cls(
            rows=rows,
            inferences=np.zeros(rows.size, dtype=np.int64),
            by_model=np.zeros(n_models, dtype=np.int64),
            cost=np.zeros(rows.size),
            model=np.zeros(0, dtype=np.int8),
            outside=np.zeros(rows.size, dtype=np.int64),
            probs=np.zeros(n_models) if probs is None else probs,
        )

    @classmethod
    def split(
        cls,
        rows: np.ndarray,
        wanted: np.ndarray,
        pick: np.ndarray,
        n_models: int,
        cost_per_alternative: np.ndarray,
        probs: np.ndarray,
    ) -> Demand:
        """The demand of ``rows`` from every inference's pick (grouped by consumer,
        ``wanted[i]`` picks for the i-th): alternative ``n_models``, if any, is the outside
        option; the rest are the network's models."""
        # Each consumer's inferences are one contiguous segment: per-consumer sums are
        # reduceat over the non-empty segments.
        cost = np.zeros(rows.size)
        outside = np.zeros(rows.size, dtype=np.int64)
        buying = wanted > 0
        is_out = pick == n_models
        if buying.any():
            starts = (np.cumsum(wanted) - wanted)[buying]
            cost[buying] = np.add.reduceat(cost_per_alternative[pick], starts)
            if probs.size > n_models:
                outside[buying] = np.add.reduceat(is_out.astype(np.int64), starts)
        model = pick[~is_out] if probs.size > n_models else pick
        return cls(
            rows=rows,
            inferences=wanted - outside,
            by_model=np.bincount(model, minlength=n_models)[:n_models].astype(np.int64),
            cost=cost,
            model=model,
            outside=outside,
            probs=probs,
        )

    def counts(self) -> np.ndarray:
        """Inferences [consumer row, model] (int64): dense, for tests and small sets."""
        n_models = self.by_model.size
        consumer = np.repeat(np.arange(self.rows.size, dtype=np.int64), self.inferences)
        flat = np.bincount(
            consumer * n_models + self.model.astype(np.int64), minlength=self.rows.size * n_models
        )
        return flat.reshape(self.rows.size, n_models).astype(np.int64)
