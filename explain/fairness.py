"""Fairness checks: are some groups flagged more often, does a feature stand in for a group?

:func:`fairness_report` takes the model's scores and a *sensitive* column the model does
**not** use (an age band, a region, a country, supplied only for monitoring) and reports,
per group: the number of cases, the share flagged (``score >= threshold``, the
``flag_threshold`` of :class:`dunning.policy.ReviewRules`) and the mean score; with known
outcomes also the unpaid cases (positives), the share of them that was flagged (the
true-positive rate) and the base rate. Two differences summarise it:

* **demographic-parity difference**: largest minus smallest flag rate over the groups
  with at least ``min_group_size`` cases;
* **equal-opportunity difference** (only with outcomes): largest minus smallest
  true-positive rate over the groups with at least ``min_group_size`` unpaid cases.

A difference above ``max_difference`` gives a plain warning (English and German). Smaller
groups are shown but left out of the differences, with a note. Missing sensitive values
form their own group ``"unknown"`` (a real group spelt ``unknown`` is merged with it).

**Proxies.** A model that does not use the column can still use a *stand-in* for it. For
every feature given, :func:`fairness_report` measures the association with the sensitive
column as the bias-corrected **Cramér's V** (Bergsma 2013, :func:`cramers_v`) of their
contingency table: categorical features (``category``, string, object, bool) by category,
numeric features by up to ``proxy_bins`` quantile bins; missing values form a bin of their
own. V is near 0 for independence, 1 when the feature is a relabelling of the groups and
close to 1 when it determines them. It was chosen over (normalised) mutual information
because it reads on the same 0 to 1 scale for every mix of types, is widely known from the
chi-squared test, and its bias correction keeps an independent feature near 0 even with
many bins. Binning catches non-linear and non-monotone links, but a link finer than the
bins is missed. Features with ``V >= proxy_warning`` get a warning.

The sensitive column must not be one of the features: if ``features`` has a column of the
same name, :class:`dunning.errors.DataError` is raised.

Examples
--------
>>> import pandas as pd
>>> scores = pd.Series([0.9] * 3 + [0.1] * 7 + [0.9] * 1 + [0.1] * 9)
>>> region = pd.Series(["north"] * 10 + ["south"] * 10, name="region")
>>> report = fairness_report(scores, region, min_group_size=5)
>>> report.groups[["group", "n", "flag_rate"]].to_dict("records")
[{'group': 'north', 'n': 10, 'flag_rate': 0.3}, {'group': 'south', 'n': 10, 'flag_rate': 0.1}]
>>> round(report.demographic_parity_difference, 2)
0.2
>>> print(report.warnings[0])  # doctest: +NORMALIZE_WHITESPACE
The share of cases flagged as high risk differs between the groups of region by 20.0
percentage points (north: 30.0%, south: 10.0%), more than the limit of 10.0 points: check
whether the model treats these groups differently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError, PolicyError
from dunning.typing import Lang

__all__ = ["UNKNOWN_GROUP", "FairnessReport", "cramers_v", "fairness_report"]

#: The group of cases whose sensitive value is missing.
UNKNOWN_GROUP = "unknown"

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class FairnessReport:
    """Flag rates, score levels and error rates per group, differences and proxies.

    Build it with :func:`fairness_report`.

    Attributes
    ----------
    sensitive_name : str
        Name of the sensitive column, as used in the texts.
    groups : pandas.DataFrame
        One row per group seen (in category order for a ``category`` column, in numeric
        order for numbers, otherwise sorted by label; ``"unknown"`` last): ``group`` (str), ``n``, ``flagged`` (cases
        with ``score >= threshold``), ``flag_rate``, ``mean_score``, ``compared`` (``n >=
        min_group_size``: the group enters the demographic-parity difference). With
        outcomes also ``with_outcome`` (cases whose outcome is known), ``positives``
        (cases that stayed unpaid), ``true_positives`` (of them flagged), ``tpr``
        (``true_positives / positives``, ``NaN`` without positives), ``base_rate``
        (``positives / with_outcome``) and ``compared_tpr`` (``positives >=
        min_group_size``: the group enters the equal-opportunity difference).
    demographic_parity_difference : float or None
        Largest minus smallest ``flag_rate`` of the compared groups; ``None`` with fewer
        than two compared groups.
    equal_opportunity_difference : float or None
        Largest minus smallest ``tpr`` of the groups with ``compared_tpr``; ``None``
        without outcomes or with fewer than two such groups.
    proxies : pandas.DataFrame
        One row per feature, strongest association first (``NaN`` last): ``feature``,
        ``kind`` (``"numeric"`` or ``"categorical"``), ``bins`` (categories or quantile
        bins of the feature, the missing-value bin included), ``measure``
        (``"cramers_v"``) and ``value`` (0 to 1; ``NaN`` when the sensitive column or the
        feature has a single value). Empty without features.
    warnings, warnings_de : tuple of str
        Plain sentences, English and German: a difference above ``max_difference``, a
        feature with an association of at least ``proxy_warning``.
    notes, notes_de : tuple of str
        What the reader should know but is no warning: small groups left out of the
        differences, the ``"unknown"`` group, outcomes that are not known.
    threshold, max_difference, min_group_size, proxy_warning :
        The parameters used.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.Series([0.8, 0.2, 0.7, 0.6, 0.1, 0.3])
    >>> band = pd.Series(["18-34", "18-34", "18-34", "35+", "35+", None], name="age_band")
    >>> report = fairness_report(scores, band, min_group_size=2)
    >>> report.groups[["group", "n", "flagged", "compared"]].to_dict("list")
    {'group': ['18-34', '35+', 'unknown'], 'n': [3, 2, 1], 'flagged': [2, 1, 0], 'compared': [True, True, False]}
    >>> report.alarm
    True
    >>> print(report.notes[0])
    Groups with fewer than 2 cases are shown but left out of the differences: unknown (1 case).
    """  # noqa: E501

    sensitive_name: str
    groups: pd.DataFrame
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    proxies: pd.DataFrame
    warnings: tuple[str, ...]
    warnings_de: tuple[str, ...]
    notes: tuple[str, ...]
    notes_de: tuple[str, ...]
    threshold: float = 0.5
    max_difference: float = 0.1
    min_group_size: int = 30
    proxy_warning: float = 0.5

    @property
    def alarm(self) -> bool:
        """Whether there is any warning (a difference or a proxy above its limit)."""
        return bool(self.warnings)

    def to_frame(self) -> pd.DataFrame:
        """The headline numbers as a table, one row per check.

        Returns
        -------
        pandas.DataFrame
            Rows ``demographic_parity_difference``, ``equal_opportunity_difference`` and
            ``strongest_proxy``; columns ``metric``, ``value`` (``NaN`` when not computed),
            ``limit``, ``exceeded`` (bool) and ``detail`` (the groups compared, or the
            feature).

        Examples
        --------
        >>> import pandas as pd
        >>> report = fairness_report(pd.Series([0.9, 0.1, 0.1, 0.1]),
        ...                          pd.Series(["a", "a", "b", "b"]), min_group_size=2)
        >>> report.to_frame().loc[0].to_dict()
        {'metric': 'demographic_parity_difference', 'value': 0.5, 'limit': 0.1, 'exceeded': True, 'detail': 'a - b'}
        """  # noqa: E501
        g = self.groups
        dp = self.demographic_parity_difference
        eo = self.equal_opportunity_difference
        dp_detail = _extremes(g, "flag_rate", "compared") if dp is not None else ""
        eo_detail = _extremes(g, "tpr", "compared_tpr") if eo is not None else ""
        top = self.proxies.dropna(subset=["value"]).head(1)
        proxy = float(top["value"].iloc[0]) if len(top) else np.nan
        return pd.DataFrame(
            {
                "metric": [
                    "demographic_parity_difference",
                    "equal_opportunity_difference",
                    "strongest_proxy",
                ],
                "value": [
                    np.nan if dp is None else dp,
                    np.nan if eo is None else eo,
                    proxy,
                ],
                "limit": [self.max_difference, self.max_difference, self.proxy_warning],
                "exceeded": [
                    dp is not None and dp > self.max_difference,
                    eo is not None and eo > self.max_difference,
                    bool(proxy >= self.proxy_warning),
                ],
                "detail": [
                    dp_detail,
                    eo_detail,
                    str(top["feature"].iloc[0]) if len(top) else "",
                ],
            }
        )

    def summary(self, lang: Lang = "en") -> str:
        """A short paragraph for the run report: headline numbers, warnings, notes.

        Parameters
        ----------
        lang : {"en", "de"}
            Language.

        Raises
        ------
        PolicyError
            If ``lang`` is not ``"en"`` or ``"de"``.

        Examples
        --------
        >>> import pandas as pd
        >>> report = fairness_report(pd.Series([0.9, 0.1, 0.2, 0.1]),
        ...                          pd.Series(["a", "a", "b", "b"], name="region"),
        ...                          min_group_size=2, max_difference=0.6)
        >>> print(report.summary())
        Fairness check by region: 2 groups, 2 compared; flag rates from 0.0% to 50.0% (difference 50.0 percentage points, limit 60.0). No warning.
        >>> print(report.summary("de"))
        Fairness-Prüfung nach region: 2 Gruppen, 2 verglichen; Anteile markierter Fälle von 0,0 % bis 50,0 % (Differenz 50,0 Prozentpunkte, Grenze 60,0). Keine Warnung.
        """  # noqa: E501
        if lang not in _TEXTS:
            msg = f"lang must be 'en' or 'de'. Got {lang!r} instead."
            raise PolicyError(msg, field="lang")
        words = _TEXTS[lang]
        g = self.groups
        n_groups, n_compared = len(g), int(g["compared"].sum()) if len(g) else 0
        parts = [words["head"].format(name=self.sensitive_name, k=n_groups, c=n_compared)]
        if self.demographic_parity_difference is not None:
            rates = g.loc[g["compared"], "flag_rate"]
            parts.append(
                words["head_dp"].format(
                    lo=_pct(float(rates.min()), lang),
                    hi=_pct(float(rates.max()), lang),
                    diff=_pp(self.demographic_parity_difference, lang),
                    limit=_pp(self.max_difference, lang),
                )
            )
        sentences = ["; ".join(parts) + "."]
        if self.equal_opportunity_difference is not None:
            tprs = g.loc[g["compared_tpr"], "tpr"]
            sentences.append(
                words["head_eo"].format(
                    lo=_pct(float(tprs.min()), lang),
                    hi=_pct(float(tprs.max()), lang),
                    diff=_pp(self.equal_opportunity_difference, lang),
                )
            )
        top = self.proxies.dropna(subset=["value"]).head(1)
        if len(top):
            sentences.append(
                words["head_proxy"].format(
                    name=self.sensitive_name,
                    feature=top["feature"].iloc[0],
                    v=_num(float(top["value"].iloc[0]), 2, lang),
                )
            )
        warnings = self.warnings if lang == "en" else self.warnings_de
        notes = self.notes if lang == "en" else self.notes_de
        return " ".join([*sentences, *(warnings or (words["no_warning"],)), *notes])


def _extremes(groups: pd.DataFrame, column: str, compared: str) -> str:
    """``"<group with the largest value> - <group with the smallest>"`` (first on ties)."""
    rows = groups.loc[groups[compared]]
    values = rows[column].to_numpy(np.float64)
    hi, lo = int(np.argmax(values)), int(np.argmin(values))
    return f"{rows['group'].iloc[hi]} - {rows['group'].iloc[lo]}"


def _num(value: float, digits: int, lang: str) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "de" else text


def _pct(share: float, lang: str) -> str:
    """A share as a percentage with one decimal: ``30.0%`` / ``30,0 %``."""
    return _num(100 * share, 1, lang) + (" %" if lang == "de" else "%")


def _pp(share: float, lang: str) -> str:
    """A difference of shares in percentage points, one decimal, without unit."""
    return _num(100 * share, 1, lang)


def _cases(n: int, lang: str, unit: str = "case") -> str:
    words = {
        ("en", "case"): ("case", "cases"),
        ("de", "case"): ("Fall", "Fälle"),
        ("en", "unpaid"): ("unpaid case", "unpaid cases"),
        ("de", "unpaid"): ("unbezahlter Fall", "unbezahlte Fälle"),
    }[(lang, unit)]
    return f"{n} {words[0] if n == 1 else words[1]}"


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "dp": (
            "The share of cases flagged as high risk differs between the groups of {name} "
            "by {diff} percentage points ({hi}: {hi_rate}, {lo}: {lo_rate}), more than the "
            "limit of {limit} points: check whether the model treats these groups differently."
        ),
        "eo": (
            "Among cases that stayed unpaid, the share flagged as high risk differs between "
            "the groups of {name} by {diff} percentage points ({hi}: {hi_rate}, {lo}: "
            "{lo_rate}), more than the limit of {limit} points: check whether the model misses "
            "unpaid cases more often in some groups."
        ),
        "proxy": (
            "The feature {feature} is strongly associated with {name} (Cramér's V {v}, "
            "warning from {limit}): it can stand in for {name}, so check whether the model "
            "needs it."
        ),
        "small": (
            "Groups with fewer than {m} cases are shown but left out of the differences: {groups}."
        ),
        "small_eo": (
            "Groups with fewer than {m} unpaid cases are left out of the equal-opportunity "
            "difference: {groups}."
        ),
        "no_dp": "Fewer than two groups have at least {m} cases: no flag-rate difference.",
        "no_eo": (
            "Fewer than two groups have at least {m} unpaid cases: no equal-opportunity difference."
        ),
        "unknown_one": "1 case has no value for {name} and counts in the group 'unknown'.",
        "unknown_many": "{n} cases have no value for {name} and count in the group 'unknown'.",
        "no_outcome_one": "1 case without a known outcome is left out of the true-positive rates.",
        "no_outcome_many": (
            "{n} cases without a known outcome are left out of the true-positive rates."
        ),
        "head": "Fairness check by {name}: {k} groups, {c} compared",
        "head_dp": (
            "flag rates from {lo} to {hi} (difference {diff} percentage points, limit {limit})"
        ),
        "head_eo": (
            "Among unpaid cases, the share flagged ranges from {lo} to {hi} (difference "
            "{diff} percentage points)."
        ),
        "head_proxy": "Strongest association with {name}: {feature} (Cramér's V {v}).",
        "no_warning": "No warning.",
    },
    "de": {
        "dp": (
            "Der Anteil der als hohes Risiko markierten Fälle unterscheidet sich zwischen den "
            "Gruppen von {name} um {diff} Prozentpunkte ({hi}: {hi_rate}, {lo}: {lo_rate}), "
            "mehr als die Grenze von {limit} Prozentpunkten: prüfen, ob das Modell diese "
            "Gruppen unterschiedlich behandelt."
        ),
        "eo": (
            "Unter den Fällen, die unbezahlt blieben, unterscheidet sich der Anteil der als "
            "hohes Risiko markierten zwischen den Gruppen von {name} um {diff} Prozentpunkte "
            "({hi}: {hi_rate}, {lo}: {lo_rate}), mehr als die Grenze von {limit} "
            "Prozentpunkten: prüfen, ob das Modell unbezahlte Fälle in manchen Gruppen öfter "
            "übersieht."
        ),
        "proxy": (
            "Das Merkmal {feature} hängt stark mit {name} zusammen (Cramérs V {v}, Warnung ab "
            "{limit}): es kann {name} ersetzen; prüfen, ob das Modell es braucht."
        ),
        "small": (
            "Gruppen mit weniger als {m} Fällen werden gezeigt, aber nicht verglichen: {groups}."
        ),
        "small_eo": (
            "Gruppen mit weniger als {m} unbezahlten Fällen gehen nicht in die Differenz der "
            "Trefferquoten ein: {groups}."
        ),
        "no_dp": (
            "Weniger als zwei Gruppen haben mindestens {m} Fälle: keine Differenz der Anteile "
            "markierter Fälle."
        ),
        "no_eo": (
            "Weniger als zwei Gruppen haben mindestens {m} unbezahlte Fälle: keine Differenz "
            "der Trefferquoten."
        ),
        "unknown_one": "1 Fall hat keinen Wert für {name} und zählt zur Gruppe „unknown“.",
        "unknown_many": "{n} Fälle haben keinen Wert für {name} und zählen zur Gruppe „unknown“.",
        "no_outcome_one": ("1 Fall ohne bekannten Ausgang geht nicht in die Trefferquoten ein."),
        "no_outcome_many": (
            "{n} Fälle ohne bekannten Ausgang gehen nicht in die Trefferquoten ein."
        ),
        "head": "Fairness-Prüfung nach {name}: {k} Gruppen, {c} verglichen",
        "head_dp": (
            "Anteile markierter Fälle von {lo} bis {hi} (Differenz {diff} Prozentpunkte, "
            "Grenze {limit})"
        ),
        "head_eo": (
            "Unter den unbezahlten Fällen liegt der Anteil markierter zwischen {lo} und {hi} "
            "(Differenz {diff} Prozentpunkte)."
        ),
        "head_proxy": "Stärkster Zusammenhang mit {name}: {feature} (Cramérs V {v}).",
        "no_warning": "Keine Warnung.",
    },
}


def cramers_v(table: npt.ArrayLike) -> float:
    """Bias-corrected Cramér's V of a contingency table (Bergsma 2013), 0 to 1.

    With ``n`` cases, ``r`` rows and ``k`` columns (empty rows and columns dropped) and
    ``phi2 = chi2 / n``::

        phi2_c = max(0, phi2 - (k - 1)(r - 1) / (n - 1))
        r_c = r - (r - 1)^2 / (n - 1),  k_c = k - (k - 1)^2 / (n - 1)
        V = sqrt(phi2_c / min(r_c - 1, k_c - 1))

    V is near 0 for independent variables: the correction subtracts the chi-squared
    expected under independence, which the plain V would show as a small positive value
    that grows with the number of cells. V is 1 for a square table with one full cell per
    row and column (either variable is a relabelling of the other). When one variable
    determines the other but the table is not square, V is slightly below 1 and tends to
    1 as ``n`` grows (2 x 11 with 100 cases: ``sqrt(89/98) = 0.953``). The result is
    rounded to 12 decimals.

    Parameters
    ----------
    table : array-like of shape (r, k)
        Counts (non-negative).

    Returns
    -------
    float
        ``NaN`` when fewer than two non-empty rows or columns remain, or the table is too
        small for the correction (``min(r_c, k_c) <= 1``).

    Examples
    --------
    >>> round(cramers_v([[450, 50], [50, 450]]), 6)  # phi2 = 0.64, n = 1000
    0.799775
    >>> cramers_v([[10, 0, 0], [0, 20, 0], [0, 0, 5]])
    1.0
    >>> cramers_v([[25, 25], [25, 25]])
    0.0
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or (counts < 0).any() or not np.isfinite(counts).all():
        msg = "table must be a 2-d array of non-negative, finite counts."
        raise DataError(msg)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    r, k = counts.shape
    n = float(counts.sum())
    if r < 2 or k < 2 or n < 2:
        return float("nan")
    rows, cols = counts.sum(axis=1), counts.sum(axis=0)
    expected = np.outer(rows, cols) / n
    phi2 = float(((counts - expected) ** 2 / expected).sum()) / n
    phi2_c = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_c = r - (r - 1) ** 2 / (n - 1)
    k_c = k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_c - 1, k_c - 1)
    if denominator <= 0:
        return float("nan")
    return round(float(min(1.0, np.sqrt(phi2_c / denominator))), 12)


