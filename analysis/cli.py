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

import contextlib
import enum
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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

INTERRUPTED_EXIT = 128 + signal.SIGINT
"""Exit status after Ctrl-C (SIGTERM exits with 128 + 15)."""


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


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt (a command can tell them apart)."""


@dataclass
class _Signals:
    """Which signal interrupted a command (typer reports any interrupt as exit code 130)."""

    terminated: bool = False


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[_Signals]:
    """While a command runs (in the main thread), SIGTERM is handled like SIGINT: it raises
    KeyboardInterrupt, so every ``finally`` and partial-folder cleanup runs."""
    seen = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def on_sigterm(signum: int, frame: Any) -> NoReturn:
        seen.terminated = True
        raise _Interrupted

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


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
            with _sigterm_as_interrupt() as seen:
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
        # command's return value (None for our commands); typer returns 130 for an interrupt.
        if rv == INTERRUPTED_EXIT:
            if seen.terminated:
                _fail("terminated (SIGTERM); no partial output was left", 128 + signal.SIGTERM)
            _fail("interrupted; no partial output was left", INTERRUPTED_EXIT)
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


def _version(value: bool) -> None:
    if value:
        from ledgerlab import __version__

        typer.echo(f"ledgerlab {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
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
    ctx: typer.Context,
    scenario_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="SCENARIO",
            help="Project this scenario's own allocation (its tokenomics: vesting buckets, "
            "supply, emission): a shipped name or a YAML file. Without it: --preset.",
            show_default=False,
        ),
    ] = None,
    preset: Annotated[
        Preset,
        typer.Option(help="Allocation preset (token supply, buckets, vesting)."),
    ] = Preset.openledger,
    months: Annotated[
        int,
        typer.Option(min=1, max=1200, help="Months to project (1-1200)."),
    ] = 60,
    burn_tokens_per_month: Annotated[
        float,
        typer.Option(
            "--burn-tokens-per-month",
            min=0,
            max=1e15,
            help="Tokens burned each month, taken from the market float (default 0: burns "
            "follow usage, which a projection without agents does not have).",
        ),
    ] = 0.0,
    out: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            dir_okay=True,
            help="Output folder for tokenomics.csv, .parquet, .png and tokenomics_columns.csv "
            "(replaced atomically; default: results/tokenomics, or "
            "results/tokenomics-<scenario name> for a SCENARIO).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Project supply month by month: unlocks by allocation, emission, tracker
    circulating supply, market float and their annualised inflation.

    Projects --preset (default openledger) or, given SCENARIO, that
    scenario's own allocation (vesting buckets, supply, emission). Prints
    the monthly table and writes tokenomics.csv (every column defined in
    tokenomics_columns.csv), tokenomics.parquet and tokenomics.png into
    --out. Burns follow usage, which a projection has not: none unless
    --burn-tokens-per-month is given.
    """
    from ledgerlab.analysis import tokenomics as tk
    from ledgerlab.scenarios import ScenarioError

    if scenario_ref is not None:
        source = ctx.get_parameter_source("preset")
        if getattr(source, "name", None) not in (None, "DEFAULT"):
            raise typer.BadParameter(
                f"give a SCENARIO ({scenario_ref}) or --preset, not both",
                ctx=ctx,
                param_hint="'--preset'",
            )
        from ledgerlab.scenarios.library import load_scenario

        try:
            scenario = load_scenario(scenario_ref)
        except ScenarioError as error:
            _fail_scenario(error)
        frame = tk.project_scenario(
            scenario, months=months, burn_tokens_per_month=burn_tokens_per_month
        )
        target = out if out is not None else Path("results") / f"tokenomics-{scenario.name}"
    else:
        frame = tk.project(
            preset=preset.value, months=months, burn_tokens_per_month=burn_tokens_per_month
        )
        target = out if out is not None else Path("results/tokenomics")
    typer.echo(tk.describe(frame))
    typer.echo(tk.format_table(frame))
    written = tk.write(frame, target)
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


def _problem(file: str, path: str, message: str) -> ScenarioError:
    from ledgerlab.scenarios import Problem, ScenarioError

    return ScenarioError([Problem(file, None, None, path, message)])


