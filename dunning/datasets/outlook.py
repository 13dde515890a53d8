"""The industry outlook index: an external factor per NACE section and quarter.

An outlook index says how business in an industry is expected to go in a quarter;
100 is neutral, below 100 is a downturn. The demo portfolio
(:func:`dunning.datasets.make_portfolio`) lets it drive how fast businesses pay, and the
scoring stage can use it as a feature through :func:`outlook_on`.

The table shipped with the package (``dunning/datasets/data/industry_outlook.csv``, all 21
NACE Rev. 2 sections A … U, quarters 2023Q1 … 2027Q4) holds **illustrative values, not
real statistics**. Replace it with your own table of the same shape (columns ``industry``,
``quarter``, ``index``) via ``industry_outlook(path)``.

Examples
--------
>>> from datetime import date
>>> import pandas as pd
>>> table = industry_outlook()
>>> table.columns.tolist(), len(table)
(['industry', 'quarter', 'index'], 420)
>>> outlook_on(pd.Series(["F", "J", None]), date(2025, 2, 1), table).tolist()
[83.0, 98.4, nan]
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from datetime import date
from importlib.resources import files

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError
from dunning.models import NACE_SECTIONS

__all__ = ["OUTLOOK_COLUMNS", "industry_outlook", "outlook_on"]

logger = logging.getLogger(__name__)

#: Columns of an industry outlook table, in order.
OUTLOOK_COLUMNS: tuple[str, ...] = ("industry", "quarter", "index")

_PACKAGED = "data/industry_outlook.csv"
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def industry_outlook(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load an industry outlook table: NACE section × quarter → index (100 = neutral).

    Parameters
    ----------
    path : str or os.PathLike or None
        A CSV file with the columns ``industry`` (NACE Rev. 2 section letter ``A`` … ``U``),
        ``quarter`` (``YYYYQn``, e.g. ``2026Q4``) and ``index`` (a positive number).
        Lines starting with ``#`` are comments. ``None`` loads the table shipped with the
        package, whose values are **illustrative, not real statistics**.

    Returns
    -------
    pandas.DataFrame
        Columns ``industry`` and ``quarter`` (``str``) and ``index`` (``float64``), one row
        per industry and quarter, sorted by industry and quarter.

    Raises
    ------
    DataError
        If the file is missing or unreadable, a column is absent, or a row has an unknown
        industry, a malformed quarter, a non-positive or non-numeric index, or repeats an
        (industry, quarter) pair. The message names the file and the first offending line.

    Examples
    --------
    >>> table = industry_outlook()
    >>> print(table.head(2).to_string(index=False))
    industry quarter  index
           A  2023Q1   95.9
           A  2023Q2   98.4
    >>> sorted(table["industry"].unique()) == list("ABCDEFGHIJKLMNOPQRSTU")
    True
    """
    if path is None:
        name = f"dunning.datasets/{_PACKAGED}"
        text = files("dunning.datasets").joinpath(_PACKAGED).read_text(encoding="utf-8")
    else:
        name = os.fspath(path)
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except OSError as exc:
            msg = (
                f"{name}: cannot read the industry outlook table ({exc.strerror}); "
                "give the path of a CSV file with columns industry, quarter, index."
            )
            raise DataError(msg, path=name) from exc
    return _parse(text, name)


def _parse(text: str, name: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{name}: not a readable CSV file ({exc}); expected columns industry, quarter, index."
        raise DataError(msg, path=name) from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in OUTLOOK_COLUMNS if c not in raw.columns]
    if missing:
        msg = (
            f"{name}: required column(s) {', '.join(missing)} missing; an industry outlook "
            f"table needs the columns industry, quarter, index (found: {', '.join(raw.columns)})."
        )
        raise DataError(msg, path=name, missing=missing)
    industry = raw["industry"].str.strip()
    quarter = raw["quarter"].str.strip()
    index = pd.to_numeric(raw["index"].str.strip(), errors="coerce")
    # Rows are counted among data lines (header and comments not counted).
    problems = [
        (~industry.isin(NACE_SECTIONS), "industry", "is not a NACE section letter A … U"),
        (~quarter.str.fullmatch(_QUARTER.pattern), "quarter", "is not a quarter like 2026Q4"),
        (~(np.isfinite(index) & (index > 0)), "index", "is not a positive number"),
        (raw.duplicated(["industry", "quarter"], keep=False), "quarter", "is repeated"),
    ]
    for bad, column, what in problems:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (
                f"{name}: data row {row + 1}, column {column!r}: {raw[column].iloc[row]!r} "
                f"{what}; fix or remove that row."
            )
            raise DataError(msg, path=name)
    table = pd.DataFrame(
        {
            "industry": industry.astype("str"),
            "quarter": quarter.astype("str"),
            "index": index.astype("float64"),
        }
    )
    return table.sort_values(["industry", "quarter"], ignore_index=True)