def fairness_report(
    scores: pd.Series | npt.ArrayLike,
    sensitive: pd.Series | npt.ArrayLike,
    *,
    threshold: float = 0.5,
    outcomes: pd.Series | npt.ArrayLike | None = None,
    features: pd.DataFrame | None = None,
    max_difference: float = 0.1,
    min_group_size: int = 30,
    proxy_warning: float = 0.5,
    proxy_bins: int = 10,
    name: str | None = None,
) -> FairnessReport:
    """Flag rates, mean scores and error rates per sensitive group; proxies among features.

    Rows are matched by position: ``scores``, ``sensitive``, ``outcomes`` and ``features``
    must have the same length, and when two of them carry indexes that are not a default
    ``RangeIndex``, the indexes must be equal.

    Parameters
    ----------
    scores : pandas.Series or array-like of float
        The model's score per case (the calibrated probability of staying unpaid); every
        value finite.
    sensitive : pandas.Series or array-like
        The group of each case, in a column the model does not use (age band, region,
        country). Missing values form the group ``"unknown"``.
    threshold : float, default 0.5
        A case counts as flagged when ``score >= threshold`` (the run's
        ``review.flag_threshold``).
    outcomes : pandas.Series or array-like or None
        1 (or true) when the case stayed unpaid, 0 when it was paid, missing when not yet
        known (left out of ``positives``, ``tpr`` and ``base_rate``). ``None``: no
        equal-opportunity check.
    features : pandas.DataFrame or None
        The model's input columns for the same cases (e.g. ``X[model.feature_names_in_]``);
        each is checked for association with ``sensitive``. ``None``: no proxy check.
    max_difference : float, default 0.1
        A demographic-parity or equal-opportunity difference above this (0 to 1, i.e. 10
        percentage points) gives a warning.
    min_group_size : int, default 30
        Groups with fewer cases are shown but not compared; for the equal-opportunity
        difference a group needs this many unpaid cases.
    proxy_warning : float, default 0.5
        A feature whose Cramér's V with ``sensitive`` is at least this gives a warning
        (0.5 is conventionally a strong association).
    proxy_bins : int, default 10
        Quantile bins of a numeric feature in the proxy check (at least 2).
    name : str or None
        Name of the sensitive column in texts; default ``sensitive.name``, else
        ``"sensitive"``.

    Returns
    -------
    FairnessReport

    Raises
    ------
    DataError
        If the inputs differ in length or index, a score is missing or not finite, an
        outcome is not 0/1, or ``features`` has a column named like the sensitive column
        (the check is meant for a column the model does not use).
    PolicyError
        If a parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> group = pd.Series(["A"] * 4 + ["B"] * 4, name="region")
    >>> scores = pd.Series([0.9, 0.8, 0.6, 0.1, 0.7, 0.2, 0.1, 0.1])
    >>> unpaid = pd.Series([1, 1, 0, 0, 1, 1, 0, 0])
    >>> features = pd.DataFrame({"code": [1, 1, 1, 1, 2, 2, 2, 2],
    ...                          "days": [5, 5, 30, 30, 5, 5, 30, 30]})
    >>> report = fairness_report(scores, group, outcomes=unpaid, features=features,
    ...                          min_group_size=2)
    >>> report.groups[["group", "flag_rate", "positives", "tpr"]].to_dict("list")
    {'group': ['A', 'B'], 'flag_rate': [0.75, 0.25], 'positives': [2, 2], 'tpr': [1.0, 0.5]}
    >>> report.demographic_parity_difference, report.equal_opportunity_difference
    (0.5, 0.5)
    >>> report.proxies[["feature", "value"]].round(2).to_dict("list")
    {'feature': ['code', 'days'], 'value': [1.0, 0.0]}
    >>> len(report.warnings)
    3
    """
    _check_parameters(threshold, max_difference, min_group_size, proxy_warning, proxy_bins)
    score_s = _as_series(scores, "scores")
    sensitive_s = _as_series(sensitive, "sensitive")
    label = name if name is not None else _label(sensitive_s)
    others: list[tuple[str, pd.Series | pd.DataFrame]] = [("sensitive", sensitive_s)]
    outcome_s = None if outcomes is None else _as_series(outcomes, "outcomes")
    if outcome_s is not None:
        others.append(("outcomes", outcome_s))
    if features is not None:
        if not isinstance(features, pd.DataFrame):
            msg = f"features must be a pandas DataFrame. Got {type(features).__name__} instead."
            raise DataError(msg, path="<DataFrame>")
        others.append(("features", features))
        if sensitive_s.name is not None and sensitive_s.name in features.columns:
            msg = (
                f"The sensitive column {sensitive_s.name!r} is one of the features. A "
                "fairness check is meant for a column the model does not use: drop it from "
                "the model's features, or check another column."
            )
            raise DataError(msg, path="<DataFrame>")
    _check_alignment(score_s, others)

    values = _scores(score_s)
    codes, labels, n_unknown = _group_codes(sensitive_s)
    n_groups = len(labels)
    flagged = values >= threshold
    n = np.bincount(codes, minlength=n_groups)
    n_flagged = np.bincount(codes, weights=flagged, minlength=n_groups).astype(np.int64)
    score_sum = np.bincount(codes, weights=values, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        groups = pd.DataFrame(
            {
                "group": pd.Series(labels, dtype="str"),
                "n": n.astype(np.int64),
                "flagged": n_flagged,
                "flag_rate": n_flagged / n,
                "mean_score": score_sum / n,
                "compared": n >= min_group_size,
            }
        )
    texts: dict[str, list[str]] = {"en_w": [], "de_w": [], "en_n": [], "de_n": []}

    def add(kind: str, key: str, **fields: Any) -> None:
        for lang in ("en", "de"):
            texts[f"{lang}_{kind}"].append(_TEXTS[lang][key].format(**fields))

    def add_each(kind: str, key: str, make: Any) -> None:
        for lang in ("en", "de"):
            texts[f"{lang}_{kind}"].append(_TEXTS[lang][key].format(**make(lang)))

    dp = _difference(groups, "flag_rate", "compared")
    if dp is not None and dp > max_difference:
        add_each(
            "w",
            "dp",
            lambda lang: _difference_fields(
                groups, "flag_rate", "compared", dp, max_difference, label, lang
            ),
        )

    eo: float | None = None
    n_missing_outcome = 0
    if outcome_s is not None:
        unpaid, known = _outcomes(outcome_s)
        n_missing_outcome = int((~known).sum())
        positives = np.bincount(codes, weights=unpaid, minlength=n_groups).astype(np.int64)
        hits = np.bincount(codes, weights=unpaid & flagged, minlength=n_groups)
        with_outcome = np.bincount(codes, weights=known, minlength=n_groups).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            groups["with_outcome"] = with_outcome
            groups["positives"] = positives
            groups["true_positives"] = hits.astype(np.int64)
            groups["tpr"] = hits / positives
            groups["base_rate"] = positives / with_outcome
        groups["compared_tpr"] = positives >= min_group_size
        eo = _difference(groups, "tpr", "compared_tpr")
        if eo is not None and eo > max_difference:
            eo_value = eo
            add_each(
                "w",
                "eo",
                lambda lang: _difference_fields(
                    groups, "tpr", "compared_tpr", eo_value, max_difference, label, lang
                ),
            )

    proxies = _proxies(codes, n_groups, features, proxy_bins)
    for feature, v in zip(proxies["feature"], proxies["value"], strict=True):
        if v >= proxy_warning:
            add_each(
                "w",
                "proxy",
                lambda lang, f=feature, v=v: {
                    "feature": f,
                    "name": label,
                    "v": _num(v, 2, lang),
                    "limit": _num(proxy_warning, 2, lang),
                },
            )

    small = groups.loc[~groups["compared"]]
    if len(small):
        add_each(
            "n",
            "small",
            lambda lang: {
                "m": min_group_size,
                "groups": ", ".join(
                    f"{g} ({_cases(int(k), lang)})"
                    for g, k in zip(small["group"], small["n"], strict=True)
                ),
            },
        )
    if dp is None:
        add("n", "no_dp", m=min_group_size)
    if outcome_s is not None:
        small_eo = groups.loc[groups["compared"] & ~groups["compared_tpr"]]
        if len(small_eo):
            add_each(
                "n",
                "small_eo",
                lambda lang: {
                    "m": min_group_size,
                    "groups": ", ".join(
                        f"{g} ({_cases(int(k), lang, 'unpaid')})"
                        for g, k in zip(small_eo["group"], small_eo["positives"], strict=True)
                    ),
                },
            )
        if eo is None:
            add("n", "no_eo", m=min_group_size)
        if n_missing_outcome:
            key = "no_outcome_one" if n_missing_outcome == 1 else "no_outcome_many"
            add("n", key, n=n_missing_outcome)
    if n_unknown:
        add("n", "unknown_one" if n_unknown == 1 else "unknown_many", n=n_unknown, name=label)

    return FairnessReport(
        sensitive_name=label,
        groups=groups,
        demographic_parity_difference=dp,
        equal_opportunity_difference=eo,
        proxies=proxies,
        warnings=tuple(texts["en_w"]),
        warnings_de=tuple(texts["de_w"]),
        notes=tuple(texts["en_n"]),
        notes_de=tuple(texts["de_n"]),
        threshold=threshold,
        max_difference=max_difference,
        min_group_size=min_group_size,
        proxy_warning=proxy_warning,
    )


def _check_parameters(
    threshold: float,
    max_difference: float,
    min_group_size: int,
    proxy_warning: float,
    proxy_bins: int,
) -> None:
    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    checks = (
        ("threshold", number(threshold) and np.isfinite(threshold), "a finite number"),
        (
            "max_difference",
            number(max_difference) and 0 <= max_difference <= 1,
            "a number from 0 to 1",
        ),
        (
            "min_group_size",
            isinstance(min_group_size, int)
            and not isinstance(min_group_size, bool)
            and min_group_size >= 1,
            "an integer of at least 1",
        ),
        (
            "proxy_warning",
            number(proxy_warning) and 0 <= proxy_warning <= 1,
            "a number from 0 to 1",
        ),
        (
            "proxy_bins",
            isinstance(proxy_bins, int) and not isinstance(proxy_bins, bool) and proxy_bins >= 2,
            "an integer of at least 2",
        ),
    )
    values = {
        "threshold": threshold,
        "max_difference": max_difference,
        "min_group_size": min_group_size,
        "proxy_warning": proxy_warning,
        "proxy_bins": proxy_bins,
    }
    for field, ok, valid in checks:
        if not ok:
            msg = f"{field} must be {valid}. Got {values[field]!r} instead."
            raise PolicyError(msg, field=field)


def _as_series(values: Any, what: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        msg = f"{what} must be one column (a Series or 1-d array), not a DataFrame."
        raise DataError(msg, path="<DataFrame>")
    array = np.asarray(values)
    if array.ndim != 1:
        msg = f"{what} must be 1-dimensional. Got shape {array.shape} instead."
        raise DataError(msg)
    return pd.Series(array)


def _label(series: pd.Series) -> str:
    return str(series.name) if series.name is not None else "sensitive"


def _check_alignment(
    scores: pd.Series, others: Sequence[tuple[str, pd.Series | pd.DataFrame]]
) -> None:
    for what, other in others:
        if len(other) != len(scores):
            msg = (
                f"{what} has {len(other)} rows but scores has {len(scores)}: pass one value "
                "per scored case, in the same order."
            )
            raise DataError(msg, path="<DataFrame>")
    indexed = [("scores", scores), *others]
    indexed = [(w, o) for w, o in indexed if not _default_index(o.index)]
    for (first, a), (second, b) in itertools.pairwise(indexed):
        if not a.index.equals(b.index):
            msg = (
                f"{second} and {first} have different indexes: align them first, e.g. "
                f"{second}.reindex({first}.index)."
            )
            raise DataError(msg, path="<DataFrame>")


def _default_index(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _scores(scores: pd.Series) -> Float:
    try:
        values = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        msg = f"scores must be numbers. Got dtype {scores.dtype} instead."
        raise DataError(msg, path="<DataFrame>") from exc
    bad = ~np.isfinite(values)
    if bad.any():
        msg = (
            f"scores: {int(bad.sum())} of {len(values)} values are missing or not finite. "
            "Score every case, or leave the unscored rows out of all inputs."
        )
        raise DataError(msg, path="<DataFrame>")
    return values


def _outcomes(outcomes: pd.Series) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(stayed unpaid, outcome known) per row; raises unless every known value is 0 or 1."""
    try:
        values = outcomes.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        msg = f"outcomes must be 0/1 or true/false. Got dtype {outcomes.dtype} instead."
        raise DataError(msg, path="<DataFrame>") from exc
    known = ~np.isnan(values)
    bad = known & (values != 0) & (values != 1)
    if bad.any():
        example = values[bad][0]
        msg = (
            f"outcomes must be 1 (stayed unpaid), 0 (paid) or missing (not known yet); "
            f"{int(bad.sum())} values are not, e.g. {example!r}."
        )
        raise DataError(msg, path="<DataFrame>")
    return values == 1, known


def _group_codes(sensitive: pd.Series) -> tuple[Int, list[str], int]:
    """Group code per row (0 … k-1), the group labels in table order, missing count.

    Labels are the values as text; values with the same text are one group. A
    ``category`` column keeps its category order, other columns are sorted by label; the
    missing values' group ``"unknown"`` comes last. Only groups that occur are kept.
    """
    missing = sensitive.isna().to_numpy(dtype=bool)
    n_missing = int(missing.sum())
    if isinstance(sensitive.dtype, pd.CategoricalDtype):
        raw = sensitive.cat.codes.to_numpy(dtype=np.int64)
        names = [str(c) for c in sensitive.cat.categories]
        ordered = names
    else:
        raw, uniques = pd.factorize(sensitive, use_na_sentinel=True)
        raw = raw.astype(np.int64)
        names = [str(u) for u in uniques]
        if _is_numeric(sensitive):
            ordered = [str(u) for u in np.sort(np.asarray(uniques))]
        else:
            ordered = sorted(set(names))
    if n_missing:
        ordered = [x for x in ordered if x != UNKNOWN_GROUP] + [UNKNOWN_GROUP]
        names = [*names, UNKNOWN_GROUP]
        raw = np.where(raw < 0, len(names) - 1, raw)
    position = {label: i for i, label in enumerate(dict.fromkeys(ordered))}
    remap = np.array([position[x] for x in names], dtype=np.int64)
    codes = remap[raw] if len(raw) else raw
    seen = np.bincount(codes, minlength=len(position)) > 0
    keep = np.cumsum(seen) - 1
    labels = [label for label, s in zip(position, seen, strict=True) if s]
    return keep[codes].astype(np.int64), labels, n_missing


def _difference(groups: pd.DataFrame, column: str, compared: str) -> float | None:
    values = groups.loc[groups[compared], column].to_numpy(np.float64)
    if len(values) < 2:
        return None
    # Rounded to 12 decimals so that, e.g., 0.3 - 0.1 is 0.2 and not 0.19999999999999998,
    # and a difference equal to the limit does not warn through float noise.
    return round(float(values.max() - values.min()), 12)


def _difference_fields(
    groups: pd.DataFrame,
    column: str,
    compared: str,
    diff: float,
    limit: float,
    name: str,
    lang: str,
) -> dict[str, str]:
    rows = groups.loc[groups[compared]]
    values = rows[column].to_numpy(np.float64)
    hi, lo = int(np.argmax(values)), int(np.argmin(values))
    return {
        "name": name,
        "diff": _pp(diff, lang),
        "hi": str(rows["group"].iloc[hi]),
        "hi_rate": _pct(float(values[hi]), lang),
        "lo": str(rows["group"].iloc[lo]),
        "lo_rate": _pct(float(values[lo]), lang),
        "limit": _pp(limit, lang),
    }


def _is_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _feature_codes(series: pd.Series, bins: int) -> tuple[Int, int, str]:
    """Bin code per row, the number of bins and the kind (``numeric``/``categorical``).

    Numeric: interior edges at the ``1/bins … (bins-1)/bins`` quantiles of the finite
    values (``method="inverted_cdf"``, repeated edges merged), bins closed on the right.
    Categorical: one code per category (as text). Missing values: one bin, last.
    """
    if _is_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        finite = values[np.isfinite(values)]
        if len(finite):
            qs = np.arange(1, bins) / bins
            edges = np.unique(np.quantile(finite, qs, method="inverted_cdf"))
        else:
            edges = np.array([], dtype=np.float64)
        codes = np.searchsorted(edges, np.where(missing, 0.0, values), side="left")
        k = len(edges) + 1
        kind = "numeric"
    else:
        missing = series.isna().to_numpy(dtype=bool)
        raw, uniques = pd.factorize(series, use_na_sentinel=True)
        codes = raw.astype(np.int64)
        k = len(uniques)
        kind = "categorical"
    if missing.any():
        codes = np.where(missing, k, codes)
        k += 1
    return codes.astype(np.int64), k, kind


def _proxies(codes: Int, n_groups: int, features: pd.DataFrame | None, bins: int) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    columns = [] if features is None else list(features.items())
    for column, values in columns:
        f_codes, k, kind = _feature_codes(values, bins)
        table = np.bincount(codes * k + f_codes, minlength=n_groups * k).reshape(n_groups, k)
        used = int((table.sum(axis=0) > 0).sum())
        rows.append(
            {
                "feature": str(column),
                "kind": kind,
                "bins": used,
                "measure": "cramers_v",
                "value": cramers_v(table) if n_groups and k else float("nan"),
            }
        )
    frame = pd.DataFrame(rows, columns=["feature", "kind", "bins", "measure", "value"])
    frame = frame.astype(
        {"feature": "str", "kind": "str", "bins": "int64", "measure": "str", "value": "float64"}
    )
    return frame.sort_values(
        "value", ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)
