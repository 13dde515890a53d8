"""Point-in-time features for every overdue open invoice, and the feature dictionary.

:data:`FEATURES` is the feature dictionary: one :class:`FeatureSpec` per model column,
in column order, with German and English labels, the unit, a description, whether the
customer can change the value (``actionable``), the direction of a monotone constraint
the model may be given, and the business feature (``group``) the column belongs to.
Explanations sum the contributions of a group's columns (a missing-value indicator
counts towards its feature), and reason texts and the docs read their labels here.

:func:`build_features` computes the columns for the overdue open items of
:func:`dunning.ledger.open_items` from facts dated on or before ``as_of`` only:
payments, settlements and dunning steps after ``as_of`` change nothing. Missing inputs
stay missing (``NaN``), with an explicit ``*_isna`` indicator where an absence carries
meaning (no settled invoice yet, no industry outlook).

Definitions
-----------
* An invoice is *settled* on ``as_of`` when it was issued on or before ``as_of`` and is no
  longer open on ``as_of``; its *settlement date* is its last payment dated on or before
  ``as_of``. It was *paid late* when that date is after its due date, *days late* is
  ``max(settlement date - due date, 0)``, and it was *paid in parts* when more than one
  payment arrived for it.
* The late-payment windows count invoices settled in the last 3, 6 or 12 calendar months
  (settlement date in ``(as_of - N months, as_of]``).
* Amounts are in the invoice's currency units (a float is fine for a model feature);
  amounts of different currencies are not converted.
* ``disputed`` is the invoice's dispute flag as delivered (the schema does not date it).
* A payment promise (``portfolio.promises``) made on or before ``as_of`` whose
  ``promised_by`` lies in ``(as_of - 12 months, as_of]`` is *kept* when the payments for
  its invoice dated on or before ``promised_by`` (and ``as_of``) add up to the invoice
  amount, else *broken*; ``broken_promises_12m`` and ``kept_promises_12m`` count the
  customer's. Promises still running on ``as_of`` count as neither.
* ``clv`` is the customer lifetime value over the next 12 months (:mod:`scoring.clv`):
  every invoice issued on or before ``as_of`` counts as a purchase worth its amount
  (exact integer minor units converted to float currency units), summarised per customer
  with :func:`scoring.clv.summary_from_transactions` (daily periods). A
  :class:`~scoring.clv.BetaGeoModel` (purchase counts) and a
  :class:`~scoring.clv.GammaGammaModel` (spend per purchase, fitted on the customers with
  a repeat purchase) are fitted **per segment** (B2B, B2C) on all of the portfolio's
  customers with an invoice by ``as_of`` (the BG/NBD fit with a tiny L2 penalty,
  ``1e-10``, that pins its dropout parameters when nobody seems to drop out), and
  :meth:`~scoring.clv.GammaGammaModel.customer_lifetime_value` gives the 12-month value
  at a monthly discount rate of 1 % and margin 1 (discounted revenue). Per segment,
  because businesses and consumers spend on scales orders of magnitude apart: pooled,
  the Gamma-Gamma fit on the demo portfolio has ``q < 1``, an infinite expected spend.
  A customer without a repeat purchase gets the model's estimate all the same (BG/NBD
  expected purchases times the segment's Gamma-Gamma mean spend); it is an estimate, not
  an absence. ``clv`` is ``NaN`` with ``clv_isna = 1`` only where no estimate exists: a
  segment with fewer than 50 customers or fewer than 50 with a repeat purchase, a fit
  that fails (:class:`~dunning.errors.ModelError`), or a non-finite result; one warning
  is logged per call. The value is a statistic in the invoice currency, not an amount
  owed, and a higher value may never raise the risk (``monotone = -1``, see
  ``docs/clv.md``). :func:`customer_values` gives these values by customer; passed to
  ``build_features(..., clv=...)`` they replace the fit (``dunning.cluster`` fits once on
  the whole portfolio and builds the features of each customer partition with them).

Examples
--------
>>> [f.code for f in FEATURES][:4]
['days_overdue', 'log_open_amount', 'amount_vs_median', 'open_exposure']
>>> FEATURES_BY_CODE["late_12m_share_isna"].group
'late_12m'
>>> FEATURES_BY_CODE["days_overdue"].label_de
'Tage überfällig'
>>> FEATURES_BY_CODE["clv"].monotone, FEATURES_BY_CODE["clv_isna"].group
(-1, 'customer_value')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.datasets.outlook import outlook_on
from dunning.errors import DataError, ModelError
from dunning.ledger import open_items
from dunning.models import NACE_SECTIONS, SEGMENTS, Portfolio
from dunning.money import minor_units, to_minor_array
from scoring.clv import BetaGeoModel, GammaGammaModel, summary_from_transactions

__all__ = [
    "FEATURES",
    "FEATURES_BY_CODE",
    "LATE_WINDOWS",
    "FeatureSpec",
    "build_features",
    "customer_values",
]

logger = logging.getLogger(__name__)

#: Units used in :attr:`FeatureSpec.unit`; reason texts format values by unit.
Unit = Literal[
    "days", "count", "share", "ratio", "amount", "log_amount", "flag", "level", "index", "category"
]

#: Late-payment windows in calendar months.
LATE_WINDOWS: tuple[int, ...] = (3, 6, 12)

# Customer lifetime value: horizon, monthly discount rate and margin of the estimate, and
# the fewest customers (and customers with a repeat purchase) a segment needs for a fit.
_CLV_HORIZON_MONTHS = 12
_CLV_DISCOUNT_RATE_MONTHLY = 0.01
_CLV_MARGIN = 1.0
_CLV_MIN_CUSTOMERS = 50
# L2 penalty of the BG/NBD fit. When (almost) nobody drops out, the likelihood is flat
# along a ridge where the dropout parameters a and b grow together; unpenalized, the
# optimizer may stop at a ~ 1e3, b ~ 1e6, where the expected purchases lose precision or
# overflow. This penalty pins the ridge; it moves the log-likelihood by < 1e-4 per
# customer and the CLV by < 0.5 % on the demo portfolios.
_CLV_PENALIZER = 1e-10


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model column of the feature dictionary.

    Parameters
    ----------
    code : str
        Column name in the feature table; stable, used by models and reason codes.
    label_de, label_en : str
        Short label for clerks and documentation.
    unit : str
        One of ``days``, ``count``, ``share`` (0 … 1), ``ratio``, ``amount`` (currency
        units), ``log_amount`` (``ln(1 + amount)``), ``flag`` (0/1), ``level`` (dunning
        level), ``index`` (industry outlook index) and ``category``.
    description : str
        How the value is computed.
    actionable : bool
        Whether the customer can change the value (by paying, by paying on time).
        Counterfactual hints may only suggest changes to actionable features.
    monotone : {-1, 0, 1}
        Direction of a monotone constraint a model may be given: +1 when a higher value
        may never lower the risk, -1 when it may never raise it, 0 for none.
    group : str
        The business feature the column belongs to; technical columns (missing
        indicators) share the group of the feature they describe.

    Examples
    --------
    >>> spec = FEATURES_BY_CODE["days_overdue"]
    >>> spec.unit, spec.actionable, spec.monotone, spec.group
    ('days', False, 1, 'days_overdue')
    """

    code: str
    label_de: str
    label_en: str
    unit: Unit
    description: str
    actionable: bool
    monotone: Literal[-1, 0, 1]
    group: str


