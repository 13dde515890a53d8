"""The ``dunning`` command line: train, propose, review, issue, explain, report, verify.

Commands
--------
``dunning demo``
    Generate the demo portfolio (5,000 customers), train, propose, issue what needs no
    review, write letters, messages and reports, and print where everything is and how to
    continue with ``dunning review``. The demo starts from a fresh decision store.
``dunning train``
    Train the risk model on the portfolio's history; the bundle goes to ``OUT/model``.
``dunning propose``
    Score and decide, and record the proposal (run, cases, decisions, audit events, review
    queue, draft letters, reports) without issuing anything. ``--compare OTHER`` prints and
    writes how another policy differs, recording nothing.
``dunning review list|show|approve|change|hold|escalate``
    The review queue of a run, one case in full, and the clerks' decisions (recorded
    append-only in the store, with the clerk's id and reason).
``dunning issue``
    Issue the run: the cases that need no review and the approved ones; the others wait.
``dunning explain CASE_ID``
    A case's story: score, rule trace, reasons, anomalies, data gaps, counterfactual.
``dunning report``
    (Re)write the store report of a run (``OUT/reports/store_report_RUN.html``).
``dunning verify-audit``
    Re-check the audit trail's hash chain in the store or in an exported JSON Lines file.

Inputs are read as :func:`dunning.io.load_portfolio` reads them: ``--data DIR`` with
``customers``, ``invoices``, ``payments`` and optional ``history`` and ``promises`` (``.csv``
or ``.parquet``), ``--mapping FILE`` (TOML, YAML or JSON column mapping) and the CSV format
options ``--sep``, ``--decimal``, ``--thousands``, ``--date-format``, ``--encoding``;
without ``--data`` the demo portfolio (``--customers``, ``--seed``). ``--store`` takes a
SQLAlchemy URL or a plain path of a SQLite file (default ``sqlite:///OUT/dunning.sqlite``).

Exit codes
----------
0
    Success.
1
    Partial: input rows were rejected on load (the accepted rows were processed; the
    rejects are listed), or the audit trail is broken (``verify-audit``, ``report``).
2
    Usage or data error: one line ``dunning CMD: error: ...`` on stderr, no traceback
    (``--debug`` adds it).

Progress goes to stderr through the standard :mod:`logging` module: the stages of the
``dunning.progress`` logger become progress bars on a terminal and plain lines otherwise;
``--quiet`` shows warnings only. See ``docs/cli.md``.

Examples
--------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["demo", "--as-of", "23.11.2026"])
>>> result.exit_code
2
>>> print(result.stderr.strip())
dunning demo: error: --as-of must be a date as YYYY-MM-DD, e.g. 2026-11-23; got '23.11.2026'.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
import tomllib
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from dunning.errors import DunningError
from dunning.levels import LEVEL_NAMES, MAX_AUTOMATIC_LEVEL

if TYPE_CHECKING:
    import pandas as pd

    from dunning.io import LoadResult
    from dunning.pipeline import RunResult
    from dunning.policy import Policy
    from dunning.proposal import Proposal
    from dunning.store import DecisionStore
    from scoring.risk import RiskModel

__all__ = ["app", "main"]

#: Exit codes (see the module docstring).
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
_DEFAULT_AS_OF = "2026-11-23"
_OFFERS = ("installment_plan", "deferral", "none")


class _Failure(Exception):
    """A one-line error for the user, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _error_classes(name: str) -> tuple[type[Exception], ...]:
    """Click's exception class ``name``, and Typer's vendored copy of it (Typer >= 0.24)."""
    found: list[type[Exception]] = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, Exception) and cls not in found:
            found.append(cls)
    return tuple(found)


_USAGE_ERRORS = _error_classes("ClickException")
_NO_ARGS = _error_classes("NoArgsIsHelpError")
_ABORT = _error_classes("Abort")
_EXIT: tuple[type[Exception], ...] = (typer.Exit, *_error_classes("Exit"))


class _Group(TyperGroup):
    """Usage errors as one line ``dunning CMD: error: ...`` on stderr, exit code 2."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS as exc:
            sys.stderr.write(f"{getattr(exc, 'format_message', exc.__str__)()}\n")
            sys.exit(int(getattr(exc, "exit_code", EXIT_USAGE)))
        except _USAGE_ERRORS as exc:
            ctx = getattr(exc, "ctx", None)
            where = str(getattr(ctx, "command_path", "dunning"))
            message = " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())
            sys.stderr.write(f"{_program(where)}: error: {message}\n")
            sys.exit(int(getattr(exc, "exit_code", EXIT_USAGE)))
        except _ABORT:
            sys.stderr.write("dunning: aborted.\n")
            sys.exit(EXIT_PARTIAL)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _program(command_path: str) -> str:
    """``dunning review approve`` whatever the program was called (``python -m``, tests)."""
    parts = command_path.split()
    return " ".join(["dunning", *parts[1:]])


app = typer.Typer(
    name="dunning",
    cls=_Group,
    help=(
        "Explainable dunning: decide, explain, write and record what happens to overdue "
        "invoices.\n\nExample: dunning demo --out out"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
review_app = typer.Typer(
    help=(
        "The review queue: list, show and decide the cases routed to a clerk.\n\n"
        "Example: dunning review list --out out"
    ),
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")


@app.callback()
def _root() -> None:
    """Explainable dunning: decide, explain, write and record overdue-invoice letters.

    Example: dunning demo --out out, then dunning review list --out out
    """


# --- options ----------------------------------------------------------------------------

_IN = "Input"
_RUN = "Run"

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Folder with customers, invoices, payments (+ history, promises) as .csv/.parquet.",
        rich_help_panel=_IN,
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="Column mapping file (TOML, YAML or JSON): {foreign: canonical} or per table.",
        rich_help_panel=_IN,
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep",
        help="CSV field separator (';', ',', 'tab'); default detected.",
        rich_help_panel=_IN,
    ),
]
DecimalOpt = Annotated[
    str | None,
    typer.Option(
        "--decimal",
        help="Decimal mark of amounts, ',' or '.'; default detected.",
        rich_help_panel=_IN,
    ),
]
ThousandsOpt = Annotated[
    str | None,
    typer.Option(
        "--thousands",
        help="Thousands separator ('' for none); default detected.",
        rich_help_panel=_IN,
    ),
]
DateFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--date-format", help="strptime format of dates, e.g. '%d.%m.%Y'.", rich_help_panel=_IN
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding", help="Text encoding of the CSV files; default detected.", rich_help_panel=_IN
    ),
]
CustomersOpt = Annotated[
    int,
    typer.Option(
        "--customers", min=1, help="Demo customers (without --data).", rich_help_panel=_IN
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed of the demo portfolio.", rich_help_panel=_IN)
]
AsOfOpt = Annotated[
    str, typer.Option("--as-of", help="Run date, YYYY-MM-DD.", metavar="YYYY-MM-DD")
]
PolicyOpt = Annotated[str, typer.Option("--policy", help="Policy file (TOML/YAML), or DE / GB.")]
ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Model bundle folder; default OUT/model when it exists, else a model is trained.",
        rich_help_panel=_RUN,
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Decision store: SQLAlchemy URL or SQLite file path; "
        "default sqlite:///OUT/dunning.sqlite.",
        rich_help_panel=_RUN,
    ),
]
OutOpt = Annotated[
    Path, typer.Option("--out", help="Output folder (letters, reports, model, store).")
]
WorkersOpt = Annotated[
    int,
    typer.Option("--workers", min=1, help="Processes rendering the letters.", rich_help_panel=_RUN),
]
BackendOpt = Annotated[
    str, typer.Option("--backend", help="Execution backend: local or dask.", rich_help_panel=_RUN)
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); without it a LocalCluster is started.",
        rich_help_panel=_RUN,
    ),
]
FormatsOpt = Annotated[
    str,
    typer.Option(
        "--formats", help="Letter formats, comma-separated: html,pdf.", rich_help_panel=_RUN
    ),
]
ReportsOpt = Annotated[
    bool,
    typer.Option(
        "--reports/--no-reports",
        help="Write the reviewer reports (portfolio report, a case report per case for review).",
        rich_help_panel=_RUN,
    ),
]
TemplatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--templates",
        help="Folder of your own letter templates over the package's (docs/custom-templates.md).",
        rich_help_panel=_RUN,
    ),
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Debug logging, and a traceback with every error.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, warnings only.")]
RunOpt = Annotated[
    str | None, typer.Option("--run", help="Run id; default the latest run in the store.")
]
ClerkOpt = Annotated[str, typer.Option("--clerk", help="The deciding clerk's id.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]


@dataclass(frozen=True)
class _Inputs:
    """The common inputs of the commands that load a portfolio."""

    data: Path | None = None
    mapping: Path | None = None
    sep: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    customers: int = 5000
    seed: int = 7
    as_of: str = _DEFAULT_AS_OF
    policy: str = "DE"
    model: Path | None = None
    store: str | None = None
    out: Path = Path("out")
    workers: int = 1
    backend: str = "local"
    scheduler: str | None = None
    formats: str = "html,pdf"
    reports: bool = True
    templates: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> _Inputs:
        """The inputs among a command's options (its ``locals()`` on entry)."""
        names = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{name: value for name, value in options.items() if name in names})

    @property
    def run_date(self) -> date:
        return _parse_date(self.as_of, "--as-of")

    @property
    def store_url(self) -> str:
        return _store_url(self.store, self.out)

    @property
    def letter_formats(self) -> tuple[str, ...]:
        wanted = tuple(f.strip().lower() for f in self.formats.split(",") if f.strip())
        bad = [f for f in wanted if f not in ("html", "pdf")]
        if not wanted or bad:
            msg = f"--formats must list html and/or pdf, e.g. 'html,pdf'; got {self.formats!r}."
            raise _Failure(msg)
        return wanted