def _load_file(ref: str, variant: str | None) -> Scenario:
    """A scenario file or shipped name, or one variant of a sweep file (``--variant``)."""
    from ledgerlab.scenarios import Scenario
    from ledgerlab.scenarios.library import load_scenario_or_sweep

    loaded = load_scenario_or_sweep(ref)
    if isinstance(loaded, Scenario):
        if variant is not None:
            raise _problem(ref, "", "--variant needs a sweep file (a file with 'base:')")
        return loaded
    names = ", ".join(loaded.variants)
    if len(loaded.points) > 1:
        raise _problem(
            ref,
            "base",
            f"this sweep file runs {loaded.outline()}; run it with `ledgerlab sweep {ref}`",
        )
    if variant is None:
        raise _problem(
            ref,
            "variants",
            f"this is a sweep file: choose one variant with --variant ({names}), or run them "
            f"all with `ledgerlab compare {ref}`",
        )
    if variant not in loaded.variants:
        raise _problem(ref, "variants", f"no variant '{variant}'; choose one of {names}")
    return loaded.variant_scenarios()[variant]


def _resolve_scenario(
    ref: str,
    sets: Sequence[str],
    epochs: int | None,
    seed: int | None,
    variant: str | None = None,
) -> Scenario:
    """Load and validate ``ref`` (a variant of it with ``variant``), then apply ``--set``
    overrides, then ``--epochs`` and ``--seed`` (which win over a ``--set`` of the same
    field).

    Raises ``ScenarioError`` naming the file and line, or the option, of every problem.
    """
    from ledgerlab.scenarios import ScenarioError, parse_set_option
    from ledgerlab.sim.resolve import resolve_scenario

    overrides: dict[str, Any] = {}
    for option in sets:
        try:
            path, value = parse_set_option(option)
        except ScenarioError as error:
            raise typer.BadParameter(
                "; ".join(p.message for p in error.problems), param_hint="'--set'"
            ) from None
        overrides[path] = value
    return resolve_scenario(
        _load_file(ref, variant),
        overrides,
        epochs=epochs,
        seed=seed,
        sources={"overrides": "--set", "epochs": "--epochs", "seed": "--seed"},
    )


def _describe(scenario: Scenario) -> str:
    """``name, N epochs, engine E, defences D`` for one-line reports."""
    defences = ", ".join(d.kind for d in scenario.defenses) or "none"
    return (
        f"{scenario.name}, {scenario.epochs} epochs, engine {scenario.attribution.engine}, "
        f"defences {defences}"
    )


def default_run_folder(scenario: Scenario) -> Path:
    """``results/<name>-<hash>``: a folder unique to the resolved scenario, so runs that
    differ by any field (a ``--set``, the seed, the horizon) never overwrite each other."""
    from ledgerlab.scenarios import to_yaml
    from ledgerlab.sim.output import unique_name

    return Path("results") / unique_name(scenario.name, to_yaml(scenario))


def _say(quiet: bool, message: str) -> None:
    """An informational line on stderr, unless ``--quiet``."""
    if not quiet:
        typer.echo(message, err=True)


SCENARIO_HELP = "Scenario: a shipped name (see `ledgerlab scenarios`) or a YAML file."
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print nothing but errors and, on stdout, the folder written (for scripts).",
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the summary as JSON on stdout and nothing else there."),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar on stderr (default: only when stderr is a terminal).",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an earlier run folder that also holds your own files; only "
        "ledgerlab's files are replaced, yours are kept.",
    ),
]
EpochsOption = Annotated[
    int | None, typer.Option(min=1, max=100_000, help="Override the horizon (epochs, 1-100000).")
]