def _late_specs(months: int) -> tuple[FeatureSpec, ...]:
    group = f"late_{months}m"
    return (
        FeatureSpec(
            f"late_{months}m_count",
            f"Verspätete Zahlungen ({months} Monate)",
            f"Late payments ({months} months)",
            "count",
            f"Number of the customer's invoices settled in the last {months} months whose "
            "final payment came after the due date.",
            False,
            1,
            group,
        ),
        FeatureSpec(
            f"late_{months}m_share",
            f"Anteil verspäteter Zahlungen ({months} Monate)",
            f"Share of late payments ({months} months)",
            "share",
            f"Late invoices among the customer's invoices settled in the last {months} "
            "months; missing when none was settled.",
            False,
            1,
            group,
        ),
        FeatureSpec(
            f"late_{months}m_share_isna",
            f"Keine bezahlte Rechnung ({months} Monate)",
            f"No settled invoice ({months} months)",
            "flag",
            f"1 when the customer settled no invoice in the last {months} months.",
            False,
            0,
            group,
        ),
    )


#: The feature dictionary, in the column order of :func:`build_features`.
FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "days_overdue",
        "Tage überfällig",
        "Days overdue",
        "days",
        "Calendar days from the due date to the decision date.",
        False,
        1,
        "days_overdue",
    ),
    FeatureSpec(
        "log_open_amount",
        "Offener Betrag (logarithmiert)",
        "Open amount (log)",
        "log_amount",
        "ln(1 + open amount of the invoice in currency units).",
        True,
        0,
        "open_amount",
    ),
    FeatureSpec(
        "amount_vs_median",
        "Betrag im Verhältnis zum üblichen Rechnungsbetrag",
        "Amount relative to the usual invoice",
        "ratio",
        "Invoice amount divided by the median amount of the customer's invoices issued so far.",
        False,
        0,
        "amount_vs_median",
    ),
    FeatureSpec(
        "open_exposure",
        "Offene Forderungen insgesamt",
        "Total open amount",
        "amount",
        "Sum of the open amounts of all the customer's open invoices, due or not.",
        True,
        0,
        "exposure",
    ),
    FeatureSpec(
        "open_invoices",
        "Anzahl offener Rechnungen",
        "Number of open invoices",
        "count",
        "Number of the customer's open invoices, due or not.",
        True,
        0,
        "exposure",
    ),
    *(spec for months in LATE_WINDOWS for spec in _late_specs(months)),
    FeatureSpec(
        "mean_days_late",
        "Mittlere Verspätung in Tagen",
        "Mean days late",
        "days",
        "Mean days late over the customer's settled invoices (0 for on-time payments).",
        False,
        1,
        "days_late",
    ),
    FeatureSpec(
        "max_days_late",
        "Größte Verspätung in Tagen",
        "Maximum days late",
        "days",
        "Largest days late over the customer's settled invoices.",
        False,
        1,
        "days_late",
    ),
    FeatureSpec(
        "history_isna",
        "Keine Zahlungshistorie",
        "No payment history",
        "flag",
        "1 when the customer has no settled invoice yet.",
        False,
        0,
        "days_late",
    ),
    FeatureSpec(
        "partial_share",
        "Anteil in Teilbeträgen bezahlter Rechnungen",
        "Share of invoices paid in parts",
        "share",
        "Share of the customer's settled invoices that were paid in more than one payment.",
        False,
        0,
        "partial_payments",
    ),
    FeatureSpec(
        "disputed",
        "Rechnung strittig",
        "Invoice disputed",
        "flag",
        "1 when this invoice is disputed, 0 when not, missing when unknown.",
        False,
        0,
        "disputed",
    ),
    FeatureSpec(
        "disputed_count",
        "Strittige Rechnungen des Kunden",
        "Customer's disputed invoices",
        "count",
        "Number of the customer's invoices issued so far that are marked as disputed.",
        False,
        0,
        "disputed_count",
    ),
    FeatureSpec(
        "dunning_level",
        "Erreichte Mahnstufe der Rechnung",
        "Dunning level of the invoice",
        "level",
        "Highest dunning level already issued for this invoice (0 for none).",
        False,
        0,
        "dunning_level",
    ),
    FeatureSpec(
        "customer_max_level",
        "Höchste Mahnstufe des Kunden",
        "Customer's highest dunning level",
        "level",
        "Highest dunning level issued for any of the customer's invoices (0 for none).",
        False,
        0,
        "customer_max_level",
    ),
    FeatureSpec(
        "broken_promises_12m",
        "Nicht eingehaltene Zahlungszusagen (12 Monate)",
        "Broken payment promises (12 months)",
        "count",
        "Number of the customer's payment promises due in the last 12 months whose invoice "
        "was not fully paid by the promised date.",
        True,
        1,
        "promises",
    ),
    FeatureSpec(
        "kept_promises_12m",
        "Eingehaltene Zahlungszusagen (12 Monate)",
        "Kept payment promises (12 months)",
        "count",
        "Number of the customer's payment promises due in the last 12 months whose invoice "
        "was fully paid by the promised date.",
        True,
        0,
        "promises",
    ),
    FeatureSpec(
        "tenure_days",
        "Dauer der Kundenbeziehung in Tagen",
        "Customer tenure in days",
        "days",
        "Calendar days since the customer's first invoice.",
        False,
        0,
        "tenure",
    ),
    FeatureSpec(
        "segment",
        "Kundensegment",
        "Customer segment",
        "category",
        "B2C (consumer) or B2B (business).",
        False,
        0,
        "segment",
    ),
    FeatureSpec(
        "industry",
        "Branche",
        "Industry",
        "category",
        "NACE Rev. 2 section letter of the customer; missing when not given.",
        False,
        0,
        "industry",
    ),
    FeatureSpec(
        "industry_outlook",
        "Branchenausblick",
        "Industry outlook",
        "index",
        "Outlook index of the customer's industry for the quarter of the decision date "
        "(external factor, dunning.datasets.outlook).",
        False,
        0,
        "industry_outlook",
    ),
    FeatureSpec(
        "industry_outlook_isna",
        "Branchenausblick fehlt",
        "Industry outlook missing",
        "flag",
        "1 when no outlook is known for the customer's industry on the decision date.",
        False,
        0,
        "industry_outlook",
    ),
    FeatureSpec(
        "clv",
        "Kundenwert (erwarteter Umsatz, 12 Monate)",
        "Customer lifetime value (12 months)",
        "amount",
        "Expected discounted value of the customer's invoices in the next 12 months "
        "(BG/NBD purchases times Gamma-Gamma spend, fitted per segment on the invoices "
        "issued so far; 1 % monthly discount). A statistic in the invoice currency, not an "
        "amount owed; missing when it cannot be estimated.",
        False,
        -1,
        "customer_value",
    ),
    FeatureSpec(
        "clv_isna",
        "Kundenwert nicht schätzbar",
        "Customer lifetime value not available",
        "flag",
        "1 when no customer lifetime value could be estimated (fewer than 50 customers, or "
        "50 with a repeat purchase, in the segment, or the model fit failed).",
        False,
        0,
        "customer_value",
    ),
)

