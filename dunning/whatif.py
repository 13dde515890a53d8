"""What-if: compare what two policies propose for the same portfolio on the same day.

:func:`compare` takes two :class:`~dunning.proposal.Proposal` objects (typically the live
policy as ``a`` and a candidate as ``b``) and returns a :class:`Comparison`: the letters
side by side, the invoices whose decision differs, and totals per currency. Nothing is
sent or stored; ``docs/whatif.md`` explains how to read the result.

Unit of comparison
------------------
Per customer and currency (``grouping == "customer"``)
    When both proposals group one case per customer and currency (the default
    ``case_grouping``), a row of :attr:`Comparison.cases` is a customer and currency with a
    letter in either proposal. Case ids are not used as the key: they are the same for the
    same customer and day, but the grouping could differ.
Per invoice (``grouping == "invoice"``)
    When either proposal has one case per invoice (two cases of one customer and currency,
    or a case id with the per-invoice suffix of :func:`dunning.proposal.case_id`), a
    customer's letters cannot be paired, so a row is an **invoice listed in a letter** in
    either proposal. ``letter`` then means "the invoice is listed in a letter"; ``level``,
    ``offer``, ``tone``, ``channel``, ``needs_review`` and ``review_reason`` are those of
    the letter it is listed in; the amounts are the invoice's own share of that letter
    (``fee``, ``interest``, ``flat_fee``, ``claim_total`` of the decision, which add up to
    the case's ``case_fees`` ... ``amount_due``). The counts ``changed``, ``new_letters``
    and ``dropped_letters`` of the totals then count invoices.

Equality
--------
Values are compared exactly: ``Decimal`` amounts by their value (``1.0 == 1.00``), never
through floats; a missing value (``None``, ``NaN``, ``NA``) equals a missing value and
differs from any present one. A field whose column is absent from either proposal (an
older proposal without ``tone``, say) is **not compared**: its columns are missing values
and :attr:`Comparison.notes` names it.

Expected recovery and cost
--------------------------
Summed from the case columns ``expected_recovery`` and ``expected_cost`` (``Decimal``)
where a proposal has them. Without ``expected_recovery``, it is estimated per case as
``(1 - risk) x amount_due`` (``risk`` clipped to [0, 1] and read to 12 decimal places, so
``0.1`` is exactly a tenth), computed exactly and rounded half up to the minor unit of the
currency; a case without a risk counts 0.
Without ``expected_cost``, the cost is 0. Either fallback is stated in the notes.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> from dunning.proposal import Proposal
>>> day = date(2026, 11, 23)
>>> a = Proposal(pd.DataFrame(), pd.DataFrame({"customer_id": ["K1"], "currency": ["EUR"],
...     "level": [1], "amount_due": [Decimal("100.00")], "risk": [0.25]}), day)
>>> b = Proposal(pd.DataFrame(), pd.DataFrame({"customer_id": ["K1"], "currency": ["EUR"],
...     "level": [2], "amount_due": [Decimal("101.00")], "risk": [0.25]}), day)
>>> compare(a, b).cases[["customer_id", "change", "changed"]].to_dict("records")
[{'customer_id': 'K1', 'change': 'changed', 'changed': 'level|amount_due'}]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from dunning.errors import DataError, DunningError, RenderError
from dunning.money import from_minor, to_minor_array
from dunning.proposal import Proposal

__all__ = [
    "CASE_FIELDS",
    "CHANGE_KINDS",
    "INVOICE_FIELDS",
    "TOTAL_COLUMNS",
    "Comparison",
    "compare",
]

#: Fields of a letter compared side by side (``<field>_a``, ``<field>_b``), in order.
CASE_FIELDS: tuple[str, ...] = (
    "letter",
    "level",
    "case_fees",
    "case_interest",
    "case_flat_fees",
    "amount_due",
    "offer",
    "tone",
    "channel",
    "needs_review",
    "review_reason",
)

#: Fields of an invoice's decision compared side by side, in order.
INVOICE_FIELDS: tuple[str, ...] = (
    "level",
    "fee",
    "interest",
    "flat_fee",
    "claim_total",
    "needs_review",
)

#: Values of ``Comparison.cases["change"]``.
CHANGE_KINDS: tuple[str, ...] = ("new_letter", "no_letter", "changed", "same")

_MONEY = (
    ("fees", "case_fees"),
    ("interest", "case_interest"),
    ("flat_fees", "case_flat_fees"),
    ("amount_due", "amount_due"),
    ("expected_recovery", "expected_recovery"),
    ("expected_cost", "expected_cost"),
)

#: Columns of ``Comparison.totals``, in order (one row per currency, then ``"all"``).
TOTAL_COLUMNS: tuple[str, ...] = (
    "letters_a",
    "letters_b",
    "changed",
    "new_letters",
    "dropped_letters",
    "review_a",
    "review_b",
    "review_share_a",
    "review_share_b",
    *(f"{name}_{side}" for name, _ in _MONEY for side in ("a", "b", "diff")),
)

# In per-invoice mode a letter's amounts are the invoice's own share of it.
_INVOICE_AMOUNTS = {
    "case_fees": "fee",
    "case_interest": "interest",
    "case_flat_fees": "flat_fee",
    "amount_due": "claim_total",
}
# The fallback expected recovery reads the risk to this many decimal places.
_RISK_PLACES = 12
_PER_INVOICE_ID = r"C\d{8}-[0-9a-f]{10}-[0-9a-f]{8}"
_LOCALES = {"en": "en_GB", "de": "de_DE"}
_Note = tuple[str, str]


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: letters and invoices side by side, totals per currency.

    Columns ending in ``_a`` hold proposal ``a``'s value, ``_b`` proposal ``b``'s, whatever
    the ``labels`` (the labels only name the two sides in :meth:`summary` and the notes).

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per customer and currency (``grouping == "customer"``: ``customer_id,
        currency, case_id_a, case_id_b``) or per invoice listed in a letter (``"invoice"``:
        ``customer_id, currency, invoice_id, case_id_a, case_id_b``) with a letter in
        either proposal, sorted by those keys; then ``change`` (one of
        :data:`CHANGE_KINDS`: ``"new_letter"`` only in b, ``"no_letter"`` only in a,
        ``"changed"`` in both with a field that differs, ``"same"``), ``changed`` (the
        ``"|"``-joined :data:`CASE_FIELDS` that differ, ``""`` for none) and
        ``<field>_a, <field>_b`` for each of :data:`CASE_FIELDS` (``letter`` bool,
        ``level`` ``Int64``, amounts ``Decimal``, ``needs_review`` ``boolean``).
    invoices : pandas.DataFrame
        The invoices whose decision differs, sorted by ``invoice_id``: ``invoice_id,
        customer_id, currency, case_id_a, case_id_b, change`` (``"changed"``, or
        ``"only_a"`` / ``"only_b"`` for an invoice overdue in one proposal only),
        ``changed`` and ``<field>_a, <field>_b`` for each of :data:`INVOICE_FIELDS`.
    totals : pandas.DataFrame
        Indexed by ``currency`` (the currencies of either proposal's letters, sorted, then
        ``"all"``), columns :data:`TOTAL_COLUMNS`: counts of letters in a and b, of letters
        ``changed`` (in both, some field differs), ``new_letters`` (only in b),
        ``dropped_letters`` (only in a), of letters routed to review and their share of
        the letters (``NaN`` without letters; review counts are ``NA`` if ``needs_review``
        is absent); then sums of ``fees``, ``interest``, ``flat_fees``, ``amount_due``,
        ``expected_recovery`` and ``expected_cost`` in a, b and ``_diff`` (b - a), exact
        ``Decimal`` per currency (``None`` where a column is absent). The ``"all"`` row adds
        up counts only; its money columns are ``None``: currencies are never added.
    labels : tuple of str
        Names of a and b in :meth:`summary` and the notes.
    as_of : tuple of datetime.date
        The run dates of a and b.
    grouping : {"customer", "invoice"}
        The unit of :attr:`cases` (see the module documentation).
    notes : tuple of str
        What was not compared or was estimated, in English.
    notes_de : tuple of str
        The same notes in German.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> from dunning.proposal import Proposal
    >>> empty = Proposal(pd.DataFrame(), pd.DataFrame(), date(2026, 11, 23))
    >>> c = compare(empty, empty, labels=("live", "candidate"))
    >>> c.grouping, len(c.cases), c.totals.loc["all", "letters_b"]
    ('customer', 0, np.int64(0))
    """

    cases: pd.DataFrame
    invoices: pd.DataFrame
    totals: pd.DataFrame
    labels: tuple[str, str]
    as_of: tuple[date, date]
    grouping: Literal["customer", "invoice"]
    notes: tuple[str, ...] = ()
    notes_de: tuple[str, ...] = ()

    def summary(self, lang: str = "en") -> str:
        """A short plain-text report: letters, review, money per currency, notes.

        Parameters
        ----------
        lang : {"en", "de"}
            Language; numbers, amounts and dates are formatted by Babel for ``en_GB`` or
            ``de_DE`` (amounts may contain no-break spaces).

        Returns
        -------
        str
            A few lines without a trailing newline.

        Raises
        ------
        RenderError
            If ``lang`` is not ``"en"`` or ``"de"``.

        Examples
        --------
        >>> from datetime import date
        >>> from decimal import Decimal
        >>> import pandas as pd
        >>> from dunning.proposal import Proposal
        >>> def proposal(fee):
        ...     cases = pd.DataFrame({"customer_id": ["K1"], "currency": ["EUR"], "level": [2],
        ...         "case_fees": [Decimal(fee)], "case_interest": [Decimal("0.00")],
        ...         "case_flat_fees": [Decimal("0.00")], "amount_due": [100 + Decimal(fee)],
        ...         "needs_review": [False], "expected_recovery": [Decimal("80.00")],
        ...         "expected_cost": [Decimal("0.00")]})
        ...     return Proposal(pd.DataFrame(), cases, date(2026, 11, 23))
        >>> c = compare(proposal("1.00"), proposal("2.00"), labels=("live", "new"))
        >>> print(c.summary("de").replace("\\xa0", " "))  # doctest: +NORMALIZE_WHITESPACE
        Was-wäre-wenn live → new, Stichtag 23.11.2026, je Kunde und Währung.
        Briefe: 1 in live, 1 in new; 1 geändert, 0 neu, 0 entfallen.
        Zur Prüfung: 0 von 1 (0,0 %) in live, 0 von 1 (0,0 %) in new.
        EUR Forderungsbetrag: 101,00 € in live, 102,00 € in new (+1,00 €); Gebühren +1,00 €,
        Zinsen ±0,00 €, Pauschalen ±0,00 €.
        EUR erwarteter Zahlungseingang: 80,00 € in live, 80,00 € in new (±0,00 €); erwartete
        Kosten: 0,00 € in live, 0,00 € in new (±0,00 €).
        Hinweis: Fallfelder nicht verglichen (fehlen in live und new): offer, tone, channel,
        review_reason.
        """
        if lang not in _LOCALES:
            msg = f"Comparison.summary: unknown language {lang!r}; use 'en' or 'de'."
            raise RenderError(msg)
        return "\n".join(_summary_lines(self, lang))


