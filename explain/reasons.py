"""Reason codes: the largest risk-raising contributions of each case, in plain words.

For every explained row, the contributions are first grouped into business features
(:meth:`explain.attributions.Explanations.grouped`). The ``k`` groups with the largest
**positive** contributions (those that raise the risk) become reasons, ranked by
contribution. Each reason has

* a stable ``code`` (:data:`REASON_CODES`), e.g. ``DAYS_OVERDUE`` or ``LATE_12M``; when
  the feature's input is missing the code says so instead (``HISTORY_MISSING`` for the
  payment history, ``DATA_MISSING`` otherwise), and a case gets at most one
  ``HISTORY_MISSING`` reason (the missing history groups' contributions are summed);
* the ``feature`` (the group), the case's actual ``value`` of the group's main column,
  and the ``contribution`` in log-odds (never percentage points);
* a ``text``: a sentence from the language's catalogue (``explain/catalogues/de.toml``,
  ``en.toml``) with the case's values formatted for that language by Babel.

Catalogue format
----------------
``[reasons.CODE]`` holds either ``text`` or plural variants ``zero`` (used for 0, our
own addition), ``one``, ``other`` (CLDR plural categories of the language) chosen by the
value of the column named in ``count``. Placeholders are ``{value}``, ``{label}``,
``{open_amount}`` and the code of any column in :data:`scoring.features.FEATURES`;
``[values.COLUMN]`` maps category values to words.

Columns outside the feature dictionary get the code ``OTHER`` with the column name as
label.

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> from explain.attributions import Explanations
>>> data = pd.DataFrame({"days_overdue": [47], "late_12m_count": [3], "late_12m_share": [0.5],
...                      "late_12m_share_isna": [0]}, index=pd.Index(["R7"], name="invoice_id"))
>>> exp = Explanations(values=np.array([[0.8, 0.5, 0.4, 0.0]]), base_values=np.array([-1.2]),
...                    data=data, feature_names=tuple(data.columns))
>>> table = reason_table(exp, lang="de")
>>> table[["rank", "code", "feature"]].to_dict("list")
{'rank': [1, 2], 'code': ['LATE_12M', 'DAYS_OVERDUE'], 'feature': ['late_12m', 'days_overdue']}
>>> table[["value", "contribution"]].to_dict("list")
{'value': [3, 47], 'contribution': [0.9, 0.8]}
>>> for text in table["text"]:  # German percent sign after a no-break space
...     print(text)
3 verspätete Zahlungen in den letzten 12 Monaten (50\xa0% der bezahlten Rechnungen).
Die Rechnung ist seit 47 Tagen überfällig.
"""

from __future__ import annotations

import math
import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, format_percent

from dunning.errors import PolicyError
from dunning.models import LANGUAGES
from scoring.features import FEATURES_BY_CODE

if TYPE_CHECKING:
    from explain.attributions import Explanations

__all__ = [
    "GROUP_CODES",
    "HISTORY_GROUPS",
    "REASON_CODES",
    "REASON_COLUMNS",
    "SILENT_GROUPS",
    "format_reason",
    "load_catalogue",
    "placeholders",
    "reason_table",
    "variants",
]

