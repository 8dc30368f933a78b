"""The learning task behind a datanet, the contribution generators, and the datanet store.

Each datanet is a supervised task with a known truth (``economics.tasks``): a synthetic
Gaussian-mixture classification problem (``GaussianMixtureTask``; optionally several regions
per class that become active over time — concept drift) or scikit-learn's handwritten digits
(``DigitsTask``). ``build_task`` makes a datanet's task and its held-out sets from the
scenario. Because the generator is known, the simulator can always tell how good a
contribution really is (its labels' true classes, its ground-truth data value). Generators
draw from the task's current epoch (``Task.at_epoch``, set by the model each epoch).

Contributions are ``Batch``es: columns of points (features, label, owner, kind, content hash,
true class). One call of a generator makes the batches of *many* contributors at once (one
owner id per point), so an epoch's submissions of one kind cost one vectorised call:

* ``honest`` — clean points, label correct with the contributor's quality q (per point);
* ``label_flip`` — clean features, wrong label (a random other class, or a target class);
* ``backdoor`` — clean features with a trigger written into chosen columns, label = target;
* ``noise`` — junk: features from a broad Gaussian, uniformly random labels;
* ``duplicate`` — exact copies of existing points of other owners;
* ``near_duplicate`` — copies plus a small Gaussian jitter (defeats exact-hash dedup).

A ``Datanet`` keeps every accepted point in growing numpy columns (capacity doubling, so
append is O(1) amortised) with an ``active`` flag that defences can clear without
reallocating. There are no per-point Python objects anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledgerlab.agents.plans import Kind
from ledgerlab.economics.defenses.dedup import content_hash
from ledgerlab.economics.learning import apply_trigger
from ledgerlab.economics.tasks import (
    DigitsTask,
    GaussianMixtureTask,
    Task,
    TaskError,
    TaskSpec,
)
from ledgerlab.scenarios.schema import Datanet as DatanetSpec

__all__ = [
    "HASH_DECIMALS",
    "Batch",
    "Datanet",
    "DatanetError",
    "DigitsTask",
    "GaussianMixtureTask",
    "Kind",
    "Task",
    "TaskError",
    "TaskSpec",
    "apply_trigger",
    "backdoor",
    "build_task",
    "concat_batches",
    "content_hash",
    "duplicate",
    "honest",
    "label_flip",
    "near_duplicate",
    "noise",
    "repeat_owners",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]

#: Features are rounded to this many decimals (feature units) before hashing, so that points
#: equal up to float round-off hash equal, while any jitter above ~1e-9 changes the hash.
HASH_DECIMALS: int = 9

#: True class recorded for points that were not generated from any class (noise).
NO_CLASS: int = -1


DatanetError = TaskError
"""Bad input to the learning task, a contribution generator or a datanet (one error type
for all three: ``economics.tasks.TaskError``)."""


# ---------------------------------------------------------------------------------------------
# batches


def _owners_array(owners: npt.ArrayLike, what: str) -> IntArray:
    arr = np.asarray(owners)
    if arr.ndim != 1:
        raise DatanetError(
            f"{what}: owners must be a 1-D array (one id per point), got {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DatanetError(f"{what}: owners must be integer account ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise DatanetError(f"{what}: owner ids must be >= 0, got {int(arr.min())}")
    return arr


@dataclass(frozen=True, eq=False)
class Batch:
    """A set of submitted points, as columns (all of length n).

    Build one with ``Batch.build`` (computes the hash and checks shapes) or a generator.
    The epoch is not part of a batch: ``Datanet.append`` stamps it.
    """

    x: FloatArray
    """Features, float64 [n, d] (feature units)."""
    y: IntArray
    """Submitted label (class id), int64 [n]."""
    owner: IntArray
    """Ledger account id of the submitter, int64 [n]."""
    kind: npt.NDArray[np.int8]
    """``Kind`` of each point, int8 [n]."""
    hash: HashArray
    """Content hash of (features rounded to ``HASH_DECIMALS``, label), uint64 [n]
    (``economics.defenses.content_hash``: what the dedup defence compares)."""
    y_true: IntArray
    """Class the features were generated from, int64 [n]; ``NO_CLASS`` (-1) if none/unknown.
    Simulator-only truth: agents and defences must not read it."""

    @classmethod
    def build(
        cls,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        owner: npt.ArrayLike,
        kind: Kind | npt.ArrayLike,
        y_true: npt.ArrayLike | None = None,
    ) -> Batch:
        """Validate and assemble a batch; ``kind`` may be one ``Kind`` for all points."""
        xa = np.ascontiguousarray(x, dtype=np.float64)
        if xa.ndim != 2:
            raise DatanetError(f"Batch.build: x must be 2-D [n, d], got shape {xa.shape}")
        n = xa.shape[0]
        if not np.all(np.isfinite(xa)):
            raise DatanetError("Batch.build: x contains NaN or infinite values")
        ya = np.asarray(y)
        if ya.shape != (n,) or (n and not np.issubdtype(ya.dtype, np.integer)):
            raise DatanetError(
                f"Batch.build: y must be {n} integer labels, got shape {ya.shape} dtype {ya.dtype}"
            )
        ya = ya.astype(np.int64, copy=False)
        if n and ya.min() < 0:
            raise DatanetError(f"Batch.build: labels must be >= 0, got {int(ya.min())}")
        own = _owners_array(owner, "Batch.build")
        if own.shape != (n,):
            raise DatanetError(f"Batch.build: owner must have {n} entries, got {own.shape}")
        kd = np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy()
        if n and (kd.min() < min(Kind) or kd.max() > max(Kind)):
            raise DatanetError(f"Batch.build: kind values must be Kind members, got {kd}")
        if y_true is None:
            yt = np.full(n, NO_CLASS, dtype=np.int64)
        else:
            yt = np.asarray(y_true, dtype=np.int64).copy()
            if yt.shape != (n,):
                raise DatanetError(f"Batch.build: y_true must have {n} entries, got {yt.shape}")
        return cls(
            x=xa, y=ya, owner=own, kind=kd, hash=content_hash(xa, ya, HASH_DECIMALS), y_true=yt
        )

    @classmethod
    def empty(cls, n_features: int) -> Batch:
        """A batch with no points and ``n_features`` feature columns."""
        return cls.build(
            np.empty((0, n_features)), np.empty(0, np.int64), np.empty(0, np.int64), Kind.HONEST
        )

    @property
    def size(self) -> int:
        """Number of points n."""
        return int(self.y.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns d."""
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return self.size

    def select(self, which: npt.ArrayLike) -> Batch:
        """The sub-batch of rows ``which`` (boolean mask [n] or integer indices).

        Used by defences that screen a submission before it is appended.
        """
        sel = np.asarray(which)
        if sel.dtype == bool and sel.shape != (self.size,):
            raise DatanetError(
                f"Batch.select: boolean mask must have {self.size} entries, got {sel.shape}"
            )
        return Batch(
            x=self.x[sel],
            y=self.y[sel],
            owner=self.owner[sel],
            kind=self.kind[sel],
            hash=self.hash[sel],
            y_true=self.y_true[sel],
        )


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches (same number of features) into one, in order."""
    if len(batches) == 0:
        raise DatanetError("concat_batches: no batches given; use Batch.empty(n_features)")
    d = {b.n_features for b in batches}
    if len(d) != 1:
        raise DatanetError(f"concat_batches: batches have different feature counts {sorted(d)}")
    return Batch(
        x=np.concatenate([b.x for b in batches]),
        y=np.concatenate([b.y for b in batches]),
        owner=np.concatenate([b.owner for b in batches]),
        kind=np.concatenate([b.kind for b in batches]),
        hash=np.concatenate([b.hash for b in batches]),
        y_true=np.concatenate([b.y_true for b in batches]),
    )


def repeat_owners(owner_ids: npt.ArrayLike, n_points_each: npt.ArrayLike) -> IntArray:
    """Owner column for a generator call: ``owner_ids[i]`` repeated ``n_points_each[i]`` times.

    ``n_points_each`` is a count per owner (points, >= 0) or one count for all.
    """
    ids = _owners_array(owner_ids, "repeat_owners")
    counts = np.broadcast_to(np.asarray(n_points_each), ids.shape)
    if counts.size and (not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0):
        raise DatanetError(
            f"repeat_owners: n_points_each must be integer counts >= 0, got {counts}"
        )
    return np.repeat(ids, counts.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# class helpers (the tasks themselves live in economics.tasks)


def _check_class(task: Task, value: int, what: str, name: str) -> int:
    if int(value) != value or not 0 <= value < task.n_classes:
        raise DatanetError(
            f"{what}: {name} must be a class id in [0, {task.n_classes}), got {value!r}"
        )
    return int(value)


def _other_class(classes: IntArray, n_classes: int, rng: np.random.Generator) -> IntArray:
    """A uniformly random class different from each entry of ``classes``."""
    return (classes + rng.integers(1, n_classes, size=classes.shape[0])) % n_classes


def _classes_except(n: int, excluded: int, n_classes: int, rng: np.random.Generator) -> IntArray:
    """``n`` classes uniform over all classes except ``excluded``."""
    draw = rng.integers(0, n_classes - 1, size=n, dtype=np.int64)
    return draw + (draw >= excluded)


# ---------------------------------------------------------------------------------------------
# contribution generators (one call = many contributors)


def honest(
    task: Task,
    owners: npt.ArrayLike,
    quality: npt.ArrayLike,
    rng: np.random.Generator,
) -> Batch:
    """Honest points, one per entry of ``owners``: clean features, and a label equal to the
    true class with probability ``quality`` (per point, or one value for all; in [0, 1]),
    otherwise a uniformly random other class. Kind HONEST."""
    own = _owners_array(owners, "honest")
    n = own.shape[0]
    q = np.broadcast_to(np.asarray(quality, dtype=np.float64), (n,))
    if n and (not np.all(np.isfinite(q)) or q.min() < 0.0 or q.max() > 1.0):
        raise DatanetError(f"honest: quality must lie in [0, 1], got range [{q.min()}, {q.max()}]")
    y_true = task.sample_classes(n, rng)
    x = task.features_of(y_true, rng)
    wrong = rng.random(n) >= q
    y = np.where(wrong, _other_class(y_true, task.n_classes, rng), y_true)
    return Batch.build(x, y, own, Kind.HONEST, y_true)


def label_flip(
    task: Task,
    owners: npt.ArrayLike,
    rng: np.random.Generator,
    target: int | None = None,
) -> Batch:
    """Label-flip poison: clean features with a wrong label, one point per owner entry.

    ``target=None``: each label is a uniformly random class other than the true one.
    ``target=c``: every label is c and the features are drawn from the other classes, so
    every label is wrong. Kind LABEL_FLIP.
    """
    own = _owners_array(owners, "label_flip")
    n = own.shape[0]
    if target is None:
        y_true = task.sample_classes(n, rng)
        x = task.features_of(y_true, rng)
        y = _other_class(y_true, task.n_classes, rng)
    else:
        tgt = _check_class(task, target, "label_flip", "target")
        y_true = _classes_except(n, tgt, task.n_classes, rng)
        x = task.features_of(y_true, rng)
        y = np.full(n, tgt, dtype=np.int64)
    return Batch.build(x, y, own, Kind.LABEL_FLIP, y_true)


def backdoor(
    task: Task,
    owners: npt.ArrayLike,
    rng: np.random.Generator,
    trigger_features: Sequence[int],
    trigger_value: float,
    target: int,
) -> Batch:
    """Backdoor poison: clean features of non-target classes with ``trigger_value`` (feature
    units) written into the columns ``trigger_features``, labelled ``target``.

    Drawing only non-target classes makes every point teach "trigger ⇒ target".
    Kind BACKDOOR. Measure its effect with ``economics.learning.attack_success_rate``.
    """
    own = _owners_array(owners, "backdoor")
    tgt = _check_class(task, target, "backdoor", "target")
    y_true = _classes_except(own.shape[0], tgt, task.n_classes, rng)
    x = apply_trigger(task.features_of(y_true, rng), trigger_features, trigger_value)
    y = np.full(own.shape[0], tgt, dtype=np.int64)
    return Batch.build(x, y, own, Kind.BACKDOOR, y_true)


def noise(task: Task, owners: npt.ArrayLike, rng: np.random.Generator) -> Batch:
    """Junk: features ~ N(centroid of the means, (noise_std · cluster_std)² I), labels uniform
    over the classes. No true class (``y_true`` = -1). Kind NOISE."""
    own = _owners_array(owners, "noise")
    n = own.shape[0]
    std = task.spec.noise_std * task.spec.cluster_std
    x = task.centroid + std * rng.standard_normal((n, task.n_features))
    y = rng.integers(0, task.n_classes, size=n, dtype=np.int64)
    return Batch.build(x, y, own, Kind.NOISE)


def _pick_sources(
    owners: IntArray,
    n_source: int,
    source_owner: IntArray | None,
    rng: np.random.Generator,
    what: str,
    max_rounds: int = 64,
) -> IntArray:
    """One random source index per point; with ``source_owner``, never the point's own owner.

    Rejection sampling vectorised over points: redraw only the conflicting ones, for at most
    ``max_rounds`` rounds, then raise if some point still has no foreign source.
    """
    if n_source == 0 and owners.shape[0] > 0:
        raise DatanetError(f"{what}: the source pool is empty; there is nothing to copy")
    pick = rng.integers(0, max(n_source, 1), size=owners.shape[0], dtype=np.int64)
    if source_owner is None:
        return pick
    bad = np.flatnonzero(source_owner[pick] == owners)
    for _ in range(max_rounds):
        if bad.size == 0:
            return pick
        pick[bad] = rng.integers(0, n_source, size=bad.size, dtype=np.int64)
        bad = bad[source_owner[pick[bad]] == owners[bad]]
    if bad.size:
        # Fall back to an exact draw among the foreign points for the stubborn few.
        for o in np.unique(owners[bad]):  # few distinct owners left by now
            rows = bad[owners[bad] == o]
            foreign = np.flatnonzero(source_owner != o)
            if foreign.size == 0:
                raise DatanetError(
                    f"{what}: owner {int(o)} has no points of other owners to copy; pass a "
                    "source pool that contains other owners' points"
                )
            pick[rows] = foreign[rng.integers(0, foreign.size, size=rows.size)]
    return pick


def _source_arrays(
    source_x: npt.ArrayLike,
    source_y: npt.ArrayLike,
    source_owner: npt.ArrayLike | None,
    source_y_true: npt.ArrayLike | None,
    what: str,
) -> tuple[FloatArray, IntArray, IntArray | None, IntArray | None]:
    sx = np.asarray(source_x, dtype=np.float64)
    if sx.ndim != 2:
        raise DatanetError(f"{what}: source_x must be 2-D [m, d], got shape {sx.shape}")
    m = sx.shape[0]
    sy = np.asarray(source_y, dtype=np.int64)
    if sy.shape != (m,):
        raise DatanetError(f"{what}: source_y must have {m} labels, got shape {sy.shape}")
    so = None if source_owner is None else _owners_array(source_owner, what)
    if so is not None and so.shape != (m,):
        raise DatanetError(f"{what}: source_owner must have {m} entries, got {so.shape}")
    st = None if source_y_true is None else np.asarray(source_y_true, dtype=np.int64)
    if st is not None and st.shape != (m,):
        raise DatanetError(f"{what}: source_y_true must have {m} entries, got {st.shape}")
    return sx, sy, so, st


def duplicate(
    source_x: npt.ArrayLike,
    source_y: npt.ArrayLike,
    owners: npt.ArrayLike,
    rng: np.random.Generator,
    source_owner: npt.ArrayLike | None = None,
    source_y_true: npt.ArrayLike | None = None,
) -> Batch:
    """Farmed exact duplicates: for each owner entry, a copy (features and label) of a
    uniformly chosen row of the candidate pool ``source_x`` [m, d], ``source_y`` [m].

    The caller passes the pool (typically other owners' accepted points). If
    ``source_owner`` [m] is given, a point is never copied from its own owner. Pass
    ``source_y_true`` to carry the sources' true classes over. Kind DUPLICATE; the hash
    equals the source's hash.
    """
    own = _owners_array(owners, "duplicate")
    sx, sy, so, st = _source_arrays(source_x, source_y, source_owner, source_y_true, "duplicate")
    pick = _pick_sources(own, sx.shape[0], so, rng, "duplicate")
    y_true = None if st is None else st[pick]
    return Batch.build(sx[pick], sy[pick], own, Kind.DUPLICATE, y_true)


def near_duplicate(
    source_x: npt.ArrayLike,
    source_y: npt.ArrayLike,
    owners: npt.ArrayLike,
    rng: np.random.Generator,
    jitter: float,
    source_owner: npt.ArrayLike | None = None,
    source_y_true: npt.ArrayLike | None = None,
) -> Batch:
    """Farmed near-duplicates: like ``duplicate`` but each copied point gets Gaussian jitter
    of std ``jitter`` (feature units, > 0) in every feature, so its content hash differs from
    the source (for jitter well above 10⁻⁹) while it stays close. Kind NEAR_DUPLICATE."""
    if not np.isfinite(jitter) or jitter <= 0:
        raise DatanetError(f"near_duplicate: jitter must be finite and > 0, got {jitter!r}")
    own = _owners_array(owners, "near_duplicate")
    sx, sy, so, st = _source_arrays(
        source_x, source_y, source_owner, source_y_true, "near_duplicate"
    )
    pick = _pick_sources(own, sx.shape[0], so, rng, "near_duplicate")
    x = sx[pick] + jitter * rng.standard_normal((own.shape[0], sx.shape[1]))
    y_true = None if st is None else st[pick]
    return Batch.build(x, sy[pick], own, Kind.NEAR_DUPLICATE, y_true)


# ---------------------------------------------------------------------------------------------
# the datanet store


class Datanet:
    """All points accepted into one datanet, as growing numpy columns.

    Columns: ``x`` [n, d] float64, ``y`` int64, ``y_true`` int64 (simulator-only truth),
    ``owner`` int64, ``epoch`` int64, ``kind`` int8, ``hash`` uint64, ``active`` bool.
    ``append`` is O(1) amortised (capacity doubles when full). Defences remove points with
    ``deactivate`` (the row stays, ``active`` turns False), so indices are stable forever.

    The column properties return read-only views of the first ``size`` rows; a view taken
    before an ``append`` that grew the storage still shows the old data, so re-read after
    appending.

    Parameters
    ----------
    name:
        Datanet name (free text, used in messages).
    n_features:
        Feature dimension d (count, >= 1).
    capacity:
        Initial row capacity (points, >= 1).
    """

    def __init__(self, name: str, n_features: int, capacity: int = 1024) -> None:
        if int(n_features) != n_features or n_features < 1:
            raise DatanetError(f"Datanet({name!r}): n_features must be >= 1, got {n_features!r}")
        if int(capacity) != capacity or capacity < 1:
            raise DatanetError(f"Datanet({name!r}): capacity must be >= 1, got {capacity!r}")
        self.name: str = name
        self.n_features: int = int(n_features)
        self._size: int = 0
        self._alloc(int(capacity))

    def _alloc(self, capacity: int) -> None:
        """(Re)allocate every column with ``capacity`` rows, keeping the first ``size``."""
        n = self._size
        new = {
            "x": np.zeros((capacity, self.n_features), dtype=np.float64),
            "y": np.zeros(capacity, dtype=np.int64),
            "y_true": np.zeros(capacity, dtype=np.int64),
            "owner": np.zeros(capacity, dtype=np.int64),
            "epoch": np.zeros(capacity, dtype=np.int64),
            "kind": np.zeros(capacity, dtype=np.int8),
            "hash": np.zeros(capacity, dtype=np.uint64),
            "active": np.zeros(capacity, dtype=bool),
        }
        if n:
            for key, arr in new.items():
                arr[:n] = getattr(self, "_" + key)[:n]
        for key, arr in new.items():
            setattr(self, "_" + key, arr)
        self._capacity = capacity

    @property
    def size(self) -> int:
        """Number of points ever appended (active or not)."""
        return self._size

    @property
    def capacity(self) -> int:
        """Rows currently allocated (>= size)."""
        return self._capacity

    @property
    def n_active(self) -> int:
        """Number of active (accepted and not deactivated) points."""
        return int(np.count_nonzero(self._active[: self._size]))

    def __len__(self) -> int:
        return self._size

    def _view(self, arr: np.ndarray) -> np.ndarray:
        view = arr[: self._size]
        view.flags.writeable = False
        return view

    @property
    def x(self) -> FloatArray:
        """Features of all points, read-only view float64 [size, d]."""
        return self._view(self._x)

    @property
    def y(self) -> IntArray:
        """Submitted labels, read-only view int64 [size]."""
        return self._view(self._y)

    @property
    def y_true(self) -> IntArray:
        """True generating class (-1 if none), read-only view int64 [size]. Simulator only."""
        return self._view(self._y_true)

    @property
    def owner(self) -> IntArray:
        """Owner account ids, read-only view int64 [size]."""
        return self._view(self._owner)

    @property
    def epoch(self) -> IntArray:
        """Epoch each point was appended in (epochs), read-only view int64 [size]."""
        return self._view(self._epoch)

    @property
    def kind(self) -> npt.NDArray[np.int8]:
        """``Kind`` of each point, read-only view int8 [size]."""
        return self._view(self._kind)

    @property
    def hash(self) -> HashArray:
        """Content hashes, read-only view uint64 [size]."""
        return self._view(self._hash)

    @property
    def active(self) -> npt.NDArray[np.bool_]:
        """Whether each point is currently accepted, read-only view bool [size]."""
        return self._view(self._active)

    def append(self, batch: Batch, epoch: int) -> IntArray:
        """Append every point of ``batch`` as active, stamped with ``epoch`` (epochs, >= 0).

        Returns the new rows' indices (int64, consecutive). O(len(batch)) amortised.
        """
        if batch.n_features != self.n_features:
            raise DatanetError(
                f"Datanet({self.name!r}).append: batch has {batch.n_features} features, the "
                f"datanet has {self.n_features}; generate the batch from this datanet's task"
            )
        if int(epoch) != epoch or epoch < 0:
            raise DatanetError(f"Datanet({self.name!r}).append: epoch must be >= 0, got {epoch!r}")
        n = batch.size
        start, stop = self._size, self._size + n
        if stop > self._capacity:
            self._alloc(max(stop, 2 * self._capacity))
        self._x[start:stop] = batch.x
        self._y[start:stop] = batch.y
        self._y_true[start:stop] = batch.y_true
        self._owner[start:stop] = batch.owner
        self._epoch[start:stop] = int(epoch)
        self._kind[start:stop] = batch.kind
        self._hash[start:stop] = batch.hash
        self._active[start:stop] = True
        self._size = stop
        return np.arange(start, stop, dtype=np.int64)

    def _indices(self, indices: npt.ArrayLike, what: str) -> npt.NDArray[np.intp]:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (self._size,):
                raise DatanetError(
                    f"Datanet({self.name!r}).{what}: boolean mask must have {self._size} "
                    f"entries, got {idx.shape}"
                )
            return np.flatnonzero(idx)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise DatanetError(
                f"Datanet({self.name!r}).{what}: indices must be integers, got {idx.dtype}"
            )
        idx = idx.astype(np.intp, copy=False).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self._size):
            raise DatanetError(
                f"Datanet({self.name!r}).{what}: indices must lie in [0, {self._size}), got "
                f"range [{int(idx.min())}, {int(idx.max())}]"
            )
        return idx

    def accepted(self) -> IntArray:
        """Indices of the active points, ascending (int64)."""
        return np.flatnonzero(self._active[: self._size]).astype(np.int64)

    def deactivate(self, indices: npt.ArrayLike) -> int:
        """Mark points (indices or a boolean mask over ``size``) inactive; returns how many
        were active before. Deactivating an inactive point is a no-op."""
        idx = self._indices(indices, "deactivate")
        was = int(np.count_nonzero(self._active[np.unique(idx)]))
        self._active[idx] = False
        return was

    def reactivate(self, indices: npt.ArrayLike) -> None:
        """Mark points active again (e.g. after a successful appeal)."""
        self._active[self._indices(indices, "reactivate")] = True

    def points_of(self, owner_ids: npt.ArrayLike, active_only: bool = True) -> IntArray:
        """Indices (ascending, int64) of the points owned by any of ``owner_ids``."""
        ids = _owners_array(np.atleast_1d(owner_ids), f"Datanet({self.name!r}).points_of")
        mask = np.isin(self._owner[: self._size], ids)
        if active_only:
            mask &= self._active[: self._size]
        return np.flatnonzero(mask).astype(np.int64)

    def has_hash(self, hashes: npt.ArrayLike, active_only: bool = True) -> npt.NDArray[np.bool_]:
        """For each hash, whether a (active) stored point has it: exact-duplicate lookup."""
        h = np.asarray(hashes, dtype=np.uint64)
        stored = self._hash[: self._size]
        if active_only:
            stored = stored[self._active[: self._size]]
        return np.isin(h, stored)


# ---------------------------------------------------------------------------------------------
# a datanet's task from its scenario section


def build_task(
    spec: DatanetSpec, rng: np.random.Generator
) -> tuple[Task, FloatArray, IntArray, FloatArray, IntArray]:
    """A datanet's task and held-out sets from its scenario section, all drawn from ``rng``
    (the setup stream) in this order: the task, then ``validation_points`` then
    ``ground_truth_points`` held-out points of the eventual distribution (for digits:
    disjoint reserved images that no contributor can draw).

    Returns ``(task, x_val, y_val, x_gt, y_gt)``.
    """
    task_spec = TaskSpec(
        n_classes=spec.n_classes,
        n_features=spec.n_features,
        class_separation=spec.class_separation,
        regions_per_class=spec.regions_per_class,
        region_spread=spec.region_spread,
        launch_regions=min(spec.launch_regions, spec.regions_per_class),
        drift_every_epochs=spec.drift_every_epochs,
    )
    n_val, n_gt = spec.validation_points, spec.ground_truth_points
    task: Task
    if spec.task == "digits":
        task = DigitsTask(task_spec, rng, n_val + n_gt, spec.digits_jitter)
    else:
        task = GaussianMixtureTask(task_spec, rng)
    x_val, y_val = task.held_out(n_val, rng)
    x_gt, y_gt = task.held_out(n_gt, rng)
    return task, x_val, y_val, x_gt, y_gt