def compare(
    a: Proposal,
    b: Proposal,
    *,
    labels: tuple[str, str] = ("a", "b"),
    allow_different_dates: bool = False,
) -> Comparison:
    """Compare two proposals: which letters are new, dropped or changed, and the totals.

    Parameters
    ----------
    a, b : Proposal
        What two policies propose for the same portfolio (``a`` the reference, e.g. the
        live policy; differences are ``b - a``).
    labels : tuple of str
        Names of a and b in :meth:`Comparison.summary` and the notes. The columns are
        always suffixed ``_a`` and ``_b``.
    allow_different_dates : bool
        Compare proposals of different run dates. Off by default: a what-if compares
        two policies on the same day; on different days levels, interest and case ids move
        with the date, so the comparison would mix the policy change with the passing of
        time.

    Returns
    -------
    Comparison

    Raises
    ------
    DataError
        If the run dates differ (and ``allow_different_dates`` is false), if a proposal
        with rows lacks a key column (``customer_id``, ``currency``; ``invoice_id`` of the
        decisions; ``case_id`` when compared per invoice) or has duplicate keys.

    Examples
    --------
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> from dunning.proposal import Proposal
    >>> day = date(2026, 11, 23)
    >>> a = Proposal(pd.DataFrame(), pd.DataFrame({"customer_id": ["K1"], "currency": ["EUR"],
    ...     "level": [1], "amount_due": [Decimal("100.00")], "risk": [0.25]}), day)
    >>> b = Proposal(pd.DataFrame(), pd.DataFrame({"customer_id": ["K1", "K2"],
    ...     "currency": ["EUR", "EUR"], "level": [2, 1],
    ...     "amount_due": [Decimal("101.00"), Decimal("50.00")], "risk": [0.25, 0.5]}), day)
    >>> c = compare(a, b)
    >>> print(c.cases[["customer_id", "change", "changed", "level_a", "level_b"]]
    ...       .to_string(index=False))
    customer_id     change                 changed  level_a  level_b
             K1    changed        level|amount_due        1        2
             K2 new_letter letter|level|amount_due     <NA>        1
    >>> eur = c.totals.loc["EUR"]
    >>> int(eur["new_letters"]), eur["amount_due_diff"], eur["expected_recovery_diff"]
    (1, Decimal('51.00'), Decimal('25.75'))
    >>> c.notes[-1]
    'Expected cost taken as 0 in a and b (no expected_cost column).'
    """
    if a.as_of != b.as_of and not allow_different_dates:
        msg = (
            f"compare: proposal {labels[0]!r} is as of {a.as_of.isoformat()} and "
            f"{labels[1]!r} as of {b.as_of.isoformat()}; a what-if compares two policies on "
            "the same portfolio and day (levels, interest and case ids move with the date). "
            "Propose both on the same date, or pass allow_different_dates=True."
        )
        raise DataError(msg, path="<proposal>")
    notes: list[_Note] = []
    la, lb = labels
    if a.as_of != b.as_of:
        notes.append(
            (
                f"Run dates differ: {la} {a.as_of.isoformat()}, {lb} {b.as_of.isoformat()}.",
                f"Stichtage verschieden: {la} {a.as_of.isoformat()}, {lb} {b.as_of.isoformat()}.",
            )
        )
    key_cases = ("customer_id", "currency")
    cases_a = _columns(a.cases, key_cases, f"{la}.cases")
    cases_b = _columns(b.cases, key_cases, f"{lb}.cases")
    dec_a = _columns(a.decisions, ("invoice_id", "customer_id", "currency"), f"{la}.decisions")
    dec_b = _columns(b.decisions, ("invoice_id", "customer_id", "currency"), f"{lb}.decisions")

    per_invoice = _per_invoice(cases_a) or _per_invoice(cases_b)
    if per_invoice:
        side_a = _letters_per_invoice(cases_a, dec_a, f"{la}")
        side_b = _letters_per_invoice(cases_b, dec_b, f"{lb}")
        keys = ["invoice_id"]
        notes.append(
            (
                "A proposal has one letter per invoice: letters are compared per invoice "
                "listed in a letter, with the invoice's own share of the amounts.",
                "Ein Vorschlag hat einen Brief je Rechnung: verglichen wird je Rechnung in "
                "einem Brief, mit dem Anteil der Rechnung an den Beträgen.",
            )
        )
    else:
        side_a = _letters_per_customer(cases_a)
        side_b = _letters_per_customer(cases_b)
        keys = list(key_cases)
    fields = [f for f in CASE_FIELDS if f != "letter"]
    absent = _absent(side_a, side_b, fields, labels, notes, "Case fields", "Fallfelder")
    cases = _side_by_side(side_a, side_b, keys, ["customer_id", "currency", "case_id"], fields)
    cases["letter_a"] = cases.pop("_in_a")
    cases["letter_b"] = cases.pop("_in_b")
    diff = _differences(cases, ["letter", *fields], absent)
    in_a, in_b = cases["letter_a"].to_numpy(bool), cases["letter_b"].to_numpy(bool)
    kind = np.select([~in_a, ~in_b, (diff != "").to_numpy(bool)], [0, 1, 2], 3)
    cases["change"] = pd.Series(
        np.asarray(CHANGE_KINDS, dtype=object)[kind], index=cases.index, dtype="str"
    )
    cases["changed"] = diff
    order = ["customer_id", "currency", "invoice_id"] if per_invoice else keys
    cases = cases.sort_values(order, kind="stable").reset_index(drop=True)
    cases = cases.loc[
        :,
        [
            *order,
            "case_id_a",
            "case_id_b",
            "change",
            "changed",
            *(f"{f}_{s}" for f in CASE_FIELDS for s in ("a", "b")),
        ],
    ]

    invoices = _compare_invoices(dec_a, dec_b, labels, notes)
    totals = _totals(cases_a, cases_b, cases, labels, notes)
    return Comparison(
        cases=cases,
        invoices=invoices,
        totals=totals,
        labels=(la, lb),
        as_of=(a.as_of, b.as_of),
        grouping="invoice" if per_invoice else "customer",
        notes=tuple(n[0] for n in notes),
        notes_de=tuple(n[1] for n in notes),
    )


