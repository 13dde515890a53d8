"""Load customers, invoices, payments, dunning history and promises without losing a row.

:func:`load_portfolio` reads five tables (``history`` and ``promises`` may be left out; CSV
or Parquet files, or DataFrames), renames foreign columns, parses every cell strictly and
checks every rule of the schema (:data:`dunning.models.SCHEMAS`). Each input row ends up in
exactly one place: among the validated rows of :attr:`LoadResult.portfolio`, or in
:attr:`LoadResult.rejects` with a reason per problem. Only a table that cannot be used at
all (file missing, not CSV or Parquet, unreadable, required columns absent) raises
:class:`~dunning.errors.DataError`.

German ERP exports load as they are: ``;`` separators, decimal commas (``1.234,56``),
``dd.mm.yyyy`` dates, Windows-1252 text and UTF-8 byte-order marks are detected, or taken
from a :class:`CsvFormat`. Nothing is guessed: a value that could be read two ways
(``03/04/2026``, ``1.234``) is rejected with a reason naming the option that decides it.

Rows are numbered as in the source file: the header is line 1, the first data row line 2.
DataFrames and Parquet files are numbered as if written to CSV with a header (the first
row is 2). See ``docs/loading.md`` for the full guide.

Examples
--------
>>> from datetime import date
>>> import pandas as pd
>>> customers = pd.DataFrame({"customer_id": ["K1"], "name": ["Erika Mustermann"],
...     "country": ["DE"], "language": ["de"], "segment": ["B2C"]})
>>> invoices = pd.DataFrame({"invoice_id": ["R1", "R2"], "customer_id": ["K1", "K1"],
...     "issue_date": ["01.10.2026", "02.10.2026"], "due_date": ["15.10.2026", "16.10.2026"],
...     "amount": ["1.234,56", "-5,00"], "currency": ["EUR", "EUR"]})
>>> payments = pd.DataFrame({"payment_id": ["Z1"], "invoice_id": ["R2"],
...     "payment_date": ["20.10.2026"], "amount": ["5,00"], "currency": ["EUR"]})
>>> result = load_portfolio(customers, invoices, payments, as_of=date(2026, 11, 23))
>>> result.portfolio.invoices["amount"].tolist()
[Decimal('1234.56')]
>>> print(result.rejects[["table", "row", "column", "value"]].to_string(index=False))
   table  row     column value
invoices    3     amount -5,00
payments    2 invoice_id    R2
>>> print(*result.rejects["reason"], sep="\\n")
non_positive_amount: the amount must be greater than zero, got '-5,00'
unknown_invoice: invoice 'R2' was rejected (see the invoices rejects)
>>> dict(result.rows_accepted)
{'customers': 1, 'invoices': 1, 'payments': 0, 'history': 0, 'promises': 0}
"""

from __future__ import annotations

import codecs
import logging
import os
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dunning._csv import SEPARATORS, RawTable, read_frame, read_path
from dunning._parse import (
    THOUSANDS,
    Numbers,
    Parsed,
    as_text,
    isin,
    parse_bool,
    parse_channels,
    parse_code,
    parse_dates,
    parse_iban,
    parse_id,
    parse_int,
    parse_numbers,
)
from dunning.errors import DataError
from dunning.models import (
    CHANNELS,
    DATE_DTYPE,
    LANGUAGES,
    NACE_SECTIONS,
    SCHEMAS,
    SEGMENTS,
    ColumnSpec,
    Portfolio,
    is_valid_country,
)
from dunning.money import is_known_currency, minor_units
from dunning.typing import TableSource

__all__ = ["CsvFormat", "LoadResult", "load_portfolio", "reject_rules"]

logger = logging.getLogger(__name__)

#: Input tables, in load order (a later table refers to an earlier one).
TABLES: tuple[str, ...] = ("customers", "invoices", "payments", "history", "promises")
#: Columns of :attr:`LoadResult.rejects`.
REJECT_COLUMNS: tuple[str, ...] = ("table", "source", "row", "column", "value", "reason")
#: Columns of :attr:`LoadResult.quality`.
QUALITY_COLUMNS: tuple[str, ...] = ("table", "column", "check", "count", "rate")
#: ``column`` of a reject that concerns the whole line, not one cell.
ROW = "<row>"