#: The feature dictionary by column code (read-only).
FEATURES_BY_CODE = MappingProxyType({spec.code: spec for spec in FEATURES})


_DTYPES: dict[str, str] = {
    spec.code: "float64"
    if spec.unit in {"share", "ratio", "amount", "log_amount", "index"}
    or spec.code in {"disputed", "mean_days_late", "max_days_late"}
    else "int64"
    for spec in FEATURES
    if spec.unit != "category"
}


def build_features(
    portfolio: Portfolio,
    as_of: date,
    *,
    outlook_table: pd.DataFrame | None = None,
    clv: pd.Series | None = None,
) -> pd.DataFrame:
    """Features of every overdue open invoice on ``as_of``, from facts known on that day.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    as_of : datetime.date
        The decision date. Invoices issued, payments received and dunning steps taken
        after it are ignored.
    outlook_table : pandas.DataFrame or None
        Industry outlook table (:func:`dunning.datasets.industry_outlook`); ``None``
        uses the illustrative table shipped with the package.
    clv : pandas.Series or None
        Customer lifetime values already estimated, by customer id (the index), e.g.
        :func:`customer_values` of a larger portfolio; no CLV model is fitted then. A
        customer whose value is ``NaN`` or absent gets ``clv = NaN``, ``clv_isna = 1``.
        ``None`` (the default) fits the models on ``portfolio`` (see the module notes);
        ``build_features(p, d, clv=customer_values(p, d))`` equals
        ``build_features(p, d)`` exactly.

    Returns
    -------
    pandas.DataFrame
        Index ``invoice_id`` (the open items of :func:`dunning.ledger.open_items` with
        ``days_overdue > 0``, in their order), one column per :data:`FEATURES` entry in
        that order: ``int64`` counts, levels, days and flags; ``float64`` shares, ratios,
        amounts (``NaN`` when unknown); ``category`` for ``segment`` (categories
        ``B2B``, ``B2C``) and ``industry`` (NACE sections ``A`` … ``U``).

    Raises
    ------
    DataError
        If an ``invoice_id`` occurs more than once (validated portfolios never do), or a
        customer id occurs more than once in the index of ``clv``.

    Examples
    --------
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> from dunning.models import Portfolio
    >>> e = Portfolio.empty()
    >>> customers = pd.DataFrame({"customer_id": ["K1"], "name": ["Muster GmbH"],
    ...     "country": ["DE"], "language": ["de"], "segment": ["B2B"], "industry": ["F"]})
    >>> invoices = pd.DataFrame({"invoice_id": ["R1", "R2"], "customer_id": ["K1", "K1"],
    ...     "issue_date": pd.to_datetime(["2026-08-01", "2026-10-01"]),
    ...     "due_date": pd.to_datetime(["2026-08-15", "2026-10-15"]),
    ...     "amount": [Decimal("100.00"), Decimal("250.00")], "currency": ["EUR", "EUR"]})
    >>> payments = pd.DataFrame({"payment_id": ["P1"], "invoice_id": ["R1"],
    ...     "payment_date": pd.to_datetime(["2026-08-20"]), "amount": [Decimal("100.00")],
    ...     "currency": ["EUR"]})
    >>> X = build_features(Portfolio(customers, invoices, payments, e.history), date(2026, 11, 1))
    >>> X.index.tolist(), X.shape
    (['R2'], (1, 31))
    >>> cols = ["days_overdue", "amount_vs_median", "late_3m_count", "max_days_late", "segment"]
    >>> print(X[cols].round(3).to_string())  # doctest: +NORMALIZE_WHITESPACE
                days_overdue  amount_vs_median  late_3m_count  max_days_late segment
    invoice_id
    R2                    17             1.429              1            5.0     B2B
    """
    cutoff = pd.Timestamp(as_of)
    given = None if clv is None else _given_values(clv)
    issued = _issued_invoices(portfolio, cutoff)
    invoices, invoice_ids = issued.invoices, issued.invoice_ids
    customer_code, customer_ids = issued.customer_code, issued.customer_ids
    n_customers = len(customer_ids)
    items, item_pos, is_overdue = _overdue_items(portfolio, as_of, invoice_ids)
    pos = item_pos[is_overdue]
    cust = customer_code[pos]
    logger.debug("building features for %d overdue invoices on %s", len(pos), as_of)

    columns: dict[str, npt.NDArray[Any] | pd.Categorical] = {}
    columns["days_overdue"] = items["days_overdue"].to_numpy(np.int64)[is_overdue]

    open_units = _currency_units(items["open_minor"], items["currency"])
    columns["log_open_amount"] = np.log1p(open_units[is_overdue])

    amount_minor, amount = issued.amount_minor, issued.amount
    median = _per_customer(pd.Series(amount).groupby(customer_code).median(), n_customers)
    columns["amount_vs_median"] = amount[pos] / median[cust]

    item_cust = customer_code[item_pos]
    columns["open_exposure"] = np.bincount(item_cust, open_units, n_customers)[cust]
    columns["open_invoices"] = np.bincount(item_cust, minlength=n_customers)[cust]

    payments = portfolio.payments.loc[portfolio.payments["payment_date"] <= cutoff]
    pay_pos = invoice_ids.get_indexer(pd.Index(payments["invoice_id"]))
    known = pay_pos >= 0
    pay_pos = pay_pos[known]
    n_payments = np.bincount(pay_pos, minlength=len(invoices))
    last_payment = pd.Series(payments["payment_date"].to_numpy()[known]).groupby(pay_pos).max()
    is_open = np.zeros(len(invoices), dtype=bool)
    is_open[item_pos] = True
    settled = np.flatnonzero(~is_open & (n_payments > 0))
    settled_on = pd.DatetimeIndex(last_payment.reindex(settled).to_numpy())
    due = pd.DatetimeIndex(invoices["due_date"].to_numpy()[settled])
    days = np.asarray((settled_on - due).days, dtype=np.float64)
    late = (days > 0).astype(np.float64)
    days_late = np.clip(days, 0.0, None)
    partial = (n_payments[settled] > 1).astype(np.float64)
    settled_cust = customer_code[settled]

    for months in LATE_WINDOWS:
        start = cutoff - pd.DateOffset(months=months)
        recent = np.asarray(settled_on > start)
        n_recent = np.bincount(settled_cust[recent], minlength=n_customers)[cust]
        count = np.bincount(settled_cust[recent], late[recent], n_customers)[cust]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_recent > 0, count / n_recent, np.nan)
        columns[f"late_{months}m_count"] = count.round().astype(np.int64)
        columns[f"late_{months}m_share"] = share
        columns[f"late_{months}m_share_isna"] = (n_recent == 0).astype(np.int64)
    n_settled = np.bincount(settled_cust, minlength=n_customers)[cust]
    with np.errstate(invalid="ignore", divide="ignore"):
        columns["mean_days_late"] = (
            np.bincount(settled_cust, days_late, n_customers)[cust] / n_settled
        )
        columns["partial_share"] = np.bincount(settled_cust, partial, n_customers)[cust] / n_settled
    max_late = pd.Series(days_late).groupby(settled_cust).max()
    columns["max_days_late"] = _per_customer(max_late, n_customers)[cust]
    columns["history_isna"] = (n_settled == 0).astype(np.int64)

    columns["disputed"] = (
        items["disputed"].astype("Float64").to_numpy(np.float64, na_value=np.nan)[is_overdue]
    )
    if "disputed" in invoices.columns:
        disputed = np.asarray(
            invoices["disputed"].astype("boolean").fillna(False), dtype=np.float64
        )
    else:
        disputed = np.zeros(len(invoices))
    columns["disputed_count"] = (
        np.bincount(customer_code, disputed, n_customers)[cust].round().astype(np.int64)
    )

    columns["dunning_level"] = items["last_level"].to_numpy(np.int64)[is_overdue]
    history = portfolio.history.loc[portfolio.history["issued_on"] <= cutoff]
    history_pos = invoice_ids.get_indexer(pd.Index(history["invoice_id"]))
    max_level = np.zeros(n_customers, dtype=np.int64)
    np.maximum.at(
        max_level,
        customer_code[history_pos[history_pos >= 0]],
        history["level"].to_numpy(np.int64)[history_pos >= 0],
    )
    columns["customer_max_level"] = max_level[cust]

    broken, kept = _promises(portfolio, invoice_ids, amount_minor, payments, cutoff)
    for code, counts in (("broken_promises_12m", broken), ("kept_promises_12m", kept)):
        per_customer = np.bincount(customer_code, counts.astype(np.float64), n_customers)
        columns[code] = per_customer[cust].round().astype(np.int64)

    first_issue = pd.Series(invoices["issue_date"].to_numpy()).groupby(customer_code).min()
    first = pd.DatetimeIndex(first_issue.reindex(cust).to_numpy())
    columns["tenure_days"] = np.asarray((cutoff - first).days, dtype=np.int64)

    on_file = _on_file(portfolio, customer_ids)
    columns["segment"] = pd.Categorical(on_file["segment"].to_numpy()[cust], SEGMENTS)
    if "industry" in on_file.columns:
        industry = on_file["industry"].to_numpy()[cust]
    else:
        industry = np.full(len(pos), np.nan, dtype=object)
    columns["industry"] = pd.Categorical(industry, NACE_SECTIONS)
    outlook = outlook_on(pd.Series(columns["industry"], dtype="str"), as_of, outlook_table)
    columns["industry_outlook"] = outlook.to_numpy(np.float64, na_value=np.nan)
    columns["industry_outlook_isna"] = np.isnan(columns["industry_outlook"]).astype(np.int64)

    if given is None:
        values = _clv_by_code(issued, on_file, np.unique(cust), as_of)
    else:
        values = given.reindex(customer_ids).to_numpy(np.float64, na_value=np.nan)
    columns["clv"] = values[cust]
    columns["clv_isna"] = np.isnan(columns["clv"]).astype(np.int64)

    index = pd.Index(items["invoice_id"].loc[is_overdue], name="invoice_id")
    frame = pd.DataFrame({spec.code: columns[spec.code] for spec in FEATURES}, index=index)
    return frame.astype(_DTYPES)


