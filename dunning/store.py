"""The decision store: every run, decision, letter, issued letter and review, in SQL.

SQLAlchemy 2 Core over SQLite by default (any SQLAlchemy URL works; written for SQLite and
PostgreSQL). Five tables, created when missing (also in an existing database file):

``runs``
    ``run_id`` (primary key), ``as_of``, ``created_at`` (UTC), ``portfolio_hash``,
    ``n_cases``, ``software_version``.
``decisions``
    ``run_id, invoice_id`` (primary key together), ``case_id`` (``NULL`` when the
    customer gets no letter), ``customer_id, level, open_amount`` (exact decimal as
    **text**, never a float), ``currency, risk, offer, reasons`` (the reason codes,
    ``|``-separated, most important first).
``letters``
    ``run_id, case_id, format`` (primary key together), ``path, sha256``.
``issued``
    The dunning letters actually issued, one row per invoice and level: ``invoice_id,
    level`` (primary key together, so the database itself refuses to issue a level twice
    for an invoice; ``level >= 1``), ``case_id, customer_id, issued_on, channel,
    currency``, the claim ``fee, interest, flat_fee, earlier_fees, open_amount`` (exact
    decimals as text), ``run_id`` (nullable), ``issued_at`` (UTC) and ``approved_by``
    (the clerk who approved the letter, ``NULL`` when it was issued automatically).
    :meth:`DecisionStore.issued` reads it back as a dunning history.
``reviews``
    Clerks' review decisions, append-only (never updated or deleted; a later decision on
    a case supersedes an earlier one): ``review_id`` (primary key), ``case_id,
    customer_id, invoice_ids`` (``|``-joined), ``action`` (``approve``, ``change_offer``,
    ``hold`` or ``escalate``, enforced by a ``CHECK`` constraint), ``clerk_id, reason``
    (both required), ``offer`` (for ``change_offer``), ``hold_until`` (for ``hold``;
    ``NULL``: until a later review),
    ``decided_at`` (UTC) and ``as_of`` (the run date of the proposal reviewed).

Amounts are read back as exact :class:`~decimal.Decimal`. Database errors are raised as
:class:`~dunning.errors.StoreError` with the URL (credentials removed). Schema migrations
and a tamper-evident audit chain come in a later version.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> with DecisionStore("sqlite://") as store:   # in-memory database
...     run_id = store.record_run(as_of=date(2026, 11, 23), portfolio_hash="abc", n_cases=1,
...                               run_id="R1")
...     _ = store.record_decisions(run_id, pd.DataFrame({"invoice_id": ["R-1"],
...         "case_id": ["C1"], "customer_id": ["K-1"], "level": [2],
...         "open_amount": [Decimal("1234.56")], "currency": ["EUR"], "risk": [0.4],
...         "offer": ["none"], "reason_codes": ["LATE_12M|AMOUNT_UNUSUAL"]}))
...     back = store.decisions(run_id)
>>> back.loc[0, "open_amount"], back.loc[0, "reasons"]
(Decimal('1234.56'), 'LATE_12M|AMOUNT_UNUSUAL')
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dunning.errors import StoreError
from dunning.models import CHANNELS

__all__ = ["REVIEW_ACTIONS", "REVIEW_COLUMNS", "DecisionStore", "sqlite_url"]

logger = logging.getLogger(__name__)

_metadata = MetaData()

_runs = Table(
    "runs",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("portfolio_hash", String(128), nullable=False),
    Column("n_cases", Integer, nullable=False),
    Column("software_version", String(64), nullable=False),
)

_decisions = Table(
    "decisions",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("invoice_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("open_amount", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("risk", Float, nullable=True),
    Column("offer", String(32), nullable=False),
    Column("reasons", Text, nullable=False),
)

_letters = Table(
    "letters",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("case_id", String(64), primary_key=True),
    Column("format", String(8), primary_key=True),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
)

_issued = Table(
    "issued",
    _metadata,
    Column("invoice_id", String(64), primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("case_id", String(96), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fee", String(32), nullable=False),
    Column("interest", String(32), nullable=False),
    Column("flat_fee", String(32), nullable=False),
    Column("earlier_fees", String(32), nullable=False),
    Column("open_amount", String(32), nullable=False),
    Column("run_id", String(64), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(64), nullable=True),
    CheckConstraint("level >= 1", name="ck_issued_level"),
)

#: What a clerk can decide on a proposed case (see :meth:`DecisionStore.record_reviews`).
REVIEW_ACTIONS: tuple[str, ...] = ("approve", "change_offer", "hold", "escalate")

_reviews = Table(
    "reviews",
    _metadata,
    Column("review_id", String(64), primary_key=True),
    Column("case_id", String(96), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("invoice_ids", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("clerk_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("offer", String(32), nullable=True),
    Column("hold_until", Date, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("as_of", Date, nullable=False),
    CheckConstraint(
        "action IN ({})".format(", ".join(f"'{a}'" for a in REVIEW_ACTIONS)),
        name="ck_reviews_action",
    ),
)

#: Columns of the ``reviews`` table, in order (also ``Proposal.reviews``).
REVIEW_COLUMNS: tuple[str, ...] = tuple(c.name for c in _reviews.columns)

_DECISION_INPUT = ("invoice_id", "case_id", "customer_id", "level", "open_amount", "currency")
_ISSUED_INPUT = (
    "invoice_id",
    "level",
    "case_id",
    "customer_id",
    "issued_on",
    "channel",
    "currency",
)
_ISSUED_MONEY = ("fee", "interest", "flat_fee", "earlier_fees", "open_amount")
_REVIEW_INPUT = (
    "case_id", "customer_id", "invoice_ids", "action", "clerk_id", "reason", "decided_at", "as_of",
)  # fmt: skip
_KEY_CHUNK = 500


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a SQLite database file.

    Examples
    --------
    >>> sqlite_url("/tmp/out/dunning.sqlite")
    'sqlite:////tmp/out/dunning.sqlite'
    """
    return f"sqlite:///{Path(path)}"


