"""What would change the outcome: the smallest actionable change below the flag threshold.

For every flagged case (calibrated risk ``>= threshold``), :func:`counterfactuals` looks
for the smallest combination of **business actions** that brings the real model's
calibrated risk (``model.predict_proba``) **below** the threshold, and states it in
words: "Wenn die zwei ältesten anderen offenen Rechnungen (zusammen 450,00 €) bezahlt
wären, sänke das Risiko von 62 % auf 38 %."

Actions
-------
Only columns the feature dictionary marks ``actionable``
(:data:`scoring.features.FEATURES`, :data:`CHANGEABLE_COLUMNS`) ever change, and only
together, as one business action moves them. Industry, segment, tenure, days overdue,
the payment history and every other column keep their values, even where changing them
would be the cheapest way below the threshold. The action codes
(:data:`ACTION_CODES`):

``PAY_OTHERS:k``
    All ``k`` other open invoices of the customer are paid: ``open_exposure`` falls by
    their open amount, ``open_invoices`` by ``k``. Without ``items`` this is the only
    way to pay other invoices; their total is ``open_exposure`` minus the case's own
    open amount ``exp(log_open_amount) - 1``.
``PAY_OLDEST:k``, ``PAY_SMALLEST:k``, ``PAY_LARGEST:k``
    The ``k`` oldest (by due date, issue date, id), smallest or largest other open
    invoices are paid (needs ``items``). Only invoices in the case's currency are
    candidates.
``PAY_PART:p``
    ``p`` % (:data:`PART_SHARES`) of the case's own open amount is paid:
    ``log_open_amount`` becomes ``ln(1 + remaining)``, ``open_exposure`` falls by the
    payment, ``open_invoices`` stays. Paying the case's invoice in full is no action: it
    closes the case instead of lowering its risk.
``KEEP_PROMISES:j``
    ``j`` of the customer's broken payment promises had been kept:
    ``broken_promises_12m`` falls by ``j``, ``kept_promises_12m`` rises by ``j``.

A counterfactual combines at most ``max_actions`` of the three kinds (pay other
invoices, pay part of this one, keep promises), each at most once.

Search
------
The candidates of a case are all combinations within these bounds, ordered by size:
first the **amount to pay** (other invoices plus the partial payment; exact minor units
with ``items``), then the number of steps (invoices paid, promises kept, one for a
partial payment), then a fixed order of the actions (``PAY_OTHERS``/``PAY_OLDEST``
before ``PAY_SMALLEST`` before ``PAY_LARGEST``). Combinations that give the same model
input are evaluated once. Per case, the ``max_evaluations`` smallest candidates are
scored, plus the largest candidate of each combination of kinds (all other invoices,
75 %, all broken promises) when the bound cuts them off. The candidates of 256 cases at
a time are scored together in batches of growing size (16, 64, 256, … per case, in size
order), and a case stops at its first candidate below the threshold: it is the smallest
one, as every smaller candidate was scored before it. When none gets below the
threshold, the result says so and reports the lowest risk reached (the smallest
candidate with that risk), or that no candidate lowers the risk at all.
``docs/methodology-counterfactual.md`` discusses the bounds and the limits.

Amounts
-------
With ``items`` (:func:`dunning.ledger.open_items` of the same ``as_of`` as the
features), amounts are exact: ``amount_to_pay`` is a ``Decimal`` in the case's currency
(``currency``), a partial payment is rounded half-even to the currency's minor unit,
and the texts name the amounts. Without ``items``, ``amount_to_pay`` and ``currency``
are ``None`` (the features hold amounts as floats, which are no money) and the texts
name no amounts.

Texts
-----
The sentences come from the ``[counterfactual]`` table of the catalogues
(``explain/catalogues/{de,en}.toml``); amounts and percentages are formatted by Babel
for the language (German ``62 %`` with a no-break space, English ``62%``). A risk is
shown with the fewest decimals (up to four) that keep the new risk visibly below the
old risk and the threshold, and a risk strictly between 0 and 1 never reads 0 % or
100 %. Counts from 2 to 12 are written as words.

Examples
--------
A model in which a total open amount above 1,000 or more than 100 days overdue means
risk; invoice R1 of customer K1 is 30 days overdue, and K1 owes 2,340.00 on four
invoices:

>>> import numpy as np
>>> import pandas as pd
>>> from scoring.risk import RiskModel
>>> rng = np.random.default_rng(0)
>>> n = 3000
>>> train = pd.DataFrame({"days_overdue": rng.integers(1, 120, n),
...     "open_exposure": rng.uniform(0, 4000, n).round(2),
...     "open_invoices": rng.integers(1, 7, n)})
>>> y = ((train["open_exposure"] > 1000) | (train["days_overdue"] > 100)).astype(int)
>>> model = RiskModel(n_estimators=40, learning_rate=0.03, n_jobs=1).fit(train, y)
>>> X = pd.DataFrame({"days_overdue": [30, 30], "open_exposure": [2340.0, 300.0],
...     "open_invoices": [4, 1]}, index=pd.Index(["R1", "R9"], name="invoice_id"))
>>> items = pd.DataFrame({"invoice_id": ["R1", "R2", "R3", "R4", "R9"],
...     "customer_id": ["K1", "K1", "K1", "K1", "K2"], "currency": "EUR",
...     "open_minor": [4000, 50000, 120000, 60000, 30000],
...     "due_date": pd.to_datetime(["2026-04-01", "2026-01-10", "2026-02-10",
...                                 "2026-03-10", "2026-04-01"]),
...     "issue_date": pd.to_datetime(["2026-03-01", "2025-12-10", "2026-01-10",
...                                   "2026-02-10", "2026-03-01"])})
>>> result = counterfactuals(model, X, threshold=0.5, items=items)
>>> result[["invoice_id", "found", "actions", "paid_invoices", "amount_to_pay"]].to_dict(
...     "records")  # doctest: +NORMALIZE_WHITESPACE
[{'invoice_id': 'R1', 'found': True, 'actions': 'PAY_OLDEST:2', 'paid_invoices': 'R2|R3',
  'amount_to_pay': Decimal('1700.00')},
 {'invoice_id': 'R9', 'found': False, 'actions': '', 'paid_invoices': '',
  'amount_to_pay': None}]
>>> import textwrap
>>> for text in result["text"]:  # German percent sign after a no-break space
...     print(textwrap.fill(text, 88))
Wenn die zwei ältesten anderen offenen Rechnungen (zusammen 1.700,00\xa0€) bezahlt wären,
sänke das Risiko von 94\xa0% auf 23\xa0%.
Das Risiko liegt mit 23\xa0% bereits unter der Schwelle von 50\xa0%.
>>> result.loc[0, "changes"]
{'open_exposure': 640.0, 'open_invoices': 2}
>>> changed = X.loc[["R1"]].assign(**result.loc[0, "changes"])
>>> bool(model.predict_proba(changed)[0, 1] == result.loc[0, "new_risk"])
True
>>> english = counterfactuals(model, X, threshold=0.5, items=items, lang="en")
>>> print(textwrap.fill(english.loc[0, "text"], 88))
If the two oldest other open invoices (€1,700.00 in total) were paid, the risk would
fall from 94% to 23%.

Paying the larger invoices R3 and R4 (1,800.00) would also do, but costs more; the
days overdue, which alone could bring the risk down, are never changed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from babel import Locale
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent

from dunning.errors import DataError, PolicyError
from dunning.money import from_minor, minor_units
from dunning.typing import Lang
from explain.reasons import load_catalogue
from scoring.risk import RiskModel

__all__ = [
    "ACTION_CODES",
    "CHANGEABLE_COLUMNS",
    "COUNTERFACTUAL_COLUMNS",
    "PART_SHARES",
    "counterfactuals",
]

#: The only feature columns a counterfactual may change (all ``actionable`` ones).
CHANGEABLE_COLUMNS: tuple[str, ...] = (
    "log_open_amount",
    "open_exposure",
    "open_invoices",
    "broken_promises_12m",
    "kept_promises_12m",
)
#: Action codes, in the order they are tried at equal size and written in ``actions``.
ACTION_CODES: tuple[str, ...] = (
    "PAY_OTHERS",
    "PAY_OLDEST",
    "PAY_SMALLEST",
    "PAY_LARGEST",
    "PAY_PART",
    "KEEP_PROMISES",
)
#: Partial payments of the case's own open amount that are tried, in percent.
PART_SHARES: tuple[int, ...] = (25, 50, 75)
#: Columns of :func:`counterfactuals`.
COUNTERFACTUAL_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "risk",
    "flagged",
    "found",
    "new_risk",
    "actions",
    "paid_invoices",
    "amount_to_pay",
    "currency",
    "evaluations",
    "changes",
    "text",
)

_ORDERS: tuple[str, ...] = ("PAY_OLDEST", "PAY_SMALLEST", "PAY_LARGEST")
_ITEM_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "currency",
    "open_minor",
    "due_date",
    "issue_date",
)
_DTYPES: dict[str, Any] = {
    "risk": "float64",
    "flagged": "bool",
    "found": "bool",
    "new_risk": "float64",
    "evaluations": "int64",
}
_CASES_PER_CHUNK = 256
_FIRST_BATCH = 16
_BATCH_GROWTH = 4
_MAX_KINDS = 3
_MAX_DIGITS = 4


@dataclass(slots=True)
class _Options:
    """The actions of one case along the three kinds; index 0 of each is "none"."""

    pay_code: list[str] = field(default_factory=lambda: [""])
    pay_k: list[int] = field(default_factory=lambda: [0])
    pay_key: list[float] = field(default_factory=lambda: [0.0])  # minor units or units
    pay_minor: list[int] = field(default_factory=lambda: [0])
    pay_units: list[float] = field(default_factory=lambda: [0.0])
    pay_ids: list[tuple[str, ...]] = field(default_factory=lambda: [()])
    part_share: list[int] = field(default_factory=lambda: [0])
    part_key: list[float] = field(default_factory=lambda: [0.0])
    part_minor: list[int] = field(default_factory=lambda: [0])
    part_units: list[float] = field(default_factory=lambda: [0.0])
    keep: list[int] = field(default_factory=lambda: [0])
    own_units: float = math.nan
    own_minor: int = 0
    scale: float = 1.0
    currency: str | None = None
    broken: int = 0


def counterfactuals(
    model: RiskModel,
    X: pd.DataFrame,
    *,
    threshold: float,
    items: pd.DataFrame | None = None,
    lang: Lang = "de",
    max_actions: int = 3,
    max_evaluations: int = 16384,
) -> pd.DataFrame:
    """The smallest actionable change that brings each flagged case below ``threshold``.

    Parameters
    ----------
    model : RiskModel
        The fitted risk model; every candidate is scored with its ``predict_proba``
        (calibrated when the model has a calibrator).
    X : pandas.DataFrame
        Feature rows as the model takes them (:func:`scoring.features.build_features`),
        indexed by invoice id.
    threshold : float
        Flag threshold in ``(0, 1]`` (e.g. the policy's ``review.flag_threshold``): a
        case is flagged when its risk is ``>= threshold``, and a counterfactual must bring
        the risk strictly below it.
    items : pandas.DataFrame or None
        The open items of the same ``as_of`` (:func:`dunning.ledger.open_items`; columns
        ``invoice_id, customer_id, currency, open_minor, due_date, issue_date`` are
        read). With them, single other invoices can be paid and amounts are exact;
        without them, only all other invoices together (see the module notes).
    lang : {"de", "en"}
        Language of ``text``.
    max_actions : int
        Most action kinds combined in one counterfactual, 1 to 3.
    max_evaluations : int
        Most candidates scored per case (the smallest ones), >= 1.

    Returns
    -------
    pandas.DataFrame
        One row per row of ``X``, in its order, with the columns
        :data:`COUNTERFACTUAL_COLUMNS`: ``invoice_id``; ``risk`` (the model's risk of the
        row); ``flagged`` (``risk >= threshold``); ``found`` (a change below the
        threshold was found); ``new_risk`` (the model's risk after the change; when
        none was found the lowest risk reached, ``risk`` itself when nothing lowers it,
        ``NaN`` for rows not flagged); ``actions`` (codes joined by ``"|"``, e.g.
        ``"PAY_OLDEST:2|PAY_PART:50"``, ``""`` for none); ``paid_invoices`` (ids of the
        other invoices paid, joined by ``"|"``, with ``items`` only); ``amount_to_pay``
        (``Decimal`` with ``items``, else ``None``) and its ``currency``;
        ``evaluations`` (candidates scored); ``changes`` (dict of the changed columns'
        new values: ``X.loc[[id]].assign(**changes)`` is the changed row); ``text``.

    Raises
    ------
    PolicyError
        If ``threshold``, ``max_actions``, ``max_evaluations`` or ``lang`` is invalid.
    DataError
        If ``X`` has duplicate index labels, or ``items`` lack columns, lack a flagged
        invoice or do not match the features (another ``as_of``).

    Examples
    --------
    See the module docstring.
    """
    _check_args(threshold, max_actions, max_evaluations)
    catalogue = load_catalogue(lang)
    if not X.index.is_unique:
        duplicates = X.index[X.index.duplicated()].unique().tolist()[:5]
        msg = (
            f"X: index labels {duplicates} occur more than once; counterfactuals need one "
            "row per invoice id (the index of scoring.features.build_features)."
        )
        raise DataError(msg, path="<X>")
    n = len(X)
    risk = model.predict_proba(X)[:, 1] if n else np.zeros(0)
    flagged = np.flatnonzero(risk >= threshold)
    options = _options(X, flagged, items)

    writer = _Writer(catalogue, threshold)
    outcomes: dict[int, dict[str, Any]] = {}
    # Cases are searched in chunks, which bounds the memory of the candidate tables.
    for start in range(0, len(flagged), _CASES_PER_CHUNK):
        chunk = flagged[start : start + _CASES_PER_CHUNK]
        search = _Search(
            model,
            X,
            chunk,
            options[start : start + _CASES_PER_CHUNK],
            threshold,
            max_actions,
            max_evaluations,
        )
        search.run()
        for c, pos in enumerate(chunk):
            outcomes[int(pos)] = search.outcome(c, float(risk[pos]), writer)

    records: list[dict[str, Any]] = []
    for pos in range(n):
        record: dict[str, Any] = {
            "invoice_id": X.index[pos],
            "risk": float(risk[pos]),
            "flagged": False,
            "found": False,
            "new_risk": math.nan,
            "actions": "",
            "paid_invoices": "",
            "amount_to_pay": None,
            "currency": None,
            "evaluations": 0,
            "changes": {},
            "text": "",
        }
        outcome = outcomes.get(pos)
        if outcome is None:
            record["text"] = writer.not_flagged(float(risk[pos]))
        else:
            record.update(outcome)
        records.append(record)
    columns = {name: [r[name] for r in records] for name in COUNTERFACTUAL_COLUMNS}
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=_DTYPES.get(name, object))
            for name, values in columns.items()
        }
    )


def _check_args(threshold: float, max_actions: int, max_evaluations: int) -> None:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        msg = f"threshold must be a number in (0, 1], e.g. 0.5. Got {threshold!r} instead."
        raise PolicyError(msg, field="threshold")
    if (
        isinstance(max_actions, bool)
        or not isinstance(max_actions, int)
        or not 1 <= max_actions <= _MAX_KINDS
    ):
        msg = (
            "max_actions must be an int from 1 to 3 (pay other invoices, pay part of this "
            f"invoice, keep promises). Got {max_actions!r} instead."
        )
        raise PolicyError(msg, field="max_actions")
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int):
        msg = f"max_evaluations must be an int >= 1. Got {max_evaluations!r} instead."
        raise PolicyError(msg, field="max_evaluations")
    if max_evaluations < 1:
        msg = f"max_evaluations must be an int >= 1. Got {max_evaluations!r} instead."
        raise PolicyError(msg, field="max_evaluations")


def _numbers(X: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    """A numeric feature column as floats (all NaN when the column is absent)."""
    if column not in X.columns:
        return np.full(len(X), np.nan)
    return np.asarray(X[column].to_numpy(np.float64, na_value=np.nan), dtype=np.float64)


def _options(
    X: pd.DataFrame, flagged: npt.NDArray[np.intp], items: pd.DataFrame | None
) -> list[_Options]:
    """The actions available to each flagged case."""
    result = [_Options() for _ in flagged]
    columns = {c: _numbers(X, c)[flagged] for c in CHANGEABLE_COLUMNS}
    if items is not None and len(flagged):
        _pay_from_items(X, flagged, columns, items, result)
    for c, opts in enumerate(result):
        exposure = float(columns["open_exposure"][c])
        count = float(columns["open_invoices"][c])
        if items is None:
            opts.own_units = float(np.expm1(columns["log_open_amount"][c]))
            if math.isfinite(opts.own_units) and count >= 2 and math.isfinite(exposure):
                others = max(exposure - opts.own_units, 0.0)
                opts.pay_code.append("PAY_OTHERS")
                opts.pay_k.append(int(count) - 1)
                opts.pay_key.append(others)
                opts.pay_minor.append(0)
                opts.pay_units.append(others)
                opts.pay_ids.append(())
        if math.isfinite(opts.own_units) and opts.own_units > 0:
            for share in PART_SHARES:
                if items is not None:
                    paid = int(
                        (Decimal(opts.own_minor) * share / 100).quantize(
                            Decimal(1), rounding=ROUND_HALF_EVEN
                        )
                    )
                    if paid <= 0:
                        continue
                    key, units = float(paid), paid / opts.scale
                else:
                    paid = 0
                    key = units = opts.own_units * share / 100
                opts.part_share.append(share)
                opts.part_key.append(key)
                opts.part_minor.append(paid)
                opts.part_units.append(units)
        broken = float(columns["broken_promises_12m"][c])
        if math.isfinite(broken) and broken >= 1:
            opts.broken = int(broken)
            opts.keep.extend(range(1, opts.broken + 1))
    return result


def _pay_from_items(
    X: pd.DataFrame,
    flagged: npt.NDArray[np.intp],
    columns: Mapping[str, npt.NDArray[np.float64]],
    items: pd.DataFrame,
    result: list[_Options],
) -> None:
    """Own open amounts and the "pay other invoices" actions from the open items."""
    missing = [c for c in _ITEM_COLUMNS if c not in items.columns]
    if missing:
        msg = (
            f"items: columns {missing} are missing; pass dunning.ledger.open_items(portfolio, "
            "as_of) for the as_of of the features."
        )
        raise DataError(msg, path="<items>", missing=missing)
    ids = pd.Index(items["invoice_id"].astype("str"))
    if not ids.is_unique:
        duplicates = ids[ids.duplicated()].unique().tolist()[:5]
        msg = f"items: invoice_id values {duplicates} occur more than once; one row per open item."
        raise DataError(msg, path="<items>")
    wanted = [str(X.index[pos]) for pos in flagged]
    at = ids.get_indexer(pd.Index(wanted))
    if (at < 0).any():
        absent = [w for w, a in zip(wanted, at, strict=True) if a < 0][:5]
        msg = (
            f"items: the flagged invoices {absent} are not among the open items; pass "
            "dunning.ledger.open_items(portfolio, as_of) for the as_of of the features."
        )
        raise DataError(msg, path="<items>")
    customers = items["customer_id"].astype("str").to_numpy()
    needed = pd.unique(customers[at])
    subset = items.loc[np.isin(customers, needed)]
    sub_ids = subset["invoice_id"].astype("str").to_numpy()
    sub_cust = subset["customer_id"].astype("str").to_numpy()
    sub_currency = subset["currency"].astype("str").to_numpy()
    sub_minor = subset["open_minor"].to_numpy(np.int64)
    sub_due = subset["due_date"].to_numpy("datetime64[ns]")
    sub_issue = subset["issue_date"].to_numpy("datetime64[ns]")
    groups = pd.Series(np.arange(len(subset))).groupby(sub_cust, sort=False).indices
    for c, (opts, row) in enumerate(zip(result, at, strict=True)):
        invoice = wanted[c]
        customer = str(customers[row])
        members = np.asarray(groups[customer])
        own = members[sub_ids[members] == invoice][0]
        currency = str(sub_currency[own])
        scale = float(10 ** minor_units(currency))
        opts.currency, opts.scale = currency, scale
        opts.own_minor = int(sub_minor[own])
        opts.own_units = opts.own_minor / scale
        _check_row(
            invoice,
            customer,
            len(members),
            opts.own_units,
            float(columns["open_invoices"][c]),
            float(columns["log_open_amount"][c]),
        )
        others = members[(members != own) & (sub_currency[members] == currency)]
        all_paid_code = "PAY_OTHERS" if len(others) == len(members) - 1 else ""
        by_age = np.lexsort((sub_ids[others], sub_issue[others], sub_due[others]))
        age = np.empty(len(others), dtype=np.int64)
        age[by_age] = np.arange(len(others))
        orders = {
            "PAY_OLDEST": others[by_age],
            "PAY_SMALLEST": others[np.lexsort((age, sub_minor[others]))],
            "PAY_LARGEST": others[np.lexsort((age, -sub_minor[others]))],
        }
        seen: set[tuple[int, int]] = set()
        for code in _ORDERS:
            chosen = orders[code]
            sums = np.cumsum(sub_minor[chosen])
            for k in range(1, len(chosen) + 1):
                minor = int(sums[k - 1])
                if (minor, k) in seen:
                    continue
                seen.add((minor, k))
                opts.pay_code.append(all_paid_code if k == len(chosen) and all_paid_code else code)
                opts.pay_k.append(k)
                opts.pay_key.append(float(minor))
                opts.pay_minor.append(minor)
                opts.pay_units.append(minor / scale)
                opts.pay_ids.append(tuple(str(i) for i in sub_ids[chosen[:k]]))


def _check_row(
    invoice: str, customer: str, n_items: int, own_units: float, count: float, log_open: float
) -> None:
    """The open items must describe the same day as the features."""
    if math.isfinite(count) and int(count) != n_items:
        msg = (
            f"items: customer {customer!r} has {n_items} open items, but the features of "
            f"invoice {invoice!r} count {int(count)} open invoices; pass "
            "dunning.ledger.open_items(portfolio, as_of) for the as_of of the features."
        )
        raise DataError(msg, path="<items>")
    if math.isfinite(log_open) and not math.isclose(
        float(np.log1p(own_units)), log_open, rel_tol=1e-9, abs_tol=1e-9
    ):
        msg = (
            f"items: invoice {invoice!r} has {own_units} open, but its features say "
            f"{float(np.expm1(log_open))}; pass dunning.ledger.open_items(portfolio, as_of) "
            "for the as_of of the features."
        )
        raise DataError(msg, path="<items>")


class _Search:
    """Candidates of all flagged cases, scored in growing batches in size order."""

    def __init__(
        self,
        model: RiskModel,
        X: pd.DataFrame,
        flagged: npt.NDArray[np.intp],
        options: list[_Options],
        threshold: float,
        max_actions: int,
        max_evaluations: int,
    ) -> None:
        self.model, self.X, self.flagged, self.options = model, X, flagged, options
        self.threshold = threshold
        self.columns = [c for c in CHANGEABLE_COLUMNS if c in X.columns]
        case: list[npt.NDArray[np.intp]] = []
        picks: list[npt.NDArray[np.intp]] = []
        for c, opts in enumerate(options):
            grid = _grid(opts, max_actions, max_evaluations)
            case.append(np.full(len(grid), c, dtype=np.intp))
            picks.append(grid)
        self.case = np.concatenate(case) if case else np.zeros(0, dtype=np.intp)
        self.pick = np.concatenate(picks) if picks else np.zeros((0, 3), dtype=np.intp)
        self.starts = np.zeros(len(options) + 1, dtype=np.intp)
        self.starts[1:] = np.cumsum([len(p) for p in picks])
        self.rank = np.arange(len(self.case)) - self.starts[self.case]
        self.values = self._values()
        n_cases = len(options)
        self.found = np.full(n_cases, -1, dtype=np.intp)
        self.best = np.full(n_cases, -1, dtype=np.intp)
        self.best_p = np.full(n_cases, np.inf)
        self.evaluations = np.zeros(n_cases, dtype=np.int64)
        self.proba = np.full(len(self.case), np.nan)

    def _values(self) -> dict[str, npt.NDArray[Any]]:
        """The changed columns' values of every candidate."""
        n = len(self.case)
        ip, iq, ir = self.pick[:, 0], self.pick[:, 1], self.pick[:, 2]
        pay_units = np.zeros(n)
        part_units = np.zeros(n)
        part_minor = np.zeros(n, dtype=np.int64)
        pay_k = np.zeros(n, dtype=np.int64)
        keep = np.zeros(n, dtype=np.int64)
        own_units = np.zeros(n)
        own_minor = np.zeros(n, dtype=np.int64)
        scale = np.ones(n)
        exact = np.zeros(n, dtype=bool)
        pay_minor = np.zeros(n, dtype=np.int64)
        for c, opts in enumerate(self.options):
            rows = np.arange(self.starts[c], self.starts[c + 1])
            if len(rows) == 0:
                continue
            pay_units[rows] = np.asarray(opts.pay_units)[ip[rows]]
            pay_minor[rows] = np.asarray(opts.pay_minor, dtype=np.int64)[ip[rows]]
            pay_k[rows] = np.asarray(opts.pay_k, dtype=np.int64)[ip[rows]]
            part_units[rows] = np.asarray(opts.part_units)[iq[rows]]
            part_minor[rows] = np.asarray(opts.part_minor, dtype=np.int64)[iq[rows]]
            keep[rows] = np.asarray(opts.keep, dtype=np.int64)[ir[rows]]
            own_units[rows] = opts.own_units
            own_minor[rows] = opts.own_minor
            scale[rows] = opts.scale
            exact[rows] = opts.currency is not None
        positions = self.flagged[self.case] if n else np.zeros(0, dtype=np.intp)
        paid = (ip > 0) | (iq > 0)
        # With items, amounts come from exact minor units, as build_features computes them.
        remaining = np.where(exact, (own_minor - part_minor) / scale, own_units - part_units)
        paid_units = np.where(exact, (pay_minor + part_minor) / scale, pay_units + part_units)
        values: dict[str, npt.NDArray[Any]] = {}
        for column in self.columns:
            dtype = self.X[column].dtype
            original = self.X[column].to_numpy()[positions]
            if column == "log_open_amount":
                with np.errstate(invalid="ignore"):
                    new = np.where(iq > 0, np.log1p(np.maximum(remaining, 0.0)), original)
            elif column == "open_exposure":
                new = np.where(paid, original - paid_units, original)
            elif column == "open_invoices":
                new = np.where(ip > 0, original - pay_k, original)
            elif column == "broken_promises_12m":
                new = np.where(ir > 0, original - keep, original)
            else:  # kept_promises_12m
                new = np.where(ir > 0, original + keep, original)
            # numpy dtypes are kept; nullable ones stay numpy (the model only checks kinds)
            values[column] = new.astype(dtype) if isinstance(dtype, np.dtype) else new
        return values

    def run(self) -> None:
        """Score the candidates in batches; stop each case at its first one below."""
        active = np.ones(len(self.options), dtype=bool)
        low, size = 0, _FIRST_BATCH
        while True:
            take = (self.rank >= low) & (self.rank < low + size) & active[self.case]
            rows = np.flatnonzero(take)
            if len(rows) == 0:
                break
            frame = self.X.iloc[self.flagged[self.case[rows]]]
            frame = frame.assign(**{c: v[rows] for c, v in self.values.items()})
            p = np.asarray(self.model.predict_proba(frame)[:, 1], dtype=np.float64)
            self.proba[rows] = p
            cases = self.case[rows]
            self.evaluations += np.bincount(cases, minlength=len(self.options))
            below = p < self.threshold
            hit_cases, first = np.unique(cases[below], return_index=True)
            self.found[hit_cases] = rows[below][first]
            active[hit_cases] = False
            order = np.lexsort((self.rank[rows], p, cases))
            best_cases, first = np.unique(cases[order], return_index=True)
            best_rows = rows[order][first]
            better = self.proba[best_rows] < self.best_p[best_cases]
            self.best[best_cases[better]] = best_rows[better]
            self.best_p[best_cases[better]] = self.proba[best_rows[better]]
            low += size
            size *= _BATCH_GROWTH

    def outcome(self, c: int, risk: float, writer: _Writer) -> dict[str, Any]:
        """The result columns of flagged case ``c``."""
        found = bool(self.found[c] >= 0)
        row = int(self.found[c]) if found else int(self.best[c])
        base: dict[str, Any] = {"flagged": True, "evaluations": int(self.evaluations[c])}
        if not found and (row < 0 or self.best_p[c] >= risk):
            return base | {"new_risk": risk, "text": writer.no_effect(risk)}
        opts = self.options[c]
        ip, iq, ir = (int(i) for i in self.pick[row])
        new_risk = float(self.proba[row])
        pos = int(self.flagged[c])
        changes: dict[str, Any] = {}
        for column, values in self.values.items():
            new, old = values[row], self.X[column].iloc[pos]
            if new != old and not (pd.isna(new) and pd.isna(old)):
                changes[column] = new.item()
        codes = []
        if ip:
            codes.append(f"{opts.pay_code[ip]}:{opts.pay_k[ip]}")
        if iq:
            codes.append(f"PAY_PART:{opts.part_share[iq]}")
        if ir:
            codes.append(f"KEEP_PROMISES:{opts.keep[ir]}")
        amount: Decimal | None = None
        if opts.currency is not None:
            amount = from_minor(opts.pay_minor[ip] + opts.part_minor[iq], opts.currency)
        phrases = writer.phrases(opts, ip, iq, ir)
        text = (
            writer.found(risk, new_risk, phrases)
            if found
            else writer.not_found(risk, new_risk, phrases)
        )
        return base | {
            "found": found,
            "new_risk": new_risk,
            "actions": "|".join(codes),
            "paid_invoices": "|".join(opts.pay_ids[ip]),
            "amount_to_pay": amount,
            "currency": opts.currency,
            "changes": changes,
            "text": text,
        }


def _grid(opts: _Options, max_actions: int, max_evaluations: int) -> npt.NDArray[np.intp]:
    """The (pay, part, keep) option indices of the candidates to score, smallest first."""
    ip, iq, ir = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(len(opts.pay_code)),
            np.arange(len(opts.part_share)),
            np.arange(len(opts.keep)),
            indexing="ij",
        )
    )
    kinds = (ip > 0).astype(np.int64) + (iq > 0) + (ir > 0)
    keep = (kinds >= 1) & (kinds <= max_actions)
    ip, iq, ir = ip[keep], iq[keep], ir[keep]
    amount = np.asarray(opts.pay_key)[ip] + np.asarray(opts.part_key)[iq]
    steps = np.asarray(opts.pay_k)[ip] + (iq > 0) + np.asarray(opts.keep)[ir]
    order = np.lexsort((steps, amount))  # stable: equal sizes keep the action order
    if len(order) > max_evaluations:
        # Beyond the smallest candidates, the largest of each combination of kinds (all
        # other invoices, the largest part, all promises) is always tried: "not found"
        # then covers the largest change within the bounds.
        largest = (int(np.argmax(opts.pay_key)), len(opts.part_share) - 1, len(opts.keep) - 1)
        extremes = np.zeros(len(order), dtype=bool)
        for combination in itertools.product((False, True), repeat=3):
            wanted = [largest[i] if used else 0 for i, used in enumerate(combination)]
            extremes |= (ip == wanted[0]) & (iq == wanted[1]) & (ir == wanted[2])
        tail = order[max_evaluations:]
        order = np.concatenate((order[:max_evaluations], tail[extremes[tail]]))
    return np.column_stack((ip[order], iq[order], ir[order])).astype(np.intp)


