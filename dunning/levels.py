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

Rules of :func:`assign_levels`, applied per invoice:

1. The *target* level follows days overdue (:data:`LEVEL_THRESHOLDS`).
2. A run moves an invoice at most **one level** above the level already issued, so a
   customer never skips a stage (an invoice 60 days overdue that was never dunned gets
   a payment reminder first).
3. No new letter (level 0) when that next level is not above the level already issued,
   or when fewer than :data:`MIN_DAYS_BETWEEN_LETTERS` days have passed since the last
   letter for the invoice.

Level 5 (hand-over to a collection agency) is a name only: it is a human decision and
is never assigned by these rules.

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

import numpy as np
import numpy.typing as npt

from dunning.errors import DataError

__all__ = [
    "LEVEL_NAMES",
    "LEVEL_THRESHOLDS",
    "MAX_AUTOMATIC_LEVEL",
    "MIN_DAYS_BETWEEN_LETTERS",
    "assign_levels",
    "level_names",
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


def assign_levels(
    days_overdue: npt.ArrayLike,
    last_level: npt.ArrayLike,
    days_since_last: npt.ArrayLike | None = None,
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

    Returns
    -------
    numpy.ndarray of int64
        The new level (1 to 4), or 0 when no new letter is due.

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
    """
    days = np.asarray(days_overdue, dtype=np.int64)
    last = np.asarray(last_level, dtype=np.int64)
    if days.shape != last.shape or days.ndim != 1:
        msg = (
            f"assign_levels: days_overdue {days.shape} and last_level {last.shape} must be "
            "one-dimensional arrays of the same length (one entry per invoice)."
        )
        raise DataError(msg)
    if last.size and (last.min() < 0 or last.max() > max(LEVEL_NAMES)):
        msg = (
            f"assign_levels: last_level must be between 0 and {max(LEVEL_NAMES)}; "
            f"got values from {last.min()} to {last.max()}. Check the dunning history."
        )
        raise DataError(msg)

    target = np.zeros(days.shape, dtype=np.int64)
    for threshold in LEVEL_THRESHOLDS:
        target += days >= threshold
    step = np.minimum(target, last + 1)
    due = step > last
    if days_since_last is not None:
        since = np.asarray(days_since_last, dtype=np.float64)
        if since.shape != days.shape:
            msg = (
                f"assign_levels: days_since_last {since.shape} must have the same length "
                f"as days_overdue {days.shape}."
            )
            raise DataError(msg)
        due &= np.isnan(since) | (since >= MIN_DAYS_BETWEEN_LETTERS)
    return np.where(due, step, 0).astype(np.int64)


def level_names(levels: npt.ArrayLike, lang: str) -> npt.NDArray[np.str_]:
    """Level names for an array of levels in ``lang``; level 0 gives an empty string.

    Parameters
    ----------
    levels : array-like of int
        Levels 0 to 5.
    lang : {"de", "en"}
        Language of the names.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> level_names([0, 1, 4], "en").tolist()
    ['', 'payment reminder', 'final notice']
    """
    table = np.array([""] + [LEVEL_NAMES[level][lang] for level in sorted(LEVEL_NAMES)])
    return table[np.asarray(levels, dtype=np.int64)]
