"""Reading scenarios once and bounded (files, pipes, devices), and the cap on problems."""

import os
import pickle
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides, load, loads
from ledgerlab.scenarios.loader import MAX_PROBLEMS, MAX_SCENARIO_BYTES, read_text_bounded
from ledgerlab.scenarios.variants import (
    VariantSet,
    is_variant_file,
    load_any,
    load_variants,
    loads_variants,
)

SCENARIO_TEXT = "name: piped\nepochs: 3\npopulation:\n  providers: 7\n"


@contextmanager
def _pipe_path(data: bytes) -> Iterator[str]:
    """A path naming the read end of a pipe that a thread fills with ``data`` then closes:
    what ``/dev/stdin`` is for ``cat x.yaml | ledgerlab validate /dev/stdin``. Opening it a
    second time gives an empty stream, as for a real pipe."""
    if not Path("/dev/fd").is_dir():
        pytest.skip("needs /dev/fd")
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as stream:
            stream.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield f"/dev/fd/{read_fd}"
    finally:
        writer.join(timeout=10)
        os.close(read_fd)


def test_a_pipe_is_read_once_like_dev_stdin() -> None:
    # What `ledgerlab validate /dev/stdin` does: decide "variant file or scenario", then load.
    with _pipe_path(SCENARIO_TEXT.encode()) as path:
        assert not is_variant_file(path)  # a pipe is left unread for the loader
        scenario = load(path)
    assert (scenario.name, scenario.epochs, scenario.population.providers) == ("piped", 3, 7)


