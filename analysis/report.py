"""A report of a run or a sweep, for people who decide from it.

``ledgerlab report OUT`` writes ``OUT/report/report.html`` (one self-contained file: the
figures are embedded, it opens offline and can be mailed) and ``OUT/report/report.md``
(with the figures as PNG files beside it). A report holds:

* the question the scenario or sweep answers (its description, else the leading comment
  of the shipped file of that name);
* the headline KPI table (a run) or the comparison table with paired 95 % intervals
  against the reference variant (a sweep with variants);
* the figures that apply: the run's dashboard panels one by one; for a sweep the
  comparison chart, the benefit-vs-cost chart and fan charts of key metrics;
* provenance: ledgerlab version, git commit when known, seeds, swept parameters and the
  resolved scenario.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ledgerlab.analysis import plots
from ledgerlab.analysis.results import Results, kpi_table, load

__all__ = ["Report", "ReportError", "build_report", "write_report"]

FAN_METRICS = ("price_usd", "market_float_tokens", "excess_share", "accuracy")
"""Timeseries shown as fan charts in a sweep's report (those the sweep recorded)."""


class ReportError(ValueError):
    """A report cannot be made from this folder; the message says why."""


@dataclass
class Report:
    """What a report says, before it is rendered.

    Attributes:
        title: The scenario's or sweep's name.
        question: What it answers (free text; may be empty).
        tables: (heading, preformatted text) pairs.
        figures: (caption, Figure) pairs.
        provenance: Key → value (version, commit, seeds, parameters...).
        scenario_yaml: The resolved scenario (a run) or base scenario (a sweep).
    """

    title: str
    question: str = ""
    tables: list[tuple[str, str]] = field(default_factory=list)
    figures: list[tuple[str, Figure]] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    scenario_yaml: str = ""


def _question(name: str, description: str) -> str:
    """The scenario's description, else the leading comment of the shipped file that
    defines a scenario of this name (a variant ``<base>_<variant>`` counts as its base)."""
    if description.strip():
        return description.strip()
    from ledgerlab.analysis.cli import _leading_comment
    from ledgerlab.scenarios.library import shipped

    texts = {stem: path.read_text(encoding="utf-8") for stem, path in shipped().items()}
    declared = {}
    for stem, text in texts.items():
        found = re.search(r"^name:\s*['\"]?([A-Za-z0-9_.\-]+)", text, flags=re.M)
        declared[found.group(1) if found else stem] = stem
    matches = [n for n in declared if name == n or name.startswith(f"{n}_")]
    if not matches:
        return ""
    return _leading_comment(texts[declared[max(matches, key=len)]])


