"""Proposal: one decision per overdue invoice, one case per customer.

:func:`propose` joins the open items with their risk scores, assigns each overdue
invoice its dunning level (:func:`dunning.levels.assign_levels`), groups the invoices of
a customer into one **case** (one letter listing all of them) and chooses the case's
offer (:func:`dunning.offers.choose_offers`). It has no side effects.

Decisions (``Proposal.decisions``), one row per overdue open invoice
--------------------------------------------------------------------
``invoice_id, customer_id, case_id, issue_date, due_date, days_overdue, open_amount``
(``Decimal``), ``open_minor`` (int64 minor units), ``currency, disputed, risk,
last_level, last_dunned_on, level`` (0 = no new letter), ``level_name_de,
level_name_en, offer``. ``case_id`` is missing (``NaN``) for invoices of customers
who get no letter in this run.

Cases (``Proposal.cases``), one row per customer with a new letter
------------------------------------------------------------------
A customer has a case when at least one of their overdue invoices gets a new level.
The case lists **all** the customer's overdue open invoices (also those whose own
level is 0 because they were dunned recently), so the letter shows everything owed.

``case_id, customer_id, currency, level`` (highest invoice level), ``level_name_de,
level_name_en, n_invoices, total`` (exact ``Decimal`` sum of open amounts),
``total_minor, risk`` (open-amount weighted mean of the invoices' risks),
``disputed`` (any invoice disputed), ``max_days_overdue, language, channel``
(``"email"`` if the customer consented to e-mail and has an address, else
``"letter"``), the customer's ``name, street, postal_code, city, country, email,
segment, vulnerable``, and the offer columns of :func:`dunning.offers.choose_offers`.

``case_id`` is stable: ``C<yyyymmdd>-<first 10 hex digits of sha256(customer_id)>``
(the run date, then the customer). A customer owing in two currencies gets one case per
currency, with ``-<currency>`` appended to the id.

Examples
--------
>>> from datetime import date
>>> case_id("K-1", date(2026, 11, 23))
'C20261123-78c7523daa'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dunning.errors import DataError
from dunning.levels import assign_levels, level_names
from dunning.money import from_minor_array
from dunning.offers import choose_offers

__all__ = ["CASE_COLUMNS", "DECISION_COLUMNS", "Proposal", "case_id", "propose"]

#: Columns of ``Proposal.decisions``, in order.
DECISION_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "case_id",
    "issue_date",
    "due_date",
    "days_overdue",
    "open_amount",
    "open_minor",
    "currency",
    "disputed",
    "risk",
    "last_level",
    "last_dunned_on",
    "level",
    "level_name_de",
    "level_name_en",
    "offer",
)

_CUSTOMER_COLUMNS = (
    "name",
    "street",
    "postal_code",
    "city",
    "country",
    "email",
    "segment",
    "vulnerable",
)

#: Columns of ``Proposal.cases``, in order.
CASE_COLUMNS: tuple[str, ...] = (
    "case_id",
    "customer_id",
    "currency",
    "level",
    "level_name_de",
    "level_name_en",
    "n_invoices",
    "total",
    "total_minor",
    "risk",
    "disputed",
    "max_days_overdue",
    "language",
    "channel",
    *_CUSTOMER_COLUMNS,
    "offer",
    "offer_code",
    "offer_reason",
    "offer_reason_de",
    "installments",
)


@dataclass(frozen=True)
class Proposal:
    """What a run proposes: decisions per invoice and one case (letter) per customer.

    Parameters
    ----------
    decisions : pandas.DataFrame
        One row per overdue open invoice (:data:`DECISION_COLUMNS`).
    cases : pandas.DataFrame
        One row per customer who gets a new letter (:data:`CASE_COLUMNS`).
    as_of : datetime.date
        The run date.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> p = Proposal(pd.DataFrame(), pd.DataFrame(), date(2026, 11, 23))
    >>> p.as_of.isoformat()
    '2026-11-23'
    """

    decisions: pd.DataFrame
    cases: pd.DataFrame
    as_of: date


def case_id(customer_id: str, as_of: date) -> str:
    """The stable case id of a customer's case on ``as_of``.

    Examples
    --------
    >>> from datetime import date
    >>> case_id("K-1", date(2026, 11, 23))
    'C20261123-78c7523daa'
    """
    digest = hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:10]
    return f"C{as_of:%Y%m%d}-{digest}"


def _channels(customers: pd.DataFrame) -> pd.Series:
    consent = (
        customers["contact_consent"].astype("str").fillna("")
        if "contact_consent" in customers.columns
        else pd.Series("", index=customers.index, dtype="str")
    )
    email = (
        customers["email"].astype("str").fillna("").str.strip()
        if "email" in customers.columns
        else pd.Series("", index=customers.index, dtype="str")
    )
    wants_email = consent.str.split("|").map(lambda parts: "email" in parts).astype(bool)
    return pd.Series(
        np.where(wants_email & (email != ""), "email", "letter"), index=customers.index, dtype="str"
    )


def propose(
    items: pd.DataFrame,
    features: pd.DataFrame,
    risk: pd.Series,
    customers: pd.DataFrame,
    as_of: date,
) -> Proposal:
    """Decide the dunning level of every overdue invoice and build one case per customer.

    Parameters
    ----------
    items : pandas.DataFrame
        Open items from :func:`dunning.ledger.open_items` on ``as_of``; rows that are
        not overdue (``days_overdue <= 0``) are ignored.
    features : pandas.DataFrame
        Features of the overdue items (index ``invoice_id``), from
        :func:`scoring.features.build_features`. Not used by this version's fixed rules;
        accepted so that the call does not change when rules start to use features.
    risk : pandas.Series
        Risk that the invoice stays unpaid, indexed by ``invoice_id``; every overdue
        invoice must have one.
    customers : pandas.DataFrame
        The canonical customers table.
    as_of : datetime.date
        The run date.

    Returns
    -------
    Proposal

    Raises
    ------
    DataError
        If an overdue invoice has no risk score or no customer.

    Examples
    --------
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> items = pd.DataFrame({"invoice_id": ["R1", "R2", "R3"], "customer_id": ["K1", "K1", "K2"],
    ...     "issue_date": pd.to_datetime(["2026-09-01", "2026-10-01", "2026-11-01"]),
    ...     "due_date": pd.to_datetime(["2026-09-15", "2026-11-01", "2026-11-30"]),
    ...     "currency": ["EUR"] * 3,
    ...     "open_amount": [Decimal("400.00"), Decimal("150.50"), Decimal("80.00")],
    ...     "open_minor": [40000, 15050, 8000], "days_overdue": [69, 22, -7],
    ...     "disputed": pd.array([False, False, False], dtype="boolean"),
    ...     "last_level": [1, 0, 0], "last_dunned_on": pd.to_datetime(["2026-10-01", None, None])})
    >>> customers = pd.DataFrame({"customer_id": ["K1", "K2"], "name": ["A", "B"],
    ...     "country": ["DE", "DE"], "language": ["de", "en"], "segment": ["B2C", "B2B"],
    ...     "email": ["a@example.com", None], "contact_consent": ["email|letter", "letter"]})
    >>> risk = pd.Series([0.4, 0.3], index=["R1", "R2"])
    >>> p = propose(items, pd.DataFrame(index=risk.index), risk, customers, date(2026, 11, 23))
    >>> print(p.decisions[["invoice_id", "level", "case_id", "offer"]].to_string(index=False))
    invoice_id  level              case_id            offer
            R1      2 C20261123-badb728376 installment_plan
            R2      1 C20261123-badb728376 installment_plan
    >>> case = p.cases.iloc[0]
    >>> case["total"], case["level"], case["channel"], case["offer"]
    (Decimal('550.50'), np.int64(2), 'email', 'installment_plan')
    """
    overdue = items.loc[items["days_overdue"] > 0].reset_index(drop=True)
    invoice_ids = overdue["invoice_id"].to_numpy()

    scores = risk.reindex(invoice_ids).to_numpy(dtype=np.float64)
    if np.isnan(scores).any():
        lacking = invoice_ids[np.isnan(scores)]
        msg = (
            f"propose: {lacking.size} overdue invoice(s) have no risk score, e.g. "
            f"{lacking[:3].tolist()}; score every overdue open item before proposing."
        )
        raise DataError(msg, path="<risk>")

    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    unknown = ~overdue["customer_id"].isin(cust.index)
    if unknown.any():
        msg = (
            f"propose: {int(unknown.sum())} overdue invoice(s) belong to unknown customers, "
            f"e.g. {overdue.loc[unknown, 'customer_id'].unique()[:3].tolist()}."
        )
        raise DataError(msg, path="<customers>")

    cutoff = pd.Timestamp(as_of)
    since = (cutoff - overdue["last_dunned_on"]).dt.days.to_numpy(dtype=np.float64)
    level = assign_levels(
        overdue["days_overdue"].to_numpy(np.int64),
        overdue["last_level"].to_numpy(np.int64),
        since,
    )
    # A disputed invoice is never dunned: it stays in the decisions (level 0, no case)
    # until the dispute is resolved, and is not listed in the customer's letter.
    disputed = overdue["disputed"].astype("boolean").fillna(False).to_numpy(bool)
    level = np.where(disputed, 0, level)
    overdue["risk"] = scores
    overdue["level"] = level
    overdue["level_name_de"] = pd.Series(level_names(level, "de"), dtype="str")
    overdue["level_name_en"] = pd.Series(level_names(level, "en"), dtype="str")
    overdue["disputed"] = overdue["disputed"].astype("boolean")

    keys = ["customer_id", "currency"]
    work = overdue.assign(
        _weighted=overdue["risk"] * overdue["open_minor"].astype(np.float64),
        _disputed=overdue["disputed"].fillna(False).astype(bool),
    )
    grouped = work.loc[~disputed].groupby(keys, sort=True)
    agg = grouped.agg(
        level=("level", "max"),
        n_invoices=("invoice_id", "size"),
        total_minor=("open_minor", "sum"),
        _weighted=("_weighted", "sum"),
        disputed=("_disputed", "any"),
        max_days_overdue=("days_overdue", "max"),
    ).reset_index()
    cases = agg.loc[agg["level"] > 0].reset_index(drop=True)

    ids = pd.Series(
        {c: case_id(str(c), as_of) for c in pd.unique(cases["customer_id"])}, dtype="str"
    )
    cases["case_id"] = cases["customer_id"].map(ids).astype("str")
    multi = cases["customer_id"].duplicated(keep=False)
    if multi.any():
        cases.loc[multi, "case_id"] = (
            cases.loc[multi, "case_id"] + "-" + cases.loc[multi, "currency"]
        )

    cases["total_minor"] = cases["total_minor"].astype(np.int64)
    cases["total"] = pd.Series(
        from_minor_array(cases["total_minor"].tolist(), cases["currency"].tolist()), dtype=object
    )
    totals = cases["total_minor"].to_numpy(np.float64)
    cases["risk"] = np.divide(
        cases["_weighted"].to_numpy(np.float64),
        totals,
        out=np.zeros(len(cases)),
        where=totals > 0,
    )
    case_levels = cases["level"].to_numpy(np.int64)
    cases["level"] = case_levels
    cases["level_name_de"] = pd.Series(level_names(case_levels, "de"), dtype="str")
    cases["level_name_en"] = pd.Series(level_names(case_levels, "en"), dtype="str")

    info = cust.reindex(cases["customer_id"].to_numpy())
    cases["language"] = info["language"].astype("str").to_numpy()
    cases["channel"] = _channels(info).to_numpy()
    for column in _CUSTOMER_COLUMNS:
        if column in info.columns:
            cases[column] = info[column].to_numpy()
        elif column == "vulnerable":
            cases[column] = pd.array([pd.NA] * len(cases), dtype="boolean")
        else:
            cases[column] = pd.Series([pd.NA] * len(cases), dtype="str")
    offers = choose_offers(cases)
    cases = pd.concat([cases, offers], axis=1).loc[:, list(CASE_COLUMNS)]

    decisions = overdue.merge(
        cases[[*keys, "case_id", "offer"]], on=keys, how="left", validate="many_to_one"
    )
    decisions.loc[disputed, "case_id"] = pd.NA
    decisions["offer"] = decisions["offer"].fillna("none").astype("str")
    decisions = decisions.loc[:, list(DECISION_COLUMNS)]
    return Proposal(decisions=decisions, cases=cases, as_of=as_of)
