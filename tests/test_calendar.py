"""Business days by country and state: holidays, rolls, offsets, § 193 BGB deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dunning.calendar import BusinessCalendar, _holiday_year, supported_subdivisions
from dunning.errors import DataError, PolicyError

DE = BusinessCalendar("DE")
ENG = BusinessCalendar("GB", "ENG")


@pytest.mark.parametrize(
    "day", [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1), date(2026, 10, 3)]
)
def test_german_nationwide_holidays_are_not_business_days(day: date) -> None:
    """Christmas, Boxing Day, New Year and German Unity Day are holidays in every state."""
    assert not DE.is_business_day(day)
    for state in ("BY", "NW", "BE", "HH"):
        assert not BusinessCalendar("DE", state).is_business_day(day)


def test_christmas_eve_and_new_years_eve_are_business_days() -> None:
    """24 and 31 December 2026 (Thursdays) are ordinary business days in Germany."""
    assert DE.is_business_day(date(2026, 12, 24))
    assert DE.is_business_day(date(2026, 12, 31))


@pytest.mark.parametrize(
    ("state", "business_day"), [("BY", False), ("NW", False), ("BE", True), ("HH", True)]
)
def test_corpus_christi_2026_depends_on_the_state(state: str, business_day: bool) -> None:
    """Fronleichnam (Thu 2026-06-04) is a holiday in Bavaria and NRW, not in Berlin or Hamburg."""
    assert BusinessCalendar("DE", state).is_business_day(date(2026, 6, 4)) is business_day


def test_nationwide_german_calendar_ignores_state_holidays() -> None:
    """Without a state, Corpus Christi and Epiphany are business days; 9 holidays in 2026."""
    assert DE.is_business_day(date(2026, 6, 4))
    assert DE.is_business_day(date(2026, 1, 6))
    assert len(DE.holidays_in(2026)) == 9


def test_holiday_names_are_in_the_countrys_language() -> None:
    """German names for DE and English for GB, whatever the machine's locale."""
    assert BusinessCalendar("DE", "NW").holiday_name(date(2026, 6, 4)) == "Fronleichnam"
    assert DE.holiday_name(date(2026, 12, 25)) == "Erster Weihnachtstag"
    assert ENG.holiday_name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert DE.holiday_name(date(2026, 12, 24)) is None


def test_english_bank_holidays_2026_with_substitute_day() -> None:
    """Boxing Day 2026 is a Saturday, so Monday 2026-12-28 is the substitute bank holiday."""
    assert not ENG.is_business_day(date(2026, 12, 25))
    assert not ENG.is_business_day(date(2026, 12, 26))
    assert not ENG.is_business_day(date(2026, 12, 28))
    assert ENG.is_business_day(date(2026, 12, 29))
    assert sorted(ENG.holidays_in(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2026, 12, 28),
    ]


def test_august_bank_holiday_differs_between_england_and_scotland() -> None:
    """England rests on the last Monday of August, Scotland on the first."""
    scotland = BusinessCalendar("GB", "SCT")
    assert not ENG.is_business_day(date(2026, 8, 31))
    assert scotland.is_business_day(date(2026, 8, 31))
    assert not scotland.is_business_day(date(2026, 8, 3))
    assert ENG.is_business_day(date(2026, 8, 3))


def test_weekends_are_never_business_days() -> None:
    """Saturday 2026-11-28 and Sunday 2026-11-29 are not business days; Monday is."""
    assert not DE.is_business_day(date(2026, 11, 28))
    assert not DE.is_business_day(date(2026, 11, 29))
    assert DE.is_business_day(date(2026, 11, 30))


def test_next_business_day_keeps_a_business_day_and_skips_christmas() -> None:
    """A business day stays; Fri 25 Dec 2026 (then Sat holiday, Sunday) moves to Mon 28 Dec."""
    assert DE.next_business_day(date(2026, 12, 23)) == date(2026, 12, 23)
    assert DE.next_business_day(date(2026, 12, 25)) == date(2026, 12, 28)
    assert ENG.next_business_day(date(2026, 12, 25)) == date(2026, 12, 29)