@app.command("run")
def run_command(
    scenario_ref: Annotated[str, typer.Argument(metavar="SCENARIO", help=SCENARIO_HELP)],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run folder to write: a new folder, or an earlier ledgerlab run folder "
            "(default: results/<scenario name>-<hash of the resolved scenario>).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        list[int] | None,
        typer.Option(
            "--seed",
            min=0,
            max=2**63 - 1,
            help="Override the master seed (integer >= 0). For several seeds, run "
            "replicates: ledgerlab sweep SCENARIO --replicates N.",
        ),
    ] = None,
    epochs: EpochsOption = None,
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
    progress: ProgressOption = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Variant to run, when SCENARIO is a variant file (base + variants)."),
    ] = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Simulate a scenario and write its run folder.

    Writes timeseries.parquet, agents.parquet, summary.json,
    scenario.resolved.yaml and dashboard.png into the run folder, all or
    nothing (a failed or interrupted run leaves no folder), then prints the
    headline KPIs. An existing folder that ledgerlab did not write is never
    touched.

    An invalid scenario or override is reported with its file:line:column;
    nothing is then run or written.
    """
    from ledgerlab.scenarios import ScenarioError

    if seeds and len(seeds) > 1:
        raise typer.BadParameter(
            f"given {len(seeds)} times; a run has one seed. For several seeds run replicates "
            f"(paired, with intervals): ledgerlab sweep {scenario_ref} --replicates "
            f"{len(seeds)}",
            param_hint="'--seed'",
        )
    seed = seeds[0] if seeds else None
    try:
        scenario = _resolve_scenario(scenario_ref, set_ or [], epochs, seed, variant)
    except ScenarioError as error:
        _fail_scenario(error)

    from ledgerlab.sim.output import check_target, clean_json, write_run
    from ledgerlab.sim.run import run as simulate

    target = out if out is not None else default_run_folder(scenario)
    state = check_target(target, force=force)  # refuse before a long run, not after
    quiet = quiet or as_json
    _say(quiet, f"running {scenario_ref} ({_describe(scenario)}, seed {scenario.seed})")
    show = progress if progress is not None else (not quiet and sys.stderr.isatty())
    result = simulate(scenario, progress=show, check=check)

    def dashboard(path: Path) -> None:
        from ledgerlab.analysis.dashboard import plot_dashboard

        plot_dashboard(result, path)

    written = write_run(
        result, target, extra={"dashboard.png": dashboard}, force=force, state=state
    )
    if as_json:
        typer.echo(json.dumps(clean_json({**result.summary, "run_folder": str(written)})))
    elif quiet:
        typer.echo(str(written))
    else:
        from ledgerlab.analysis.results import kpi_table

        typer.echo(kpi_table(result.summary))
        typer.echo(f"wrote {written}")


@app.command("validate")
def validate_command(
    scenario_ref: Annotated[str, typer.Argument(metavar="SCENARIO", help=SCENARIO_HELP)],
) -> None:
    """Check a scenario or sweep file without running it.

    Prints ``ok: FILE (name, epochs, engine, defences)`` (for a sweep: how many
    runs it expands to, every one validated), or every problem as
    ``file:line:column: field.path: message`` and exits with status 1.
    The file is read once, so a pipe works (``ledgerlab validate /dev/stdin``).
    """
    from ledgerlab.scenarios import Scenario, ScenarioError
    from ledgerlab.scenarios.library import load_scenario_or_sweep

    try:
        loaded = load_scenario_or_sweep(scenario_ref)
    except ScenarioError as error:
        _fail_scenario(error)
    if isinstance(loaded, Scenario):
        typer.echo(f"ok: {scenario_ref} ({_describe(loaded)})")
        return
    typer.echo(
        f"ok: {scenario_ref} (sweep over {loaded.base.name}: {loaded.outline()}; variants "
        f"{', '.join(loaded.variants)})"
    )


# --------------------------------------------------------------------------------------
# ledgerlab sweep / compare
# --------------------------------------------------------------------------------------

WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        max=4096,
        help="Local worker processes (1 = in this process; default: every core this "
        "process may use). With --dask: the LocalCluster's workers.",
        show_default=False,
    ),
]
DaskOption = Annotated[
    bool,
    typer.Option(
        "--dask",
        help="Run on an embedded Dask LocalCluster (needs the optional 'cluster' extra).",
    ),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="ADDRESS",
        envvar="DASK_SCHEDULER_ADDRESS",
        show_envvar=True,
        help="Run on an existing Dask scheduler, e.g. tcp://host:8786 (the workers need "
        "this ledgerlab version; no shared file system is needed).",
        show_default=False,
    ),
]
ResumeOption = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the sweep folder of an earlier, interrupted run of the same sweep: "
        "finished runs are kept, the others (failed ones included) run.",
    ),
]
SweepOutOption = Annotated[
    Path | None,
    typer.Option(
        help="Sweep folder: a new folder, an earlier ledgerlab folder (replaced), or with "
        "--resume the folder of an earlier run of this sweep (default: results/<sweep "
        "name>-<digest of what it runs>).",
        show_default=False,
    ),
]


def _backend_choice(
    ctx: typer.Context, workers: int | None, dask: bool, cluster: str | None
) -> dict[str, Any]:
    """Where the runs go: ``--workers`` / ``--dask`` / ``--cluster`` (an explicit local
    choice wins over ``DASK_SCHEDULER_ADDRESS`` from the environment)."""
    if cluster is not None and (workers is not None or dask):
        source = ctx.get_parameter_source("cluster")
        if getattr(source, "name", None) == "ENVIRONMENT":
            cluster = None
    if cluster and dask:
        raise typer.BadParameter(
            "--dask (a local cluster) and --cluster ADDRESS are alternatives; choose one",
            ctx=ctx,
            param_hint="'--cluster'",
        )
    if cluster and workers is not None:
        raise typer.BadParameter(
            "--workers sizes a local pool or --dask; a --cluster brings its own workers",
            ctx=ctx,
            param_hint="'--workers'",
        )
    return {"workers": workers, "dask": dask, "cluster": cluster or None}


@contextlib.contextmanager
def _keep_on_interrupt(command: str, file: str, target: Path) -> Iterator[None]:
    """Ctrl-C / SIGTERM during a sweep: say what was kept and how to continue; exit 130/143."""
    try:
        yield
    except KeyboardInterrupt as exc:
        runs = target / "runs"
        kept = sum(1 for p in runs.iterdir() if not p.name.startswith(".")) if runs.is_dir() else 0
        what = "terminated (SIGTERM)" if isinstance(exc, _Interrupted) else "interrupted"
        typer.echo(
            f"error: {what}; {kept:,} finished runs are kept in {target} (no run was left "
            f"half-written); continue with: ledgerlab {command} {file} --out {target} --resume",
            err=True,
        )
        number = signal.SIGTERM if isinstance(exc, _Interrupted) else signal.SIGINT
        raise typer.Exit(128 + number) from None


def _preview(sweep: Any, rows: int = 10) -> str:
    """The first runs of a sweep as a table: id, variant, point, replicate, seed, values."""
    import itertools

    import pandas as pd

    first = list(itertools.islice(sweep.specs(), rows))
    frame = pd.DataFrame(
        [
            {
                "run_id": s.run_id,
                "variant": s.variant,
                "point": s.point,
                "replicate": s.replicate,
                "seed": s.seed,
                **{
                    k: (v if not isinstance(v, dict | list) else json.dumps(v))
                    for k, v in s.params.items()
                },
            }
            for s in first
        ]
    )
    return frame.to_string(index=False, float_format=lambda v: f"{v:.6g}")


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="Sweep file (base: plus grid/zip/sample/variants/replicates/seed), a "
            "shipped sweep's name, or a scenario (one run per replicate).",
        ),
    ],
    out: SweepOutOption = None,
    workers: WorkersOption = None,
    dask: DaskOption = False,
    cluster: ClusterOption = None,
    resume: ResumeOption = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the run count and the first runs; run nothing."),
    ] = False,
    replicates: Annotated[
        int | None,
        typer.Option(
            min=1, max=100_000, help="Seeds per point, instead of the file's replicates:."
        ),
    ] = None,
    epochs: EpochsOption = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Run every run of a sweep file and write one sweep folder.

    Each run writes its own folder (OUT/runs/<run_id>) all or nothing; a failing
    run is recorded in OUT/manifest.json with its traceback and the sweep goes
    on. At the end OUT/timeseries/ and OUT/summary.parquet hold every run, with
    run_id, variant, point, replicate, seed and each swept parameter as
    columns: load them with ledgerlab.load(OUT).

    Exit status: 0 when every run finished, else the number of failed runs (at
    most 100); 130/143 when interrupted (finished runs are kept: --resume).
    """
    from ledgerlab.scenarios import ScenarioError
    from ledgerlab.scenarios.sweep import load_sweep

    choice = _backend_choice(ctx, workers, dask, cluster)
    try:
        sweep = load_sweep(file)
        if replicates is not None:
            sweep = sweep.with_replicates(replicates)
        if epochs is not None:
            sweep = sweep.with_overrides({"epochs": epochs}, source="--epochs")
    except ScenarioError as error:
        _fail_scenario(error)
    from ledgerlab.sim.sweep import default_folder, run_sweep

    target = out if out is not None else default_folder(sweep)
    if dry_run:
        typer.echo(f"{file}: {sweep.outline()}")
        typer.echo(_preview(sweep))
        if sweep.n_runs > 10:
            typer.echo(f"... and {sweep.n_runs - 10:,} more runs")
        typer.echo(f"would write {target}")
        return
    _say(False, f"sweep {file}: {sweep.outline()} -> {target}")
    show = progress if progress is not None else sys.stderr.isatty()
    with _keep_on_interrupt("sweep", file, target):
        report = run_sweep(sweep, target, progress=show, resume=resume, force=force, **choice)
    kept = f", {report.skipped:,} kept from before" if report.skipped else ""
    typer.echo(
        f"{report.total:,} runs: {report.ok:,} ok, {report.failed:,} failed{kept} "
        f"({report.seconds:,.1f} s, {report.backend})"
    )
    _report_failures(report, target)
    typer.echo(f"wrote {target}")
    if report.failed:
        raise typer.Exit(report.exit_status)


