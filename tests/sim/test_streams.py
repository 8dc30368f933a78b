"""Substreams (``sim.streams``): a derived generator depends on the seed, the stream and
the key only, and deriving one never moves its parent."""

from __future__ import annotations

import numpy as np
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