# --- helpers ----------------------------------------------------------------------------


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"{option} must be a date as YYYY-MM-DD, e.g. 2026-11-23; got {value!r}."
        raise _Failure(msg) from None


def _store_url(value: str | None, out: Path) -> str:
    """A SQLAlchemy URL from ``--store`` (URL or plain path) or the default in ``out``."""
    from dunning.store import sqlite_url

    if value is None:
        return sqlite_url(out / "dunning.sqlite")
    if "://" in value:
        return value
    return sqlite_url(Path(value).expanduser().resolve())


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _open_store(url: str) -> DecisionStore:
    """An existing decision store (a SQLite file that does not exist is an error)."""
    from dunning.store import DecisionStore

    file = _sqlite_file(url)
    if file is not None and not file.is_file():
        msg = (
            f"no decision store at {file}; run `dunning propose` or `dunning demo` first, "
            "or point --store/--out at the store."
        )
        raise _Failure(msg)
    return DecisionStore(url)


def _policy(value: str, what: str) -> Policy:
    from dunning.policy import Policy

    if value.upper() in ("DE", "GB"):
        return Policy.default(value.upper())
    path = Path(value)
    if not path.is_file():
        msg = f"{what} {value!r} is neither DE, GB nor a policy file (TOML or YAML)."
        raise _Failure(msg)
    return Policy.from_file(path)


def _read_mapping(path: Path) -> dict[str, Any]:
    """A column mapping from a TOML, YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"--mapping {path}: cannot read it ({exc.strerror or exc})."
        raise _Failure(msg) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            loaded: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # type: ignore[import-untyped,unused-ignore]

            loaded = yaml.safe_load(text)
        elif suffix == ".json":
            loaded = json.loads(text)
        else:
            msg = f"--mapping {path}: give a .toml, .yaml/.yml or .json file."
            raise _Failure(msg)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        msg = f"--mapping {path}: not valid {suffix[1:].upper()}: {' '.join(str(exc).split())}"
        raise _Failure(msg) from None
    except Exception as exc:  # yaml.YAMLError
        msg = f"--mapping {path}: not valid YAML: {' '.join(str(exc).split())}"
        raise _Failure(msg) from None
    if not isinstance(loaded, dict) or not loaded:
        msg = (
            f"--mapping {path}: expected a table of column names, e.g. "
            '{"Rechnungsnummer": "invoice_id"}, or one such table per input table.'
        )
        raise _Failure(msg)
    return loaded


def _table_file(folder: Path, name: str) -> Path | None:
    for suffix in (".csv", ".parquet"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


def _load(inputs: _Inputs) -> LoadResult:
    """The portfolio of ``--data`` (or the demo portfolio), validated by load_portfolio."""
    from dunning.io import CsvFormat, load_portfolio

    run_date = inputs.run_date
    mapping = None if inputs.mapping is None else _read_mapping(inputs.mapping)
    sep = "\t" if inputs.sep in ("tab", "\\t") else inputs.sep
    csv = CsvFormat(
        sep=sep,
        decimal=inputs.decimal,
        thousands=inputs.thousands,
        date_format=inputs.date_format,
        encoding=inputs.encoding,
    )
    if inputs.data is None:
        from dunning.datasets import make_portfolio

        progress = logging.getLogger("dunning.progress")
        progress.info("generate demo portfolio ...", extra={"stage": "generate demo portfolio"})
        g = make_portfolio(inputs.customers, seed=inputs.seed, as_of=run_date)
        progress.info(
            "generate demo portfolio done",
            extra={"stage": "generate demo portfolio", "finished": True},
        )
        sources: list[Any] = [g.customers, g.invoices, g.payments, g.history, g.promises]
    else:
        if not inputs.data.is_dir():
            msg = f"--data {inputs.data}: no such folder."
            raise _Failure(msg)
        found = {n: _table_file(inputs.data, n) for n in ("customers", "invoices", "payments")}
        missing = [f"{n}.csv" for n, p in found.items() if p is None]
        if missing:
            msg = f"--data {inputs.data}: missing {', '.join(missing)}."
            raise _Failure(msg)
        sources = [
            *found.values(),
            _table_file(inputs.data, "history"),
            _table_file(inputs.data, "promises"),
        ]
    try:
        loaded = load_portfolio(*sources, as_of=run_date, mapping=mapping, csv=csv)
    except TypeError as exc:
        msg = f"--mapping: {exc}"
        raise _Failure(msg) from None
    return loaded


def _rejected(loaded: LoadResult) -> int:
    return sum(loaded.rows_rejected.values())


def _model_dir(inputs: _Inputs) -> Path | None:
    """``--model``, else ``OUT/model`` when it holds a bundle, else ``None`` (train)."""
    if inputs.model is not None:
        if not inputs.model.is_dir():
            msg = f"--model {inputs.model}: no such model bundle folder."
            raise _Failure(msg)
        return inputs.model
    default = inputs.out / "model"
    return default if (default / "metadata.json").is_file() else None


def _load_model(folder: Path) -> RiskModel:
    from scoring.risk import RiskModel

    return RiskModel.load(folder)


@contextmanager
def _client(inputs: _Inputs) -> Iterator[Any]:
    """The Dask client of ``--scheduler`` (``None``: local, or a LocalCluster by the run)."""
    if inputs.backend not in ("local", "dask"):
        msg = f"--backend must be local or dask; got {inputs.backend!r}."
        raise _Failure(msg)
    if inputs.scheduler is None:
        yield None
        return
    if inputs.backend != "dask":
        msg = "--scheduler needs --backend dask."
        raise _Failure(msg)
    from distributed import Client

    try:
        client = Client(inputs.scheduler, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        msg = f"--scheduler {inputs.scheduler}: cannot connect to the Dask scheduler ({exc})."
        raise _Failure(msg) from None
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _run_pipeline(
    inputs: _Inputs, loaded: LoadResult, policy: Policy, *, issue_letters: bool, model: Any
) -> RunResult:
    """:func:`dunning.pipeline.run` with the command line's inputs."""
    import dunning.pipeline as pipeline

    with _client(inputs) as client:
        wanted: dict[str, Any] = {
            "as_of": inputs.run_date,
            "out": inputs.out,
            "store": inputs.store_url,
            "model": model,
            "policy": policy,
            "formats": inputs.letter_formats,
            "reports": inputs.reports,
            "issue_letters": issue_letters,
            "workers": inputs.workers,
            "backend": inputs.backend,
            "client": client,
            "quality": loaded.quality,
            "templates": inputs.templates,
        }
        return pipeline.run(loaded.portfolio, **wanted)


