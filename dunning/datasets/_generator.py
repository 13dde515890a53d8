"""The demo portfolio: a documented generative process with an exact ground truth.

Everything is drawn with one ``numpy.random.default_rng(seed)`` in a fixed order, and
fully vectorised over customers and invoices (no Python loop per invoice). The process
and every parameter are described in ``docs/demo-portfolio.md`` and in the docstring of
:func:`make_portfolio`; the parameters live in the constants below, one place each.

The payment time of an invoice has a closed-form survival function, which is what makes
the ground truth exact. With ``s`` the first day the customer pays on (``max(issue,
due + offset)``), ``x(t) = max(0, t - s + 1)`` the number of days in ``[s, t]`` and the
daily payment rate ``λ(d)`` piecewise constant between the dunning dates (a letter on day
``D`` raises the rate from day ``D + 1``), the invoice is still not fully paid after day
``t`` with probability::

    S(t) = q + (1 - q) · exp(-Λ(x(t))),   Λ(x) = ∫_0^x λ

where ``q`` is the probability that it is never paid. The settlement day is drawn by
inverting ``Λ`` at an ``Exp(1)`` draw; the truth for an invoice open on ``as_of`` is
``S(as_of + 30) / S(as_of)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.datasets._population import Population, choice, draw_customers, ids, text
from dunning.datasets.outlook import _grid, _lookup, _quarter_ordinals, industry_outlook
from dunning.errors import PolicyError
from dunning.models import Portfolio
from dunning.money import minor_units, quantize

logger = logging.getLogger(__name__)

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_EPOCH = date(1970, 1, 1)

# --- Time frame --------------------------------------------------------------------------
#: Default history before ``as_of`` when ``start`` is not given.
HISTORY_DAYS = 730
#: Horizon of the ground truth: P(not fully paid by as_of + 30 | not fully paid by as_of).
TRUTH_HORIZON_DAYS = 30
#: The standard dunning schedule: level L is issued on due + 7 + 14 (L - 1) days.
LEVEL_DAYS: tuple[int, ...] = (7, 21, 35, 49)
#: The generated dunning history ends with a (weekly) run this many days before ``as_of``:
#: letters falling due since then are left for the run on ``as_of`` to decide.
LAST_RUN_LAG_DAYS = 7

# --- Invoices -----------------------------------------------------------------------------
#: Mean invoices per customer over ``HISTORY_DAYS`` for a customer active the whole
#: time (B2C, B2B); per customer the rate is Gamma(shape 2) around it.
INVOICE_RATE = (21.0, 45.0)
INVOICE_RATE_SHAPE = 2.0
#: Relative issue frequency per calendar month (Jan … Dec), per segment (B2C, B2B).
#: Businesses issue no invoices on Saturdays and Sundays.
SEASON = (
    (0.90, 0.85, 0.95, 1.00, 1.00, 0.95, 0.90, 0.90, 1.00, 1.05, 1.15, 1.35),
    (0.95, 1.00, 1.10, 1.05, 1.00, 1.00, 0.85, 0.75, 1.05, 1.10, 1.10, 1.05),
)
#: B2C amounts are higher in November and December (factor per month).
B2C_AMOUNT_SEASON = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2)
#: Customer amount level: median (EUR) and log-sd across customers, per segment.
AMOUNT_MEDIAN = (90.0, 1200.0)
AMOUNT_SIGMA_CUSTOMER = (0.7, 1.0)
#: Amounts in GBP are the EUR amounts times this factor.
GBP_FACTOR = 0.86
#: Log-sd of invoice amounts around the customer's own level, per segment.
AMOUNT_SIGMA_INVOICE = (0.35, 0.45)
#: Smallest invoice (in minor units).
AMOUNT_MIN_MINOR = 500
#: Payment terms in days and the share of customers on the first, per segment.
TERMS = (14, 30)
SHARE_FIRST_TERMS = (0.80, 0.20)

# --- Payment behaviour ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Behaviour:
    name: str
    share: tuple[float, float]  # share among (B2C, B2B) customers
    offset: int  # first paying day relative to the due date
    rate: float  # daily payment rate before any dunning letter
    response: tuple[float, float, float, float]  # rate factor after levels 1 … 4
    never: float  # probability that an invoice is never paid
    disputed: float  # share of invoices disputed
    partial: float  # share of invoices paid in two or three instalments


BEHAVIOURS: tuple[_Behaviour, ...] = (
    _Behaviour("reliable", (0.48, 0.40), -5, 0.30, (2.0, 2.0, 2.0, 2.0), 0.002, 0.01, 0.0),
    _Behaviour("forgetful", (0.19, 0.12), 0, 0.03, (8.0, 10.0, 10.0, 10.0), 0.005, 0.01, 0.0),
    _Behaviour("cash_strapped", (0.15, 0.12), 5, 0.025, (1.3, 1.6, 2.0, 2.0), 0.05, 0.02, 0.5),
    _Behaviour("strategic", (0.06, 0.22), 12, 0.04, (1.0, 4.0, 6.0, 8.0), 0.005, 0.03, 0.0),
    _Behaviour("disputing", (0.09, 0.10), 0, 0.08, (1.5, 1.5, 2.0, 2.0), 0.01, 0.30, 0.0),
    # A long-reliable customer who turns late: reliable until the switch day, then LATE.
    _Behaviour("turns_late", (0.03, 0.04), -5, 0.30, (2.0, 2.0, 2.0, 2.0), 0.002, 0.01, 0.0),
)
#: How ``turns_late`` customers pay invoices issued on or after their switch day.
LATE = _Behaviour("late", (0.0, 0.0), 10, 0.02, (1.2, 1.5, 1.5, 1.5), 0.06, 0.02, 0.0)
#: The switch lies uniformly between these many days before ``as_of`` (but not before
#: the middle of the window, so that the customer has a reliable record first).
SWITCH_DAYS = (120, 300)
#: Customer heterogeneity: rate × LogNormal(0, RATE_SIGMA), offset + uniform integer.
RATE_SIGMA = 0.35
OFFSET_JITTER = (-3, 3)
#: Disputed invoice: rate × DISPUTE_RATE, never + DISPUTE_NEVER.
DISPUTE_RATE = 0.2
DISPUTE_NEVER = 0.10
#: Anomaly: share of customers with one sudden large invoice (amount × U(8, 20)),
#: which is paid slower (rate × LARGE_RATE) and more often never (+ LARGE_NEVER).
SHARE_LARGE = 0.03
LARGE_FACTOR = (8.0, 20.0)
LARGE_RATE = 0.4
LARGE_NEVER = 0.08
#: B2B: rate × (outlook / 100) ** OUTLOOK_POWER, never × (100 / outlook) ** OUTLOOK_POWER,
#: with the outlook of the industry in the quarter of the due date (100 when unknown).
OUTLOOK_POWER = 3.0
#: B2C: invoices due in December or January are paid slower (rate factor).
B2C_HOLIDAY_RATE = 0.8
#: Vulnerable customers: rate × VULNERABLE_RATE, never × VULNERABLE_NEVER.
VULNERABLE_RATE = 0.7
VULNERABLE_NEVER = 2.0
#: Probabilities are capped here so that no invoice is certainly unpaid.
NEVER_MAX = 0.9
#: Instalments: first part U(0.2, 0.4) of the amount on the first paying day, a second
#: part U(0.2, 0.35) (for half of them) ``step`` days later, step uniform in 7 … 21 days;
#: the settlement pays the rest. A part is paid only if it falls before the settlement.
PART_SHARES = ((0.20, 0.40), (0.20, 0.35))
PART_STEP = (7, 21)

# --- Payment promises -------------------------------------------------------------------------
#: After a dunning letter a customer may promise to pay: the promise is made
#: PROMISE_DELAY days after the letter (uniform, inclusive) and promises payment within
#: PROMISE_TERM days of that (uniform, inclusive), for the amount still open then.
PROMISE_DELAY = (1, 5)
PROMISE_TERM = (7, 14)
#: Probability that a letter is answered by a promise, per payment type (BEHAVIOURS,
#: then LATE), when the invoice will in fact be settled by the promised day (the promise
#: is kept) and when it will not (broken). Promises do not change the payment process:
#: they are observations of it, so reliable and forgetful customers mostly keep theirs and
#: strategic late payers mostly break them.
PROMISE_KEPT = (0.30, 0.50, 0.40, 0.30, 0.05, 0.30, 0.30)
PROMISE_BROKEN = (0.02, 0.10, 0.30, 0.60, 0.05, 0.02, 0.40)


def _day(value: date) -> int:
    return (value - _EPOCH).days


def _datetimes(days: Int) -> npt.NDArray[np.datetime64]:
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def _months(days: Int) -> Int:
    """Calendar month of each day, 0 = January."""
    months: Int = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    return months


def _decimals(minor: Int, currencies: npt.NDArray[np.object_]) -> pd.Series:
    """Exact ``Decimal`` amounts from integer minor units (an ``object`` Series).

    Each distinct (currency, amount) is built once, in one comprehension per currency,
    and shared: ``Decimal`` objects are immutable, and only about a third of the amounts
    of a large portfolio are distinct, so this is about twice as fast as one per row.
    """
    out = np.empty(len(minor), dtype=object)
    for currency in sorted(set(currencies.tolist())):
        rows = np.flatnonzero(currencies == currency)
        values, inverse = np.unique(minor[rows], return_inverse=True)
        places = minor_units(currency)
        built = [quantize(Decimal(u).scaleb(-places), currency) for u in values.tolist()]
        out[rows] = np.array(built, dtype=object)[inverse]
    return pd.Series(out, dtype=object)


@dataclass(frozen=True, slots=True)
class _Hazard:
    """Piecewise-constant daily payment rate of each invoice, from its first paying day."""

    start: Int  # first paying day s
    bounds: Float  # (n, 5): x at which segment k starts (x = days counted from s)
    rates: Float  # (n, 5): rate in segment k (k = letters already received)
    cum: Float  # (n, 5): cumulative hazard at bounds[:, k]

    @classmethod
    def build(cls, start: Int, due: Int, rate: Float, response: Float) -> _Hazard:
        levels = due[:, None] + np.asarray(LEVEL_DAYS, dtype=np.int64)[None, :]
        # A letter on day D raises the rate from day D + 1, i.e. after x = D + 1 - s days.
        bounds = np.zeros((len(start), 5))
        bounds[:, 1:] = np.maximum(0, levels + 1 - start[:, None])
        rates = rate[:, None] * np.concatenate([np.ones((len(start), 1)), response], axis=1)
        cum = np.zeros((len(start), 5))
        cum[:, 1:] = np.cumsum(rates[:, :4] * np.diff(bounds, axis=1), axis=1)
        return cls(start, bounds, rates, cum)

    def settle(self, exp_draw: Float) -> Int:
        """The day on which the cumulative hazard first reaches ``exp_draw`` (inverse CDF)."""
        k = (self.cum[:, 1:] < exp_draw[:, None]).sum(axis=1)
        rows = np.arange(len(k))
        x = self.bounds[rows, k] + (exp_draw - self.cum[rows, k]) / self.rates[rows, k]
        day: Int = self.start + np.ceil(x).astype(np.int64) - 1
        return day

    def log_survival(self, day: Int) -> Float:
        """``-Λ``: log probability of not having paid on any day from ``s`` to ``day``."""
        x = np.maximum(0, day - self.start + 1).astype(np.float64)
        k = (self.bounds[:, 1:] < x[:, None]).sum(axis=1)
        rows = np.arange(len(k))
        log_s: Float = -(self.cum[rows, k] + self.rates[rows, k] * (x - self.bounds[rows, k]))
        return log_s

    def take(self, rows: Int) -> _Hazard:
        """The hazards of the given invoices only."""
        return _Hazard(self.start[rows], self.bounds[rows], self.rates[rows], self.cum[rows])


def make_portfolio(
    n_customers: int,
    *,
    seed: int,
    as_of: date,
    start: date | None = None,
    outlook: pd.DataFrame | None = None,
) -> Portfolio:
    """Generate a realistic demo portfolio with the exact probability of non-payment.

    Parameters
    ----------
    n_customers : int
        Number of customers (at least 1). Each has about 25 invoices over two years.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical tables.
    as_of : datetime.date
        The day the portfolio is looked at: no invoice, payment or dunning letter is dated
        after it (the process goes on after ``as_of``, but those facts have not happened).
    start : datetime.date or None
        First possible issue date; default ``as_of`` minus 730 days. Must be at least
        30 days before ``as_of``. The invoice rate per year does not depend on it.
    outlook : pandas.DataFrame or None
        Industry outlook table (:func:`dunning.datasets.industry_outlook`); ``None`` uses
        the packaged, illustrative one. Quarters missing from it count as neutral (100).

    Returns
    -------
    Portfolio
        Canonical ``customers``, ``invoices``, ``payments``, ``history`` and ``promises``
        tables (see :data:`dunning.models.SCHEMAS`; ids are numbered in date order), plus
        ``truth``:
        one row per invoice open on ``as_of`` (issued on or before it, not fully paid on
        it), in invoice order, with ``invoice_id``, ``customer_id``, ``behaviour`` (the
        customer's payment type), ``large_invoice`` (it is the customer's sudden large
        invoice) and ``p_unpaid`` (float): the exact probability under this process that
        the invoice is still not fully paid on ``as_of + 30`` days, given that it is not
        fully paid on ``as_of``.

    Raises
    ------
    PolicyError
        If ``n_customers`` is below 1 or ``start`` is less than 30 days before ``as_of``.

    Notes
    -----
    The generative process in brief; the *Demo portfolio* page of the documentation
    gives every parameter (each one is a constant of ``dunning.datasets._generator`` or
    ``dunning.datasets._population``).

    * **Customers.** 30 % businesses (B2B), 70 % consumers (B2C); DE 60 %, AT 15 %,
      GB 25 % (EUR, EUR, GBP); letters in German in DE/AT (5 % English), English in GB.
      Businesses belong to one of nine NACE sections (C, F, G, H, I, J, M, N, Q).
      Names and addresses come from small built-in lists; IBANs have valid check digits.
      Some e-mail addresses, phone numbers and IBANs are missing (``NA``); 4 % of
      consumers are vulnerable; 25 % of customers start later in the window.
    * **Payment types**, one per customer: reliable, forgetful (pays after a reminder),
      cash-strapped (slow, often in instalments, more often never), strategic (waits for
      the second or third letter), disputing (disputes 30 % of its invoices), and
      turns-late (reliable for a long time, then late from a switch day 120–300 days
      before ``as_of``).
    * **Invoices.** About 25 per customer over two years (Gamma–Poisson), more in
      December (B2C) and fewer in August (B2B), businesses on weekdays; lognormal
      amounts around a customer level (median 90 EUR B2C, 1,200 EUR B2B); terms 14 or
      30 days. Anomaly: 3 % of customers get one invoice 8–20 times their usual amount.
    * **Payment day.** With probability ``q`` never paid; otherwise from the customer's
      first paying day (due date + offset) with a daily payment rate that rises after
      each dunning letter. Rate and ``q`` depend on the payment type, a dispute, a large
      invoice, the customer's vulnerability, the holiday season (B2C) and, for
      businesses, the industry outlook in the due date's quarter:
      rate × (outlook / 100)³, ``q`` × (100 / outlook)³. The invoice is still not fully
      paid after day ``t`` with probability ``S(t) = q + (1 - q) exp(-Λ(t))``, where
      ``Λ`` (the summed daily rate) is piecewise linear, and ``p_unpaid`` is
      ``S(as_of + 30) / S(as_of)``.
    * **Payments** dated after ``as_of`` are not in the table. Instalment invoices pay
      20–40 % on the first paying day and, for half of them, another 20–35 % 7–21 days
      later, if before the settlement, which pays the rest.
    * **Dunning history.** Level 1–4 on due + 7, 21, 35, 49 days if the invoice is not
      fully paid on that day and the day is at least 7 days before ``as_of`` (the last
      weekly dunning run; what fell due since is left for the run on ``as_of``), by e-mail
      if the customer consented to e-mail, else by letter.
    * **Payment promises.** 1–5 days after a letter a customer may promise to pay the
      amount then open within 7–14 days; how likely depends on the payment type and on
      whether the invoice will in fact be settled by then (kept) or not (broken). Only
      promises made by ``as_of`` are in the table; they do not change the payments or
      the truth.

    Examples
    --------
    >>> from datetime import date
    >>> p = make_portfolio(200, seed=7, as_of=date(2026, 11, 23))
    >>> len(p.customers), p.invoices["issue_date"].max() <= pd.Timestamp("2026-11-23")
    (200, True)
    >>> sorted(p.truth["behaviour"].unique())[:3]
    ['cash_strapped', 'disputing', 'forgetful']
    >>> bool(p.truth["p_unpaid"].between(0, 1).all())
    True
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)):
        msg = f"n_customers must be an int ≥ 1. Got {n_customers!r} instead."
        raise PolicyError(msg, field="n_customers")
    if n_customers < 1:
        msg = f"n_customers must be an int ≥ 1. Got {n_customers} instead."
        raise PolicyError(msg, field="n_customers")
    first = as_of - timedelta(days=HISTORY_DAYS) if start is None else start
    if (as_of - first).days < 30:
        msg = f"start must be at least 30 days before as_of ({as_of}). Got {first} instead."
        raise PolicyError(msg, field="start")
    rng = np.random.default_rng(seed)
    table = industry_outlook() if outlook is None else outlook
    first_day, last_day = _day(first), _day(as_of)
    customers, population = draw_customers(rng, int(n_customers), first_day, last_day)
    payers = _payers(rng, population, first_day, last_day)
    invoices, inv = _invoices(rng, population, payers, first_day, last_day)
    payments, history, truth, promises = _payments(
        rng, population, payers, inv, invoices, last_day, table
    )
    logger.info(
        "generated %d customers, %d invoices, %d payments, %d dunning letters, %d promises",
        len(customers),
        len(invoices),
        len(payments),
        len(history),
        len(promises),
    )
    return Portfolio(customers, invoices, payments, history, truth, promises)


