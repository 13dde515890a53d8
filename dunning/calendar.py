"""Business days: weekends and public holidays by country and state.

A :class:`BusinessCalendar` says which days are business days (Monday to Friday, except the
public holidays of a country and, optionally, one of its subdivisions such as a German
state). It moves dates to business days, counts and adds business days, and computes
deadlines the way §§ 187, 188 and 193 BGB do.

Holidays
    Holidays come from the `holidays <https://pypi.org/project/holidays/>`_ package (rules
    in code, no network), generated year by year and cached per (country, subdivision,
    year). Only the package's default category (``public``) counts: e.g. Assumption Day
    (15 August) in Bavaria is a holiday only in predominantly Catholic municipalities
    (category ``catholic``) and is *not* a holiday here. Holiday names are in the country's
    own language (German for ``DE``, British English for ``GB``), independent of the
    machine's locale.
Subdivisions
    German states by their ISO 3166-2 code without the country prefix (``"BY"`` Bavaria,
    ``"NW"`` North Rhine-Westphalia, ``"BE"`` Berlin, ...); the UK nations as ``"ENG"``,
    ``"NIR"``, ``"SCT"``, ``"WLS"``. Without a subdivision only the nationwide holidays
    count: for Germany that leaves out Corpus Christi, Epiphany, Reformation Day and others;
    for the UK it leaves out the August bank holiday, which England, Wales and Northern
    Ireland (last Monday) and Scotland (first Monday) keep on different days.
Weekends
    Saturday and Sunday are never business days (§ 193 BGB treats a Saturday like a
    Sunday).

Examples
--------
>>> from datetime import date
>>> cal = BusinessCalendar("DE", "BY")
>>> cal.is_business_day(date(2026, 6, 4))  # Fronleichnam (Corpus Christi) in Bavaria
False
>>> BusinessCalendar("DE", "BE").is_business_day(date(2026, 6, 4))
True
>>> cal.holiday_name(date(2026, 6, 4))
'Fronleichnam'
>>> cal.deadline(date(2026, 5, 1), 30)  # day 30 is Sunday 31 May: § 193 BGB moves it
datetime.date(2026, 6, 1)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Literal, TypeAlias

import holidays
import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError, PolicyError

__all__ = [
    "ROLL_CONVENTIONS",
    "WEEKMASK",
    "BusinessCalendar",
    "RollConvention",
    "supported_subdivisions",
]

logger = logging.getLogger(__name__)

#: How :meth:`BusinessCalendar.roll` moves a day that is not a business day.
RollConvention: TypeAlias = Literal["following", "preceding", "modified_following"]
#: The accepted roll conventions.
ROLL_CONVENTIONS: tuple[RollConvention, ...] = ("following", "preceding", "modified_following")
#: Business weekdays for :func:`numpy.busdaycalendar`: Monday to Friday.
WEEKMASK = "1111100"

# A business year has at least 261 - 16 = 245 business days; 240 keeps a safe margin when
# estimating how many years of holidays an offset of n business days can reach.
_MIN_BUSINESS_DAYS_PER_YEAR = 240
# Holiday lists are generated per year; a wider span is almost surely a placeholder date.
_MAX_YEAR_SPAN = 200


@cache
def _countries() -> dict[str, tuple[str, ...]]:
    return {
        code: tuple(subdivs)
        for code, subdivs in holidays.list_supported_countries(include_aliases=False).items()
    }


def supported_subdivisions(country: str) -> tuple[str, ...]:
    """The subdivision codes the calendar knows for ``country``.

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code, e.g. ``"DE"`` or ``"GB"``.

    Returns
    -------
    tuple of str
        Codes accepted as ``subdivision`` of :class:`BusinessCalendar`.

    Raises
    ------
    PolicyError
        If the country is unknown to the ``holidays`` package.

    Examples
    --------
    >>> supported_subdivisions("GB")
    ('ENG', 'NIR', 'SCT', 'WLS')
    >>> "NW" in supported_subdivisions("DE")
    True
    """
    countries = _countries()
    if country not in countries:
        hint = " Use 'GB' for the United Kingdom." if country.upper() == "UK" else ""
        msg = (
            f"unknown calendar country {country!r}: expected an ISO 3166-1 alpha-2 code "
            f"supported by the holidays package, such as 'DE' or 'GB'.{hint}"
        )
        raise PolicyError(msg, field="country")
    return countries[country]


@lru_cache(maxsize=4096)
def _holiday_year(country: str, subdivision: str | None, year: int) -> tuple[tuple[date, str], ...]:
    """Public holidays of one year, sorted by date (cached per country, subdivision, year)."""
    cls = holidays.country_holidays(country)
    table = holidays.country_holidays(
        country, subdiv=subdivision, years=year, language=cls.default_language
    )
    return tuple(sorted((day, str(name)) for day, name in table.items() if day.year == year))


@lru_cache(maxsize=256)
def _holiday_array(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> npt.NDArray[np.datetime64]:
    days = [
        day
        for year in range(first_year, last_year + 1)
        for day, _ in _holiday_year(country, subdivision, year)
    ]
    out = np.array(days, dtype="datetime64[D]")
    out.setflags(write=False)
    return out


def _as_date(value: date, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        msg = f"{name} must be a datetime.date, got {type(value).__name__} {value!r}."
        raise TypeError(msg)
    return value


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Business days of a country (and optionally one of its subdivisions).

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code: ``"DE"``, ``"GB"``, ... (any country of the ``holidays``
        package).
    subdivision : str or None
        A state or nation code of that country, e.g. ``"BY"``, ``"NW"`` (Germany) or
        ``"ENG"`` (England). ``None``: nationwide holidays only.

    Raises
    ------
    PolicyError
        If the country or the subdivision is unknown (``.field`` is ``"country"`` or
        ``"subdivision"``).

    Notes
    -----
    The calendar is a small immutable value; holiday lists are shared through a
    module-level cache, so creating many equal calendars costs nothing. Under § 193 BGB the
    holidays that count are those at the place of performance (for money debts usually the
    debtor's residence); choose the subdivision accordingly.

    Examples
    --------
    >>> from datetime import date
    >>> cal = BusinessCalendar("GB", "ENG")
    >>> cal.is_business_day(date(2026, 12, 28))  # Boxing Day (observed)
    False
    >>> cal.next_business_day(date(2026, 12, 25))
    datetime.date(2026, 12, 29)
    >>> BusinessCalendar("DE", "XX")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.PolicyError: unknown subdivision 'XX' of 'DE': expected one of BB, ..., TH, ...
    """

    country: str
    subdivision: str | None = None

    def __post_init__(self) -> None:
        known = supported_subdivisions(self.country)
        if self.subdivision is not None and self.subdivision not in known:
            msg = (
                f"unknown subdivision {self.subdivision!r} of {self.country!r}: expected one "
                f"of {', '.join(known) or '(none)'}, or None for nationwide holidays only."
            )
            raise PolicyError(msg, field="subdivision")

    # -- holidays -------------------------------------------------------------------------

    def holidays_in(self, year: int) -> dict[date, str]:
        """The public holidays of ``year`` with their names, in date order.

        Examples
        --------
        >>> from datetime import date
        >>> days = BusinessCalendar("DE").holidays_in(2026)
        >>> len(days), days[date(2026, 12, 26)]
        (9, 'Zweiter Weihnachtstag')
        """
        return dict(_holiday_year(self.country, self.subdivision, int(year)))

    def holiday_name(self, day: date) -> str | None:
        """The name of the public holiday on ``day``, or ``None``.

        Examples
        --------
        >>> from datetime import date
        >>> BusinessCalendar("GB", "ENG").holiday_name(date(2026, 12, 28))
        'Boxing Day (observed)'
        >>> BusinessCalendar("GB", "ENG").holiday_name(date(2026, 12, 29)) is None
        True
        """
        day = _as_date(day, "day")
        return self.holidays_in(day.year).get(day)

    def numpy_calendar(self, first_year: int, last_year: int) -> np.busdaycalendar:
        """A :class:`numpy.busdaycalendar` with the holidays of the years given (inclusive).

        For vectorised work with :func:`numpy.busday_offset` or :func:`numpy.busday_count`:
        dates outside ``first_year .. last_year`` see weekends only, so cover every year
        the dates (and any offsets) can reach.

        Raises
        ------
        DataError
            If the span is empty or wider than 200 years (usually a placeholder date).

        Examples
        --------
        >>> import numpy as np
        >>> busdaycal = BusinessCalendar("DE").numpy_calendar(2026, 2027)
        >>> np.busday_offset(np.datetime64("2026-12-24"), 1, busdaycal=busdaycal)
        np.datetime64('2026-12-28')
        """
        first, last = int(first_year), int(last_year)
        if last < first or last - first >= _MAX_YEAR_SPAN:
            msg = (
                f"calendar years {first}..{last}: expected a non-empty span of at most "
                f"{_MAX_YEAR_SPAN} years; check the dates for placeholders such as 9999-12-31."
            )
            raise DataError(msg)
        return np.busdaycalendar(
            weekmask=WEEKMASK,
            holidays=_holiday_array(self.country, self.subdivision, first, last),
        )

    def _around(self, day: date, n: int = 0) -> np.busdaycalendar:
        reach = abs(n) // _MIN_BUSINESS_DAYS_PER_YEAR + 1
        return self.numpy_calendar(day.year - reach, day.year + reach)

    # -- single days ----------------------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        """Whether ``day`` is a business day (Monday to Friday and not a public holiday).

        Examples
        --------
        >>> from datetime import date
        >>> cal = BusinessCalendar("DE")
        >>> cal.is_business_day(date(2026, 12, 24)), cal.is_business_day(date(2026, 12, 25))
        (True, False)
        >>> cal.is_business_day(date(2026, 11, 28))  # a Saturday
        False
        """
        day = _as_date(day, "day")
        return day.weekday() < 5 and self.holiday_name(day) is None

    def next_business_day(self, day: date) -> date:
        """``day`` itself if it is a business day, else the first business day after it.

        Examples
        --------
        >>> from datetime import date
        >>> cal = BusinessCalendar("DE")
        >>> cal.next_business_day(date(2026, 12, 24))
        datetime.date(2026, 12, 24)
        >>> cal.next_business_day(date(2026, 12, 25))  # Fri and Sat holidays, then Sunday
        datetime.date(2026, 12, 28)
        """
        return self.add_business_days(day, 0)

    def previous_business_day(self, day: date) -> date:
        """``day`` itself if it is a business day, else the last business day before it.

        Examples
        --------
        >>> from datetime import date
        >>> BusinessCalendar("DE").previous_business_day(date(2027, 1, 1))
        datetime.date(2026, 12, 31)
        """
        day = _as_date(day, "day")
        out = np.busday_offset(
            np.datetime64(day, "D"), 0, roll="backward", busdaycal=self._around(day)
        )
        return _to_date(out)

    def add_business_days(self, day: date, n: int) -> date:
        """The ``n``-th business day after ``day`` (before it for negative ``n``).

        Business days are counted strictly after (before) ``day``, whether or not ``day``
        itself is one: one business day after Saturday 26 December 2026 is Monday the 28th,
        one before it is Thursday the 24th. ``n=0`` is :meth:`next_business_day`.

        Parameters
        ----------
        day : datetime.date
            The starting day.
        n : int
            Number of business days to add; may be negative.

        Returns
        -------
        datetime.date

        Examples
        --------
        >>> from datetime import date
        >>> cal = BusinessCalendar("DE")
        >>> cal.add_business_days(date(2026, 12, 23), 2)  # Thu 24, then Mon 28
        datetime.date(2026, 12, 28)
        >>> cal.add_business_days(date(2026, 12, 28), -1)
        datetime.date(2026, 12, 24)
        >>> saturday = date(2026, 12, 26)
        >>> cal.add_business_days(saturday, 1), cal.add_business_days(saturday, 0)
        (datetime.date(2026, 12, 28), datetime.date(2026, 12, 28))
        """
        day = _as_date(day, "day")
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            msg = f"n must be an int (business days), got {type(n).__name__} {n!r}."
            raise TypeError(msg)
        out = np.busday_offset(
            np.datetime64(day, "D"),
            int(n),
            # Roll against the direction of counting, so that counting starts at ``day``.
            roll="backward" if n > 0 else "forward",
            busdaycal=self._around(day, int(n)),
        )
        return _to_date(out)

    def roll(self, day: date, convention: RollConvention = "following") -> date:
        """Move ``day`` to a business day by a roll convention; business days stay.

        Parameters
        ----------
        day : datetime.date
            The day to move.
        convention : {"following", "preceding", "modified_following"}
            ``"following"``: the next business day (§ 193 BGB for deadlines).
            ``"preceding"``: the previous business day.
            ``"modified_following"``: the next business day unless that is in the next
            month; then the previous one (keeps month-end instalments in their month).

        Returns
        -------
        datetime.date

        Raises
        ------
        PolicyError
            If the convention is unknown.

        Examples
        --------
        >>> from datetime import date
        >>> cal = BusinessCalendar("DE")
        >>> cal.roll(date(2026, 10, 31))  # a Saturday
        datetime.date(2026, 11, 2)
        >>> cal.roll(date(2026, 10, 31), "preceding")
        datetime.date(2026, 10, 30)
        >>> cal.roll(date(2026, 10, 31), "modified_following")
        datetime.date(2026, 10, 30)
        """
        if convention == "following":
            return self.next_business_day(day)
        if convention == "preceding":
            return self.previous_business_day(day)
        if convention == "modified_following":
            following = self.next_business_day(day)
            if following.month != _as_date(day, "day").month:
                return self.previous_business_day(day)
            return following
        msg = f"unknown roll convention {convention!r}: expected one of {list(ROLL_CONVENTIONS)}."
        raise PolicyError(msg, field="convention")

    def deadline(self, start: date, days: int) -> date:
        """The last day of a period of ``days`` days that starts with the event on ``start``.

        The day of the event does not count (§ 187 (1) BGB); the period ends with its last
        day, ``start + days`` (§ 188 (1) BGB); if that day is a Saturday, Sunday or public
        holiday, the next business day takes its place (§ 193 BGB).

        Parameters
        ----------
        start : datetime.date
            The day of the event, e.g. the letter date.
        days : int
            Length of the period in calendar days, at least 0.

        Returns
        -------
        datetime.date

        Raises
        ------
        PolicyError
            If ``days`` is negative.

        Examples
        --------
        >>> from datetime import date
        >>> cal = BusinessCalendar("DE")
        >>> cal.deadline(date(2026, 12, 15), 10)  # 25 Dec, 26 Dec, Sunday 27 Dec: Monday
        datetime.date(2026, 12, 28)
        >>> cal.deadline(date(2026, 3, 2), 30)
        datetime.date(2026, 4, 1)
        """
        start = _as_date(start, "start")
        if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 0:
            msg = f"a period must be a whole number of days >= 0. Got {days!r} instead."
            raise PolicyError(msg, field="days")
        return self.next_business_day(start + timedelta(days=int(days)))

    def count_business_days(self, start: date, end: date) -> int:
        """Business days in ``[start, end)`` (``end`` excluded; negative if ``end < start``).

        Examples
        --------
        >>> from datetime import date
        >>> BusinessCalendar("DE").count_business_days(date(2026, 12, 21), date(2027, 1, 4))
        8
        """
        start, end = _as_date(start, "start"), _as_date(end, "end")
        busdaycal = self.numpy_calendar(min(start.year, end.year), max(start.year, end.year))
        return int(
            np.busday_count(np.datetime64(start, "D"), np.datetime64(end, "D"), busdaycal=busdaycal)
        )

    # -- arrays ---------------------------------------------------------------------------

    def is_business_day_array(
        self, dates: npt.NDArray[np.generic] | pd.Series | pd.Index
    ) -> npt.NDArray[np.bool_]:
        """Vectorised :meth:`is_business_day`; missing dates (``NaT``, ``None``) give ``False``.

        Parameters
        ----------
        dates : numpy.ndarray, pandas.Series or pandas.Index
            ``datetime64`` values of any unit (time of day ignored; time-zone aware values
            are taken at their local date), or ``datetime.date`` objects / ISO strings.

        Returns
        -------
        numpy.ndarray of bool
            Same shape as ``dates``.

        Raises
        ------
        DataError
            If a value is not a date, or the dates span more than 200 years.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> cal = BusinessCalendar("DE", "NW")
        >>> cal.is_business_day_array(pd.Series(pd.to_datetime(
        ...     ["2026-06-03", "2026-06-04", "2026-06-06", None]))).tolist()
        [True, False, False, False]
        """
        days = _to_datetime64(dates)
        out = np.zeros(days.shape, dtype=bool)
        valid = ~np.isnat(days)
        if not valid.any():
            return out
        years = days[valid].astype("datetime64[Y]").astype(np.int64) + 1970
        busdaycal = self.numpy_calendar(int(years.min()), int(years.max()))
        out[valid] = np.is_busday(days[valid], busdaycal=busdaycal)
        return out


def _to_date(value: np.datetime64) -> date:
    out = value.astype("datetime64[D]").item()
    if not isinstance(out, date):  # pragma: no cover - numpy returns date for unit D
        msg = f"cannot convert {value!r} to a date."
        raise DataError(msg)
    return out


def _to_datetime64(dates: object) -> npt.NDArray[np.datetime64]:
    if isinstance(dates, pd.Series | pd.Index):
        dtype = dates.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = (
                dates.dt.tz_localize(None)
                if isinstance(dates, pd.Series)
                else pd.DatetimeIndex(dates).tz_localize(None)
            )
            arr = np.asarray(values.to_numpy(dtype="datetime64[ns]"))
        else:
            arr = np.asarray(dates.to_numpy())
    else:
        arr = np.asarray(dates)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[D]")
    try:
        return arr.astype("datetime64[D]")
    except (TypeError, ValueError) as exc:
        msg = (
            f"is_business_day_array: cannot read the values as dates ({exc}); pass datetime64 "
            "values, datetime.date objects or ISO strings (YYYY-MM-DD)."
        )
        raise DataError(msg) from exc
