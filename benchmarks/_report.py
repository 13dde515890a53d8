"""Shared helpers of the benchmark scripts: timing, tables and the machine line.

Private to ``benchmarks/``: the scripts run as ``python benchmarks/bench_x.py``, which puts
this folder on ``sys.path``, so they import it as ``from _report import ...``.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


def best_of(repeat: int, func: Callable[[], T]) -> tuple[float, T]:
    """Best wall-clock seconds of ``repeat`` calls (at least one), and the last result."""
    start = time.perf_counter()
    result = func()
    best = time.perf_counter() - start
    for _ in range(repeat - 1):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def format_seconds(value: float) -> str:
    """Seconds with four significant digits below 10 s (bare evaluations take milliseconds)."""
    return f"{value:.4g}" if value < 10 else f"{value:.1f}"


def usable_cpus() -> int:
    """The CPUs this process may run on (all logical CPUs where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def peak_mib() -> float:
    """The process's peak resident memory so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine(*libraries: ModuleType) -> str:
    """What the timings were measured on: CPUs, Python, numpy, pandas and ``libraries``."""
    versions = ", ".join(
        f"{module.__name__} {module.__version__}" for module in (np, pd, *libraries)
    )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs ({usable_cpus()} usable), "
        f"Python {platform.python_version()}, {versions}; load average at start {load}.\n"
        "Timings depend on the machine and vary with its load (other processes, CPU "
        "frequency); compare ratios within one run, not seconds across machines."
    )


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One column of a table: its title, width, value format and alignment.

    ``spec`` formats numbers (``format(value, spec)``); strings are printed as they are
    and ``None`` (or a missing cell at the end of a row) as blanks. ``gap`` is the
    spacing before the column.
    """

    title: str
    width: int = 0
    spec: str = ""
    left: bool = False
    gap: int = 0

    def cell(self, value: object) -> str:
        """``value`` formatted and padded to the column's width."""
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            text = format(value, self.spec)
        padded = text.ljust(self.width) if self.left else text.rjust(self.width)
        return " " * self.gap + padded


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """A header, a rule as wide as the header, then one line per row as it comes.

    A row may be shorter than ``columns``: its last cells are blank.
    """
    header = "".join(column.cell(column.title) for column in columns)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = [*row, *[None] * (len(columns) - len(row))]
        line = "".join(column.cell(value) for column, value in zip(columns, cells, strict=True))
        print(line.rstrip())


@dataclass(frozen=True)
class Row:
    """One timed step, optionally next to a baseline timed in the same run."""

    step: str
    rows: int
    seconds: float
    baseline: str = ""
    baseline_seconds: float | None = None
    note: str = ""


def print_rows(
    rows: Iterable[Row],
    *,
    step_width: int = 36,
    baseline_width: int = 38,
    ratio_digits: int = 2,
) -> None:
    """The steps with their rows per second and ratio to the baseline (seconds / baseline)."""
    columns = [
        Column("step", step_width, left=True),
        Column("rows", 12, ","),
        Column("seconds", 10),
        Column("rows/s", 12, ",.0f"),
        Column("baseline", baseline_width, left=True, gap=2),
        Column("seconds", 10),
        Column("ratio", 8, f".{ratio_digits}f"),
        Column("note", left=True, gap=2),
    ]
    print_table(
        columns,
        (
            (
                row.step,
                row.rows,
                format_seconds(row.seconds),
                row.rows / row.seconds,
                row.baseline,
                None if row.baseline_seconds is None else format_seconds(row.baseline_seconds),
                None if row.baseline_seconds is None else row.seconds / row.baseline_seconds,
                row.note,
            )
            for row in rows
        ),
    )