def _none(value: Any) -> Any:
    if value is None or (not isinstance(value, str | Decimal) and bool(pd.isna(value))):
        return None
    return value


def _as_date(value: Any) -> date:
    """A calendar date from a date, datetime, pandas Timestamp or ISO string."""
    if _none(value) is None:
        msg = "the date is empty"
        raise ValueError(msg)
    if isinstance(value, datetime):  # also pandas.Timestamp
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    msg = f"expected a date, got {value!r}"
    raise TypeError(msg)


def _as_utc(value: Any) -> datetime:
    """A timezone-aware datetime in UTC; naive datetimes are refused (ambiguous)."""
    if _none(value) is None:
        msg = "the time is empty"
        raise ValueError(msg)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        msg = f"expected a timezone-aware datetime, got {value!r}"
        raise TypeError(msg)
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{value.isoformat()} has no time zone; give it in UTC, e.g. datetime.now(UTC)"
        raise TypeError(msg)
    return value.astimezone(UTC)


def _text(value: Any) -> str | None:
    """A stripped string, or ``None`` for a missing or blank value."""
    value = _none(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _review_id(case_id: str, action: str, clerk_id: str, decided_at: datetime) -> str:
    """The stable default id of a review: 16 hex digits of a sha256.

    The hash is taken over ``case_id|action|clerk_id|decided_at`` with ``decided_at`` in UTC
    and ISO format, so the same review recorded twice gets the same id.

    Examples
    --------
    >>> _review_id("C1", "approve", "clerk-7", datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    'cb1cf33f5197a4cc'
    """
    stamp = _as_utc(decided_at).isoformat()
    text = f"{case_id}|{action}|{clerk_id}|{stamp}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose primary key is not in the table yet; return how many were.

    SQLite and PostgreSQL use ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (safe against
    concurrent writers); other databases go through :func:`_insert_missing`.
    """
    if not rows:
        return 0
    dialects: dict[str, Callable[[Table], Any]] = {
        "sqlite": sqlite.insert,
        "postgresql": postgresql.insert,
    }
    insert = dialects.get(conn.dialect.name)
    if insert is None or not conn.dialect.insert_executemany_returning:
        return _insert_missing(conn, table, rows)
    keys = list(table.primary_key.columns)
    statement = insert(table).on_conflict_do_nothing(index_elements=keys).returning(*keys)
    return len(conn.execute(statement, list(rows)).all())


def _insert_missing(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Portable fallback: look the keys up in the same transaction, insert the others.

    A concurrent writer inserting the same key in between makes the insert fail with an
    integrity error (raised as :class:`StoreError`); recording again then succeeds.
    """
    keys = list(table.primary_key.columns)
    first = [row[keys[0].name] for row in rows]
    existing: set[tuple[Any, ...]] = set()
    for start in range(0, len(first), _KEY_CHUNK):
        chunk = sorted(set(first[start : start + _KEY_CHUNK]))
        found = conn.execute(select(*keys).where(keys[0].in_(chunk)))
        existing.update(tuple(r) for r in found)
    new = [row for row in rows if tuple(row[k.name] for k in keys) not in existing]
    if new:
        conn.execute(table.insert(), new)
    return len(new)


def _required_text(value: Any, name: str, hint: str = "") -> str:
    text = _text(value)
    if text is None:
        msg = f"{name} is empty{hint}"
        raise ValueError(msg)
    return text


def _issued_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The validated required fields of one issued letter; ``ValueError`` says what is wrong."""
    row: dict[str, Any] = {
        name: _required_text(values[name], name)
        for name in ("invoice_id", "case_id", "customer_id", "channel", "currency")
    }
    level = _none(values["level"])
    if level is None or int(level) != level or int(level) < 1:
        msg = f"level must be a whole number >= 1, got {level!r}"
        raise ValueError(msg)
    row["level"] = int(level)
    if row["channel"] not in CHANNELS:
        msg = f"channel {row['channel']!r} is not one of {CHANNELS}"
        raise ValueError(msg)
    currency = row["currency"]
    if not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        msg = f"currency {currency!r} is not an ISO 4217 code like 'EUR'"
        raise ValueError(msg)
    row["issued_on"] = _field(_as_date, values["issued_on"], "issued_on")
    return row


def _field(convert: Callable[[Any], Any], value: Any, name: str) -> Any:
    """``convert(value)``, with the column name in front of any error message."""
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        msg = f"{name}: {exc}"
        raise type(exc)(msg) from exc


def _first_per_key(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """The rows in order, keeping only the first of several with the same key."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


class DecisionStore:
    """Record runs, decisions and letters in a SQL database.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///out/dunning.sqlite``, ``postgresql://…``). The
        tables are created if missing.

    Raises
    ------
    StoreError
        If the URL is invalid or the database cannot be opened.

    Examples
    --------
    >>> with DecisionStore("sqlite://") as store:
    ...     run_id = store.record_run(as_of=date(2026, 11, 23), portfolio_hash="abc",
    ...                               n_cases=0, run_id="R1")
    ...     store.runs()["run_id"].tolist()
    ['R1']
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            msg = f"invalid store URL {url!r}; expected e.g. 'sqlite:///out/dunning.sqlite'."
            raise StoreError(msg) from exc
        #: The URL without user name and password, safe to log and show.
        self.url = parsed._replace(username=None, password=None).render_as_string()
        self._secrets = tuple(s for s in (parsed.password, parsed.username) if s)
        try:
            self._engine: Engine = create_engine(parsed)
            with self._engine.begin() as conn:
                _metadata.create_all(conn)
        except SQLAlchemyError as exc:
            msg = (
                f"cannot open the decision store at {self.url}: {self._describe(exc)}. "
                "Check the URL, that the folder exists and that the database is reachable."
            )
            raise StoreError(msg, url=self.url) from exc

    def _describe(self, exc: SQLAlchemyError) -> str:
        """The driver's own message (no SQL, no parameters), with credentials masked."""
        cause = getattr(exc, "orig", None) or exc
        text = f"{type(cause).__name__}: {cause}".splitlines()[0]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    @contextmanager
    def _begin(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            msg = f"decision store {self.url}: {what} failed: {self._describe(exc)}"
            raise StoreError(msg, url=self.url) from exc

    def record_run(
        self,
        *,
        as_of: date,
        portfolio_hash: str,
        n_cases: int,
        software_version: str = "unknown",
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Record a run and return its id.

        Parameters
        ----------
        as_of : datetime.date
            The run date.
        portfolio_hash : str
            Hash of the input tables (see :func:`dunning.pipeline.portfolio_hash`).
        n_cases : int
            Number of cases (letters) proposed.
        software_version : str
            Version of the library that made the decisions.
        run_id : str, optional
            Defaults to ``R<yyyymmdd>-<random hex>``.
        created_at : datetime.datetime, optional
            Timezone-aware (a naive time raises ``TypeError``); stored in UTC. Defaults to
            now (UTC).

        Returns
        -------
        str
            The run id.

        Examples
        --------
        See the class docstring.
        """
        run_id = run_id or f"R{as_of:%Y%m%d}-{uuid.uuid4().hex[:12]}"
        row = {
            "run_id": run_id,
            "as_of": as_of,
            "created_at": _as_utc(created_at or datetime.now(UTC)),
            "portfolio_hash": portfolio_hash,
            "n_cases": int(n_cases),
            "software_version": software_version,
        }
        with self._begin(f"recording run {run_id}") as conn:
            conn.execute(_runs.insert(), [row])
        return run_id

    def record_decisions(self, run_id: str, decisions: pd.DataFrame) -> int:
        """Record one row per invoice decision of a run.

        Parameters
        ----------
        run_id : str
            From :meth:`record_run`.
        decisions : pandas.DataFrame
            ``invoice_id, case_id, customer_id, level, open_amount`` (``Decimal``),
            ``currency``, and optionally ``risk``, ``offer`` (default ``"none"``) and
            ``reason_codes`` (``|``-separated; default empty).

        Returns
        -------
        int
            Number of rows written.

        Raises
        ------
        StoreError
            If columns are missing, an amount is not a ``Decimal``, or the write fails.

        Examples
        --------
        See the module docstring.
        """
        missing = [c for c in _DECISION_INPUT if c not in decisions.columns]
        if missing:
            msg = f"record_decisions: the decisions lack the column(s) {missing}."
            raise StoreError(msg, url=self.url)
        amounts = decisions["open_amount"].tolist()
        if not all(isinstance(a, Decimal) for a in amounts):
            msg = "record_decisions: open_amount must hold Decimal values (money is never float)."
            raise StoreError(msg, url=self.url)
        n = len(decisions)

        def column(name: str, default: object) -> list[Any]:
            if name not in decisions.columns:
                return [default] * n
            return [default if _none(v) is None else v for v in decisions[name].tolist()]

        rows = [
            {
                "run_id": run_id,
                "invoice_id": str(invoice_id),
                "case_id": None if case is None else str(case),
                "customer_id": str(customer_id),
                "level": int(level),
                "open_amount": str(amount),
                "currency": str(currency),
                "risk": None if risk is None else float(risk),
                "offer": str(offer),
                "reasons": str(reasons),
            }
            for invoice_id, case, customer_id, level, amount, currency, risk, offer, reasons in zip(
                decisions["invoice_id"].tolist(),
                column("case_id", None),
                decisions["customer_id"].tolist(),
                decisions["level"].tolist(),
                amounts,
                decisions["currency"].tolist(),
                column("risk", None),
                column("offer", "none"),
                column("reason_codes", ""),
                strict=True,
            )
        ]
        with self._begin(f"recording {n} decisions of run {run_id}") as conn:
            if rows:
                conn.execute(_decisions.insert(), rows)
        return n

    def record_letters(self, run_id: str, manifest: pd.DataFrame) -> int:
        """Record the letters of a run from a :func:`dunning.letters.render_letters` manifest.

        Returns
        -------
        int
            Number of rows written.

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     store.record_letters("R1", pd.DataFrame({"case_id": ["C1"], "format": ["pdf"],
        ...         "path": ["out/letters/C1.pdf"], "sha256": ["ab" * 32]}))
        1
        """
        rows = [
            {
                "run_id": run_id,
                "case_id": str(r["case_id"]),
                "format": str(r["format"]),
                "path": str(r["path"]),
                "sha256": str(r["sha256"]),
            }
            for r in manifest.to_dict("records")
        ]
        with self._begin(f"recording {len(rows)} letters of run {run_id}") as conn:
            if rows:
                conn.execute(_letters.insert(), rows)
        return len(rows)

    def _fail(self, method: str, message: str) -> StoreError:
        return StoreError(f"{method}: {message}", url=self.url)

    def _money(self, frame: pd.DataFrame, column: str, method: str) -> list[str]:
        """A money column as exact decimal strings; ``"0"`` for every row when absent."""
        if column not in frame.columns:
            return ["0"] * len(frame)
        values = frame[column].tolist()
        bad = [
            label
            for label, value in zip(frame.index.tolist(), values, strict=True)
            if not (isinstance(value, Decimal) and value.is_finite())
        ]
        if bad:
            shown = ", ".join(repr(b) for b in bad[:5]) + (", …" if len(bad) > 5 else "")
            msg = (
                f"{column} must hold finite Decimal values (money is never float); "
                f"row(s) {shown} do not. Convert with decimal.Decimal(str(x)) or read the "
                "amounts as text."
            )
            raise self._fail(method, msg)
        return [str(v) for v in values]

    def record_issued(self, events: pd.DataFrame, *, issued_at: datetime | None = None) -> int:
        """Record dunning letters actually issued, skipping letters already recorded.

        One row per invoice and level. A row whose ``(invoice_id, level)`` is already in
        the store is skipped, as is a repeat of the same pair later in ``events`` (the
        first is kept), so recording the same events twice inserts nothing the second
        time. The database's primary key guarantees a level is never issued twice for an
        invoice, also with several writers.

        Parameters
        ----------
        events : pandas.DataFrame
            Required: ``invoice_id, level`` (``>= 1``), ``case_id, customer_id,
            issued_on`` (date), ``channel`` (``email``, ``letter`` or ``sms``) and
            ``currency`` (ISO 4217 code). Optional: the money columns ``fee, interest,
            flat_fee, earlier_fees, open_amount`` (``Decimal``; a column that is absent is
            stored as ``"0"`` for every row, an exact zero in any currency), ``run_id``
            and ``approved_by`` (the clerk's id; missing or empty means issued
            automatically).
        issued_at : datetime.datetime, optional
            When the letters were issued, timezone-aware; stored in UTC. Defaults to now.

        Returns
        -------
        int
            Number of rows actually inserted.

        Raises
        ------
        StoreError
            If required columns are missing (all are named), a money column holds anything
            but finite ``Decimal`` values (the column is named), a row is invalid (the row
            is named), ``issued_at`` is naive, or the write fails.

        Examples
        --------
        >>> events = pd.DataFrame({"invoice_id": ["R-1", "R-2"], "level": [1, 2],
        ...     "case_id": ["C1", "C1"], "customer_id": ["K-1", "K-1"],
        ...     "issued_on": [date(2026, 11, 23)] * 2, "channel": ["letter"] * 2,
        ...     "currency": ["EUR"] * 2, "fee": [Decimal("0.00"), Decimal("5.00")],
        ...     "open_amount": [Decimal("1234.56"), Decimal("0.10")], "run_id": ["R1"] * 2})
        >>> with DecisionStore("sqlite://") as store:
        ...     first = store.record_issued(events)
        ...     again = store.record_issued(events)
        ...     history = store.issued()
        >>> first, again
        (2, 0)
        >>> history[["invoice_id", "level", "issued_on", "channel", "fee", "open_amount"]]
          invoice_id  level  issued_on channel   fee open_amount
        0        R-1      1 2026-11-23  letter  0.00     1234.56
        1        R-2      2 2026-11-23  letter  5.00        0.10
        """
        method = "record_issued"
        missing = [c for c in _ISSUED_INPUT if c not in events.columns]
        if missing:
            msg = f"the events lack the required column(s) {missing}."
            raise self._fail(method, msg)
        try:
            stamp = datetime.now(UTC) if issued_at is None else _as_utc(issued_at)
        except (TypeError, ValueError) as exc:
            raise self._fail(method, f"issued_at: {exc}.") from exc
        money = {c: self._money(events, c, method) for c in _ISSUED_MONEY}
        n = len(events)

        def optional(name: str) -> list[str | None]:
            if name not in events.columns:
                return [None] * n
            return [_text(v) for v in events[name].tolist()]

        run_ids, approvers = optional("run_id"), optional("approved_by")
        labels = events.index.tolist()
        columns = {c: events[c].tolist() for c in _ISSUED_INPUT}
        rows: list[dict[str, Any]] = []
        for i, label in enumerate(labels):
            try:
                row = _issued_fields({c: columns[c][i] for c in _ISSUED_INPUT})
            except (TypeError, ValueError) as exc:
                case = _text(columns["case_id"][i])
                msg = f"row {label!r} (case {case!r}): {exc}. Fix the row and record again."
                raise self._fail(method, msg) from exc
            row.update({c: money[c][i] for c in _ISSUED_MONEY})
            row.update(run_id=run_ids[i], issued_at=stamp, approved_by=approvers[i])
            rows.append(row)
        rows = _first_per_key(rows, ("invoice_id", "level"))
        with self._begin(f"recording {len(rows)} issued letters") as conn:
            inserted = _insert_new(conn, _issued, rows)
        if inserted < n:
            logger.info("record_issued: %d of %d rows were already recorded", n - inserted, n)
        return inserted

    def issued(self, *, until: date | None = None) -> pd.DataFrame:
        """The letters issued, usable directly as the dunning history of a portfolio.

        Parameters
        ----------
        until : datetime.date, optional
            Only letters with ``issued_on <= until``.

        Returns
        -------
        pandas.DataFrame
            The columns of the ``issued`` table in table order (``invoice_id, level,
            case_id, customer_id, issued_on, channel, currency, fee, interest, flat_fee,
            earlier_fees, open_amount, run_id, issued_at, approved_by``), ordered by
            ``invoice_id, level``: ``level`` int64, ``issued_on`` ``datetime64[ns]``,
            ``issued_at`` ``datetime64[ns, UTC]``, the money columns exact ``Decimal``,
            ``run_id`` and ``approved_by`` missing (``NaN``) when ``NULL``.

        Examples
        --------
        >>> events = pd.DataFrame({"invoice_id": ["R-1", "R-1"], "level": [1, 2],
        ...     "case_id": ["C1", "C2"], "customer_id": ["K-1", "K-1"],
        ...     "issued_on": [date(2026, 10, 2), date(2026, 10, 16)],
        ...     "channel": ["email", "letter"], "currency": ["JPY", "JPY"],
        ...     "open_amount": [Decimal("1234"), Decimal("1234")]})
        >>> with DecisionStore("sqlite://") as store:
        ...     _ = store.record_issued(events)
        ...     store.issued(until=date(2026, 10, 15))[["level", "open_amount", "fee"]]
           level open_amount fee
        0      1        1234   0
        """
        statement = select(_issued).order_by(_issued.c.invoice_id, _issued.c.level)
        if until is not None:
            statement = statement.where(_issued.c.issued_on <= until)
        frame = self._read("reading issued letters", statement)
        frame["level"] = frame["level"].astype("int64")
        frame["issued_on"] = pd.to_datetime(frame["issued_on"]).astype("datetime64[ns]")
        frame["issued_at"] = pd.to_datetime(frame["issued_at"], utc=True).astype(
            "datetime64[ns, UTC]"
        )
        for column in _ISSUED_MONEY:
            frame[column] = pd.Series(
                [Decimal(v) for v in frame[column]], index=frame.index, dtype=object
            )
        for column in ("invoice_id", "case_id", "customer_id", "channel", "currency", "run_id",
                       "approved_by"):  # fmt: skip
            frame[column] = frame[column].astype("str")
        return frame

    def record_reviews(self, reviews: pd.DataFrame) -> int:
        """Append clerks' review decisions; a review already recorded is skipped.

        Reviews are never updated or deleted: a later decision on the same case supersedes
        an earlier one when read (see :meth:`reviews`).

        Parameters
        ----------
        reviews : pandas.DataFrame
            Required: ``case_id, customer_id, invoice_ids`` (a ``|``-joined string or a
            list of invoice ids), ``action`` (one of :data:`REVIEW_ACTIONS`), ``clerk_id``
            and ``reason`` (both non-empty), ``decided_at`` (timezone-aware datetime,
            stored in UTC) and ``as_of`` (the run date of the proposal reviewed).
            Optional: ``offer`` (required for ``change_offer`` and allowed only there),
            ``hold_until`` (the last day of a ``hold``, allowed only there; empty: until
            a later review) and ``review_id``. A missing ``review_id`` defaults to
            the first 16 hex digits of the sha256 of ``case_id|action|clerk_id|decided_at``
            (``decided_at`` in UTC, ISO format), so recording the same review twice
            inserts it once. Of several rows with the same ``review_id`` the first is kept.

        Returns
        -------
        int
            Number of rows actually inserted.

        Raises
        ------
        StoreError
            If required columns are missing, a row is invalid (an unknown action, an empty
            ``clerk_id`` or ``reason``, a naive ``decided_at``, an ``offer`` missing for or
            given without ``change_offer``, a ``hold_until`` without ``hold``; the row is
            named) or the write fails.
            Nothing is written then.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> review = pd.DataFrame({"case_id": ["C1"], "customer_id": ["K-1"],
        ...     "invoice_ids": [["R-1", "R-2"]], "action": ["hold"], "clerk_id": ["clerk-7"],
        ...     "reason": ["customer called, pays on Friday"],
        ...     "hold_until": [date(2026, 11, 27)],
        ...     "decided_at": [datetime(2026, 11, 24, 9, 30, tzinfo=UTC)],
        ...     "as_of": [date(2026, 11, 23)]})
        >>> with DecisionStore("sqlite://") as store:
        ...     store.record_reviews(review), store.record_reviews(review)
        (1, 0)
        """
        method = "record_reviews"
        missing = [c for c in _REVIEW_INPUT if c not in reviews.columns]
        if missing:
            msg = f"the reviews lack the required column(s) {missing}."
            raise self._fail(method, msg)
        n = len(reviews)

        def optional(name: str) -> list[Any]:
            return reviews[name].tolist() if name in reviews.columns else [None] * n

        columns = {c: reviews[c].tolist() for c in _REVIEW_INPUT}
        offers, holds, ids = optional("offer"), optional("hold_until"), optional("review_id")
        rows: list[dict[str, Any]] = []
        for i, label in enumerate(reviews.index.tolist()):
            case = _text(columns["case_id"][i])
            try:
                row = self._review_row(
                    {c: columns[c][i] for c in _REVIEW_INPUT},
                    offer=offers[i],
                    hold_until=holds[i],
                    given_id=ids[i],
                )
            except (TypeError, ValueError) as exc:
                msg = f"row {label!r} (case {case!r}): {exc}. Nothing was recorded."
                raise self._fail(method, msg) from exc
            rows.append(row)
        rows = _first_per_key(rows, ("review_id",))
        with self._begin(f"recording {len(rows)} reviews") as conn:
            return _insert_new(conn, _reviews, rows)

    @staticmethod
    def _review_row(
        values: dict[str, Any], *, offer: Any, hold_until: Any, given_id: Any
    ) -> dict[str, Any]:
        """One validated ``reviews`` row; ``ValueError``/``TypeError`` name the problem."""
        hint = " (every review needs the clerk's id and a reason)"
        row: dict[str, Any] = {
            name: _required_text(values[name], name, hint if name in ("clerk_id", "reason") else "")
            for name in ("case_id", "customer_id", "action", "clerk_id", "reason")
        }
        if row["action"] not in REVIEW_ACTIONS:
            msg = f"action {row['action']!r} is not one of {REVIEW_ACTIONS}"
            raise ValueError(msg)
        ids = values["invoice_ids"]
        if not isinstance(ids, str) and hasattr(ids, "__iter__"):
            ids = "|".join(str(i) for i in ids)
        row["invoice_ids"] = _required_text(ids, "invoice_ids")
        row["offer"] = _text(offer)
        if (row["action"] == "change_offer") != (row["offer"] is not None):
            msg = "an offer is required for action 'change_offer' and allowed only there"
            raise ValueError(msg)
        has_hold = _none(hold_until) is not None
        if has_hold and row["action"] != "hold":
            msg = "hold_until is allowed only for action 'hold'"
            raise ValueError(msg)
        row["hold_until"] = _field(_as_date, hold_until, "hold_until") if has_hold else None
        row["decided_at"] = _field(_as_utc, values["decided_at"], "decided_at")
        row["as_of"] = _field(_as_date, values["as_of"], "as_of")
        row["review_id"] = _text(given_id) or _review_id(
            row["case_id"], row["action"], row["clerk_id"], row["decided_at"]
        )
        return row

    def reviews(self, *, case_id: str | None = None) -> pd.DataFrame:
        """The review decisions, oldest first; the last one of a case is in force.

        Parameters
        ----------
        case_id : str, optional
            Only the reviews of this case.

        Returns
        -------
        pandas.DataFrame
            The columns of the ``reviews`` table in table order (``review_id, case_id,
            customer_id, invoice_ids, action, clerk_id, reason, offer, hold_until,
            decided_at, as_of``), ordered by ``decided_at`` then ``review_id``:
            ``decided_at`` ``datetime64[ns, UTC]``, ``hold_until`` and ``as_of``
            ``datetime64[ns]`` (like the dates of the input tables; ``NaT`` when ``NULL``),
            ``offer`` missing (``NaN``) when ``NULL``.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> reviews = pd.DataFrame({"case_id": ["C1", "C1"], "customer_id": ["K-1"] * 2,
        ...     "invoice_ids": ["R-1|R-2"] * 2, "action": ["escalate", "approve"],
        ...     "clerk_id": ["clerk-7", "lead-2"],
        ...     "reason": ["amount unusual", "checked with the customer"],
        ...     "decided_at": [datetime(2026, 11, 24, 9, tzinfo=UTC),
        ...                    datetime(2026, 11, 24, 15, tzinfo=UTC)],
        ...     "as_of": [date(2026, 11, 23)] * 2})
        >>> with DecisionStore("sqlite://") as store:
        ...     _ = store.record_reviews(reviews)
        ...     back = store.reviews(case_id="C1")
        >>> back[["action", "clerk_id", "decided_at"]]
             action clerk_id                decided_at
        0  escalate  clerk-7 2026-11-24 09:00:00+00:00
        1   approve   lead-2 2026-11-24 15:00:00+00:00
        >>> back.groupby("case_id").tail(1)["action"].tolist()   # the decision in force
        ['approve']
        """
        statement = select(_reviews).order_by(_reviews.c.decided_at, _reviews.c.review_id)
        if case_id is not None:
            statement = statement.where(_reviews.c.case_id == case_id)
        frame = self._read("reading reviews", statement)
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True).astype(
            "datetime64[ns, UTC]"
        )
        for column in ("hold_until", "as_of"):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        for column in ("review_id", "case_id", "customer_id", "invoice_ids", "action",
                       "clerk_id", "reason", "offer"):  # fmt: skip
            frame[column] = frame[column].astype("str")
        return frame

    def _read(self, what: str, statement: Any) -> pd.DataFrame:
        with self._begin(what) as conn:
            result = conn.execute(statement)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def runs(self) -> pd.DataFrame:
        """All recorded runs, oldest first.

        Examples
        --------
        See the class docstring.
        """
        frame = self._read("reading runs", select(_runs).order_by(_runs.c.created_at))
        # SQLite returns the stored UTC time naive, PostgreSQL aware: both become UTC.
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True).astype(
            "datetime64[ns, UTC]"
        )
        return frame

    def decisions(self, run_id: str) -> pd.DataFrame:
        """The decisions of a run, with ``open_amount`` as exact ``Decimal``.

        Returns
        -------
        pandas.DataFrame
            Columns ``run_id, invoice_id, case_id, customer_id, level, open_amount,
            currency, risk, offer, reasons``, ordered by ``invoice_id``.

        Raises
        ------
        StoreError
            If the run is unknown.

        Examples
        --------
        See the module docstring.
        """
        known = self._read(
            f"looking up run {run_id}", select(_runs.c.run_id).where(_runs.c.run_id == run_id)
        )
        if known.empty:
            msg = f"decision store {self.url}: no run {run_id!r}; see DecisionStore.runs()."
            raise StoreError(msg, url=self.url)
        frame = self._read(
            f"reading decisions of run {run_id}",
            select(_decisions)
            .where(_decisions.c.run_id == run_id)
            .order_by(_decisions.c.invoice_id),
        )
        frame["open_amount"] = pd.Series(
            [Decimal(v) for v in frame["open_amount"]], index=frame.index, dtype=object
        )
        frame["level"] = frame["level"].astype("int64")
        frame["risk"] = frame["risk"].astype("float64")
        for column in ("run_id", "invoice_id", "case_id", "customer_id", "currency", "offer",
                       "reasons"):  # fmt: skip
            frame[column] = frame[column].astype("str")
        return frame

    def letters(self, run_id: str) -> pd.DataFrame:
        """The letters of a run (``run_id, case_id, format, path, sha256``).

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     len(store.letters("R1"))
        0
        """
        return self._read(
            f"reading letters of run {run_id}",
            select(_letters)
            .where(_letters.c.run_id == run_id)
            .order_by(_letters.c.case_id, _letters.c.format),
        )
