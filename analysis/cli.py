"""The ``ledgerlab`` command line (console script ``ledgerlab = "analysis.cli:main"``).

Commands are functions registered on the typer app :data:`app`, one per sub-command
(``ledgerlab tokenomics``; ``run``, ``validate``, ``scenarios`` and ``sweep`` are added
by later work the same way: ``@app.command("name")`` plus a docstring, with the heavy
imports inside the function so ``ledgerlab --help`` stays fast).

Errors are reported on one line, never as a traceback:

* usage errors (unknown flag, bad option value such as ``--months 0`` or an unknown
  preset) print ``error: <command>: <problem>`` on stderr and exit with status 2;
* user errors raised by ledgerlab itself — any ``ValueError`` subclass defined in one of
  the project packages (``EmissionError``, ``VestingError``, ``TokenomicsError``, ...) —
  print ``error: <message>`` on stderr and exit with status 1.

Both are handled in :class:`LedgerlabGroup.main`, so they apply to the console script and
to ``typer.testing.CliRunner`` alike. Genuine bugs (any other exception) still raise.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from economics.vesting import PRESETS

__all__ = ["PROJECT_PACKAGES", "LedgerlabGroup", "app", "is_user_error", "main"]

PROJECT_PACKAGES = frozenset({"economics", "agents", "sim", "scenarios", "analysis"})
"""Top-level packages whose ``ValueError`` subclasses are user errors (no traceback)."""

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
        and cls.__module__.split(".")[0] in PROJECT_PACKAGES
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
    from analysis import tokenomics as tk

    frame = tk.project(preset=preset.value, months=months)
    typer.echo(
        f"{preset.value}: {frame['total_supply_tokens'].iloc[0] / 1e6:,.0f}M tokens, "
        f"{months} months (M = millions of tokens; month 0 = launch month incl. TGE)"
    )
    typer.echo(tk.format_table(frame))
    written = tk.write(frame, out)
    files = ", ".join(str(written / name) for name in tk.OUTPUT_FILES)
    typer.echo(f"wrote {files}")


def main() -> None:
    """Console-script entry point: run :data:`app` on ``sys.argv``."""
    app(prog_name="ledgerlab")


if __name__ == "__main__":  # pragma: no cover
    main()
