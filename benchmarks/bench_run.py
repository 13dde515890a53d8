"""Benchmark: an end-to-end dunning run, the share of time per stage, with and without PDFs.

Run: ``.venv/bin/python benchmarks/bench_run.py [--invoices N] [--pdf-cases N]
[--workers W] [--out DIR] [--seed S]``

Times ``dunning.pipeline.run`` as a nightly job runs it (the German default policy, a fresh
SQLite decision store in ``--out``, letters issued, reviewer reports written) on demo
portfolios (``dunning.datasets.make_portfolio``, about 24.5 invoices per customer over two
years, as of 2026-11-23):

1. **Without PDFs** (``formats=("html",)``), on a portfolio of about ``--invoices``
   invoices (default 100,000, about 4,000 customers): once training the risk model (as the
   first run, or ``dunning demo``, does) and once with that model passed in as a bundle
   folder (``model=``, as a nightly ``dunning issue --model DIR`` does). Seconds and share
   of each stage, the total, and invoices and cases per second.
2. **With PDFs**, on another portfolio (seed ``--seed`` + 1) sized from the cases per
   customer of 1. to give about ``--pdf-cases`` cases (default 2,000, about 10,000
   customers), with the model of 1. (the nightly cost, without training). Seconds and
   share of each stage. The letter stage (HTML and PDF/UA letter, e-mail, atomic writes
   and the issuing transactions of every case) is compared with bare WeasyPrint:
   ``HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")`` on up to 20 of the run's own
   letter HTML files, one after the other in this process, its mean seconds times the
   number of PDF letters (the ratio column is seconds / that baseline).

Stage seconds are read from the pipeline's own progress records (logger
``dunning.progress``, the records with ``finished`` set), not from the messages; "between
stages" is the rest of the run's wall-clock time (opening the store, the run and audit
records outside a stage, the decision table, the review queue). ``--workers`` is the number
of processes rendering the letters (``run(workers=...)``), in every run. Times are
wall-clock ``time.perf_counter`` seconds of one run each (a run takes minutes).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import lightgbm
import weasyprint

# The shared report helpers; this script runs from benchmarks/.
from _report import Column, format_seconds, machine, peak_mib, print_table, usable_cpus

from dunning.datasets import make_portfolio
from dunning.models import Portfolio
from dunning.pipeline import RunResult, run

AS_OF = date(2026, 11, 23)
#: Invoices per customer of the demo portfolio (24.5 over two years, measured), for sizing.
INVOICES_PER_CUSTOMER = 24.5
#: Letters of the PDF run rendered by bare WeasyPrint for the baseline.
BARE_SAMPLE = 20
BETWEEN = "between stages"
LETTERS = "render and issue letters"
#: The first stage: training the model, or loading the one given (one row of the tables).
MODEL_STAGE = "train / load risk model"


class StageTimes(logging.Handler):
    """Collects the seconds of every finished stage from the ``dunning.progress`` records."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Keep a finished stage's seconds under its name without the counts in it."""
        if not getattr(record, "finished", False):
            return
        name = _stage_name(str(getattr(record, "stage", "?")))
        self.seconds[name] = self.seconds.get(name, 0.0) + float(getattr(record, "seconds", 0.0))


def _stage_name(name: str) -> str:
    """The stage's name without counts, e.g. ``render and issue letters``; the model stage."""
    if name in ("train risk model", "load risk model"):
        return MODEL_STAGE
    return re.sub(r"\s+", " ", re.sub(r"\b\d[\d,]*\b", "", name)).strip()


@dataclass(frozen=True)
class Timed:
    """One timed run: its result, wall-clock seconds and stage seconds in order."""

    result: RunResult
    seconds: float
    stages: Mapping[str, float]

    @property
    def between(self) -> float:
        """Wall-clock seconds of the run outside any stage."""
        return max(self.seconds - sum(self.stages.values()), 0.0)


@contextmanager
def collecting() -> Iterator[StageTimes]:
    """A :class:`StageTimes` handler on ``dunning.progress`` for the duration."""
    progress = logging.getLogger("dunning.progress")
    handler = StageTimes()
    level = progress.level
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        progress.removeHandler(handler)
        progress.setLevel(level)


