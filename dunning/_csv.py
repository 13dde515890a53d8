"""Read one input table (CSV file, Parquet file or DataFrame) into raw cells and line numbers.

Private helper of :mod:`dunning.io`. Nothing here interprets a value: cells stay as they
were written (CSV cells as text, DataFrame and Parquet columns with their own dtypes). What
this module guarantees is *where* each record came from:

* ``RawTable.lines`` holds the 1-based line of the source file on which each record starts
  (the header is line 1, so the first data record is line 2). A record whose quoted value
  spans several lines advances the count by as many lines.
* A record that cannot be split into the header's number of fields is not dropped: it is
  kept in ``RawTable.malformed`` with its line and text.

The fast path reads the file with :mod:`pyarrow.csv` (multi-threaded) and derives each
record's line from the newlines inside its values; the numbers are checked against the file's
physical line count. Only when that check fails, or when a record has the wrong number of
fields, is the file read again, record by record, with the standard :mod:`csv` module, which
knows every record's line exactly.

Examples
--------
>>> import pandas as pd
>>> raw = read_frame(pd.DataFrame({"invoice_id": ["R-1", "R-2"]}), source="<DataFrame>")
>>> raw.names, raw.lines.tolist()
(('invoice_id',), [2, 3])
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dunning.errors import DataError

#: Separators recognised in a header line, in order of preference on a tie.
SEPARATORS: tuple[str, ...] = (";", "\t", ",")
#: Columns of :attr:`RawTable.malformed`.
MALFORMED_COLUMNS: tuple[str, ...] = ("line", "text", "detail")
_QUOTE = '"'
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SHOWN = 80  # characters of a malformed record kept in its reject


@dataclass(frozen=True, slots=True)
class RawTable:
    """One table as read from its source, before any interpretation.

    Parameters
    ----------
    source : str
        The file path, or ``"<DataFrame>"``.
    names : tuple of str
        Column names as found (whitespace stripped), in source order; may repeat.
    frame : pandas.DataFrame
        One column per name, labelled by position ``0 … len(names) - 1``; CSV cells are
        text (``str`` dtype, empty cells are ``""``), other sources keep their dtypes.
    lines : numpy.ndarray
        int64 source line of each row of ``frame``.
    malformed : pandas.DataFrame
        Records that could not be split into fields (columns ``line, text, detail``).
    encoding, sep : str or None
        What a CSV file was read with (``None`` for other sources).
    """

    source: str
    names: tuple[str, ...]
    frame: pd.DataFrame
    lines: npt.NDArray[np.int64]
    malformed: pd.DataFrame
    encoding: str | None = None
    sep: str | None = None

    @property
    def rows_in(self) -> int:
        """Number of records in the source (readable and malformed)."""
        return len(self.frame) + len(self.malformed)


def read_path(path: Path, *, sep: str | None, encoding: str | None) -> RawTable:
    """Read a ``.csv`` or ``.parquet`` file; raise :class:`DataError` if it cannot be used."""
    if not path.exists():
        msg = f"{path}: file not found. Check the path (relative paths start in {Path.cwd()})."
        raise DataError(msg, path=str(path))
    if path.is_dir():
        msg = f"{path}: is a directory, not a file. Pass the path of a .csv or .parquet file."
        raise DataError(msg, path=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, sep=sep, encoding=encoding)
    if suffix == ".parquet":
        return _read_parquet(path)
    msg = (
        f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; expected a .csv "
        "or .parquet file (export the table as CSV, or pass a pandas DataFrame)."
    )
    raise DataError(msg, path=str(path))


def read_frame(frame: pd.DataFrame, *, source: str) -> RawTable:
    """Wrap a DataFrame: rows are numbered as if written to CSV with a header (2, 3, …)."""
    names = tuple(str(name).strip() for name in frame.columns)
    data = frame.set_axis(range(len(names)), axis=1).reset_index(drop=True)
    lines = np.arange(2, len(data) + 2, dtype=np.int64)
    return RawTable(source, names, data, lines, _no_malformed())


def detect_encoding(data: bytes) -> str:
    """Encoding of a CSV file: BOM first, then UTF-8 if it decodes, else Windows-1252.

    Examples
    --------
    >>> (detect_encoding(b"\\xef\\xbb\\xbfa;b"), detect_encoding("Müller".encode()),
    ...  detect_encoding("Müller".encode("cp1252")))
    ('utf-8-sig', 'utf-8', 'cp1252')
    """
    if data.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if data.startswith(_UTF16_BOMS):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def detect_separator(header: str) -> str:
    """The separator of a header line: the most frequent of ``;``, tab and ``,`` outside quotes.

    On a tie the order is ``;``, tab, ``,``; a header without any of them is one column
    (``,`` is returned).

    Examples
    --------
    >>> detect_separator("Rechnungsnummer;Betrag;Datum"), detect_separator('"a;b",c,d')
    (';', ',')
    """
    unquoted = "".join(header.split(_QUOTE)[::2])
    counts = [(unquoted.count(sep), -rank, sep) for rank, sep in enumerate(SEPARATORS)]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


def _read_parquet(path: Path) -> RawTable:
    try:
        # Arrow-backed columns: decimals, dates and numbers become text in Arrow, exactly.
        frame = pd.read_parquet(path, dtype_backend="pyarrow")
    except (OSError, ValueError, pa.ArrowException) as exc:
        msg = f"{path}: cannot be read as Parquet ({exc}). Check that the file is complete."
        raise DataError(msg, path=str(path)) from exc
    return read_frame(frame, source=str(path))


def _decode(path: Path, data: bytes, encoding: str, *, detected: bool) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = "it is neither UTF-8 nor Windows-1252" if detected else f"it is not {encoding}"
        msg = (
            f"{path}: line {line} cannot be decoded ({hint}; byte 0x{data[exc.start]:02x}). "
            "Pass the file's encoding, e.g. CsvFormat(encoding='cp1252')."
        )
        raise DataError(msg, path=str(path)) from exc
    except LookupError as exc:  # unknown codec name (CsvFormat checks it, but be safe)
        msg = f"{path}: unknown encoding {encoding!r}. Pass a Python codec name."
        raise DataError(msg, path=str(path)) from exc
    return text.removeprefix("\ufeff")


def _read_csv(path: Path, *, sep: str | None, encoding: str | None) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc}). Check the file's permissions."
        raise DataError(msg, path=str(path)) from exc
    enc = encoding or detect_encoding(data)
    text = _decode(path, data, enc, detected=encoding is None)
    if not text.strip():
        msg = f"{path}: the file is empty; expected a header line with the column names."
        raise DataError(msg, path=str(path))
    # pyarrow reads UTF-8: the file's own bytes when they are plain UTF-8, else re-encoded
    plain = enc == "utf-8" and not data.startswith(_UTF8_BOM)
    if "\r" in text and "\n" not in text:  # classic Mac line ends
        text, plain = text.replace("\r", "\n"), False
    first_line = text.split("\n", 1)[0].rstrip("\r")
    sep = sep or detect_separator(first_line)
    reader = csv.reader(io.StringIO(text[: 1 << 16], newline=""), delimiter=sep, quotechar=_QUOTE)
    names = tuple(name.strip() for name in next(reader))
    header_lines = reader.line_num
    fast = _read_fast(
        data if plain else text.encode("utf-8"),
        sep=sep,
        n_columns=len(names),
        header_lines=header_lines,
    )
    if fast is None:
        frame, lines, malformed = _read_exact(
            text, sep=sep, n_columns=len(names), names=names, path=path
        )
    else:
        frame, lines = fast
        malformed = _no_malformed()
    return RawTable(str(path), names, frame, lines, malformed, encoding=enc, sep=sep)


def _read_fast(
    data: bytes, *, sep: str, n_columns: int, header_lines: int
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]] | None:
    """pyarrow read; ``None`` when a record is malformed or the line count does not add up."""
    if data.count(_QUOTE.encode()) % 2:
        return None  # an unclosed quote: let the exact reader say where
    invalid: list[int] = []

    def on_invalid(_row: object) -> str:
        invalid.append(1)
        return "skip"

    labels = [f"f{i}" for i in range(n_columns)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=labels, skip_rows=header_lines),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char=_QUOTE,
                double_quote=True,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(labels, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if invalid:
        return None
    line_count = np.ones(table.num_rows, dtype=np.int64)
    for column in table.columns:
        line_count += pc.count_substring(column, "\n").to_numpy().astype(np.int64)
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if header_lines + int(line_count.sum()) != physical:
        return None
    lines = header_lines + 1 + np.concatenate(([0], np.cumsum(line_count)[:-1]))
    frame = pd.DataFrame(
        {i: column.to_pandas() for i, column in enumerate(table.columns)},
        index=pd.RangeIndex(table.num_rows),
    )
    if table.num_rows == 0:
        frame = frame.astype("str")
    return frame, lines.astype(np.int64)


class _Lines:
    """The physical lines of a text, as an iterator that can be moved back to a line."""

    def __init__(self, text: str) -> None:
        pieces = text.split("\n")
        if pieces and pieces[-1] == "":
            pieces.pop()  # the text ends with a newline: no further line
        self.lines = [piece + "\n" for piece in pieces]
        self.next = 0  # index of the next line to hand out (line number - 1)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


def _read_exact(
    text: str, *, sep: str, n_columns: int, names: tuple[str, ...], path: Path
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], pd.DataFrame]:
    """Record-by-record read with exact line numbers; malformed records are set apart.

    A record with extra trailing fields that are all blank, or with fewer fields where the
    missing ones have blank header names (a trailing separator), is padded or trimmed.
    A record that cannot be split into the header's fields is reported by its first line
    alone, and reading resumes on the next line: an unbalanced quote then costs one line,
    not every line up to the next quote.
    """
    blank_tail = _rstrip_blank(names)
    source = _Lines(text)

    def reader() -> Iterator[list[str]]:
        return csv.reader(source, delimiter=sep, quotechar=_QUOTE, strict=True)

    records = reader()
    try:
        next(records)  # the header, already read
    except csv.Error as exc:
        msg = f"{path}: the header line cannot be split into fields ({exc}); check its quotes."
        raise DataError(msg, path=str(path)) from exc
    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    while True:
        line = source.next + 1
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            detail = f"cannot be split into fields ({exc}); check the quotes"
            bad.append((line, source.lines[line - 1].rstrip("\r\n")[:_SHOWN], detail))
            source.next = line  # resume on the following line
            records = reader()
            continue
        n = len(record)
        if not "".join(record).strip():
            rows.append([""] * n_columns)
        elif n == n_columns:
            rows.append(record)
        elif n > n_columns and not "".join(record[n_columns:]).strip():
            rows.append(record[:n_columns])
        elif n_columns - blank_tail <= n < n_columns:
            rows.append(record + [""] * (n_columns - n))
        else:
            shown = source.lines[line - 1].rstrip("\r\n")[:_SHOWN]
            bad.append((line, shown, f"has {n} fields, the header has {n_columns}"))
            if source.next > line:  # a quote took later lines along: read them again
                source.next = line
                records = reader()
            continue
        lines.append(line)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(n_columns)]
    frame = pd.DataFrame(
        {i: pd.Series(list(values), dtype="str") for i, values in enumerate(columns)},
        index=pd.RangeIndex(len(rows)),
    )
    malformed = pd.DataFrame(bad, columns=list(MALFORMED_COLUMNS)).astype(
        {"line": "int64", "text": "str", "detail": "str"}
    )
    return frame, np.asarray(lines, dtype=np.int64), malformed


def _rstrip_blank(names: tuple[str, ...]) -> int:
    """Number of trailing header names that are blank."""
    count = 0
    for name in reversed(names):
        if name:
            break
        count += 1
    return count


def _no_malformed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": pd.Series(dtype="int64"),
            "text": pd.Series(dtype="str"),
            "detail": pd.Series(dtype="str"),
        }
    )
