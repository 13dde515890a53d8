"""The decision store: every run, decision, letter, issued letter and review, in SQL.

SQLAlchemy 2 Core over SQLite by default (any SQLAlchemy URL works; written for SQLite and
PostgreSQL). Opening a store brings its database to the newest schema with the Alembic
migrations shipped in ``dunning/migrations`` (see ``docs/audit.md``). Seven tables:

``runs``
    ``run_id`` (primary key), ``as_of``, ``created_at`` (UTC), ``portfolio_hash``,
    ``n_cases``, ``software_version``, ``policy_version`` and ``finished_at`` (UTC;
    ``NULL`` while the run is unfinished, e.g. after a crash).
``cases``
    ``run_id, case_id`` (primary key together), ``customer_id, name, level,
    amount_due`` (exact decimal as text), ``currency, risk, offer, tone, channel,
    language, needs_review, review_reason, as_of``: the cases a run proposed, read by the
    review queue (:meth:`DecisionStore.cases`).
``decisions``
    ``run_id, invoice_id`` (primary key together), ``case_id`` (``NULL`` when the
    customer gets no letter), ``customer_id, level, open_amount`` (exact decimal as
    **text**, never a float), ``currency, risk, offer, reasons`` (the reason codes,
    ``|``-separated, most important first).
``letters``
    ``run_id, case_id, format`` (primary key together), ``path, sha256``, and for letters
    ``pages``, ``template`` (the template id), ``template_sha256`` (the template set) and
    ``data_sha256`` (the data the letter was made from).
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
``audit_events``
    The tamper-evident audit trail, append-only: ``seq`` (primary key, 1, 2, 3, … in the
    order recorded), ``at`` (UTC), ``kind``, ``run_id, subject`` (nullable), ``payload``
    (canonical JSON text) and the hash chain ``content_hash, prev_hash, chain_hash``.
    :meth:`DecisionStore.record_issued` and :meth:`DecisionStore.record_reviews` add a
    ``letter_issued`` or ``review_decision`` event for every row they insert, in the same
    transaction; :meth:`DecisionStore.record_events` adds any other;
    :meth:`DecisionStore.verify_audit` and :func:`verify_audit_file` re-check the chain.
    The exact encoding is in ``docs/audit.md``, so that an auditor can check it without
    this library.

Amounts are read back as exact :class:`~decimal.Decimal`. Database errors are raised as
:class:`~dunning.errors.StoreError` with the URL (credentials removed).

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
import json
import logging
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from dunning.errors import DataError, StoreError
from dunning.models import CHANNELS

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "AUDIT_GENESIS",
    "AUDIT_KINDS",
    "REVIEW_ACTIONS",
    "REVIEW_COLUMNS",
    "AuditVerification",
    "DecisionStore",
    "sqlite_url",
    "verify_audit_file",
]

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
    Column("policy_version", String(64), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

_cases = Table(
    "cases",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("case_id", String(96), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("name", Text, nullable=True),
    Column("level", Integer, nullable=False),
    Column("amount_due", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("risk", Float, nullable=True),
    Column("offer", String(32), nullable=False),
    Column("tone", String(16), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("language", String(8), nullable=False),
    Column("needs_review", Boolean, nullable=False),
    Column("review_reason", Text, nullable=False),
    Column("as_of", Date, nullable=False),
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
    Column("pages", Integer, nullable=True),
    Column("template", Text, nullable=True),
    Column("template_sha256", String(64), nullable=True),
    Column("data_sha256", String(64), nullable=True),
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

_audit = Table(
    "audit_events",
    _metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("run_id", String(64), nullable=True),
    Column("subject", String(128), nullable=True),
    Column("payload", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    CheckConstraint("seq >= 1", name="ck_audit_events_seq"),
    Index("ix_audit_events_run_id", "run_id"),
    Index("ix_audit_events_subject", "subject"),
)

#: The kinds of audit event this library writes or expects from a run. Any other kind made
#: of lower-case letters, digits and ``_`` (at most 32 characters) is accepted too.
AUDIT_KINDS: tuple[str, ...] = (
    "run_started",
    "run_finished",
    "case_proposed",
    "review_decision",
    "letter_issued",
    "payment_received",
)

#: The ``prev_hash`` of the first audit event: 64 zeros.
AUDIT_GENESIS = "0" * 64

_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_HASH = re.compile(r"[0-9a-f]{64}")
_AUDIT_FIELDS = ("kind", "at", "run_id", "subject", "payload")
_AUDIT_COLUMNS = tuple(c.name for c in _audit.columns)
_AUDIT_LIMITS = {"run_id": 64, "subject": 128}
_AUDIT_CHUNK = 5000

# The newest migration (dunning/migrations/versions); a test checks it is Alembic's head.
_SCHEMA_HEAD = "0002"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x64756E6E  # the PostgreSQL advisory lock held while migrating ("dunn")
_AUDIT_LOCK = 0x61756474  # the PostgreSQL advisory lock held while appending events ("audt")
_SQLITE_BEGIN = "dunning_sqlite_begin"  # execution option: "IMMEDIATE" for writers
_SQLITE_TIMEOUT = 30.0  # seconds a SQLite writer waits for the write lock

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


def _column_values(frame: pd.DataFrame, name: str, default: Any) -> list[Any]:
    """A column's values with ``default`` for missing cells, or for every row if absent."""
    if name not in frame.columns:
        return [default] * len(frame)
    return [default if _none(v) is None else v for v in frame[name].tolist()]


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


