"""Quality filter: refuse points whose label disagrees with their neighbourhood, or outliers.

Why: label-flip poisoning and junk submissions are cheap; both are visible against the data
already accepted (the *reference* set). Two checks per new point:

* **label consistency** — ``agreement`` = share of the point's k nearest reference points
  (Euclidean, cKDTree) that carry the same label. Flagged when
  ``agreement < min_label_agreement``. A flipped label in a clean region scores ≈ 0.
* **robust z-score** — per feature, ``z = |x − median| / (1.4826·MAD)`` with the median and
  the median absolute deviation (MAD) of the reference set; 1.4826·MAD estimates the standard
  deviation of normal data (Iglewicz & Hoaglin 1993: "modified z-score" 0.6745·(x−median)/MAD,
  who suggest outliers at > 3.5; the default here is a more tolerant 6). Flagged when the
  maximum over features exceeds ``max_robust_z``.
  A feature with MAD = 0 falls back to 1.253314·(mean absolute deviation) (which also
  estimates σ for normal data); if that is 0 too (a constant feature), any deviation from the
  median is an outlier (z = inf) and equality is not (z = 0).

Severity = ``1 − agreement``, or 1 for a z-outlier; reasons ``"label"`` / ``"outlier"``.

Cold start: while the reference set holds fewer than ``min_reference_points`` points, every
point is accepted unscreened (there is nothing reliable to compare with) — so an attacker
who arrives first is not filtered, and early poison becomes part of the reference.

Known false-positive modes: honest low-quality providers' mislabelled points are refused
(they *are* wrong, but the provider is honest); honest points in class-overlap regions
(near the decision boundary) have low agreement; honest points of a rare mode far from the
bulk of the reference data are refused as z-outliers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ledgerlab.economics.defenses.base import (
    DefenseInputError,
    DefenseParamError,
    FloatArray,
    ScreenResult,
    as_features,
    as_int_vector,
    check_float,
    check_int,
    same_length,
)

__all__ = [
    "MAD_TO_SIGMA",
    "MEAN_AD_TO_SIGMA",
    "QualityFilterParams",
    "RobustStats",
    "label_agreement",
    "robust_stats",
    "robust_z",
    "screen_quality",
]

MAD_TO_SIGMA = 1.4826
"""1/Φ⁻¹(3/4): the MAD of normal data times this is its standard deviation."""
MEAN_AD_TO_SIGMA = 1.253314
"""√(π/2): the mean absolute deviation of normal data times this is its standard deviation."""


@dataclass(frozen=True)
class QualityFilterParams:
    """Parameters of the quality filter (defaults match the scenario schema's
    ``quality_filter`` section: knn_k = 5, agreement >= 0.4, robust z <= 6; screening starts at
    50 reference points)."""

    knn_k: int = 5
    """Reference neighbours consulted per new point (count, >= 1)."""
    min_label_agreement: float = 0.4
    """Minimum share of the k neighbours with the same label (dimensionless, in [0, 1])."""
    max_robust_z: float = 6.0
    """Largest accepted robust z-score over features (standard deviations, > 0)."""
    min_reference_points: int = 50
    """Reference points needed before screening starts; fewer = accept all (count, >= knn_k)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        k = check_int(cls, "knn_k", self.knn_k, 1)
        object.__setattr__(self, "knn_k", k)
        object.__setattr__(
            self,
            "min_label_agreement",
            check_float(cls, "min_label_agreement", self.min_label_agreement, 0.0, 1.0),
        )
        object.__setattr__(
            self,
            "max_robust_z",
            check_float(cls, "max_robust_z", self.max_robust_z, 0.0, low_open=True),
        )
        m = check_int(cls, "min_reference_points", self.min_reference_points, 1)
        if m < k:
            raise DefenseParamError(
                f"{cls}.min_reference_points must be >= knn_k={k} (the neighbours consulted), "
                f"got {m}; raise min_reference_points or lower knn_k"
            )
        object.__setattr__(self, "min_reference_points", m)


@dataclass(frozen=True)
class RobustStats:
    """Per-feature location and scale of the reference set for robust z-scores."""

    median: FloatArray
    """Median of each feature (feature units, float64[d])."""
    scale: FloatArray
    """Robust standard deviation of each feature: 1.4826·MAD, or 1.253314·mean absolute
    deviation where MAD = 0 (feature units, float64[d], 0 only for a constant feature)."""


def robust_stats(ref_x: npt.ArrayLike) -> RobustStats:
    """Median and robust scale of each feature of the reference set (see module docstring).

    Cost O(n_ref·d) (``np.median`` uses selection, not a full sort). Compute once per epoch
    and pass it to :func:`screen_quality` to screen several batches against one reference.
    """
    x = as_features("robust_stats", "ref_x", ref_x)
    if len(x) == 0:
        raise DefenseInputError("robust_stats: ref_x is empty; need at least one reference point")
    med = np.median(x, axis=0)
    dev = np.abs(x - med)
    mad = np.median(dev, axis=0)
    mean_ad = dev.mean(axis=0)
    scale = np.where(mad > 0, MAD_TO_SIGMA * mad, MEAN_AD_TO_SIGMA * mean_ad)
    return RobustStats(median=med, scale=scale)


def robust_z(x: npt.ArrayLike, stats: RobustStats) -> FloatArray:
    """Robust z-score of each point and feature: ``|x − median| / scale`` (float64[n, d]).

    Where ``scale`` is 0 (a constant reference feature): 0 if ``x`` equals the median, else
    ``inf``. Cost O(n·d).
    """
    xv = as_features("robust_z", "x", x, n_features=len(stats.median))
    dev = np.abs(xv - stats.median)
    safe = np.where(stats.scale > 0, stats.scale, 1.0)
    z = dev / safe
    const = stats.scale == 0
    return np.where(const, np.where(dev > 0, np.inf, 0.0), z)