_RULES: dict[str, str] = {
    "malformed_row": "the line splits into a different number of fields than the header",
    "empty_row": "the line has no values",
    "missing_required": "a required value is empty",
    "invalid_id": "an id is longer than 64 characters",
    "unparsable_number": "a number cannot be read (or is written in the other decimal format)",
    "ambiguous_number": "a number could use a decimal comma or point and the column does not tell",
    "unparsable_date": "a date cannot be read, is not a calendar day, or has a time of day",
    "ambiguous_date": "a slash date could be day-first or month-first and the column does not tell",
    "unknown_currency": "the currency is not an ISO 4217 code",
    "invalid_boolean": "a yes/no value is not true/false, yes/no, ja/nein or 1/0",
    "invalid_country": "the country is not an ISO 3166-1 alpha-2 code",
    "invalid_language": "the language is not one of the letter languages",
    "invalid_segment": "the segment is not B2C or B2B",
    "invalid_industry": "the industry is not a NACE section letter A–U",
    "invalid_channel": "a channel is not email, letter or sms",
    "invalid_iban": "the IBAN fails schwifty's country, length or checksum test",
    "invalid_level": "the dunning level is not a whole number from 1 to 5",
    "non_positive_amount": "an invoice or payment amount is zero or negative",
    "too_many_decimals": "an amount has more (non-zero) decimals than its currency allows",
    "due_before_issue": "the due date is before the issue date",
    "promise_before_made": "a promise's promised_by date is before its promised_on date",
    "after_as_of": "an issue, payment, dunning or promise date is after as_of",
    "duplicate_id": "an id occurs on more than one row (all such rows are rejected)",
    "unknown_customer": "the invoice's customer is not among the accepted customers",
    "unknown_invoice": (
        "the invoice of a payment, dunning step or promise is not among the accepted invoices"
    ),
    "currency_mismatch": "a payment's or promise's currency differs from its invoice's",
}
_ID_COLUMN = {
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
    "promises": "promise_id",
}
_DATED = {
    "invoices": "issue_date",
    "payments": "payment_date",
    "history": "issued_on",
    "promises": "promised_on",
}
#: (child table, column) → parent table, in check order.
_REFERENCES = (
    ("invoices", "customer_id", "customers"),
    ("payments", "invoice_id", "invoices"),
    ("history", "invoice_id", "invoices"),
    ("promises", "invoice_id", "invoices"),
)
_LEVELS = (1, 5)  # as dunning.models.DunningEvent allows
_MAX_DIGITS = 15  # as dunning.models.Invoice allows
_DTYPES = {"date": DATE_DTYPE, "money": "object", "bool": "boolean", "int": "int64"}


