"""Proposal: one decision per overdue invoice, one case per customer, fees and interest.

:func:`propose` joins the open items with their risk scores, assigns each overdue
invoice its dunning level (:func:`dunning.levels.assign_levels`) under a
:class:`~dunning.policy.Policy`, computes what is claimed besides the principal (the new
letter's dunning fee, statutory default interest, the statutory flat fee), groups the
invoices of a customer into one **case** (one letter listing all of them), chooses the
case's offer (:func:`dunning.offers.choose_offers`) and routes cases to human review. It
has no side effects.

Decisions (``Proposal.decisions``), one row per overdue open invoice
--------------------------------------------------------------------
``invoice_id, customer_id, case_id, issue_date, due_date, days_overdue, open_amount``
(``Decimal``), ``open_minor`` (int64 minor units), ``currency, disputed, risk,
last_level, last_dunned_on, level`` (0 = no new letter), ``level_name_de,
level_name_en, offer``, then the claim: ``fee, interest, flat_fee, claim_total``
(``Decimal``; ``claim_total = open_amount + fee + interest + flat_fee``),
``interest_from`` (first day of default, a date), ``interest_days`` (days from
``interest_from`` to ``as_of``, both counted; 0 when not yet in default),
``interest_rate`` (the rate(s) in percent a year, ``";"``-joined per rate period, ``""``
for none), ``interest_rate_note`` (why interest is not claimed although the policy claims
it, e.g. an unconfirmed base rate; ``""`` otherwise), and ``needs_review, review_reason``
of the invoice's case (a disputed invoice, which is in no case, has ``needs_review`` true
and the reason ``DISPUTE`` when the policy routes disputes). ``case_id`` is missing
(``NaN``) for invoices of customers who get no letter in this run.

Cases (``Proposal.cases``), one row per customer with a new letter
------------------------------------------------------------------
A customer has a case when at least one of their overdue invoices gets a new level.
The case lists **all** the customer's overdue open invoices (also those whose own
level is 0 because they were dunned recently; disputed invoices are never listed), so
the letter shows everything owed. With ``per_invoice=True`` (or the policy's
``case_grouping = "invoice"``) every invoice with a new level is a case of its own.

``case_id, customer_id, currency, level`` (highest invoice level), ``level_name_de,
level_name_en, n_invoices, total`` (exact ``Decimal`` sum of open principal),
``total_minor, case_fees, case_interest, case_flat_fees, amount_due`` (``Decimal``;
``amount_due = total + case_fees + case_interest + case_flat_fees``, the amount the
letter asks for), ``amount_due_minor, risk`` (open-amount weighted mean of the invoices'
risks), ``disputed`` (any overdue invoice of the customer in the case's currency is
disputed), ``max_days_overdue, language, channel`` (``"email"`` if the customer consented
to e-mail and has an address, else ``"letter"``), the customer's ``name, street,
postal_code, city, country, email, segment, vulnerable``, the offer columns of
:func:`dunning.offers.choose_offers`, and ``needs_review`` (bool), ``review_reason``
(``"|"``-joined codes of :data:`REVIEW_CODES`).

``case_id`` is stable: ``C<yyyymmdd>-<first 10 hex digits of sha256(customer_id)>``
(the run date, then the customer). A customer owing in two currencies gets one case per
currency, with ``-<currency>`` appended to the id; a per-invoice case appends
``-<first 8 hex digits of sha256(invoice_id)>``.

Fees and interest
-----------------
* **Dunning fee**: the policy's fee of the *new* level for the customer's segment
  (``fee_b2c`` / ``fee_b2b``), on invoices in the policy currency only. It attaches to the
  new letter: an invoice without a new level carries no fee, so a second run on the
  same or the next day never charges it again (fees are never compounded). Fees of
  earlier letters are their own claim and are not restated (the dunning history records
  levels, not amounts).
* **Statutory interest** (:func:`dunning.interest.statutory_interest`, with the policy's
  jurisdiction, ``interest_day_count`` and ``allow_unconfirmed_base_rate``), only if the
  policy claims it for the segment. Default starts on the earlier of the day after the
  first reminder (§ 286 (1) BGB) and the 31st day after the due date (§ 286 (3) BGB: 30
  days after due date *and receipt*). Simplifications: receipt of the invoice and of the
  reminder is taken to be the due date and the letter date; the § 286 (3) notice
  requirement for consumers is assumed to be met by the invoice. Interest runs to
  ``as_of`` (both days counted) on the **open** principal on ``as_of``: a part-payment
  lowers the principal for the whole span (this under-claims, never over-claims; use
  :func:`dunning.interest.interest_on_balance` for the exact figure).
  ``interest_survives_principal_payment`` concerns fully paid invoices, which are not
  open items and are never proposed here. When a rate is unknown or unconfirmed (and the
  policy does not allow unconfirmed rates), interest is **not claimed** (0) and
  ``interest_rate_note`` says why; the run never fails on it.
* **Flat fee** (:func:`dunning.interest.flat_fee`: € 40 under § 288 (5) BGB; £ 40/70/100
  under the Late Payment Act), once per invoice in default, if the policy claims it for
  the segment.
* A customer without a segment counts as ``"B2C"`` (the lower rate, no flat fee).

The computation is vectorised: interest is computed once per (first day of default,
segment, currency) group as an exact factor per minor unit, then applied to every
invoice of the group in integer arithmetic with one half-up rounding per invoice (the
same result as calling :func:`~dunning.interest.statutory_interest` per invoice).

Review routing
--------------
A case goes to review (``needs_review``) for each rule of the policy's ``review`` section
that applies; ``review_reason`` lists the codes in the order of :data:`REVIEW_CODES`:
``HIGH_EXPOSURE`` (``amount_due`` at or above ``exposure_limit``), ``UNCERTAIN_SCORE``
(``|risk - flag_threshold| <= uncertainty_band``), ``DISPUTE`` (with ``dispute_scope =
"customer"``: an invoice of the case's customer is disputed; with the default
``"invoice"`` only the disputed invoice's own decision is routed), ``VULNERABLE`` (also,
whatever ``route_vulnerable`` says, every case of a vulnerable customer above the first
level: a vulnerable customer is never escalated automatically), ``ANOMALY`` (an invoice of
the case has an anomaly flag), ``DATA_GAP`` (an invoice of the case lacks more than
``max_missing_share`` of its features) and ``DRIFT_ALARM`` (every case while a drift alarm
is raised).

Tone and channel come from :func:`dunning.communication.choose_tone_and_channel` (the
level's tone, gentler for high CLV or a good history, always gentle with the help line for
vulnerable customers; the cheapest usable channel the customer consented to);
``expected_recovery`` and ``expected_cost`` state the expected value of the case's action
under the policy's assumptions (see :func:`dunning.offers.choose_offers`).

Examples
--------
>>> from datetime import date
>>> case_id("K-1", date(2026, 11, 23))
'C20261123-78c7523daa'
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.accounts import default_start, level_fees
from dunning.communication import choose_tone_and_channel
from dunning.errors import DataError, DunningError
from dunning.interest import flat_fee, statutory_interest
from dunning.levels import assign_levels, level_names, level_reasons
from dunning.money import from_minor, from_minor_array, minor_units, quantize, to_minor
from dunning.offers import choose_offers
from dunning.policy import Policy
from dunning.typing import Segment

__all__ = [
    "CASE_COLUMNS",
    "DECISION_COLUMNS",
    "REVIEW_CODES",
    "Proposal",
    "case_id",
    "first_reminders",
    "propose_items",
]

logger = logging.getLogger(__name__)

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
    "paid_to_charges",
    "currency",
    "disputed",
    "on_hold",
    "risk",
    "last_level",
    "last_dunned_on",
    "level",
    "level_name_de",
    "level_name_en",
    "offer",
    "tone",
    "channel",
    "fee",
    "interest",
    "flat_fee",
    "earlier_fees",
    "claim_total",
    "interest_from",
    "interest_days",
    "interest_rate",
    "interest_rate_note",
    "needs_review",
    "review_reason",
    "rule_trace",
    "rule_trace_de",
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
    "case_fees",
    "case_interest",
    "case_flat_fees",
    "case_earlier_fees",
    "amount_due",
    "amount_due_minor",
    "risk",
    "clv",
    "disputed",
    "max_days_overdue",
    "language",
    "channel",
    "tone",
    "help_line",
    "escalation_blocked",
    "communication_reason",
    "communication_reason_de",
    *_CUSTOMER_COLUMNS,
    "offer",
    "offer_code",
    "offer_reason",
    "offer_reason_de",
    "installments",
    "deferral_due",
    "expected_recovery",
    "expected_cost",
    "needs_review",
    "review_reason",
)

#: Review codes, in the order they appear in ``review_reason``.
REVIEW_CODES: tuple[str, ...] = (
    "HIGH_EXPOSURE",
    "UNCERTAIN_SCORE",
    "DISPUTE",
    "VULNERABLE",
    "ANOMALY",
    "DATA_GAP",
    "DRIFT_ALARM",
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
    residuals : pandas.DataFrame
        Claims left on invoices whose principal is paid (costs, and interest where it
        survives the principal): :data:`dunning.accounts.ACCOUNT_COLUMNS`, one row per
        invoice; they are not dunned automatically (see :func:`dunning.workflow.propose`).
    reviews : pandas.DataFrame
        Clerk review decisions applied to the proposal
        (:func:`dunning.workflow.apply_reviews`), one row per decision, oldest first.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> p = Proposal(pd.DataFrame(), pd.DataFrame(), date(2026, 11, 23))
    >>> p.as_of.isoformat(), len(p.residuals), len(p.reviews)
    ('2026-11-23', 0, 0)
    """

    decisions: pd.DataFrame
    cases: pd.DataFrame
    as_of: date
    residuals: pd.DataFrame = field(default_factory=pd.DataFrame)
    reviews: pd.DataFrame = field(default_factory=pd.DataFrame)


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