def customer_values(
    portfolio: Portfolio, as_of: date, *, customers: Iterable[str] | None = None
) -> pd.Series:
    """The customer lifetime value (feature ``clv``) by customer, as :func:`build_features`.

    The BG/NBD and Gamma-Gamma models are fitted per segment on all of the portfolio's
    customers with an invoice issued by ``as_of`` (see the module notes), exactly as
    :func:`build_features` fits them: the values are bit for bit those of its ``clv``
    column. Passed back as ``build_features(..., clv=...)``, they spare the fit; a caller
    that builds the features of parts of a portfolio (``dunning.cluster``) gets the
    values of the whole portfolio that way. Logs the same warning as
    :func:`build_features` when some values are missing.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    as_of : datetime.date
        The decision date; facts after it are ignored.
    customers : iterable of str or None
        The customers whose value is wanted. ``None`` (the default): those with an
        overdue open invoice on ``as_of``, the rows of :func:`build_features`. Only
        segments with a wanted customer are fitted, and whether a segment has enough
        customers does not depend on which are wanted.

    Returns
    -------
    pandas.Series
        ``clv`` (float64) by ``customer_id``: the wanted customers, in the order of their
        first invoice in ``portfolio.invoices`` (by default) or as given. ``NaN`` where no
        estimate exists (a segment too small or a failed fit, as in
        :func:`build_features`, or a given customer without an invoice by ``as_of``).

    Raises
    ------
    DataError
        If an ``invoice_id`` occurs more than once (validated portfolios never do).

    Examples
    --------
    >>> from dunning.datasets import make_portfolio
    >>> as_of = date(2026, 8, 31)
    >>> p = make_portfolio(250, seed=3, as_of=date(2026, 11, 23))
    >>> values = customer_values(p, as_of)
    >>> values.index.name, values.dtype, bool(values.notna().all())
    ('customer_id', dtype('float64'), True)
    >>> X = build_features(p, as_of)
    >>> X.equals(build_features(p, as_of, clv=values))
    True
    >>> owner = p.invoices.set_index("invoice_id")["customer_id"]
    >>> bool((X["clv"].to_numpy() == values[owner[X.index]].to_numpy()).all())
    True
    >>> first = values.index[0]
    >>> bool(customer_values(p, as_of, customers=[first]).iloc[0] == values.iloc[0])
    True
    """
    issued = _issued_invoices(portfolio, pd.Timestamp(as_of))
    if customers is None:
        _, item_pos, is_overdue = _overdue_items(portfolio, as_of, issued.invoice_ids)
        wanted = np.unique(issued.customer_code[item_pos[is_overdue]])
        index = issued.customer_ids[wanted]
        codes = wanted
        label = "customers with overdue invoices"
    else:
        index = pd.Index(list(customers))
        codes = issued.customer_ids.get_indexer(index)
        wanted = np.unique(codes[codes >= 0])
        label = "given customers"
    values = _clv_by_code(issued, _on_file(portfolio, issued.customer_ids), wanted, as_of, label)
    values = np.append(values, np.nan)  # position -1: a customer without an invoice
    return pd.Series(values[codes], index=index.rename("customer_id"), name="clv")


