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
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

SUBSTREAM_TAG = 0x5355_4253
"""First element of every derived key ("SUBS"): keeps derived seed sequences apart from
any a stream's own ``SeedSequence.spawn`` would make (those append 0, 1, 2, ...)."""


def substream(parent: np.random.Generator, *key: int) -> np.random.Generator:
    """A new generator determined by ``parent``'s seed sequence and ``key`` (non-negative
    integers), without drawing from ``parent`` or changing its state."""
    seq = parent.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence | EpochSeed):
        raise TypeError("substream: the parent generator was not seeded by a SeedSequence")
    child = np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, SUBSTREAM_TAG, *(int(k) for k in key))
    )
    return np.random.Generator(np.random.PCG64(child))


# SeedSequence's hash constants (numpy/random/bit_generator.pyx; its algorithm is part of
# numpy's stream-compatibility promise, and EpochSeeds checks itself against it anyway).
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_M32 = 0xFFFF_FFFF
_U64 = np.dtype(np.uint64)
BLOCK_EPOCHS = 512
"""Epochs whose seeds :class:`EpochSeeds` derives in one vectorised pass."""


class EpochSeed(ISpawnableSeedSequence):
    """The seed sequence ``SeedSequence(entropy, spawn_key=spawn_key)`` with its PCG64
    seeding state already derived (by :class:`EpochSeeds`): what a PCG64 asks of it
    (``generate_state(4, uint64)``) is that state; anything else is asked of the real
    seed sequence, made on first use (so ``spawn`` counts its children as it would)."""

    __slots__ = ("_seq", "_state", "entropy", "spawn_key")

    def __init__(self, entropy: Any, spawn_key: tuple[int, ...], state: np.ndarray) -> None:
        self.entropy = entropy
        self.spawn_key = spawn_key
        self._state = state
        self._seq: np.random.SeedSequence | None = None

    def sequence(self) -> np.random.SeedSequence:
        """The real seed sequence this one stands for."""
        if self._seq is None:
            self._seq = np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key)
        return self._seq

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """``SeedSequence.generate_state``: the derived state for a PCG64's request."""
        if n_words == 4 and (dtype is np.uint64 or np.dtype(dtype) == _U64):
            return self._state.copy()
        return self.sequence().generate_state(n_words, dtype)

    def spawn(self, n_children: int) -> list[np.random.SeedSequence]:
        """``SeedSequence.spawn`` of the real seed sequence."""
        return self.sequence().spawn(n_children)

    @property
    def pool_size(self) -> int:
        return self.sequence().pool_size

    @property
    def n_children_spawned(self) -> int:
        return self.sequence().n_children_spawned

    @property
    def pool(self) -> np.ndarray:
        return self.sequence().pool

    def __reduce__(self) -> tuple[Any, ...]:
        return (EpochSeed, (self.entropy, self.spawn_key, self._state))


def _uint32_words(x: Any) -> list[int]:
    """numpy's ``_coerce_to_uint32_array`` for non-negative ints and (nested) sequences of
    them, as Python ints; TypeError for anything else (strings, arrays)."""
    if isinstance(x, bool):
        raise TypeError("not an integer")
    if isinstance(x, int | np.integer):
        n = int(x)
        if n < 0:
            raise TypeError("negative")
        words = [] if n else [0]
        while n:
            words.append(n & _M32)
            n >>= 32
        return words
    if isinstance(x, tuple | list):
        return [w for v in x for w in _uint32_words(v)]
    raise TypeError(f"unsupported entropy {type(x).__name__}")


class EpochSeeds:
    """The PCG64 seeding states of one stream's epoch substreams (``substream(parent,
    epoch)``), derived a block of :data:`BLOCK_EPOCHS` epochs at a time.

    Why: making an epoch's substream costs about 9 µs, most of it ``SeedSequence``'s
    set-up (its pool is mixed word by word through small numpy arrays) and its state
    generation — a sizeable part of an idle epoch. The pool of ``SeedSequence(entropy,
    spawn_key=(*stream key, SUBSTREAM_TAG, epoch))`` is the stream's words mixed in
    order with hash constants that do not depend on the data, so everything before the
    epoch's word is the same for every epoch (mixed once, here, in Python ints) and the
    epoch's word and the state generation are the same uint32 arithmetic on a vector of
    epochs. Each block is checked against numpy's own ``SeedSequence`` on one of its
    epochs; on any mismatch (or an entropy this does not handle) the stream falls back to
    :func:`substream` for good. ``tests/sim/test_streams.py`` checks the states bit for
    bit against ``substream``."""

    def __init__(self, parent: np.random.Generator) -> None:
        self.parent = parent
        seq = parent.bit_generator.seed_seq
        self._start = -1
        self._states = np.zeros((0, 4), dtype=np.uint64)
        self.ok = isinstance(seq, np.random.SeedSequence) and seq.pool_size == 4
        if self.ok:
            self._entropy, self._prefix = seq.entropy, (*seq.spawn_key, SUBSTREAM_TAG)
            try:
                run = _uint32_words(seq.entropy)
                words = run + [0] * (4 - len(run)) + _uint32_words(self._prefix)
            except TypeError:
                self.ok = False
            else:
                self._pool, self._hash = _mixed_prefix(words)

    def generator(self, epoch: int) -> np.random.Generator:
        """``substream(parent, epoch)``, bit for bit."""
        if not self.ok or not 0 <= epoch < 2**32 - BLOCK_EPOCHS:
            return substream(self.parent, epoch)
        offset = epoch - self._start
        if self._start < 0 or not 0 <= offset < BLOCK_EPOCHS:
            self._start = start = epoch - epoch % BLOCK_EPOCHS
            self._states = _block_states(self._pool, self._hash, start)
            check = np.random.SeedSequence(self._entropy, spawn_key=(*self._prefix, start))
            if not np.array_equal(check.generate_state(4, np.uint64), self._states[0]):
                self.ok = False  # numpy's algorithm changed: derive every seed afresh
                return substream(self.parent, epoch)
            offset = epoch - start
        seed = EpochSeed(self._entropy, (*self._prefix, epoch), self._states[offset])
        return np.random.Generator(np.random.PCG64(seed))