def _report_failures(report: Any, target: Path) -> None:
    """The first failed runs on stderr, and where every error is."""
    if not report.failed:
        return
    for run_id, error in report.failures[:5]:
        typer.echo(f"failed: {run_id}: {' '.join(str(error).split())}", err=True)
    more = report.failed - min(report.failed, 5)
    if more:
        typer.echo(f"failed: ... and {more:,} more", err=True)
    typer.echo(
        f"every error and traceback: {target / 'manifest.json'}; after a fix, --resume "
        "runs the failed runs again",
        err=True,
    )


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="Sweep or variant file with variants (or its shipped name), or a sweep "
            "folder already run (then it is only tabulated).",
        ),
    ],
    replicates: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100_000,
            help="Seeds per variant (default: the file's replicates:, else 10).",
            show_default=False,
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Variant the others are compared with (default: the file's reference:, "
            "else the variant named none).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="NAME",
            help="Summary KPI to compare (repeatable; default: excess_share, "
            "total_overpayment_usd, honest_provider_net_usd, accuracy_lost_to_attack, "
            "accuracy; `ledgerlab metrics` lists them all).",
            show_default=False,
        ),
    ] = None,
    out: SweepOutOption = None,
    workers: WorkersOption = None,
    dask: DaskOption = False,
    cluster: ClusterOption = None,
    resume: ResumeOption = False,
    epochs: EpochsOption = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Compare the variants of a sweep file over replicates, with intervals.

    Runs every variant on the same seeds (replicate r has one seed in every
    variant: common random numbers) through the sweep runner, then prints, per
    metric and variant, the mean, the paired difference from the reference
    variant and its 95 % bootstrap interval, and says when the interval
    contains 0 (no detectable difference). Writes comparison.csv,
    comparison.png and summary_by_variant.csv into the sweep folder.
    """
    from ledgerlab.analysis.compare import ComparisonError, compare, format_table, prepare_sweep
    from ledgerlab.scenarios import ScenarioError

    choice = _backend_choice(ctx, workers, dask, cluster)
    if Path(file).is_dir():
        table = compare(Path(file), reference=reference, metrics=metric)
        typer.echo(format_table(table))
        typer.echo(f"wrote {file} (comparison.csv, comparison.png, summary_by_variant.csv)")
        return
    try:
        sweep = prepare_sweep(file, replicates=replicates, epochs=epochs)
    except ScenarioError as error:
        _fail_scenario(error)
    from ledgerlab.sim.sweep import default_folder

    target = out if out is not None else default_folder(sweep)
    _say(False, f"compare {file}: {sweep.outline()} -> {target}")
    show = progress if progress is not None else sys.stderr.isatty()
    with _keep_on_interrupt("compare", file, target):
        try:
            table = compare(
                sweep,
                reference=reference,
                metrics=metric,
                out=target,
                resume=resume,
                force=force,
                progress=show,
                **choice,
            )
        except ComparisonError as error:
            if not target.is_dir():
                raise
            raise ComparisonError(
                f"{error} (the runs are kept in {target}: `ledgerlab compare {target}` "
                "tabulates them again without running)"
            ) from None
    typer.echo(format_table(table))
    report = table.attrs.get("report")
    if report is not None:
        _report_failures(report, target)
    typer.echo(f"wrote {target} (comparison.csv, comparison.png, summary_by_variant.csv)")
    if report is not None and report.failed:
        raise typer.Exit(report.exit_status)


@app.command("sensitivity")
def sensitivity_command(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="OUT",
            help="Sweep folder written by `ledgerlab sweep` from a sweep file whose sample: "
            "uses method: morris or method: saltelli.",
        ),
    ],
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            metavar="NAME",
            help="Summary metric to analyse, e.g. price_usd, "
            "circulating_inflation_annualised_mean, honest_provider_net_usd.",
        ),
    ],
    method: Annotated[
        str | None,
        typer.Option(
            metavar="morris|sobol",
            help="Analysis (default: the one the sweep's design supports: morris for "
            "method: morris, sobol for method: saltelli).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            dir_okay=True,
            help="Folder for sensitivity.csv and sensitivity.png (default: OUT/sensitivity; "
            "replaced atomically).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Morris screening or Sobol' indices of one metric over a sweep's sample
    design.

    Prints each parameter's indices with their 95 % bootstrap intervals,
    most important first (Morris: mu*, mu and sigma in the metric's units
    per full range of the parameter; Sobol': S1 and ST as shares of the
    metric's variance), and writes sensitivity.csv and the bar chart
    sensitivity.png. The metric is averaged over the replicates of each
    point; every point needs a finished run. Needs SALib, the optional
    extra 'sensitivity'.
    """
    from ledgerlab.analysis import sensitivity as sa

    if method is not None and method not in ("morris", "sobol", "saltelli"):
        raise typer.BadParameter(
            f"{method!r} is not one of 'morris', 'sobol'", param_hint="'--method'"
        )
    sa.require_salib()
    table = sa.analyse(folder, metric, method)
    target = out if out is not None else folder / sa.OUTPUT_DIR
    typer.echo(sa.format_table(table))
    written = sa.write(table, target, sweep_folder=folder)
    names = [n for n in (*sa.OUTPUT_FILES, "sensitivity_s2.csv") if (written / n).exists()]
    typer.echo(f"wrote {', '.join(str(written / n) for n in names)}")


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
def scenarios_command(
    copy: Annotated[
        str | None,
        typer.Option(
            "--copy", metavar="NAME", help="Copy the shipped scenario NAME into FOLDER to edit it."
        ),
    ] = None,
    folder: Annotated[
        Path, typer.Argument(help="Where --copy puts the file (default: here).")
    ] = Path("."),
) -> None:
    """List the scenarios shipped with ledgerlab and the question each one answers.

    Run one by name (``ledgerlab run baseline``); ``--copy NAME [FOLDER]`` copies
    one out to start your own (an existing file is never overwritten).
    """
    from ledgerlab.scenarios.library import copy_scenario, shipped

    if copy is not None:
        typer.echo(f"wrote {copy_scenario(copy, folder)}")
        return
    from ledgerlab.scenarios.sweep import is_sweep_file

    entries = shipped()
    width = max(len(name) for name in entries)
    sweeps = {name for name, path in entries.items() if is_sweep_file(path)}
    for name, path in entries.items():
        question = _leading_comment(path.read_text(encoding="utf-8")) or "(no question comment)"
        tag = "[sweep] " if name in sweeps else ""
        typer.echo(f"{name:<{width}}  {tag}{question}")
    plain = [name for name in entries if name not in sweeps]
    example = "baseline" if "baseline" in plain else plain[0]
    typer.echo(
        f"\nrun one by name: ledgerlab run {example}; a [sweep]: ledgerlab sweep NAME or "
        f"ledgerlab compare NAME; copy one to edit: ledgerlab scenarios --copy {example}"
    )