def first_reminders(history: pd.DataFrame, as_of: date) -> pd.Series:
    """The date of the first dunning letter of each invoice, on or before ``as_of``.

    Levels are issued one at a time, so the earliest letter of an invoice is its first
    reminder: the letter that puts the debtor in default (§ 286 (1) BGB). Add the result to
    the open items as ``first_dunned_on`` before :func:`propose`.

    Parameters
    ----------
    history : pandas.DataFrame
        The dunning history (``invoice_id, level, issued_on``).
    as_of : datetime.date
        Letters dated after it are ignored.

    Returns
    -------
    pandas.Series
        ``datetime64`` dates indexed by ``invoice_id``, named ``first_dunned_on``.

    Examples
    --------
    >>> history = pd.DataFrame({"invoice_id": ["R1", "R1", "R2"], "level": [1, 2, 1],
    ...     "issued_on": pd.to_datetime(["2026-10-02", "2026-10-16", "2026-12-01"])})
    >>> first_reminders(history, date(2026, 11, 23)).to_dict()
    {'R1': Timestamp('2026-10-02 00:00:00')}
    """
    dated = history.loc[history["issued_on"] <= pd.Timestamp(as_of)]
    first = dated.groupby("invoice_id", sort=True)["issued_on"].min()
    return first.astype("datetime64[ns]").rename("first_dunned_on")