def test_previous_business_day_crosses_the_year() -> None:
    """New Year's Day 2027 (Friday) rolls back to Thursday 2026-12-31."""
    assert DE.previous_business_day(date(2027, 1, 1)) == date(2026, 12, 31)
    assert DE.previous_business_day(date(2027, 1, 4)) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("day", "convention", "expected"),
    [
        (date(2026, 10, 31), "following", date(2026, 11, 2)),  # Saturday -> Monday
        (date(2026, 10, 31), "preceding", date(2026, 10, 30)),  # Saturday -> Friday
        (date(2026, 10, 31), "modified_following", date(2026, 10, 30)),  # stays in October
        (date(2026, 11, 1), "following", date(2026, 11, 2)),  # Sunday -> Monday
        (date(2026, 11, 1), "modified_following", date(2026, 11, 2)),  # same month
        (date(2026, 11, 1), "preceding", date(2026, 10, 30)),
        (date(2026, 5, 30), "modified_following", date(2026, 5, 29)),
        (date(2026, 11, 2), "preceding", date(2026, 11, 2)),  # business days stay
    ],
)
def test_roll_conventions_on_weekends(day: date, convention: str, expected: date) -> None:
    """Weekend days roll forward, backward, or forward within the month."""
    assert DE.roll(day, convention) == expected  # type: ignore[arg-type]


def test_roll_rejects_an_unknown_convention() -> None:
    """An unknown roll convention raises PolicyError naming the parameter."""
    with pytest.raises(PolicyError, match="unknown roll convention 'backward'") as info:
        DE.roll(date(2026, 10, 31), "backward")  # type: ignore[arg-type]
    assert info.value.field == "convention"


def test_deadline_on_a_sunday_rolls_to_monday_section_193_bgb() -> None:
    """Received 2026-05-01, day 30 is Sunday 2026-05-31: the deadline is Monday 2026-06-01."""
    assert DE.deadline(date(2026, 5, 1), 30) == date(2026, 6, 1)


def test_deadline_on_a_business_day_is_not_moved() -> None:
    """Due and received 2026-03-02: the 30-day period ends on Wednesday 2026-04-01."""
    assert DE.deadline(date(2026, 3, 2), 30) == date(2026, 4, 1)


def test_deadline_skips_a_state_holiday() -> None:
    """A deadline on Corpus Christi moves to Friday in Bavaria, not in Berlin."""
    start = date(2026, 6, 4) - timedelta(days=14)
    assert BusinessCalendar("DE", "BY").deadline(start, 14) == date(2026, 6, 5)
    assert BusinessCalendar("DE", "BE").deadline(start, 14) == date(2026, 6, 4)


def test_deadline_rejects_negative_days() -> None:
    """A period of -1 days is a PolicyError."""
    with pytest.raises(PolicyError, match="whole number of days >= 0"):
        DE.deadline(date(2026, 5, 1), -1)


def test_add_business_days_over_christmas_and_backwards() -> None:
    """Adding counts business days only; negative n counts backwards."""
    assert DE.add_business_days(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert DE.add_business_days(date(2026, 12, 23), 2) == date(2026, 12, 28)
    assert DE.add_business_days(date(2026, 12, 23), 5) == date(2026, 12, 31)
    assert DE.add_business_days(date(2026, 12, 23), 6) == date(2027, 1, 4)
    assert DE.add_business_days(date(2027, 1, 4), -6) == date(2026, 12, 23)
    assert DE.add_business_days(date(2026, 12, 26), 0) == date(2026, 12, 28)


def test_add_business_days_counts_from_a_weekend_day_itself() -> None:
    """One business day after Saturday 26 Dec is Monday 28 Dec; one before is Thursday 24 Dec."""
    assert DE.add_business_days(date(2026, 12, 26), 1) == date(2026, 12, 28)
    assert DE.add_business_days(date(2026, 12, 26), -1) == date(2026, 12, 24)
    assert DE.add_business_days(date(2026, 12, 27), 2) == date(2026, 12, 29)


def test_add_business_days_over_many_years_matches_a_day_by_day_count() -> None:
    """500 business days ahead equals stepping day by day over the scalar check."""
    day, left = date(2026, 1, 2), 500
    while left:
        day += timedelta(days=1)
        left -= DE.is_business_day(day)
    assert DE.add_business_days(date(2026, 1, 2), 500) == day


def test_count_business_days_is_half_open() -> None:
    """21 Dec 2026 to 4 Jan 2027 (end excluded) has 8 business days in Germany."""
    assert DE.count_business_days(date(2026, 12, 21), date(2027, 1, 4)) == 8
    assert DE.count_business_days(date(2027, 1, 4), date(2026, 12, 21)) == -8


def test_array_check_agrees_with_the_scalar_check_for_two_years() -> None:
    """Every day of 2026-2027 gets the same answer vectorised as one by one (NRW)."""
    cal = BusinessCalendar("DE", "NW")
    days = [date(2026, 1, 1) + timedelta(days=k) for k in range(730)]
    expected = np.array([cal.is_business_day(day) for day in days])
    got = cal.is_business_day_array(np.array(days, dtype="datetime64[D]"))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)
    # 261 + 261 weekdays; NRW weekday holidays: 8 in 2026 and 7 in 2027.
    assert int(expected.sum()) == 507