# -- building the two sides -------------------------------------------------------------


def _columns(frame: pd.DataFrame, required: tuple[str, ...], where: str) -> pd.DataFrame:
    """``frame`` with its key columns; an empty frame may lack them, a non-empty one not."""
    missing = [c for c in required if c not in frame.columns]
    if not missing:
        return frame
    if len(frame) == 0:
        return frame.assign(**{c: pd.Series(dtype="str") for c in missing})
    msg = (
        f"compare: {where} lacks the column(s) {missing}; pass proposals made by "
        "dunning.proposal.propose_items (or add the key columns)."
    )
    raise DataError(msg, path=where, missing=missing)


def _per_invoice(cases: pd.DataFrame) -> bool:
    """Whether ``cases`` has one case per invoice rather than per customer and currency."""
    if len(cases) == 0:
        return False
    if bool(cases.duplicated(["customer_id", "currency"]).any()):
        return True
    if "case_id" not in cases.columns:
        return False
    ids = cases["case_id"].astype("str").fillna("")
    return bool(ids.str.fullmatch(_PER_INVOICE_ID).any())


def _letters_per_customer(cases: pd.DataFrame) -> pd.DataFrame:
    present = [c for c in ("case_id", *CASE_FIELDS) if c in cases.columns]
    return cases.loc[:, ["customer_id", "currency", *present]]


