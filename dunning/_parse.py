"""Parse one column of raw cells into canonical values, with a reason for every refusal.

Private helper of :mod:`dunning.io`. Every parser takes one column (a pandas Series with a
positional index, as produced by :func:`as_text`) and returns the canonical values together
with a ``problems`` Series: ``NA`` where the cell is fine or empty, otherwise the reject
reason ``"<code>: <what is wrong>"``. Parsers never decide whether an empty cell is allowed;
that is the caller's rule.

Everything is vectorised: regular expressions run in Arrow (RE2), and columns with few
distinct values (dates, codes, IBANs) are parsed once per distinct value. Nothing is ever
guessed: a number whose decimal mark cannot be told from the column, or a slash date that
could be read day-first or month-first, is refused with a reason that names the option to
pass.

Examples
--------
>>> import pandas as pd
>>> text = as_text(pd.Series(["1.234,56", " 12,50 ", "30.00", ""], dtype="str"))
>>> numbers = parse_numbers(text, decimal=None, thousands=None)
>>> numbers.note
"decimal ',' thousands '.'"
>>> print(numbers.problems.tolist()[2])  # doctest: +NORMALIZE_WHITESPACE
unparsable_number: '30.00' is not a number in this column's format (decimal ',',
e.g. '1.234,56'); did you mean '30,00'?
>>> dates = parse_dates(as_text(pd.Series(["24.12.2026", "2026-12-24"])), date_format=None)
>>> dates.values.dt.strftime("%Y-%m-%d").tolist()
['2026-12-24', '2026-12-24']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

#: Spellings accepted for a boolean cell (compared in lower case).
BOOLEANS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "ja": True,
    "nein": False,
    "1": True,
    "0": False,
}
#: Characters accepted as a thousands separator when one is given explicitly.
THOUSANDS: tuple[str, ...] = ("", ".", ",", "'", " ", "\u00a0", "\u202f")
#: Dates must fit ``datetime64[ns]``.
_FIRST_YEAR, _LAST_YEAR = 1678, 2261
_ISO = r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$"
_GERMAN = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$"
_SLASH = r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})$"
_TIMED = r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"
_CHANNEL_SPLIT = re.compile(r"[,;|\s]+")
#: Characters stripped from both ends of every cell: Unicode white space, the byte-order
#: mark and zero-width spaces (invisible, and never part of a value).
_BLANK = (
    "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff\u200b\u200c\u200d\u2060"
)


@dataclass(frozen=True, slots=True)
class Parsed:
    """Canonical values of one column and a reject reason per refused cell.

    Parameters
    ----------
    values : pandas.Series
        Canonical values; ``NA`` where the cell is empty or refused.
    problems : pandas.Series
        ``str``: ``NA`` where fine or empty, else ``"<code>: <reason>"``.
    note : str
        What was detected (a date format, a decimal mark), for the log.
    """

    values: pd.Series
    problems: pd.Series
    note: str = ""


@dataclass(frozen=True, slots=True)
class Numbers:
    """A column of decimal numbers, split into parts (all ``NA`` where not a number).

    Parameters
    ----------
    integer : pandas.Series
        ``str``: the whole part without sign, separators or leading zeros (``"1234"``,
        ``"0"``).
    fraction : pandas.Series
        ``str``: the significant decimals, without trailing zeros (``"5"`` for ``,50``;
        ``""`` for none).
    decimals : pandas.Series
        int64: significant decimal places (``"12,50"`` has 1).
    negative, zero : pandas.Series
        bool.
    problems : pandas.Series
        As in :class:`Parsed`.
    note : str
        The decimal mark and thousands separator used.
    """

    integer: pd.Series
    fraction: pd.Series
    decimals: pd.Series
    negative: pd.Series
    zero: pd.Series
    problems: pd.Series
    note: str


def as_text(values: pd.Series) -> pd.Series:
    """Any column as stripped text (``str`` dtype); empty or missing cells become ``NA``.

    Decimals keep their digits (``Decimal("1.20")`` → ``"1.20"``), floats use their
    shortest exact form, booleans become ``"true"``/``"false"``, dates ISO text.

    Examples
    --------
    >>> from decimal import Decimal
    >>> as_text(pd.Series([Decimal("1.20"), None, 3.5, " x "], dtype=object)).tolist()
    ['1.20', nan, '3.5', 'x']
    """
    if isinstance(values.dtype, pd.StringDtype):
        text = values if str(values.dtype) == "str" else values.astype("str")
    elif values.dtype == object:
        text = _objects_as_text(values)
    else:
        try:
            text = pc.cast(pa.array(values, from_pandas=True), pa.string()).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            text = _objects_as_text(values.astype(object))
    text = text.set_axis(values.index).str.strip(_BLANK)
    return text.where(text != "")


def _cell_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float | np.floating):
        return np.format_float_positional(value, trim="-")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _objects_as_text(values: pd.Series) -> pd.Series:
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells: convert one by one
        texts = [None if _is_na(v) else _cell_text(v) for v in values]
        return pd.Series(texts, index=values.index, dtype="str")
    table = np.array([*(_cell_text(u) for u in uniques), None], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype="str")


def _is_na(value: object) -> bool:
    try:
        return bool(pd.isna(cast("Any", value)))
    except (TypeError, ValueError):
        return False


def _no_problems(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="str")


def _flag(
    problems: pd.Series,
    mask: pd.Series | npt.NDArray[np.bool_],
    reason: Callable[[npt.NDArray[np.bool_]], pd.Series | str],
) -> None:
    """Set ``problems`` where ``mask`` holds; ``reason`` is built for those cells only."""
    where = np.asarray(mask, dtype=bool)
    if where.any():
        problems.loc[where] = reason(where)


def isin(text: pd.Series, values: pd.Series | Iterable[str]) -> npt.NDArray[np.bool_]:
    """Whether each cell is one of ``values`` (``False`` for missing cells), in Arrow.

    Examples
    --------
    >>> isin(pd.Series(["a", None, "c"], dtype="str"), {"a", "b"}).tolist()
    [True, False, False]
    """
    found = pc.is_in(
        pa.array(text, type=pa.large_string()),
        value_set=pa.array(
            values if isinstance(values, pd.Series) else list(values), type=pa.large_string()
        ),
    )
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """Whether each cell matches the RE2 ``pattern`` (``False`` for missing cells)."""
    found = pc.match_substring_regex(pa.array(text, type=pa.large_string()), pattern)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=text.index)


def _groups(text: pd.Series, pattern: str) -> dict[str, pd.Series]:
    """Named groups of an RE2 ``pattern`` per cell (``NA`` where it does not match)."""
    extracted = pc.extract_regex(pa.array(text, type=pa.large_string()), pattern)
    return {
        name: pd.Series(pc.struct_field(extracted, name), index=text.index, dtype="str")
        for name in re.findall(r"\(\?P<(\w+)>", pattern)
    }


def _per_distinct(
    text: pd.Series, parse: Callable[[pd.Series], tuple[pd.Series, pd.Series]]
) -> tuple[pd.Series, pd.Series]:
    """Run ``parse`` on the distinct non-missing cells and spread the result back."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    values, problems = parse(distinct)
    take = np.where(codes < 0, len(distinct), codes)
    values_out = pd.concat([values, pd.Series([pd.NA], dtype=values.dtype)], ignore_index=True)
    problems_out = pd.concat([problems, _no_problems(pd.RangeIndex(1))], ignore_index=True)
    return (
        values_out.iloc[take].set_axis(text.index),
        problems_out.iloc[take].set_axis(text.index),
    )