@dataclass(frozen=True, slots=True)
class _Payers:
    """Hidden per-customer payment parameters."""

    behaviour: Int  # index into BEHAVIOURS
    switch: Int  # day from which a turns-late customer pays late (never for others)
    rate_factor: Float  # heterogeneity of the payment rate
    offset_shift: Int  # heterogeneity of the first paying day


def _payers(rng: np.random.Generator, population: Population, first: int, last: int) -> _Payers:
    """Draw each customer's payment type and personal variation."""
    n = len(population.ids)
    u = rng.random((2, n))
    shares = np.array([b.share for b in BEHAVIOURS])
    behaviour = np.where(population.b2b, choice(u[0], shares[:, 1]), choice(u[0], shares[:, 0]))
    turns = len(BEHAVIOURS) - 1
    # Customers who start late have no long reliable record: they are reliable instead.
    behaviour = np.where((behaviour == turns) & (population.active_from > first), 0, behaviour)
    low, high = SWITCH_DAYS
    switch_day = last - high + (u[1] * (high - low + 1)).astype(np.int64)
    switch_day = np.maximum(switch_day, first + (last - first) // 2)  # reliable at first
    never = np.iinfo(np.int64).max
    return _Payers(
        behaviour=behaviour.astype(np.int64),
        switch=np.where(behaviour == turns, switch_day, never).astype(np.int64),
        rate_factor=np.exp(RATE_SIGMA * rng.standard_normal(n)),
        offset_shift=rng.integers(OFFSET_JITTER[0], OFFSET_JITTER[1] + 1, n).astype(np.int64),
    )


@dataclass(frozen=True, slots=True)
class _Invoices:
    """Per-invoice arrays (in invoice order) the payment step needs."""

    owner: Int  # customer row
    issue: Int  # days since 1970-01-01
    due: Int
    minor: Int  # amount in minor units
    currency: npt.NDArray[np.object_]
    disputed: Bool
    large: Bool
    kind: Int  # row of the payment parameters: BEHAVIOURS, then LATE


def _issue_days(rng: np.random.Generator, seg: Int, active_from: Int, first: int, last: int) -> Int:
    """Issue days by inverse CDF over the window, weighted by month (and weekday, B2B)."""
    days = np.arange(first, last + 1, dtype=np.int64)
    weights = np.asarray(SEASON)[:, _months(days)]
    weights[1, (days + 3) % 7 >= 5] = 0.0  # 1970-01-01 was a Thursday: Sat/Sun are 5, 6
    cum = np.zeros((2, len(days) + 1))
    cum[:, 1:] = np.cumsum(weights, axis=1)
    lo = cum[seg, active_from - first]
    hi = cum[seg, len(days)]
    target = lo + rng.random(len(seg)) * (hi - lo)
    index = np.empty(len(seg), dtype=np.int64)
    for s in (0, 1):
        rows = seg == s
        index[rows] = np.searchsorted(cum[s], target[rows], side="right") - 1
    issue: Int = first + np.clip(index, 0, len(days) - 1)
    return issue


def _invoices(
    rng: np.random.Generator, population: Population, payers: _Payers, first: int, last: int
) -> tuple[pd.DataFrame, _Invoices]:
    """Draw the invoice table: counts, issue days, amounts, terms, disputes, anomalies."""
    n = len(population.ids)
    seg = population.b2b.astype(np.int64)
    active = (last - population.active_from + 1) / HISTORY_DAYS
    mean = np.asarray(INVOICE_RATE)[seg] * active
    rate = rng.gamma(INVOICE_RATE_SHAPE, mean / INVOICE_RATE_SHAPE)
    count = 1 + rng.poisson(np.maximum(rate - 1.0, 0.0))
    gbp = population.currency == "GBP"
    level = (
        np.log(np.asarray(AMOUNT_MEDIAN)[seg])
        + np.asarray(AMOUNT_SIGMA_CUSTOMER)[seg] * rng.standard_normal(n)
        + np.where(gbp, np.log(GBP_FACTOR), 0.0)
    )
    u = rng.random((3, n))
    terms = np.where(u[0] < np.asarray(SHARE_FIRST_TERMS)[seg], TERMS[0], TERMS[1])
    large_customer = u[1] < SHARE_LARGE
    large_pick = (u[2] * count).astype(np.int64)

    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    total = len(owner)
    large = np.zeros(total, dtype=bool)
    block = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    large[(block + large_pick)[large_customer]] = True
    s = seg[owner]
    issue = _issue_days(rng, s, population.active_from[owner], first, last)
    sigma = np.asarray(AMOUNT_SIGMA_INVOICE)[s]
    amount = np.exp(level[owner] + sigma * rng.standard_normal(total))
    amount *= np.where(s == 0, np.asarray(B2C_AMOUNT_SEASON)[_months(issue)], 1.0)
    amount *= np.where(large, rng.uniform(LARGE_FACTOR[0], LARGE_FACTOR[1], total), 1.0)
    minor = np.maximum(AMOUNT_MIN_MINOR, np.rint(amount * 100)).astype(np.int64)
    turns = payers.behaviour[owner] == len(BEHAVIOURS) - 1
    kind = np.where(
        turns & (issue >= payers.switch[owner]), len(BEHAVIOURS), payers.behaviour[owner]
    )
    share_disputed = np.array([b.disputed for b in (*BEHAVIOURS, LATE)])[kind]
    disputed = rng.random(total) < share_disputed

    order = np.lexsort((owner, issue))  # by issue day, then customer (stable)
    owner, issue, minor, kind = owner[order], issue[order], minor[order], kind[order]
    disputed, large = disputed[order], large[order]
    due = issue + terms[owner]
    currency = population.currency[owner]
    frame = pd.DataFrame(
        {
            "invoice_id": ids(
                "R", np.arange(1, total + 1, dtype=np.int64), max(7, len(str(total)))
            ),
            "customer_id": text(population.ids[owner]),
            "issue_date": _datetimes(issue),
            "due_date": _datetimes(due),
            "amount": _decimals(minor, currency),
            "currency": text(currency),
            "disputed": pd.array(disputed, dtype="boolean"),
        }
    )
    return frame, _Invoices(owner, issue, due, minor, currency, disputed, large, kind)


def _rates(
    population: Population, payers: _Payers, inv: _Invoices, outlook: pd.DataFrame
) -> tuple[Int, Float, Float, Float]:
    """First paying day offset, base daily rate, dunning response and never-paid chance."""
    params = (*BEHAVIOURS, LATE)
    owner, kind = inv.owner, inv.kind
    offset = np.array([b.offset for b in params])[kind] + payers.offset_shift[owner]
    rate = np.array([b.rate for b in params])[kind] * payers.rate_factor[owner]
    never = np.array([b.never for b in params])[kind]
    response = np.array([b.response for b in params])[kind]

    rate = np.where(inv.disputed, rate * DISPUTE_RATE, rate)
    never = np.where(inv.disputed, never + DISPUTE_NEVER, never)
    rate = np.where(inv.large, rate * LARGE_RATE, rate)
    never = np.where(inv.large, never + LARGE_NEVER, never)
    b2b = population.b2b[owner]
    quarter = _quarter_ordinals(inv.due.astype("datetime64[D]"))
    index = _lookup(_grid(outlook), population.industry[owner], quarter)
    factor = np.where(b2b, (np.nan_to_num(index, nan=100.0) / 100.0) ** OUTLOOK_POWER, 1.0)
    rate, never = rate * factor, never / factor
    holiday = ~b2b & np.isin(_months(inv.due), (11, 0))
    rate = np.where(holiday, rate * B2C_HOLIDAY_RATE, rate)
    vulnerable = population.vulnerable[owner]
    rate = np.where(vulnerable, rate * VULNERABLE_RATE, rate)
    never = np.minimum(np.where(vulnerable, never * VULNERABLE_NEVER, never), NEVER_MAX)
    return offset.astype(np.int64), rate, response, never


def _payments(
    rng: np.random.Generator,
    population: Population,
    payers: _Payers,
    inv: _Invoices,
    invoices: pd.DataFrame,
    as_of: int,
    outlook: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw when each invoice is paid; derive payments, dunning history, truth and promises."""
    total = len(inv.owner)
    invoice_ids = invoices["invoice_id"].to_numpy(dtype=object)
    offset, rate, response, never = _rates(population, payers, inv, outlook)
    partial_share = np.array([b.partial for b in (*BEHAVIOURS, LATE)])[inv.kind]
    start = np.maximum(inv.issue, inv.due + offset)
    hazard = _Hazard.build(start, inv.due, rate, response)
    u = rng.random((5, total))
    exp_draw = rng.standard_exponential(total)
    unpaid_forever = np.iinfo(np.int64).max
    settle = np.where(u[0] < never, unpaid_forever, hazard.settle(exp_draw))

    # Instalments: parts before the settlement day; the settlement pays the rest.
    step = PART_STEP[0] + (u[2] * (PART_STEP[1] - PART_STEP[0] + 1)).astype(np.int64)
    part_day = np.stack([start, start + step])
    low, high = np.asarray(PART_SHARES).T
    share = low[:, None] + u[3:5] * (high - low)[:, None]
    part_minor = np.maximum(1, np.floor(inv.minor * share)).astype(np.int64)
    partial = u[1] < partial_share
    part_made = np.stack([partial, partial & (u[2] < 0.5)]) & (part_day < settle)
    rest = inv.minor - np.where(part_made, part_minor, 0).sum(axis=0)

    rows = [np.flatnonzero(part_made[j] & (part_day[j] <= as_of)) for j in range(2)]
    rows.append(np.flatnonzero(settle <= as_of))
    pay_inv = np.concatenate(rows)
    pay_day = np.concatenate([part_day[0][rows[0]], part_day[1][rows[1]], settle[rows[2]]])
    pay_minor = np.concatenate([part_minor[0][rows[0]], part_minor[1][rows[1]], rest[rows[2]]])
    pay_kind = np.concatenate([np.full(len(r), j) for j, r in enumerate(rows)])
    order = np.lexsort((pay_kind, pay_inv, pay_day))
    pay_inv, pay_day, pay_minor = pay_inv[order], pay_day[order], pay_minor[order]
    pay_currency = inv.currency[pay_inv]
    payments = pd.DataFrame(
        {
            "payment_id": ids(
                "P", np.arange(1, len(pay_inv) + 1, dtype=np.int64), max(7, len(str(len(pay_inv))))
            ),
            "invoice_id": text(invoice_ids[pay_inv]),
            "payment_date": _datetimes(pay_day),
            "amount": _decimals(pay_minor, pay_currency),
            "currency": text(pay_currency),
        }
    )

    # Dunning history: level L on due + LEVEL_DAYS[L-1] if not fully paid on that day.
    level_day = inv.due[:, None] + np.asarray(LEVEL_DAYS, dtype=np.int64)[None, :]
    last_run = as_of - LAST_RUN_LAG_DAYS
    h_inv, h_col = np.nonzero((level_day <= last_run) & (settle[:, None] > level_day))
    h_day = level_day[h_inv, h_col]
    order = np.lexsort((h_col, h_inv, h_day))
    h_inv, h_col, h_day = h_inv[order], h_col[order], h_day[order]
    by_email = population.email_channel[inv.owner[h_inv]]
    history = pd.DataFrame(
        {
            "invoice_id": text(invoice_ids[h_inv]),
            "level": (h_col + 1).astype(np.int64),
            "issued_on": _datetimes(h_day),
            "channel": text(np.where(by_email, "email", "letter").astype(object)),
        }
    )

    # Truth: P(not fully paid by as_of + 30 | not fully paid by as_of), exactly.
    open_rows = np.flatnonzero(settle > as_of)
    sub = hazard.take(open_rows)
    q = never[open_rows]
    day = np.full(len(open_rows), as_of, dtype=np.int64)
    now = q + (1 - q) * np.exp(sub.log_survival(day))
    later = q + (1 - q) * np.exp(sub.log_survival(day + TRUTH_HORIZON_DAYS))
    names = np.array([b.name for b in BEHAVIOURS], dtype=object)
    owners = inv.owner[open_rows]
    truth = pd.DataFrame(
        {
            "invoice_id": text(invoice_ids[open_rows]),
            "customer_id": text(population.ids[owners]),
            "behaviour": text(names[payers.behaviour[owners]]),
            "large_invoice": inv.large[open_rows],
            "p_unpaid": np.minimum(later / now, 1.0),
        }
    )

    # Promises: drawn last, so that every other table is as without them.
    low, high = PROMISE_DELAY
    made = h_day + rng.integers(low, high + 1, len(h_inv))
    low, high = PROMISE_TERM
    by = made + rng.integers(low, high + 1, len(h_inv))
    kept = settle[h_inv] <= by
    kind = inv.kind[h_inv]
    chance = np.where(kept, np.asarray(PROMISE_KEPT)[kind], np.asarray(PROMISE_BROKEN)[kind])
    promised = (rng.random(len(h_inv)) < chance) & (settle[h_inv] > made) & (made <= as_of)
    p_row = np.flatnonzero(promised)
    order = np.lexsort((p_row, made[p_row]))
    p_row = p_row[order]
    p_inv, p_on, p_by = h_inv[p_row], made[p_row], by[p_row]
    paid_before = np.where(
        part_made[:, p_inv] & (part_day[:, p_inv] <= p_on), part_minor[:, p_inv], 0
    )
    p_minor = inv.minor[p_inv] - paid_before.sum(axis=0)
    p_currency = inv.currency[p_inv]
    promises = pd.DataFrame(
        {
            "promise_id": ids(
                "V", np.arange(1, len(p_inv) + 1, dtype=np.int64), max(6, len(str(len(p_inv))))
            ),
            "invoice_id": text(invoice_ids[p_inv]),
            "promised_on": _datetimes(p_on),
            "promised_by": _datetimes(p_by),
            "amount": _decimals(p_minor, p_currency),
            "currency": text(p_currency),
        }
    )
    return payments, history, truth, promises
