"""How much memory a scenario's run needs, estimated before it runs.

A population of 10^7 providers, or a datanet growing by 10^6 points an epoch for a year, is
accepted by every single field's bounds and then exhausts the machine mid-run. The
scenario's model validator refuses a scenario whose :func:`estimate_memory_bytes` exceeds
:data:`MEMORY_LIMIT_BYTES`, naming the estimate, the limit and the fields that drive it
(:func:`memory_terms`).

The estimate is a sum of terms, each a count taken from the scenario times a cost per item
(bytes). The costs were measured as the peak resident memory (``ru_maxrss``) of runs of the
simulator (``EconomyModel`` stepped to the end; 2 epochs unless stated), varying one count
at a time between two sizes and taking the slope, on CPython 3.11 / numpy 2 / Linux x86-64.
They include the transient peaks of an epoch (copies, model fits, snapshots), so they are
larger than the bytes of the stored arrays. The counts:

* individuals: the launch populations. Newcomers under churn are not counted: they join
  only while a role is profitable, which the scenario does not tell (an adversarial world
  can grow its farmers twentyfold in two years, a failing economy loses everyone);
* points: seed points, every point the launch population is expected to submit over the
  horizon (screened-out points are not stored, so this is an upper estimate), shared
  evenly by the datanets, and the transient batch of one epoch's submissions.

So the estimate is what the launch population alone needs: a refused scenario certainly
does not fit, and a growing economy may need more.

Only the scenario is read: the functions are pure and cheap (no simulation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Scenario

__all__ = [
    "MEMORY_LIMIT_BYTES",
    "MemoryTerm",
    "estimate_memory_bytes",
    "expected_individuals",
    "expected_points_submitted",
    "max_training_points",
    "memory_terms",
    "points_per_epoch",
]

MEMORY_LIMIT_BYTES = 8 * 2**30
"""Largest estimated run memory accepted (bytes): 8 GiB, a third of the 24 GiB development
machine, so that a sweep can run two or three scenarios at once, and what a CI runner with
2 cores and 7 GiB can nearly hold."""

BASE_BYTES = 220_000_000
"""The process with numpy, pandas, Mesa and the simulator imported, and a baseline
scenario with no population set up (bytes; measured 220 MB)."""

BYTES_PER_INDIVIDUAL = {
    "providers": 660,
    "consumers": 720,
    "holders": 620,
    "builders": 540,
    "validators": 630,
    "farmers": 710,
    "wash": 680,
    "sybil_identities": 730,
    "poisoners": 690,
}
"""Memory per individual of each role (bytes per individual): its ledger account, the
model's per-account arrays, its role-set row and its rows in the launch and final agent
snapshots. Measured as the slope between 10^5 and 3·10^5 individuals (sybil identities:
10^4 and 3·10^4 operators of 11 accounts; builders: 10^3 and 3·10^3, whose models are
counted with the training points)."""

BYTES_PER_SNAPSHOT_ROW = 140
"""Memory per individual per extra agent snapshot, beyond the launch and final ones that
:data:`BYTES_PER_INDIVIDUAL` includes (bytes; measured with 10^5 providers and a snapshot
every epoch, 2 against 12 epochs: 139 MB for 10^6 rows)."""

BYTES_PER_EPOCH = 2_600
"""Memory per simulated epoch: the Mesa data collector's row of KPIs and the run's other
per-epoch records (bytes per epoch; measured between 200 and 2,000 epochs: 4.7 MB)."""

BYTES_PER_SEED_POINT = 32
"""Memory per seed point, besides its features (bytes): label, true label, owner, epoch,
kind, content hash, active flag and the engine/credit columns beside them."""

BYTES_PER_SEED_POINT_FEATURE = 24
"""Memory per seed point and feature (bytes): the float64 feature and the copy made when the
seed batch is drawn and appended. With :data:`BYTES_PER_SEED_POINT`: measured 10^6 → 3·10^6
seed points at 8 features (220 bytes a point) and 10^6 at 64 features (1,540)."""

BYTES_PER_SUBMITTED_POINT = 28
"""Memory per submitted point kept over the run, besides its features (bytes): its columns
in the datanet's store, whose capacity doubles as it grows."""

BYTES_PER_SUBMITTED_POINT_FEATURE = 12
"""Memory per submitted point and feature kept over the run (bytes; the store's float64
feature with the doubling's slack)."""