def _letters_per_invoice(cases: pd.DataFrame, decisions: pd.DataFrame, label: str) -> pd.DataFrame:
    """One row per invoice listed in a letter: the letter's fields, the invoice's amounts."""
    for frame, where in ((cases, "cases"), (decisions, "decisions")):
        if "case_id" not in frame.columns and len(frame):
            msg = (
                f"compare: {label}.{where} lacks the column 'case_id', needed to compare "
                "letters per invoice; pass proposals made by dunning.proposal.propose_items."
            )
            raise DataError(msg, path=f"{label}.{where}", missing=("case_id",))
    if "case_id" not in decisions.columns:
        decisions = decisions.assign(case_id=pd.Series(dtype="str"))
    if "case_id" not in cases.columns:
        cases = cases.assign(case_id=pd.Series(dtype="str"))
    amounts = {k: v for k, v in _INVOICE_AMOUNTS.items() if v in decisions.columns}
    listed = decisions.loc[
        decisions["case_id"].notna(),
        ["invoice_id", "customer_id", "currency", "case_id", *amounts.values()],
    ].rename(columns={v: k for k, v in amounts.items()})
    letter = [
        c for c in CASE_FIELDS if c in cases.columns and c not in _INVOICE_AMOUNTS and c != "letter"
    ]
    if cases["case_id"].duplicated().any():
        msg = f"compare: {label}.cases has duplicate case ids; each case must appear once."
        raise DataError(msg, path=f"{label}.cases")
    return listed.merge(
        cases.loc[:, ["case_id", *letter]], on="case_id", how="left", validate="many_to_one"
    )