@dataclass(frozen=True, slots=True)
class _Issued:
    """The invoices issued on or before the decision date, as the features read them."""

    invoices: pd.DataFrame
    invoice_ids: pd.Index
    #: Each invoice's customer as a code, a position in ``customer_ids``.
    customer_code: npt.NDArray[np.intp]
    #: The customers, in the order of their first invoice.
    customer_ids: pd.Index
    amount_minor: npt.NDArray[np.int64]
    #: The amounts in currency units (a model feature, not money).
    amount: npt.NDArray[np.float64]


def _issued_invoices(portfolio: Portfolio, cutoff: pd.Timestamp) -> _Issued:
    """The invoices issued by ``cutoff``, their customers' codes and their amounts."""
    invoices = portfolio.invoices.loc[portfolio.invoices["issue_date"] <= cutoff]
    # Joins run on integer positions: hashing the string ids once is far cheaper than
    # repeated string joins on a million rows.
    invoice_ids = pd.Index(invoices["invoice_id"])
    if not invoice_ids.is_unique:
        duplicates = invoice_ids[invoice_ids.duplicated()].unique().tolist()[:5]
        msg = (
            f"invoices: invoice_id values {duplicates} occur more than once; load the "
            "tables with dunning.load_portfolio, which rejects duplicate ids."
        )
        raise DataError(msg, path="<invoices>")
    customer_code, customer_ids = pd.factorize(invoices["customer_id"])
    amount_minor = to_minor_array(invoices["amount"], invoices["currency"].tolist())
    return _Issued(
        invoices=invoices,
        invoice_ids=invoice_ids,
        customer_code=customer_code,
        customer_ids=pd.Index(customer_ids),
        amount_minor=amount_minor,
        amount=_currency_units(amount_minor, invoices["currency"]),
    )