BYTES_PER_EPOCH_POINT = 375
"""Transient memory per point submitted in one epoch, besides its features (bytes): the
epoch's batch while it is generated, hashed, screened and appended (submission and owner
indices, masks, the accepted copy)."""

BYTES_PER_EPOCH_POINT_FEATURE = 24
"""Transient memory per point submitted in one epoch and feature (bytes): the batch's
features and their copies. The four submitted-point costs come from fitting
total × (28 + 12·d) + per epoch × (375 + 24·d) to runs of poisoners submitting 10^5 points
an epoch for 10 epochs (183 bytes a point at 8 features) and 1.2·10^6 an epoch for 3
epochs (316 at 8 features, 804 at 32); a run of 6·10^6 an epoch for 3 epochs measured 5.2
GB against 5.6 estimated."""

BYTES_PER_TRAINING_POINT_FEATURE = 8
"""Memory per training point and feature in each fitted model (bytes): the kNN index (a
cKDTree over a copy of the training window) of every distinct fit the builders hold, of
the honest-only counterfactual model and of the fit being made."""

BYTES_PER_TRAINING_POINT = 16
"""Memory per training point in each fitted model besides its features (bytes): labels and
the tree's index. With :data:`BYTES_PER_TRAINING_POINT_FEATURE`: measured 10^6 training
points at 8 features, 1 builder against a 10^4 window (143 MB for about two models) and 8
builders (233 MB for about three)."""

BYTES_PER_HELD_OUT_POINT = 120
"""Memory per validation or ground-truth point besides its features (bytes): labels and
the neighbour/distance arrays of evaluating the models on it."""

BYTES_PER_HELD_OUT_POINT_FEATURE = 24
"""Memory per validation or ground-truth point and feature (bytes): the float64 feature and
the copies made while drawing and evaluating. With :data:`BYTES_PER_HELD_OUT_POINT`:
measured 10^6 validation points at 8 and 64 features (300 and 1,530 bytes a point) and
10^6 ground-truth points (200 and 1,530)."""

BYTES_PER_BLOCK = 0.55
"""Memory per block of one epoch when the chain is on (bytes per block): the chain
aggregates blocks into at most ``max_events_per_epoch`` events, but keeps a little per
block (measured 8.64·10^7 → 8.64·10^8 blocks an epoch, block times of 1 and 0.1 ms:
0.52 bytes a block)."""

BYTES_PER_JOURNAL_ENTRY = 40
"""Memory per ledger journal entry with ``collect.journal`` (bytes; the journal's own
documented cost)."""

JOURNAL_ENTRIES_PER_INDIVIDUAL_EPOCH = 2.0
"""Transfers recorded per individual per epoch with ``collect.journal`` (entries): a fee or
reward payout and a sale or purchase (an upper estimate of a busy economy)."""


@dataclass(frozen=True)
class MemoryTerm:
    """One term of the estimate: ``bytes`` driven by the field at ``path``.

    Attributes:
        path: Field path of the count that drives the term, e.g. ``("population",
            "providers")`` (the loader points at its YAML line).
        what: The count in words, e.g. ``"10,000,000 providers"``.
        bytes: The term (bytes).
    """

    path: tuple[str | int, ...]
    what: str
    bytes: float


def expected_individuals(scenario: Scenario) -> dict[str, float]:
    """Individuals of each role at launch (individuals), keyed like
    :data:`BYTES_PER_INDIVIDUAL` (sybil identities count their operators' wallets)."""
    pop = scenario.population
    farmers, poisoners = pop.farmers, pop.poisoners
    return {
        "providers": float(pop.providers),
        "consumers": float(pop.consumers),
        "holders": float(
            sum(b.holders for b in scenario.tokenomics.vesting if b.recipient == "holders")
        ),
        "builders": float(pop.builders),
        "validators": float(pop.validators),
        "farmers": float(farmers.duplicate + farmers.near_duplicate),
        "wash": float(farmers.wash),
        "sybil_identities": float(farmers.sybil_operators * (1 + farmers.identities_per_operator)),
        "poisoners": float(poisoners.label_flip + poisoners.backdoor + poisoners.noise),
    }