def _absent(
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    fields: list[str],
    labels: tuple[str, str],
    notes: list[_Note],
    what_en: str,
    what_de: str,
) -> set[str]:
    """Fields absent from either side (not compared), noted by which side lacks them."""
    la, lb = labels
    in_a, in_b = set(side_a.columns), set(side_b.columns)
    lacking = [
        (f"{la} and {lb}", f"{la} und {lb}", [f for f in fields if f not in in_a | in_b]),
        (la, la, [f for f in fields if f not in in_a and f in in_b]),
        (lb, lb, [f for f in fields if f in in_a and f not in in_b]),
    ]
    for where_en, where_de, names in lacking:
        if names and (len(side_a) or len(side_b)):
            listed = ", ".join(names)
            notes.append(
                (
                    f"{what_en} not compared (missing from {where_en}): {listed}.",
                    f"{what_de} nicht verglichen (fehlen in {where_de}): {listed}.",
                )
            )
    return {f for _, _, names in lacking for f in names}


def _side_by_side(
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    keys: list[str],
    carry: list[str],
    fields: list[str],
) -> pd.DataFrame:
    """Outer-merge the two sides on ``keys``; ``<column>_a`` / ``_b``, ``_in_a`` / ``_in_b``."""
    carried = [c for c in carry if c not in keys]
    frames = []
    for side, suffix in ((side_a, "a"), (side_b, "b")):
        if side[keys].duplicated().any():
            msg = f"compare: proposal {suffix} has duplicate keys {keys}; each must appear once."
            raise DataError(msg, path=f"<proposal {suffix}>")
        wanted = [*carried, *fields]
        side = side.assign(
            **{c: pd.Series(pd.NA, index=side.index, dtype=object) for c in wanted if c not in side}
        )
        renamed = side.loc[:, [*keys, *wanted]].rename(columns={c: f"{c}_{suffix}" for c in wanted})
        frames.append(renamed.assign(**{f"_in_{suffix}": True}))
    merged = frames[0].merge(frames[1], on=keys, how="outer")
    merged["_in_a"] = merged["_in_a"].astype("boolean").fillna(False).astype(bool)
    merged["_in_b"] = merged["_in_b"].astype("boolean").fillna(False).astype(bool)
    for column in carried:
        if column in keys or column == "case_id":
            continue
        merged[column] = merged.pop(f"{column}_a").fillna(merged.pop(f"{column}_b"))
    for suffix in ("a", "b"):
        for field in ("level", "needs_review"):
            if f"{field}_{suffix}" in merged.columns:
                merged[f"{field}_{suffix}"] = _typed(
                    merged[f"{field}_{suffix}"], "Int64" if field == "level" else "boolean"
                )
    return merged


def _typed(values: pd.Series, dtype: Literal["Int64", "boolean"]) -> pd.Series:
    """``values`` as a nullable ``dtype``; unchanged if they do not fit (odd hand-made data)."""
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


def _same(x: pd.Series, y: pd.Series) -> npt.NDArray[np.bool_]:
    """Element-wise exact equality; missing equals missing, never a present value."""
    mx, my = x.isna().to_numpy(bool), y.isna().to_numpy(bool)
    out = mx & my
    both = ~mx & ~my
    if both.any():
        xv = x.to_numpy(dtype=object)[both]
        yv = y.to_numpy(dtype=object)[both]
        out[both] = np.asarray(xv == yv, dtype=bool)
    return out


def _differences(frame: pd.DataFrame, fields: list[str], skip: set[str]) -> pd.Series:
    """The ``"|"``-joined names of the fields whose ``_a`` and ``_b`` values differ.

    Each row's differing fields are a bit mask; the text is built once per distinct mask.
    """
    compared = [f for f in fields if f not in skip]
    mask = np.zeros(len(frame), dtype=np.int64)
    for bit, field in enumerate(compared):
        differs = ~_same(frame[f"{field}_a"], frame[f"{field}_b"])
        mask |= differs.astype(np.int64) << bit
    codes, inverse = np.unique(mask, return_inverse=True)
    texts = np.array(
        ["|".join(f for bit, f in enumerate(compared) if int(code) >> bit & 1) for code in codes],
        dtype=object,
    )
    return pd.Series(texts[inverse.reshape(-1)], index=frame.index, dtype="str")


