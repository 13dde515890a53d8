"""Dunning levels: which letter an overdue invoice gets next, by days overdue.

Levels (Mahnstufen)
-------------------
=====  =======================  ======================  ============================
level  German                   English                 assigned from
=====  =======================  ======================  ============================
0      (kein neues Schreiben)   (no new letter)         not yet due / too soon
1      Zahlungserinnerung       payment reminder        1 day overdue
2      1. Mahnung               first reminder          15 days overdue
3      2. Mahnung               second reminder         30 days overdue
4      letzte Mahnung           final notice            45 days overdue
5      Übergabe Inkasso         hand-over to collection never automatically
=====  =======================  ======================  ============================

The table is the German default policy (``Policy.default("DE")``); every number in it is
configuration (:class:`dunning.policy.Policy`, see ``docs/policy.md``). Rules of
:func:`assign_levels`, applied per invoice:

1. The *target* level follows days overdue: the ``days_after_due`` of each automatic level
   (:data:`LEVEL_THRESHOLDS` in the default).
2. A run moves an invoice at most **one level** above the level already issued, so a
   customer never skips a stage (an invoice 60 days overdue that was never dunned gets
   a payment reminder first).
3. No new letter (level 0) when that next level is not above the level already issued,
   when fewer than the level's ``days_after_previous`` (and the policy's
   ``min_days_between_letters``; :data:`MIN_DAYS_BETWEEN_LETTERS` in the default) days have
   passed since the last letter for the invoice, within the policy's ``grace_days``, or
   when the open amount is below ``min_open_amount``.
4. Only automatic levels are assigned: up to :attr:`dunning.policy.Policy.max_automatic_level`
   (:data:`MAX_AUTOMATIC_LEVEL` = 4 in the default). Level 5 (hand-over to a collection
   agency) is a human decision and is never assigned by these rules.

Examples
--------
>>> import numpy as np
>>> assign_levels(np.array([0, 1, 15, 60]), np.array([0, 0, 1, 0])).tolist()
[0, 1, 2, 1]
>>> LEVEL_NAMES[2]["de"], LEVEL_NAMES[2]["en"]
('1. Mahnung', 'first reminder')
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from dunning.errors import DataError
from dunning.money import to_minor
from dunning.policy import MAX_LEVEL, Policy

__all__ = [
    "LEVEL_NAMES",
    "LEVEL_THRESHOLDS",
    "MAX_AUTOMATIC_LEVEL",
    "MIN_DAYS_BETWEEN_LETTERS",
    "assign_levels",
    "level_names",
    "level_reasons",
]

#: Level names by level and language (``"de"``, ``"en"``); read-only.
LEVEL_NAMES: Mapping[int, Mapping[str, str]] = MappingProxyType(
    {
        1: MappingProxyType({"de": "Zahlungserinnerung", "en": "payment reminder"}),
        2: MappingProxyType({"de": "1. Mahnung", "en": "first reminder"}),
        3: MappingProxyType({"de": "2. Mahnung", "en": "second reminder"}),
        4: MappingProxyType({"de": "letzte Mahnung", "en": "final notice"}),
        5: MappingProxyType({"de": "Übergabe Inkasso", "en": "hand-over to collection"}),
    }
)

#: Days overdue from which levels 1, 2, 3 and 4 are due (index 0 is level 1).
LEVEL_THRESHOLDS: tuple[int, ...] = (1, 15, 30, 45)

#: Highest level the rules assign on their own (level 5 is a human decision).
MAX_AUTOMATIC_LEVEL: int = len(LEVEL_THRESHOLDS)

#: Minimum calendar days between two letters for the same invoice.
MIN_DAYS_BETWEEN_LETTERS: int = 14


def _rules(policy: Policy | None) -> tuple[Policy, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The policy, the days-overdue threshold and the gap of automatic levels 1 .. L.

    Index ``i`` of both arrays is level ``i + 1``. A level without ``days_after_due`` takes
    the threshold of the level before it (it is then timed by its gap alone); the gap of
    level 1 and any gap below the policy's ``min_days_between_letters`` is raised to it.
    """
    rules = Policy.default("DE") if policy is None else policy
    thresholds: list[int] = []
    gaps: list[int] = []
    for rule in rules.levels[: rules.max_automatic_level]:
        previous = thresholds[-1] if thresholds else 1
        thresholds.append(previous if rule.days_after_due is None else rule.days_after_due)
        gaps.append(max(rule.days_after_previous or 0, rules.min_days_between_letters))
    return rules, np.array(thresholds, dtype=np.int64), np.array(gaps, dtype=np.int64)


