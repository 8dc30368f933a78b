"""``ledgerlab report``: a self-contained HTML report and a Markdown one, for a run and
for a sweep, registered as ledgerlab's own in the folder it describes."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerlab.analysis.cli import app
from ledgerlab.analysis.report import ReportError, write_report
from ledgerlab.sim.output import read_marker
from ledgerlab.sim.run import run

runner = CliRunner()
SMALL = {"population.providers": 10, "population.consumers": 8}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    run("antifarming_world", epochs=8, overrides=SMALL, progress=False, out=out)
    return out


def test_run_report_is_self_contained_and_states_the_question(run_folder: Path) -> None:
    result = runner.invoke(app, ["report", str(run_folder)])
    assert result.exit_code == 0, result.output
    html = (run_folder / "report" / "report.html").read_text()
    assert "<strong>Question.</strong> one adversarial world" in html
    images = re.findall(r"src='data:image/png;base64,([^']+)'", html)
    assert len(images) >= 4
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in html.replace("https://", "").lower() or "src='http" not in html
    md = (run_folder / "report" / "report.md").read_text()
    assert "## Headline KPIs" in md and "## Provenance" in md and "ledgerlab |" in md
    for name in re.findall(r"\]\((figure_\d+\.png)\)", md):
        assert (run_folder / "report" / name).is_file()
    marker = read_marker(run_folder)
    assert marker is not None and "report" in marker["entries"]  # a rerun may replace it


def test_report_twice_replaces_the_first(run_folder: Path) -> None:
    write_report(run_folder)
    write_report(run_folder)
    assert not [p for p in run_folder.iterdir() if p.name.endswith(".partial")]


def test_a_users_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ReportError, match="not a folder ledgerlab wrote"):
        write_report(tmp_path)
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr.startswith("error: report:")