def _compare_invoices(
    dec_a: pd.DataFrame, dec_b: pd.DataFrame, labels: tuple[str, str], notes: list[_Note]
) -> pd.DataFrame:
    fields = list(INVOICE_FIELDS)
    absent = _absent(dec_a, dec_b, fields, labels, notes, "Invoice fields", "Rechnungsfelder")
    keys = ["invoice_id"]
    side_a = dec_a.loc[
        :, [c for c in ("invoice_id", "customer_id", "currency", "case_id", *fields) if c in dec_a]
    ]
    side_b = dec_b.loc[
        :, [c for c in ("invoice_id", "customer_id", "currency", "case_id", *fields) if c in dec_b]
    ]
    merged = _side_by_side(side_a, side_b, keys, ["customer_id", "currency", "case_id"], fields)
    diff = _differences(merged, fields, absent)
    in_a, in_b = merged.pop("_in_a").to_numpy(bool), merged.pop("_in_b").to_numpy(bool)
    keep = (diff != "").to_numpy(bool) | ~in_a | ~in_b
    out = merged.loc[keep].copy()
    kind = np.select([~in_a[keep], ~in_b[keep]], [0, 1], 2)
    out["change"] = pd.Series(
        np.asarray(["only_b", "only_a", "changed"], dtype=object)[kind],
        index=out.index,
        dtype="str",
    )
    out["changed"] = diff[keep]
    out = out.sort_values("invoice_id", kind="stable").reset_index(drop=True)
    columns = [
        "invoice_id",
        "customer_id",
        "currency",
        "case_id_a",
        "case_id_b",
        "change",
        "changed",
        *(f"{f}_{s}" for f in fields for s in ("a", "b")),
    ]
    result: pd.DataFrame = out.loc[:, columns]
    return result


# -- totals ---------------------------------------------------------------------------


def _zero(currency: str) -> Decimal:
    try:
        return from_minor(0, currency)
    except DunningError:
        return Decimal(0)


def _money_sums(cases: pd.DataFrame, column: str) -> pd.Series:
    """Exact ``Decimal`` sum of ``column`` per currency (missing values skipped).

    A column of integers counts whole units; floats (or a mix) are refused: money is
    never float.
    """
    values = cases[column]
    present = values.notna().to_numpy(bool)
    kept = values[present].astype(object)
    kind = pd.api.types.infer_dtype(kept, skipna=True)
    if kind not in {"decimal", "integer", "empty"}:
        msg = (
            f"compare: the case column {column!r} holds {kind} values, e.g. "
            f"{kept.iloc[0]!r}; money must be Decimal. Build the cases with "
            "dunning.proposal.propose_items or convert the column to Decimal."
        )
        raise DataError(msg, path="<cases>")
    sums = kept.groupby(cases["currency"][present], sort=True).sum()
    return sums.map(lambda v: v if isinstance(v, Decimal) else Decimal(int(v))).astype(object)