def _insert_new(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert the rows whose primary key is not in the table yet; return their keys.

    SQLite and PostgreSQL use ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (safe against
    concurrent writers); other databases go through :func:`_insert_missing`.
    """
    if not rows:
        return []
    dialects: dict[str, Callable[[Table], Any]] = {
        "sqlite": sqlite.insert,
        "postgresql": postgresql.insert,
    }
    insert = dialects.get(conn.dialect.name)
    keys = list(table.primary_key.columns)
    if insert is None or not conn.dialect.insert_executemany_returning:
        new = _missing_rows(conn, table, rows)
        if new:
            conn.execute(table.insert(), new)
        return [tuple(row[k.name] for k in keys) for row in new]
    statement = insert(table).on_conflict_do_nothing(index_elements=keys).returning(*keys)
    return [tuple(found) for found in conn.execute(statement, list(rows))]


def _insert_missing(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Portable fallback: look the keys up in the same transaction, insert the others.

    A concurrent writer inserting the same key in between makes the insert fail with an
    integrity error (raised as :class:`StoreError`); recording again then succeeds.
    """
    new = _missing_rows(conn, table, rows)
    if new:
        conn.execute(table.insert(), new)
    return len(new)


def _missing_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows whose primary key is not in the table, looked up in chunks."""
    keys = list(table.primary_key.columns)
    first = [row[keys[0].name] for row in rows]
    existing: set[tuple[Any, ...]] = set()
    for start in range(0, len(first), _KEY_CHUNK):
        chunk = sorted(set(first[start : start + _KEY_CHUNK]))
        found = conn.execute(select(*keys).where(keys[0].in_(chunk)))
        existing.update(tuple(r) for r in found)
    return [row for row in rows if tuple(row[k.name] for k in keys) not in existing]


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


# --- the audit trail: canonical encoding, hash chain, verification ---------------------------


def _utc_text(moment: datetime) -> str:
    """A time as the audit trail encodes it: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Examples
    --------
    >>> from datetime import timedelta, timezone
    >>> _utc_text(datetime(2026, 11, 23, 7, 30, tzinfo=timezone(timedelta(hours=1))))
    '2026-11-23T06:30:00.000000Z'
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _audit_content(
    seq: int, at: str, kind: str, run_id: str | None, subject: str | None, payload: str
) -> str:
    """The canonical encoding of an event's content, whose sha256 is its ``content_hash``.

    The fields ``seq`` (in decimal), ``at``, ``kind``, ``run_id``, ``subject`` and
    ``payload``, in this order and joined by line feeds, each written as ``-`` when it is
    ``NULL`` and otherwise as its length in UTF-8 bytes, ``:`` and the text itself.

    Examples
    --------
    >>> print(_audit_content(1, "2026-11-23T06:30:00.000000Z", "run_started", "R1", None,
    ...                      '{"n_cases":2}'))
    1:1
    27:2026-11-23T06:30:00.000000Z
    11:run_started
    2:R1
    -
    13:{"n_cases":2}
    """
    fields = (str(seq), at, kind, run_id, subject, payload)
    return "\n".join("-" if f is None else f"{len(f.encode('utf-8'))}:{f}" for f in fields)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data: amounts as decimal strings, dates and times ISO (UTC)."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"{where} has the key {key!r}; keys must be strings"
                raise TypeError(msg)
            plain[key] = _jsonable(item, f"{where}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            msg = f"{where} is {value}, not a finite amount"
            raise ValueError(msg)
        return str(value)
    if _none(value) is None:  # NaN, NaT, pd.NA
        return None
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            msg = f"{where} is infinite"
            raise ValueError(msg)
        return float(value)
    if isinstance(value, datetime):  # also pandas.Timestamp
        return _utc_text(_field(_as_utc, value, where))
    if isinstance(value, date):
        return value.isoformat()
    msg = (
        f"{where} is a {type(value).__name__}; give text, a number, a Decimal, a date, a "
        "timezone-aware datetime, a list or a mapping"
    )
    raise TypeError(msg)


def _canonical_json(payload: Mapping[str, Any]) -> str:
    """The canonical JSON text of a payload: keys sorted, no spaces, ASCII only.

    Examples
    --------
    >>> _canonical_json({"fee": Decimal("5.00"), "on": date(2026, 11, 23), "city": "Köln"})
    '{"city":"K\\\\u00f6ln","fee":"5.00","on":"2026-11-23"}'
    """
    plain = _jsonable(payload, "payload")
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class _Event(NamedTuple):
    """A validated audit event before it gets its place (``seq``) and hashes."""

    at: datetime
    kind: str
    run_id: str | None
    subject: str | None
    payload: str


def _audit_event(values: Mapping[str, Any], now: datetime) -> _Event:
    """Validate one event given to :meth:`DecisionStore.record_events`."""
    unknown = sorted(str(k) for k in values if k not in _AUDIT_FIELDS)
    if unknown:
        msg = f"unknown field(s) {unknown}; an event has {list(_AUDIT_FIELDS)}"
        raise ValueError(msg)
    kind = values.get("kind")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        msg = (
            f"kind {kind!r} is not a name of lower-case letters, digits and '_' (at most 32 "
            f"characters), such as {AUDIT_KINDS[0]!r}"
        )
        raise ValueError(msg)
    at = values.get("at")
    moment = now if _none(at) is None else _field(_as_utc, at, "at")
    ids: dict[str, str | None] = {}
    for name, limit in _AUDIT_LIMITS.items():
        value = values.get(name)
        if not isinstance(value, str):
            if _none(value) is not None:
                msg = f"{name} must be text or None, got {type(value).__name__}"
                raise TypeError(msg)
            value = None
        if value is not None and not 1 <= len(value) <= limit:
            msg = f"{name} must have 1 to {limit} characters (None when there is none)"
            raise ValueError(msg)
        ids[name] = value
    payload = values.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        msg = f"payload must be a mapping (a JSON object), got {type(payload).__name__}"
        raise TypeError(msg)
    event = _Event(moment, kind, ids["run_id"], ids["subject"], _canonical_json(payload))
    try:
        _audit_content(0, "", kind, event.run_id, event.subject, "").encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = f"run_id or subject is not valid Unicode text ({exc.reason})"
        raise ValueError(msg) from exc
    return event


@dataclass(frozen=True)
class AuditVerification:
    """The result of re-checking an audit trail's hash chain.

    Attributes
    ----------
    ok : bool
        Every event links up (and matches the anchor, when one was given).
    events : int
        How many events the trail holds (all are read, also after a broken link).
    first_broken : int or None
        The ``seq`` of the first event whose link is broken: changed, missing (deleted),
        inserted or out of place; ``None`` when ``ok``.
    reason : str
        What was found, in words.
    head : str
        The ``chain_hash`` of the last event (:data:`AUDIT_GENESIS` when there is none).
        Kept outside the database, ``(events, head)`` (see :attr:`anchor`) later proves that
        nothing up to there was rewritten or cut off.

    Examples
    --------
    >>> with DecisionStore("sqlite://") as store:
    ...     _ = store.record_events([{"kind": "run_started", "run_id": "R1"}])
    ...     check = store.verify_audit()
    >>> check.ok, check.events, check.first_broken
    (True, 1, None)
    >>> check.anchor == (1, check.head)
    True
    """

    ok: bool
    events: int
    first_broken: int | None
    reason: str
    head: str

    @property
    def anchor(self) -> tuple[int, str]:
        """``(events, head)``: pass it to a later verification as ``anchor``."""
        return (self.events, self.head)


def _valid_anchor(anchor: Any) -> tuple[int, str] | None:
    """The anchor as ``(seq, chain_hash)``; ``ValueError`` when it is not one."""
    if anchor is None:
        return None
    if (
        isinstance(anchor, tuple | list)
        and len(anchor) == 2
        and isinstance(anchor[0], int)
        and not isinstance(anchor[0], bool)
        and anchor[0] >= 0
        and isinstance(anchor[1], str)
        and _HASH.fullmatch(anchor[1])
        and (anchor[0] > 0 or anchor[1] == AUDIT_GENESIS)
    ):
        return (anchor[0], anchor[1])
    msg = (
        f"anchor {anchor!r} is not (seq, chain_hash) with seq >= 0 and 64 lower-case hex "
        "digits, such as AuditVerification.anchor"
    )
    raise ValueError(msg)


class _Walk:
    """Check audit events one by one, in the order of the trail; keep the first break."""

    def __init__(self, anchor: tuple[int, str] | None) -> None:
        self.anchor = anchor
        self.events = 0
        self.head = AUDIT_GENESIS
        self.broken: tuple[int, str] | None = None
        self.anchored: str | None = None

    def add(
        self,
        seq: Any,
        at: str,
        kind: str,
        run_id: str | None,
        subject: str | None,
        payload: str,
        content_hash: str,
        prev_hash: str,
        chain_hash: str,
    ) -> None:
        self.events += 1
        if self.broken is None:
            self.broken = self._check(
                seq, at, kind, run_id, subject, payload, content_hash, prev_hash, chain_hash
            )
        if self.anchor is not None and seq == self.anchor[0]:
            self.anchored = chain_hash
        self.head = chain_hash

    def unreadable(self, problem: str) -> None:
        """An event that cannot be read at all (a malformed line, a garbled value)."""
        self.events += 1
        if self.broken is None:
            self.broken = (self.events, f"event {self.events}: {problem}")

    def _check(
        self,
        seq: Any,
        at: str,
        kind: str,
        run_id: str | None,
        subject: str | None,
        payload: str,
        content_hash: str,
        prev_hash: str,
        chain_hash: str,
    ) -> tuple[int, str] | None:
        expected = self.events
        if not isinstance(seq, int) or isinstance(seq, bool):
            return expected, f"event {expected} has the seq {seq!r}, not a whole number"
        if seq > expected:
            before = (
                f"event {expected - 1} is followed by" if expected > 1 else "the trail starts at"
            )
            return expected, f"event {expected} is missing: {before} event {seq} (deleted)"
        if seq < expected:
            return seq, (
                f"event {seq} comes again after event {expected - 1} (duplicated or reordered)"
            )
        if _sha256(_audit_content(seq, at, kind, run_id, subject, payload)) != content_hash:
            return seq, (
                f"event {seq} ({kind}) does not match its content_hash: its seq, at, kind, "
                "run_id, subject or payload was changed after it was recorded"
            )
        if prev_hash != self.head:
            link = f"the chain_hash of event {seq - 1}" if seq > 1 else "AUDIT_GENESIS (64 zeros)"
            return seq, (
                f"event {seq}: prev_hash is not {link}: an event before it was changed, "
                "replaced or inserted"
            )
        if _sha256(prev_hash + content_hash) != chain_hash:
            return seq, f"event {seq}: chain_hash is not sha256(prev_hash + content_hash)"
        return None

    def result(self) -> AuditVerification:
        broken = self.broken
        if broken is None and self.anchor is not None:
            seq, chain = self.anchor
            if seq > self.events:
                broken = (self.events + 1, (
                    f"the trail ends at event {self.events}, but the anchor names event {seq}: "
                    "events at its end were deleted"
                ))  # fmt: skip
            elif seq > 0 and self.anchored != chain:
                broken = (seq, (
                    f"event {seq} has the chain_hash {str(self.anchored)[:12]}…, not the "
                    f"anchor's {chain[:12]}…: the trail up to event {seq} was rewritten"
                ))  # fmt: skip
        if broken is not None:
            return AuditVerification(False, self.events, broken[0], broken[1], self.head)
        reason = f"all {self.events} events link up; head {self.head[:16]}…"
        if self.anchor is not None and self.anchor[0] > 0:
            reason += f"; event {self.anchor[0]} matches the anchor"
        return AuditVerification(True, self.events, None, reason, self.head)


_EXPORT_TEXT = ("at", "kind", "payload", "content_hash", "prev_hash", "chain_hash")


def _export_fields(line: bytes) -> tuple[Any, ...]:
    """The nine fields of one exported line, in table order; ``ValueError`` if malformed."""
    record = json.loads(line.decode("utf-8"))
    if not isinstance(record, dict) or sorted(record) != sorted(_AUDIT_COLUMNS):
        msg = f"the line is not a JSON object with exactly the fields {list(_AUDIT_COLUMNS)}"
        raise ValueError(msg)
    wrong = [name for name in _EXPORT_TEXT if not isinstance(record[name], str)]
    wrong += [n for n in ("run_id", "subject") if not isinstance(record[n], str | None)]
    if wrong:
        msg = f"the field(s) {wrong} are not text"
        raise ValueError(msg)
    return tuple(record[name] for name in _AUDIT_COLUMNS)


def verify_audit_file(
    path: str | os.PathLike[str], *, anchor: tuple[int, str] | None = None
) -> AuditVerification:
    """Re-check an audit trail exported by :meth:`DecisionStore.export_audit`, offline.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON Lines file: one event per line, in ``seq`` order.
    anchor : tuple of (int, str), optional
        ``(seq, chain_hash)`` kept from an earlier check (:attr:`AuditVerification.anchor`),
        to detect a trail rewritten or cut off after that event.

    Returns
    -------
    AuditVerification
        ``ok`` is false and ``first_broken`` names the first bad event when a line was
        changed, deleted, inserted, moved or is not a valid event.

    Raises
    ------
    DataError
        If the file cannot be read.
    ValueError
        If ``anchor`` is not ``(seq, chain_hash)``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with DecisionStore("sqlite://") as store:
    ...     _ = store.record_events([{"kind": "run_started", "run_id": "R1"},
    ...                              {"kind": "run_finished", "run_id": "R1"}])
    ...     store.export_audit(folder / "audit.jsonl")
    2
    >>> verify_audit_file(folder / "audit.jsonl").ok
    True
    >>> lines = (folder / "audit.jsonl").read_text().splitlines()
    >>> _ = (folder / "cut.jsonl").write_text(lines[1] + "\\n")   # the first event removed
    >>> check = verify_audit_file(folder / "cut.jsonl")
    >>> check.ok, check.first_broken, check.reason
    (False, 1, 'event 1 is missing: the trail starts at event 2 (deleted)')
    """
    checked = _valid_anchor(anchor)
    file = Path(path)
    try:
        handle = file.open("rb")
    except OSError as exc:
        msg = (
            f"cannot read the audit export {file}: {exc.strerror or exc}. Give the path of a "
            "file written by DecisionStore.export_audit."
        )
        raise DataError(msg, path=str(file)) from exc
    walk = _Walk(checked)
    with handle:
        for number, line in enumerate(handle, start=1):
            try:
                fields = _export_fields(line)
            except ValueError as exc:  # also JSON and UTF-8 errors
                walk.unreadable(f"line {number} is not a valid event: {exc}")
                continue
            walk.add(*fields)
    return walk.result()


def _lock_audit(conn: Connection) -> None:
    """Keep the store's other writers off the audit trail until this transaction ends.

    PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``), which needs
    no privilege on the table, so the application's role can be kept to ``SELECT`` and
    ``INSERT`` on ``audit_events``; readers go on. Taken as the transaction's first
    statement, at the default ``READ COMMITTED`` level the next statement sees what the
    previous holder committed. SQLite: the store's write transactions begin with ``BEGIN
    IMMEDIATE``, which already locks out other writers. Elsewhere the primary key on
    ``seq`` refuses a second event with the same number, so one of two concurrent
    appenders fails (and can record again).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})


def _append_events(conn: Connection, events: Sequence[_Event]) -> int:
    """Number and chain the events after the last one stored, in the caller's transaction."""
    if not events:
        return 0
    _lock_audit(conn)
    last = conn.execute(
        select(_audit.c.seq, _audit.c.chain_hash).order_by(_audit.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (int(last[0]), str(last[1])) if last is not None else (0, AUDIT_GENESIS)
    rows: list[dict[str, Any]] = []
    for item in events:
        seq += 1
        content = _sha256(
            _audit_content(
                seq, _utc_text(item.at), item.kind, item.run_id, item.subject, item.payload
            )
        )
        chain = _sha256(prev + content)
        rows.append(
            {
                "seq": seq,
                "at": item.at,
                "kind": item.kind,
                "run_id": item.run_id,
                "subject": item.subject,
                "payload": item.payload,
                "content_hash": content,
                "prev_hash": prev,
                "chain_hash": chain,
            }
        )
        prev = chain
    conn.execute(_audit.insert(), rows)
    return len(rows)


def _unrecorded(conn: Connection, events: Sequence[_Event]) -> list[_Event]:
    """The events whose (kind, run_id, subject) the trail does not have yet, first of each."""
    seen: set[tuple[str, str | None, str | None]] = set()
    for kind in sorted({e.kind for e in events}):
        runs = sorted({e.run_id for e in events if e.kind == kind and e.run_id is not None})
        clauses = [_audit.c.run_id.in_(runs)] if runs else []
        if any(e.run_id is None for e in events if e.kind == kind):
            clauses.append(_audit.c.run_id.is_(None))
        statement = select(_audit.c.kind, _audit.c.run_id, _audit.c.subject).where(
            _audit.c.kind == kind
        )
        if len(clauses) == 1:
            statement = statement.where(clauses[0])
        for found in conn.execute(statement):
            seen.add((str(found[0]), found[1], found[2]))
    kept = []
    for item in events:
        key = (item.kind, item.run_id, item.subject)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _issued_event(row: Mapping[str, Any], documents: Mapping[str, str] | None = None) -> _Event:
    """The ``letter_issued`` event of one inserted ``issued`` row.

    ``documents`` (format → sha256 of the file sent) joins the payload when given.
    """
    payload: dict[str, Any] = {
        c.name: row[c.name] for c in _issued.columns if c.name not in ("invoice_id", "run_id")
    }
    if documents:
        payload["documents"] = dict(sorted(documents.items()))
    return _audit_event(
        {
            "kind": "letter_issued",
            "at": row["issued_at"],
            "run_id": row["run_id"],
            "subject": row["invoice_id"],
            "payload": payload,
        },
        row["issued_at"],
    )


def _review_event(row: Mapping[str, Any]) -> _Event:
    """The ``review_decision`` event of one inserted ``reviews`` row."""
    payload = {k: row[k] for k in REVIEW_COLUMNS if k != "case_id"}
    return _audit_event(
        {"kind": "review_decision", "at": row["decided_at"], "subject": row["case_id"],
         "payload": payload},
        row["decided_at"],
    )  # fmt: skip


def _db_time(value: Any) -> datetime:
    """A stored ``at``: aware from PostgreSQL, naive UTC (or text) from SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        msg = f"at is {value!r}, not a time"
        raise TypeError(msg)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- schema migrations ------------------------------------------------------------------------


def _alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the packaged migrations; no ``alembic.ini`` involved.

    With ``url`` the migrations run on their own connection; :class:`DecisionStore` passes
    its connection in ``config.attributes["connection"]`` instead. For developers: a new
    revision is made with ``alembic.command.revision(_alembic_config(url),
    message="…", autogenerate=True)`` against a database at the current head.
    """
    from alembic.config import Config

    # Alembic's default stdout is bound when alembic.config is first imported; that may be a
    # stream replaced for a while (a test runner, a CLI capturing output) and closed later.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")  # an importable name
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at; ``None`` before the first migration."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(str(v) for v in found)) or None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Let the store, not Python's sqlite3 module, say when a transaction begins."""
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    """``BEGIN IMMEDIATE`` for the store's writers (the write lock up front), else ``BEGIN``."""
    mode = conn.get_execution_options().get(_SQLITE_BEGIN)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


_LETTER_OPTIONAL = ("pages", "template", "template_sha256", "data_sha256")


def _letter_rows(run_id: str | None, manifest: pd.DataFrame) -> list[dict[str, Any]]:
    """``letters`` rows of a manifest (its own ``run_id`` column wins over ``run_id``)."""
    rows = []
    for r in manifest.to_dict("records"):
        row: dict[str, Any] = {
            "run_id": _text(r.get("run_id")) or run_id,
            "case_id": str(r["case_id"]),
            "format": str(r["format"]),
            "path": str(r["path"]),
            "sha256": str(r["sha256"]),
        }
        for name in _LETTER_OPTIONAL:
            value = _none(r.get(name))
            row[name] = None if value is None else (int(value) if name == "pages" else str(value))
        if row["run_id"] is None:
            msg = f"letter of case {row['case_id']} has no run_id"
            raise ValueError(msg)
        rows.append(row)
    return rows


class DecisionStore:
    """Record runs, decisions and letters in a SQL database.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///out/dunning.sqlite``, ``postgresql://…``). The
        database is brought to the newest schema (tables created when missing). The
        store's writers take SQLite's write lock when they begin and wait up to 30 seconds
        for another writer to finish (``?timeout=`` in the URL sets other seconds).

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
            options: dict[str, Any] = {}
            if parsed.get_backend_name() == "sqlite" and "timeout" not in parsed.query:
                options["connect_args"] = {"timeout": _SQLITE_TIMEOUT}
            self._engine: Engine = create_engine(parsed, **options)
            if self._engine.dialect.name == "sqlite" and self._engine.driver == "pysqlite":
                event.listen(self._engine, "connect", _sqlite_connect)
                event.listen(self._engine, "begin", _sqlite_begin)
        except SQLAlchemyError as exc:
            raise self._cannot_open(exc) from exc
        try:
            self._migrate()
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise self._cannot_open(exc) from exc
        except BaseException:
            self._engine.dispose()
            raise

    def _cannot_open(self, exc: SQLAlchemyError) -> StoreError:
        msg = (
            f"cannot open the decision store at {self.url}: {self._describe(exc)}. "
            "Check the URL, that the folder exists and that the database is reachable."
        )
        return StoreError(msg, url=self.url)

    def _migrate(self) -> None:
        """Bring the database to the newest schema; an empty one gets every table.

        A quick look at ``alembic_version`` first: at the newest revision nothing else
        happens. Otherwise Alembic upgrades in one transaction that holds the write lock
        (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so two processes opening
        the same new database migrate it once. A store made before migrations existed (no
        ``alembic_version``) keeps its tables and rows; the missing tables are added.
        """
        with self._engine.connect() as conn, conn.begin():
            current = _schema_revision(conn)
        if current == _SCHEMA_HEAD:
            return
        from alembic import command
        from alembic.util import CommandError

        with self._engine.connect() as conn:
            conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                config = _alembic_config()
                config.attributes["connection"] = conn
                try:
                    command.upgrade(config, "head")
                except CommandError as exc:
                    msg = (
                        f"the decision store at {self.url} is at schema revision {current!r}, "
                        f"which this version of dunning does not know (its newest is "
                        f"{_SCHEMA_HEAD!r}): {exc}. Was it written by a newer dunning? Open it "
                        "with that version, or upgrade dunning."
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
    def _begin(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        """A transaction; ``write`` ones take SQLite's write lock up front (``IMMEDIATE``)."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
                with conn.begin():
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
        policy_version: str | None = None,
        exist_ok: bool = False,
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
        policy_version : str, optional
            The policy's version id (:attr:`dunning.policy.Policy.version_id`).
        exist_ok : bool
            A run with this id already recorded is kept (a resumed or continued run) and
            marked unfinished (``finished_at`` ``NULL``) until :meth:`finish_run`; without
            it, recording the same id twice is a :class:`StoreError`.

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
            "policy_version": policy_version,
        }
        with self._begin(f"recording run {run_id}", write=True) as conn:
            if exist_ok:
                if not _insert_new(conn, _runs, [row]):
                    conn.execute(
                        _runs.update().where(_runs.c.run_id == run_id).values(finished_at=None)
                    )
            else:
                conn.execute(_runs.insert(), [row])
        return run_id

    def finish_run(self, run_id: str, *, finished_at: datetime | None = None) -> None:
        """Mark a run finished: ``runs.finished_at`` is the end of its latest pass.

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     _ = store.record_run(as_of=date(2026, 11, 23), portfolio_hash="abc",
        ...                          n_cases=0, run_id="R1")
        ...     store.finish_run("R1")
        ...     bool(store.runs()["finished_at"].notna().all())
        True
        """
        stamp = _as_utc(finished_at or datetime.now(UTC))
        with self._begin(f"finishing run {run_id}", write=True) as conn:
            conn.execute(_runs.update().where(_runs.c.run_id == run_id).values(finished_at=stamp))

    def latest_run_id(self) -> str | None:
        """The id of the run recorded last (``None`` for an empty store).

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     store.latest_run_id()
        """
        statement = (
            select(_runs.c.run_id).order_by(_runs.c.created_at.desc(), _runs.c.run_id.desc())
        ).limit(1)
        found = self._read("looking up the latest run", statement)
        return None if found.empty else str(found.iloc[0, 0])

    def record_cases(self, run_id: str, cases: pd.DataFrame, *, as_of: date) -> int:
        """Record the proposed cases of a run; cases already recorded are skipped.

        Parameters
        ----------
        run_id : str
            From :meth:`record_run`.
        cases : pandas.DataFrame
            ``Proposal.cases``: ``case_id, customer_id, level, amount_due`` (``Decimal``),
            ``currency, needs_review``; optional ``name, risk, offer, tone, channel,
            language, review_reason``.
        as_of : datetime.date
            The run date.

        Returns
        -------
        int
            Number of cases inserted.

        Examples
        --------
        >>> cases = pd.DataFrame({"case_id": ["C1"], "customer_id": ["K-1"], "level": [2],
        ...     "amount_due": [Decimal("96.40")], "currency": ["EUR"],
        ...     "needs_review": [True], "review_reason": ["HIGH_EXPOSURE"]})
        >>> with DecisionStore("sqlite://") as store:
        ...     first = store.record_cases("R1", cases, as_of=date(2026, 11, 23))
        ...     again = store.record_cases("R1", cases, as_of=date(2026, 11, 23))
        ...     back = store.cases("R1")
        >>> first, again, back.loc[0, "amount_due"], bool(back.loc[0, "needs_review"])
        (1, 0, Decimal('96.40'), True)
        """
        method = "record_cases"
        missing = [
            c
            for c in ("case_id", "customer_id", "level", "amount_due", "currency", "needs_review")
            if c not in cases.columns
        ]
        if missing:
            raise self._fail(method, f"the cases lack the column(s) {missing}.")
        amounts = self._money(cases, "amount_due", method)

        def column(name: str, default: Any) -> list[Any]:
            return _column_values(cases, name, default)

        rows = [
            {
                "run_id": run_id,
                "case_id": str(case_id),
                "customer_id": str(customer),
                "name": None if name is None else str(name),
                "level": int(level),
                "amount_due": amount,
                "currency": str(currency),
                "risk": None if risk is None else float(risk),
                "offer": str(offer),
                "tone": str(tone),
                "channel": str(channel),
                "language": str(language),
                "needs_review": bool(review),
                "review_reason": str(reason),
                "as_of": as_of,
            }
            for case_id, customer, name, level, amount, currency, risk, offer, tone, channel,
            language, review, reason in zip(
                cases["case_id"].tolist(),
                cases["customer_id"].tolist(),
                column("name", None),
                cases["level"].tolist(),
                amounts,
                cases["currency"].tolist(),
                column("risk", None),
                column("offer", "none"),
                column("tone", "neutral"),
                column("channel", "letter"),
                column("language", "de"),
                cases["needs_review"].tolist(),
                column("review_reason", ""),
                strict=True,
            )
        ]  # fmt: skip
        with self._begin(f"recording {len(rows)} cases of run {run_id}", write=True) as conn:
            return len(_insert_new(conn, _cases, rows))

    def cases(self, run_id: str | None = None) -> pd.DataFrame:
        """The cases of a run (default: the latest run), ordered by ``case_id``.

        Returns
        -------
        pandas.DataFrame
            The columns of the ``cases`` table: ``run_id, case_id, customer_id, name,
            level, amount_due`` (exact ``Decimal``), ``currency, risk, offer, tone,
            channel, language, needs_review`` (bool), ``review_reason, as_of`` (date).
            Empty for an empty store.

        Examples
        --------
        See :meth:`record_cases`.
        """
        run_id = self.latest_run_id() if run_id is None else run_id
        frame = self._read(
            f"reading cases of run {run_id}",
            select(_cases).where(_cases.c.run_id == run_id).order_by(_cases.c.case_id),
        )
        frame["amount_due"] = pd.Series(
            [Decimal(v) for v in frame["amount_due"]], index=frame.index, dtype=object
        )
        frame["level"] = frame["level"].astype("int64")
        frame["risk"] = frame["risk"].astype("float64")
        frame["needs_review"] = frame["needs_review"].astype("bool")
        frame["as_of"] = [_as_date(v) for v in frame["as_of"]]
        return frame

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
            Number of rows written (a decision already recorded for the run is skipped).

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
            return _column_values(decisions, name, default)

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
        with self._begin(f"recording {n} decisions of run {run_id}", write=True) as conn:
            return len(_insert_new(conn, _decisions, rows))

    def record_letters(self, run_id: str, manifest: pd.DataFrame) -> int:
        """Record the letters of a run from a :func:`dunning.letters.render_letters` manifest.

        The manifest's ``case_id, format, path, sha256`` are required; ``pages``,
        ``template``, ``template_sha256`` and ``data_sha256`` are kept when present. A
        letter already recorded for the run (same case and format) is skipped.

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
        rows = _letter_rows(run_id, manifest)
        with self._begin(f"recording {len(rows)} letters of run {run_id}", write=True) as conn:
            return len(_insert_new(conn, _letters, rows))

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

    def record_issued(
        self,
        events: pd.DataFrame,
        *,
        issued_at: datetime | None = None,
        letters: pd.DataFrame | None = None,
    ) -> int:
        """Record dunning letters actually issued, skipping letters already recorded.

        One row per invoice and level. A row whose ``(invoice_id, level)`` is already in
        the store is skipped, as is a repeat of the same pair later in ``events`` (the
        first is kept), so recording the same events twice inserts nothing the second
        time. The database's primary key guarantees a level is never issued twice for an
        invoice, also with several writers. Every row inserted gets a ``letter_issued``
        event in the audit trail (``subject`` the invoice, ``at`` the ``issued_at``, the
        other columns in the payload) in the same transaction: both are written or neither.

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
        letters : pandas.DataFrame, optional
            The documents sent for these cases (a :func:`dunning.letters.render_letters`
            manifest, with ``run_id`` or the events' ``run_id``): recorded in ``letters``
            in the same transaction, and each ``letter_issued`` event's payload gets
            ``documents``, the sha256 of every file of its case by format. Issuing a case
            and recording what was sent is one transaction: both happen or neither.

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
        documents: dict[str, dict[str, str]] = {}
        letter_rows: list[dict[str, Any]] = []
        try:
            if letters is not None and len(letters):
                default_run = next((r for r in run_ids if r), None)
                letter_rows = _letter_rows(default_run, letters)
                for letter in letter_rows:
                    documents.setdefault(letter["case_id"], {})[letter["format"]] = letter["sha256"]
            audit = {
                (r["invoice_id"], r["level"]): _issued_event(r, documents.get(r["case_id"]))
                for r in rows
            }
        except (TypeError, ValueError) as exc:
            raise self._fail(method, f"{exc}. Nothing was recorded.") from exc
        with self._begin(f"recording {len(rows)} issued letters", write=True) as conn:
            _lock_audit(conn)  # before the rows: every audited writer locks in the same order
            keys = set(_insert_new(conn, _issued, rows))
            _insert_new(conn, _letters, letter_rows)
            inserted = _append_events(conn, [e for key, e in audit.items() if key in keys])
        if inserted < n:
            logger.info("record_issued: %d of %d rows were already recorded", n - inserted, n)
        return inserted

    def issued(
        self, *, until: date | None = None, invoice_ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """The letters issued, usable directly as the dunning history of a portfolio.

        Parameters
        ----------
        until : datetime.date, optional
            Only letters with ``issued_on <= until``.
        invoice_ids : iterable of str, optional
            Only the letters of these invoices.

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
        if invoice_ids is None:
            frame = self._read("reading issued letters", statement)
        else:
            wanted = sorted({str(i) for i in invoice_ids})
            parts = [
                self._read(
                    "reading issued letters",
                    statement.where(_issued.c.invoice_id.in_(wanted[i : i + _KEY_CHUNK])),
                )
                for i in range(0, len(wanted), _KEY_CHUNK)
            ]
            frame = (
                pd.concat(parts, ignore_index=True)
                if parts
                else self._read("reading issued letters", statement.where(false()))
            )
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
        an earlier one when read (see :meth:`reviews`). Every review inserted gets a
        ``review_decision`` event in the audit trail (``subject`` the case, ``at`` the
        ``decided_at``, the other columns in the payload), in the same transaction.

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
        try:
            audit = {r["review_id"]: _review_event(r) for r in rows}
        except (TypeError, ValueError) as exc:
            raise self._fail(method, f"{exc}. Nothing was recorded.") from exc
        with self._begin(f"recording {len(rows)} reviews", write=True) as conn:
            _lock_audit(conn)
            keys = {key for (key,) in _insert_new(conn, _reviews, rows)}
            return _append_events(conn, [e for key, e in audit.items() if key in keys])

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
        for column in ("created_at", "finished_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
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

    # --- the audit trail ----------------------------------------------------------------------

    def record_events(self, events: Sequence[Mapping[str, Any]], *, once: bool = False) -> int:
        """Append events to the audit trail, all in one transaction.

        Each event gets the next ``seq`` and its hashes from the last event stored, read
        in the same transaction while the store's other writers wait (SQLite ``BEGIN
        IMMEDIATE``, a PostgreSQL advisory lock), so processes appending at the same time
        make one unbroken chain, each call's events in one piece.

        Parameters
        ----------
        events : sequence of mappings
            Each with ``kind`` (required; one of :data:`AUDIT_KINDS` or another name of
            lower-case letters, digits and ``_``), and optionally ``run_id`` (text, at most
            64 characters), ``subject`` (the case or invoice id, at most 128), ``payload``
            (a mapping of text, numbers, ``Decimal`` amounts, dates, timezone-aware times,
            lists and mappings; stored as canonical JSON with amounts as decimal strings)
            and ``at`` (timezone-aware; default now, UTC).
        once : bool
            Skip an event when the trail already has one of the same ``kind``, ``run_id``
            and ``subject`` (a resumed run records ``run_started`` and each
            ``case_proposed`` once); checked in the same transaction.

        Returns
        -------
        int
            Number of events appended.

        Raises
        ------
        StoreError
            If an event is invalid (it is named; nothing is recorded then) or the write
            fails.

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     store.record_events([
        ...         {"kind": "run_started", "run_id": "R1",
        ...          "at": datetime(2026, 11, 23, 6, 0, tzinfo=UTC)},
        ...         {"kind": "case_proposed", "run_id": "R1", "subject": "C1",
        ...          "payload": {"level": 2, "open_amount": Decimal("1234.56")}}])
        ...     trail = store.audit_events()
        2
        >>> trail[["seq", "kind", "subject"]]
           seq           kind subject
        0    1    run_started     NaN
        1    2  case_proposed      C1
        >>> trail.loc[1, "payload"]
        '{"level":2,"open_amount":"1234.56"}'
        >>> trail.loc[1, "prev_hash"] == trail.loc[0, "chain_hash"]
        True
        """
        method = "record_events"
        if isinstance(events, Mapping | str) or not isinstance(events, Iterable):
            msg = "give a sequence of events (mappings), e.g. [{'kind': 'run_started'}]."
            raise self._fail(method, msg)
        now = datetime.now(UTC)
        checked: list[_Event] = []
        for i, values in enumerate(events):
            if not isinstance(values, Mapping):
                msg = (
                    f"event {i} is a {type(values).__name__}, not a mapping. Nothing was recorded."
                )
                raise self._fail(method, msg)
            try:
                checked.append(_audit_event(values, now))
            except (TypeError, ValueError) as exc:
                kind = values.get("kind")
                msg = f"event {i} (kind {kind!r}): {exc}. Nothing was recorded."
                raise self._fail(method, msg) from exc
        if not checked:
            return 0
        with self._begin(f"recording {len(checked)} audit events", write=True) as conn:
            if once:
                _lock_audit(conn)
                checked = _unrecorded(conn, checked)
            return _append_events(conn, checked)

    def audit_events(
        self, *, run_id: str | None = None, subject: str | None = None, kind: str | None = None
    ) -> pd.DataFrame:
        """The audit trail (or the events of one run, subject or kind), in ``seq`` order.

        Returns
        -------
        pandas.DataFrame
            The columns of ``audit_events``: ``seq`` (int64), ``at``
            (``datetime64[ns, UTC]``), ``kind``, ``run_id``, ``subject`` (missing,
            ``NaN``, when ``NULL``), ``payload`` (the canonical JSON text),
            ``content_hash``, ``prev_hash`` and ``chain_hash``.

        Examples
        --------
        See :meth:`record_events`.
        """
        statement = select(_audit).order_by(_audit.c.seq)
        for column, value in (("run_id", run_id), ("subject", subject), ("kind", kind)):
            if value is not None:
                statement = statement.where(_audit.c[column] == value)
        frame = self._read("reading the audit trail", statement)
        frame["seq"] = frame["seq"].astype("int64")
        frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[ns, UTC]")
        for column in ("kind", "run_id", "subject", "payload", "content_hash", "prev_hash",
                       "chain_hash"):  # fmt: skip
            frame[column] = frame[column].astype("str")
        return frame

    def _stream_audit(self, conn: Connection) -> Iterator[tuple[Any, ...]]:
        """The stored events, in ``seq`` order, ``at`` as the trail's UTC text.

        Yields ``("unreadable", problem)`` for an event whose ``at`` is not a time (only
        possible after tampering), so the walk can report it instead of failing.
        """
        at: ColumnElement[Any] = _audit.c.at
        if conn.dialect.name == "sqlite":  # the raw text: a garbled value must not raise
            at = type_coerce(_audit.c.at, String()).label("at")
        columns = [at if c.name == "at" else c for c in _audit.columns]
        statement = select(*columns).order_by(_audit.c.seq)
        result = conn.execute(statement.execution_options(yield_per=_AUDIT_CHUNK))
        for row in result:
            try:
                stamp = _utc_text(_db_time(row[1]))
            except (TypeError, ValueError) as exc:
                yield ("unreadable", f"at is {row[1]!r}, not a time ({exc})")
                continue
            yield (row[0], stamp, *row[2:])

    def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> AuditVerification:
        """Re-check the whole audit trail's hash chain in the database.

        Every event's ``content_hash`` is recomputed from its fields, its ``prev_hash``
        compared with the ``chain_hash`` before it and its ``chain_hash`` recomputed; the
        ``seq`` must run 1, 2, 3, … without gaps. A changed, deleted, inserted or
        reordered event breaks the chain there, unless whoever changed it rewrote every
        event after it as well: ``anchor``, an ``(events, head)`` pair kept outside the
        database (on paper, in the run report, in a mail), catches that, and events
        deleted at the end.

        Parameters
        ----------
        anchor : tuple of (int, str), optional
            ``(seq, chain_hash)`` from an earlier check (:attr:`AuditVerification.anchor`).

        Returns
        -------
        AuditVerification

        Raises
        ------
        StoreError
            If ``anchor`` is malformed or the trail cannot be read.

        Examples
        --------
        >>> with DecisionStore("sqlite://") as store:
        ...     _ = store.record_events([{"kind": "run_started", "run_id": "R1"}])
        ...     before = store.verify_audit()
        ...     _ = store.record_events([{"kind": "run_finished", "run_id": "R1"}])
        ...     after = store.verify_audit(anchor=before.anchor)
        >>> after.ok, after.events
        (True, 2)
        """
        method = "verify_audit"
        try:
            checked = _valid_anchor(anchor)
        except ValueError as exc:
            raise self._fail(method, f"{exc}.") from exc
        walk = _Walk(checked)
        with self._begin("verifying the audit trail") as conn:
            for fields in self._stream_audit(conn):
                if fields[0] == "unreadable":
                    walk.unreadable(fields[1])
                else:
                    walk.add(*fields)
        return walk.result()

    def export_audit(self, path: str | os.PathLike[str]) -> int:
        """Write the audit trail to a JSON Lines file, one event per line in ``seq`` order.

        Each line is a JSON object with the fields ``seq, at, kind, run_id, subject,
        payload`` (the canonical JSON text, as a string), ``content_hash, prev_hash,
        chain_hash``, exactly as stored, so that :func:`verify_audit_file` (or a few lines
        of any language, see ``docs/audit.md``) re-checks it without the database. The file
        is written next to its final name and then renamed: a reader never sees half of it.

        Returns
        -------
        int
            Number of events written.

        Examples
        --------
        See :func:`verify_audit_file`.
        """
        method = "export_audit"
        file = Path(path)
        partial = file.with_name(f".{file.name}.partial")
        count = 0
        try:
            with (
                self._begin("exporting the audit trail") as conn,
                partial.open("w", encoding="utf-8", newline="\n") as out,
            ):
                for fields in self._stream_audit(conn):
                    if fields[0] == "unreadable":
                        msg = f"event {count + 1}: {fields[1]}; see verify_audit()."
                        raise self._fail(method, msg)
                    record = dict(zip(_AUDIT_COLUMNS, fields, strict=True))
                    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                    out.write("\n")
                    count += 1
            partial.replace(file)
        except OSError as exc:
            msg = f"cannot write {file}: {exc.strerror or exc}. Check that the folder exists."
            raise self._fail(method, msg) from exc
        finally:
            partial.unlink(missing_ok=True)
        return count
