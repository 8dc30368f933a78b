"""Demand for the network's inferences: the consumers' choice and their adoption.

Pure functions, numpy in and out, for two mechanisms of behavioural gravity
(DESIGN.md, "The world model"):

* **Choice** — a multinomial logit over the network's models and a centralised outside
  option: alternative j has utility ``u_j = accuracy_j − w · price_usd_j`` (accuracy as a
  fraction, price in USD per inference, w the accuracy a consumer gives up per USD) and is
  chosen with probability ``exp(u_j / T) / Σ_k exp(u_k / T)`` (T the temperature, in
  accuracy units). Absolute quality and price both count: a poisoned or expensive
  network loses its share to the outside option.
* **Adoption** — the Bass diffusion (Bass 1969): of a market potential of M consumers,
  with N(t) adopters, ``dN/dt = (p + q · N/M) · (M − N)`` with innovation rate p and
  imitation rate q (1/epoch). :func:`bass_adopters_closed_form` is the solution of the
  continuous equation, :func:`bass_expected_arrivals` the per-epoch hazard the simulation
  draws Poisson arrivals from.

The outside option's price and accuracy may change on a schedule
(:class:`OutsideOption`), e.g. a competitor halving its price at month 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "OutsideOption",
    "bass_adopters_closed_form",
    "bass_expected_arrivals",
    "bass_expected_path",
    "logit_shares",
    "utilities",
]


def utilities(
    accuracy: np.ndarray, price_usd: np.ndarray, price_weight_per_usd: float
) -> np.ndarray:
    """Utility of each alternative, ``accuracy − w · price_usd`` (accuracy units).

    NaN (e.g. ``-inf − inf``) is mapped to ``-inf``: an alternative not for sale, or
    infinitely expensive, is never chosen.

    Args:
        accuracy: Accuracy of each alternative (fraction; ``-inf`` = not for sale).
        price_usd: Price of one inference on each alternative (USD/inference).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        u = np.asarray(accuracy, dtype=np.float64) - price_weight_per_usd * np.asarray(
            price_usd, dtype=np.float64
        )
    return np.where(np.isnan(u), -np.inf, u)


def logit_shares(
    accuracy: np.ndarray, price_usd: np.ndarray, price_weight_per_usd: float, temperature: float
) -> np.ndarray:
    """Multinomial-logit choice probabilities over utility u = accuracy − w·price_usd.

    Computed as ``exp((u − max u) / T)``, normalised: the best alternative's term is
    exactly 1, so neither a tiny temperature nor huge prices overflow to inf (and
    inf − inf to NaN); the others underflow to 0 at worst. Alternatives with u = −inf get
    0. If no alternative has a finite utility, the choice is uniform over those for sale
    (``accuracy`` > −inf), or over all if none is.

    Args:
        accuracy: Accuracy of each alternative (fraction; ``-inf`` = not for sale).
        price_usd: Price of one inference on each alternative (USD/inference).
        price_weight_per_usd: Accuracy given up per USD of price (accuracy/USD).
        temperature: Logit temperature (accuracy units); small = pick the best.

    Returns:
        Probabilities (float64, summing to 1), one per alternative.
    """
    accuracy = np.asarray(accuracy, dtype=np.float64)
    u = utilities(accuracy, price_usd, price_weight_per_usd)
    if u.size == 0:
        return u
    top = np.max(u)
    if not np.isfinite(top):
        for_sale = accuracy > -np.inf
        w = (for_sale if for_sale.any() else np.ones_like(for_sale)).astype(np.float64)
        return w / w.sum()
    with np.errstate(over="ignore", under="ignore"):
        w = np.exp((u - top) / temperature)
    return w / w.sum()