def timed_run(portfolio: Portfolio, out: Path, **options: object) -> Timed:
    """``dunning.pipeline.run`` into the fresh folder ``out``, with its stage seconds."""
    with collecting() as stages:
        start = time.perf_counter()
        result = run(portfolio, as_of=AS_OF, out=out, **options)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    return Timed(result, seconds, dict(stages.seconds))


def stage_order(*runs: Timed) -> list[str]:
    """The stages of all runs in pipeline order (a stage missing from a run keeps its place)."""
    order: list[str] = []
    for one in runs:
        at = 0
        for name in one.stages:
            if name in order:
                at = order.index(name) + 1
            else:
                order.insert(at, name)
                at += 1
    return order


def _cell(one: Timed, name: str) -> tuple[str | None, str | None]:
    """Seconds and share of ``name`` in ``one``, blank when the run has no such stage."""
    seconds = one.between if name == BETWEEN else one.stages.get(name)
    if seconds is None:
        return None, None
    return format_seconds(seconds), f"{seconds / one.seconds:.1%}"


def bare_weasyprint(result: RunResult) -> tuple[float, int]:
    """Mean seconds of bare WeasyPrint on up to :data:`BARE_SAMPLE` of the run's letters."""
    manifest = result.manifest
    html = sorted(manifest.loc[manifest["format"] == "html", "path"].astype(str))
    if not html:
        return float("nan"), 0
    step = max(len(html) // BARE_SAMPLE, 1)
    sample = html[::step][:BARE_SAMPLE]
    texts = [Path(path).read_text(encoding="utf-8") for path in sample]
    weasyprint.HTML(string=texts[0]).write_pdf(pdf_variant="pdf/ua-1")  # warm the fonts
    start = time.perf_counter()
    for text in texts:
        weasyprint.HTML(string=text).write_pdf(pdf_variant="pdf/ua-1")
    return (time.perf_counter() - start) / len(texts), len(texts)


def counts_line(portfolio: Portfolio, one: Timed) -> str:
    """What the run handled: invoices, overdue open invoices, cases, letters, issued."""
    c = one.result.counts
    return (
        f"{len(portfolio.customers):,} customers, {len(portfolio.invoices):,} invoices, "
        f"{c['open_items']:,} open, {c['decisions']:,} overdue open invoices decided, "
        f"{c['cases']:,} cases ({c['needs_review']:,} routed to review, "
        f"{c.get('issued_cases', 0):,} issued), {c['letters_html']:,} HTML and "
        f"{c['letters_pdf']:,} PDF letters, {c.get('emails', 0):,} e-mails, "
        f"{c.get('case_reports', 0):,} case reports"
    )


def print_no_pdf(portfolio: Portfolio, trained: Timed, loaded: Timed) -> None:
    """Table 1: the stages of the two runs without PDFs, and the throughput."""
    columns = [
        Column("stage", 34, left=True),
        Column("trained: s", 12),
        Column("share", 8),
        Column("model given: s", 16),
        Column("share", 8),
    ]
    names = [*stage_order(trained, loaded), BETWEEN]
    rows: list[Sequence[object]] = [
        (name, *_cell(trained, name), *_cell(loaded, name)) for name in names
    ]
    rows.append(
        (
            "total",
            format_seconds(trained.seconds),
            "100.0%",
            format_seconds(loaded.seconds),
            "100.0%",
        )
    )
    print_table(columns, rows)
    print()
    invoices = len(portfolio.invoices)
    for label, one in (("trained", trained), ("model given", loaded)):
        c = one.result.counts
        print(
            f"  {label:<12} {invoices / one.seconds:>9,.0f} invoices/s   "
            f"{c['decisions'] / one.seconds:>7,.0f} overdue invoices/s   "
            f"{c['cases'] / one.seconds:>6,.1f} cases/s"
        )


def print_pdf(pdf: Timed, bare_s: float, sampled: int) -> None:
    """Table 2: the stages of the run with PDFs; the letter stage against bare WeasyPrint."""
    n_pdf = pdf.result.counts["letters_pdf"]
    baseline = bare_s * n_pdf
    columns = [
        Column("stage", 34, left=True),
        Column("seconds", 10),
        Column("share", 8),
        Column("baseline", 36, left=True, gap=2),
        Column("seconds", 10),
        Column("ratio", 7, ".2f"),
    ]
    rows: list[Sequence[object]] = []
    for name in [*stage_order(pdf), BETWEEN]:
        seconds, share = _cell(pdf, name)
        if name == LETTERS and n_pdf and not math.isnan(baseline):
            raw = pdf.stages[name]
            rows.append(
                (name, seconds, share, f"bare WeasyPrint x {n_pdf:,} letters",
                 format_seconds(baseline), raw / baseline)
            )  # fmt: skip
        else:
            rows.append((name, seconds, share))
    rows.append(("total", format_seconds(pdf.seconds), "100.0%"))
    print_table(columns, rows)
    print()
    if n_pdf:
        letters_s = pdf.stages.get(LETTERS, float("nan"))
        print(
            f"  letter stage {letters_s / pdf.result.counts['cases']:.3f} s per case; bare "
            f"WeasyPrint {bare_s:.3f} s per PDF (mean of {sampled} of the run's letters, "
            "1 process, after a warm-up letter)"
        )


def main() -> None:
    """Build the portfolios, time the runs, print two tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices of run 1")
    parser.add_argument("--pdf-cases", type=int, default=2_000, help="cases of the PDF run")
    parser.add_argument("--workers", type=int, default=1, help="letter-rendering processes")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default temp)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the demo portfolios")
    args = parser.parse_args()

    print(machine(weasyprint, lightgbm))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_run_") as temp:
        out = Path(temp) if args.out is None else args.out
        n_customers = max(1, round(args.invoices / INVOICES_PER_CUSTOMER))
        built = time.perf_counter()
        portfolio = make_portfolio(n_customers, seed=args.seed, as_of=AS_OF)
        built = time.perf_counter() - built
        workers = args.workers
        trained = timed_run(portfolio, out / "html-trained", formats=("html",), workers=workers)
        model_dir = trained.result.paths["model"]
        loaded = timed_run(
            portfolio, out / "html-model", formats=("html",), model=model_dir, workers=workers
        )

        per_customer = trained.result.counts["cases"] / n_customers
        pdf_customers = max(1, math.ceil(args.pdf_cases / max(per_customer, 1e-9)))
        pdf_portfolio = make_portfolio(pdf_customers, seed=args.seed + 1, as_of=AS_OF)
        pdf = timed_run(
            pdf_portfolio, out / "pdf", formats=("html", "pdf"), model=model_dir, workers=workers
        )
        bare_s, sampled = bare_weasyprint(pdf.result)
        total = time.perf_counter() - started

        print(
            f"Demo portfolio of {n_customers:,} customers built in {built:.1f} s; letters "
            f"rendered by {workers} process{'es' if workers > 1 else ''} "
            f"({usable_cpus()} usable CPUs). One run of each."
        )
        print()
        print(f"1. Without PDFs: {counts_line(portfolio, trained)}.")
        print(
            "   'trained' trains the risk model first (saved to model/); 'model given' is a "
            "nightly run with that bundle (run(model=DIR), dunning issue --model DIR)."
        )
        print()
        print_no_pdf(portfolio, trained, loaded)
        print()
        print(f"2. With PDFs: {counts_line(pdf_portfolio, pdf)}; the model of 1. given.")
        print()
        print_pdf(pdf, bare_s, sampled)
        print()
        print(
            "share = stage seconds / the run's seconds. The letter stage writes each case's "
            "HTML and PDF/UA letter and e-mail atomically and issues the approved cases in "
            "transactions with their documents and audit events; ratio = its seconds / the "
            "bare WeasyPrint estimate."
        )
        print(
            f"Peak memory {peak_mib():,.0f} MiB; whole benchmark {total:,.0f} s."
            + ("" if args.out is None else f" Output kept in {out}.")
        )


if __name__ == "__main__":
    main()