def _mixed_prefix(words: list[int]) -> tuple[list[int], int]:
    """``SeedSequence.mix_entropy`` of ``words`` (at least the pool's 4) in Python ints:
    the pool and the hash constant it leaves, for more words to be mixed in after."""
    h = _INIT_A

    def hashmix(value: int) -> int:
        nonlocal h
        value ^= h
        h = (h * _MULT_A) & _M32
        value = (value * h) & _M32
        return value ^ (value >> 16)

    def mix(x: int, y: int) -> int:
        r = (_MIX_L * x - _MIX_R * y) & _M32
        return r ^ (r >> 16)

    pool = [hashmix(w) for w in words[:4]]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    for w in words[4:]:
        for i_dst in range(4):
            pool[i_dst] = mix(pool[i_dst], hashmix(w))
    return pool, h


def _block_states(pool: list[int], hash_const: int, start: int) -> np.ndarray:
    """PCG64 seeding states (``generate_state(4, uint64)``, [BLOCK_EPOCHS, 4]) of the
    seed sequences whose words are the prefix mixed into ``pool``/``hash_const`` followed
    by one epoch word each, for epochs ``start, start + 1, ...`` (each < 2**32)."""
    word = np.arange(start, start + BLOCK_EPOCHS, dtype=np.uint32)
    h = hash_const
    mixed: list[np.ndarray] = []
    with np.errstate(over="ignore"):
        for p in pool:  # mix_entropy's last loop, for the epoch's word
            v = word ^ np.uint32(h)
            h = (h * _MULT_A) & _M32
            v = v * np.uint32(h)
            v ^= v >> np.uint32(16)
            r = np.uint32(_MIX_L) * np.uint32(p) - np.uint32(_MIX_R) * v
            mixed.append(r ^ (r >> np.uint32(16)))
        hb = _INIT_B
        out = np.empty((BLOCK_EPOCHS, 8), dtype=np.uint32)
        for i in range(8):  # generate_state(4, uint64): 8 words cycling over the pool
            d = mixed[i % 4] ^ np.uint32(hb)
            hb = (hb * _MULT_B) & _M32
            d = d * np.uint32(hb)
            out[:, i] = d ^ (d >> np.uint32(16))
    return np.ascontiguousarray(out.astype("<u4").view("<u8").astype(np.uint64))


class EpochStreams(Mapping[str, np.random.Generator]):
    """Every named stream's substream for one epoch, each derived the first time a phase
    asks for it: a substream depends only on the seed, the name and the epoch, so deriving
    it late changes no draw, and an epoch whose phases skip a stream (a tokenomics-only
    world draws only the market's) does not pay for it (a seed sequence and a generator,
    some tens of µs each)."""

    def __init__(
        self,
        streams: Mapping[str, np.random.Generator],
        epoch: int,
        seeds: StreamSeeds | None = None,
    ) -> None:
        self._streams = streams
        self._epoch = epoch
        self._seeds = seeds
        self._made: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._made.get(name)
        if rng is None:
            seeds = self._seeds
            rng = self._made[name] = (
                substream(self._streams[name], self._epoch)
                if seeds is None
                else seeds.of(name, self._streams[name]).generator(self._epoch)
            )
        return rng

    def __iter__(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)


class StreamSeeds:
    """Each named stream's :class:`EpochSeeds`, made on first use: what a model keeps
    from epoch to epoch so its epochs' substreams come from the precomputed blocks."""

    def __init__(self) -> None:
        self._by_name: dict[str, EpochSeeds] = {}

    def of(self, name: str, parent: np.random.Generator) -> EpochSeeds:
        """The epoch seeds of stream ``name`` (``parent``: that stream's generator)."""
        seeds = self._by_name.get(name)
        if seeds is None or seeds.parent is not parent:
            seeds = self._by_name[name] = EpochSeeds(parent)
        return seeds


def epoch_streams(
    streams: Mapping[str, np.random.Generator], epoch: int, seeds: StreamSeeds | None = None
) -> EpochStreams:
    """Every named stream's substream for ``epoch``: what an epoch's phases draw from, so
    the draws of an epoch depend on the seed and the epoch only, not on how much any
    earlier epoch drew (a shorter run stays a prefix of a longer one). Derived on first use
    (:class:`EpochStreams`); with ``seeds`` (kept by the caller across epochs) from their
    precomputed blocks, the same generators bit for bit."""
    return EpochStreams(streams, epoch, seeds)
