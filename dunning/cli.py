"""The ``dunning`` command line.

Commands
--------
``dunning demo [--out PATH] [--customers N] [--as-of YYYY-MM-DD] [--seed N] [--workers N]``
    Generate the demo portfolio, run the whole pipeline, print a summary. The demo starts
    from a fresh decision store (``OUT/dunning.sqlite`` is recreated), so every demo run
    proposes the same letters.
``dunning propose [--data DIR] [--policy FILE] [--compare OTHER_POLICY] [--as-of DATE] ...``
    Score the portfolio (CSV files in ``DIR``: ``customers.csv``, ``invoices.csv``,
    ``payments.csv``, optional ``history.csv`` and ``promises.csv``; without ``--data`` the
    demo portfolio) and print what the policy proposes, without sending or recording
    anything. With ``--compare``, the same portfolio is proposed under the other policy too
    and the differences are printed and written (``compare_cases.csv``,
    ``compare_totals.csv``). A policy is a TOML or YAML file, or ``DE`` / ``GB`` for the
    shipped defaults.

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
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from dunning.errors import DunningError
from dunning.levels import LEVEL_NAMES, MAX_AUTOMATIC_LEVEL

if TYPE_CHECKING:
    import pandas as pd

    from dunning.models import Portfolio
    from dunning.policy import Policy
    from dunning.proposal import Proposal

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
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes rendering the letters.")
    ] = 2,
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
        # A fresh store: the demo is the same every time (a real run keeps its store, so
        # that nothing issued is proposed again).
        (out / "dunning.sqlite").unlink(missing_ok=True)
        result = run(
            loaded.portfolio, as_of=run_date, out=out, quality=loaded.quality, workers=workers
        )
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


def _policy(value: str, what: str) -> Policy:
    from dunning.policy import Policy

    if value.upper() in ("DE", "GB"):
        return Policy.default(value.upper())
    path = Path(value)
    if not path.is_file():
        msg = f"{what} {value!r} is neither DE, GB nor a policy file (TOML or YAML)."
        raise typer.BadParameter(msg)
    return Policy.from_file(path)


def _portfolio(data: Path | None, customers: int, seed: int, run_date: date) -> Portfolio:
    from dunning.datasets import make_portfolio
    from dunning.io import load_portfolio

    if data is None:
        g = make_portfolio(customers, seed=seed, as_of=run_date)
        loaded = load_portfolio(
            g.customers, g.invoices, g.payments, g.history, g.promises, as_of=run_date
        )
    else:
        required = [data / f"{name}.csv" for name in ("customers", "invoices", "payments")]
        missing = [p.name for p in required if not p.is_file()]
        if missing:
            msg = f"--data {data}: missing {', '.join(missing)}."
            raise typer.BadParameter(msg)
        history, promises = (data / "history.csv", data / "promises.csv")
        loaded = load_portfolio(
            required[0],
            required[1],
            required[2],
            history if history.is_file() else None,
            promises if promises.is_file() else None,
            as_of=run_date,
        )
    rejected = sum(loaded.rows_rejected.values())
    if rejected:
        logging.getLogger("dunning.progress").warning(
            "%d input rows rejected; see load_portfolio(...).rejects", rejected
        )
    return loaded.portfolio


def _proposal_table(proposal: Proposal, title: str) -> Table:
    cases = proposal.cases
    table = Table(title=title, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_row("overdue invoices", str(len(proposal.decisions)))
    table.add_row("cases (letters)", str(len(cases)))
    for level, n in cases["level"].value_counts().sort_index().items():
        table.add_row(f"  level {level}", str(n))
    for offer, n in cases["offer"].value_counts().sort_index().items():
        table.add_row(f"  offer {offer}", str(n))
    routed = int(cases["needs_review"].sum()) if len(cases) else 0
    share = routed / len(cases) if len(cases) else 0.0
    table.add_row("routed to review", f"{routed} ({share:.0%})")
    for currency, due in cases.groupby("currency")["amount_due"].sum().items():
        table.add_row(f"amount due {currency}", str(due))
    return table


@app.command()
def propose(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder with customers.csv, invoices.csv, payments.csv."),
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", help="Policy file (TOML/YAML), or DE / GB.")
    ] = "DE",
    compare_with: Annotated[
        str | None,
        typer.Option("--compare", help="Other policy to compare with (file, or DE / GB)."),
    ] = None,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Run date, YYYY-MM-DD.", metavar="YYYY-MM-DD")
    ] = "2026-11-23",
    out: Annotated[Path, typer.Option("--out", help="Folder for the CSV files.")] = Path("out"),
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Decision store (SQLite) with the letters issued so far."),
    ] = None,
    customers: Annotated[
        int, typer.Option("--customers", min=1, help="Demo customers (without --data).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo portfolio.")] = 7,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Show what a policy proposes (and, with --compare, how another policy differs).

    Example: dunning propose --policy DE --compare my-policy.toml --out out
    """
    run_date = _parse_date(as_of)
    console = Console()
    err = Console(stderr=True)
    _configure_logging(quiet, err)
    from dunning.pipeline import score_portfolio
    from dunning.store import DecisionStore, sqlite_url
    from dunning.whatif import compare
    from dunning.workflow import propose as propose_cases

    try:
        live = _policy(policy, "--policy")
        other = None if compare_with is None else _policy(compare_with, "--compare")
        portfolio = _portfolio(data, customers, seed, run_date)
        scores = score_portfolio(portfolio, run_date)
        out.mkdir(parents=True, exist_ok=True)
        ledger = None if store is None else DecisionStore(sqlite_url(store))
        try:
            a = propose_cases(portfolio, scores, live, run_date, store=ledger)
            b = (
                None
                if other is None
                else propose_cases(portfolio, scores, other, run_date, store=ledger)
            )
        finally:
            if ledger is not None:
                ledger.close()
        console.print(_proposal_table(a, f"{live.name} ({live.version}), {run_date}"))
        _write_csv(
            a.cases.drop(columns=["installments"], errors="ignore"), out / "proposal_cases.csv"
        )
        if b is not None and other is not None:
            console.print(_proposal_table(b, f"{other.name} ({other.version}), {run_date}"))
            result = compare(a, b, labels=(live.name, other.name))
            console.print(result.summary(), markup=False, highlight=False)
            _write_csv(result.cases, out / "compare_cases.csv")
            _write_csv(result.totals.reset_index(), out / "compare_totals.csv")
    except DunningError as exc:
        err.print(f"dunning propose: error: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=2) from None
    except OSError as exc:
        err.print(f"dunning propose: error: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=2) from None


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Exact amounts as text (``str(Decimal)``), ISO dates, ``\\n`` line ends."""
    frame.to_csv(path, index=False, lineterminator="\n")


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