def reject_rules() -> Mapping[str, str]:
    """The reject rules: rule code → what the rule checks, in the order rules are checked.

    Every reject reason starts with one of these codes followed by ``": "``.

    Examples
    --------
    >>> rules = reject_rules()
    >>> rules["duplicate_id"]
    'an id occurs on more than one row (all such rows are rejected)'
    >>> len(rules)
    26
    """
    return MappingProxyType(_RULES)


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How to read text values; every field left ``None`` is detected.

    ``sep`` and ``encoding`` apply to CSV files; ``decimal``, ``thousands`` and
    ``date_format`` apply to every text value, from CSV files and from text columns of
    DataFrames and Parquet files.

    Parameters
    ----------
    sep : str or None
        Field separator. Detected from the header line: the most frequent of ``;``, tab
        and ``,`` outside quotes.
    decimal : {",", "."} or None
        Decimal mark of amounts. Detected per money column (see ``docs/loading.md``).
    thousands : str or None
        Thousands separator: ``""`` (none), ``"."``, ``","``, ``"'"``, a space or a
        narrow/no-break space. ``None`` allows the other of ``.`` and ``,`` in groups of
        three digits.
    date_format : str or None
        A :meth:`~datetime.datetime.strptime` format every date must match, e.g.
        ``"%m/%d/%Y"``. ``None`` reads ``yyyy-mm-dd``, ``dd.mm.yyyy`` and slash dates
        whose order the column decides.
    encoding : str or None
        Text encoding. Detected: a UTF-8 (or UTF-16) byte-order mark, else UTF-8 if the
        file decodes as UTF-8, else Windows-1252.

    Raises
    ------
    DataError
        If a field has a value no file could be read with.

    Examples
    --------
    >>> CsvFormat(sep=";", decimal=",", date_format="%d.%m.%Y", encoding="cp1252")
    CsvFormat(sep=';', decimal=',', thousands=None, date_format='%d.%m.%Y', encoding='cp1252')
    >>> CsvFormat(decimal=",", thousands=",")
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: CsvFormat: decimal and thousands are both ','; they must differ.
    """

    sep: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    date_format: str | None = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.sep is not None and (len(self.sep) != 1 or self.sep in '"\r\n'):
            msg = f"CsvFormat: sep must be one character such as {SEPARATORS}, got {self.sep!r}."
            raise DataError(msg)
        if self.decimal not in (None, ",", "."):
            msg = f"CsvFormat: decimal must be ',' or '.', got {self.decimal!r}."
            raise DataError(msg)
        if self.thousands is not None and self.thousands not in THOUSANDS:
            msg = f"CsvFormat: thousands must be one of {THOUSANDS}, got {self.thousands!r}."
            raise DataError(msg)
        if self.decimal is not None and self.decimal == self.thousands:
            msg = f"CsvFormat: decimal and thousands are both {self.decimal!r}; they must differ."
            raise DataError(msg)
        if self.date_format is not None:
            _check_date_format(self.date_format)
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError as exc:
                msg = f"CsvFormat: unknown encoding {self.encoding!r}; use a Python codec name."
                raise DataError(msg) from exc


def _check_date_format(fmt: str) -> None:
    sample = datetime(2026, 12, 24)
    try:
        ok = datetime.strptime(sample.strftime(fmt), fmt).date() == sample.date()
    except ValueError:
        ok = False
    if not ok:
        msg = (
            f"CsvFormat: date_format {fmt!r} does not read back the dates it writes; give a "
            "strptime format with day, month and four-digit year, e.g. '%d/%m/%Y'."
        )
        raise DataError(msg)


@dataclass(frozen=True)
class LoadResult:
    """What :func:`load_portfolio` accepted, what it rejected and why.

    Parameters
    ----------
    portfolio : Portfolio
        The accepted rows as canonical tables (columns and dtypes of
        :data:`dunning.models.SCHEMAS`, a fresh ``RangeIndex``, input order kept).
    rejects : pandas.DataFrame
        One line per problem, ordered by table and row, with columns ``table``,
        ``source`` (file path or ``"<DataFrame>"``), ``row`` (source line; header = 1),
        ``column`` (canonical name, or ``"<row>"`` for the whole line), ``value`` (the
        cell as read, stripped; ``""`` when empty) and ``reason`` (``"<code>: <text>"``,
        codes in :func:`reject_rules`). A row with several problems has several lines.
    quality : pandas.DataFrame
        Tidy data-quality summary, one line per table, column and check: ``table``,
        ``column``, ``check`` (``"missing"`` or a reject code), ``count`` and ``rate``
        (``count / rows_in``; 0 for an empty table). Every canonical column has a
        ``missing`` line (empty cells; an absent optional column is all missing); reject
        codes appear where they occurred.
    rows_in : Mapping[str, int]
        Records read per table (malformed lines included, header excluded).
    rows_accepted : Mapping[str, int]
        Rows per table in :attr:`portfolio`. For every table
        ``rows_in == rows_accepted + rows_rejected``.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> empty = {t: pd.DataFrame({s.name: [] for s in SCHEMAS[t]}) for t in TABLES}
    >>> result = load_portfolio(**empty, as_of=date(2026, 11, 23))
    >>> print(result.summary())
    table      rows_in  accepted  rejected
    customers        0         0         0
    invoices         0         0         0
    payments         0         0         0
    history          0         0         0
    promises         0         0         0
    No rows rejected.
    """

    portfolio: Portfolio
    rejects: pd.DataFrame
    quality: pd.DataFrame
    rows_in: Mapping[str, int]
    rows_accepted: Mapping[str, int]

    @property
    def rows_rejected(self) -> Mapping[str, int]:
        """Rejected rows per table (a row with several problems counts once)."""
        return MappingProxyType({t: self.rows_in[t] - self.rows_accepted[t] for t in self.rows_in})

    def summary(self) -> str:
        """Rows in, accepted and rejected per table, then reject counts by column and rule.

        Examples
        --------
        >>> from datetime import date
        >>> import pandas as pd
        >>> customers = pd.DataFrame({"customer_id": ["K1", "K1"], "name": ["A", "B"],
        ...     "country": ["DE", "DE"], "language": ["de", "de"], "segment": ["B2C", "B2B"]})
        >>> none = {t: pd.DataFrame({s.name: [] for s in SCHEMAS[t]})
        ...         for t in ("invoices", "payments")}
        >>> print(load_portfolio(customers, **none, as_of=date(2026, 11, 23)).summary())
        table      rows_in  accepted  rejected
        customers        2         0         2
        invoices         0         0         0
        payments         0         0         0
        history          0         0         0
        promises         0         0         0
        Rejects by column and rule:
          customers.customer_id  duplicate_id  2
        """
        lines = [f"{'table':<10} {'rows_in':>7} {'accepted':>9} {'rejected':>9}"]
        rejected = self.rows_rejected
        for table, n_in in self.rows_in.items():
            lines.append(
                f"{table:<10} {n_in:>7} {self.rows_accepted[table]:>9} {rejected[table]:>9}"
            )
        counts = self.quality.loc[self.quality["check"] != "missing"]
        if counts.empty:
            lines.append("No rows rejected.")
            return "\n".join(lines)
        lines.append("Rejects by column and rule:")
        where = counts["table"] + "." + counts["column"]
        width = max(where.str.len().max(), 1)
        rule_width = max(counts["check"].str.len().max(), 1)
        for place, check, count in zip(where, counts["check"], counts["count"], strict=True):
            lines.append(f"  {place:<{width}}  {check:<{rule_width}}  {count}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- tables


class _Rejects:
    """Reject records of one table, added while its rules run (positions, not lines)."""

    def __init__(self, n_rows: int) -> None:
        self.rejected = np.zeros(n_rows, dtype=bool)
        self._parts: list[
            tuple[npt.NDArray[np.intp], str, npt.NDArray[np.object_], npt.NDArray[np.object_]]
        ] = []

    def add(
        self,
        mask: pd.Series | npt.NDArray[np.bool_],
        column: str,
        value: pd.Series | str,
        reason: pd.Series | str | Callable[[npt.NDArray[np.bool_]], pd.Series],
    ) -> None:
        """Reject the rows where ``mask`` holds.

        ``value`` and ``reason`` Series are looked up by position label; a callable
        ``reason`` receives the mask and builds the reasons for those rows only.
        """
        mask = np.asarray(mask, dtype=bool)
        where = np.flatnonzero(mask)
        if len(where) == 0:
            return
        self.rejected[where] = True
        if isinstance(value, pd.Series):
            values = value.reindex(where).to_numpy(dtype=object, na_value="")
        else:
            values = np.full(len(where), value, dtype=object)
        if callable(reason):
            reason = reason(mask)
        if isinstance(reason, pd.Series):
            reasons = reason.reindex(where).to_numpy(dtype=object)
        else:
            reasons = np.full(len(where), reason, dtype=object)
        self._parts.append((where, column, values, reasons))

    def add_problems(self, column: str, text: pd.Series, problems: pd.Series) -> None:
        """Reject the cells a parser refused."""
        mask = problems.notna()
        if bool(mask.any()):
            self.add(mask, column, text, problems[mask])

    def arrays(
        self,
    ) -> tuple[
        npt.NDArray[np.intp],
        npt.NDArray[np.object_],
        npt.NDArray[np.object_],
        npt.NDArray[np.object_],
    ]:
        """Positions, columns, values and reasons, in the order the rules were checked."""
        if not self._parts:
            empty = np.empty(0, dtype=object)
            return np.empty(0, dtype=np.intp), empty, empty, empty
        return (
            np.concatenate([p[0] for p in self._parts]),
            np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in self._parts]),
            np.concatenate([p[2] for p in self._parts]),
            np.concatenate([p[3] for p in self._parts]),
        )


@dataclass
class _Table:
    """One table while it is being checked."""

    name: str
    raw: RawTable
    text: dict[str, pd.Series]
    empty: npt.NDArray[np.bool_]
    rejects: _Rejects
    values: dict[str, pd.Series]
    numbers: Numbers | None = None

    @property
    def accepted(self) -> npt.NDArray[np.bool_]:
        """Rows no rule has rejected so far."""
        return ~self.rejects.rejected


def _renames(
    mapping: Mapping[str, str] | Mapping[str, Mapping[str, str]] | None,
) -> dict[str, dict[str, str]]:
    """Per-table renames from a flat or a per-table ``mapping``."""
    if mapping is None:
        return {table: {} for table in TABLES}
    if not isinstance(mapping, Mapping):
        msg = f"mapping must be a mapping of column names, not {type(mapping).__name__}."
        raise TypeError(msg)
    values = list(mapping.values())
    if values and all(isinstance(v, Mapping) for v in values):
        unknown = sorted(set(mapping) - set(TABLES))
        if unknown:
            msg = (
                f"mapping: unknown table(s) {', '.join(map(repr, unknown))}; a per-table mapping "
                f"is keyed by {', '.join(map(repr, TABLES))}."
            )
            raise DataError(msg)
        nested = cast("Mapping[str, Mapping[str, str]]", mapping)
        per_table = {t: {str(k).strip(): v for k, v in nested.get(t, {}).items()} for t in TABLES}
        for table, renames in per_table.items():
            _check_targets(renames, {s.name for s in SCHEMAS[table]}, f"the {table} table")
        return per_table
    if all(isinstance(v, str) for v in values):
        flat = {str(k).strip(): str(v) for k, v in mapping.items()}
        _check_targets(flat, {s.name for t in TABLES for s in SCHEMAS[t]}, "any table")
        return dict.fromkeys(TABLES, flat)
    msg = (
        "mapping must either map column names to canonical names ({'Betrag': 'amount'}) or "
        "table names to such mappings ({'invoices': {'Betrag': 'amount'}}), not mix both."
    )
    raise TypeError(msg)


def _check_targets(renames: Mapping[str, object], canonical: set[str], where: str) -> None:
    bad = sorted(str(v) for v in renames.values() if v not in canonical)
    if bad:
        msg = (
            f"mapping: {', '.join(map(repr, bad))} is not a canonical column of {where}; "
            f"canonical columns are {', '.join(sorted(canonical))}."
        )
        raise DataError(msg)


def _read(source: TableSource | None, table: str, fmt: CsvFormat) -> RawTable:
    if source is None:
        empty = pd.DataFrame({spec.name: pd.Series(dtype="str") for spec in SCHEMAS[table]})
        return read_frame(empty, source="<none>")
    if isinstance(source, pd.DataFrame):
        return read_frame(source, source="<DataFrame>")
    if isinstance(source, str | os.PathLike):
        return read_path(Path(source), sep=fmt.sep, encoding=fmt.encoding)
    msg = (
        f"{table} must be the path of a .csv or .parquet file or a pandas DataFrame, "
        f"not {type(source).__name__}."
    )
    raise TypeError(msg)


def _locate(raw: RawTable, table: str, renames: Mapping[str, str]) -> dict[str, int]:
    """Position of each canonical column found; :class:`DataError` if a required one is absent."""
    canonical = {spec.name for spec in SCHEMAS[table]}
    found: dict[str, list[int]] = {}
    for position, name in enumerate(raw.names):
        target = renames.get(name, name)
        if target in canonical:
            found.setdefault(target, []).append(position)
    twice = {name: pos for name, pos in found.items() if len(pos) > 1}
    if twice:
        name, positions = sorted(twice.items())[0]
        sources = " and ".join(repr(raw.names[p]) for p in positions)
        msg = (
            f"{raw.source}: columns {sources} of the {table} table both give column {name!r}; "
            "drop one of them or change the mapping."
        )
        raise DataError(msg, path=raw.source)
    missing = [spec.name for spec in SCHEMAS[table] if spec.required and spec.name not in found]
    if missing:
        shown = ", ".join(repr(n) for n in raw.names) or "none"
        msg = (
            f"{raw.source}: the {table} table lacks the required column(s) "
            f"{', '.join(map(repr, missing))} (after mapping). Columns found: {shown}. "
            "Rename columns with mapping={'<column found>': '<required column>'} or add them."
        )
        raise DataError(msg, path=raw.source, missing=missing)
    return {name: positions[0] for name, positions in found.items()}


def _start(raw: RawTable, table: str, renames: Mapping[str, str]) -> _Table:
    """Locate the columns, read every canonical cell as text and find empty lines."""
    positions = _locate(raw, table, renames)
    n_rows = len(raw.frame)
    index = pd.RangeIndex(n_rows)
    text: dict[str, pd.Series] = {}
    for spec in SCHEMAS[table]:
        if spec.name in positions:
            text[spec.name] = as_text(raw.frame[positions[spec.name]]).set_axis(index)
        else:
            text[spec.name] = pd.Series(np.nan, index=index, dtype="str")
    empty = np.logical_and.reduce([t.isna().to_numpy() for t in text.values()])
    others = [p for p in range(len(raw.names)) if p not in positions.values()]
    if others and empty.any():
        candidates = np.flatnonzero(empty)
        for position in others:
            cells = as_text(raw.frame[position].iloc[candidates])
            empty[candidates[cells.notna().to_numpy()]] = False
    table_ = _Table(table, raw, text, empty, _Rejects(n_rows), {})
    table_.rejects.add(empty, ROW, "", "empty_row: the line has no values")
    return table_


#: Code-like kinds: (valid codes or test, case, rule code, what a valid value is).
_CODES: dict[
    str, tuple[Callable[[str], bool] | Collection[str], Literal["upper", "lower"], str, str]
] = {
    "currency": (
        is_known_currency,
        "upper",
        "unknown_currency",
        "an ISO 4217 currency code such as EUR, GBP, CHF or USD",
    ),
    "country": (
        is_valid_country,
        "upper",
        "invalid_country",
        "an ISO 3166-1 alpha-2 country code such as DE or GB",
    ),
    "language": (
        LANGUAGES,
        "lower",
        "invalid_language",
        f"a letter language ({', '.join(LANGUAGES)})",
    ),
    "segment": (SEGMENTS, "upper", "invalid_segment", f"a segment ({', '.join(SEGMENTS)})"),
    "industry": (NACE_SECTIONS, "upper", "invalid_industry", "a NACE section letter (A–U)"),
    "channel": (CHANNELS, "lower", "invalid_channel", f"a channel ({', '.join(CHANNELS)})"),
}


def _parse_column(spec: ColumnSpec, text: pd.Series, fmt: CsvFormat) -> Parsed | None:
    """Parse one column by its kind; ``None`` for free text (and money, parsed apart)."""
    kind = spec.kind
    if kind in _CODES:
        valid, case, code, expected = _CODES[kind]
        return parse_code(text, valid=valid, case=case, code=code, expected=expected)
    if kind == "id":
        return parse_id(text)
    if kind == "date":
        return parse_dates(text, date_format=fmt.date_format)
    if kind == "bool":
        return parse_bool(text)
    if kind == "channels":
        return parse_channels(text, channels=CHANNELS)
    if kind == "iban":
        return parse_iban(text)
    if kind == "int":
        low, high = _LEVELS
        return parse_int(text, low=low, high=high, code="invalid_level", what="a dunning level")
    return None


def _check_cells(table: _Table, fmt: CsvFormat) -> None:
    """Parse every cell; reject empty required cells and cells that do not parse."""
    for spec in SCHEMAS[table.name]:
        text = table.text[spec.name]
        if spec.required:
            table.rejects.add(
                text.isna().to_numpy() & ~table.empty,
                spec.name,
                "",
                f"missing_required: {spec.name} is required but empty",
            )
        if spec.kind == "money":
            numbers = parse_numbers(text, decimal=fmt.decimal, thousands=fmt.thousands)
            table.numbers = numbers
            table.rejects.add_problems(spec.name, text, numbers.problems)
            _note(table, spec.name, numbers.note, text)
            continue
        parsed = _parse_column(spec, text, fmt)
        if parsed is None:
            table.values[spec.name] = text
            continue
        table.values[spec.name] = parsed.values
        table.rejects.add_problems(spec.name, text, parsed.problems)
        _note(table, spec.name, parsed.note, text)


def _note(table: _Table, column: str, note: str, text: pd.Series) -> None:
    if note and bool(text.notna().any()):
        logger.info("%s.%s: read as %s", table.name, column, note)


def _check_money(table: _Table) -> None:
    """Amounts must be positive and have no more decimals than their currency allows."""
    numbers = table.numbers
    if numbers is None:
        return
    text = table.text["amount"]
    table.rejects.add(
        numbers.negative | numbers.zero,
        "amount",
        text,
        lambda m: (
            "non_positive_amount: the amount must be greater than zero, got '" + text[m] + "'"
        ),
    )
    currency = table.values["currency"]
    if table.name == "promises":
        table.rejects.add(
            (text.notna() & table.text["currency"].isna()).to_numpy(),
            "currency",
            "",
            "missing_required: currency is required when an amount is given",
        )
    places = pd.Series(pd.NA, index=currency.index, dtype="Int64")
    for code in currency.dropna().unique():
        if is_known_currency(code):
            places[isin(currency, [str(code)])] = minor_units(str(code))
    length = numbers.integer.str.len() + places
    table.rejects.add(
        (length > _MAX_DIGITS).fillna(False).astype(bool),
        "amount",
        text,
        lambda m: (
            "unparsable_number: '"
            + text[m]
            + "' has "
            + length[m].astype(str)
            + f" digits with its decimals; amounts have at most {_MAX_DIGITS}"
        ),
    )
    too_many = (numbers.integer.notna() & (numbers.decimals > places)).fillna(False).astype(bool)
    table.rejects.add(
        too_many,
        "amount",
        text,
        lambda m: (
            "too_many_decimals: '"
            + text[m]
            + "' has "
            + numbers.decimals[m].astype(str)
            + " decimals; "
            + currency[m]
            + " allows "
            + places[m].astype(str)
        ),
    )
    table.values["amount"] = numbers.integer


def _check_rows(table: _Table, cutoff: pd.Timestamp) -> None:
    """Rules within one row or one table: dates, amounts, unique ids."""
    name = table.name
    if name == "invoices":
        issue, due = table.values["issue_date"], table.values["due_date"]
        early = (due < issue).to_numpy()
        if early.any():
            reason = (
                "due_before_issue: due date "
                + due[early].dt.strftime("%Y-%m-%d")
                + " is before issue date "
                + issue[early].dt.strftime("%Y-%m-%d")
            )
            table.rejects.add(early, "due_date", table.text["due_date"], reason)
    if name == "promises":
        made, by = table.values["promised_on"], table.values["promised_by"]
        early = (by < made).fillna(False).to_numpy(dtype=bool)
        if early.any():
            reason = (
                "promise_before_made: promised_by "
                + by[early].dt.strftime("%Y-%m-%d")
                + " is before promised_on "
                + made[early].dt.strftime("%Y-%m-%d")
            )
            table.rejects.add(early, "promised_by", table.text["promised_by"], reason)
    if name in ("invoices", "payments", "promises"):
        _check_money(table)
    if name in _DATED:
        column = _DATED[name]
        dates = table.values[column]
        late = (dates > cutoff).to_numpy()
        if late.any():
            reason = (
                f"after_as_of: {column.replace('_', ' ')} "
                + dates[late].dt.strftime("%Y-%m-%d")
                + f" is after as_of {cutoff:%Y-%m-%d}"
            )
            table.rejects.add(late, column, table.text[column], reason)
    if name in _ID_COLUMN:
        _check_unique(table, _ID_COLUMN[name])


def _check_unique(table: _Table, column: str) -> None:
    """Every row whose id occurs more than once is rejected, the first one too."""
    ids = table.text[column]
    twice = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    if not twice.any():
        return
    found = pd.DataFrame({"id": ids[twice], "line": table.raw.lines[twice]})
    listed = found.groupby("id", sort=False)["line"].agg(
        lambda lines: (
            f"{len(lines)} rows (lines {', '.join(map(str, lines.iloc[:5]))}"
            + (", …)" if len(lines) > 5 else ")")
        )
    )
    reason = "duplicate_id: '" + found["id"] + "' is on " + found["id"].map(listed)
    reason = reason + "; all of them are rejected"
    table.rejects.add(twice, column, ids, reason)


def _check_reference(child: _Table, column: str, parent: _Table) -> None:
    """The referenced row must exist and be accepted."""
    ids = child.text[column]
    if not bool(ids.notna().any()):
        return
    parent_ids = parent.text[column]
    unknown = ids.notna().to_numpy() & ~isin(ids, parent_ids[parent.accepted].dropna())
    if not unknown.any():
        return
    wanted = ids[unknown]
    was_rejected = isin(wanted, parent_ids.dropna())
    noun = column.removesuffix("_id")
    code = f"unknown_{noun}"
    reason = (f"{code}: {noun} '" + wanted + f"' is not in the {parent.name} table").where(
        ~was_rejected,
        f"{code}: {noun} '" + wanted + f"' was rejected (see the {parent.name} rejects)",
    )
    child.rejects.add(unknown, column, ids, reason)


def _check_currency_match(payments: _Table, invoices: _Table) -> None:
    """A payment (or promise with an amount) is in its invoice's currency."""
    if not len(payments.text["invoice_id"]):
        return
    accepted = invoices.accepted
    invoice_ids = pd.Index(invoices.text["invoice_id"][accepted])
    at = invoice_ids.get_indexer(payments.text["invoice_id"])
    found = at >= 0
    currencies = np.concatenate(
        [invoices.values["currency"][accepted].to_numpy(dtype=object), np.array([None])]
    )
    expected = pd.Series(
        currencies[np.where(found, at, -1)], index=payments.values["currency"].index, dtype="str"
    )
    paid = payments.values["currency"]
    known = [c for c in paid.dropna().unique() if is_known_currency(c)]
    differs = found & isin(paid, known) & (paid != expected).to_numpy()
    payments.rejects.add(
        differs,
        "currency",
        payments.text["currency"],
        lambda m: (
            f"currency_mismatch: the {payments.name.removesuffix('s')} is in "
            + paid[m]
            + " but invoice '"
            + payments.text["invoice_id"][m]
            + "' is in "
            + expected[m]
        ),
    )