@app.command("report")
def report_command(
    folder: Annotated[
        Path, typer.Argument(help="A run folder or a sweep folder written by ledgerlab.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: FOLDER/report).", show_default=False),
    ] = None,
) -> None:
    """Write a self-contained HTML report (and a Markdown one) of a run or a sweep.

    The report states the question, the headline KPIs (a run) or the comparison with
    paired 95 % intervals (a sweep with variants), every figure that applies, and
    provenance (version, commit, seeds, parameters). report.html embeds its figures.
    """
    from ledgerlab.analysis.report import write_report

    written = write_report(folder, out=out)
    typer.echo(f"wrote {written / 'report.html'} and {written / 'report.md'}")


@app.command("schema")
def schema_command(
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the field reference (docs/scenarios.md) instead."),
    ] = False,
) -> None:
    """Print the scenario JSON Schema (for editor completion and validation).

    Point your editor's YAML language server at it, e.g. save it with
    ``ledgerlab schema > ledgerlab.schema.json``.
    """
    from ledgerlab.scenarios.reference import json_schema, markdown_reference

    if markdown:
        sys.stdout.write(markdown_reference())
    else:
        typer.echo(json.dumps(json_schema(), indent=2))


@app.command("metrics")
def metrics_command(
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the reference as Markdown (docs/metrics.md)."),
    ] = False,
) -> None:
    """List every KPI of a run: its column, kind and what it measures (units, when NaN)."""
    from ledgerlab.analysis.metrics_reference import markdown_metrics, plain_metrics

    sys.stdout.write(markdown_metrics() if markdown else plain_metrics())