# --------------------------------------------------------------------------- codes


def parse_id(text: pd.Series, *, max_length: int = 64) -> Parsed:
    """Identifiers are kept as text; longer than ``max_length`` is refused.

    Examples
    --------
    >>> parse_id(pd.Series(["R-1", "x" * 65], dtype="str")).problems.isna().tolist()
    [True, False]
    """
    problems = _no_problems(text.index)
    _flag(
        problems,
        text.str.len() > max_length,
        lambda m: (
            "invalid_id: '"
            + text[m].str.slice(0, 20)
            + f"…' is longer than {max_length} characters"
        ),
    )
    return Parsed(text, problems)


def parse_code(
    text: pd.Series,
    *,
    valid: Callable[[str], bool] | Collection[str],
    case: Literal["upper", "lower"],
    code: str,
    expected: str,
) -> Parsed:
    """Codes compared in one case (``"de"`` → ``"DE"``); unknown codes are refused.

    Examples
    --------
    >>> p = parse_code(pd.Series(["de", "XX"], dtype="str"), valid={"DE"}, case="upper",
    ...                code="invalid_country", expected="a country code")
    >>> p.values.tolist(), p.problems.tolist()[1]
    (['DE', 'XX'], "invalid_country: 'XX' is not a country code")
    """
    normal = text.str.upper() if case == "upper" else text.str.lower()
    is_valid = valid if callable(valid) else frozenset(valid).__contains__
    wrong = [str(v) for v in normal.dropna().unique() if not is_valid(str(v))]
    problems = _no_problems(text.index)
    _flag(
        problems,
        isin(normal, wrong),
        lambda m: f"{code}: '" + text[m] + f"' is not {expected}",
    )
    return Parsed(normal, problems)