def points_per_epoch(scenario: Scenario) -> dict[tuple[str, ...], float]:
    """Points the launch population is expected to submit each epoch, every datanet
    together, by the section that submits them (points/epoch): individuals × submissions
    per epoch × points per submission, for providers, uploading farmers (plain, sybil
    identities, wash) and poisoners."""
    pop = scenario.population
    f, p = pop.farmers, pop.poisoners
    uploading_farmers = (
        f.duplicate + f.near_duplicate + f.sybil_operators * f.identities_per_operator + f.wash
    )
    return {
        ("population", "providers"): pop.providers
        * pop.provider_submissions_per_epoch
        * pop.provider_points_per_submission,
        ("population", "farmers"): uploading_farmers
        * f.submissions_per_epoch
        * f.points_per_submission,
        ("population", "poisoners"): (p.label_flip + p.backdoor + p.noise)
        * p.submissions_per_epoch
        * p.points_per_submission,
    }


def expected_points_submitted(scenario: Scenario) -> float:
    """Points the launch population is expected to submit over the whole horizon, every
    datanet together (points): :func:`points_per_epoch` × epochs."""
    return math.fsum(points_per_epoch(scenario).values()) * scenario.epochs


def _point_terms(scenario: Scenario, i: int) -> list[MemoryTerm]:
    """Datanet ``i``'s seed points, the points submitted to it and kept, and the transient
    batch of one epoch's submissions (shared evenly by the datanets)."""
    d = scenario.datanets[i]
    share = 1.0 / len(scenario.datanets)
    by_section = points_per_epoch(scenario)
    per_epoch = math.fsum(by_section.values()) * share
    submitted = per_epoch * scenario.epochs
    features = d.n_features
    return [
        MemoryTerm(
            ("datanets", i, "seed_points"),
            f"{d.seed_points:,} seed points of datanet '{d.name}' × {features:,} features",
            d.seed_points * (BYTES_PER_SEED_POINT + BYTES_PER_SEED_POINT_FEATURE * features),
        ),
        MemoryTerm(
            ("epochs",),
            f"{submitted:,.0f} points submitted to datanet '{d.name}' over "
            f"{scenario.epochs:,} epochs × {features:,} features",
            submitted * (BYTES_PER_SUBMITTED_POINT + BYTES_PER_SUBMITTED_POINT_FEATURE * features),
        ),
        MemoryTerm(
            max(by_section, key=lambda k: by_section[k]),
            f"{per_epoch:,.0f} points submitted to datanet '{d.name}' in one epoch × "
            f"{features:,} features",
            per_epoch * (BYTES_PER_EPOCH_POINT + BYTES_PER_EPOCH_POINT_FEATURE * features),
        ),
    ]


def max_training_points(scenario: Scenario, i: int) -> float:
    """Most points a model of datanet ``i`` trains on (points): its window, or every seed
    and submitted point."""
    d = scenario.datanets[i]
    stored = d.seed_points + expected_points_submitted(scenario) / len(scenario.datanets)
    return min(d.window_points, stored) if d.window_points else stored


def _datanet_terms(scenario: Scenario) -> list[MemoryTerm]:
    """Stored, training and held-out points of every datanet, and each model's copy."""
    terms: list[MemoryTerm] = []
    builders = scenario.population.builders / max(len(scenario.datanets), 1)
    for i, d in enumerate(scenario.datanets):
        terms += _point_terms(scenario, i)
        # builders retraining on the same epoch share one fit, so a datanet holds at most
        # one per retraining offset; + the honest-only model and the fit being made
        models = min(builders, d.retrain_every_epochs) + 2
        training = max_training_points(scenario, i)
        per_model = BYTES_PER_TRAINING_POINT + BYTES_PER_TRAINING_POINT_FEATURE * d.n_features
        terms.append(
            MemoryTerm(
                ("datanets", i, "window_points"),
                f"{models:,.0f} models on datanet '{d.name}' × {training:,.0f} training points",
                models * training * per_model,
            )
        )
        held_out = BYTES_PER_HELD_OUT_POINT + BYTES_PER_HELD_OUT_POINT_FEATURE * d.n_features
        for field in ("validation_points", "ground_truth_points"):
            count = getattr(d, field)
            terms.append(
                MemoryTerm(
                    ("datanets", i, field),
                    f"{count:,} {field.replace('_', ' ')} of datanet '{d.name}'",
                    count * held_out,
                )
            )
    return terms