def label_agreement(
    new_x: npt.ArrayLike,
    new_y: npt.ArrayLike,
    ref_y: npt.ArrayLike,
    ref_tree: cKDTree,
    k: int,
) -> FloatArray:
    """Share of each new point's ``k`` nearest reference points with the same label.

    Ties at the k-th distance are broken by the KD-tree (arbitrarily but deterministically).
    Cost O(n_new·k·log n_ref). Returns float64[n_new] in [0, 1].
    """
    op = "label_agreement"
    kk = check_int(op, "k", k, 1, exc=DefenseInputError)
    if kk > ref_tree.n:
        raise DefenseInputError(
            f"{op}: k={kk} neighbours requested but the reference tree holds {ref_tree.n} points"
        )
    nx = as_features(op, "new_x", new_x, n_features=ref_tree.m)
    ny = as_int_vector(op, "new_y", new_y, low=None)
    ry = as_int_vector(op, "ref_y", ref_y, low=None)
    same_length(op, new_x=nx, new_y=ny)
    if len(ry) != ref_tree.n:
        raise DefenseInputError(
            f"{op}: ref_y has {len(ry)} labels but the reference tree holds {ref_tree.n} points"
        )
    if len(nx) == 0:
        return np.zeros(0, dtype=np.float64)
    _, idx = ref_tree.query(nx, k=kk)
    idx = idx.reshape(len(nx), kk)
    return np.count_nonzero(ry[idx] == ny[:, None], axis=1) / kk


def screen_quality(
    new_x: npt.ArrayLike,
    new_y: npt.ArrayLike,
    ref_x: npt.ArrayLike,
    ref_y: npt.ArrayLike,
    params: QualityFilterParams,
    ref_tree: cKDTree | None = None,
    ref_stats: RobustStats | None = None,
) -> ScreenResult:
    """Screen new labelled points against the accepted reference set.

    Flags a point when its label agreement with its k nearest reference points is below
    ``min_label_agreement`` (reason ``"label"``) or its largest robust z-score exceeds
    ``max_robust_z`` (reason ``"outlier"``, which wins). Severity = 1 − agreement for every
    screened point (a continuous score: use ``ScreenResult.slash_severity`` to slash only
    flagged points), 1 for outliers. With fewer than ``min_reference_points`` reference
    points everything is accepted with severity 0 (cold start, see module docstring).

    Cost: O(n_new·k·log n_ref + n_new·d) for the queries of the new points, plus
    O(n_ref log n_ref) to build ``ref_tree`` and O(n_ref·d) for ``ref_stats`` when they are not
    passed in (build them once per epoch). Known false-positive modes: honest providers'
    mislabelled points, honest points in class-overlap regions, honest rare-mode points.

    Args:
        new_x: features of the new points, float[n_new, d] (feature units).
        new_y: labels of the new points, int[n_new].
        ref_x: features of the accepted reference points, float[n_ref, d].
        ref_y: labels of the reference points, int[n_ref].
        params: the quality-filter parameters.
        ref_tree: optional ``cKDTree`` over ``ref_x`` (same rows, same order).
        ref_stats: optional :func:`robust_stats` of ``ref_x``.

    Returns:
        a :class:`ScreenResult` named ``"quality_filter"`` with one entry per new point.
    """
    op = "screen_quality"
    nx = as_features(op, "new_x", new_x)
    d = nx.shape[1]
    rx = as_features(op, "ref_x", ref_x, n_features=d)
    ny = as_int_vector(op, "new_y", new_y, low=None)
    ry = as_int_vector(op, "ref_y", ref_y, low=None)
    n_new = same_length(op, new_x=nx, new_y=ny)
    n_ref = same_length(op, ref_x=rx, ref_y=ry)
    if n_ref < params.min_reference_points or n_new == 0:
        return ScreenResult.passthrough(n_new, "quality_filter")
    if ref_tree is not None:
        if not isinstance(ref_tree, cKDTree):
            raise DefenseInputError(
                f"{op}: ref_tree must be a scipy.spatial.cKDTree, got {type(ref_tree).__name__}"
            )
        if ref_tree.n != n_ref or ref_tree.m != d:
            raise DefenseInputError(
                f"{op}: ref_tree holds {ref_tree.n} points of dimension {ref_tree.m}, but "
                f"ref_x is {n_ref} x {d}; rebuild the tree over ref_x"
            )
    tree = ref_tree if ref_tree is not None else cKDTree(rx)
    stats = ref_stats if ref_stats is not None else robust_stats(rx)
    if stats.median.shape != (d,) or stats.scale.shape != (d,):
        raise DefenseInputError(
            f"{op}: ref_stats are for {stats.median.shape} features, expected ({d},)"
        )

    agreement = label_agreement(nx, ny, ry, tree, params.knn_k)
    z_max = robust_z(nx, stats).max(axis=1) if d else np.zeros(n_new)
    outlier = z_max > params.max_robust_z
    mislabel = agreement < params.min_label_agreement
    severity = np.where(outlier, 1.0, 1.0 - agreement)
    flagged = mislabel | outlier
    return ScreenResult.from_masks(
        "quality_filter",
        ~flagged,
        flagged,
        np.clip(severity, 0.0, 1.0),
        reasons=(("outlier", outlier), ("label", mislabel)),
    )