def parse_bool(text: pd.Series) -> Parsed:
    """Booleans: true/false, yes/no, ja/nein, 1/0 in any case.

    Examples
    --------
    >>> p = parse_bool(pd.Series(["Ja", "0", "vielleicht", None], dtype="str"))
    >>> p.values.tolist()
    [True, False, <NA>, <NA>]
    """
    lower = text.str.lower()
    yes = isin(lower, [k for k, v in BOOLEANS.items() if v])
    no = isin(lower, [k for k, v in BOOLEANS.items() if not v])
    values = pd.array(yes, dtype="boolean")
    values[~(yes | no)] = pd.NA
    problems = _no_problems(text.index)
    _flag(
        problems,
        text.notna().to_numpy() & ~(yes | no),
        lambda m: (
            "invalid_boolean: '"
            + text[m]
            + "' is not a yes/no value (true/false, yes/no, ja/nein, 1/0)"
        ),
    )
    return Parsed(pd.Series(values, index=text.index), problems)


def parse_channels(text: pd.Series, *, channels: Collection[str]) -> Parsed:
    """A set of channels separated by ``,`` ``;`` ``|`` or spaces, stored sorted as ``a|b``.

    Examples
    --------
    >>> p = parse_channels(pd.Series(["Letter, email", "fax"], dtype="str"),
    ...                    channels=("email", "letter", "sms"))
    >>> p.values.tolist()[0]
    'email|letter'
    >>> p.problems.tolist()[1]
    "invalid_channel: 'fax' names an unknown channel 'fax' (known: email, letter, sms)"
    """
    known = frozenset(channels)
    listed = ", ".join(sorted(known))

    def parse(distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
        values: list[str | None] = []
        problems: list[str | None] = []
        for cell in distinct.tolist():
            parts = {part for part in _CHANNEL_SPLIT.split(cell.lower()) if part}
            unknown = sorted(parts - known)
            if unknown or not parts:
                what = f"an unknown channel {unknown[0]!r}" if unknown else "no channel"
                problems.append(f"invalid_channel: {cell!r} names {what} (known: {listed})")
                values.append(None)
            else:
                problems.append(None)
                values.append("|".join(sorted(parts)))
        return pd.Series(values, dtype="str"), pd.Series(problems, dtype="str")

    values, problems = _per_distinct(text, parse)
    return Parsed(values, problems)


def parse_iban(text: pd.Series) -> Parsed:
    """IBANs checked by schwifty (country, length, checksum); stored compact.

    Examples
    --------
    >>> p = parse_iban(pd.Series(["DE89 3704 0044 0532 0130 00", "DE00370400440532013000"]))
    >>> p.values.tolist()[0]
    'DE89370400440532013000'
    >>> p.problems.tolist()[1]
    "invalid_iban: 'DE00370400440532013000' is not a valid IBAN (invalid checksum digits)"
    """

    def parse(distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
        values: list[str | None] = []
        problems: list[str | None] = []
        for cell in distinct.tolist():
            try:
                values.append(str(IBAN(cell).compact))
                problems.append(None)
            except SchwiftyException as exc:
                values.append(None)
                why = str(exc)
                why = why[:1].lower() + why[1:]
                problems.append(f"invalid_iban: {cell!r} is not a valid IBAN ({why})")
        return pd.Series(values, dtype="str"), pd.Series(problems, dtype="str")

    values, problems = _per_distinct(text, parse)
    return Parsed(values, problems)


def parse_int(text: pd.Series, *, low: int, high: int, code: str, what: str) -> Parsed:
    """Whole numbers in ``[low, high]``; other numbers are refused with ``code``.

    Examples
    --------
    >>> p = parse_int(pd.Series(["2", "7", "x"], dtype="str"), low=1, high=5,
    ...               code="invalid_level", what="a dunning level")
    >>> p.values.tolist()
    [2, <NA>, <NA>]
    >>> print(*p.problems.tolist()[1:], sep="\\n")
    invalid_level: '7' is not a dunning level (1–5)
    unparsable_number: 'x' is not a whole number
    """
    whole = _matches(text, r"^[+-]?\d{1,9}$")
    numbers = pd.to_numeric(text.where(whole), errors="coerce").astype("Int64")
    out_of_range = whole & ((numbers < low) | (numbers > high)).fillna(False).astype(bool)
    problems = _no_problems(text.index)
    _flag(
        problems,
        text.notna() & ~whole,
        lambda m: "unparsable_number: '" + text[m] + "' is not a whole number",
    )
    _flag(
        problems,
        out_of_range,
        lambda m: f"{code}: '" + text[m] + f"' is not {what} ({low}–{high})",
    )
    return Parsed(numbers.where(~out_of_range), problems)


# --------------------------------------------------------------------------- numbers


def _in_class(char: str) -> str:
    """``char`` escaped for use inside a regex character class."""
    return "\\" + char if char in "\\]^-[" else char


def _number_pattern(decimal: str, thousands: str) -> str:
    """RE2 pattern of a number with ``decimal`` mark and optional ``thousands`` grouping."""
    grouped = rf"\d{{1,3}}(?:[{_in_class(thousands)}]\d{{3}})+|" if thousands else ""
    return (
        rf"^(?P<lead>[+-]?)(?P<int>{grouped}\d+)"
        rf"(?:[{_in_class(decimal)}](?P<frac>\d+))?(?P<trail>-?)$"
    )


def _example(decimal: str, thousands: str) -> str:
    return f"1{thousands}234{decimal}56"


def _describe(decimal: str, thousands: str) -> str:
    sep = f" thousands {thousands!r}" if thousands else ""
    return f"decimal {decimal!r}{sep}"


def parse_numbers(text: pd.Series, *, decimal: str | None, thousands: str | None) -> Numbers:
    """Decimal numbers, strictly: the decimal mark is given or told from the column.

    With ``decimal=None`` each cell is tried as decimal comma (``1.234,56``) and as decimal
    point (``1,234.56``). Cells that fit only one convention are evidence; the convention
    with more evidence is the column's, and cells written the other way are refused
    (``30.00`` in a decimal-comma column is neither 30 nor 3000). Cells that fit both with
    different meanings (``1.234``) are read by the column's convention; without evidence
    either way they are refused as ambiguous. Integers fit both and mean the same.

    Parameters
    ----------
    text : pandas.Series
        Cells from :func:`as_text`.
    decimal : {",", "."} or None
        The decimal mark, or ``None`` to tell it from the column.
    thousands : str or None
        The thousands separator (``""`` for none); ``None`` allows the other of ``.``/``,``.

    Examples
    --------
    >>> n = parse_numbers(pd.Series(["1,234.50", "-7", "1.234"], dtype="str"),
    ...                   decimal=None, thousands=None)
    >>> n.integer.tolist(), n.fraction.tolist(), n.negative.tolist()
    (['1234', '7', '1'], ['5', '', '234'], [False, True, False])
    """
    index = text.index
    present = text.notna()
    if decimal is None:
        fits = {
            mark: _matches(text, _number_pattern(mark, other))
            for mark, other in ((",", "."), (".", ","))
        }
        has_mark = _matches(text, r"[.,]")
        only_comma = fits[","] & ~fits["."]
        only_point = fits["."] & ~fits[","]
        both = fits[","] & fits["."] & has_mark
        n_comma, n_point = int(only_comma.sum()), int(only_point.sum())
        if n_comma != n_point:
            decimal = "," if n_comma > n_point else "."
            ambiguous = pd.Series(False, index=index)
            why = ""
        else:
            decimal = "."
            ambiguous = only_comma | only_point | both
            why = (
                "no number in the column decides"
                if n_comma == 0
                else f"the column has as many decimal-comma as decimal-point numbers ({n_comma})"
            )
    else:
        ambiguous = pd.Series(False, index=index)
        why = ""
    other_mark = "." if decimal == "," else ","
    if thousands is None:
        thousands = other_mark
    pattern = _number_pattern(decimal, thousands)
    parts = _groups(text, pattern)
    fits_here = parts["int"].notna()
    two_signs = fits_here & (parts["lead"] != "") & (parts["trail"] != "")
    ok = fits_here & ~two_signs & ~ambiguous

    integer = parts["int"].str.replace(thousands, "", regex=False) if thousands else parts["int"]
    integer = integer.str.lstrip("0")
    fraction = parts["frac"].fillna("").str.rstrip("0")
    integer = integer.where(integer != "", "0")

    example = _example(decimal, thousands)
    problems = _no_problems(index)
    _flag(
        problems,
        present & ~fits_here,
        lambda m: "unparsable_number: '" + text[m] + "' is not a number",
    )
    unfit = (present & ~fits_here).to_numpy()
    if unfit.any():
        swapped = text[unfit].str.translate(str.maketrans(".,", ",."))
        _flag(
            problems,
            _matches(swapped, pattern).reindex(index, fill_value=False),
            lambda m: (
                "unparsable_number: '"
                + text[m]
                + f"' is not a number in this column's format ({_describe(decimal, '')}, "
                + f"e.g. {example!r}); did you mean '"
                + swapped.reindex(index)[m]
                + "'?"
            ),
        )
    _flag(
        problems,
        two_signs,
        lambda m: "unparsable_number: '" + text[m] + "' has a sign at both ends",
    )
    _flag(
        problems,
        ambiguous,
        lambda m: (
            "ambiguous_number: '"
            + text[m]
            + "' could use a decimal comma or a decimal point and "
            + why
            + "; pass CsvFormat(decimal=',') or CsvFormat(decimal='.')"
        ),
    )
    negative = ok & ((parts["lead"] == "-") | (parts["trail"] == "-"))
    zero = ok & (integer == "0") & (fraction == "")
    return Numbers(
        integer=integer.where(ok),
        fraction=fraction.where(ok),
        decimals=fraction.str.len().where(ok, 0).astype(np.int64),
        negative=negative.astype(bool),
        zero=zero.astype(bool),
        problems=problems,
        note=_describe(decimal, thousands),
    )


# --------------------------------------------------------------------------- dates


def _to_dates(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """Calendar dates from text parts; ``NaT`` where not a real date or out of range."""
    y, m, d = (
        pd.to_numeric(part, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for part in (year, month, day)
    )
    ok = (y >= _FIRST_YEAR) & (y <= _LAST_YEAR) & (m >= 1) & (m <= 12) & (d >= 1)
    months = (np.where(ok, y, 1970) - 1970).astype(np.int64) * 12 + np.where(ok, m, 1) - 1
    first = months.astype(np.int64).astype("datetime64[M]").astype("datetime64[D]")
    following = (months.astype(np.int64) + 1).astype("datetime64[M]").astype("datetime64[D]")
    days = np.where(ok, d, 1).astype(np.int64)
    ok &= days <= (following - first).astype(np.int64)
    dates = (first + (days - 1)).astype("datetime64[ns]")
    dates[~ok] = np.datetime64("NaT")
    return pd.Series(dates, index=year.index)


def _parse_dates_given(distinct: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series]:
    found = pd.to_datetime(distinct, format=date_format, errors="coerce")
    iso = _groups(distinct, _ISO)
    found = found.where(found.notna(), _to_dates(iso["y"], iso["m"], iso["d"]))
    in_range = found.notna() & found.dt.year.between(_FIRST_YEAR, _LAST_YEAR)
    timed = in_range & (found != found.dt.normalize())
    good = in_range & ~timed
    values = pd.Series(pd.NaT, index=distinct.index, dtype="datetime64[ns]")
    values.loc[good] = found.loc[good].astype("datetime64[ns]")
    problems = _no_problems(distinct.index)
    _flag(
        problems,
        ~good,
        lambda m: (
            "unparsable_date: '"
            + distinct[m]
            + f"' matches neither date_format {date_format!r} nor yyyy-mm-dd"
        ),
    )
    _flag(
        problems,
        timed,
        lambda m: "unparsable_date: '" + distinct[m] + "' has a time of day; dates must be days",
    )
    return values, problems


def _parse_dates_detected(distinct: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    iso = _groups(distinct, _ISO)
    year, month, day = iso["y"], iso["m"], iso["d"]
    kinds = ["yyyy-mm-dd"] if bool(year.notna().any()) else []
    undecided = pd.Series(False, index=distinct.index)
    day_first = month_first = False
    rest = year.isna().to_numpy()
    if rest.any():  # German dates, then slash dates, among the cells not read yet
        german = _groups(distinct[rest], _GERMAN)
        if bool(german["y"].notna().any()):
            kinds.append("dd.mm.yyyy")
            year, month, day = (
                year.fillna(german["y"]),
                month.fillna(german["m"]),
                day.fillna(german["d"]),
            )
            rest = year.isna().to_numpy()
    if rest.any():
        slash = _groups(distinct[rest], _SLASH)
        a = pd.to_numeric(slash["a"], errors="coerce")
        b = pd.to_numeric(slash["b"], errors="coerce")
        day_first = bool(((a > 12) & (b <= 12)).any())
        month_first = bool(((b > 12) & (a <= 12)).any())
        if day_first != month_first:  # the column decides
            swap = pd.Series(month_first, index=slash["a"].index)
            kinds.append("mm/dd/yyyy" if month_first else "dd/mm/yyyy")
        else:  # no evidence, or evidence both ways: only self-evident cells are read
            swap = ((b > 12) & (a <= 12)).fillna(False).astype(bool)
            unsure = (slash["a"].notna() & (a <= 12) & (b <= 12) & (a != b)).fillna(False)
            undecided = undecided | unsure.astype(bool).reindex(undecided.index, fill_value=False)
        year = year.fillna(slash["y"])
        month = month.fillna(slash["a"].where(swap, slash["b"]))
        day = day.fillna(slash["b"].where(swap, slash["a"]))
    matched = year.notna()
    values = _to_dates(year.where(~undecided), month, day)
    problems = _no_problems(distinct.index)
    _flag(
        problems,
        ~matched,
        lambda m: (
            "unparsable_date: '"
            + distinct[m]
            + "' is not a date in a known format (yyyy-mm-dd, dd.mm.yyyy); "
            + "pass CsvFormat(date_format=...)"
        ),
    )
    if not bool(matched.all()):
        _flag(
            problems,
            _matches(distinct, _TIMED) & ~matched,
            lambda m: (
                "unparsable_date: '" + distinct[m] + "' has a time of day; dates must be days"
            ),
        )
    _flag(
        problems,
        matched & ~undecided & values.isna(),
        lambda m: "unparsable_date: '" + distinct[m] + "' is not a calendar date",
    )
    why = "the column has dates written both ways" if day_first else "no date in the column decides"
    _flag(
        problems,
        undecided,
        lambda m: (
            "ambiguous_date: '"
            + distinct[m]
            + "' could be "
            + _to_dates(year[m], month[m], day[m]).dt.strftime("%Y-%m-%d")
            + " (dd/mm/yyyy) or "
            + _to_dates(year[m], day[m], month[m]).dt.strftime("%Y-%m-%d")
            + f" (mm/dd/yyyy) and {why}; pass CsvFormat(date_format='%d/%m/%Y') "
            + "or CsvFormat(date_format='%m/%d/%Y')"
        ),
    )
    return values, problems, ", ".join(kinds)


def parse_dates(text: pd.Series, *, date_format: str | None) -> Parsed:
    """Calendar dates as ``datetime64[ns]``: ISO, German, or unambiguous slash dates.

    With ``date_format`` (:func:`~datetime.datetime.strptime` syntax) a cell is read by it,
    or else as ``yyyy-mm-dd`` (which cannot be misread). Without, ``yyyy-mm-dd`` (also
    with a midnight time) and ``dd.mm.yyyy`` are read; ``a/b/yyyy`` only when the column
    decides the order (a cell with a first part above 12 means day first, a second part
    above 12 month first) or the cell reads the same both ways (``03/03/2026``).

    Examples
    --------
    >>> p = parse_dates(pd.Series(["03/04/2026", "13/04/2026"], dtype="str"), date_format=None)
    >>> p.values.dt.strftime("%Y-%m-%d").tolist(), p.note
    (['2026-04-03', '2026-04-13'], 'dd/mm/yyyy')
    >>> p = parse_dates(pd.Series(["03/04/2026"], dtype="str"), date_format=None)
    >>> p.problems.iloc[0].split(" and ")[0]
    "ambiguous_date: '03/04/2026' could be 2026-04-03 (dd/mm/yyyy) or 2026-03-04 (mm/dd/yyyy)"
    """
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    if date_format is not None:
        values, problems = _parse_dates_given(distinct, date_format)
        note = date_format
    else:
        values, problems, note = _parse_dates_detected(distinct)
    take = _take(codes, len(distinct))
    values_out = pd.Series(
        np.append(values.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))[take],
        index=text.index,
    )
    problems_out = pd.Series(
        np.concatenate([problems.to_numpy(dtype=object), np.array([None], dtype=object)])[take],
        index=text.index,
        dtype="str",
    )
    return Parsed(values_out, problems_out, note)


def _take(codes: npt.NDArray[np.intp], n: int) -> npt.NDArray[np.intp]:
    """Factorize codes with the missing sentinel pointing one past the distinct values."""
    return np.where(codes < 0, n, codes)
