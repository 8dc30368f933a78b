"""Per-epoch and per-key random streams derived from the model's named streams.

Common random numbers (``sim.twins``) need each actor's draws to depend only on its own
circumstances, never on how much another actor drew before it. A persistent generator
shared by several roles breaks that twice over: within an epoch, a role's draws start where
the previous role's stopped; across epochs, any difference in how much was drawn shifts
every later draw. Deriving a fresh generator from a named stream's seed sequence and a
stable key — the epoch, then a role, a datanet — fixes both: a substream's draws depend on
the seed, the stream's name and the key only, and deriving one never advances the parent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

SUBSTREAM_TAG = 0x5355_4253
"""First element of every derived key ("SUBS"): keeps derived seed sequences apart from
any a stream's own ``SeedSequence.spawn`` would make (those append 0, 1, 2, ...)."""


def substream(parent: np.random.Generator, *key: int) -> np.random.Generator:
    """A new generator determined by ``parent``'s seed sequence and ``key`` (non-negative
    integers), without drawing from ``parent`` or changing its state."""
    seq = parent.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise TypeError("substream: the parent generator was not seeded by a SeedSequence")
    child = np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, SUBSTREAM_TAG, *(int(k) for k in key))
    )
    return np.random.Generator(np.random.PCG64(child))


class EpochStreams(Mapping[str, np.random.Generator]):
    """Every named stream's substream for one epoch, each derived the first time a phase
    asks for it: a substream depends only on the seed, the name and the epoch, so deriving
    it late changes no draw, and an epoch whose phases skip a stream (a tokenomics-only
    world draws only the market's) does not pay for it (a seed sequence and a generator,
    some tens of µs each)."""

    def __init__(self, streams: Mapping[str, np.random.Generator], epoch: int) -> None:
        self._streams = streams
        self._epoch = epoch
        self._made: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._made.get(name)
        if rng is None:
            rng = self._made[name] = substream(self._streams[name], self._epoch)
        return rng

    def __iter__(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)


def epoch_streams(streams: Mapping[str, np.random.Generator], epoch: int) -> EpochStreams:
    """Every named stream's substream for ``epoch``: what an epoch's phases draw from, so
    the draws of an epoch depend on the seed and the epoch only, not on how much any
    earlier epoch drew (a shorter run stays a prefix of a longer one). Derived on first use
    (:class:`EpochStreams`)."""
    return EpochStreams(streams, epoch)