def _recovery_minor(
    minor: npt.NDArray[np.int64], risk: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """``(1 - risk) x minor`` rounded half up (away from zero), exact in integers.

    ``risk`` is clipped to [0, 1] and rounded to :data:`_RISK_PLACES` decimal places
    (``0.1`` is exactly a tenth, not its binary neighbour); a missing risk gives 0.
    """
    known = np.isfinite(risk)
    scale = 10**_RISK_PLACES
    r = np.rint(np.clip(np.where(known, risk, 1.0), 0.0, 1.0) * scale).astype(np.int64)
    num = (scale - r).astype(object) * np.abs(minor).astype(object)
    rounded = (2 * num + scale) // (2 * scale)
    signed = np.where(minor < 0, -rounded, rounded)
    return np.asarray(signed, dtype=np.int64)


def _recovery_sums(cases: pd.DataFrame) -> pd.Series | None:
    """Fallback expected recovery per currency, or None without ``risk``."""
    if "risk" not in cases.columns or "amount_due" not in cases.columns:
        return None
    currency = cases["currency"].astype("str")
    if "amount_due_minor" in cases.columns and not cases["amount_due_minor"].isna().any():
        minor = cases["amount_due_minor"].to_numpy(np.int64)
    else:
        due = cases["amount_due"]
        has = due.notna().to_numpy(bool)
        minor = np.zeros(len(cases), dtype=np.int64)
        minor[has] = to_minor_array(due[has].tolist(), currency[has].tolist())
    risk = pd.to_numeric(cases["risk"], errors="coerce").to_numpy(np.float64)
    rec = pd.Series(_recovery_minor(minor, risk), index=cases.index)
    sums = rec.groupby(currency, sort=True).sum()
    return pd.Series({c: from_minor(int(v), str(c)) for c, v in sums.items()}, dtype=object)


def _side_totals(
    cases: pd.DataFrame, currencies: list[str]
) -> tuple[dict[str, pd.Series], list[str]]:
    """Counts and money sums of one side per currency; the fallbacks it had to use."""
    currency = cases["currency"].astype("str")
    out: dict[str, pd.Series] = {
        "letters": cases.groupby(currency, sort=True).size().reindex(currencies, fill_value=0),
    }
    if "needs_review" in cases.columns:
        routed = cases["needs_review"].astype("boolean").fillna(False).astype(np.int64)
        out["review"] = routed.groupby(currency, sort=True).sum().reindex(currencies, fill_value=0)
    else:
        out["review"] = pd.Series(pd.NA, index=currencies, dtype="Int64")
    fallbacks: list[str] = []
    for name, column in _MONEY:
        sums: pd.Series | None
        if column in cases.columns:
            sums = _money_sums(cases.assign(currency=currency), column)
        elif name == "expected_recovery":
            sums = _recovery_sums(cases.assign(currency=currency))
            fallbacks.append("recovery" if sums is not None else "no_recovery")
        elif name == "expected_cost":
            sums = pd.Series(dtype=object)
            fallbacks.append("cost")
        else:
            sums = None
        if sums is None:
            out[name] = pd.Series([None] * len(currencies), index=currencies, dtype=object)
        else:
            full = sums.reindex(currencies)
            out[name] = pd.Series(
                [v if isinstance(v, Decimal) else _zero(str(c)) for c, v in full.items()],
                index=currencies,
                dtype=object,
            )
    return out, fallbacks


def _fallback_notes(
    fallbacks: tuple[list[str], list[str]], labels: tuple[str, str], notes: list[_Note]
) -> None:
    la, lb = labels
    texts = {
        "recovery": (
            "Expected recovery estimated as (1 - risk) x amount due, rounded half up to the "
            "cent, in {where} (no expected_recovery column).",
            "Erwarteter Zahlungseingang geschätzt als (1 - Risiko) x Forderungsbetrag, "
            "kaufmännisch auf den Cent gerundet, in {where} (keine Spalte expected_recovery).",
        ),
        "no_recovery": (
            "Expected recovery unknown in {where} (neither expected_recovery nor risk).",
            "Erwarteter Zahlungseingang unbekannt in {where} (weder expected_recovery noch risk).",
        ),
        "cost": (
            "Expected cost taken as 0 in {where} (no expected_cost column).",
            "Erwartete Kosten mit 0 angesetzt in {where} (keine Spalte expected_cost).",
        ),
    }
    for kind, (en, de) in texts.items():
        in_a, in_b = kind in fallbacks[0], kind in fallbacks[1]
        if in_a and in_b:
            notes.append((en.format(where=f"{la} and {lb}"), de.format(where=f"{la} und {lb}")))
        elif in_a or in_b:
            where = la if in_a else lb
            notes.append((en.format(where=where), de.format(where=where)))


def _totals(
    cases_a: pd.DataFrame,
    cases_b: pd.DataFrame,
    rows: pd.DataFrame,
    labels: tuple[str, str],
    notes: list[_Note],
) -> pd.DataFrame:
    currencies = sorted(
        set(cases_a["currency"].astype("str").dropna())
        | set(cases_b["currency"].astype("str").dropna())
    )
    side_a, fall_a = _side_totals(cases_a, currencies)
    side_b, fall_b = _side_totals(cases_b, currencies)
    _fallback_notes((fall_a, fall_b), labels, notes)

    kinds = (
        rows.groupby([rows["currency"].astype("str"), "change"], sort=True)
        .size()
        .unstack(fill_value=0)
        .reindex(index=currencies, columns=list(CHANGE_KINDS), fill_value=0)
    )
    table = pd.DataFrame(index=pd.Index(currencies, name="currency", dtype="str"))
    table["letters_a"] = side_a["letters"].astype(np.int64)
    table["letters_b"] = side_b["letters"].astype(np.int64)
    table["changed"] = kinds["changed"].astype(np.int64)
    table["new_letters"] = kinds["new_letter"].astype(np.int64)
    table["dropped_letters"] = kinds["no_letter"].astype(np.int64)
    table["review_a"] = side_a["review"].astype("Int64")
    table["review_b"] = side_b["review"].astype("Int64")
    for name, _ in _MONEY:
        diffs = [
            None if x is None or y is None else y - x
            for x, y in zip(side_a[name], side_b[name], strict=True)
        ]
        table[f"{name}_a"] = side_a[name]
        table[f"{name}_b"] = side_b[name]
        table[f"{name}_diff"] = pd.Series(diffs, index=currencies, dtype=object)

    counts = ["letters_a", "letters_b", "changed", "new_letters", "dropped_letters"]
    total: dict[str, object] = {c: table[c].sum() for c in counts}
    for side in ("a", "b"):
        review = table[f"review_{side}"]
        total[f"review_{side}"] = pd.NA if review.isna().any() else review.sum()
    all_row = pd.DataFrame(
        {
            **{k: [v] for k, v in total.items()},
            **{f"{n}_{s}": [None] for n, _ in _MONEY for s in ("a", "b", "diff")},
        },
        index=pd.Index(["all"], name="currency", dtype="str"),
    )
    table = pd.concat([table, all_row.astype({"review_a": "Int64", "review_b": "Int64"})])
    for side in ("a", "b"):
        letters = table[f"letters_{side}"].to_numpy(np.float64)
        routed = table[f"review_{side}"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
        table[f"review_share_{side}"] = np.divide(
            routed, letters, out=np.full(len(table), np.nan), where=letters > 0
        )
    for column in counts:
        table[column] = table[column].astype(np.int64)
    for column in (f"{n}_{s}" for n, _ in _MONEY for s in ("a", "b", "diff")):
        table[column] = table[column].astype(object)
    return table.loc[:, list(TOTAL_COLUMNS)]


# -- summary --------------------------------------------------------------------------

_TEXT = {
    "en": {
        "title": "What-if {a} → {b}, as of {day}, {unit}.",
        "customer": "per customer and currency",
        "invoice": "per invoice in a letter",
        "letters": "Letters: {na} in {a}, {nb} in {b}; {changed} changed, {new} new, "
        "{dropped} dropped.",
        "review": "Routed to review: {ra} of {na} ({sa}) in {a}, {rb} of {nb} ({sb}) in {b}.",
        "money": "{cur} amount due: {da} in {a}, {db} in {b} ({dd}); fees {fees}, "
        "interest {interest}, flat fees {flat}.",
        "expected": "{cur} expected recovery: {ra} in {a}, {rb} in {b} ({rd}); expected "
        "cost: {ca} in {a}, {cb} in {b} ({cd}).",
        "note": "Note: {text}",
    },
    "de": {
        "title": "Was-wäre-wenn {a} → {b}, Stichtag {day}, {unit}.",
        "customer": "je Kunde und Währung",
        "invoice": "je Rechnung in einem Brief",
        "letters": "Briefe: {na} in {a}, {nb} in {b}; {changed} geändert, {new} neu, "
        "{dropped} entfallen.",
        "review": "Zur Prüfung: {ra} von {na} ({sa}) in {a}, {rb} von {nb} ({sb}) in {b}.",
        "money": "{cur} Forderungsbetrag: {da} in {a}, {db} in {b} ({dd}); Gebühren {fees}, "
        "Zinsen {interest}, Pauschalen {flat}.",
        "expected": "{cur} erwarteter Zahlungseingang: {ra} in {a}, {rb} in {b} ({rd}); "
        "erwartete Kosten: {ca} in {a}, {cb} in {b} ({cd}).",
        "note": "Hinweis: {text}",
    },
}


def _summary_lines(comparison: Comparison, lang: str) -> list[str]:
    locale = _LOCALES[lang]
    text = _TEXT[lang]
    la, lb = comparison.labels
    totals = comparison.totals
    day_a, day_b = (format_date(d, format="medium", locale=locale) for d in comparison.as_of)
    day = day_a if day_a == day_b else f"{day_a} / {day_b}"

    def count(value: object) -> str:
        return (
            "–"
            if value is pd.NA or value is None
            else str(format_decimal(int(str(value)), locale=locale))
        )

    def share(value: object) -> str:
        fraction = float(str(value))
        if np.isnan(fraction):
            return "–"
        pct = Decimal(repr(fraction * 100)).quantize(Decimal("0.1"))
        sep = " " if lang == "de" else ""
        return f"{format_decimal(pct, format='#,##0.0', locale=locale)}{sep}%"

    def money(value: object, cur: str) -> str:
        if not isinstance(value, Decimal):
            return "–"
        return str(format_currency(value, cur, locale=locale))

    def signed(value: object, cur: str) -> str:
        if not isinstance(value, Decimal):
            return "–"
        formatted = money(abs(value), cur)
        return ("+" if value > 0 else "-" if value < 0 else "±") + formatted

    every = totals.loc["all"]
    lines = [
        text["title"].format(a=la, b=lb, day=day, unit=text[comparison.grouping]),
        text["letters"].format(
            a=la,
            b=lb,
            na=count(every["letters_a"]),
            nb=count(every["letters_b"]),
            changed=count(every["changed"]),
            new=count(every["new_letters"]),
            dropped=count(every["dropped_letters"]),
        ),
        text["review"].format(
            a=la,
            b=lb,
            ra=count(every["review_a"]),
            rb=count(every["review_b"]),
            na=count(every["letters_a"]),
            nb=count(every["letters_b"]),
            sa=share(every["review_share_a"]),
            sb=share(every["review_share_b"]),
        ),
    ]
    for cur, row in totals.drop(index="all").iterrows():
        c = str(cur)
        lines.append(
            text["money"].format(
                cur=c,
                a=la,
                b=lb,
                da=money(row["amount_due_a"], c),
                db=money(row["amount_due_b"], c),
                dd=signed(row["amount_due_diff"], c),
                fees=signed(row["fees_diff"], c),
                interest=signed(row["interest_diff"], c),
                flat=signed(row["flat_fees_diff"], c),
            )
        )
        lines.append(
            text["expected"].format(
                cur=c,
                a=la,
                b=lb,
                ra=money(row["expected_recovery_a"], c),
                rb=money(row["expected_recovery_b"], c),
                rd=signed(row["expected_recovery_diff"], c),
                ca=money(row["expected_cost_a"], c),
                cb=money(row["expected_cost_b"], c),
                cd=signed(row["expected_cost_diff"], c),
            )
        )
    notes = comparison.notes_de if lang == "de" else comparison.notes
    lines.extend(text["note"].format(text=n) for n in notes)
    return lines