def _overdue_items(
    portfolio: Portfolio, as_of: date, invoice_ids: pd.Index
) -> tuple[pd.DataFrame, npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """The open items, their positions in ``invoice_ids``, and which are overdue."""
    items = open_items(portfolio, as_of)
    item_pos = invoice_ids.get_indexer(pd.Index(items["invoice_id"]))
    is_overdue = np.asarray(items["days_overdue"].to_numpy() > 0, dtype=bool)
    return items, item_pos, is_overdue


def _on_file(portfolio: Portfolio, customer_ids: pd.Index) -> pd.DataFrame:
    """The customer records of ``customer_ids``, in that order (NaN rows when unknown)."""
    return portfolio.customers.set_index("customer_id").reindex(customer_ids)


def _clv_by_code(
    issued: _Issued,
    on_file: pd.DataFrame,
    wanted: npt.NDArray[np.intp],
    as_of: date,
    label: str = "customers with overdue invoices",
) -> npt.NDArray[np.float64]:
    """The CLV per customer code (NaN where none was estimated or not wanted)."""
    return _customer_value(
        issued.customer_code,
        issued.invoices["issue_date"].to_numpy(),
        issued.amount,
        on_file["segment"].to_numpy(),
        wanted,
        as_of,
        label,
    )


def _given_values(clv: pd.Series) -> pd.Series:
    """The ``clv`` argument of :func:`build_features`, checked: unique customer ids."""
    if not clv.index.is_unique:
        duplicates = clv.index[clv.index.duplicated()].unique().tolist()[:5]
        msg = (
            f"build_features: clv has more than one value for the customers {duplicates}; "
            "pass one value per customer id (as customer_values returns)."
        )
        raise DataError(msg, path="<clv>")
    return clv


def _promises(
    portfolio: Portfolio,
    invoice_ids: pd.Index,
    amount_minor: npt.NDArray[np.int64],
    payments: pd.DataFrame,
    cutoff: pd.Timestamp,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Broken and kept promises due in the last 12 months, per invoice position.

    ``payments`` are those dated on or before ``cutoff``; ``amount_minor`` is the amount of
    each invoice in ``invoice_ids`` in minor units.
    """
    n = len(invoice_ids)
    promises = portfolio.promises
    due = promises["promised_by"]
    window = (
        (promises["promised_on"] <= cutoff)
        & (due <= cutoff)
        & (due > cutoff - pd.DateOffset(months=12))
    )
    promises = promises.loc[window]
    at = invoice_ids.get_indexer(pd.Index(promises["invoice_id"]))
    known = at >= 0
    at, by = at[known], promises["promised_by"].to_numpy()[known]
    if len(at) == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    pay_at = invoice_ids.get_indexer(pd.Index(payments["invoice_id"]))
    paid = np.isin(pay_at, at)  # only the promised invoices' payments (a small share)
    pay = pd.DataFrame(
        {
            "at": pay_at[paid],
            "day": payments["payment_date"].to_numpy()[paid],
            "minor": to_minor_array(
                payments["amount"].loc[paid], payments["currency"].loc[paid].tolist()
            ),
        }
    )
    wanted = pd.DataFrame({"at": at, "by": by, "promise": np.arange(len(at))})
    joined = wanted.merge(pay, on="at", how="inner")
    joined = joined.loc[joined["day"] <= joined["by"]]
    paid_by = joined.groupby("promise")["minor"].sum().reindex(np.arange(len(at)), fill_value=0)
    is_kept = paid_by.to_numpy(np.int64) >= amount_minor[at]
    broken = np.bincount(at[~is_kept], minlength=n).astype(np.int64)
    kept = np.bincount(at[is_kept], minlength=n).astype(np.int64)
    return broken, kept


def _currency_units(
    minor: pd.Series | npt.NDArray[np.int64], currency: pd.Series
) -> npt.NDArray[np.float64]:
    """Integer minor units as float currency units (a model feature, not money)."""
    codes, uniques = pd.factorize(currency)
    scale = np.array([10.0 ** minor_units(str(c)) for c in uniques], dtype=np.float64)
    return np.asarray(minor, dtype=np.float64) / scale[codes] if len(uniques) else np.zeros(0)


def _customer_value(
    customer_code: npt.NDArray[np.intp],
    issue_date: npt.NDArray[np.datetime64],
    value: npt.NDArray[np.float64],
    segment: npt.NDArray[Any],
    wanted: npt.NDArray[np.intp],
    as_of: date,
    label: str = "customers with overdue invoices",
) -> npt.NDArray[np.float64]:
    """12-month CLV per customer code (NaN where no estimate exists); see the module notes.

    ``customer_code``, ``issue_date`` and ``value`` describe the invoices issued on or
    before ``as_of`` (value in currency units), ``segment`` holds one value per customer
    code, and ``wanted`` the codes whose value is needed. The models are fitted per
    segment on all of the segment's customers; segments without a wanted customer are
    skipped, which changes no value. ``label`` names the wanted customers in the warning.
    """
    n_customers = len(segment)
    clv = np.full(n_customers, np.nan)
    if len(wanted) == 0:
        return clv
    transactions = pd.DataFrame(
        {"customer": customer_code, "issue_date": issue_date, "value": value}
    )
    summary = summary_from_transactions(
        transactions, "customer", "issue_date", "value", as_of, freq="D"
    ).reindex(np.arange(n_customers))
    frequency = summary["frequency"].to_numpy(np.float64, na_value=np.nan)
    recency = summary["recency"].to_numpy(np.float64, na_value=np.nan)
    age = summary["T"].to_numpy(np.float64, na_value=np.nan)
    monetary = summary["monetary_value"].to_numpy(np.float64, na_value=np.nan)
    known = np.isfinite(frequency) & (monetary >= 0)
    is_wanted = np.zeros(n_customers, dtype=bool)
    is_wanted[wanted] = True

    group_code, groups = pd.factorize(pd.Series(segment, dtype="str"), use_na_sentinel=False)
    failures: list[str] = []
    for g, group in enumerate(groups):
        members = np.flatnonzero((group_code == g) & known)
        target = members[is_wanted[members]]
        if len(target) == 0:
            continue
        repeat = members[frequency[members] > 0]
        repeat = repeat[monetary[repeat] > 0]
        name = "missing" if pd.isna(group) else str(group)
        if min(len(members), len(repeat)) < _CLV_MIN_CUSTOMERS:
            failures.append(
                f"segment {name}: too few customers ({len(members)}, of which "
                f"{len(repeat)} with a repeat purchase; the models need at least "
                f"{_CLV_MIN_CUSTOMERS} of each)"
            )
            continue
        try:
            beta_geo = BetaGeoModel(penalizer_coef=_CLV_PENALIZER).fit(
                frequency[members], recency[members], age[members]
            )
            gamma_gamma = GammaGammaModel().fit(frequency[repeat], monetary[repeat])
            with np.errstate(all="ignore"):  # non-finite results are flagged below
                estimate = gamma_gamma.customer_lifetime_value(
                    beta_geo,
                    frequency[target],
                    recency[target],
                    age[target],
                    monetary[target],
                    horizon_months=_CLV_HORIZON_MONTHS,
                    discount_rate_monthly=_CLV_DISCOUNT_RATE_MONTHLY,
                    margin=_CLV_MARGIN,
                    time_unit_days=1.0,
                )
        except (ModelError, DataError) as exc:
            failures.append(f"segment {name}: {str(exc).rstrip('.')}")
            continue
        bad = ~np.isfinite(estimate)
        if bad.any():
            failures.append(f"segment {name}: {int(bad.sum())} non-finite estimates")
        clv[target] = np.where(bad, np.nan, estimate)
    if failures:
        missing = int(np.isnan(clv[wanted]).sum())
        logger.warning(
            "customer lifetime value on %s is missing (clv = NaN, clv_isna = 1) for %d of "
            "%d %s: %s.",
            as_of,
            missing,
            len(wanted),
            label,
            "; ".join(failures),
        )
    return clv


def _per_customer(values: pd.Series, n_customers: int) -> npt.NDArray[np.float64]:
    """A per-customer-code aggregate as an array of length ``n_customers`` (NaN if absent)."""
    return values.reindex(np.arange(n_customers)).to_numpy(np.float64, na_value=np.nan)
