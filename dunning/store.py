"""The decision store: every run, decision and letter, recorded in a SQL database.

SQLAlchemy 2 Core over SQLite by default (any SQLAlchemy URL works). Three tables:

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

Amounts are read back as exact :class:`~decimal.Decimal`. Database errors are raised as
:class:`~dunning.errors.StoreError` with the URL (credentials removed). Audit events,
reviews and migrations come in a later version.

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

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
from sqlalchemy import (
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
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dunning.errors import StoreError

__all__ = ["DecisionStore", "sqlite_url"]

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

_DECISION_INPUT = ("invoice_id", "case_id", "customer_id", "level", "open_amount", "currency")


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
            Defaults to now (UTC).

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
            "created_at": created_at or datetime.now(UTC),
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
        return self._read("reading runs", select(_runs).order_by(_runs.c.created_at))

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