def _engine_terms(scenario: Scenario) -> list[MemoryTerm]:
    """Transient arrays of engines whose memory grows with the training set: influence
    (per-point gradients and the Hessian) and banzhaf (one inclusion mask per sample)."""
    a = scenario.attribution
    terms: list[MemoryTerm] = []
    for i, d in enumerate(scenario.datanets):
        training = max_training_points(scenario, i)
        if a.engine == "influence":
            params = (d.n_features + 1) * d.n_classes
            cells = (training + d.validation_points) * params + params * params
            terms.append(
                MemoryTerm(
                    ("attribution", "engine"),
                    f"influence on datanet '{d.name}': {params:,} parameters × "
                    f"{training:,.0f} training points, and a {params:,}² Hessian",
                    8.0 * cells,
                )
            )
        elif a.engine == "banzhaf":
            terms.append(
                MemoryTerm(
                    ("attribution", "budget"),
                    f"banzhaf on datanet '{d.name}': {a.budget:,} samples × {training:,.0f} "
                    "training points",
                    float(a.budget) * training,
                )
            )
    return terms


def _run_terms(scenario: Scenario, individuals: float) -> list[MemoryTerm]:
    """Terms of the horizon and the recording: epochs, snapshots, chain blocks, journal."""
    collect = scenario.collect
    every = collect.agent_snapshot_every_epochs
    extra_snapshots = max(0, scenario.epochs // every - 1) if every else 0
    terms = [
        MemoryTerm(
            ("epochs",), f"{scenario.epochs:,} epochs", scenario.epochs * float(BYTES_PER_EPOCH)
        ),
        MemoryTerm(
            ("collect", "agent_snapshot_every_epochs"),
            f"{extra_snapshots:,} agent snapshots × {individuals:,.0f} individuals",
            extra_snapshots * individuals * BYTES_PER_SNAPSHOT_ROW,
        ),
    ]
    chain = scenario.chain
    if chain.enabled:
        blocks = 86_400.0 * scenario.epoch_days / chain.block_time_seconds
        terms.append(
            MemoryTerm(
                ("chain", "block_time_seconds"),
                f"{blocks:,.0f} blocks an epoch",
                blocks * BYTES_PER_BLOCK,
            )
        )
    if collect.journal:
        entries = JOURNAL_ENTRIES_PER_INDIVIDUAL_EPOCH * individuals * scenario.epochs
        terms.append(
            MemoryTerm(
                ("collect", "journal"),
                f"{entries:,.0f} ledger journal entries",
                entries * BYTES_PER_JOURNAL_ENTRY,
            )
        )
    return terms


def memory_terms(scenario: Scenario) -> list[MemoryTerm]:
    """Every term of :func:`estimate_memory_bytes` (except the fixed
    :data:`BASE_BYTES`), largest first."""
    paths = {
        "providers": ("population", "providers"),
        "consumers": ("population", "consumers"),
        "builders": ("population", "builders"),
        "validators": ("population", "validators"),
        "farmers": ("population", "farmers", "duplicate"),
        "wash": ("population", "farmers", "wash"),
        "sybil_identities": ("population", "farmers", "sybil_operators"),
        "poisoners": ("population", "poisoners"),
    }
    counts = expected_individuals(scenario)
    vesting = scenario.tokenomics.vesting
    most = max(range(len(vesting)), key=lambda i: vesting[i].holders)  # the largest bucket
    paths["holders"] = ("tokenomics", "vesting", most, "holders")
    terms = [
        MemoryTerm(paths[role], f"{count:,.0f} {role.replace('_', ' ')}", count * cost)
        for role, cost in BYTES_PER_INDIVIDUAL.items()
        if (count := counts[role]) > 0
    ]
    terms += _datanet_terms(scenario)
    terms += _engine_terms(scenario)
    terms += _run_terms(scenario, sum(counts.values()))
    return sorted((t for t in terms if t.bytes > 0), key=lambda t: -t.bytes)


def estimate_memory_bytes(scenario: Scenario) -> int:
    """Estimated peak memory of running ``scenario`` (bytes): :data:`BASE_BYTES` plus every
    :func:`memory_terms` term. Monotone in every population count, point count and the
    horizon; pure and cheap."""
    total = BASE_BYTES + math.fsum(t.bytes for t in memory_terms(scenario))
    return int(min(total, 2.0**62))
