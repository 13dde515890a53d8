"""Loader for IBM's simulated accounts-receivable sample ("Late Payment Histories").

The sample (2,466 invoices of 100 customers, 2012–2013, US ``m/d/yyyy`` dates, every
invoice settled) is an outside fixture with a realistic shape; it is simulated, so it says
nothing about how real customers pay. Its terms are unstated, so it is not shipped with
this package: pass the path of your copy of ``WA_Fn-UseC_-Accounts-Receivable.csv``.

Mapping into the canonical schema (:data:`dunning.models.SCHEMAS`)
------------------------------------------------------------------
============  ==================================================================
table         from the sample
============  ==================================================================
invoices      ``invoiceNumber`` → ``invoice_id`` (text, leading zeros kept),
              ``customerID`` → ``customer_id``, ``InvoiceDate`` → ``issue_date``,
              ``DueDate`` → ``due_date``, ``InvoiceAmount`` → ``amount`` (USD),
              ``Disputed`` ``Yes``/``No`` → ``disputed``
payments      one full payment per invoice on ``SettledDate``, id ``P-<invoiceNumber>``,
              only if ``SettledDate`` ≤ ``as_of``
customers     one per ``customerID``, by assumption: ``name`` = the customer ID,
              ``country`` US, ``language`` en, ``segment`` B2B; address, industry,
              e-mail, phone, IBAN, vulnerability and consent are unknown (``NA``)
history       empty (the sample has no dunning history)
============  ==================================================================

``countryCode`` (an opaque code, not ISO 3166), ``PaperlessDate``/``PaperlessBill`` and
the outcome columns ``DaysToSettle``/``DaysLate`` have no canonical column and are not
mapped.

The cells go through :func:`dunning.io.load_portfolio` as text, read strictly with the
sample's format (``%m/%d/%Y`` dates, decimal point, no thousands separator), so a damaged
copy loses no row: a bad cell becomes a reject whose ``source`` and ``row`` are the
sample file and its line.

Examples
--------
>>> from datetime import date
>>> from pathlib import Path
>>> csv = Path("WA_Fn-UseC_-Accounts-Receivable.csv")
>>> result = load_ar_sample(csv, as_of=date(2013, 6, 30))  # doctest: +SKIP
>>> len(result.portfolio.invoices), len(result.rejects)  # doctest: +SKIP
(1930, 0)
>>> from dunning.ledger import open_items
>>> len(open_items(result.portfolio, date(2013, 6, 30)))  # doctest: +SKIP
84
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError
from dunning.io import CsvFormat, LoadResult, load_portfolio

__all__ = ["AR_SAMPLE_COLUMNS", "AR_SAMPLE_FILE", "load_ar_sample"]

logger = logging.getLogger(__name__)

#: File name of the sample as published.
AR_SAMPLE_FILE = "WA_Fn-UseC_-Accounts-Receivable.csv"
#: Columns of the sample this loader reads.
AR_SAMPLE_COLUMNS: tuple[str, ...] = (
    "customerID",
    "invoiceNumber",
    "InvoiceDate",
    "DueDate",
    "InvoiceAmount",
    "Disputed",
    "SettledDate",
)
_CURRENCY = "USD"
_DATE_FORMAT = "%m/%d/%Y"
_FORMAT = CsvFormat(decimal=".", thousands="", date_format=_DATE_FORMAT)


def load_ar_sample(path: str | os.PathLike[str], *, as_of: date) -> LoadResult:
    """Load the IBM accounts-receivable sample as a portfolio seen on ``as_of``.

    Every invoice of the sample is settled. Cutting it at ``as_of`` creates open items:
    invoices issued after ``as_of`` are dropped (not yet issued on that day), and a
    settlement dated after ``as_of`` is left out (it has not happened yet), so an
    invoice issued on or before ``as_of`` and settled after it is open.

    Parameters
    ----------
    path : str or os.PathLike
        The sample CSV file, or the folder that holds ``WA_Fn-UseC_-Accounts-Receivable.csv``.
    as_of : datetime.date
        The day the portfolio is looked at.

    Returns
    -------
    LoadResult
        The result of :func:`dunning.io.load_portfolio` on the mapped tables (see the
        module docstring for the mapping and its assumptions): ``portfolio``, ``rejects``
        (rows that do not fit the schema, by line of the sample file; none for the
        published file) and ``quality``. Invoices issued after ``as_of`` are in neither.

    Raises
    ------
    DataError
        If the file does not exist, cannot be read as CSV, or lacks one of
        :data:`AR_SAMPLE_COLUMNS`.

    Examples
    --------
    >>> try:
    ...     load_ar_sample("/nonexistent/ar.csv", as_of=date(2013, 6, 30))
    ... except DataError as exc:
    ...     print(exc.path)
    /nonexistent/ar.csv
    """
    raw, name = _read(Path(path))
    cutoff = pd.Timestamp(as_of)
    # Rows whose issue date does not parse are kept: the loader rejects them with a reason.
    known = ~(_dates(raw["InvoiceDate"]) > cutoff)
    line = np.flatnonzero(known.to_numpy()) + 2  # CSV line of each kept row (header = 1)
    raw = raw.loc[known].reset_index(drop=True)
    invoice_number = raw["invoiceNumber"].str.strip()
    customer = raw["customerID"].str.strip()
    usd = pd.Series(_CURRENCY, index=raw.index, dtype="str")
    # Cells go to the loader as text, read strictly with the sample's format (US dates,
    # decimal point, no thousands separator), so a bad cell is rejected with its value.
    invoices = pd.DataFrame(
        {
            "invoice_id": invoice_number,
            "customer_id": customer,
            "issue_date": raw["InvoiceDate"],
            "due_date": raw["DueDate"],
            "amount": raw["InvoiceAmount"],
            "currency": usd,
            "disputed": raw["Disputed"],
        }
    )
    paid = (_dates(raw["SettledDate"]) <= cutoff).to_numpy()
    payments = pd.DataFrame(
        {
            "payment_id": "P-" + invoice_number.loc[paid],
            "invoice_id": invoice_number.loc[paid],
            "payment_date": raw["SettledDate"].loc[paid],
            "amount": raw["InvoiceAmount"].loc[paid],
            "currency": usd.loc[paid],
        }
    ).reset_index(drop=True)
    ids = pd.Series(customer.dropna().unique(), dtype="str").sort_values(ignore_index=True)
    na_text = pd.Series(pd.NA, index=ids.index, dtype="str")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": ids,
            "street": na_text,
            "postal_code": na_text,
            "city": na_text,
            "country": pd.Series("US", index=ids.index, dtype="str"),
            "language": pd.Series("en", index=ids.index, dtype="str"),
            "segment": pd.Series("B2B", index=ids.index, dtype="str"),
            "industry": na_text,
            "email": na_text,
            "phone": na_text,
            "iban": na_text,
            "vulnerable": pd.array([pd.NA] * len(ids), dtype="boolean"),
            "contact_consent": na_text,
        }
    )
    logger.info(
        "%s: %d invoices issued by %s (%d later ones dropped), %d settled by then",
        name,
        len(invoices),
        as_of,
        int((~known).sum()),
        len(payments),
    )
    result = load_portfolio(customers, invoices, payments, as_of=as_of, csv=_FORMAT)
    lines = {"invoices": line, "payments": line[np.flatnonzero(paid)]}
    return replace(result, rejects=_to_source_lines(result.rejects, lines, name))


def _to_source_lines(
    rejects: pd.DataFrame, lines: dict[str, npt.NDArray[np.int64]], name: str
) -> pd.DataFrame:
    """Point invoice and payment rejects at the line of the sample file they came from."""
    rejects = rejects.copy()
    for table, table_lines in lines.items():
        rows = rejects["table"] == table
        if rows.any():
            position = rejects.loc[rows, "row"].to_numpy(dtype=np.int64) - 2
            rejects.loc[rows, "row"] = table_lines[position]
            rejects.loc[rows, "source"] = name
    return rejects


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    if path.is_dir():
        path = path / AR_SAMPLE_FILE
    name = str(path)
    if not path.is_file():
        msg = (
            f"{name}: file not found; pass the path of {AR_SAMPLE_FILE} "
            "(IBM accounts-receivable sample) or of its folder."
        )
        raise DataError(msg, path=name)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{name}: cannot be read as a CSV file ({exc}); is it the IBM AR sample?"
        raise DataError(msg, path=name) from exc
    missing = [c for c in AR_SAMPLE_COLUMNS if c not in raw.columns]
    if missing:
        msg = (
            f"{name}: column(s) {', '.join(missing)} missing; this does not look like the "
            f"IBM accounts-receivable sample (expected {', '.join(AR_SAMPLE_COLUMNS)})."
        )
        raise DataError(msg, path=name, missing=missing)
    return raw, name


def _dates(text: pd.Series) -> pd.Series:
    """US ``m/d/yyyy`` dates, explicitly (never guessed); unparsable cells become ``NaT``."""
    parsed = pd.to_datetime(text.str.strip(), format=_DATE_FORMAT, errors="coerce")
    return parsed.astype("datetime64[ns]")
