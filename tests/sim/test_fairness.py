"""Metamorphic tests of the simulator's yardstick (sim/fairness.py), each on a small world.

The ground truth values each accepted batch once, as it arrives, by what it adds to the
training window that existed (exact Shapley among the batch, chance-centred kNN utility on
a clean validation set, backdoor probes when the scenario has backdoors), copies worth zero.
The properties DESIGN.md asks of it:

* copying a point never raises its copier's value and never lowers the original owner's
  below its value before the copy;
* a random-label point has expected value 0 where it displaces nothing, or only neighbours
  no better than chance (and, as the yardstick says in general, less than 0 where it pushes
  out a correct neighbour);
* flipped-label and backdoor points are negative;
* honest points of quality >= 0.8 are positive on average where the data they join is
  sparse or no cleaner than they are (and a noisier point joining dense, cleaner data is
  worth less than nothing: it makes the kNN worse);
* relabelling owners permutes their values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ledgerlab.economics.ledger import Ledger
from ledgerlab.scenarios.schema import Datanet, Poisoners
from ledgerlab.scenarios.schema import GroundTruth as GroundTruthSpec
from ledgerlab.sim import datanet as dn
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.fairness import GroundTruth, copy_distance, validation_set
from ledgerlab.sim.world import DatanetState

K = 5
TRIGGER = Poisoners(
    backdoor=1,
    backdoor_trigger_features=(0, 1),
    backdoor_trigger_value=6.0,
    backdoor_target_class=0,
)


@dataclass
class World:
    """A datanet with no seed data, a registry with a few owners, and its ground truth."""

    state: DatanetState
    accounts: Accounts
    truth: GroundTruth
    owners: np.ndarray
    rng: np.random.Generator
    epoch: int = 0

    def submit(self, batch: dn.Batch) -> np.ndarray:
        """Store and value one batch; returns each point's arrival value."""
        rows = self.state.store.append(batch, epoch=self.epoch)
        self.truth.value_arrivals(0, self.state, rows, self.accounts)
        self.epoch += 1
        return self.truth.datanets[0].values[rows].copy()

    def honest(self, owner: int, n: int, quality: float) -> dn.Batch:
        return dn.honest(self.state.task, np.full(n, self.owners[owner]), quality, self.rng)

    def owner_values(self) -> np.ndarray:
        """Arrival value of all accepted points, per owner (in owner order)."""
        return self.accounts.cols.ground_truth_value_accepted[self.owners].copy()


def world(seed: int, *, poisoners: Poisoners | None = None, points: int = 600) -> World:
    spec = Datanet(
        n_classes=3, n_features=8, class_separation=2.0, seed_points=0, ground_truth_points=points
    )
    rng = np.random.default_rng(seed)
    state = DatanetState.create(spec, rng)
    accounts = Accounts(Ledger(capacity=64))
    owners = accounts.register(6, role="providers", adversary=False, rows=np.arange(6))
    gt = GroundTruthSpec(k=K, validation_points=points, every_epochs=1)
    truth = GroundTruth(gt, 100, [state], poisoners or Poisoners(), copy_distance(gt, ()))
    return World(state, accounts, truth, owners, rng)


def random_labels(w: World, n: int, owner: int) -> dn.Batch:
    """Clean features, labels uniform over the classes (right by chance only)."""
    x, _ = w.state.task.sample(n, w.rng)
    y = w.rng.integers(0, 3, n)
    return dn.Batch.build(x, y, np.full(n, w.owners[owner]), dn.Kind.HONEST)


def within_three_se(values: list[float]) -> None:
    v = np.asarray(values)
    se = v.std(ddof=1) / np.sqrt(v.size)
    assert abs(v.mean()) <= 3 * se, (v.mean(), se)


# ---------------------------------------------------------------------------------------
# copies


