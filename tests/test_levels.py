"""Dunning levels by days overdue, one step at a time, 14 days between letters."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from dunning.errors import DataError
from dunning.levels import LEVEL_NAMES, assign_levels, level_names
from dunning.policy import Policy

AS_OF = date(2026, 11, 23)


def _days(due: date) -> int:
    return (AS_OF - due).days


def _one(due: date, last_level: int = 0, last_letter: date | None = None) -> int:
    since = np.nan if last_letter is None else float((AS_OF - last_letter).days)
    return int(assign_levels([_days(due)], [last_level], [since])[0])


def test_not_yet_overdue_gets_no_letter() -> None:
    """An invoice due today or later gets no letter."""
    assert _one(date(2026, 11, 23)) == 0
    assert _one(date(2026, 12, 1)) == 0


def test_first_day_overdue_gets_payment_reminder() -> None:
    """Due on 22 November, on 23 November it is 1 day overdue: payment reminder."""
    assert _one(date(2026, 11, 22)) == 1


def test_thresholds_on_exact_dates() -> None:
    """Levels 2, 3 and 4 start exactly on days 15, 30 and 45 after the due date."""
    assert _one(date(2026, 11, 9), last_level=1) == 0  # day 14: level 1 already issued
    assert _one(date(2026, 11, 8), last_level=1) == 2  # day 15
    assert _one(date(2026, 10, 25), last_level=2) == 0  # day 29: level 2 already issued
    assert _one(date(2026, 10, 24), last_level=2) == 3  # day 30
    assert _one(date(2026, 10, 10), last_level=3) == 0  # day 44: level 3 already issued
    assert _one(date(2026, 10, 9), last_level=3) == 4  # day 45


def test_at_most_one_level_up() -> None:
    """An invoice 90 days overdue and never dunned gets a payment reminder, not a final notice."""
    assert _one(date(2026, 8, 25)) == 1
    assert _one(date(2026, 8, 25), last_level=2, last_letter=date(2026, 11, 1)) == 3


def test_fourteen_days_between_letters() -> None:
    """A letter 13 days ago blocks the next level; 14 days ago allows it."""
    due = date(2026, 10, 1)  # 53 days overdue
    assert _one(due, last_level=1, last_letter=date(2026, 11, 10)) == 0
    assert _one(due, last_level=1, last_letter=date(2026, 11, 9)) == 2


def test_final_notice_is_the_last_automatic_level() -> None:
    """After the final notice nothing is assigned: hand-over to collection is a human decision."""
    assert _one(date(2026, 1, 1), last_level=4, last_letter=date(2026, 6, 1)) == 0
    assert _one(date(2026, 1, 1), last_level=5, last_letter=date(2026, 6, 1)) == 0
    assert LEVEL_NAMES[5]["de"] == "Übergabe Inkasso"


def test_vectorised_without_days_since_last() -> None:
    """Without days_since_last only days overdue and the last level count."""
    days = np.array([0, 1, 15, 30, 45, 45])
    last = np.array([0, 0, 1, 2, 3, 0])
    assert assign_levels(days, last).tolist() == [0, 1, 2, 3, 4, 1]


def test_level_names_both_languages() -> None:
    """Each level has a German and an English name; level 0 has none."""
    assert level_names([0, 1, 2, 3, 4], "de").tolist() == [
        "",
        "Zahlungserinnerung",
        "1. Mahnung",
        "2. Mahnung",
        "letzte Mahnung",
    ]
    assert level_names([4], "en").tolist() == ["final notice"]


def test_bad_input_raises_data_error() -> None:
    """Arrays of different length or an impossible last level raise DataError."""
    with pytest.raises(DataError, match="same length"):
        assign_levels([1, 2], [0])
    with pytest.raises(DataError, match="between 0 and 5"):
        assign_levels([1], [7])
    with pytest.raises(DataError, match="days_since_last"):
        assign_levels([1], [0], [1.0, 2.0])


def test_german_default_policy_exact_dates() -> None:
    """Policy.default("DE"): due 2026-11-08 -> reminder on 11-09, 1st reminder on 11-23."""
    policy = Policy.default("DE")
    due = date(2026, 11, 8)

    def level(on: date, last: int = 0, letter: date | None = None) -> int:
        since = np.nan if letter is None else float((on - letter).days)
        return int(assign_levels([(on - due).days], [last], [since], policy=policy)[0])

    assert level(date(2026, 11, 8)) == 0
    assert level(date(2026, 11, 9)) == 1
    assert level(date(2026, 11, 22), 1, date(2026, 11, 9)) == 0  # 14 days overdue, 13 since
    assert level(date(2026, 11, 23), 1, date(2026, 11, 9)) == 2  # 15 days overdue, 14 since
    assert level(date(2026, 12, 8), 2, date(2026, 11, 23)) == 3  # 30 days overdue
    assert level(date(2026, 12, 23), 3, date(2026, 12, 8)) == 4  # 45 days overdue
    assert level(date(2027, 3, 1), 4, date(2026, 12, 23)) == 0  # level 5 is never automatic


def test_changed_policy_thresholds_gap_grace_and_minimum() -> None:
    """A policy with 7/30 days, a 21-day gap, 3 grace days and a 10.00 minimum."""
    base = Policy.default("DE").to_dict()
    base["grace_days"] = 3
    base["min_open_amount"] = "10.00"
    base["levels"] = base["levels"][:2]
    base["levels"][0]["days_after_due"] = 7
    base["levels"][1]["days_after_due"] = 30
    base["levels"][1]["days_after_previous"] = 21
    policy = Policy.from_dict(base)
    due = date(2026, 3, 2)

    def level(on: date, last: int = 0, letter: date | None = None, minor: int = 5000) -> int:
        since = np.nan if letter is None else float((on - letter).days)
        days = [(on - due).days]
        return int(assign_levels(days, [last], [since], policy=policy, open_minor=[minor])[0])

    assert level(date(2026, 3, 8)) == 0  # 6 days overdue
    assert level(date(2026, 3, 9)) == 1  # 7 days overdue
    assert level(date(2026, 3, 9), minor=999) == 0  # 9.99 is below the minimum
    assert level(date(2026, 3, 9), minor=1000) == 1
    assert level(date(2026, 4, 1), 1, date(2026, 3, 12)) == 0  # 30 overdue, 20 since
    assert level(date(2026, 4, 2), 1, date(2026, 3, 12)) == 2  # 31 overdue, 21 since
    assert level(date(2026, 6, 1), 2, date(2026, 4, 2)) == 0  # two levels only
    assert level_names([2], "en", policy).tolist() == ["first reminder"]
