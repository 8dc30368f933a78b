"""The learning tasks behind datanets: generators of clean labelled points with a known truth.

Why: the simulator must always know how good a contribution really is, and data must matter
— at the default sizes a model trained on more honest data is measurably better, and
coverage of what users now ask about has marginal value the ground truth can see
(DESIGN.md, "The learning task"). Two kinds:

* :class:`GaussianMixtureTask` — synthetic. Each class is a mixture of ``regions_per_class``
  isotropic Gaussian regions around its class mean. With ``drift_every_epochs`` > 0 the task
  is non-stationary (concept drift): ``launch_regions`` regions per class are active at
  epoch 0 and each class gains one more every ``drift_every_epochs`` epochs, so the data the
  protocol seeded at launch does not cover what users ask about later. The schedule is a
  pure function of the epoch (``active_regions``), so a shorter run is a prefix of a longer.
* :class:`DigitsTask` — scikit-learn's bundled handwritten digits (``load_digits``: 1,797
  8×8 images, 10 classes; no download), under the optional extra ``datasets``. The images
  are split once into held-out rows (never drawn by anyone) and a pool that contributors
  draw from, each draw with a small Gaussian jitter so repeated draws are not exact copies.

A task draws at its *current epoch*, set by the simulation once per epoch with
:meth:`GaussianMixtureTask.at_epoch` (default 0, the launch distribution); held-out sets
(:meth:`held_out`) are drawn from the *eventual* distribution (every region active), a
fixed target that does not depend on the horizon. Pure numpy; every draw from a passed
``Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DIGITS_CLASSES",
    "DIGITS_FEATURES",
    "DIGITS_PIXEL_SCALE",
    "DIGITS_POINTS",
    "DigitsTask",
    "GaussianMixtureTask",
    "Task",
    "TaskError",
    "TaskSpec",
    "load_digits_scaled",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DIGITS_POINTS: int = 1_797
"""Images in scikit-learn's ``load_digits`` (points)."""
DIGITS_CLASSES: int = 10
"""Classes of the digits task (digits 0–9)."""
DIGITS_FEATURES: int = 64
"""Features of the digits task: 8×8 pixel intensities (features)."""
DIGITS_PIXEL_SCALE: float = 4.0
"""Raw intensities 0–16 are divided by this (raw units per feature unit), so pixel values lie
in [0, 4] and a typical within-class pixel std is about 1 feature unit, like the synthetic
task's ``cluster_std``: the dedup distance, the backdoor trigger value (e.g. 6.0 in two
always-blank corner pixels) and the junk scale mean the same on both tasks."""


class TaskError(ValueError):
    """Bad parameters of a learning task, or a task that cannot be loaded."""