def test_array_check_accepts_pandas_series_with_missing_values() -> None:
    """A datetime64[ns] Series with NaT and times of day gives False for NaT."""
    raw = ["2026-12-24 17:30", "2026-12-25", None, "2026-12-28"]
    dates = pd.Series(pd.to_datetime(raw, format="ISO8601"))  # type: ignore[arg-type]
    assert ENG.is_business_day_array(dates).tolist() == [True, False, False, False]


def test_array_check_accepts_dates_strings_and_time_zones() -> None:
    """Object arrays of dates, ISO strings and tz-aware Series are read as local dates."""
    objects = np.array([date(2026, 6, 4), None, date(2026, 6, 5)], dtype=object)
    assert BusinessCalendar("DE", "BY").is_business_day_array(objects).tolist() == [
        False,
        False,
        True,
    ]
    assert DE.is_business_day_array(np.array(["2026-10-03", "2026-10-05"])).tolist() == [
        False,
        True,
    ]
    aware = pd.Series(pd.to_datetime(["2026-12-24 23:30"]).tz_localize("Europe/Berlin"))
    assert DE.is_business_day_array(aware).tolist() == [True]
    assert DE.is_business_day_array(pd.Series([], dtype="datetime64[ns]")).tolist() == []


def test_array_check_rejects_values_that_are_not_dates() -> None:
    """Text that is no date raises DataError naming the accepted forms."""
    with pytest.raises(DataError, match="cannot read the values as dates"):
        DE.is_business_day_array(np.array(["soon"]))


def test_placeholder_dates_fail_instead_of_generating_centuries() -> None:
    """A 9999-12-31 placeholder among 2026 dates raises DataError."""
    with pytest.raises(DataError, match="placeholders such as 9999-12-31"):
        DE.is_business_day_array(np.array(["2026-01-05", "9999-12-31"], dtype="datetime64[D]"))


def test_holiday_lists_are_cached_per_country_subdivision_and_year() -> None:
    """A second calendar for the same state and year reuses the cached holiday list."""
    first = BusinessCalendar("DE", "SL").holidays_in(2031)
    hits = _holiday_year.cache_info().hits
    second = BusinessCalendar("DE", "SL").holidays_in(2031)
    assert second == first
    assert _holiday_year.cache_info().hits == hits + 1
    assert BusinessCalendar("DE", "SL") == BusinessCalendar("DE", "SL")
    assert len({BusinessCalendar("DE", "SL"), BusinessCalendar("DE", "SL")}) == 1


def test_datetimes_count_as_their_date() -> None:
    """A datetime or pandas Timestamp is treated as its calendar day."""
    assert DE.next_business_day(datetime(2026, 12, 25, 9, 30)) == date(2026, 12, 28)
    assert not DE.is_business_day(pd.Timestamp("2026-12-25 10:00"))


def test_non_dates_raise_type_error() -> None:
    """A string is not a date for the scalar methods."""
    with pytest.raises(TypeError, match=r"must be a datetime\.date"):
        DE.is_business_day("2026-12-25")  # type: ignore[arg-type]


def test_unknown_country_and_subdivision_name_the_field() -> None:
    """'UK' is not a country code (hint: GB); 'XX' is not a German state."""
    with pytest.raises(PolicyError, match="Use 'GB' for the United Kingdom") as info:
        BusinessCalendar("UK")
    assert info.value.field == "country"
    with pytest.raises(PolicyError, match="unknown subdivision 'XX' of 'DE'") as info:
        BusinessCalendar("DE", "XX")
    assert info.value.field == "subdivision"


def test_supported_subdivisions_lists_the_german_states() -> None:
    """All 16 German states are known by their ISO 3166-2 suffix."""
    states = set(supported_subdivisions("DE"))
    assert {"BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV"} <= states
    assert {"NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH"} <= states