#: Reason code of each business feature (group of :data:`scoring.features.FEATURES`).
GROUP_CODES: Mapping[str, str] = MappingProxyType(
    {
        "days_overdue": "DAYS_OVERDUE",
        "open_amount": "OPEN_AMOUNT",
        "amount_vs_median": "AMOUNT_UNUSUAL",
        "exposure": "EXPOSURE",
        "late_3m": "LATE_3M",
        "late_6m": "LATE_6M",
        "late_12m": "LATE_12M",
        "days_late": "DAYS_LATE",
        "partial_payments": "PARTIAL_PAYMENTS",
        "disputed": "DISPUTE",
        "disputed_count": "DISPUTES",
        "dunning_level": "DUNNING_LEVEL",
        "customer_max_level": "DUNNING_HISTORY",
        "promises": "BROKEN_PROMISES",
        "tenure": "TENURE",
        "segment": "SEGMENT",
        "industry": "INDUSTRY",
        "industry_outlook": "INDUSTRY_OUTLOOK",
    }
)
#: Groups that are never given as a reason: a customer's estimated value may lower the
#: risk of a case, but "your customer value is low" is no reason to send a reminder
#: (docs/clv.md). Their contributions still count in the score and in ``grouped()``.
SILENT_GROUPS: frozenset[str] = frozenset({"customer_value"})
#: Groups describing the payment history; when their input is missing the reason is
#: ``HISTORY_MISSING`` (once per case).
HISTORY_GROUPS: frozenset[str] = frozenset(
    {"late_3m", "late_6m", "late_12m", "days_late", "partial_payments"}
)

#: Every reason code, in catalogue order.
REASON_CODES: tuple[str, ...] = (
    *GROUP_CODES.values(),
    "HISTORY_MISSING",
    "DATA_MISSING",
    "OTHER",
)
#: Columns of :func:`reason_table`.
REASON_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "rank",
    "code",
    "feature",
    "value",
    "contribution",
    "text",
)

_FORMATS = {
    "days": "#,##0.#",
    "count": "#,##0",
    "level": "#,##0",
    "flag": "#,##0",
    "ratio": "#,##0.0",
    "amount": "#,##0.00",
    "index": "#,##0.0",
    "log_amount": "#,##0.00",
}