# --- logging and progress ---------------------------------------------------------------


class _ProgressHandler(logging.Handler):
    """``dunning.progress`` records as Rich progress bars (a plain line when not a TTY).

    A record with ``extra={"stage": name}`` starts a stage (a spinner), one with
    ``done``/``total`` advances its bar, one with ``finished`` completes it. Other records
    are printed as lines.
    """

    def __init__(self, console: Console, *, live: bool) -> None:
        super().__init__(logging.DEBUG)
        self.console = console
        self.live = live
        self.tasks: dict[str, TaskID] = {}
        self.progress: Progress | None = None
        if live:
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self.progress.start()

    def close(self) -> None:
        if self.progress is not None:
            for task in self.tasks.values():
                self.progress.stop_task(task)
            self.progress.stop()
            self.progress = None
        super().close()

    def _print(self, text: str, level: int) -> None:
        style = "yellow" if level == logging.WARNING else "red" if level > logging.WARNING else None
        target = self.progress.console if self.progress is not None else self.console
        target.print(text, markup=False, highlight=False, style=style, soft_wrap=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            stage = getattr(record, "stage", None)
            if stage is None or record.levelno > logging.INFO:
                prefix = "" if record.levelno < logging.WARNING else f"{record.levelname}: "
                self._print(f"{prefix}{message}", record.levelno)
                return
            name = str(stage)
            if self.progress is None:
                done, total = getattr(record, "done", None), getattr(record, "total", None)
                if done is None or done == total:
                    self._print(message, record.levelno)
                return
            self._advance(name, record, message)
        except Exception:
            self.handleError(record)

    def _advance(self, name: str, record: logging.LogRecord, message: str) -> None:
        progress = self.progress
        assert progress is not None
        task = self.tasks.get(name)
        if task is None:
            task = progress.add_task(name, total=None)
            self.tasks[name] = task
        total, done = getattr(record, "total", None), getattr(record, "done", None)
        if getattr(record, "finished", False):
            finished = progress.tasks[task].total or 1
            progress.update(task, total=finished, completed=finished, description=message)
            progress.stop_task(task)
        elif total is not None and done is not None:
            progress.update(task, total=int(total), completed=int(done))


@contextmanager
def _session(command: str, *, quiet: bool, debug: bool) -> Iterator[Console]:
    """Logging and progress on stderr, and every error as one line with its exit code."""
    err = Console(stderr=True)
    handler = _ProgressHandler(err, live=err.is_terminal and not quiet)
    root = logging.getLogger("dunning")
    old = (root.handlers[:], root.level, root.propagate)
    root.handlers = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False
    progress_logger = logging.getLogger("dunning.progress")
    progress_logger.setLevel(logging.WARNING if quiet else logging.INFO)
    others = [logging.getLogger(name) for name in ("scoring", "explain")]
    for other in others:
        other.addHandler(handler)
        other.setLevel(logging.DEBUG if debug else logging.WARNING)
    try:
        yield err
    except (*_EXIT, *_USAGE_ERRORS):
        raise
    except _Failure as exc:
        _fail(err, command, str(exc), exc.code, debug=debug)
    except DunningError as exc:
        _fail(err, command, str(exc), EXIT_USAGE, debug=debug)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _fail(err, command, f"{exc.strerror or exc}{where}.", EXIT_USAGE, debug=debug)
    except Exception as exc:
        text = f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
        _fail(err, command, text, EXIT_USAGE, debug=debug)
    finally:
        handler.close()
        for other in others:
            other.removeHandler(handler)
        root.handlers, root.level, root.propagate = old[0], old[1], old[2]


def _fail(err: Console, command: str, message: str, code: int, *, debug: bool) -> None:
    if debug:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
    line = " ".join(message.split())
    err.print(f"dunning {command}: error: {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _out() -> Console:
    """stdout; wide when not a terminal, so that ids and statuses are never wrapped."""
    console = Console(soft_wrap=True)
    return console if console.is_terminal else Console(soft_wrap=True, width=240)


def _plain(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


# --- summary tables -----------------------------------------------------------------------


def _run_table(result: RunResult, loaded: LoadResult, title: str) -> Table:
    counts = result.counts
    table = Table(title=title, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_row("customers", str(len(loaded.portfolio.customers)))
    table.add_row("input rows rejected", str(_rejected(loaded)))
    table.add_row("overdue invoices (decisions)", str(counts.get("decisions", 0)))
    table.add_row("cases (letters)", str(counts.get("cases", 0)))
    for level in range(1, MAX_AUTOMATIC_LEVEL + 1):
        name = LEVEL_NAMES[level]["en"]
        table.add_row(f"  level {level}: {name}", str(counts.get(f"level_{level}", 0)))
    table.add_row("offers: installment plan", str(counts.get("offer_installment_plan", 0)))
    table.add_row("offers: deferral", str(counts.get("offer_deferral", 0)))
    table.add_row("offers: none", str(counts.get("offer_none", 0)))
    table.add_row("routed to review", str(counts.get("needs_review", 0)))
    table.add_row("review queue", str(counts.get("review_queue", 0)))
    table.add_row("cases issued", str(counts.get("issued_cases", 0)))
    table.add_row("files written", str(counts.get("files_written", 0)))
    return table


# --- demo -----------------------------------------------------------------------------


@app.command()
def demo(
    out: OutOpt = Path("out"),
    customers: CustomersOpt = 5000,
    as_of: AsOfOpt = _DEFAULT_AS_OF,
    seed: SeedOpt = 7,
    workers: WorkersOpt = 2,
    formats: FormatsOpt = "html,pdf",
    reports: ReportsOpt = True,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Generate a demo portfolio and run the whole flow: train, propose, issue, report.

    Cases that need no review are issued; the others wait in the review queue. The demo
    starts from a fresh decision store (OUT/dunning.sqlite is recreated).

    Example: dunning demo --out out --customers 5000 --as-of 2026-11-23
    """
    inputs = _Inputs.from_options(locals())
    console = _out()
    with _session("demo", quiet=quiet, debug=debug):
        start = time.perf_counter()
        run_date = inputs.run_date
        _ = inputs.letter_formats  # checked before the long run
        loaded = _load(inputs)
        out.mkdir(parents=True, exist_ok=True)
        # A fresh store: the demo is the same every time (a real run keeps its store, so
        # that nothing issued is proposed again).
        (out / "dunning.sqlite").unlink(missing_ok=True)
        model = _train(loaded, run_date, out)
        policy = _policy("DE", "--policy")
        result = _run_pipeline(inputs, loaded, policy, issue_letters=True, model=model)
        elapsed = time.perf_counter() - start
        console.print(_run_table(result, loaded, f"Dunning run {run_date.isoformat()}"))
        _where(console, result, out, elapsed)
        if _rejected(loaded):
            raise typer.Exit(code=EXIT_PARTIAL)


def _train(loaded: LoadResult, run_date: date, out: Path) -> RiskModel:
    """:func:`dunning.pipeline.train_model`, saving the bundle to ``<out>/model``."""
    from dunning.pipeline import train_model

    return train_model(loaded.portfolio, run_date, out=out)


def _where(console: Console, result: RunResult, out: Path, elapsed: float) -> None:
    counts, paths = result.counts, result.paths
    store = _store_url(None, out)
    waiting = counts.get("review_queue", counts.get("needs_review", 0))
    lines = [
        f"Letters:      {paths.get('letters', out / 'letters')}/ "
        f"({counts.get('letters_pdf', 0)} PDF, {counts.get('letters_html', 0)} HTML)",
        f"Messages:     {paths.get('messages', out / 'messages')}/ "
        f"({counts.get('emails', 0)} e-mails, {counts.get('sms', 0)} SMS)",
        f"Reports:      {paths.get('reports', out / 'reports')}/ "
        f"(run_summary.html, portfolio.html, cases/, model_card.html)",
        f"Decisions:    {paths.get('decisions_csv', out / 'decisions.csv')}",
        f"Review queue: {paths.get('review_queue', out / 'review_queue.csv')} "
        f"({waiting} cases wait for a clerk)",
        f"Store:        {store} (run {result.run_id})",
        f"Done in {elapsed:.1f} s.",
        "",
        "Next:",
        f"  dunning review list --out {out}",
        f"  dunning review show CASE_ID --out {out}",
        f"  dunning review approve CASE_ID --clerk YOUR_ID --reason '...' --out {out}",
        f"  dunning issue --out {out}",
        f"  dunning verify-audit --out {out}",
    ]
    _plain(console, "\n".join(lines))


# --- train ----------------------------------------------------------------------------


@app.command()
def train(
    data: DataOpt = None,
    mapping: MappingOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    date_format: DateFormatOpt = None,
    encoding: EncodingOpt = None,
    customers: CustomersOpt = 5000,
    seed: SeedOpt = 7,
    as_of: AsOfOpt = _DEFAULT_AS_OF,
    out: OutOpt = Path("out"),
    random_state: Annotated[int, typer.Option("--random-state", help="Model seed.")] = 0,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train the risk model on the portfolio's history before --as-of; save it to OUT/model.

    Example: dunning train --data exports/ --as-of 2026-11-23 --out out
    """
    inputs = _Inputs.from_options(locals())
    console = _out()
    with _session("train", quiet=quiet, debug=debug):
        from dunning.pipeline import train_model

        run_date = inputs.run_date
        loaded = _load(inputs)
        model = train_model(loaded.portfolio, run_date, out=out, random_state=random_state)
        table = Table(title=f"Risk model {model.version_id()[:16]}", title_justify="left")
        table.add_column("metric", style="bold")
        table.add_column("value", justify="right")
        metrics = getattr(model, "validation_", None) or {}
        for name, value in _flat_metrics(metrics):
            table.add_row(name, value)
        if not metrics:
            table.add_row("validation", "none (fitted on all snapshots)")
        console.print(table)
        _plain(
            console,
            f"Model:      {out / 'model'}/\nModel card: {out / 'reports' / 'model_card.html'}",
        )
        if _rejected(loaded):
            raise typer.Exit(code=EXIT_PARTIAL)


def _flat_metrics(metrics: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The headline metrics (numbers at the top level; intervals are in the model card)."""
    for key, value in metrics.items():
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            yield str(key), _number(value)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# --- propose --------------------------------------------------------------------------


@app.command()
def propose(
    data: DataOpt = None,
    mapping: MappingOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    date_format: DateFormatOpt = None,
    encoding: EncodingOpt = None,
    customers: CustomersOpt = 5000,
    seed: SeedOpt = 7,
    as_of: AsOfOpt = _DEFAULT_AS_OF,
    policy: PolicyOpt = "DE",
    compare_with: Annotated[
        str | None,
        typer.Option(
            "--compare", help="Other policy to compare with (file, or DE / GB); records nothing."
        ),
    ] = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    workers: WorkersOpt = 1,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    formats: FormatsOpt = "html,pdf",
    reports: ReportsOpt = True,
    templates: TemplatesOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score, decide and record the proposal (cases, review queue, draft letters); issue nothing.

    With --compare, the portfolio is proposed under both policies and the differences are
    printed and written (compare_cases.csv, compare_totals.csv), recording nothing.

    Example: dunning propose --data exports/ --as-of 2026-11-23 --out out
    Example: dunning propose --policy DE --compare my-policy.toml --out out
    """
    inputs = _Inputs.from_options(locals())
    console = _out()
    with _session("propose", quiet=quiet, debug=debug):
        run_date = inputs.run_date
        live = _policy(policy, "--policy")
        if compare_with is not None:
            other = _policy(compare_with, "--compare")
            loaded = _load(inputs)
            _compare(console, inputs, loaded, live, other)
        else:
            _ = inputs.letter_formats  # checked before the long run
            loaded = _load(inputs)
            folder = _model_dir(inputs)
            result = _run_pipeline(inputs, loaded, live, issue_letters=False, model=folder)
            title = f"Proposal {run_date.isoformat()} ({live.name} {live.version})"
            console.print(_run_table(result, loaded, title))
            _plain(
                console,
                f"Run {result.run_id} recorded in {inputs.store_url}: "
                f"{result.counts.get('review_queue', 0)} cases in the review queue.\n"
                f"Next: dunning review list --out {out}, then dunning issue --out {out}",
            )
        if _rejected(loaded):
            raise typer.Exit(code=EXIT_PARTIAL)


def _compare(
    console: Console, inputs: _Inputs, loaded: LoadResult, live: Policy, other: Policy
) -> None:
    """Today's what-if: both policies on the same scores; writes CSV files, records nothing."""
    from dunning.pipeline import score_portfolio
    from dunning.whatif import compare
    from dunning.workflow import propose as propose_cases

    run_date = inputs.run_date
    folder = _model_dir(inputs)
    model = None if folder is None else _load_model(folder)
    scores = score_portfolio(loaded.portfolio, run_date, model=model)
    inputs.out.mkdir(parents=True, exist_ok=True)
    url = inputs.store_url
    file = _sqlite_file(url)
    use_store = inputs.store is not None or (file is not None and file.is_file())
    ledger = _open_store(url) if use_store else None
    try:
        a = propose_cases(loaded.portfolio, scores, live, run_date, store=ledger)
        b = propose_cases(loaded.portfolio, scores, other, run_date, store=ledger)
    finally:
        if ledger is not None:
            ledger.close()
    console.print(_proposal_table(a, f"{live.name} ({live.version}), {run_date}"))
    _write_csv(
        a.cases.drop(columns=["installments"], errors="ignore"), inputs.out / "proposal_cases.csv"
    )
    console.print(_proposal_table(b, f"{other.name} ({other.version}), {run_date}"))
    result = compare(a, b, labels=(live.name, other.name))
    _plain(console, result.summary())
    _write_csv(result.cases, inputs.out / "compare_cases.csv")
    _write_csv(result.totals.reset_index(), inputs.out / "compare_totals.csv")


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


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Exact amounts as text (``str(Decimal)``), ISO dates, ``\\n`` line ends."""
    frame.to_csv(path, index=False, lineterminator="\n")


# --- issue ----------------------------------------------------------------------------


@app.command("issue")
def issue_command(
    data: DataOpt = None,
    mapping: MappingOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    date_format: DateFormatOpt = None,
    encoding: EncodingOpt = None,
    customers: CustomersOpt = 5000,
    seed: SeedOpt = 7,
    as_of: AsOfOpt = _DEFAULT_AS_OF,
    policy: PolicyOpt = "DE",
    model: ModelOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    workers: WorkersOpt = 1,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    formats: FormatsOpt = "html,pdf",
    reports: ReportsOpt = True,
    templates: TemplatesOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Issue the run: the cases that need no review and those a clerk approved or changed.

    The same inputs as `dunning propose`; re-running continues an interrupted run and never
    issues a letter twice. Held cases stay out; unreviewed cases keep waiting.

    Example: dunning issue --data exports/ --as-of 2026-11-23 --out out
    """
    inputs = _Inputs.from_options(locals())
    console = _out()
    with _session("issue", quiet=quiet, debug=debug):
        run_date = inputs.run_date
        live = _policy(policy, "--policy")
        _ = inputs.letter_formats  # checked before the long run
        loaded = _load(inputs)
        folder = _model_dir(inputs)
        result = _run_pipeline(inputs, loaded, live, issue_letters=True, model=folder)
        console.print(_run_table(result, loaded, f"Issued {run_date.isoformat()}"))
        waiting = int(result.counts.get("review_queue", 0))
        _plain(
            console,
            f"Run {result.run_id}: {result.counts.get('issued_cases', 0)} cases issued, "
            f"{waiting} wait for review (dunning review list --out {out}).",
        )
        if _rejected(loaded):
            raise typer.Exit(code=EXIT_PARTIAL)


# --- review ---------------------------------------------------------------------------


def _run_of(store: DecisionStore, run: str | None) -> tuple[str, date]:
    """The run id (``--run`` or the latest) and its as_of."""
    runs = store.runs()
    if runs.empty:
        msg = f"the store {store.url} has no runs yet; run `dunning propose` first."
        raise _Failure(msg)
    if run is None:
        latest = store.latest_run_id()
        run = str(latest) if latest is not None else str(runs["run_id"].iloc[-1])
    found = runs.loc[runs["run_id"] == run]
    if found.empty:
        known = ", ".join(runs["run_id"].astype(str).tolist()[-5:])
        msg = f"no run {run!r} in {store.url}; recent runs: {known}."
        raise _Failure(msg)
    return run, _as_date(found["as_of"].iloc[0])


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _case_run(store: DecisionStore, case_id: str, run: str | None) -> tuple[str, date]:
    """The run a case belongs to: ``--run``, else the latest run that proposed it."""
    if run is not None:
        run_id, as_of = _run_of(store, run)
        if case_id not in set(store.cases(run_id)["case_id"]):
            msg = f"unknown case {case_id!r} in run {run_id}; see dunning review list."
            raise _Failure(msg)
        return run_id, as_of
    events = store.audit_events(subject=case_id, kind="case_proposed")
    if events.empty:
        msg = (
            f"unknown case {case_id!r}: no run in {store.url} proposed it; see dunning review list."
        )
        raise _Failure(msg)
    return _run_of(store, str(events["run_id"].iloc[-1]))


def _statuses(store: DecisionStore, cases: pd.DataFrame) -> dict[str, str]:
    """Per case: issued, or the latest review (approved, changed, held, escalated), or pending."""
    issued = store.issued()
    issued_cases = set(issued["case_id"].astype(str)) if len(issued) else set()
    reviews = store.reviews()
    latest: dict[str, Mapping[str, Any]] = {}
    if len(reviews):
        mine = reviews.loc[reviews["case_id"].isin(cases["case_id"])]
        for row in mine.to_dict("records"):
            # Oldest first: the last one stays.
            latest[str(row["case_id"])] = {str(k): v for k, v in row.items()}
    result: dict[str, str] = {}
    for case_id, needs in zip(cases["case_id"], cases["needs_review"], strict=True):
        cid = str(case_id)
        review = latest.get(cid)
        if cid in issued_cases:
            result[cid] = "issued"
        elif review is None:
            result[cid] = "pending" if bool(needs) else "ready"
        else:
            result[cid] = _review_status(review)
    return result


def _review_status(review: Mapping[str, Any]) -> str:
    import pandas as pd

    action = str(review["action"])
    if action == "approve":
        return "approved"
    if action == "change_offer":
        return f"changed (offer {review['offer']})"
    if action == "escalate":
        return "escalated"
    until = review.get("hold_until")
    return "held" if until is None or pd.isna(until) else f"held until {_as_date(until)}"


@review_app.command("list")
def review_list(
    run: RunOpt = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="All cases of the run, not only those for review.")
    ] = False,
    status: Annotated[
        str | None, typer.Option("--status", help="Only cases with this status, e.g. pending.")
    ] = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """The cases of a run that need review, with their status.

    Statuses: pending, approved, changed (offer ...), held [until ...], escalated, issued;
    with --all also ready (needs no review, not issued yet).

    Example: dunning review list --out out --status pending
    """
    console = _out()
    with _session("review list", quiet=True, debug=debug):
        with _open_store(_store_url(store, out)) as ledger:
            run_id, as_of = _run_of(ledger, run)
            cases = ledger.cases(run_id)
            statuses = _statuses(ledger, cases)
        shown = cases if show_all else cases.loc[cases["needs_review"].astype(bool)]
        rows = [
            (case, statuses[str(case["case_id"])])
            for case in shown.to_dict("records")
            if status is None or statuses[str(case["case_id"])].startswith(status)
        ]
        what = "cases" if show_all else "cases for review"
        table = Table(title=f"Run {run_id} ({as_of}): {len(rows)} {what}", title_justify="left")
        for name, justify in (
            ("case", "left"),
            ("customer", "left"),
            ("name", "left"),
            ("level", "right"),
            ("amount due", "right"),
            ("risk", "right"),
            ("review reason", "left"),
            ("status", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for case, state in rows:
            table.add_row(
                str(case["case_id"]),
                str(case["customer_id"]),
                _text(case.get("name")),
                str(case["level"]),
                f"{case['amount_due']} {case['currency']}",
                f"{float(case['risk']):.3f}" if case["risk"] == case["risk"] else "",
                _text(case.get("review_reason")),
                state,
            )
        console.print(table)
        counts: dict[str, int] = {}
        for _, state in rows:
            key = state.split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
        _plain(console, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no cases")


def _text(value: Any) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


@review_app.command("show")
def review_show(
    case_id: Annotated[str, typer.Argument(help="The case id (see dunning review list).")],
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """A case in full: the case, its invoices, reasons, rule trace, reviews and issue status.

    Example: dunning review show CASE_ID --out out
    """
    console = _out()
    with _session("review show", quiet=True, debug=debug):
        with _open_store(_store_url(store, out)) as ledger:
            run_id, as_of = _case_run(ledger, case_id, run)
            cases = ledger.cases(run_id)
            case = cases.loc[cases["case_id"] == case_id].iloc[0].to_dict()
            decisions = ledger.decisions(run_id)
            invoices = decisions.loc[decisions["case_id"] == case_id]
            events = ledger.audit_events(subject=case_id, kind="case_proposed")
            payload = json.loads(events["payload"].iloc[-1]) if len(events) else {}
            history = ledger.reviews(case_id=case_id)
            issued = ledger.issued()
            issued = issued.loc[issued["case_id"] == case_id]
            state = _statuses(ledger, cases.loc[cases["case_id"] == case_id])[case_id]
        head = Table(
            title=f"Case {case_id} (run {run_id}, {as_of})", title_justify="left", show_header=False
        )
        head.add_column("", style="bold")
        head.add_column("")
        for key in (
            "customer_id",
            "name",
            "level",
            "amount_due",
            "currency",
            "risk",
            "offer",
            "tone",
            "channel",
            "language",
            "needs_review",
            "review_reason",
        ):
            if key in case:
                value = case[key]
                head.add_row(key, f"{value:.3f}" if key == "risk" else _text(value))
        head.add_row("status", state)
        console.print(head)
        inv = Table(title="Invoices", title_justify="left")
        for name in ("invoice", "level", "open amount", "risk", "offer", "reasons"):
            inv.add_column(name)
        for row in invoices.to_dict("records"):
            inv.add_row(
                str(row["invoice_id"]),
                str(row["level"]),
                f"{row['open_amount']} {row['currency']}",
                f"{row['risk']:.3f}",
                str(row["offer"]),
                str(row["reasons"]).replace("|", ", "),
            )
        console.print(inv)
        codes = payload.get("reason_codes") or []
        _plain(console, f"Reason codes: {', '.join(codes) if codes else '(none)'}")
        _plain(console, "Rule trace:")
        for line in payload.get("rule_trace") or []:
            _plain(console, f"  - {line}")
        rev = Table(title="Review history", title_justify="left")
        for name in ("decided at (UTC)", "clerk", "action", "offer / until", "reason"):
            rev.add_column(name)
        for row in history.to_dict("records"):
            detail = _text(row.get("offer")) if row["action"] == "change_offer" else ""
            if row["action"] == "hold":
                until = row.get("hold_until")
                detail = "" if until is None or until != until else str(_as_date(until))
            rev.add_row(
                f"{row['decided_at']:%Y-%m-%d %H:%M}",
                str(row["clerk_id"]),
                str(row["action"]),
                detail,
                str(row["reason"]),
            )
        console.print(rev if len(history) else "No review decisions yet.")
        if len(issued):
            days = sorted({str(_as_date(d)) for d in issued["issued_on"]})
            who = sorted({_text(a) for a in issued["approved_by"] if _text(a) not in ("", "nan")})
            _plain(
                console,
                f"Issued on {', '.join(days)} for {len(issued)} invoice(s)"
                + (f", approved by {', '.join(who)}." if who else "."),
            )
        else:
            _plain(console, "Not issued.")


def _decide(
    action: str,
    case_id: str,
    *,
    clerk: str,
    reason: str,
    run: str | None,
    store: str | None,
    out: Path,
    debug: bool,
    offer: str | None = None,
    until: str | None = None,
) -> None:
    """Record one review decision through DecisionStore.record_reviews."""
    import pandas as pd

    console = _out()
    command = {"change_offer": "change"}.get(action, action)
    with _session(f"review {command}", quiet=True, debug=debug):
        if not clerk.strip() or not reason.strip():
            msg = "--clerk and --reason must not be empty."
            raise _Failure(msg)
        if offer is not None and offer not in _OFFERS:
            msg = f"--offer must be one of {', '.join(_OFFERS)}; got {offer!r}."
            raise _Failure(msg)
        hold_until = None if until is None else _parse_date(until, "--until")
        with _open_store(_store_url(store, out)) as ledger:
            run_id, as_of = _case_run(ledger, case_id, run)
            if hold_until is not None and hold_until < as_of:
                msg = f"--until {hold_until} is before the run date {as_of}."
                raise _Failure(msg)
            cases = ledger.cases(run_id)
            case = cases.loc[cases["case_id"] == case_id].iloc[0]
            issued = ledger.issued()
            if case_id in set(issued["case_id"].astype(str)):
                msg = f"case {case_id} was already issued; a review cannot change it."
                raise _Failure(msg)
            decisions = ledger.decisions(run_id)
            invoice_ids = decisions.loc[decisions["case_id"] == case_id, "invoice_id"].tolist()
            row: dict[str, Any] = {
                "case_id": case_id,
                "customer_id": str(case["customer_id"]),
                "invoice_ids": "|".join(map(str, invoice_ids)),
                "action": action,
                "clerk_id": clerk.strip(),
                "reason": reason.strip(),
                "decided_at": datetime.now(UTC),
                "as_of": as_of,
            }
            if offer is not None:
                row["offer"] = offer
            if hold_until is not None:
                row["hold_until"] = hold_until
            ledger.record_reviews(pd.DataFrame([row]))
        detail = f" (offer {offer})" if offer else f" until {hold_until}" if hold_until else ""
        _plain(
            console,
            f"Recorded: {action}{detail} of case {case_id} (run {run_id}) by {clerk}: {reason}\n"
            f"Next: dunning issue --out {out}",
        )


@review_app.command("approve")
def review_approve(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    clerk: ClerkOpt,
    reason: ReasonOpt,
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """Approve a case as proposed; `dunning issue` then issues it.

    Example: dunning review approve CASE_ID --clerk clerk-7 --reason "checked" --out out
    """
    _decide(
        "approve", case_id, clerk=clerk, reason=reason, run=run, store=store, out=out, debug=debug
    )


@review_app.command("change")
def review_change(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    offer: Annotated[str, typer.Option("--offer", help="installment_plan, deferral or none.")],
    clerk: ClerkOpt,
    reason: ReasonOpt,
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """Approve a case with another offer.

    Example: dunning review change CASE_ID --offer deferral --clerk clerk-7 --reason "asked"
    """
    _decide(
        "change_offer",
        case_id,
        clerk=clerk,
        reason=reason,
        run=run,
        store=store,
        out=out,
        debug=debug,
        offer=offer,
    )


@review_app.command("hold")
def review_hold(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    clerk: ClerkOpt,
    reason: ReasonOpt,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="YYYY-MM-DD",
            help="Last day of the hold; without it until a later review.",
        ),
    ] = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """Hold a case: its invoices are not dunned until the date (inclusive).

    Example: dunning review hold CASE_ID --until 2026-12-04 --clerk clerk-7 --reason "pays"
    """
    _decide(
        "hold",
        case_id,
        clerk=clerk,
        reason=reason,
        run=run,
        store=store,
        out=out,
        debug=debug,
        until=until,
    )


@review_app.command("escalate")
def review_escalate(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    clerk: ClerkOpt,
    reason: ReasonOpt,
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    debug: DebugOpt = False,
) -> None:
    """Escalate a case: it is issued one level higher.

    Example: dunning review escalate CASE_ID --clerk lead-2 --reason "no reaction" --out out
    """
    _decide(
        "escalate", case_id, clerk=clerk, reason=reason, run=run, store=store, out=out, debug=debug
    )


# --- explain --------------------------------------------------------------------------


@app.command("explain")
def explain_command(
    case_id: Annotated[str, typer.Argument(help="The case id (see dunning review list).")],
    lang: Annotated[str, typer.Option("--lang", help="Language: de or en.")] = "en",
    data: DataOpt = None,
    mapping: MappingOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    date_format: DateFormatOpt = None,
    encoding: EncodingOpt = None,
    customers: CustomersOpt = 5000,
    seed: SeedOpt = 7,
    policy: PolicyOpt = "DE",
    model: ModelOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Tell a case's story: score, rule trace, reasons, anomalies, data gaps, counterfactual.

    Uses the case as recorded in the store, the model of --model (default OUT/model) and
    the same portfolio inputs as the run (--data ..., or the demo portfolio).

    Example: dunning explain CASE_ID --lang de --out out
    """
    console = _out()
    with _session("explain", quiet=quiet, debug=debug):
        if lang not in ("de", "en"):
            msg = f"--lang must be de or en; got {lang!r}."
            raise _Failure(msg)
        live = _policy(policy, "--policy")
        with _open_store(_store_url(store, out)) as ledger:
            run_id, as_of = _case_run(ledger, case_id, run)
            cases = ledger.cases(run_id)
            found = cases.loc[cases["case_id"] == case_id].iloc[0].to_dict()
            case: dict[str, Any] = {str(k): v for k, v in found.items()}
            decisions = ledger.decisions(run_id)
            events = ledger.audit_events(subject=case_id, kind="case_proposed")
            payload = json.loads(events["payload"].iloc[-1]) if len(events) else {}
        inputs = _Inputs(
            data=data,
            mapping=mapping,
            sep=sep,
            decimal=decimal,
            thousands=thousands,
            date_format=date_format,
            encoding=encoding,
            customers=customers,
            seed=seed,
            as_of=as_of.isoformat(),
            model=model,
            out=out,
        )
        folder = _model_dir(inputs)
        if folder is None:
            msg = f"no model bundle in {out / 'model'}; give --model or run dunning train."
            raise _Failure(msg)
        risk_model = _load_model(folder)
        loaded = _load(inputs)
        mine = decisions.loc[decisions["case_id"] == case_id]
        story, counterfactual = _story(
            risk_model, loaded, as_of, mine, payload, case, live, lang, out
        )
        title = f"Case {case_id}: {case['customer_id']} {_text(case.get('name'))}"
        _plain(console, title)
        _plain(
            console,
            f"Level {case['level']}, {case['amount_due']} {case['currency']}, "
            f"offer {case['offer']}, run {run_id} of {as_of}.",
        )
        headings = {
            "score": "Score",
            "decision": "Rule trace",
            "model": "Reasons raising the risk",
            "mitigating": "Mitigating factors",
            "anomaly": "Anomalies",
            "data_quality": "Data gaps",
        }
        for source, heading in headings.items():
            part = story.loc[story["source"] == source]
            if not len(part):
                continue
            _plain(console, f"\n{heading}:")
            for invoice, text in zip(part["invoice_id"], part["text"], strict=True):
                _plain(console, f"  - [{invoice}] {text}")
        if counterfactual:
            _plain(console, f"\nWhat would change it:\n  {counterfactual}")


def _story(
    model: RiskModel,
    loaded: LoadResult,
    as_of: date,
    decisions: pd.DataFrame,
    payload: Mapping[str, Any],
    case: Mapping[str, Any],
    policy: Policy,
    lang: str,
    out: Path,
) -> tuple[pd.DataFrame, str]:
    """The case's story (explain_cases) and its counterfactual text ("" if not flagged)."""
    import numpy as np

    from dunning.ledger import open_items
    from explain.attributions import explain
    from explain.counterfactual import counterfactuals
    from explain.reasons import explain_cases
    from scoring.anomaly import anomaly_flags
    from scoring.features import build_features

    portfolio = loaded.portfolio
    features = build_features(portfolio, as_of)
    ids = [i for i in decisions["invoice_id"].astype(str) if i in features.index]
    if not ids:
        msg = (
            f"the invoices of case {case['case_id']} are not among the overdue invoices of "
            f"these inputs on {as_of}; give the inputs of the run (--data, --customers, --seed)."
        )
        raise _Failure(msg)
    items = open_items(portfolio, as_of)
    flags = anomaly_flags(portfolio, as_of, features=features, items=items)["flags"]
    explanations = explain(model, features.loc[ids])
    traces = _traces(out, as_of, ids, decisions, payload)
    story = explain_cases(
        explanations,
        decisions=traces,
        anomalies=flags.fillna("").astype("str"),
        missing_share=features.isna().mean(axis=1),
        max_missing_share=policy.review.max_missing_share,
        lang=lang,
    )
    d = decisions.set_index(decisions["invoice_id"].astype(str)).loc[ids]
    weight = d["risk"].to_numpy(np.float64) * np.array([float(v) for v in d["open_amount"]])
    main_invoice = ids[int(np.argmax(weight))]
    found = counterfactuals(
        model,
        features.loc[[main_invoice]],
        threshold=policy.review.flag_threshold,
        items=items,
        lang="de" if lang == "de" else "en",
    )
    text = str(found["text"].iloc[0]) if bool(found["flagged"].iloc[0]) else ""
    return story, text


def _traces(
    out: Path,
    as_of: date,
    ids: list[str],
    decisions: pd.DataFrame,
    payload: Mapping[str, Any],
) -> pd.DataFrame:
    """Rule traces per invoice: OUT/decisions.csv of the run date, else the audit event."""
    import pandas as pd

    wanted = [
        "invoice_id",
        "level",
        "offer",
        "tone",
        "channel",
        "review_reason",
        "rule_trace",
        "rule_trace_de",
    ]
    path = out / "decisions.csv"
    if path.is_file():
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if {"as_of", *wanted} <= set(table.columns):
            mine = table.loc[table["invoice_id"].isin(ids) & (table["as_of"] == as_of.isoformat())]
            if len(mine) == len(ids):
                return mine.loc[:, wanted].assign(level=mine["level"].astype("int64"))
    traces = list(payload.get("rule_trace") or [])
    order = decisions["invoice_id"].astype(str).tolist()
    by_invoice = dict(zip(order, traces, strict=False)) if len(traces) == len(order) else {}
    rows = decisions.loc[decisions["invoice_id"].astype(str).isin(ids)]
    trace = [str(by_invoice.get(str(i), "")) for i in rows["invoice_id"]]
    return pd.DataFrame(
        {
            "invoice_id": rows["invoice_id"].astype(str).to_numpy(),
            "level": rows["level"].to_numpy(),
            "offer": rows["offer"].to_numpy(),
            "review_reason": str(payload.get("review_reason", "")),
            "rule_trace": trace,
            "rule_trace_de": trace,
        }
    )


# --- report ---------------------------------------------------------------------------


@app.command()
def report(
    run: RunOpt = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write the report as PDF.")] = False,
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """(Re)write the store report of a run: cases by status, reviews by clerk, letters issued
    with their sha256, and the audit chain's status (OUT/reports/store_report_RUN.html).

    Example: dunning report --out out --pdf
    """
    console = _out()
    with _session("report", quiet=quiet, debug=debug):
        url = _store_url(store, out)
        with _open_store(url) as ledger:
            run_id, as_of = _run_of(ledger, run)
            context = _report_context(ledger, run_id, as_of)
        html = _render_store_report(context)
        folder = out / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        from dunning._files import write_atomic

        target = folder / f"store_report_{run_id}.html"
        write_atomic(target, html.encode("utf-8"))
        written = [target]
        if pdf:
            from explain.report import report_pdf

            pdf_path = target.with_suffix(".pdf")
            write_atomic(pdf_path, report_pdf(html, title=f"store report {run_id}"))
            written.append(pdf_path)
        table = Table(title=f"Store report, run {run_id} ({as_of})", title_justify="left")
        table.add_column("", style="bold")
        table.add_column("count", justify="right")
        for name, n in context["status_counts"]:
            table.add_row(f"cases {name}", str(n))
        table.add_row("reviews", str(sum(r["count"] for r in context["clerks"])))
        table.add_row("letters issued", str(len(context["letters"])))
        table.add_row("audit events", str(context["audit"]["events"]))
        console.print(table)
        audit = context["audit"]
        _plain(
            console, "Audit trail: " + ("intact" if audit["ok"] else f"BROKEN: {audit['reason']}")
        )
        for path in written:
            _plain(console, f"Wrote {path}")
        if not audit["ok"]:
            raise typer.Exit(code=EXIT_PARTIAL)


def _report_context(store: DecisionStore, run_id: str, as_of: date) -> dict[str, Any]:
    """What the store report shows, from the store alone."""
    cases = store.cases(run_id)
    statuses = _statuses(store, cases)
    groups: dict[str, int] = {}
    for state in statuses.values():
        key = _status_group(state)
        groups[key] = groups.get(key, 0) + 1
    order = ["issued", "waiting", "held", "ready"]
    status_counts = [(k, groups[k]) for k in order if k in groups]
    case_ids = set(cases["case_id"].astype(str))
    reviews = store.reviews()
    reviews = reviews.loc[reviews["case_id"].isin(case_ids)]
    clerks: list[dict[str, Any]] = []
    if len(reviews):
        counted = reviews.groupby(["clerk_id", "action"]).size().reset_index(name="count")
        clerks = [
            {"clerk": str(r["clerk_id"]), "action": str(r["action"]), "count": int(r["count"])}
            for r in counted.to_dict("records")
        ]
    issued = store.issued()
    issued_cases = sorted(set(issued.loc[issued["case_id"].isin(case_ids), "case_id"].astype(str)))
    letters = store.letters(run_id)
    letter_rows = [
        {
            "case_id": str(r["case_id"]),
            "format": str(r["format"]),
            "path": str(r["path"]),
            "sha256": str(r["sha256"]),
        }
        for r in letters.loc[letters["case_id"].isin(issued_cases)].to_dict("records")
    ]
    check = store.verify_audit()
    runs = store.runs()
    info = runs.loc[runs["run_id"] == run_id].iloc[0].to_dict()
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "store": store.url,
        "created_at": str(info.get("created_at", "")),
        "finished_at": _text(info.get("finished_at")),
        "policy_version": _text(info.get("policy_version")),
        "software_version": _text(info.get("software_version")),
        "n_cases": len(cases),
        "status_counts": status_counts,
        "cases": [
            {
                "case_id": str(c["case_id"]),
                "customer_id": str(c["customer_id"]),
                "level": int(c["level"]),
                "amount": f"{c['amount_due']} {c['currency']}",
                "status": statuses[str(c["case_id"])],
            }
            for c in cases.to_dict("records")
            if _status_group(statuses[str(c["case_id"])]) != "issued"
        ],
        "clerks": clerks,
        "letters": letter_rows,
        "audit": {
            "ok": check.ok,
            "events": check.events,
            "first_broken": check.first_broken,
            "reason": check.reason,
            "head": check.head,
        },
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _status_group(state: str) -> str:
    if state == "issued":
        return "issued"
    if state.startswith("held"):
        return "held"
    if state == "ready":
        return "ready"
    return "waiting"


def _render_store_report(context: Mapping[str, Any]) -> str:
    import jinja2

    from dunning._assets import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "reports"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("store_report.html.j2").render(**context)


# --- verify-audit ---------------------------------------------------------------------


@app.command("verify-audit")
def verify_audit(
    store: StoreOpt = None,
    out: OutOpt = Path("out"),
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Also export the trail as JSON Lines to this file."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Verify an exported JSON Lines file instead of a store."),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Re-check the audit trail's hash chain: exit 0 when intact, 1 when broken.

    Names the first broken link (the event's seq and what is wrong).

    Example: dunning verify-audit --store sqlite:///out/dunning.sqlite --export audit.jsonl
    """
    console = _out()
    with _session("verify-audit", quiet=True, debug=debug):
        from dunning.store import verify_audit_file

        if file is not None:
            if store is not None or export is not None:
                msg = "--file verifies an export; it takes no --store or --export."
                raise _Failure(msg)
            if not file.is_file():
                msg = f"--file {file}: no such file."
                raise _Failure(msg)
            check = verify_audit_file(file)
            where = str(file)
        else:
            url = _store_url(store, out)
            with _open_store(url) as ledger:
                check = ledger.verify_audit()
                where = ledger.url
                if export is not None:
                    n = ledger.export_audit(export)
                    _plain(console, f"Exported {n} events to {export}")
        if check.ok:
            _plain(
                console, f"Audit trail intact: {check.events} events in {where}, head {check.head}."
            )
            return
        _plain(
            console,
            f"Audit trail BROKEN in {where}: first broken link at event "
            f"{check.first_broken}: {check.reason}",
        )
        raise typer.Exit(code=EXIT_PARTIAL)


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