def _segments(overdue: pd.DataFrame, customers: pd.DataFrame) -> npt.NDArray[np.str_]:
    if "segment" not in customers.columns:
        return np.full(len(overdue), "B2C")
    segment = customers["segment"].reindex(overdue["customer_id"].to_numpy())
    values = segment.astype("str").fillna("B2C").to_numpy(dtype=str)
    return np.where(values == "B2B", "B2B", "B2C")


def _interest_start(overdue: pd.DataFrame) -> npt.NDArray[np.datetime64]:
    """First day of default (:func:`dunning.accounts.default_start`)."""
    due = overdue["due_date"].to_numpy("datetime64[D]")
    if "first_dunned_on" in overdue.columns:
        first = overdue["first_dunned_on"].to_numpy("datetime64[D]")
    else:
        # Without the history's first letter, only a level-1 letter is known to be the first.
        last = overdue["last_dunned_on"].to_numpy("datetime64[D]")
        first = np.where(overdue["last_level"].to_numpy() == 1, last, np.datetime64("NaT"))
    return default_start(due, first)


def _round_half_up(minor: npt.NDArray[np.int64], factor: Fraction) -> npt.NDArray[np.int64]:
    """``minor x factor`` rounded half up (away from zero), exact in Python integers."""
    p, q = factor.numerator, factor.denominator
    biggest = int(np.abs(minor).max()) if minor.size else 0
    if biggest * abs(p) < 2**61 and q < 2**61:
        # Exact in int64: 2 x value + q stays below 2**63.
        wide = minor.astype(np.int64) * abs(p)
        fast = (2 * wide + q) // (2 * q)
        return np.asarray(fast if p >= 0 else -fast, dtype=np.int64)
    values = minor.astype(object) * abs(p)
    rounded = (2 * values + q) // (2 * q)
    signed = rounded if p >= 0 else -rounded
    return np.asarray(signed, dtype=np.int64)


def _not_claimed(exc: DunningError) -> str:
    row = getattr(exc, "row", None)
    day = getattr(exc, "day", None)
    if type(exc).__name__ == "BaseRateUnconfirmed":
        return f"interest not claimed: the reference rate from {row} is unconfirmed"
    if day is not None:
        return f"interest not claimed: no reference rate is known for {day}"
    return f"interest not claimed: {exc}"


def _step_fill(
    amounts: npt.NDArray[np.int64], fee_of: Callable[[int], int]
) -> npt.NDArray[np.int64]:
    """``fee_of`` over sorted unique amounts of a non-decreasing step function, by bisection."""
    out = np.empty(amounts.size, dtype=np.int64)
    stack = [(0, amounts.size - 1, fee_of(int(amounts[0])), fee_of(int(amounts[-1])))]
    while stack:
        lo, hi, f_lo, f_hi = stack.pop()
        if f_lo == f_hi:
            out[lo : hi + 1] = f_lo
        elif hi - lo == 1:
            out[lo], out[hi] = f_lo, f_hi
        else:
            mid = (lo + hi) // 2
            f_mid = fee_of(int(amounts[mid]))
            stack.extend([(lo, mid, f_lo, f_mid), (mid, hi, f_mid, f_hi)])
    return out