@dataclass(frozen=True, slots=True)
class _Grid:
    """An outlook table as a dense array: rows NACE sections A … U, columns quarters."""

    values: npt.NDArray[np.float64]
    first: int  # ordinal (year * 4 + quarter - 1) of column 0


def _grid(table: pd.DataFrame) -> _Grid:
    parts = table["quarter"].astype(str).str.extract(_QUARTER)
    ordinal = parts[0].astype(np.int64).to_numpy() * 4 + parts[1].astype(np.int64).to_numpy() - 1
    rows = _section_codes(table["industry"])
    first = int(ordinal.min()) if len(ordinal) else 0
    width = int(ordinal.max()) - first + 1 if len(ordinal) else 0
    values = np.full((len(NACE_SECTIONS), width), np.nan)
    keep = rows >= 0
    values[rows[keep], ordinal[keep] - first] = table["index"].to_numpy(np.float64)[keep]
    return _Grid(values, first)


def _section_codes(industries: pd.Series) -> npt.NDArray[np.int64]:
    """Row of each NACE letter in :data:`NACE_SECTIONS`; -1 for missing or unknown."""
    codes = pd.Index(NACE_SECTIONS).get_indexer(pd.Index(industries, dtype=object))
    return np.asarray(codes, dtype=np.int64)


def _quarter_ordinals(days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """``year * 4 + quarter - 1`` of each day (NaT gives a very negative number)."""
    months = days.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return np.floor_divide(months, 3) + 1970 * 4


def _lookup(
    grid: _Grid, sections: npt.NDArray[np.int64], ordinals: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    col = ordinals - grid.first
    ok = (sections >= 0) & (col >= 0) & (col < grid.values.shape[1])
    out = np.full(len(sections), np.nan)
    out[ok] = grid.values[sections[ok], col[ok]]
    return out


def outlook_on(
    industries: pd.Series,
    on: date | pd.Series,
    table: pd.DataFrame | None = None,
) -> pd.Series:
    """The outlook index of each industry in the quarter of a day.

    Parameters
    ----------
    industries : pandas.Series
        NACE section letters; missing values allowed.
    on : datetime.date or pandas.Series
        One day for all rows, or one day per row (same length as ``industries``, matched
        by position; ``NaT`` allowed).
    table : pandas.DataFrame or None
        An outlook table as returned by :func:`industry_outlook`; ``None`` uses the
        packaged (illustrative) table.

    Returns
    -------
    pandas.Series
        ``float64``, named ``"outlook"``, with the index of ``industries``. ``NaN`` where the
        industry is missing or unknown, the day is missing, or the table has no value for
        that industry and quarter: nothing is extrapolated or made up.

    Raises
    ------
    DataError
        If ``on`` is a Series of a different length than ``industries``.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.Series(pd.to_datetime(["2024-03-31", "2024-04-01", "2031-01-01"]))
    >>> outlook_on(pd.Series(["C", "C", "C"]), days).tolist()
    [90.5, 90.3, nan]
    """
    if table is None:
        table = industry_outlook()
    if isinstance(on, pd.Series):
        if len(on) != len(industries):
            msg = (
                f"outlook_on: 'on' has {len(on)} days but 'industries' has {len(industries)} "
                "rows; give one day per row or a single date."
            )
            raise DataError(msg, path="<on>")
        days = pd.to_datetime(on).to_numpy(dtype="datetime64[D]")
    else:
        days = np.full(len(industries), np.datetime64(on, "D"))
    values = _lookup(_grid(table), _section_codes(industries), _quarter_ordinals(days))
    return pd.Series(values, index=industries.index, name="outlook", dtype="float64")
