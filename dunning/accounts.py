"""Claim accounts: earlier dunning fees, and part-payments allocated by § 367 BGB.

A dunned invoice is more than its principal. Each letter may have charged a dunning fee;
once the debtor is in default, statutory interest runs and (for businesses) the flat fee
is owed. Those are a separate claim beside the invoice, which is never changed. When the
debtor pays part of what is owed, the payment is applied to the parts in the policy's
``payment_allocation`` order: § 367 (1) BGB (the default) serves **costs, then interest,
then principal**; ``"consumer_loan"`` (§ 497 (3) BGB) serves costs, principal, interest.
:func:`claim_accounts` keeps that account for every invoice that has had a letter.

The account of one invoice
--------------------------
* **Start of default** (:func:`default_start`): the earlier of the day after the first
  reminder (§ 286 (1) BGB) and the 31st day after the due date (§ 286 (3) BGB), taking
  receipt to be the due date and the letter date.
* **Costs**: the dunning fee of every letter issued (the history's ``fee`` column where it
  has one, e.g. the letters recorded by :func:`dunning.issuing.issue`; else the policy's fee
  of that level for the customer's segment, on invoices in the policy currency), plus the
  statutory flat fee (:func:`dunning.interest.flat_fee`) from the start of default when
  the policy claims it. Fees are never charged on fees: each letter's fee is counted once.
* **Interest**: statutory interest (:func:`dunning.interest.interest_on_balance`) on the
  principal still open, day by day from the start of default, when the policy claims it;
  the principal balance changes the day after each payment.
* **Payments** dated before the invoice's first letter pay the principal: the creditor had
  claimed nothing else then. Payments on or after it are allocated, in date order (payments
  of one day together), to the costs and interest owed on that day and to the principal,
  in the policy order. An overpayment beyond everything owed is ignored here (it is a
  credit for the customer account, not a negative claim).
* **Interest after the principal is paid**: with ``interest_survives_principal_payment``
  true, interest accrued until the principal was paid stays owed; with false, it is
  **waived** the day the principal is paid in full (``interest_waived``). Costs stay
  owed either way.

Only invoices with a letter and a payment on or after their first letter need the
sequential allocation; for the others the account is computed vectorised (their
payments all went to the principal). Interest of invoices that were not allocated is left
to :func:`dunning.proposal.propose_items`, which computes it vectorised on the open
principal (``interest_open`` is missing, ``NaN``, for them).

Examples
--------
A consumer invoice of € 1,000.00 due 2026-03-02, first reminder on 2026-03-20 (fee € 0),
second on 2026-04-06 (fee € 1.00); € 300.00 paid on 2026-05-02. Default started
2026-03-21. On the payment day € 1.00 of costs and € 7.39 of interest (6.27 % a year for 43
days) were owed, so the payment lowers the principal by € 291.61 only; interest then runs
on € 708.39 (€ 3.53 for the 29 days to 2026-05-31):

>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> from dunning.models import Portfolio
>>> e = Portfolio.empty()
>>> customers = pd.DataFrame({"customer_id": ["K1"], "name": ["Erika Muster"],
...     "country": ["DE"], "language": ["de"], "segment": ["B2C"]})
>>> invoices = pd.DataFrame({"invoice_id": ["R1"], "customer_id": ["K1"],
...     "issue_date": pd.to_datetime(["2026-02-01"]), "due_date": pd.to_datetime(["2026-03-02"]),
...     "amount": [Decimal("1000.00")], "currency": ["EUR"]})
>>> payments = pd.DataFrame({"payment_id": ["P1"], "invoice_id": ["R1"],
...     "payment_date": pd.to_datetime(["2026-05-02"]), "amount": [Decimal("300.00")],
...     "currency": ["EUR"]})
>>> history = pd.DataFrame({"invoice_id": ["R1", "R1"], "level": [1, 2],
...     "issued_on": pd.to_datetime(["2026-03-20", "2026-04-06"]), "channel": ["letter"] * 2})
>>> p = Portfolio(customers, invoices, payments, history)
>>> acc = claim_accounts(p, date(2026, 5, 31)).iloc[0]
>>> acc["paid_to_costs"], acc["paid_to_interest"], acc["paid_to_principal"]
(Decimal('1.00'), Decimal('7.39'), Decimal('291.61'))
>>> acc["principal_open"], acc["earlier_fees_open"], acc["interest_open"]
(Decimal('708.39'), Decimal('0.00'), Decimal('3.53'))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DunningError
from dunning.interest import allocate_payment, flat_fee, interest_on_balance
from dunning.models import Portfolio
from dunning.money import from_minor, from_minor_array, quantize, to_minor, to_minor_array
from dunning.policy import Policy
from dunning.typing import Segment

__all__ = ["ACCOUNT_COLUMNS", "claim_accounts", "default_start", "level_fees"]

logger = logging.getLogger(__name__)

#: Columns of :func:`claim_accounts`, in order.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "currency",
    "segment",
    "amount",
    "first_dunned_on",
    "default_from",
    "letters",
    "earlier_fees",
    "paid_to_costs",
    "paid_to_interest",
    "paid_to_principal",
    "principal_open",
    "earlier_fees_open",
    "flat_fee_open",
    "interest_open",
    "interest_waived",
    "allocated",
    "note",
)

# § 286 (3) BGB: default 30 days after due date and receipt, i.e. from the 31st day.
_DEFAULT_AFTER_DAYS = 31


def default_start(
    due_date: npt.ArrayLike, first_dunned_on: npt.ArrayLike
) -> npt.NDArray[np.datetime64]:
    """First day of default: the earlier of the day after the first reminder and due + 31.

    Parameters
    ----------
    due_date, first_dunned_on : array-like of dates
        ``first_dunned_on`` is ``NaT`` for invoices without a letter.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` days.

    Examples
    --------
    >>> import numpy as np
    >>> due = np.array(["2026-03-02", "2026-03-02"], dtype="datetime64[D]")
    >>> default_start(due, np.array(["2026-03-20", "NaT"], dtype="datetime64[D]")).tolist()
    [datetime.date(2026, 3, 21), datetime.date(2026, 4, 2)]
    """
    due = np.asarray(due_date, dtype="datetime64[D]")
    first = np.asarray(first_dunned_on, dtype="datetime64[D]")
    statutory = due + np.timedelta64(_DEFAULT_AFTER_DAYS, "D")
    reminded = first + np.timedelta64(1, "D")
    start: npt.NDArray[np.datetime64] = np.where(
        np.isnat(first), statutory, np.minimum(reminded, statutory)
    )
    return start


def level_fees(policy: Policy) -> dict[Segment, npt.NDArray[np.int64]]:
    """The dunning fee of each level in the policy currency's minor units, per segment.

    Index 0 is "no letter" (0); index ``k`` is level ``k``.

    Examples
    --------
    >>> level_fees(Policy.default("DE"))["B2C"].tolist()
    [0, 0, 100, 100, 100, 0]
    """
    cur = policy.currency
    return {
        seg: np.array(
            [0] + [to_minor(quantize(r.fee(seg), cur), cur) for r in policy.levels],
            dtype=np.int64,
        )
        for seg in ("B2C", "B2B")
    }


def _segments(invoices: pd.DataFrame, customers: pd.DataFrame) -> npt.NDArray[np.str_]:
    if "segment" not in customers.columns or invoices.empty:
        return np.full(len(invoices), "B2C")
    seg = (
        customers.drop_duplicates("customer_id")
        .set_index("customer_id")["segment"]
        .reindex(invoices["customer_id"].to_numpy())
    )
    values = seg.astype("str").fillna("B2C").to_numpy(dtype=str)
    return np.where(values == "B2B", "B2B", "B2C")


def _letter_fees(
    history: pd.DataFrame,
    segment: Mapping[str, str],
    currency: Mapping[str, str],
    policy: Policy,
) -> pd.Series:
    """The fee of each letter of the history, in minor units (index aligned to history)."""
    table = level_fees(policy)
    ids = history["invoice_id"].astype("str")
    seg = ids.map(segment).fillna("B2C").to_numpy(dtype=str)
    cur = ids.map(currency).fillna("").to_numpy(dtype=str)
    level = np.clip(history["level"].to_numpy(np.int64), 0, policy.max_level)
    fee = np.where(seg == "B2B", table["B2B"][level], table["B2C"][level])
    fee = np.where(cur == policy.currency, fee, 0).astype(np.int64)
    if "fee" in history.columns:
        recorded = history["fee"]
        known = recorded.notna().to_numpy(bool) & (cur != "")
        if known.any():
            fee[known] = to_minor_array(
                [
                    quantize(Decimal(str(v)), c)
                    for v, c in zip(recorded[known], cur[known], strict=True)
                ],
                cur[known].tolist(),
            )
    return pd.Series(fee, index=history.index, dtype=np.int64)


def claim_accounts(
    portfolio: Portfolio,
    as_of: date,
    policy: Policy | None = None,
    *,
    history: pd.DataFrame | None = None,
    paid_since: date | None = None,
) -> pd.DataFrame:
    """The claim account on ``as_of`` of every invoice that has had a dunning letter.

    The rules are in the module docstring and ``docs/interest.md``.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables; only facts dated on or before ``as_of`` count.
    as_of : datetime.date
        The day of the account (interest is counted up to and including it).
    policy : Policy, optional
        Fees, interest and flat-fee claims, ``payment_allocation`` and
        ``interest_survives_principal_payment``; default ``Policy.default("DE")``.
    history : pandas.DataFrame, optional
        The dunning history to use instead of ``portfolio.history`` (e.g. with the letters
        issued through the decision store appended); an optional ``fee`` column
        (``Decimal``) gives the fee a letter actually charged.
    paid_since : datetime.date, optional
        Leave out invoices whose payments reached the invoice amount before this day (their
        accounts were settled, or their residual claims reported, long ago); ``None`` keeps
        every dunned invoice. Open invoices are always kept.

    Returns
    -------
    pandas.DataFrame
        One row per invoice with at least one letter, columns :data:`ACCOUNT_COLUMNS`:
        ``amount`` and every money column as exact ``Decimal``; ``first_dunned_on`` and
        ``default_from`` dates; ``letters`` (int) letters issued; ``earlier_fees`` the fees
        of those letters; ``paid_to_costs``, ``paid_to_interest``, ``paid_to_principal``
        what the payments covered; ``principal_open``, ``earlier_fees_open``,
        ``flat_fee_open`` and ``interest_open`` what is still owed of each part
        (``interest_open`` is ``None`` when no payment was allocated: then the interest is
        not computed here); ``interest_waived`` (interest dropped because the principal was
        paid and the policy lets it lapse); ``allocated`` (bool) whether payments were
        allocated sequentially; ``note`` (why interest was not claimed, else ``""``).

    Examples
    --------
    See the module docstring.
    """
    policy = Policy.default("DE") if policy is None else policy
    cutoff = pd.Timestamp(as_of)
    history = portfolio.history if history is None else history
    history = history.loc[history["issued_on"] <= cutoff]
    invoices = portfolio.invoices
    invoices = invoices.loc[
        (invoices["issue_date"] <= cutoff) & invoices["invoice_id"].isin(history["invoice_id"])
    ].reset_index(drop=True)
    if invoices.empty:
        return _empty()
    ids = invoices["invoice_id"].astype("str")
    segment = _segments(invoices, portfolio.customers)
    currency = invoices["currency"].astype("str").to_numpy(dtype=str)
    seg_of = dict(zip(ids, segment, strict=True))
    cur_of = dict(zip(ids, currency, strict=True))
    history = history.loc[history["invoice_id"].isin(ids)]
    fees = _letter_fees(history, seg_of, cur_of, policy)
    letters = history.assign(_fee=fees.to_numpy()).sort_values(["invoice_id", "issued_on"])
    first = letters.groupby("invoice_id")["issued_on"].min().reindex(ids)
    n_letters = letters.groupby("invoice_id").size().reindex(ids).fillna(0).astype(np.int64)
    fee_total = letters.groupby("invoice_id")["_fee"].sum().reindex(ids).fillna(0)
    start = default_start(
        invoices["due_date"].to_numpy("datetime64[D]"), first.to_numpy("datetime64[D]")
    )
    amount_minor = to_minor_array(invoices["amount"], currency.tolist())

    payments = portfolio.payments
    payments = payments.loc[(payments["payment_date"] <= cutoff) & payments["invoice_id"].isin(ids)]
    pay_minor = pd.Series(
        to_minor_array(payments["amount"], payments["currency"].astype("str").tolist()),
        index=payments.index,
    )
    first_of_payment = payments["invoice_id"].map(first)
    before = (payments["payment_date"] < first_of_payment).to_numpy(bool)
    paid_before = (
        pay_minor[before].groupby(payments.loc[before, "invoice_id"]).sum().reindex(ids).fillna(0)
    )
    paid_after = (
        pay_minor[~before].groupby(payments.loc[~before, "invoice_id"]).sum().reindex(ids).fillna(0)
    )
    principal0 = amount_minor - paid_before.to_numpy(np.int64)
    if paid_since is not None:
        # Settled (by the plain sum of payments) before paid_since: left out.
        last_paid = payments.groupby("invoice_id")["payment_date"].max().reindex(ids)
        paid_total = (paid_before + paid_after).to_numpy(np.int64)
        settled = (paid_total >= amount_minor) & (last_paid < pd.Timestamp(paid_since)).to_numpy(
            bool
        )
        if settled.any():
            keep = ~settled
            invoices = invoices.loc[keep].reset_index(drop=True)
            ids = ids[keep].reset_index(drop=True)
            segment, currency, start = segment[keep], currency[keep], start[keep]
            amount_minor, principal0 = amount_minor[keep], principal0[keep]
            first, n_letters, fee_total = first[keep], n_letters[keep], fee_total[keep]
            paid_before, paid_after = paid_before[keep], paid_after[keep]

    n = len(invoices)
    out: dict[str, npt.NDArray[np.int64]] = {
        "paid_to_costs": np.zeros(n, dtype=np.int64),
        "paid_to_interest": np.zeros(n, dtype=np.int64),
        "paid_to_principal": paid_before.to_numpy(np.int64).copy(),
        "principal_open": principal0.copy(),
        "earlier_fees_open": fee_total.to_numpy(np.int64).copy(),
        "interest_waived": np.zeros(n, dtype=np.int64),
    }
    interest_open: list[int | None] = [None] * n
    flat_open: list[int | None] = [None] * n
    note = np.full(n, "", dtype=object)
    allocated = (paid_after.to_numpy(np.int64) > 0) & (principal0 > 0)

    wanted = set(ids[allocated])
    later = payments.loc[~before].assign(_minor=pay_minor[~before].to_numpy())
    later = later.loc[later["invoice_id"].isin(wanted)]
    daily = later.groupby(["invoice_id", "payment_date"], sort=True)["_minor"].sum()
    pays_of: dict[str, list[tuple[date, int]]] = {}
    for (invoice_id, day), paid in zip(daily.index.tolist(), daily.tolist(), strict=True):
        pays_of.setdefault(str(invoice_id), []).append((pd.Timestamp(day).date(), int(paid)))
    mine = letters.loc[letters["invoice_id"].isin(wanted)]
    letters_of: dict[str, tuple[list[date], list[int]]] = {}
    for invoice_id, day, fee in zip(
        mine["invoice_id"].tolist(),
        mine["issued_on"].dt.date.tolist(),
        mine["_fee"].astype(np.int64).tolist(),
        strict=True,
    ):
        days, amounts = letters_of.setdefault(str(invoice_id), ([], []))
        days.append(day)
        amounts.append(int(fee))
    for i in np.flatnonzero(allocated):
        invoice_id = str(ids.iloc[i])
        letter_days, letter_fees = letters_of[invoice_id]
        account = _Account(
            policy=policy,
            segment=cast("Segment", segment[i]),
            currency=str(currency[i]),
            amount_minor=int(amount_minor[i]),
            principal=int(principal0[i]),
            start=pd.Timestamp(start[i]).date(),
            letter_days=letter_days,
            letter_fees=letter_fees,
        )
        for day, paid in pays_of[invoice_id]:
            account.pay(day, paid)
        account.close(as_of)
        out["paid_to_costs"][i] = account.paid_costs
        out["paid_to_interest"][i] = account.paid_interest
        out["paid_to_principal"][i] += account.paid_principal
        out["principal_open"][i] = account.principal
        out["earlier_fees_open"][i] = account.fees_open
        out["interest_waived"][i] = account.waived
        interest_open[i] = account.interest_open
        flat_open[i] = account.flat_open
        note[i] = account.note

    cur_list = currency.tolist()
    frame = pd.DataFrame(
        {
            "invoice_id": ids.to_numpy(),
            "customer_id": invoices["customer_id"].astype("str").to_numpy(),
            "currency": pd.Series(currency, dtype="str").to_numpy(),
            "segment": pd.Series(segment, dtype="str").to_numpy(),
            "amount": pd.Series(list(invoices["amount"]), dtype=object).to_numpy(),
            "first_dunned_on": first.dt.date.to_numpy(),
            "default_from": pd.Series(start).dt.date.to_numpy(),
            "letters": n_letters.to_numpy(np.int64),
            "earlier_fees": from_minor_array(fee_total.to_numpy(np.int64), cur_list),
        }
    )
    for column in (
        "paid_to_costs",
        "paid_to_interest",
        "paid_to_principal",
        "principal_open",
        "earlier_fees_open",
    ):
        frame[column] = pd.Series(from_minor_array(out[column], cur_list), dtype=object)
    for column, values in (("flat_fee_open", flat_open), ("interest_open", interest_open)):
        frame[column] = pd.Series(
            [
                None if v is None else from_minor(v, c)
                for v, c in zip(values, cur_list, strict=True)
            ],
            dtype=object,
        )
    frame["interest_waived"] = pd.Series(
        from_minor_array(out["interest_waived"], cur_list), dtype=object
    )
    frame["allocated"] = allocated
    frame["note"] = pd.Series(note, dtype="str").to_numpy()
    for column in ("earlier_fees", "paid_to_costs", "paid_to_interest", "paid_to_principal",
                   "principal_open", "earlier_fees_open", "interest_waived"):  # fmt: skip
        frame[column] = frame[column].astype(object)
    return frame.loc[:, list(ACCOUNT_COLUMNS)]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ACCOUNT_COLUMNS})


class _Account:
    """The sequential account of one invoice (minor units, exact)."""

    def __init__(
        self,
        *,
        policy: Policy,
        segment: Segment,
        currency: str,
        amount_minor: int,
        principal: int,
        start: date,
        letter_days: list[date],
        letter_fees: list[int],
    ) -> None:
        self.policy = policy
        self.segment: Segment = segment
        self.currency = currency
        self.principal = principal
        self.start = start
        self.letter_days = letter_days
        self.letter_fees = letter_fees
        self.balances: list[tuple[date, Decimal]] = [(start, from_minor(principal, currency))]
        self.paid_costs = 0
        self.paid_interest = 0
        self.paid_principal = 0
        self.waived = 0
        self.fees_open = 0
        self.flat_open = 0
        self.interest_open = 0
        self.note = ""
        home = currency == policy.currency
        self.flat = (
            to_minor(
                flat_fee(
                    segment, policy.jurisdiction, from_minor(amount_minor, currency), currency
                ),
                currency,
            )
            if home and policy.claims_flat_fee(segment)
            else 0
        )
        self.claims_interest = policy.claims_interest(segment)

    def _costs_due(self, day: date) -> int:
        fees = sum(f for d, f in zip(self.letter_days, self.letter_fees, strict=True) if d <= day)
        flat = self.flat if day >= self.start else 0
        return fees + flat

    def _interest_due(self, day: date) -> int:
        """Interest accrued from the start of default up to ``day`` (rounded once)."""
        if not self.claims_interest or day < self.start or self.note:
            return 0
        try:
            result = interest_on_balance(
                self.balances,
                day,
                segment=self.segment,
                jurisdiction=self.policy.jurisdiction,
                day_count=self.policy.interest_day_count,
                currency=self.currency,
                allow_unconfirmed=self.policy.allow_unconfirmed_base_rate,
            )
        except DunningError as exc:
            self.note = f"interest not claimed: {exc}".splitlines()[0]
            return 0
        return to_minor(result.amount, self.currency)

    def pay(self, day: date, paid: int) -> None:
        """Allocate what was paid on ``day`` in the policy order."""
        costs = self._costs_due(day) - self.paid_costs
        interest = self._interest_due(day) - self.paid_interest - self.waived
        split = allocate_payment(
            from_minor(paid, self.currency),
            costs=from_minor(max(costs, 0), self.currency),
            interest=from_minor(max(interest, 0), self.currency),
            principal=from_minor(self.principal, self.currency),
            order=self.policy.payment_allocation,
        )
        self.paid_costs += to_minor(split.costs_paid, self.currency)
        self.paid_interest += to_minor(split.interest_paid, self.currency)
        covered = to_minor(split.principal_paid, self.currency)
        if not covered:
            return
        self.paid_principal += covered
        self.principal -= covered
        # The old balance bears interest on the payment day, the new one from the next day.
        self.balances.append((day + timedelta(days=1), from_minor(self.principal, self.currency)))
        if self.principal == 0 and not self.policy.interest_survives_principal_payment:
            self.waived += to_minor(split.interest_remaining, self.currency)

    def close(self, as_of: date) -> None:
        """What is still owed of each part on ``as_of``."""
        fees = sum(self.letter_fees)
        flat = self.flat if as_of >= self.start else 0
        # Costs paid go to the letters' fees first, then to the flat fee.
        self.fees_open = max(fees - self.paid_costs, 0)
        self.flat_open = max(flat - max(self.paid_costs - fees, 0), 0)
        owed = self._interest_due(as_of) - self.paid_interest - self.waived
        self.interest_open = max(owed, 0)