def reason_table(explanations: Explanations, *, k: int = 3, lang: str = "de") -> pd.DataFrame:
    """The top ``k`` risk-raising reasons of every row, ranked by contribution.

    Parameters
    ----------
    explanations : Explanations
        Ungrouped explanations from :func:`explain.explain` (texts read every column).
    k : int
        Maximum number of reasons per row; rows get fewer when fewer groups raise the risk.
    lang : {"de", "en"}
        Language of ``text``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REASON_COLUMNS`: ``invoice_id`` (the row's index label), ``rank``
        (1 = largest contribution), ``code``, ``feature`` (the group), ``value`` (the
        group's main column for this row), ``contribution`` (log-odds, > 0), ``text``.
        Sorted by row, then rank.

    Raises
    ------
    PolicyError
        If ``k`` is not a positive int or ``lang`` has no catalogue.

    Examples
    --------
    See the module docstring.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        msg = f"k of reason_table must be an int >= 1. Got {k!r} instead."
        raise PolicyError(msg, field="k")
    catalogue = load_catalogue(lang)
    grouped = explanations.grouped()
    groups = list(grouped.feature_names)
    data = explanations.data
    values = np.array(grouped.values, dtype=np.float64, copy=True)
    n_rows = values.shape[0]

    columns = list(explanations.feature_names)
    column_groups = _groups(columns)
    missing = np.zeros(values.shape, dtype=bool)
    for j, group in enumerate(groups):
        members = [c for c, g in zip(columns, column_groups, strict=True) if g == group]
        primary = data[members[0]]
        flags = np.array(pd.isna(primary), dtype=bool)
        for member in members:
            if member.endswith("_isna"):
                flags = flags | (data[member].to_numpy(np.float64, na_value=np.nan) == 1)
        missing[:, j] = flags

    ranking = values.copy()
    history = [j for j, g in enumerate(groups) if g in HISTORY_GROUPS]
    if history:
        flags = missing[:, history]
        merged = np.where(flags, values[:, history], 0.0).sum(axis=1)
        first = np.asarray(history)[flags.argmax(axis=1)]
        block = ranking[:, history]
        block[flags] = -np.inf
        ranking[:, history] = block
        rows = np.flatnonzero(flags.any(axis=1))
        ranking[rows, first[rows]] = merged[rows]
        values[rows, first[rows]] = merged[rows]
    ranking[~(ranking > 0)] = -np.inf
    silent = [j for j, g in enumerate(groups) if g in SILENT_GROUPS]
    ranking[:, silent] = -np.inf

    order = np.argsort(-ranking, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(ranking, order, axis=1)
    rows, ranks = np.nonzero(np.isfinite(top))
    chosen = order[rows, ranks]

    base_codes = np.array([GROUP_CODES.get(g, "OTHER") for g in groups] or ["OTHER"])
    missing_codes = np.array(
        [
            "HISTORY_MISSING"
            if g in HISTORY_GROUPS
            else "DATA_MISSING"
            if g in GROUP_CODES
            else "OTHER"
            for g in groups
        ]
        or ["OTHER"]
    )
    is_missing = missing[rows, chosen] if n_rows else np.zeros(0, dtype=bool)
    codes = np.where(is_missing, missing_codes[chosen], base_codes[chosen])

    primaries = grouped.data
    renderer = _Renderer(catalogue, data)
    texts = [
        renderer.text(str(code), groups[group], int(row))
        for code, group, row in zip(codes, chosen, rows, strict=True)
    ]
    return pd.DataFrame(
        {
            "invoice_id": pd.Series(data.index.take(rows)),
            "rank": (ranks + 1).astype(np.int64),
            "code": pd.array(codes.astype(str), dtype="str"),
            "feature": pd.array([groups[g] for g in chosen], dtype="str"),
            "value": pd.Series(
                [primaries.iat[int(r), int(g)] for r, g in zip(rows, chosen, strict=True)],
                dtype=object,
            ),
            "contribution": values[rows, chosen],
            "text": pd.array(texts, dtype="str"),
        },
        columns=list(REASON_COLUMNS),
    )


def format_reason(
    code: str,
    values: Mapping[str, Any],
    *,
    feature: str | None = None,
    lang: str = "de",
    variant: str | None = None,
) -> str:
    """The sentence of one reason code, filled with one case's values.

    Parameters
    ----------
    code : str
        A reason code from :data:`REASON_CODES`.
    values : mapping of str to value
        The case's feature values by column code (as in :func:`build_features`).
    feature : str or None
        The business feature (group) the reason is about; needed for ``{value}`` and
        ``{label}``. ``None`` takes the feature of ``code`` in :data:`GROUP_CODES`.
    lang : {"de", "en"}
        Catalogue language.
    variant : str or None
        Force a text variant (``text``, ``zero``, ``one``, ``other``); ``None`` picks it
        from the value of the entry's ``count`` column, as :func:`reason_table` does.

    Returns
    -------
    str

    Raises
    ------
    PolicyError
        If ``lang`` has no catalogue or ``code`` is not a reason code.

    Examples
    --------
    >>> format_reason("DAYS_OVERDUE", {"days_overdue": 1}, lang="de")
    'Die Rechnung ist seit 1 Tag überfällig.'
    >>> format_reason("EXPOSURE", {"open_exposure": 1234.5, "open_invoices": 2}, lang="en")
    'In total, 2 invoices totalling 1,234.50 are open.'
    """
    catalogue = load_catalogue(lang)
    if code not in catalogue["reasons"]:
        msg = f"unknown reason code {code!r}; use one of {list(REASON_CODES)}."
        raise PolicyError(msg, field="code")
    if feature is None:
        feature = next((g for g, c in GROUP_CODES.items() if c == code), code)
    row = pd.DataFrame({name: [value] for name, value in values.items()})
    return _Renderer(catalogue, row).text(code, feature, 0, variant)


@cache
def load_catalogue(lang: str) -> Mapping[str, Any]:
    """The parsed reason catalogue of a language (``explain/catalogues/<lang>.toml``).

    Raises
    ------
    PolicyError
        If there is no catalogue for ``lang``.

    Examples
    --------
    >>> load_catalogue("en")["locale"]
    'en_GB'
    """
    if lang not in LANGUAGES:
        msg = f"no reason catalogue for language {lang!r}; use one of {list(LANGUAGES)}."
        raise PolicyError(msg, field="lang")
    source = resources.files("explain") / "catalogues" / f"{lang}.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


@cache
def placeholders(template: str) -> frozenset[str]:
    """Names of the ``{placeholders}`` in a catalogue text.

    Examples
    --------
    >>> sorted(placeholders("{late_12m_count} von {value}"))
    ['late_12m_count', 'value']
    """
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def variants(entry: Mapping[str, str]) -> dict[str, str]:
    """The text variants of a catalogue entry (``text`` or ``zero``/``one``/``other``)."""
    return {key: value for key, value in entry.items() if key in {"text", "zero", "one", "other"}}


def _groups(columns: list[str]) -> list[str]:
    return [FEATURES_BY_CODE[c].group if c in FEATURES_BY_CODE else c for c in columns]


class _Renderer:
    """Fills catalogue texts with one row's values; caches formatted numbers."""

    def __init__(self, catalogue: Mapping[str, Any], data: pd.DataFrame) -> None:
        self.catalogue = catalogue
        self.locale = Locale.parse(catalogue["locale"])
        self.lang = self.locale.language
        self.columns = {str(c): data[c].to_numpy() for c in data.columns}
        self.primary: dict[str, str] = {}
        for column, group in zip(self.columns, _groups(list(self.columns)), strict=True):
            self.primary.setdefault(group, column)
        self.cache: dict[tuple[str, Any], str] = {}
        self.forms: dict[float, str] = {}

    def text(self, code: str, group: str, row: int, variant: str | None = None) -> str:
        entry = self.catalogue["reasons"][code]
        template = entry[variant] if variant is not None else self._variant(entry, row)
        primary = self.primary.get(group, group)
        fields = {name: self._field(name, primary, row) for name in placeholders(template)}
        return template.format(**fields)

    def _variant(self, entry: Mapping[str, str], row: int) -> str:
        if "text" in entry:
            return entry["text"]
        count = self._raw(entry.get("count", ""), row)
        if not isinstance(count, int | float | np.number) or math.isnan(float(count)):
            return entry["other"]
        number = float(count)
        if number == 0 and "zero" in entry:
            return entry["zero"]
        form = self.forms.get(number)
        if form is None:
            form = self.forms[number] = self.locale.plural_form(
                abs(number) if number % 1 else int(number)
            )
        return entry.get(form, entry["other"])

    def _raw(self, column: str, row: int) -> Any:
        values = self.columns.get(column)
        return None if values is None else values[row]

    def _field(self, name: str, primary: str, row: int) -> str:
        if name == "label":
            return self._label(primary)
        if name == "value":
            return self._format(primary, self._raw(primary, row))
        if name == "open_amount":
            log_amount = self._raw("log_open_amount", row)
            amount = None if log_amount is None else float(np.expm1(log_amount))
            return self._format("open_exposure", amount)
        return self._format(name, self._raw(name, row))

    def _label(self, column: str) -> str:
        spec = FEATURES_BY_CODE.get(column)
        if spec is None:
            return column
        return spec.label_de if self.lang == "de" else spec.label_en

    def _format(self, column: str, value: Any) -> str:
        key = (column, value)
        cached = self.cache.get(key)
        if cached is None:
            cached = self.cache[key] = self._format_uncached(column, value)
        return cached

    def _format_uncached(self, column: str, value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return str(self.catalogue["missing"])
        spec = FEATURES_BY_CODE.get(column)
        unit = spec.unit if spec is not None else None
        if unit == "category" or isinstance(value, str):
            words = self.catalogue.get("values", {}).get(column, {})
            return str(words.get(str(value), value))
        if unit == "share":
            return format_percent(float(value), locale=self.locale)
        if unit is None:
            return format_decimal(float(value), format="#,##0.##", locale=self.locale)
        return format_decimal(float(value), format=_FORMATS[unit], locale=self.locale)