@pytest.mark.parametrize("seed", range(4))
def test_copying_never_raises_the_copier_nor_lowers_the_original_owner(seed) -> None:
    # Two worlds on one seed: in the second, owner 1 adds exact and near copies of owner 0's
    # points (and of its own) to the same submission. Owner 1's value does not rise, owner
    # 0's does not fall below its value before the copy, and every copy is worth 0.
    plain, copied = world(seed), world(seed)
    for w in (plain, copied):
        w.submit(w.honest(0, 120, 0.9))
    before = copied.owner_values()
    b1, b2 = plain.honest(1, 60, 0.9), copied.honest(1, 60, 0.9)
    src = copied.state.store
    pick = np.arange(0, 40, 2)
    jitter = np.where(np.arange(pick.size)[:, None] % 2, 0.01, 0.0)
    x_copy = np.vstack([src.x[pick] + jitter, b2.x[:5] + 0.01])
    y_copy = np.concatenate([src.y[pick], b2.y[:5]])
    copies = dn.Batch.build(
        x_copy, y_copy, np.full(y_copy.size, copied.owners[1]), dn.Kind.DUPLICATE
    )
    v_plain = plain.submit(b1)
    v_copied = copied.submit(dn.concat_batches([b2, copies]))
    assert np.all(v_copied[b2.size :] == 0.0)  # copies: worth nothing, not players
    np.testing.assert_allclose(v_copied[: b2.size], v_plain, rtol=0, atol=1e-15)
    after = copied.owner_values()
    assert after[1] <= plain.owner_values()[1] + 1e-15
    assert after[0] >= before[0] - 1e-15


def test_the_later_of_two_equal_points_in_one_batch_is_the_copy() -> None:
    w, alone = world(0), world(0)
    b = w.honest(0, 30, 1.0)
    twice = dn.Batch.build(
        np.vstack([b.x, b.x[:3]]),
        np.concatenate([b.y, b.y[:3]]),
        np.concatenate([b.owner, np.full(3, w.owners[2])]),
        dn.Kind.HONEST,
    )
    v = w.submit(twice)
    assert np.all(v[30:] == 0.0)
    np.testing.assert_allclose(v[:30], alone.submit(alone.honest(0, 30, 1.0)), rtol=0, atol=0)
    assert w.truth.datanets[0].copy[30:33].all() and not w.truth.datanets[0].copy[:30].any()


# ---------------------------------------------------------------------------------------
# random labels


def test_a_random_label_where_the_neighbourhood_is_not_full_is_worth_zero_on_average() -> None:
    # Fewer than K points so far: a new point fills a slot and displaces nothing, so its
    # value is (1[label = y] − 1/C)/K per validation point; over the label draw, 0.
    values = []
    for seed in range(200):
        w = world(seed, points=200)
        w.submit(w.honest(0, 2, 1.0))  # K = 5: two points, every neighbourhood has room
        values.append(float(w.submit(random_labels(w, 1, 1))[0]))
    within_three_se(values)


def test_a_random_label_among_chance_level_neighbours_is_worth_zero_on_average() -> None:
    # The neighbours it may push out are right only by chance themselves.
    values = []
    for seed in range(120):
        w = world(seed, points=200)
        w.submit(random_labels(w, 150, 0))
        values.append(float(w.submit(random_labels(w, 10, 1)).mean()))
    within_three_se(values)


def test_a_random_label_that_pushes_out_correct_neighbours_is_worth_less_than_zero() -> None:
    # What the yardstick says in general: replacing a right neighbour by a coin flip makes
    # the model worse, so the expectation is negative, not 0.
    values = []
    for seed in range(30):
        w = world(seed, points=300)
        w.submit(w.honest(0, 150, 1.0))
        values.append(float(w.submit(random_labels(w, 20, 1)).mean()))
    v = np.asarray(values)
    assert v.mean() + 3 * v.std(ddof=1) / np.sqrt(v.size) < 0


# ---------------------------------------------------------------------------------------
# poison


@pytest.mark.parametrize("seed", range(3))
def test_flipped_labels_are_negative(seed) -> None:
    w = world(seed)
    w.submit(w.honest(0, 200, 0.9))
    flipped = dn.label_flip(w.state.task, np.full(40, w.owners[1]), w.rng)
    v = w.submit(flipped)
    # negative on average; a few flipped labels land, by chance, on a validation point's
    # class where the classes overlap
    assert v.mean() < 0 and np.mean(v <= 0) > 0.6
    assert w.owner_values()[1] < 0


