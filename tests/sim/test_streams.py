"""Substreams (``sim.streams``): a derived generator depends on the seed, the stream and
the key only, and deriving one never moves its parent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerlab.sim.model import STREAMS, EconomyModel
from ledgerlab.sim.streams import epoch_streams, substream

keys = st.lists(st.integers(min_value=0, max_value=2**32), min_size=1, max_size=3)


def _stream(seed: int, index: int) -> np.random.Generator:
    """The model's named stream ``index`` of ``seed``, as ``EconomyModel`` spawns it."""
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    return np.random.Generator(np.random.PCG64(child))


@given(seed=st.integers(0, 2**63 - 1), key=keys, drawn=st.integers(0, 50))
def test_a_substream_depends_on_seed_stream_and_key_only(
    seed: int, key: list[int], drawn: int
) -> None:
    parent = _stream(seed, 3)
    before = parent.bit_generator.state
    first = substream(parent, *key).random(4)
    assert parent.bit_generator.state == before  # deriving never draws from the parent
    parent.random(drawn)  # however much the parent has drawn since
    np.testing.assert_array_equal(substream(parent, *key).random(4), first)


@given(seed=st.integers(0, 2**63 - 1), key=keys)
def test_substreams_of_other_keys_or_streams_differ(seed: int, key: list[int]) -> None:
    base = substream(_stream(seed, 3), *key).random(4)
    assert not np.array_equal(substream(_stream(seed, 3), *key, 0).random(4), base)
    assert not np.array_equal(substream(_stream(seed, 3), key[0] + 1).random(4), base)
    assert not np.array_equal(substream(_stream(seed, 4), *key).random(4), base)
    assert not np.array_equal(_stream(seed, 3).random(4), base)  # apart from the parent


def test_epoch_streams_are_the_models_named_streams_keyed_by_epoch() -> None:
    model = EconomyModel("baseline", epochs=2, population__providers=5)
    one = epoch_streams(model.streams, 1)
    assert list(one) == list(STREAMS) and len(one) == len(STREAMS)
    for name in ("market", "contribute"):
        expected = substream(model.streams[name], 1).random(3)
        np.testing.assert_array_equal(one[name].random(3), expected)
        other = epoch_streams(model.streams, 2)[name].random(3)
        assert not np.array_equal(other, expected)


# ------------------------------------------------- epoch seeds derived in blocks (fast path)

epochs = st.lists(st.integers(0, 3_000), min_size=1, max_size=6) | st.just([0, 511, 512, 2**31])


def _same_generator(a: np.random.Generator, b: np.random.Generator) -> None:
    """The same state and seed sequence, and the same draws from both and their spawn."""
    assert a.bit_generator.state == b.bit_generator.state
    sa, sb = a.bit_generator.seed_seq, b.bit_generator.seed_seq
    assert (sa.entropy, sa.spawn_key, sa.pool_size) == (sb.entropy, sb.spawn_key, sb.pool_size)
    np.testing.assert_array_equal(sa.generate_state(8), sb.generate_state(8))
    np.testing.assert_array_equal(a.random(3), b.random(3))


@given(seed=st.integers(0, 2**70), index=st.integers(0, len(STREAMS) - 1), epochs=epochs)
def test_epoch_seeds_make_the_substreams_bit_for_bit(
    seed: int, index: int, epochs: list[int]
) -> None:
    from ledgerlab.sim.streams import EpochSeeds

    parent = _stream(seed, index)
    seeds = EpochSeeds(parent)
    assert seeds.ok
    for epoch in epochs:
        fast, general = seeds.generator(epoch), substream(parent, epoch)
        _same_generator(fast, general)
        _same_generator(substream(fast, 2, 7), substream(general, 2, 7))  # role splits
        _same_generator(fast.spawn(2)[1], general.spawn(2)[1])
    assert seeds.ok  # every block passed its check against numpy's SeedSequence


def test_epoch_streams_with_seeds_equal_those_without() -> None:
    from ledgerlab.sim.streams import StreamSeeds

    model = EconomyModel("baseline", epochs=2, population__providers=5)
    seeds = StreamSeeds()
    for epoch in (0, 1, 600):
        fast = epoch_streams(model.streams, epoch, seeds)
        general = epoch_streams(model.streams, epoch)
        for name in STREAMS:
            _same_generator(fast[name], general[name])


def test_epoch_seeds_fall_back_when_their_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import ledgerlab.sim.streams as S

    parent = _stream(123, 1)
    monkeypatch.setattr(S, "_block_states", lambda *a: np.zeros((S.BLOCK_EPOCHS, 4), np.uint64))
    seeds = S.EpochSeeds(parent)
    _same_generator(seeds.generator(5), substream(parent, 5))
    assert not seeds.ok
    _same_generator(seeds.generator(6), substream(parent, 6))


def test_a_fast_epoch_generator_pickles() -> None:
    import pickle

    from ledgerlab.sim.streams import EpochSeeds

    parent = _stream(9, 2)
    fast = EpochSeeds(parent).generator(40)
    fast.random(5)
    _same_generator(pickle.loads(pickle.dumps(fast)), fast)
