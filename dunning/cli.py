"""The ``dunning`` command line.

Commands
--------
``dunning demo [--out PATH] [--customers N] [--as-of YYYY-MM-DD] [--seed N]``
    Generate the demo portfolio, run the whole pipeline, print a summary.

Exit codes: 0 success; 2 usage or data error (one line on stderr, no traceback).
Progress goes to stderr through the standard :mod:`logging` module (``dunning.progress``
at INFO); ``--quiet`` shows warnings only.

Examples
--------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["demo", "--as-of", "23.11.2026"])
>>> result.exit_code
2
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from dunning.errors import DunningError
from dunning.levels import LEVEL_NAMES, MAX_AUTOMATIC_LEVEL

__all__ = ["app", "main"]

app = typer.Typer(
    name="dunning",
    help="Explainable dunning: decide, explain, write and record what happens to overdue invoices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Explainable dunning: decide, explain, write and record overdue-invoice letters."""


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        msg = f"--as-of must be a date as YYYY-MM-DD, e.g. 2026-11-23. Got {value!r}."
        raise typer.BadParameter(msg) from exc


def _configure_logging(quiet: bool, console: Console) -> None:
    handler = RichHandler(console=console, show_path=False, show_level=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("dunning")
    root.handlers = [h for h in root.handlers if not isinstance(h, RichHandler)]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("dunning.progress").setLevel(logging.WARNING if quiet else logging.INFO)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (letters/, reports/, CSV, SQLite).")
    ] = Path("out"),
    customers: Annotated[
        int, typer.Option("--customers", min=1, help="Customers in the demo portfolio.")
    ] = 2000,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Run date, YYYY-MM-DD.", metavar="YYYY-MM-DD")
    ] = "2026-11-23",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo portfolio.")] = 7,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Generate a demo portfolio and run the whole dunning pipeline on it.

    Example: dunning demo --out out --customers 2000 --as-of 2026-11-23
    """
    run_date = _parse_date(as_of)
    console = Console()
    err = Console(stderr=True)
    _configure_logging(quiet, err)

    # Imported here so that `dunning --help` stays fast.
    from dunning.datasets import make_portfolio
    from dunning.io import load_portfolio
    from dunning.pipeline import run

    start = time.perf_counter()
    try:
        generated = make_portfolio(customers, seed=seed, as_of=run_date)
        # The demo goes through the same validation as real data, so the run report
        # carries the data-quality summary.
        loaded = load_portfolio(
            generated.customers,
            generated.invoices,
            generated.payments,
            generated.history,
            generated.promises,
            as_of=run_date,
        )
        result = run(loaded.portfolio, as_of=run_date, out=out, quality=loaded.quality)
    except DunningError as exc:
        err.print(f"dunning demo: error: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=2) from None
    except OSError as exc:
        err.print(
            f"dunning demo: error: cannot write the output in {out}: {exc.strerror or exc}.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(code=2) from None
    elapsed = time.perf_counter() - start

    counts = result.counts
    table = Table(title=f"Dunning run {run_date.isoformat()}", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_row("customers", str(customers))
    table.add_row("input rows rejected", str(sum(loaded.rows_rejected.values())))
    table.add_row("overdue invoices (decisions)", str(counts["decisions"]))
    table.add_row("cases (letters)", str(counts["cases"]))
    for level in range(1, MAX_AUTOMATIC_LEVEL + 1):
        name = LEVEL_NAMES[level]["en"]
        table.add_row(f"  level {level}: {name}", str(counts[f"level_{level}"]))
    table.add_row("offers: installment plan", str(counts["offer_installment_plan"]))
    table.add_row("offers: deferral", str(counts["offer_deferral"]))
    table.add_row("offers: none", str(counts["offer_none"]))
    table.add_row("routed to review", str(counts["needs_review"]))
    table.add_row("files written", str(counts["files_written"]))
    console.print(table)
    paths = result.paths
    console.print(
        f"Letters:   {paths['letters']}/ ({counts['letters_pdf']} PDF, "
        f"{counts['letters_html']} HTML)\n"
        f"Decisions: {paths['decisions_csv']}\n"
        f"Report:    {paths['run_summary']}\n"
        f"Store:     {paths['store']} (run {result.run_id})\n"
        f"Done in {elapsed:.1f} s.",
        markup=False,
        highlight=False,
    )


def main() -> None:
    """Entry point of the ``dunning`` console script.

    Examples
    --------
    >>> import subprocess, sys
    >>> done = subprocess.run([sys.executable, "-m", "dunning", "--help"],
    ...                       capture_output=True, text=True)
    >>> done.returncode, "demo" in done.stdout
    (0, True)
    """
    app()