def test_load_any_reads_a_fifo_once_and_decides_what_it_holds(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("name: base\nepochs: 4\n", encoding="utf-8")
    texts = {
        "scenario": SCENARIO_TEXT,
        # from a pipe, `base:` is relative to the current folder; an absolute path works
        "variants": f"base: {base}\nvariants:\n  short: {{epochs: 2}}\n",
    }
    loaded = {}
    for kind, text in texts.items():
        fifo = tmp_path / f"{kind}.fifo"
        os.mkfifo(fifo)

        def write(fifo: Path = fifo, text: str = text) -> None:
            with open(fifo, "wb") as stream:  # blocks until the loader opens the FIFO
                stream.write(text.encode())

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        loaded[kind] = load_any(fifo)
        writer.join(timeout=10)
    assert isinstance(loaded["scenario"], Scenario)
    assert loaded["scenario"].name == "piped"
    assert isinstance(loaded["variants"], VariantSet)
    assert loaded["variants"].variants["short"].epochs == 2


def test_load_any_and_load_variants_read_files(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\n", encoding="utf-8")
    variants = tmp_path / "v.yaml"
    variants.write_text("base: base.yaml\nvariants:\n  a: {epochs: 5}\n", encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO_TEXT, encoding="utf-8")
    assert is_variant_file(variants) and not is_variant_file(scenario)
    assert load_variants(variants).variants["a"].epochs == 5
    assert isinstance(load_any(variants), VariantSet)
    assert load_any(scenario) == load(scenario)
    with pytest.raises(ScenarioError, match="this is a variant file"):
        load(variants)
    assert loads_variants(variants.read_text(), "v.yaml", tmp_path).base.name == "base"
    variants.write_bytes("\ufeff".encode() + variants.read_bytes())  # a BOM is dropped
    assert is_variant_file(variants)
    assert list(load_variants(variants).variants) == ["a"]


def test_dev_zero_is_refused_after_a_bounded_read() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load("/dev/zero")
    assert time.perf_counter() - start < 5.0
    assert str(info.value) == (
        f"/dev/zero: holds more than {MAX_SCENARIO_BYTES:,} bytes (reading stopped there); a "
        "scenario is a few kilobytes — is this the right file?"
    )
    assert not is_variant_file("/dev/zero")  # a device is not read to decide


def test_a_large_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as stream:
        stream.truncate(10 * MAX_SCENARIO_BYTES)  # sparse: a large size, cheap to make
    with pytest.raises(ScenarioError, match="holds more than") as info:
        read_text_bounded(big)
    assert len(info.value.problems) == 1


def test_a_non_utf8_file_is_one_problem_everywhere(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: cafe\nvariants: {}\ndescription: caf\xe9\n")
    expected = f"{latin}: is not UTF-8 text (undecodable byte at offset 40); save it as UTF-8"
    assert not is_variant_file(latin)  # not a traceback: the loader reports it
    for loader in (load, load_any, load_variants):
        with pytest.raises(ScenarioError) as info:
            loader(latin)
        assert str(info.value) == expected


# --------------------------------------------------------------------- problem cap


def test_100k_unknown_keys_give_51_lines_quickly(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text(
        "name: many\ndescription: no variants here\n"
        + "".join(f"k{i:05d}: 1\n" for i in range(100_000)),
        encoding="utf-8",
    )
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load(many)
    with pytest.raises(ScenarioError) as again:
        load_any(many)  # looks for a top-level `variants` key first: cheap too
    elapsed = time.perf_counter() - start
    assert str(again.value) == str(info.value)
    lines = str(info.value).splitlines()
    assert len(lines) == MAX_PROBLEMS + 1 == 51
    assert lines[0].startswith(f"{many}:3:1: k00000: unknown key 'k00000'; allowed keys: name,")
    assert lines[-1] == f"{many}: … and 99,950 more problems"
    assert info.value.omitted == 99_950
    # a guard against quadratic work (e.g. difflib for every key), not a benchmark: about a
    # second on one core with libyaml, a few without it
    assert elapsed < 10.0


def test_unknown_keys_beyond_the_cap_are_counted_in_nested_sections() -> None:
    text = (
        "name: x\npopulation:\n  providerz: 3\n"
        + "".join(f"  extra{i}: 1\n" for i in range(60))
        + "datanets:\n  - {name: a, kk: 3}\n"
    )
    with pytest.raises(ScenarioError) as info:
        loads(text, source="n.yaml")
    lines = str(info.value).splitlines()
    # the first listed keeps its "did you mean"
    assert (
        lines[0]
        == "n.yaml:3:3: population.providerz: unknown key 'providerz'; did you mean 'providers'?"
    )
    assert lines[-1] == "n.yaml: … and 12 more problems"  # 62 unknown keys, 50 listed
    # under the cap, the scan does not cut validation short: types are checked too
    text = "name: x\nepochz: 3\npopulation: {providers: -1}\n"
    with pytest.raises(ScenarioError) as info:
        loads(text, source="f.yaml")
    assert str(info.value).splitlines() == [
        "f.yaml:2:1: epochz: unknown key 'epochz'; did you mean 'epochs'?",
        "f.yaml:3:25: population.providers: must be ≥ 0 (got -1)",
    ]


def test_many_invalid_values_are_capped_in_file_order() -> None:
    steps = "".join(f"    - {{start_epoch: {i}, tokens_per_epoch: -1}}\n" for i in range(80))
    text = f"name: x\ntokenomics:\n  emission:\n    kind: table\n    steps:\n{steps}"
    with pytest.raises(ScenarioError) as info:
        loads(text, source="t.yaml")
    problems = info.value.problems
    assert len(problems) == 51
    assert [p.line for p in problems[:50]] == list(range(6, 56))
    assert str(problems[-1]) == "t.yaml: … and 30 more problems"


def test_override_problems_are_capped_too() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(Scenario(), {f"population.nope{i}": 1 for i in range(70)})
    assert len(info.value.problems) == 51
    assert str(info.value.problems[-1]) == "<overrides>: … and 20 more problems"


def test_capped_counts_add_up_across_variants(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\n", encoding="utf-8")
    bad = "{" + ", ".join(f"population.nope{i}: 1" for i in range(40)) + "}"
    variants = tmp_path / "v.yaml"
    variants.write_text(f"base: base.yaml\nvariants:\n  a: {bad}\n  b: {bad}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_variants(variants)
    assert len(info.value.problems) == 51
    assert info.value.problems[-1].message == "… and 30 more problems"


def test_a_capped_error_survives_pickling_unchanged() -> None:
    with pytest.raises(ScenarioError) as info:
        loads("name: x\n" + "".join(f"u{i}: 1\n" for i in range(70)), source="p.yaml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems
    assert str(copy) == str(info.value)
    assert copy.omitted == 20


def test_one_more_problem_is_singular() -> None:
    text = textwrap.dedent("name: x\n" + "".join(f"u{i}: 1\n" for i in range(51)))
    with pytest.raises(ScenarioError) as info:
        loads(text, source="s.yaml")
    assert str(info.value.problems[-1]) == "s.yaml: … and 1 more problem"
