"""The ``ledgerlab`` command line (console script ``ledgerlab = "ledgerlab.analysis.cli:main"``).

Commands are functions registered on the typer app :data:`app`, one per sub-command
(``ledgerlab tokenomics``, ``run``, ``validate`` and ``scenarios``; ``sweep`` is added by
later work the same way: ``@app.command("name")`` plus a docstring, with the heavy
imports inside the function so ``ledgerlab --help`` stays fast).

Errors are reported on one line, never as a traceback:

* usage errors (unknown flag, bad option value such as ``--months 0`` or an unknown
  preset) print ``error: <command>: <problem>`` on stderr and exit with status 2;
* user errors raised by ledgerlab itself — any ``ValueError`` subclass defined in one of
  the project packages (``EmissionError``, ``VestingError``, ``TokenomicsError``, ...) —
  print ``error: <message>`` on stderr and exit with status 1. A ``ScenarioError`` from
  ``run``/``validate`` prints one ``error: file:line:column: field: message`` line per
  problem (same status), and nothing is run or written.

Both are handled in :class:`LedgerlabGroup.main`, so they apply to the console script and
to ``typer.testing.CliRunner`` alike. Genuine bugs (any other exception) still raise.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ledgerlab.economics.vesting import PRESETS

__all__ = ["PROJECT_PACKAGE", "LedgerlabGroup", "app", "is_user_error", "main"]

PROJECT_PACKAGE = "ledgerlab"
"""The package whose ``ValueError`` subclasses are user errors (no traceback)."""

USAGE_EXIT = 2
"""Exit status for command-line usage errors (bad flag or option value)."""

USER_ERROR_EXIT = 1
"""Exit status for ledgerlab user errors raised while a command runs."""


def is_user_error(exc: BaseException) -> bool:
    """True for a ``ValueError`` subclass defined in a ledgerlab package.

    Plain ``ValueError`` (and those of numpy, pandas, ...) are not user errors: they point
    at a bug and keep their traceback.
    """
    cls = type(exc)
    return (
        isinstance(exc, ValueError)
        and cls is not ValueError
        and cls.__module__.split(".")[0] == PROJECT_PACKAGE
    )


def _fail(message: str, status: int) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with ``status``."""
    one_line = " ".join(str(message).split())
    typer.echo(f"error: {one_line}", err=True)
    sys.exit(status)