# --------------------------------------------------------------------------- results


def _canonical(table: _Table) -> pd.DataFrame:
    """Accepted rows with canonical columns and dtypes."""
    keep = table.accepted
    n = int(keep.sum())
    columns: dict[str, object] = {}
    for spec in SCHEMAS[table.name]:
        if spec.kind == "money":
            amounts = [
                Decimal(text) if isinstance(text, str) else None
                for text in _minor_unit_text(table, keep)
            ]
            columns[spec.name] = pd.Series(amounts, dtype="object", index=pd.RangeIndex(n))
        else:
            dtype = pd.api.types.pandas_dtype(_DTYPES.get(spec.kind, "str"))
            columns[spec.name] = table.values[spec.name][keep].reset_index(drop=True).astype(dtype)
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def _minor_unit_text(table: _Table, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    """Accepted amounts as text with exactly the currency's number of decimals.

    ``Decimal`` of this text equals :func:`dunning.money.quantize` of the amount, digit for
    digit: an amount never has more decimals than its currency allows (those were
    rejected), so quantizing could only append zeros. Appending them here, in one
    vectorised step, keeps a million amounts fast; no rounding happens anywhere.
    """
    if table.numbers is None:
        return np.empty(0, dtype=object)
    integer = table.numbers.integer[keep].reset_index(drop=True)
    fraction = table.numbers.fraction[keep].reset_index(drop=True)
    currency = table.values["currency"][keep].reset_index(drop=True)
    out = integer.copy()
    for code in currency.dropna().unique():
        places = minor_units(str(code))
        if places:
            rows = isin(currency, [str(code)])
            out[rows] = integer[rows] + "." + fraction[rows].str.pad(places, "right", "0")
    return out.to_numpy(dtype=object)


def _rejects(tables: Mapping[str, _Table]) -> pd.DataFrame:
    """All reject records, ordered by table, then row, then the order rules were checked."""
    columns: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in REJECT_COLUMNS}
    rank: list[npt.NDArray[np.int64]] = []
    for number, (name, table) in enumerate(tables.items()):
        where, column, value, reason = table.rejects.arrays()
        bad = table.raw.malformed
        lines = np.concatenate([table.raw.lines[where], bad["line"].to_numpy(dtype=np.int64)])
        malformed = [
            f"malformed_row: line {line} {detail}"
            for line, detail in zip(bad["line"], bad["detail"], strict=True)
        ]
        columns["row"].append(lines)
        columns["column"].append(np.concatenate([column, np.full(len(bad), ROW, dtype=object)]))
        columns["value"].append(np.concatenate([value, bad["text"].to_numpy(dtype=object)]))
        columns["reason"].append(np.concatenate([reason, np.array(malformed, dtype=object)]))
        columns["table"].append(np.full(len(lines), name, dtype=object))
        columns["source"].append(np.full(len(lines), table.raw.source, dtype=object))
        rank.append(np.full(len(lines), number, dtype=np.int64))
    joined = {name: np.concatenate(parts) for name, parts in columns.items()}
    order = np.lexsort((joined["row"], np.concatenate(rank)))  # stable: check order kept
    return pd.DataFrame(
        {
            name: pd.Series(values[order], dtype="int64" if name == "row" else "str")
            for name, values in joined.items()
        }
    )