def bass_expected_arrivals(
    adopters: float, market_potential: float, innovation: float, imitation: float
) -> float:
    """Expected new adopters in one epoch of the Bass diffusion (individuals/epoch):
    ``(p + q · N/M) · (M − N)``, zero when the market is saturated (N ≥ M) or M = 0.

    Args:
        adopters: Current adopters N (individuals).
        market_potential: Market potential M (individuals).
        innovation: Innovation rate p (1/epoch).
        imitation: Imitation rate q (1/epoch).
    """
    if market_potential <= 0 or adopters >= market_potential:
        return 0.0
    n = max(float(adopters), 0.0)
    return (innovation + imitation * n / market_potential) * (market_potential - n)


def bass_expected_path(
    adopters0: float, market_potential: float, innovation: float, imitation: float, epochs: int
) -> np.ndarray:
    """Adopters after each of ``epochs`` epochs of the discrete Bass recursion
    ``N_{t+1} = N_t + (p + q·N_t/M)(M − N_t)`` (individuals, float64 [epochs]): the
    expected path when arrivals are drawn with :func:`bass_expected_arrivals` as their
    mean and nobody leaves, to first order in the rates."""
    out = np.empty(epochs)
    n = float(adopters0)
    for t in range(epochs):  # a recursion over epochs, not over individuals
        n += bass_expected_arrivals(n, market_potential, innovation, imitation)
        out[t] = n
    return out


def bass_adopters_closed_form(
    t_epochs: np.ndarray,
    market_potential: float,
    innovation: float,
    imitation: float,
    adopters0: float = 0.0,
) -> np.ndarray:
    """Adopters at times ``t_epochs`` by the closed form of the Bass diffusion
    (individuals): ``N(t) = M · (1 − e^{−(p+q)(t+t0)}) / (1 + (q/p) e^{−(p+q)(t+t0)})``, where
    t0 puts N(0) = ``adopters0`` on the curve (t0 = 0 when it is 0).

    Args:
        t_epochs: Times since launch (epochs).
        market_potential: Market potential M (individuals, > 0).
        innovation: Innovation rate p (1/epoch, > 0).
        imitation: Imitation rate q (1/epoch, >= 0).
        adopters0: Adopters at t = 0 (individuals, in [0, M)).
    """
    m, p, q = float(market_potential), float(innovation), float(imitation)
    f0 = float(adopters0) / m
    e0 = (1.0 - f0) / (1.0 + f0 * q / p)  # e^{−(p+q) t0}
    e = e0 * np.exp(-(p + q) * np.asarray(t_epochs, dtype=np.float64))
    return m * (1.0 - e) / (1.0 + (q / p) * e)


@dataclass(frozen=True)
class OutsideOption:
    """A centralised alternative to the network's models (the scenario's
    ``market.outside_option``, by the same names).

    Attributes:
        enabled: Whether consumers can buy it at all.
        accuracy: Its accuracy (fraction).
        price_usd_per_inference: Its price (USD/inference).
        change_epochs: Epochs at which a scheduled change takes effect (epoch index,
            increasing).
        change_prices_usd: The price from each change on (USD/inference; NaN = unchanged).
        change_accuracies: The accuracy from each change on (fraction; NaN = unchanged).
    """

    enabled: bool = True
    accuracy: float = 0.55
    price_usd_per_inference: float = 0.02
    change_epochs: tuple[int, ...] = ()
    change_prices_usd: tuple[float, ...] = ()
    change_accuracies: tuple[float, ...] = ()

    def at(self, epoch: int) -> tuple[float, float]:
        """(accuracy, price in USD/inference) in force at ``epoch``: the base values with
        every change whose epoch is at most ``epoch`` applied in order."""
        accuracy, price = self.accuracy, self.price_usd_per_inference
        for at_epoch, p, a in zip(
            self.change_epochs, self.change_prices_usd, self.change_accuracies, strict=True
        ):
            if at_epoch > epoch:
                break
            price = price if np.isnan(p) else p
            accuracy = accuracy if np.isnan(a) else a
        return accuracy, price