class LedgerlabGroup(TyperGroup):
    """Typer's command group with ledgerlab's error reporting (see the module docstring)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode turn errors into one-line messages."""
        if not standalone_mode:
            return super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.TyperException as exc:
            # Usage errors (bad flag, bad value, unknown command) carry exit code 2 and
            # the context of the command they concern.
            ctx = getattr(exc, "ctx", None)
            status = int(getattr(exc, "exit_code", USER_ERROR_EXIT))
            if ctx is not None:
                where = ctx.command_path
                _fail(f"{where}: {exc.format_message()} (see '{where} --help')", status)
            _fail(exc.format_message(), status)
        except typer.Abort:
            _fail("aborted", USER_ERROR_EXIT)
        except ValueError as exc:
            if not is_user_error(exc):
                raise
            _fail(str(exc), USER_ERROR_EXIT)
        # In non-standalone mode click returns the exit code of ctx.exit()/--help, or the
        # command's return value (None for our commands).
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="ledgerlab",
    cls=LedgerlabGroup,
    help=(
        "ledgerlab: agent-based simulator of AI data-attribution economies "
        "(attribution fairness, poisoning resilience, token inflation)."
    ),
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    """ledgerlab: simulate AI data-attribution economies before a launch."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


# --------------------------------------------------------------------------------------
# ledgerlab tokenomics
# --------------------------------------------------------------------------------------

Preset = enum.Enum("Preset", {name: name for name in sorted(PRESETS)}, type=str)  # type: ignore[misc]
"""Allocation presets offered by ``--preset`` (the keys of economics.vesting.PRESETS)."""


@app.command("tokenomics")
def tokenomics(
    preset: Annotated[
        Preset,
        typer.Option(help="Allocation preset (token supply, buckets, vesting)."),
    ] = Preset.openledger,
    months: Annotated[
        int,
        typer.Option(min=1, max=1200, help="Months to project (1-1200)."),
    ] = 60,
    out: Annotated[
        Path,
        typer.Option(
            file_okay=False,
            dir_okay=True,
            help="Output folder for tokenomics.csv, .parquet and .png (replaced atomically).",
        ),
    ] = Path("results/tokenomics"),
) -> None:
    """Project circulating supply, vesting unlocks, emission and inflation month by month.

    Prints the monthly table and writes tokenomics.csv, tokenomics.parquet and a
    tokenomics.png chart into --out.
    """
    from ledgerlab.analysis import tokenomics as tk

    frame = tk.project(preset=preset.value, months=months)
    typer.echo(
        f"{preset.value}: {frame['total_supply_tokens'].iloc[0] / 1e6:,.0f}M tokens, "
        f"{months} months (M = millions of tokens; month 0 = launch month incl. TGE)"
    )
    typer.echo(tk.format_table(frame))
    written = tk.write(frame, out)
    files = ", ".join(str(written / name) for name in tk.OUTPUT_FILES)
    typer.echo(f"wrote {files}")


# --------------------------------------------------------------------------------------
# ledgerlab run / validate / scenarios
# --------------------------------------------------------------------------------------

if TYPE_CHECKING:
    from ledgerlab.scenarios import Scenario, ScenarioError


def _fail_scenario(error: ScenarioError) -> NoReturn:
    """Print every problem of a scenario error as its own ``error: file:line:col: ...`` line
    on stderr and exit with status 1 (no traceback)."""
    for problem in error.problems or [error]:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(USER_ERROR_EXIT)


def _load_file(file: Path, variant: str | None) -> Scenario:
    """A scenario file, or one variant of a variant file (``--variant NAME``)."""
    from ledgerlab.scenarios import Problem, ScenarioError, load
    from ledgerlab.scenarios.variants import is_variant_file, load_variants

    if not is_variant_file(file):
        if variant is not None:
            raise ScenarioError(
                [
                    Problem(
                        str(file),
                        None,
                        None,
                        "",
                        "--variant needs a variant file (a file with 'base:' and 'variants:')",
                    )
                ]
            )
        return load(file)
    vs = load_variants(file)
    if variant is None:
        raise ScenarioError(
            [
                Problem(
                    str(file),
                    None,
                    None,
                    "variants",
                    "this is a variant file: choose one "
                    f"with --variant ({', '.join(vs.variants)}), or run them all with "
                    "`ledgerlab compare`",
                )
            ]
        )
    if variant not in vs.variants:
        raise ScenarioError(
            [
                Problem(
                    str(file),
                    None,
                    None,
                    "variants",
                    f"no variant '{variant}'; choose one of {', '.join(vs.variants)}",
                )
            ]
        )
    return vs.variants[variant]


def _resolve_scenario(
    file: Path,
    sets: Sequence[str],
    epochs: int | None,
    seed: int | None,
    variant: str | None = None,
) -> Scenario:
    """Load and validate ``file`` (a variant of it with ``variant``), then apply ``--set``
    overrides, then ``--epochs`` and ``--seed`` (which win over a ``--set`` of the same
    field).

    Raises ``ScenarioError`` naming the file and line, or the option, of every problem.
    """
    from ledgerlab.scenarios import ScenarioError, apply_overrides, parse_set_option

    scenario = _load_file(file, variant)
    problems = []
    overrides: dict[str, Any] = {}
    for option in sets:
        try:
            path, value = parse_set_option(option)
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        overrides[path] = value
    if problems:
        raise ScenarioError(problems)
    scenario = apply_overrides(scenario, overrides, source="--set")
    if epochs is not None:
        scenario = apply_overrides(scenario, {"epochs": epochs}, source="--epochs")
    if seed is not None:
        scenario = apply_overrides(scenario, {"seed": seed}, source="--seed")
    return scenario


def _describe(scenario: Scenario) -> str:
    """``name, N epochs, engine E, defences D`` for one-line reports."""
    defences = ", ".join(d.kind for d in scenario.defenses) or "none"
    return (
        f"{scenario.name}, {scenario.epochs} epochs, engine {scenario.attribution.engine}, "
        f"defences {defences}"
    )


@app.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file (see `ledgerlab scenarios`).")],
    out: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            dir_okay=True,
            help="Run folder to write, replaced atomically (default: results/<scenario name>).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Override the scenario's master seed (integer).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Override the scenario's horizon (epochs, >= 1).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help=(
                "Override one field, e.g. --set population.providers=50 "
                "(repeatable; VALUE is read as YAML)."
            ),
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Check every ledger invariant at every epoch (slower)."),
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar over epochs.")
    ] = True,
    variant: Annotated[
        str | None,
        typer.Option(help="Variant to run, when FILE is a variant file (base + variants)."),
    ] = None,
) -> None:
    """Simulate a scenario and write its run folder.

    Writes timeseries.parquet, agents.parquet, summary.json,
    scenario.resolved.yaml and dashboard.png into the run folder, all or
    nothing (a failed run leaves no folder), then prints the headline KPIs.

    An invalid scenario or override is reported with its file:line:column;
    nothing is then run or written.
    """
    from ledgerlab.scenarios import ScenarioError

    try:
        scenario = _resolve_scenario(file, set_ or [], epochs, seed, variant)
    except ScenarioError as error:
        _fail_scenario(error)

    from ledgerlab.analysis.dashboard import plot_dashboard
    from ledgerlab.analysis.results import kpi_table
    from ledgerlab.sim.output import write_run
    from ledgerlab.sim.run import run as simulate

    target = out if out is not None else Path("results") / scenario.name
    typer.echo(f"running {file} ({_describe(scenario)}, seed {scenario.seed})", err=True)
    result = simulate(scenario, progress=progress, check=check)

    def dashboard(path: Path) -> None:
        plot_dashboard(result.timeseries, path)

    written = write_run(result, target, extra={"dashboard.png": dashboard})
    typer.echo(kpi_table(result.summary))
    typer.echo(f"wrote {written}")


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file to check.")],
) -> None:
    """Check a scenario file without running it.

    Prints ``ok: FILE (name, epochs, engine, defences)``, or every problem as
    ``file:line:column: field.path: message`` and exits with status 1.
    """
    from ledgerlab.scenarios import ScenarioError, load
    from ledgerlab.scenarios.variants import is_variant_file, load_variants

    try:
        if is_variant_file(file):
            vs = load_variants(file)
            typer.echo(f"ok: {file} (base {vs.base.name}; variants {', '.join(vs.variants)})")
            return
        scenario = load(file)
    except ScenarioError as error:
        _fail_scenario(error)
    typer.echo(f"ok: {file} ({_describe(scenario)})")


@app.command("compare")
def compare_command(
    file: Annotated[Path, typer.Argument(help="Variant file (base + variants).")],
    out: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Folder for every variant's run and comparison.csv (default: "
            "results/<base name>_comparison).",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Override every variant's horizon (epochs, >= 1).")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar per variant.")
    ] = True,
) -> None:
    """Run every variant of a variant file with the same seed and tabulate each
    mechanism's benefit (adversary capture, accuracy) and cost (honest points refused,
    honest individuals slashed, rewards withheld, extra transactions)."""
    from ledgerlab.scenarios import ScenarioError, apply_overrides
    from ledgerlab.scenarios.variants import load_variants

    try:
        vs = load_variants(file)
        if epochs is not None:
            vs.variants.update(
                {
                    name: apply_overrides(sc, {"epochs": epochs}, source="--epochs")
                    for name, sc in vs.variants.items()
                }
            )
    except ScenarioError as error:
        _fail_scenario(error)
    from ledgerlab.analysis.compare import COLUMNS, compare, format_table

    target = out if out is not None else Path("results") / f"{vs.base.name}_comparison"
    table = compare(vs, out=target, progress=progress)
    typer.echo(format_table(table))
    typer.echo("")
    for col, meaning in COLUMNS.items():
        typer.echo(f"  {col}: {meaning}")
    typer.echo(f"wrote {target}")


def _leading_comment(text: str) -> str:
    """The first comment block of a YAML text (its leading ``#`` lines, blank lines before
    it skipped) joined into one line, without a leading ``Question:`` label."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            lines.append(line.lstrip("#").strip())
        elif line or lines:
            break
    joined = " ".join(part for part in lines if part)
    if joined.lower().startswith("question:"):
        joined = joined[len("question:") :].lstrip()
    return joined


@app.command("scenarios")
def scenarios_command() -> None:
    """List the scenarios shipped with ledgerlab and the question each one answers.

    Run one with ``ledgerlab run <path>``; the paths printed are where the installed
    package keeps them (copy one to start your own).
    """
    from importlib.resources import as_file, files

    package = files("ledgerlab.scenarios")
    entries = sorted(
        (item for item in package.iterdir() if item.name.endswith((".yaml", ".yml"))),
        key=lambda item: item.name,
    )
    if not entries:
        typer.echo("no scenarios shipped (the scenarios package holds no .yaml files)")
        return
    width = max(len(item.name) for item in entries)
    for item in entries:
        question = _leading_comment(item.read_text(encoding="utf-8")) or "(no question comment)"
        typer.echo(f"{item.name:<{width}}  {question}")
    with as_file(package) as folder:
        typer.echo(f"\n(in {folder}; run one with: ledgerlab run {folder / entries[0].name})")


def main() -> None:
    """Console-script entry point: run :data:`app` on ``sys.argv``."""
    app(prog_name="ledgerlab")


if __name__ == "__main__":  # pragma: no cover
    main()