def _quality(tables: Mapping[str, _Table], rejects: pd.DataFrame) -> pd.DataFrame:
    """Missing cells and reject counts per table, column and rule."""
    reasons = pa.array(rejects["reason"], type=pa.large_string())
    codes = pc.list_element(pc.split_pattern(reasons, ":", max_splits=1), 0)
    found = Counter(
        zip(
            rejects["table"].to_numpy(dtype=object),
            rejects["column"].to_numpy(dtype=object),
            codes.to_numpy(zero_copy_only=False),
            strict=True,
        )
    )
    records: list[tuple[str, str, str, int, float]] = []
    for name, table in tables.items():
        n_in = table.raw.rows_in
        for column in [spec.name for spec in SCHEMAS[name]] + [ROW]:
            counts: dict[str, int] = {}
            if column != ROW:
                counts["missing"] = int(table.text[column].isna().sum())
            for code in _RULES:
                if (name, column, code) in found:
                    counts[code] = found[(name, column, code)]
            records.extend(
                (name, column, check, n, n / n_in if n_in else 0.0) for check, n in counts.items()
            )
    return pd.DataFrame(records, columns=list(QUALITY_COLUMNS)).astype(
        {"table": "str", "column": "str", "check": "str", "count": "int64", "rate": "float64"}
    )


