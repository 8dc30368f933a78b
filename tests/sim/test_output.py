"""Output folders: never lose a user's file, never leave half a run behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledgerlab.sim.output import (
    MARKER,
    OutputError,
    atomic_dir,
    check_target,
    is_ledgerlab_folder,
    read_marker,
)


def _write(target: Path, files: dict[str, str], **kw: object) -> Path:
    with atomic_dir(target, **kw) as tmp:  # type: ignore[arg-type]
        for name, text in files.items():
            (tmp / name).write_text(text)
    return target


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != MARKER)


def test_new_folder_is_written_with_a_marker(tmp_path: Path) -> None:
    out = _write(tmp_path / "a" / "run", {"x.txt": "1"})
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "x.txt"]
    marker = read_marker(out)
    assert marker is not None and marker["entries"] == ["x.txt"] and marker["kind"] == "run"
    assert _hidden(tmp_path / "a") == []


def test_users_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("my thesis")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "data.csv").write_text("1,2")
    with pytest.raises(OutputError, match=r"not empty \(2 entries: notes, thesis\.tex\)"):
        _write(tmp_path, {"x.txt": "1"})
    assert (tmp_path / "thesis.tex").read_text() == "my thesis"
    assert (tmp_path / "notes" / "data.csv").read_text() == "1,2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "thesis.tex"]


@pytest.mark.parametrize("name", [".", "..", "cwd"])
def test_working_folder_and_parents_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = str(work) if name == "cwd" else name
    with pytest.raises(OutputError, match="working folder or one of its parents"):
        _write(Path(target), {"x.txt": "1"})
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_empty_folder_and_earlier_run_are_replaced(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    _write(out, {"a.txt": "1"})
    _write(out, {"b.txt": "2"})  # an earlier ledgerlab folder: replaced whole
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.txt"]
    assert _hidden(tmp_path) == []


def test_users_file_inside_an_earlier_run_needs_force_and_is_kept(tmp_path: Path) -> None:
    out = _write(tmp_path / "run", {"a.txt": "old", "table.txt": "old"})
    (out / "my_notes.md").write_text("keep")
    with pytest.raises(OutputError, match=r"did not write \(my_notes\.md\).*--force"):
        _write(out, {"a.txt": "new"})
    assert (out / "a.txt").read_text() == "old"
    _write(out, {"a.txt": "new"}, force=True)
    assert (out / "my_notes.md").read_text() == "keep"
    assert (out / "a.txt").read_text() == "new"
    marker = read_marker(out)
    assert marker is not None and "my_notes.md" not in marker["entries"]


def test_file_symlink_and_mount_point_are_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_target(tmp_path / "f")
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="symbolic link"):
        check_target(tmp_path / "link")
    if os.path.ismount("/proc"):
        with pytest.raises(OutputError, match="mount point"):
            check_target("/proc")


def test_unwritable_place_is_a_one_line_error() -> None:
    with pytest.raises(OutputError, match=r"cannot create output folder /proc/ledgerlab-x/run"):
        _write(Path("/proc/ledgerlab-x/run"), {"x.txt": "1"})


def test_an_error_while_writing_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "run") as tmp:
        (tmp / "half.txt").write_text("1")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_os_errors_while_writing_become_output_errors(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="No space left on device"), atomic_dir(tmp_path / "r"):
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_another_writer_finishing_first_wins_and_the_other_is_told(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(OutputError, match="another ledgerlab command wrote"):
        with atomic_dir(out) as tmp:
            (tmp / "mine.txt").write_text("late")
            _write(out, {"theirs.txt": "first"})  # the other writer completes meanwhile
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "theirs.txt"]
    assert _hidden(tmp_path) == []


def test_stale_partials_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".run.{pid}.abcdef12.partial"
    stale.mkdir()
    (stale / "half.parquet").write_text("x")
    live = tmp_path / f".other.{os.getpid()}.abcdef12.partial"  # a writer still running
    live.mkdir()
    _write(tmp_path / "run", {"x.txt": "1"})
    assert not stale.exists()
    assert live.exists()


def test_marker_recognises_ledgerlab_folders(tmp_path: Path) -> None:
    assert not is_ledgerlab_folder(tmp_path)
    assert is_ledgerlab_folder(_write(tmp_path / "r", {"x": "1"}))