@pytest.mark.parametrize("seed", range(3))
def test_backdoor_points_are_negative_against_the_triggered_probes(seed) -> None:
    w = world(seed, poisoners=TRIGGER)
    w.submit(w.honest(0, 200, 0.9))
    bd = dn.backdoor(w.state.task, np.full(40, w.owners[1]), w.rng, (0, 1), 6.0, 0)
    v = w.submit(bd)
    assert v.mean() < 0 and np.mean(v <= 0) > 0.6
    assert w.owner_values()[1] < 0


def test_the_probes_are_triggered_non_target_points_labelled_with_their_true_class() -> None:
    w = world(1, poisoners=TRIGGER, points=400)
    spec = GroundTruthSpec(validation_points=400, backdoor_probe_share=0.2)
    x, y = validation_set(w.state, spec, TRIGGER)
    assert x.shape[0] == 500  # 100 probes: 20 % of the set
    probes_x, probes_y = x[400:], y[400:]
    assert np.all(probes_x[:, :2] == 6.0) and np.all(probes_y != 0)
    clean = w.state.x_gt[:400]
    source = np.flatnonzero(w.state.y_gt[:400] != 0)[:100]
    np.testing.assert_array_equal(probes_x[:, 2:], clean[source, 2:])
    np.testing.assert_array_equal(probes_y, w.state.y_gt[source])
    assert validation_set(w.state, spec, Poisoners())[0].shape[0] == 400  # no backdoor: none


# ---------------------------------------------------------------------------------------
# honest data


@pytest.mark.parametrize(("base", "base_quality"), [(0, 1.0), (40, 0.8), (200, 0.8)])
@pytest.mark.parametrize("quality", [0.8, 1.0])
def test_honest_points_of_quality_at_least_0_8_are_positive_on_average(
    base, base_quality, quality
) -> None:
    # Joining sparse data, or data no cleaner than they are.
    values = []
    for seed in range(30):
        w = world(seed)
        if base:
            w.submit(w.honest(0, base, base_quality))
        values.append(float(w.submit(w.honest(1, 40, quality)).mean()))
    v = np.asarray(values)
    assert v.mean() - 3 * v.std(ddof=1) / np.sqrt(v.size) > 0


def test_a_noisier_point_joining_dense_cleaner_data_is_worth_less_than_zero() -> None:
    # What the yardstick says in general: 20 % wrong labels among clean neighbours lower
    # the (soft-label) kNN accuracy, so such a point is negative in expectation.
    values = []
    for seed in range(20):
        w = world(seed)
        w.submit(w.honest(0, 400, 1.0))
        values.append(float(w.submit(w.honest(1, 40, 0.8)).mean()))
    v = np.asarray(values)
    assert v.mean() + 3 * v.std(ddof=1) / np.sqrt(v.size) < 0


# ---------------------------------------------------------------------------------------
# owners


def test_relabelling_owners_permutes_their_values() -> None:
    perm = np.array([3, 5, 0, 1, 4, 2])
    out = []
    for relabel in (False, True):
        w = world(7)
        ids = w.owners[perm] if relabel else w.owners
        for epoch in range(4):
            owner = np.repeat(ids, 8)
            b = dn.honest(w.state.task, owner, 0.85, w.rng)
            if epoch % 2:  # some flipped labels and copies too
                b = dn.concat_batches([b, dn.label_flip(w.state.task, ids[:2], w.rng)])
            w.submit(b)
        out.append(w.accounts.cols.ground_truth_value_accepted.copy())
    plain, relabelled = out
    np.testing.assert_allclose(relabelled[w.owners[perm]], plain[w.owners], rtol=0, atol=1e-15)


def test_copy_distance_follows_the_dedup_defence() -> None:
    from ledgerlab.scenarios.schema import Dedup

    spec = GroundTruthSpec()
    assert copy_distance(spec, ()) == 0.05
    assert copy_distance(spec, (Dedup(near_duplicate_distance=0.2),)) == 0.2
    assert copy_distance(spec, (Dedup(near_duplicate_distance=0.0),)) == 0.05
    assert copy_distance(GroundTruthSpec(copy_distance=0.3), (Dedup(),)) == 0.3