def assign_levels(
    days_overdue: npt.ArrayLike,
    last_level: npt.ArrayLike,
    days_since_last: npt.ArrayLike | None = None,
    *,
    policy: Policy | None = None,
    open_minor: npt.ArrayLike | None = None,
    min_open_minor: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """The dunning level each invoice gets in this run, or 0 for no new letter.

    Vectorised over invoices; see the module docstring for the rules.

    Parameters
    ----------
    days_overdue : array-like of int
        ``as_of - due_date`` in calendar days (0 or negative: not overdue).
    last_level : array-like of int
        Highest level already issued for the invoice (0 for none).
    days_since_last : array-like of float, optional
        Calendar days since the last letter for the invoice; ``NaN`` where there was
        none. ``None`` means no invoice was dunned recently enough to matter.
    policy : Policy, optional
        Thresholds (``days_after_due``), gaps (``days_after_previous``,
        ``min_days_between_letters``), ``grace_days``, ``min_open_amount`` and the highest
        automatic level. Default ``Policy.default("DE")``: 1/15/30/45 days, 14-day gap,
        levels 1 to 4, no grace days, minimum open amount 5.00.
    open_minor : array-like of int, optional
        Open amount of each invoice in minor units (cents). With it, invoices whose open
        amount is below the minimum get no letter; without it the minimum is not checked.
    min_open_minor : array-like of int or int, optional
        The minimum open amount in minor units, per invoice or for all. Default: the
        policy's ``min_open_amount`` in the minor unit of the policy's currency.

    Returns
    -------
    numpy.ndarray of int64
        The new level (1 to the policy's highest automatic level), or 0 when no new letter
        is due.

    Raises
    ------
    DataError
        If the arrays differ in length or ``last_level`` is negative or above 5.

    Examples
    --------
    Target by days overdue, at most one level above the level already issued, and
    14 days between letters:

    >>> import numpy as np
    >>> days = np.array([-3, 1, 14, 15, 29, 30, 44, 45, 90])
    >>> assign_levels(days, np.zeros(9, dtype=int)).tolist()
    [0, 1, 1, 1, 1, 1, 1, 1, 1]
    >>> assign_levels(days, np.array([0, 0, 0, 1, 1, 2, 2, 3, 4])).tolist()
    [0, 1, 1, 2, 2, 3, 3, 4, 0]
    >>> assign_levels([20, 20], [1, 1], [13.0, 14.0]).tolist()
    [0, 2]

    Open amounts below the minimum (5.00 in the German default) get no letter:

    >>> assign_levels([20, 20], [0, 0], open_minor=[499, 500]).tolist()
    [0, 1]
    """
    rules, thresholds, gaps = _rules(policy)
    days = np.asarray(days_overdue, dtype=np.int64)
    last = np.asarray(last_level, dtype=np.int64)
    if days.shape != last.shape or days.ndim != 1:
        msg = (
            f"assign_levels: days_overdue {days.shape} and last_level {last.shape} must be "
            "one-dimensional arrays of the same length (one entry per invoice)."
        )
        raise DataError(msg)
    if last.size and (last.min() < 0 or last.max() > MAX_LEVEL):
        msg = (
            f"assign_levels: last_level must be between 0 and {MAX_LEVEL}; "
            f"got values from {last.min()} to {last.max()}. Check the dunning history."
        )
        raise DataError(msg)

    target = np.zeros(days.shape, dtype=np.int64)
    for threshold in thresholds:
        target += days >= threshold
    step = np.minimum(target, last + 1)
    due = (step > last) & (days > rules.grace_days)
    if days_since_last is not None:
        since = np.asarray(days_since_last, dtype=np.float64)
        if since.shape != days.shape:
            msg = (
                f"assign_levels: days_since_last {since.shape} must have the same length "
                f"as days_overdue {days.shape}."
            )
            raise DataError(msg)
        gap = gaps[np.clip(step, 1, max(len(gaps), 1)) - 1] if gaps.size else np.zeros_like(step)
        due &= np.isnan(since) | (since >= gap)
    if open_minor is not None:
        amounts = np.asarray(open_minor, dtype=np.int64)
        if amounts.shape != days.shape:
            msg = (
                f"assign_levels: open_minor {amounts.shape} must have the same length as "
                f"days_overdue {days.shape}."
            )
            raise DataError(msg)
        if min_open_minor is None:
            minimum: npt.ArrayLike = to_minor(rules.min_open_amount, rules.currency)
        else:
            minimum = min_open_minor
        due &= amounts >= np.asarray(minimum, dtype=np.int64)
    return np.where(due, step, 0).astype(np.int64)


def level_names(
    levels: npt.ArrayLike, lang: Literal["de", "en"], policy: Policy | None = None
) -> npt.NDArray[np.str_]:
    """Level names for an array of levels in ``lang``; level 0 gives an empty string.

    Parameters
    ----------
    levels : array-like of int
        Levels 0 to the policy's highest level.
    lang : {"de", "en"}
        Language of the names.
    policy : Policy, optional
        Whose level names (``name_de`` / ``name_en``); default :data:`LEVEL_NAMES`, the
        names of ``Policy.default("DE")``.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> level_names([0, 1, 4], "en").tolist()
    ['', 'payment reminder', 'final notice']
    >>> level_names([2], "en", Policy.default("GB")).tolist()
    ['overdue notice']
    """
    if policy is None:
        names = [LEVEL_NAMES[level][lang] for level in sorted(LEVEL_NAMES)]
    else:
        names = [rule.name(lang) for rule in policy.levels]
    table = np.array(["", *names])
    return table[np.asarray(levels, dtype=np.int64)]


def _text(values: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Integers (or strings) as an object array of str, for vectorised concatenation."""
    return np.asarray(values).astype(str).astype(object)


def level_reasons(
    days_overdue: npt.ArrayLike,
    last_level: npt.ArrayLike,
    level: npt.ArrayLike,
    days_since_last: npt.ArrayLike | None = None,
    *,
    policy: Policy | None = None,
    below_minimum: npt.ArrayLike | None = None,
    blocked: npt.ArrayLike | None = None,
    blocked_reason: tuple[str, str] = ("disputed", "bestritten"),
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Why each invoice got its level (or no letter), in English and German.

    The rule trace of :func:`assign_levels`, vectorised (no per-row Python).

    Parameters
    ----------
    days_overdue, last_level, days_since_last, policy
        As for :func:`assign_levels`.
    level : array-like of int
        The levels :func:`assign_levels` (or a later rule) gave.
    below_minimum : array-like of bool, optional
        Invoices whose open amount is below the policy's ``min_open_amount``.
    blocked : array-like of bool, optional
        Invoices that get no letter for a reason outside these rules (a dispute, a hold).
    blocked_reason : (str, str)
        That reason in English and German.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Object arrays of English and German texts.

    Examples
    --------
    >>> en, de = level_reasons([20, 20, 3, 50], [1, 1, 0, 4], [0, 2, 1, 0], [13.0, 14.0, None, 5.0])
    >>> print(*en, sep="\\n")
    no letter: last letter 13 days ago, the next after 14
    level 2: 20 days overdue (from 15), 14 days after level 1
    level 1: 3 days overdue (from 1)
    no letter: level 4 reached, the next level needs a clerk
    >>> de[1]
    'Stufe 2: 20 Tage überfällig (ab 15), 14 Tage nach Stufe 1'
    """
    rules, thresholds, gaps = _rules(policy)
    days = np.asarray(days_overdue, dtype=np.int64)
    last = np.asarray(last_level, dtype=np.int64)
    new = np.asarray(level, dtype=np.int64)
    n = days.size
    top = rules.max_automatic_level
    since = (
        np.full(n, np.nan)
        if days_since_last is None
        else np.asarray(days_since_last, dtype=np.float64)
    )
    known = ~np.isnan(since)
    since_int = np.where(known, since, 0).astype(np.int64)
    step = np.clip(last + 1, 1, max(top, 1))
    gap = gaps[step - 1] if gaps.size else np.zeros(n, dtype=np.int64)
    threshold_new = thresholds[np.clip(new, 1, max(top, 1)) - 1] if thresholds.size else new
    threshold_next = thresholds[step - 1] if thresholds.size else step
    low = np.zeros(n, bool) if below_minimum is None else np.asarray(below_minimum, dtype=bool)
    stop = np.zeros(n, bool) if blocked is None else np.asarray(blocked, dtype=bool)

    d, lv, lt = _text(days), _text(last), _text(new)
    s, g = _text(since_int), _text(gap)
    tn, tx = _text(threshold_new), _text(threshold_next)
    after = known & (last > 0)
    en_new = "level " + lt + ": " + d + " days overdue (from " + tn + ")"
    de_new = "Stufe " + lt + ": " + d + " Tage überfällig (ab " + tn + ")"
    en_new = np.where(after, en_new + ", " + s + " days after level " + lv, en_new)
    de_new = np.where(after, de_new + ", " + s + " Tage nach Stufe " + lv, de_new)

    conditions = [
        new > 0,
        stop,
        days <= 0,
        last >= top,
        days <= rules.grace_days,
        known & (since < gap) & (days >= threshold_next),
        low,
        last == 0,
    ]
    english = [
        en_new,
        np.full(n, f"no letter: {blocked_reason[0]}", dtype=object),
        np.full(n, "no letter: not yet due", dtype=object),
        "no letter: level " + lv + " reached, the next level needs a clerk",
        np.full(n, f"no letter: within the {rules.grace_days} grace days", dtype=object),
        "no letter: last letter " + s + " days ago, the next after " + g,
        np.full(n, "no letter: open amount below the minimum", dtype=object),
        "no letter: " + d + " days overdue, level 1 from day " + tx,
    ]
    german = [
        de_new,
        np.full(n, f"kein Schreiben: {blocked_reason[1]}", dtype=object),
        np.full(n, "kein Schreiben: noch nicht fällig", dtype=object),
        "kein Schreiben: Stufe " + lv + " erreicht, die nächste Stufe entscheidet ein Mensch",
        np.full(n, f"kein Schreiben: innerhalb der {rules.grace_days} Karenztage", dtype=object),
        "kein Schreiben: letztes Schreiben vor " + s + " Tagen, das nächste nach " + g,
        np.full(n, "kein Schreiben: offener Betrag unter dem Mindestbetrag", dtype=object),
        "kein Schreiben: " + d + " Tage überfällig, Stufe 1 ab Tag " + tx,
    ]
    default_en = (
        "no letter: level " + lv + " already sent; level " + _text(step) + " from day " + tx
    )
    default_de = (
        "kein Schreiben: Stufe "
        + lv
        + " bereits verschickt; Stufe "
        + _text(step)
        + " ab Tag "
        + tx
    )
    return (
        np.select(conditions, english, default=default_en).astype(object),
        np.select(conditions, german, default=default_de).astype(object),
    )