def load_portfolio(
    customers: TableSource,
    invoices: TableSource,
    payments: TableSource,
    history: TableSource | None = None,
    promises: TableSource | None = None,
    *,
    as_of: date,
    mapping: Mapping[str, str] | Mapping[str, Mapping[str, str]] | None = None,
    csv: CsvFormat | None = None,
) -> LoadResult:
    """Read and validate the input tables; every row is accepted or rejected with reasons.

    Parameters
    ----------
    customers, invoices, payments : str, os.PathLike or pandas.DataFrame
        A ``.csv`` or ``.parquet`` file (by extension) or a DataFrame.
    history : str, os.PathLike, pandas.DataFrame or None
        The dunning steps already taken; ``None`` for none.
    promises : str, os.PathLike, pandas.DataFrame or None
        The customers' payment promises (``docs/schema.md``); ``None`` for none.
    as_of : datetime.date
        The decision date: issue, payment, dunning and promise dates after it are rejected.
    mapping : Mapping or None
        Renames foreign columns to canonical ones. Either one flat mapping applied to every
        table (``{"Rechnungsnummer": "invoice_id", "Kundennummer": "customer_id"}``), or
        one mapping per table (``{"invoices": {"Betrag": "amount"}, "payments": {...}}``),
        for when the same foreign name means different things in different tables.
        Columns that are neither canonical nor mapped are ignored.
    csv : CsvFormat or None
        How to read text; fields left ``None`` are detected.

    Returns
    -------
    LoadResult
        The validated portfolio, the rejects, a data-quality summary and row counts.

    Raises
    ------
    DataError
        If a table cannot be used at all: the file is missing, not ``.csv``/``.parquet``,
        unreadable or empty, or lacks required columns after ``mapping`` (``.path`` names the
        file, ``.missing`` all absent columns); or if ``mapping`` names unknown columns.
    TypeError
        If a table is neither a path nor a DataFrame, or ``as_of`` is not a date.

    Notes
    -----
    Rules are checked per cell (empty, parse, code lists), per row and table (amount > 0,
    decimals, due date, dates after ``as_of``, unique ids), then across tables in the
    order customers → invoices → payments → history → promises, so that a rejected
    customer rejects its invoices, and a rejected invoice its payments, dunning steps and
    promises
    (:func:`reject_rules` lists every rule). A row with several problems has one reject
    line per problem. Rejects are counted in one WARNING log line per table.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> customers = pd.DataFrame({"Kundennummer": ["K1"], "name": ["Ada GmbH"],
    ...     "country": ["DE"], "language": ["de"], "segment": ["B2B"]})
    >>> invoices = pd.DataFrame({"Rechnungsnummer": ["R1"], "Kundennummer": ["K1"],
    ...     "issue_date": ["2026-10-01"], "due_date": ["2026-10-31"], "amount": ["119.00"],
    ...     "currency": ["EUR"]})
    >>> payments = pd.DataFrame({"payment_id": ["Z1"], "Rechnungsnummer": ["R9"],
    ...     "payment_date": ["2026-10-05"], "amount": ["19.00"], "currency": ["EUR"]})
    >>> result = load_portfolio(customers, invoices, payments, as_of=date(2026, 11, 23),
    ...     mapping={"Kundennummer": "customer_id", "Rechnungsnummer": "invoice_id"})
    >>> result.portfolio.invoices.loc[0, "amount"]
    Decimal('119.00')
    >>> result.rejects.loc[0, "reason"]
    "unknown_invoice: invoice 'R9' is not in the invoices table"
    """
    if not isinstance(as_of, date):
        msg = f"as_of must be a datetime.date, not {type(as_of).__name__}."
        raise TypeError(msg)
    cutoff = pd.Timestamp(as_of.year, as_of.month, as_of.day)
    fmt = csv if csv is not None else CsvFormat()
    renames = _renames(mapping)
    sources = {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "history": history,
        "promises": promises,
    }
    raws = {name: _read(sources[name], name, fmt) for name in TABLES}
    for name, raw in raws.items():
        if raw.encoding is not None:
            logger.info("%s: %s read as %s, separator %r", name, raw.source, raw.encoding, raw.sep)
    tables = {name: _start(raws[name], name, renames[name]) for name in TABLES}
    for table in tables.values():
        _check_cells(table, fmt)
        _check_rows(table, cutoff)
    for child, column, parent in _REFERENCES:
        _check_reference(tables[child], column, tables[parent])
        if child in ("payments", "promises"):
            _check_currency_match(tables[child], tables["invoices"])

    frames = {name: _canonical(table) for name, table in tables.items()}
    rejects = _rejects(tables)
    quality = _quality(tables, rejects)
    rows_in = {name: table.raw.rows_in for name, table in tables.items()}
    rows_accepted = {name: len(frame) for name, frame in frames.items()}
    _log(rows_in, rows_accepted, quality)
    return LoadResult(
        portfolio=Portfolio(
            customers=frames["customers"],
            invoices=frames["invoices"],
            payments=frames["payments"],
            history=frames["history"],
            promises=frames["promises"],
        ),
        rejects=rejects,
        quality=quality,
        rows_in=MappingProxyType(rows_in),
        rows_accepted=MappingProxyType(rows_accepted),
    )


def _log(
    rows_in: Mapping[str, int], rows_accepted: Mapping[str, int], quality: pd.DataFrame
) -> None:
    counts = (
        quality.loc[quality["check"] != "missing"]
        .groupby(["table", "check"], sort=False)["count"]
        .sum()
    )
    for table, n_in in rows_in.items():
        rejected = n_in - rows_accepted[table]
        if rejected:
            by_rule = ", ".join(f"{check} {count}" for check, count in counts.loc[table].items())
            logger.warning("%s: %d of %d rows rejected (%s)", table, rejected, n_in, by_rule)