# --------------------------------------------------------------------------------------
# ledgerlab explore
# --------------------------------------------------------------------------------------


@app.command("explore")
def explore_command(
    scenario_ref: Annotated[
        str, typer.Argument(metavar="SCENARIO", help=SCENARIO_HELP + " [default: baseline]")
    ] = "baseline",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Override one field before the page opens, e.g. --set population.providers=50 "
            "(repeatable; VALUE is read as YAML).",
        ),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Variant to explore, when SCENARIO is a variant file."),
    ] = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to serve on (0 = any free port).")
    ] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Open an interactive page for a scenario (Mesa SolaraViz) on localhost.

    Sliders for emission, the fee split, the attribution engine, each defence
    and the adversary counts (Reset applies them); Step and play run epochs
    while the plots of price, float, adversaries' reward share, accuracy and
    population update. Prints the page's URL; Ctrl-C stops the server.

    Needs the viz extra: pip install 'ledgerlab\\[viz]'.
    """
    from ledgerlab.analysis import explore
    from ledgerlab.scenarios import ScenarioError

    explore.require_viz()
    try:
        scenario = _resolve_scenario(scenario_ref, set_ or [], None, None, variant)
    except ScenarioError as error:
        _fail_scenario(error)

    def ready(url: str) -> None:
        typer.echo(f"ledgerlab explore: {scenario.name} at {url} (Ctrl-C stops it)")

    try:
        explore.serve(scenario, host, port, on_ready=ready)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, once the server has shut down
        pass
    typer.echo("ledgerlab explore: stopped", err=True)


def main() -> None:
    """Console-script entry point: run :data:`app` on ``sys.argv``."""
    app(prog_name="ledgerlab")


if __name__ == "__main__":  # pragma: no cover
    main()