def _charges(
    overdue: pd.DataFrame,
    segment: npt.NDArray[np.str_],
    level: npt.NDArray[np.int64],
    as_of: date,
    policy: Policy,
) -> pd.DataFrame:
    """Fee, interest and flat fee per invoice in minor units, with the interest details."""
    n = len(overdue)
    currency = overdue["currency"].astype("str").to_numpy(dtype=str)
    open_minor = overdue["open_minor"].to_numpy(np.int64)
    disputed = overdue["disputed"].astype("boolean").fillna(False).to_numpy(bool)
    home = currency == policy.currency
    b2b = segment == "B2B"

    # Dunning fee of the new level (0 = no new letter, no fee).
    table = level_fees(policy)
    fee = np.where(b2b, table["B2B"][level], table["B2C"][level])
    fee = np.where(home & ~disputed, fee, 0).astype(np.int64)

    start = _interest_start(overdue)
    end = np.datetime64(as_of, "D")
    in_default = (start <= end) & ~disputed & (open_minor > 0)
    days = np.where(in_default, (end - start).astype(np.int64) + 1, 0).astype(np.int64)

    interest = np.zeros(n, dtype=np.int64)
    rate = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    claims_interest = np.where(
        b2b, policy.claims_interest("B2B"), policy.claims_interest("B2C")
    ).astype(bool)
    wanted = np.flatnonzero(in_default & claims_interest)
    if wanted.size:
        keys = pd.DataFrame(
            {"start": start[wanted], "segment": segment[wanted], "currency": currency[wanted]}
        )
        groups = keys.groupby(["start", "segment", "currency"], sort=True).indices
        for key, rows in groups.items():
            first, seg, cur = cast("tuple[np.datetime64, str, str]", key)
            idx = wanted[np.asarray(rows, dtype=np.intp)]
            segment_name: Segment = "B2B" if seg == "B2B" else "B2C"
            try:
                result = statutory_interest(
                    from_minor(1, str(cur)),
                    pd.Timestamp(first).date(),
                    as_of,
                    segment=segment_name,
                    jurisdiction=policy.jurisdiction,
                    day_count=policy.interest_day_count,
                    currency=str(cur),
                    allow_unconfirmed=policy.allow_unconfirmed_base_rate,
                )
            except DunningError as exc:
                note[idx] = _not_claimed(exc)
                continue
            factor = result.amount_exact * 10 ** minor_units(str(cur))
            interest[idx] = _round_half_up(open_minor[idx], factor)
            rate[idx] = ";".join(str(period.rate_percent) for period in result.periods)
    if (note != "").any():
        logger.warning(
            "interest not claimed on %d invoice(s), e.g. %s",
            int((note != "").sum()),
            next(str(x) for x in note if x),
        )

    flat = np.zeros(n, dtype=np.int64)
    claims_flat = np.where(
        b2b, policy.claims_flat_fee("B2B"), policy.claims_flat_fee("B2C")
    ).astype(bool)
    due_flat = np.flatnonzero(in_default & claims_flat & home)
    if due_flat.size:
        for seg in ("B2C", "B2B"):
            idx = due_flat[segment[due_flat] == seg]
            if not idx.size:
                continue
            segment_name = "B2B" if seg == "B2B" else "B2C"
            cur = policy.currency

            def fee_of(minor: int, seg_: Segment = segment_name, cur_: str = cur) -> int:
                return to_minor(
                    flat_fee(seg_, policy.jurisdiction, from_minor(minor, cur_), cur_), cur_
                )

            unique, inverse = np.unique(open_minor[idx], return_inverse=True)
            flat[idx] = _step_fill(unique, fee_of)[inverse]

    # Invoices whose part-payments were allocated (dunning.accounts.claim_accounts): what
    # is still owed of interest and flat fee after the payments, instead of the full amounts.
    for column, target in (("interest_open_minor", interest), ("flat_fee_open_minor", flat)):
        if column in overdue.columns:
            given = overdue[column].astype("Int64")
            known = ~given.isna().to_numpy(bool) & ~disputed
            target[known] = given[known].to_numpy(np.int64)

    return pd.DataFrame(
        {
            "fee_minor": fee,
            "interest_minor": interest,
            "flat_minor": flat,
            "interest_from": pd.Series(start).dt.date.to_numpy(),
            "interest_days": days,
            "interest_rate": pd.Series(rate, dtype="str").to_numpy(),
            "interest_rate_note": pd.Series(note, dtype="str").to_numpy(),
        }
    )


def _money_column(minor: pd.Series, currency: pd.Series) -> pd.Series:
    """Exact ``Decimal`` amounts; each distinct (amount, currency) is converted once."""
    codes, names = pd.factorize(currency.astype("str"), sort=False)
    key = minor.to_numpy(np.int64)
    out = np.empty(len(key), dtype=object)
    for j, name in enumerate(names):
        rows = np.flatnonzero(codes == j)
        unique, inverse = np.unique(key[rows], return_inverse=True)
        values = np.empty(len(unique), dtype=object)
        values[:] = from_minor_array(unique.tolist(), [str(name)] * len(unique))
        out[rows] = values[inverse]
    return pd.Series(out, index=minor.index, dtype=object)