def _in_percent(value: float, digits: int) -> Decimal:
    """``value`` in percent, rounded half-even to ``digits`` decimals."""
    return (
        Decimal(repr(float(value)))
        .scaleb(2)
        .quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    )


class _Writer:
    """Fills the ``[counterfactual]`` texts of a catalogue."""

    def __init__(self, catalogue: Mapping[str, Any], threshold: float) -> None:
        self.texts: Mapping[str, Any] = catalogue["counterfactual"]
        self.locale = Locale.parse(catalogue["locale"])
        self.threshold = threshold
        self.cache: dict[Decimal, str] = {}

    def _percents(self, *values: float, below: tuple[tuple[int, int], ...] = ()) -> list[str]:
        """Percentages with the fewest decimals (up to 4) that keep each (lower, upper)
        pair of ``below`` apart and show a risk strictly between 0 and 1 as neither
        0 % nor 100 %."""
        digits = 0
        while digits < _MAX_DIGITS:
            shown = [_in_percent(v, digits) for v in values]
            if all(shown[a] < shown[b] for a, b in below) and not any(
                0 < v < 1 and p in {0, 100} for v, p in zip(values, shown, strict=True)
            ):
                break
            digits += 1
        return [self._format_percent(_in_percent(v, digits)) for v in values]

    def _format_percent(self, percent: Decimal) -> str:
        text = self.cache.get(percent)
        if text is None:
            share = percent.scaleb(-2)
            text = str(format_percent(share, locale=self.locale, decimal_quantization=False))
            self.cache[percent] = text
        return text

    def _count(self, n: int) -> str:
        words: Mapping[str, str] = self.texts.get("numbers", {})
        return words.get(str(n), str(format_decimal(n, locale=self.locale)))

    def _plural(self, n: int) -> str:
        return "one" if self.locale.plural_form(n) == "one" else "other"

    def _money(self, minor: int, currency: str | None, frame: str) -> str:
        if currency is None:
            return ""
        amount = format_currency(from_minor(minor, currency), currency, locale=self.locale)
        return str(self.texts[frame].format(amount=amount))

    def phrases(self, opts: _Options, ip: int, iq: int, ir: int) -> list[str]:
        """One clause per action of a candidate, in action order."""
        actions = self.texts["actions"]
        result = []
        if ip:
            k, code = opts.pay_k[ip], opts.pay_code[ip]
            form = self._plural(k)
            frame = "amount" if form == "one" else "amount_total"
            if code == "PAY_OTHERS" and k == 2:  # "both", not "all two"
                form = "both"
            result.append(
                actions[code][form].format(
                    count=self._count(k),
                    amount=self._money(opts.pay_minor[ip], opts.currency, frame),
                )
            )
        if iq:
            result.append(
                actions["PAY_PART"]["text"].format(
                    share=format_percent(opts.part_share[iq] / 100, locale=self.locale),
                    amount=self._money(opts.part_minor[iq], opts.currency, "amount"),
                )
            )
        if ir:
            j, broken = opts.keep[ir], opts.broken
            if broken == 1:
                variant = "one"
            elif j == broken:
                variant = "both" if broken == 2 else "all"
            else:
                variant = f"some_{self._plural(j)}"
            result.append(
                actions["KEEP_PROMISES"][variant].format(
                    count=self._count(j), broken=self._count(broken)
                )
            )
        return result

    def found(self, risk: float, new_risk: float, phrases: list[str]) -> str:
        old, new, _ = self._percents(risk, new_risk, self.threshold, below=((1, 0), (1, 2)))
        return str(
            self.texts["found"].format(
                actions=format_list(phrases, locale=self.locale), risk=old, new_risk=new
            )
        )

    def not_found(self, risk: float, new_risk: float, phrases: list[str]) -> str:
        old, new, threshold = self._percents(risk, new_risk, self.threshold, below=((1, 0),))
        return str(
            self.texts["not_found"].format(
                actions=format_list(phrases, locale=self.locale),
                risk=old,
                new_risk=new,
                threshold=threshold,
            )
        )

    def no_effect(self, risk: float) -> str:
        old, threshold = self._percents(risk, self.threshold)
        return str(self.texts["no_effect"].format(risk=old, threshold=threshold))

    def not_flagged(self, risk: float) -> str:
        old, threshold = self._percents(risk, self.threshold, below=((0, 1),))
        return str(self.texts["not_flagged"].format(risk=old, threshold=threshold))