def _commit() -> str:
    """The git commit of the ledgerlab checkout, when it is one (else 'unknown')."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True)  # fmt: skip
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _provenance(extra: dict[str, Any]) -> dict[str, str]:
    from ledgerlab import __version__

    return {"ledgerlab": __version__, "commit": _commit(), **{k: str(v) for k, v in extra.items()}}


def _run_report(folder: Path, results: Results) -> Report:
    view = plots.run_view(results)
    summary = dict(view.summary)
    scenario_text = (folder / "scenario.resolved.yaml").read_text(encoding="utf-8")
    from ledgerlab.scenarios import loads

    scenario = loads(scenario_text, source=str(folder / "scenario.resolved.yaml"))
    report = Report(
        title=str(summary.get("scenario") or scenario.name),
        question=_question(scenario.name, scenario.description),
        provenance=_provenance(
            {"seed": scenario.seed, "epochs": scenario.epochs, "epoch_days": scenario.epoch_days}
        ),
        scenario_yaml=scenario_text,
    )
    report.tables.append(("Headline KPIs", kpi_table(summary)))
    for name in plots.applicable_panels(view):
        panel = plots.PANELS[name]
        fig = plots._figure(panel, view)
        report.figures.append((panel.question, fig))
    return report


def _sweep_report(folder: Path, results: Results) -> Report:
    from ledgerlab.analysis.compare import ComparisonError, compare_results, format_table

    identity = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    base_text = (folder / "base.resolved.yaml").read_text(encoding="utf-8")
    from ledgerlab.scenarios import loads

    base = loads(base_text, source=str(folder / "base.resolved.yaml"))
    report = Report(
        title=str(identity.get("name") or base.name),
        question=_question(str(identity.get("name") or ""), str(identity.get("description", "")))
        or _question(base.name, base.description),
        provenance=_provenance(
            {
                "runs": identity.get("runs"),
                "variants": ", ".join(identity.get("variants", [])),
                "replicates": identity.get("replicates"),
                "master seed": identity.get("master_seed"),
                "seeds": ", ".join(map(str, identity.get("seeds", []))),
                "swept parameters": ", ".join(identity.get("parameters", [])) or "none",
            }
        ),
        scenario_yaml=base_text,
    )
    variants = identity.get("variants", [])
    if len(variants) > 1:
        try:
            table = compare_results(results, reference=identity.get("reference"))
        except ComparisonError as exc:
            report.tables.append(("Comparison", f"not available: {exc}"))
        else:
            report.tables.append(("Comparison with paired 95 % intervals", format_table(table)))
            report.figures.append(
                ("Paired differences from the reference", plots.comparison(table))
            )
            try:
                report.figures.append(("Benefit vs cost", plots.benefit_cost(table)))
            except plots.PlotError:
                pass
    days = float(base.epoch_days)
    for metric in FAN_METRICS:
        if metric in results.timeseries.columns and results.timeseries[metric].notna().any():
            report.figures.append(
                (f"{metric} across runs", plots.fan(results, metric, epoch_days=days))
            )
    return report


def build_report(folder: str | Path) -> Report:
    """What the report of a run folder or a sweep folder says."""
    from ledgerlab.analysis.results import ResultsError
    from ledgerlab.sim.output import read_marker

    root = Path(folder)
    marker = read_marker(root) if root.is_dir() else None
    if marker is None:
        raise ReportError(
            f"report: {root} is not a folder ledgerlab wrote; give a run or sweep folder"
        )
    try:
        results = load(root)
    except ResultsError as exc:
        raise ReportError(f"report: {exc}") from None
    if marker.get("kind") == "sweep":
        return _sweep_report(root, results)
    return _run_report(root, results)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
figure{margin:1.5em 0}figure img{max-width:100%}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse}td{padding:.2em .8em;border-bottom:1px solid #eee}
"""


def _html(report: Report, images: list[bytes]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)} — ledgerlab report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    if report.question:
        parts.append(f"<p><strong>Question.</strong> {html.escape(report.question)}</p>")
    for heading, text in report.tables:
        parts.append(f"<h2>{html.escape(heading)}</h2><pre>{html.escape(text)}</pre>")
    if report.figures:
        parts.append("<h2>Figures</h2>")
    for (caption, _), png in zip(report.figures, images, strict=True):
        data = base64.b64encode(png).decode()
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in report.provenance.items()
    )
    parts.append(f"<h2>Provenance</h2><table>{rows}</table>")
    parts.append(
        "<details><summary>Resolved scenario</summary>"
        f"<pre>{html.escape(report.scenario_yaml)}</pre></details></body></html>"
    )
    return "\n".join(parts)


def _markdown(report: Report, names: list[str]) -> str:
    lines = [f"# {report.title}", ""]
    if report.question:
        lines += [f"**Question.** {report.question}", ""]
    for heading, text in report.tables:
        lines += [f"## {heading}", "", "```text", text, "```", ""]
    if report.figures:
        lines += ["## Figures", ""]
    for (caption, _), name in zip(report.figures, names, strict=True):
        lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    lines += ["## Provenance", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report.provenance.items()]
    lines += ["", "<details><summary>Resolved scenario</summary>", "", "```yaml"]
    lines += [report.scenario_yaml.rstrip(), "```", "", "</details>", ""]
    return "\n".join(lines)


def write_report(folder: str | Path, *, out: str | Path | None = None) -> Path:
    """Write ``report.html`` and ``report.md`` (and the figures as PNG) for the run or
    sweep ``folder``, into ``out`` (default ``folder/report``), all or nothing. Returns the
    report folder."""
    from ledgerlab.sim.output import atomic_dir, register_entries

    root = Path(folder)
    report = build_report(root)
    target = Path(out) if out is not None else root / "report"
    images = [_png(fig) for _, fig in report.figures]
    names = [f"figure_{i + 1:02d}.png" for i in range(len(images))]
    with atomic_dir(target, kind="report") as tmp:
        for name, png in zip(names, images, strict=True):
            (tmp / name).write_bytes(png)
        (tmp / "report.html").write_text(_html(report, images), encoding="utf-8")
        (tmp / "report.md").write_text(_markdown(report, names), encoding="utf-8")
    if out is None:
        register_entries(root, ["report"])
    return target