def _expected(
    cases: pd.DataFrame, policy: Policy
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Expected recovery and cost of each case's action, in minor units.

    The recovery is ``P(recovery) x total`` with ``P = 1 - risk`` plus the policy's
    ``offers.recovery_uplift`` of the chosen offer (capped at 1), as in
    :func:`dunning.offers.choose_offers`; the cost is the offer's ``offers.costs`` plus the
    channel's ``tone_and_channel.channel_costs`` (policy amounts read as case-currency
    amounts, no exchange rates).
    """
    rules = policy.offers
    currency = cases["currency"].astype("str")

    def minor(amount: Decimal) -> npt.NDArray[np.int64]:
        exact = {c: to_minor(quantize(amount, c), c) for c in pd.unique(currency)}
        return currency.map(exact).to_numpy(np.int64)

    offer = cases["offer"].astype("str").to_numpy(dtype=str)
    uplift = np.select(
        [offer == "installment_plan", offer == "deferral"],
        [rules.recovery_uplift.installment_plan, rules.recovery_uplift.deferral],
        default=0.0,
    )
    p = np.minimum(1.0, 1.0 - cases["risk"].to_numpy(np.float64) + uplift)
    recovery = np.rint(p * cases["total_minor"].to_numpy(np.float64)).astype(np.int64)
    offer_cost = np.select(
        [offer == "installment_plan", offer == "deferral"],
        [minor(rules.costs.installment_plan), minor(rules.costs.deferral)],
        default=0,
    )
    channel = cases["channel"].astype("str").to_numpy(dtype=str)
    costs = policy.tone_and_channel.channel_costs
    channel_cost = np.select(
        [channel == c for c in ("email", "letter", "sms")],
        [minor(costs.cost(c)) for c in ("email", "letter", "sms")],
        default=0,
    )
    return recovery, (offer_cost + channel_cost).astype(np.int64)


def _review(
    cases: pd.DataFrame, policy: Policy, drift_alarm: bool
) -> tuple[npt.NDArray[np.bool_], pd.Series]:
    rules = policy.review
    limits = {
        c: to_minor(quantize(rules.exposure_limit, c), c) for c in pd.unique(cases["currency"])
    }
    limit = cases["currency"].map(limits).to_numpy(np.int64)
    vulnerable = cases["vulnerable"].astype("boolean").fillna(False).to_numpy(bool)
    masks = {
        "HIGH_EXPOSURE": cases["amount_due_minor"].to_numpy(np.int64) >= limit,
        "UNCERTAIN_SCORE": np.abs(cases["risk"].to_numpy(np.float64) - rules.flag_threshold)
        <= rules.uncertainty_band + 1e-12,
        "DISPUTE": cases["disputed"].to_numpy(bool)
        & (rules.route_disputes and rules.dispute_scope == "customer"),
        "VULNERABLE": vulnerable & rules.route_vulnerable
        | cases["_hold_escalation"].to_numpy(bool),
        "ANOMALY": cases["_anomaly"].to_numpy(bool) & rules.route_anomalies,
        "DATA_GAP": cases["_gap"].to_numpy(bool) & rules.route_data_gaps,
        "DRIFT_ALARM": np.full(len(cases), drift_alarm and rules.route_drift_alarm),
    }
    reason = pd.Series("", index=cases.index, dtype="str")
    for code in REVIEW_CODES:
        reason = reason + np.where(masks[code], "|" + code, "")
    needs = np.logical_or.reduce([masks[c] for c in REVIEW_CODES]) if len(cases) else np.zeros(0)
    return np.asarray(needs, dtype=bool), reason.str.lstrip("|").astype("str")


def propose_items(
    items: pd.DataFrame,
    features: pd.DataFrame,
    risk: pd.Series,
    customers: pd.DataFrame,
    as_of: date,
    *,
    policy: Policy | None = None,
    per_invoice: bool | None = None,
    anomalies: pd.Series | None = None,
    drift_alarm: bool = False,
) -> Proposal:
    """Decide level, fees and interest of every overdue invoice and build the cases.

    Parameters
    ----------
    items : pandas.DataFrame
        Open items from :func:`dunning.ledger.open_items` on ``as_of``; rows that are
        not overdue (``days_overdue <= 0``) are ignored. An optional ``first_dunned_on``
        column (:func:`first_reminders`) dates the first reminder for the start of default;
        without it only a ``last_level`` of 1 is known to be the first reminder. Optional
        columns from the claim account (:func:`dunning.accounts.claim_accounts`, as
        :func:`dunning.workflow.propose` adds them): ``earlier_fees_minor`` (fees of earlier
        letters still owed), ``paid_to_charges_minor`` (what payments covered of costs and
        interest), ``interest_open_minor`` and ``flat_fee_open_minor`` (nullable; where given
        they replace the interest and flat fee computed here), all int64 minor units, and
        ``on_hold`` (bool: a clerk put the invoice on hold; it is not dunned).
    features : pandas.DataFrame
        Features of the overdue items (index ``invoice_id``), from
        :func:`scoring.features.build_features`; used for the data-gap review rule and,
        through ``broken_promises_12m`` (if present), for the offer eligibility rule on
        broken payment promises (:func:`dunning.offers.choose_offers`); ``clv`` and
        ``late_12m_share`` (if present) soften the tone
        (:func:`dunning.communication.choose_tone_and_channel`).
    risk : pandas.Series
        Risk that the invoice stays unpaid, indexed by ``invoice_id``; every overdue
        invoice must have one.
    customers : pandas.DataFrame
        The canonical customers table.
    as_of : datetime.date
        The run date.
    policy : Policy, optional
        Levels, fees, interest claims and review rules; default ``Policy.default("DE")``.
    per_invoice : bool, optional
        ``True``: one case (letter) per invoice; ``False``: one per customer and currency.
        Default: the policy's ``case_grouping``.
    anomalies : pandas.Series, optional
        Anomaly flags per invoice (index ``invoice_id``; ``"|"``-joined codes, ``""`` for
        none, or booleans), from :func:`scoring.anomaly.anomaly_flags`.
    drift_alarm : bool
        Whether a drift alarm is raised: then every case goes to review.

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
    ...     "issue_date": pd.to_datetime(["2026-02-01", "2026-04-01", "2026-05-01"]),
    ...     "due_date": pd.to_datetime(["2026-03-02", "2026-05-01", "2026-05-30"]),
    ...     "currency": ["EUR"] * 3,
    ...     "open_amount": [Decimal("1000.00"), Decimal("150.50"), Decimal("80.00")],
    ...     "open_minor": [100000, 15050, 8000], "days_overdue": [75, 15, -14],
    ...     "disputed": pd.array([False, False, False], dtype="boolean"),
    ...     "last_level": [1, 0, 0], "last_dunned_on": pd.to_datetime(["2026-04-20", None, None])})
    >>> customers = pd.DataFrame({"customer_id": ["K1", "K2"], "name": ["A", "B"],
    ...     "country": ["DE", "DE"], "language": ["de", "en"], "segment": ["B2B", "B2B"],
    ...     "email": ["a@example.com", None], "contact_consent": ["email|letter", "letter"]})
    >>> risk = pd.Series([0.2, 0.3], index=["R1", "R2"])
    >>> p = propose_items(items, pd.DataFrame(index=risk.index), risk, customers,
    ...                   date(2026, 5, 16))
    >>> print(p.decisions[["invoice_id", "level", "interest", "flat_fee"]].to_string(index=False))
    invoice_id  level interest flat_fee
            R1      2    12.66    40.00
            R2      1     0.00     0.00
    >>> case = p.cases.iloc[0]
    >>> case["total"], case["amount_due"], bool(case["needs_review"]), case["review_reason"]
    (Decimal('1150.50'), Decimal('1203.16'), False, '')
    """
    policy = Policy.default("DE") if policy is None else policy
    if per_invoice is None:
        per_invoice = policy.case_grouping == "invoice"
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
    unknown = cust.index.get_indexer(pd.Index(overdue["customer_id"])) < 0
    if unknown.any():
        msg = (
            f"propose: {int(unknown.sum())} overdue invoice(s) belong to unknown customers, "
            f"e.g. {overdue.loc[unknown, 'customer_id'].unique()[:3].tolist()}."
        )
        raise DataError(msg, path="<customers>")

    cutoff = pd.Timestamp(as_of)
    since = (cutoff - overdue["last_dunned_on"]).dt.days.to_numpy(dtype=np.float64)
    minimum = {
        c: to_minor(quantize(policy.min_open_amount, c), c) for c in pd.unique(overdue["currency"])
    }
    level = assign_levels(
        overdue["days_overdue"].to_numpy(np.int64),
        overdue["last_level"].to_numpy(np.int64),
        since,
        policy=policy,
        open_minor=overdue["open_minor"].to_numpy(np.int64),
        min_open_minor=overdue["currency"].map(minimum).to_numpy(np.int64),
    )
    # A disputed invoice is never dunned: it stays in the decisions (level 0, no case)
    # until the dispute is resolved, and is not listed in the customer's letter.
    disputed = overdue["disputed"].astype("boolean").fillna(False).to_numpy(bool)
    # An invoice a clerk put on hold is not dunned either, and not listed in a letter.
    held = (
        overdue["on_hold"].astype("boolean").fillna(False).to_numpy(bool)
        if "on_hold" in overdue.columns
        else np.zeros(len(overdue), dtype=bool)
    )
    level = np.where(disputed | held, 0, level)
    overdue["on_hold"] = held
    why_en, why_de = level_reasons(
        overdue["days_overdue"].to_numpy(np.int64),
        overdue["last_level"].to_numpy(np.int64),
        level,
        since,
        policy=policy,
        below_minimum=overdue["open_minor"].to_numpy(np.int64)
        < overdue["currency"].map(minimum).to_numpy(np.int64),
        blocked=disputed,
    )
    why_en = np.where(held & ~disputed, "no letter: on hold (a clerk's decision)", why_en)
    why_de = np.where(
        held & ~disputed, "kein Schreiben: angehalten (Entscheidung der Sachbearbeitung)", why_de
    )
    for column in ("earlier_fees_minor", "paid_to_charges_minor"):
        values = overdue[column] if column in overdue.columns else pd.Series(0, index=overdue.index)
        overdue[column] = values.fillna(0).to_numpy(np.int64)
    overdue["paid_to_charges"] = _money_column(
        overdue["paid_to_charges_minor"], overdue["currency"]
    )
    overdue["risk"] = scores
    overdue["level"] = level
    overdue["level_name_de"] = pd.Series(level_names(level, "de", policy), dtype="str")
    overdue["level_name_en"] = pd.Series(level_names(level, "en", policy), dtype="str")
    overdue["disputed"] = overdue["disputed"].astype("boolean")

    segment = _segments(overdue, cust)
    charges = _charges(overdue, segment, level, as_of, policy)
    for column in ("interest_from", "interest_days", "interest_rate", "interest_rate_note"):
        overdue[column] = charges[column].to_numpy()
    earlier_minor = overdue["earlier_fees_minor"].to_numpy(np.int64)
    claim_minor = (
        overdue["open_minor"].to_numpy(np.int64)
        + earlier_minor
        + charges["fee_minor"].to_numpy()
        + charges["interest_minor"].to_numpy()
        + charges["flat_minor"].to_numpy()
    )
    for column, minor in (
        ("fee", charges["fee_minor"]),
        ("interest", charges["interest_minor"]),
        ("flat_fee", charges["flat_minor"]),
        ("earlier_fees", pd.Series(earlier_minor)),
        ("claim_total", pd.Series(claim_minor)),
    ):
        overdue[column] = _money_column(minor, overdue["currency"])

    if anomalies is None:
        flagged = np.zeros(len(overdue), dtype=bool)
    else:
        found = anomalies.reindex(invoice_ids)
        if found.dtype == bool or str(found.dtype) == "boolean":
            flagged = found.astype("boolean").fillna(False).to_numpy(bool)
        else:
            flagged = (found.fillna("").astype("str") != "").to_numpy(bool)
    if features.shape[1]:
        missing = features.reindex(invoice_ids).isna().mean(axis=1).to_numpy(np.float64)
        gap = missing > policy.review.max_missing_share
    else:
        gap = np.zeros(len(overdue), dtype=bool)
    # The customer's broken payment promises (a customer-level feature), for the offer
    # eligibility rule of dunning.offers; absent from the features: none known.
    if "broken_promises_12m" in features.columns:
        broken = features["broken_promises_12m"].reindex(invoice_ids).fillna(0).to_numpy(np.int64)
    else:
        broken = np.zeros(len(overdue), dtype=np.int64)
    customer_feature = {
        name: (
            features[name].reindex(invoice_ids).to_numpy(np.float64)
            if name in features.columns
            else np.full(len(overdue), np.nan)
        )
        for name in ("clv", "late_12m_share")
    }

    keys = ["customer_id", "currency"]
    group_keys = [*keys, "invoice_id"] if per_invoice else keys
    work = overdue.assign(
        _weighted=overdue["risk"] * overdue["open_minor"].astype(np.float64),
        _fee=charges["fee_minor"].to_numpy(),
        _interest=charges["interest_minor"].to_numpy(),
        _flat=charges["flat_minor"].to_numpy(),
        _earlier=earlier_minor,
        _clv=customer_feature["clv"],
        _late=customer_feature["late_12m_share"],
        _anomaly=flagged,
        _gap=gap,
        _broken=broken,
    )
    any_dispute = work.assign(_d=disputed).groupby(keys, sort=True)["_d"].any()
    grouped = work.loc[~disputed & ~held].groupby(group_keys, sort=True)
    agg = grouped.agg(
        level=("level", "max"),
        n_invoices=("level", "size"),
        total_minor=("open_minor", "sum"),
        _fee=("_fee", "sum"),
        _interest=("_interest", "sum"),
        _flat=("_flat", "sum"),
        _earlier=("_earlier", "sum"),
        clv=("_clv", "max"),
        late_12m_share=("_late", "max"),
        _weighted=("_weighted", "sum"),
        _anomaly=("_anomaly", "any"),
        _gap=("_gap", "any"),
        broken_promises=("_broken", "max"),
        max_days_overdue=("days_overdue", "max"),
    ).reset_index()
    cases = agg.loc[agg["level"] > 0].reset_index(drop=True)
    cases["disputed"] = (
        any_dispute.reindex(pd.MultiIndex.from_frame(cases[keys])).fillna(False).to_numpy(bool)
    )

    # One sha256 per customer (hashing cannot be vectorised); the rest is column arithmetic.
    customers_of_cases = cases["customer_id"].astype("str").tolist()
    cases["case_id"] = (
        pd.Series(
            [hashlib.sha256(c.encode("utf-8")).hexdigest()[:10] for c in customers_of_cases],
            dtype="str",
        )
        .radd(f"C{as_of:%Y%m%d}-")
        .to_numpy()
    )
    if per_invoice:
        suffix = pd.Series(
            [
                hashlib.sha256(str(i).encode("utf-8")).hexdigest()[:8]
                for i in cases["invoice_id"].tolist()
            ],
            dtype="str",
            index=cases.index,
        )
        cases["case_id"] = cases["case_id"] + "-" + suffix
    else:
        multi = cases["customer_id"].duplicated(keep=False)
        if multi.any():
            cases.loc[multi, "case_id"] = (
                cases.loc[multi, "case_id"] + "-" + cases.loc[multi, "currency"]
            )

    cases["total_minor"] = cases["total_minor"].astype(np.int64)
    cases["amount_due_minor"] = (
        cases["total_minor"]
        + cases["_fee"]
        + cases["_interest"]
        + cases["_flat"]
        + cases["_earlier"]
    ).astype(np.int64)
    for column, source in (
        ("total", "total_minor"),
        ("case_fees", "_fee"),
        ("case_interest", "_interest"),
        ("case_flat_fees", "_flat"),
        ("case_earlier_fees", "_earlier"),
        ("amount_due", "amount_due_minor"),
    ):
        cases[column] = _money_column(cases[source], cases["currency"])
    totals = cases["total_minor"].to_numpy(np.float64)
    cases["risk"] = np.divide(
        cases["_weighted"].to_numpy(np.float64),
        totals,
        out=np.zeros(len(cases)),
        where=totals > 0,
    )
    case_levels = cases["level"].to_numpy(np.int64)
    cases["level"] = case_levels
    cases["level_name_de"] = pd.Series(level_names(case_levels, "de", policy), dtype="str")
    cases["level_name_en"] = pd.Series(level_names(case_levels, "en", policy), dtype="str")

    info = cust.reindex(cases["customer_id"].to_numpy())
    cases["language"] = info["language"].astype("str").to_numpy()
    for column in _CUSTOMER_COLUMNS:
        if column in info.columns:
            cases[column] = info[column].to_numpy()
        elif column == "vulnerable":
            cases[column] = pd.array([pd.NA] * len(cases), dtype="boolean")
        else:
            cases[column] = pd.Series([pd.NA] * len(cases), dtype="str")
    contact = {
        c: info[c].to_numpy() if c in info.columns else np.full(len(cases), None)
        for c in ("contact_consent", "phone")
    }
    talk = choose_tone_and_channel(
        cases.assign(**contact).drop(columns=["channel"], errors="ignore"), policy
    )
    for column in talk.columns:
        cases[column] = talk[column].to_numpy()
    # A vulnerable customer is never escalated automatically: a case above the first
    # level goes to a clerk even where the policy does not route vulnerable customers.
    cases["_hold_escalation"] = cases["escalation_blocked"].to_numpy(bool) & (
        cases["level"].to_numpy(np.int64) > 1
    )
    needs, reason = _review(cases, policy, drift_alarm)
    cases["needs_review"] = needs
    cases["review_reason"] = reason.to_numpy()
    offers = choose_offers(cases, policy, as_of=as_of)
    cases = pd.concat([cases, offers], axis=1)
    recovery, cost = _expected(cases, policy)
    cases["expected_recovery"] = _money_column(pd.Series(recovery), cases["currency"]).to_numpy()
    cases["expected_cost"] = _money_column(pd.Series(cost), cases["currency"]).to_numpy()
    cases = cases.loc[:, list(CASE_COLUMNS)]

    link = cases[["case_id", "offer", "tone", "channel", "needs_review", "review_reason"]].assign(
        _trace_en="; " + cases["offer_reason"] + "; " + cases["communication_reason"],
        _trace_de="; " + cases["offer_reason_de"] + "; " + cases["communication_reason_de"],
    )
    if per_invoice:
        link = link.assign(invoice_id=agg.loc[agg["level"] > 0, "invoice_id"].to_numpy())
        on = ["invoice_id"]
    else:
        link = link.assign(**{k: cases[k].to_numpy() for k in keys})
        on = keys
    decisions = overdue.merge(link, on=on, how="left", validate="many_to_one")
    decisions.loc[disputed | held, "case_id"] = pd.NA
    in_case = decisions["case_id"].notna().to_numpy(bool)
    # The rule trace: why this level, and for invoices in a letter why its offer, tone and
    # channel (the case's).
    for column, why, case_trace in (
        ("rule_trace", why_en, "_trace_en"),
        ("rule_trace_de", why_de, "_trace_de"),
    ):
        extra = decisions[case_trace].fillna("").to_numpy(object)
        decisions[column] = pd.Series(np.where(in_case, why + extra, why), dtype="str").to_numpy()
    for column in ("tone", "channel"):
        decisions[column] = decisions[column].where(in_case, "").fillna("").astype("str")
    decisions["offer"] = decisions["offer"].fillna("none").astype("str")
    decisions["needs_review"] = decisions["needs_review"].astype("boolean").fillna(False)
    decisions["needs_review"] = decisions["needs_review"].astype(bool)
    decisions["review_reason"] = decisions["review_reason"].fillna("").astype("str")
    # A disputed invoice is in no case; it waits for a clerk to resolve the dispute.
    if policy.review.route_disputes:
        decisions.loc[disputed, "needs_review"] = True
        decisions.loc[disputed, "review_reason"] = "DISPUTE"
    decisions = decisions.loc[:, list(DECISION_COLUMNS)]
    return Proposal(decisions=decisions, cases=cases, as_of=as_of)