class Task(Protocol):
    """What the simulation needs from a task (both kinds provide it): its ``spec`` and
    ``centroid`` (junk is drawn around it), ``n_classes`` and ``n_features``, ``at_epoch``
    (the epoch draws follow), ``sample_classes``/``features_of``/``sample`` (clean points of
    the current epoch's distribution) and ``held_out`` (clean points no contributor draws:
    the eventual distribution, or reserved images)."""

    spec: TaskSpec
    centroid: FloatArray

    @property
    def n_classes(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    def at_epoch(self, epoch: int) -> None: ...

    def sample_classes(
        self, n: int, rng: np.random.Generator, balanced: bool = False
    ) -> IntArray: ...

    def features_of(self, classes: npt.ArrayLike, rng: np.random.Generator) -> FloatArray: ...

    def sample(
        self, n: int, rng: np.random.Generator, balanced: bool = False
    ) -> tuple[FloatArray, IntArray]: ...

    def held_out(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, IntArray]: ...


@dataclass(frozen=True)
class TaskSpec:
    """Parameters of a Gaussian-mixture classification task (one per datanet)."""

    n_classes: int = 3
    """Number of classes (count, >= 2)."""
    n_features: int = 10
    """Feature dimension d (count, >= 1)."""
    class_separation: float = 3.0
    """Distance between class means (units: cluster_std). Exact pairwise distance when
    n_classes <= n_features (means on a regular simplex), typical distance otherwise."""
    cluster_std: float = 1.0
    """Standard deviation of each feature around its region centre (feature units, > 0)."""
    noise_std: float = 4.0
    """Std of junk (``noise``) features around the centroid of the means (units: cluster_std)."""
    regions_per_class: int = 1
    """Gaussian regions per class, eventually (count, >= 1); 1 = one Gaussian per class."""
    region_spread: float = 0.0
    """Distance of each region centre from its class mean, in a random direction
    (units: cluster_std; unused with one region)."""
    launch_regions: int = 1
    """Regions per class active at epoch 0 (count, 1..regions_per_class)."""
    drift_every_epochs: int = 0
    """Each class gains one active region every this many epochs until all are active;
    0 = every region active from launch (epochs)."""

    def __post_init__(self) -> None:
        for name, low in (("n_classes", 2), ("n_features", 1), ("regions_per_class", 1)):
            value = getattr(self, name)
            if int(value) != value or value < low:
                raise TaskError(f"TaskSpec.{name} must be an integer >= {low}, got {value!r}")
        for name in ("class_separation", "cluster_std", "noise_std"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise TaskError(f"TaskSpec.{name} must be finite and > 0, got {value!r}")
        if not np.isfinite(self.region_spread) or self.region_spread < 0:
            raise TaskError(
                f"TaskSpec.region_spread must be finite and >= 0, got {self.region_spread!r}"
            )
        if not 1 <= self.launch_regions <= self.regions_per_class:
            raise TaskError(
                f"TaskSpec.launch_regions must lie in [1, regions_per_class="
                f"{self.regions_per_class}], got {self.launch_regions!r}"
            )
        if int(self.drift_every_epochs) != self.drift_every_epochs or self.drift_every_epochs < 0:
            raise TaskError(
                f"TaskSpec.drift_every_epochs must be an integer >= 0, got "
                f"{self.drift_every_epochs!r}"
            )

    def active_regions(self, epoch: int) -> int:
        """Regions per class active at ``epoch`` (count): ``launch_regions`` plus one per
        ``drift_every_epochs`` elapsed, at most ``regions_per_class``; all without drift."""
        if self.drift_every_epochs == 0:
            return self.regions_per_class
        return min(self.regions_per_class, self.launch_regions + epoch // self.drift_every_epochs)


def _check_count(n: int, what: str) -> None:
    if int(n) != n or n < 0:
        raise TaskError(f"{what}: n must be an integer >= 0, got {n!r}")


def _check_epoch(epoch: int, what: str) -> int:
    if int(epoch) != epoch or epoch < 0:
        raise TaskError(f"{what}: epoch must be an integer >= 0, got {epoch!r}")
    return int(epoch)


def _class_draw(n: int, n_classes: int, rng: np.random.Generator, balanced: bool) -> IntArray:
    """``n`` class ids: i.i.d. uniform, or (``balanced``) equal counts ±1 in random order."""
    if balanced:
        return rng.permutation(np.arange(n, dtype=np.int64) % n_classes)
    return rng.integers(0, n_classes, size=n, dtype=np.int64)


class GaussianMixtureTask:
    """A Gaussian-mixture classification task with a known truth, optionally drifting.

    Class means are drawn once from ``rng``: a random orthonormal frame (QR of a Gaussian
    matrix) scaled so that every pair of means is exactly ``class_separation · σ`` apart (a
    regular simplex) when n_classes <= n_features, else random directions with that typical
    pairwise distance. With one region per class, class c generates x ~ N(μ_c, σ² I) and the
    Bayes classifier is the nearest mean. With R regions, region j of class c is centred at
    μ_c + ``region_spread``·σ·u_cj (u_cj random unit directions, drawn after the means), and
    a point of class c comes from one of its *active* regions, uniformly; classes are equally
    likely. Regions active at an epoch: ``spec.active_regions(epoch)``, the first ones first.
    """

    def __init__(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self.spec: TaskSpec = spec
        k, d = spec.n_classes, spec.n_features
        scale = spec.class_separation * spec.cluster_std / np.sqrt(2.0)
        if k <= d:
            q, r = np.linalg.qr(rng.standard_normal((d, k)))
            q = q * np.sign(np.diag(r))  # canonical orientation of the frame
            means = scale * q.T  # k orthonormal rows: pairwise distance scale·√2
        else:
            g = rng.standard_normal((k, d))
            # independent random unit directions: E‖μ_a − μ_b‖² = 2·scale² = (sep·σ)²
            means = scale * g / np.linalg.norm(g, axis=1, keepdims=True)
        self.means: FloatArray = np.ascontiguousarray(means, dtype=np.float64)
        self.means.setflags(write=False)
        self.centroid: FloatArray = self.means.mean(axis=0)
        self.centroid.setflags(write=False)
        centres = self.means[:, None, :]
        if spec.regions_per_class > 1:  # one region: no draw, so old streams do not shift
            u = rng.standard_normal((k, spec.regions_per_class, d))
            u /= np.linalg.norm(u, axis=2, keepdims=True)
            centres = centres + spec.region_spread * spec.cluster_std * u
        self.centres: FloatArray = np.ascontiguousarray(centres, dtype=np.float64)
        """Region centres [n_classes, regions_per_class, d] (feature units)."""
        self.centres.setflags(write=False)
        self.epoch: int = 0
        """The epoch whose distribution ``sample``/``features_of`` draw from (epochs)."""

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return self.spec.n_classes

    @property
    def n_features(self) -> int:
        """Feature dimension d."""
        return self.spec.n_features

    def at_epoch(self, epoch: int) -> None:
        """Draw from the distribution of ``epoch`` (epochs, >= 0) from now on."""
        self.epoch = _check_epoch(epoch, "GaussianMixtureTask.at_epoch")

    def sample_classes(self, n: int, rng: np.random.Generator, balanced: bool = False) -> IntArray:
        """``n`` class ids: i.i.d. uniform, or (``balanced``) equal counts ±1 in random order."""
        _check_count(n, "GaussianMixtureTask.sample_classes")
        return _class_draw(n, self.n_classes, rng, balanced)

    def features_of(
        self, classes: npt.ArrayLike, rng: np.random.Generator, regions: int | None = None
    ) -> FloatArray:
        """Clean features for the given class ids, float64 [n, d]: a uniformly chosen region
        among the first ``regions`` of each class (default: those active at the current
        epoch) plus σ·N(0, I)."""
        cls = np.asarray(classes, dtype=np.int64)
        active = self.spec.active_regions(self.epoch) if regions is None else regions
        if self.spec.regions_per_class == 1:
            centre = self.means[cls]
        else:
            centre = self.centres[cls, rng.integers(0, active, size=cls.shape[0])]
        eps = rng.standard_normal((cls.shape[0], self.n_features))
        return centre + self.spec.cluster_std * eps

    def sample(
        self, n: int, rng: np.random.Generator, balanced: bool = False
    ) -> tuple[FloatArray, IntArray]:
        """``n`` clean labelled points ``(x float64 [n, d], y int64 [n])`` of the current
        epoch's distribution, labels = true class (uniform i.i.d., or balanced ±1)."""
        y = self.sample_classes(n, rng, balanced)
        return self.features_of(y, rng), y

    def held_out(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, IntArray]:
        """``n`` clean points of the eventual distribution (every region active): what a
        model's quality and the ground truth are measured on."""
        y = self.sample_classes(n, rng)
        return self.features_of(y, rng, regions=self.spec.regions_per_class), y

    def bayes_label(self, x: npt.ArrayLike) -> IntArray:
        """The Bayes-optimal label of each row of ``x`` [n, d] under the eventual
        distribution: the nearest class mean with one region per class, else the class of
        largest mixture likelihood (log-sum-exp over its regions)."""
        xa = np.asarray(x, dtype=np.float64)
        if xa.ndim != 2 or xa.shape[1] != self.n_features:
            raise TaskError(
                f"GaussianMixtureTask.bayes_label: x must be [n, {self.n_features}], "
                f"got shape {xa.shape}"
            )
        if self.spec.regions_per_class == 1:
            sq = np.sum(self.means**2, axis=1)[None, :] - 2.0 * xa @ self.means.T
            return np.argmin(sq, axis=1).astype(np.int64)
        c = self.centres.reshape(-1, self.n_features)
        sq = np.sum(c**2, axis=1)[None, :] - 2.0 * xa @ c.T  # ‖x−μ‖² minus ‖x‖²
        logp = (-0.5 / self.spec.cluster_std**2 * sq).reshape(xa.shape[0], self.n_classes, -1)
        top = logp.max(axis=2, keepdims=True)
        loglik = top[..., 0] + np.log(np.exp(logp - top).sum(axis=2))
        return np.argmax(loglik, axis=1).astype(np.int64)

    def bayes_accuracy(self, rng: np.random.Generator, n: int = 200_000) -> float:
        """Monte-Carlo estimate of the Bayes accuracy on the eventual distribution (share of
        ``n`` fresh points whose Bayes label equals the generating class). Exact for 2
        classes and one region: Φ(sep/2)."""
        x, y = self.held_out(n, rng)
        return float(np.mean(self.bayes_label(x) == y))


def load_digits_scaled() -> tuple[FloatArray, IntArray]:
    """scikit-learn's bundled digits as (x float64 [1797, 64] in feature units, y int64):
    raw intensities ÷ :data:`DIGITS_PIXEL_SCALE`. Raises ``TaskError`` with the install
    command when scikit-learn is missing."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # the optional extra
        raise TaskError(
            "task 'digits' needs scikit-learn: pip install 'ledgerlab[datasets]'"
        ) from exc
    data = load_digits()
    x = np.asarray(data.data, dtype=np.float64) / DIGITS_PIXEL_SCALE
    return np.ascontiguousarray(x), np.asarray(data.target, dtype=np.int64)


class DigitsTask:
    """scikit-learn's handwritten digits as a datanet task (stationary, 10 classes, 64
    features in units of :data:`DIGITS_PIXEL_SCALE`).

    The 1,797 images are shuffled once with ``rng``; the first ``n_reserved`` rows are the
    held-out rows (handed out by :meth:`held_out` in order, so the validation and
    ground-truth sets are disjoint from each other), the rest is the pool contributors draw
    from: a draw of class c is a uniformly chosen pool image of class c plus Gaussian jitter
    of std ``jitter_std`` (feature units) per pixel, so repeated draws are not exact copies.
    """

    def __init__(
        self, spec: TaskSpec, rng: np.random.Generator, n_reserved: int, jitter_std: float
    ) -> None:
        if spec.n_classes != DIGITS_CLASSES or spec.n_features != DIGITS_FEATURES:
            raise TaskError(
                f"DigitsTask: the digits task has {DIGITS_CLASSES} classes and "
                f"{DIGITS_FEATURES} features, got {spec.n_classes} and {spec.n_features}"
            )
        if not np.isfinite(jitter_std) or jitter_std < 0:
            raise TaskError(f"DigitsTask: jitter_std must be finite and >= 0, got {jitter_std!r}")
        x, y = load_digits_scaled()
        if int(n_reserved) != n_reserved or not 0 <= n_reserved <= x.shape[0] - 10 * DIGITS_CLASSES:
            raise TaskError(
                f"DigitsTask: n_reserved must leave at least {10 * DIGITS_CLASSES} of the "
                f"{x.shape[0]} images to draw from, got {n_reserved!r}"
            )
        self.spec: TaskSpec = spec
        self.jitter_std: float = float(jitter_std)
        order = rng.permutation(x.shape[0])
        held, pool = order[:n_reserved], order[n_reserved:]
        self._held_x, self._held_y = x[held], y[held]
        self._next_held = 0
        pool = pool[np.argsort(y[pool], kind="stable")]  # grouped by class
        self.pool_x: FloatArray = x[pool]
        """Images contributors draw from [m, 64], grouped by class (feature units)."""
        self.pool_y: IntArray = y[pool]
        counts = np.bincount(self.pool_y, minlength=DIGITS_CLASSES)
        self._start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._count = counts.astype(np.int64)
        self.centroid: FloatArray = self.pool_x.mean(axis=0)
        self.centroid.setflags(write=False)
        self.epoch: int = 0

    @property
    def n_classes(self) -> int:
        """Number of classes (10)."""
        return DIGITS_CLASSES

    @property
    def n_features(self) -> int:
        """Feature dimension (64)."""
        return DIGITS_FEATURES

    @property
    def n_pool(self) -> int:
        """Images contributors draw from (points)."""
        return int(self.pool_y.shape[0])

    def at_epoch(self, epoch: int) -> None:
        """Stationary: the epoch is recorded but changes nothing."""
        self.epoch = _check_epoch(epoch, "DigitsTask.at_epoch")

    def sample_classes(self, n: int, rng: np.random.Generator, balanced: bool = False) -> IntArray:
        """``n`` class ids: i.i.d. uniform, or (``balanced``) equal counts ±1 in random order."""
        _check_count(n, "DigitsTask.sample_classes")
        return _class_draw(n, DIGITS_CLASSES, rng, balanced)

    def features_of(self, classes: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
        """For each class id, a uniformly chosen pool image of that class plus the jitter."""
        cls = np.asarray(classes, dtype=np.int64)
        pick = self._start[cls] + np.floor(rng.random(cls.shape[0]) * self._count[cls])
        x = self.pool_x[pick.astype(np.int64)]
        return x + self.jitter_std * rng.standard_normal(x.shape)

    def sample(
        self, n: int, rng: np.random.Generator, balanced: bool = False
    ) -> tuple[FloatArray, IntArray]:
        """``n`` drawn points ``(x, y)`` with correct labels."""
        y = self.sample_classes(n, rng, balanced)
        return self.features_of(y, rng), y

    def held_out(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, IntArray]:
        """The next ``n`` reserved images, untouched (no jitter; ``rng`` unused): successive
        calls return disjoint sets, none of which any contributor can draw."""
        _check_count(n, "DigitsTask.held_out")
        stop = self._next_held + n
        if stop > self._held_x.shape[0]:
            raise TaskError(
                f"DigitsTask.held_out: {n} more held-out images asked for, "
                f"{self._held_x.shape[0] - self._next_held} reserved left"
            )
        x, y = self._held_x[self._next_held : stop], self._held_y[self._next_held : stop]
        self._next_held = stop
        return x, y
