"""Offers: which cases are offered an installment plan, and the plan's schedule.

The rule (a first, fixed version; a configurable policy replaces it later)
-------------------------------------------------------------------------
A case is offered an installment plan (``"installment_plan"``) when **all** hold:

1. it is not disputed (a disputed claim is clarified first, not split up) and has a
   risk score (``NaN`` risk: no offer);
2. its total is at least :data:`MIN_TOTAL` (500) in the case currency, compared as
   ``Decimal`` (the same number for every currency in this version);
3. its risk is between 0.2 and 0.7 (:data:`RISK_RANGE`, both ends included): low-risk
   customers will pay anyway, high-risk ones are unlikely to keep a plan;
4. its level is at least 2 (first reminder): a payment reminder asks for payment only.

Otherwise the offer is ``"none"``. The rules are checked in that order and the first
one that fails is the reason.

Output columns of :func:`choose_offers`
---------------------------------------
``offer``
    ``"none"`` or ``"installment_plan"``.
``offer_code``
    Stable code of the outcome: ``ELIGIBLE``, ``DISPUTED``, ``RISK_MISSING``, ``TOTAL_BELOW_MIN``,
    ``RISK_TOO_LOW``, ``RISK_TOO_HIGH`` or ``LEVEL_TOO_LOW``.
``offer_reason``
    The rule trace in English words with the case's values, e.g. ``"installment plan:
    total 1234.56 EUR >= 500, risk 0.34 in [0.20, 0.70], not disputed, level 2 >= 2"``.
``offer_reason_de``
    The same in German.
``installments``
    Number of monthly instalments offered (:data:`DEFAULT_INSTALLMENTS`), 0 for none.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> [(d.isoformat(), str(a)) for d, a in
...  installment_schedule(Decimal("100.00"), 3, date(2027, 1, 31), "EUR")]
[('2027-01-31', '33.34'), ('2027-02-28', '33.33'), ('2027-03-31', '33.33')]
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from dunning.errors import DataError, PolicyError
from dunning.money import from_minor, to_minor

__all__ = [
    "DEFAULT_INSTALLMENTS",
    "MIN_LEVEL",
    "MIN_TOTAL",
    "OFFER_CODES",
    "RISK_RANGE",
    "choose_offers",
    "installment_schedule",
]

#: Smallest case total (in the case currency) that is offered an installment plan.
MIN_TOTAL: Decimal = Decimal("500")
#: Risk range (inclusive) in which an installment plan is offered.
RISK_RANGE: tuple[float, float] = (0.2, 0.7)
#: Lowest case level that is offered an installment plan.
MIN_LEVEL: int = 2
#: Number of monthly instalments of an offered plan.
DEFAULT_INSTALLMENTS: int = 3
#: Outcome codes of :func:`choose_offers`, in the order the rules are checked.
OFFER_CODES: tuple[str, ...] = (
    "DISPUTED",
    "RISK_MISSING",
    "TOTAL_BELOW_MIN",
    "RISK_TOO_LOW",
    "RISK_TOO_HIGH",
    "LEVEL_TOO_LOW",
    "ELIGIBLE",
)

_REQUIRED = ("total", "currency", "risk", "disputed", "level")


def choose_offers(cases: pd.DataFrame) -> pd.DataFrame:
    """Choose an offer for every case by the fixed rule in the module docstring.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per case with ``total`` (``Decimal``), ``currency``, ``risk`` (float in
        [0, 1]), ``disputed`` (bool; missing counts as not disputed) and ``level`` (int).

    Returns
    -------
    pandas.DataFrame
        Same index as ``cases``, columns ``offer``, ``offer_code``, ``offer_reason``,
        ``offer_reason_de`` and ``installments`` (see the module docstring).

    Raises
    ------
    DataError
        If a required column is missing.

    Examples
    --------
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"total": [Decimal("500.00"), Decimal("499.99")],
    ...     "currency": ["EUR", "EUR"], "risk": [0.34, 0.34], "disputed": [False, False],
    ...     "level": [2, 2]})
    >>> out = choose_offers(cases)
    >>> out["offer"].tolist()
    ['installment_plan', 'none']
    >>> print(out["offer_reason"].iloc[0])
    installment plan: total 500.00 EUR >= 500, risk 0.34 in [0.20, 0.70], not disputed, level 2 >= 2
    >>> print(out["offer_reason_de"].iloc[1])
    kein Angebot: Summe 499.99 EUR unter 500
    """
    missing = [c for c in _REQUIRED if c not in cases.columns]
    if missing:
        msg = f"choose_offers: cases lack the column(s) {missing}; expected {list(_REQUIRED)}."
        raise DataError(msg, path="<cases>", missing=missing)

    totals = cases["total"].to_numpy(dtype=object)
    risk = cases["risk"].to_numpy(dtype=np.float64)
    level = cases["level"].to_numpy(dtype=np.int64)
    disputed = cases["disputed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    big = np.asarray(totals >= MIN_TOTAL, dtype=bool)
    low, high = RISK_RANGE

    conditions = [disputed, np.isnan(risk), ~big, risk < low, risk > high, level < MIN_LEVEL]
    codes = np.select(conditions, list(OFFER_CODES[:-1]), default=OFFER_CODES[-1])
    eligible = codes == "ELIGIBLE"

    total_txt = pd.Series(totals, index=cases.index, dtype=object).astype(str)
    cur = cases["currency"].astype(str)
    risk_txt = pd.Series(np.char.mod("%.2f", risk), index=cases.index)
    level_txt = cases["level"].astype(np.int64).astype(str)
    amount = total_txt + " " + cur
    rng = f"[{low:.2f}, {high:.2f}]"

    en = {
        "DISPUTED": pd.Series("no offer: the claim is disputed", index=cases.index),
        "RISK_MISSING": pd.Series("no offer: no risk score", index=cases.index),
        "TOTAL_BELOW_MIN": "no offer: total " + amount + f" below {MIN_TOTAL}",
        "RISK_TOO_LOW": "no offer: risk " + risk_txt + f" below {low:.2f}",
        "RISK_TOO_HIGH": "no offer: risk " + risk_txt + f" above {high:.2f}",
        "LEVEL_TOO_LOW": "no offer: level " + level_txt + f" below {MIN_LEVEL}",
        "ELIGIBLE": "installment plan: total "
        + amount
        + f" >= {MIN_TOTAL}, risk "
        + risk_txt
        + f" in {rng}, not disputed, level "
        + level_txt
        + f" >= {MIN_LEVEL}",
    }
    de = {
        "DISPUTED": pd.Series("kein Angebot: die Forderung ist bestritten", index=cases.index),
        "RISK_MISSING": pd.Series("kein Angebot: kein Risikowert", index=cases.index),
        "TOTAL_BELOW_MIN": "kein Angebot: Summe " + amount + f" unter {MIN_TOTAL}",
        "RISK_TOO_LOW": "kein Angebot: Risiko " + risk_txt + f" unter {low:.2f}",
        "RISK_TOO_HIGH": "kein Angebot: Risiko " + risk_txt + f" über {high:.2f}",
        "LEVEL_TOO_LOW": "kein Angebot: Stufe " + level_txt + f" unter {MIN_LEVEL}",
        "ELIGIBLE": "Ratenzahlung: Summe "
        + amount
        + f" >= {MIN_TOTAL}, Risiko "
        + risk_txt
        + f" in {rng}, nicht bestritten, Stufe "
        + level_txt
        + f" >= {MIN_LEVEL}",
    }
    reason_en = pd.Series("", index=cases.index, dtype="str")
    reason_de = pd.Series("", index=cases.index, dtype="str")
    for code in OFFER_CODES:
        mask = codes == code
        if mask.any():
            reason_en[mask] = en[code][mask]
            reason_de[mask] = de[code][mask]

    return pd.DataFrame(
        {
            "offer": pd.Series(
                np.where(eligible, "installment_plan", "none"), index=cases.index, dtype="str"
            ),
            "offer_code": pd.Series(codes, index=cases.index, dtype="str"),
            "offer_reason": reason_en,
            "offer_reason_de": reason_de,
            "installments": pd.Series(
                np.where(eligible, DEFAULT_INSTALLMENTS, 0), index=cases.index, dtype=np.int64
            ),
        },
        index=cases.index,
    )


def _add_months(start: date, months: int) -> date:
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def installment_schedule(
    total: Decimal, n: int, first_due: date, currency: str
) -> list[tuple[date, Decimal]]:
    """Split ``total`` into ``n`` monthly instalments that sum exactly to it.

    The total is split in minor units (cents); the remainder of the division goes on
    the **first** instalment, so it is the largest and the others are equal. Due dates
    are ``first_due`` and the same day in each following month, moved back to the
    month's last day where that day does not exist (31 January → 28 February).

    Parameters
    ----------
    total : Decimal
        The amount to split, already quantized to the minor unit of ``currency``.
    n : int
        Number of instalments, at least 1.
    first_due : datetime.date
        Due date of the first instalment.
    currency : str
        ISO 4217 code of ``total``.

    Returns
    -------
    list of (datetime.date, Decimal)
        ``n`` pairs of due date and amount, in date order.

    Raises
    ------
    PolicyError
        If ``n`` is below 1, or ``total`` is not positive or too small to give every
        instalment at least one minor unit.
    DataError
        If ``total`` is not a ``Decimal`` or has more decimals than ``currency`` allows.

    Examples
    --------
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> [str(a) for _, a in installment_schedule(Decimal("100.00"), 3, date(2026, 12, 7), "EUR")]
    ['33.34', '33.33', '33.33']
    >>> [d.isoformat() for d, _ in installment_schedule(Decimal("10"), 2, date(2026, 12, 7), "JPY")]
    ['2026-12-07', '2027-01-07']
    """
    if n < 1:
        msg = f"installment_schedule: the number of instalments must be >= 1. Got {n} instead."
        raise PolicyError(msg, field="n")
    if not isinstance(total, Decimal):
        msg = (
            f"installment_schedule: total must be a Decimal, got {type(total).__name__}; "
            "money is never float."
        )
        raise DataError(msg)
    units = to_minor(total, currency)
    if units < n:
        msg = (
            f"installment_schedule: {total} {currency} cannot be split into {n} instalments "
            "of at least one minor unit each; offer fewer instalments."
        )
        raise PolicyError(msg, field="total")
    base, remainder = divmod(units, n)
    amounts = [base + remainder] + [base] * (n - 1)
    return [(_add_months(first_due, k), from_minor(a, currency)) for k, a in enumerate(amounts)]
