"""Reason codes: why a case was scored and decided as it was, in plain words.

Model reasons
-------------
For every explained row, the contributions are first grouped into business features
(:meth:`explain.attributions.Explanations.grouped`). The ``k`` groups with the largest
**positive** contributions (those that raise the risk) become reasons, ranked by
contribution (:func:`reason_table`; four by default, as adverse-action notices commonly
give); with ``kind="mitigating"`` the groups with the most **negative** contributions
(what speaks for the customer). Each reason has

* a stable ``code`` (:data:`REASON_CODES`), e.g. ``DAYS_OVERDUE`` or ``LATE_12M``; when
  the feature's input is missing the code says so instead (``HISTORY_MISSING`` for the
  payment history, ``DATA_MISSING`` otherwise), and a case gets at most one
  ``HISTORY_MISSING`` reason (the missing history groups' contributions are summed). A
  missing input is never a mitigating factor: gaps are reported as data quality instead;
* the ``feature`` (the group), the case's actual ``value`` of the group's main column,
  and the ``contribution`` in log-odds (never percentage points), with its
  ``odds_factor`` ``exp(contribution)`` (×2.0: twice the odds of non-payment) and its
  ``probability_change``: the probability shown minus the probability shown without this
  contribution, all others held (these changes do not add up; see
  :mod:`explain.attributions`);
* a ``text``: a sentence from the language's catalogue (``explain/catalogues/de.toml``,
  ``en.toml``) with the case's values formatted for that language by Babel.

The customer's estimated value (:data:`SILENT_GROUPS`) is never given as a reason, in
either direction.

The whole story of a case
-------------------------
:func:`explain_cases` puts everything a clerk needs into one table, one row per invoice
and reason, with a ``source`` (:data:`SOURCES`): the probability shown and how it comes
from the log-odds (``score``, :func:`probability_texts`), the decision's rule trace and
review reasons (``decision``, :func:`decision_reasons`), the model's reasons (``model``)
and mitigating factors (``mitigating``), the anomaly flags of :mod:`scoring.anomaly`
(``anomaly``) and data gaps (``data_quality``, :func:`anomaly_reasons`).

Catalogue format
----------------
``[reasons.CODE]`` holds either ``text`` or plural variants ``zero`` (used for 0, our
own addition), ``one``, ``other`` (CLDR plural categories of the language) chosen by the
value of the column named in ``count``; ``missing`` (optional) is used when that value
is missing. An optional ``[reasons.CODE.mitigating]`` table holds the wording for a
mitigating factor in the same form (``count`` defaults to the parent's); codes without
one use their neutral statement. Placeholders are ``{value}``, ``{label}``,
``{open_amount}``, the code of any column in :data:`scoring.features.FEATURES` and, for
anomaly and data-gap texts, the columns of :data:`scoring.anomaly.ANOMALY_COLUMNS` and
``missing_share``. ``[values.COLUMN]`` maps category values to words, ``[probability]``
holds the sentence of :func:`probability_texts`.

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
>>> table["odds_factor"].round(3).tolist(), table["probability_change"].round(3).tolist()
([2.46, 2.226], [0.221, 0.197])
>>> for text in table["text"]:  # German percent sign after a no-break space
...     print(text)
3 verspätete Zahlungen in den letzten 12 Monaten (50\xa0% der bezahlten Rechnungen).
Die Rechnung ist seit 47 Tagen überfällig.
"""

from __future__ import annotations

import math
import string
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, format_percent

from dunning.errors import DataError, PolicyError
from dunning.models import LANGUAGES
from dunning.proposal import REVIEW_CODES
from scoring.anomaly import FLAG_CODES, MISSING_FIELDS
from scoring.features import FEATURES_BY_CODE

if TYPE_CHECKING:
    from explain.attributions import Explanations

__all__ = [
    "ANOMALY_CODES",
    "CATALOGUE_CODES",
    "DATA_GAP_CODES",
    "DECISION_CODES",
    "GROUP_CODES",
    "HISTORY_GROUPS",
    "REASON_CODES",
    "REASON_COLUMNS",
    "REVIEW_REASON_CODES",
    "SILENT_GROUPS",
    "SOURCES",
    "STORY_COLUMNS",
    "anomaly_reasons",
    "decision_reasons",
    "explain_cases",
    "format_reason",
    "load_catalogue",
    "placeholders",
    "probability_texts",
    "reason_table",
    "variants",
]

Kind = Literal["adverse", "mitigating"]

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
#: Groups that are never given as a reason, in either direction: a customer's estimated
#: value may lower the risk of a case, but "your customer value is low" is no reason to
#: send a reminder, nor "your customer value is high" one to spare it (docs/clv.md).
#: Their contributions still count in the score and in ``grouped()``.
SILENT_GROUPS: frozenset[str] = frozenset({"customer_value"})
#: Groups describing the payment history; when their input is missing the reason is
#: ``HISTORY_MISSING`` (once per case).
HISTORY_GROUPS: frozenset[str] = frozenset(
    {"late_3m", "late_6m", "late_12m", "days_late", "partial_payments"}
)

#: Every model reason code, in catalogue order.
REASON_CODES: tuple[str, ...] = (
    *GROUP_CODES.values(),
    "HISTORY_MISSING",
    "DATA_MISSING",
    "OTHER",
)
#: Reason code of each anomaly flag code of :data:`scoring.anomaly.FLAG_CODES`.
#: ``ANOMALY_DATA_MISSING`` is used only when the data gaps themselves are not known
#: (the flags given as a ``|``-joined text alone); otherwise each gap is a reason.
ANOMALY_CODES: Mapping[str, str] = MappingProxyType(
    {code: f"ANOMALY_{code}" for code in FLAG_CODES.values()}
)
#: Reason code of each data gap: the fields of :data:`scoring.anomaly.MISSING_FIELDS`,
#: and ``missing_share`` (more of the row's features missing than allowed) as ``DATA_GAP``.
DATA_GAP_CODES: Mapping[str, str] = MappingProxyType(
    {
        **{field: f"DATA_GAP_{field.upper()}" for field in MISSING_FIELDS},
        "missing_share": "DATA_GAP",
    }
)
#: Reason code of each review code of :data:`dunning.proposal.REVIEW_CODES`;
#: ``REVIEW_OTHER`` words any other code.
REVIEW_REASON_CODES: Mapping[str, str] = MappingProxyType(
    {code: f"REVIEW_{code}" for code in REVIEW_CODES}
)
#: Codes of the parts of a decision's rule trace (texts come from the trace itself).
DECISION_CODES: tuple[str, ...] = (
    "DECISION_LEVEL",
    "DECISION_OFFER",
    "DECISION_TONE",
    "DECISION_CHANNEL",
    "DECISION_RULE",
)
#: Every code with a ``[reasons.CODE]`` entry in the catalogues.
CATALOGUE_CODES: tuple[str, ...] = (
    *REASON_CODES,
    *ANOMALY_CODES.values(),
    *DATA_GAP_CODES.values(),
    *REVIEW_REASON_CODES.values(),
    "REVIEW_OTHER",
)
#: Where a row of :func:`explain_cases` comes from, in the order the rows are listed.
SOURCES: tuple[str, ...] = ("score", "decision", "model", "mitigating", "anomaly", "data_quality")

#: Columns of :func:`reason_table`.
REASON_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "rank",
    "code",
    "feature",
    "value",
    "contribution",
    "odds_factor",
    "probability_change",
    "text",
)
#: Columns of :func:`explain_cases`, :func:`anomaly_reasons` and :func:`decision_reasons`.
STORY_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "source",
    "rank",
    "code",
    "feature",
    "value",
    "contribution",
    "odds_factor",
    "probability_change",
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
# Units of the anomaly and data-gap columns that anomaly texts may name.
_EXTRA_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "amount_unusual_strength": "index",
        "behaviour_change_strength": "days",
        "frequency_unusual_strength": "index",
        "frequency_recent": "count",
        "frequency_expected": "index",
        "data_missing_strength": "count",
        "missing_share": "share",
    }
)
_VARIANTS = ("text", "zero", "one", "other", "missing")
# How the English rule trace's parts begin, and their codes (dunning.levels, .offers,
# .communication).
_TRACE_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("level ", "no letter"), "DECISION_LEVEL"),
    (
        ("no offer", "deferral offered", "installment plan offered", "expected value"),
        "DECISION_OFFER",
    ),
    (("tone ",), "DECISION_TONE"),
    (("channel ",), "DECISION_CHANNEL"),
)
_TRACE_FEATURES: Mapping[str, str] = MappingProxyType(
    {
        "DECISION_LEVEL": "level",
        "DECISION_OFFER": "offer",
        "DECISION_TONE": "tone",
        "DECISION_CHANNEL": "channel",
    }
)
# A data gap the model states already, per (model code, feature): not repeated.
_STATED_BY_MODEL: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "DATA_GAP_SETTLED_HISTORY": ("HISTORY_MISSING", None),
        "DATA_GAP_INDUSTRY": ("DATA_MISSING", "industry"),
    }
)


def reason_table(
    explanations: Explanations, *, k: int = 4, lang: str = "de", kind: Kind = "adverse"
) -> pd.DataFrame:
    """The top ``k`` risk-raising (or risk-lowering) reasons of every row, ranked.

    Parameters
    ----------
    explanations : Explanations
        Ungrouped explanations from :func:`explain.explain` (texts read every column).
    k : int
        Maximum number of reasons per row; rows get fewer when fewer groups qualify.
    lang : {"de", "en"}
        Language of ``text``.
    kind : {"adverse", "mitigating"}
        ``"adverse"``: the groups with the largest positive contributions (those that
        raise the risk). ``"mitigating"``: the most negative ones, worded by the
        catalogue's ``mitigating`` variants; groups whose input is missing are left out.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REASON_COLUMNS`: ``invoice_id`` (the row's index label), ``rank``
        (1 = largest contribution in absolute value), ``code``, ``feature`` (the group),
        ``value`` (the group's main column for this row), ``contribution`` (log-odds;
        > 0 for adverse, < 0 for mitigating reasons), ``odds_factor``
        (``exp(contribution)``), ``probability_change`` (probability shown minus the
        probability shown without this contribution, others held), ``text``. Sorted by
        row, then rank.

    Raises
    ------
    PolicyError
        If ``k`` is not a positive int, ``kind`` is unknown or ``lang`` has no catalogue.

    Examples
    --------
    See the module docstring.
    """
    _check_count(k, "k", minimum=1, caller="reason_table")
    if kind not in ("adverse", "mitigating"):
        msg = f"kind of reason_table must be 'adverse' or 'mitigating'. Got {kind!r} instead."
        raise PolicyError(msg, field="kind")
    catalogue = load_catalogue(lang)
    grouped = explanations.grouped()
    groups = list(grouped.feature_names)
    data = explanations.data
    values = np.array(grouped.values, dtype=np.float64, copy=True)
    missing = _missing_inputs(explanations, groups)

    adverse = kind == "adverse"
    ranking = values.copy() if adverse else -values
    history = [j for j, g in enumerate(groups) if g in HISTORY_GROUPS]
    if adverse and history:
        flags = missing[:, history]
        merged = np.where(flags, values[:, history], 0.0).sum(axis=1)
        first = np.asarray(history)[flags.argmax(axis=1)]
        block = ranking[:, history]
        block[flags] = -np.inf
        ranking[:, history] = block
        rows = np.flatnonzero(flags.any(axis=1))
        ranking[rows, first[rows]] = merged[rows]
        values[rows, first[rows]] = merged[rows]
    if not adverse:
        ranking[missing] = -np.inf
    ranking[~(ranking > 0)] = -np.inf
    silent = [j for j, g in enumerate(groups) if g in SILENT_GROUPS]
    ranking[:, silent] = -np.inf

    order, top = _top(ranking, k)
    rows, ranks = np.nonzero(np.isfinite(top))
    chosen = order[rows, ranks]

    base_codes = np.array([GROUP_CODES.get(g, "OTHER") for g in groups] or ["OTHER"], object)
    missing_codes = np.array(
        [
            "HISTORY_MISSING"
            if g in HISTORY_GROUPS
            else "DATA_MISSING"
            if g in GROUP_CODES
            else "OTHER"
            for g in groups
        ]
        or ["OTHER"],
        object,
    )
    is_missing = missing[rows, chosen] if len(rows) else np.zeros(0, dtype=bool)
    codes = np.where(is_missing, missing_codes[chosen], base_codes[chosen])
    group_names = np.array(groups or [""], dtype=object)[chosen]

    renderer = _Renderer(catalogue, data)
    texts = renderer.texts(codes, group_names, rows, kind=kind)
    contribution = values[rows, chosen]
    log_odds = explanations.log_odds[rows]
    change = explanations.probability_of(log_odds) - explanations.probability_of(
        log_odds - contribution
    )
    return pd.DataFrame(
        {
            "invoice_id": pd.Series(data.index.take(rows)),
            "rank": (ranks + 1).astype(np.int64),
            "code": _strings(codes),
            "feature": _strings(group_names),
            "value": pd.Series(_gather(grouped.data, rows, chosen), dtype=object),
            "contribution": contribution,
            "odds_factor": np.exp(contribution),
            "probability_change": change,
            "text": _strings(texts),
        },
        columns=list(REASON_COLUMNS),
    )


def probability_texts(explanations: Explanations, *, lang: str = "de") -> pd.Series:
    """One sentence per row: what the probability shown is and how log-odds relate to it.

    The sentence names the probability shown (calibrated, when the model has a
    calibrator), the base value and the row's log-odds with the model's own
    probabilities (``expit``), the sum of the contributions, and says that contributions
    are log-odds, not percentage points (×2.0: twice the odds). Probabilities are given
    to 0.1 %, log-odds to 0.01.

    Parameters
    ----------
    explanations : Explanations
        As from :func:`explain.explain` (its ``calibrator`` decides the wording).
    lang : {"de", "en"}
        Catalogue language (``[probability]``).

    Returns
    -------
    pandas.Series
        ``str``, indexed like ``explanations.data``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from explain.attributions import Explanations
    >>> exp = Explanations(values=np.array([[0.9, 0.5]]), base_values=np.array([-1.5]),
    ...                    data=pd.DataFrame({"a": [1], "b": [2]}, index=["R1"]),
    ...                    feature_names=("a", "b"))
    >>> print(probability_texts(exp, lang="en").iloc[0])  # doctest: +NORMALIZE_WHITESPACE
    The 47.5% shown is the model's probability that the invoice stays unpaid. The model
    works in log-odds: base value -1.50 (18.2%), contributions of the features together
    +1.40, giving -0.10 (47.5%). Contributions are log-odds, not percentage points: ×2.0
    means twice the odds of non-payment, ×0.5 half the odds.
    """
    catalogue = load_catalogue(lang)
    table = catalogue["probability"]
    key = "uncalibrated" if explanations.calibrator is None else "calibrated"
    template = f"{table[key]} {table['odds']}"
    probabilities = explanations.probabilities()
    locale = Locale.parse(catalogue["locale"])
    pattern = locale.percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)
    base = probabilities["base_log_odds"].to_numpy(np.float64)
    log_odds = probabilities["log_odds"].to_numpy(np.float64)
    numbers: dict[str, tuple[npt.NDArray[np.float64], str]] = {
        "probability": (probabilities["probability"].to_numpy(np.float64), "percent"),
        "base_probability": (probabilities["base_probability"].to_numpy(np.float64), "percent"),
        "model_probability": (probabilities["model_probability"].to_numpy(np.float64), "percent"),
        "model_base_probability": (
            probabilities["model_base_probability"].to_numpy(np.float64),
            "percent",
        ),
        "base_log_odds": (base, "signed"),
        "log_odds": (log_odds, "signed"),
        "contribution_sum": (log_odds - base, "signed"),
    }

    def formatted(name: str) -> npt.NDArray[np.object_]:
        raw, style = numbers[name]
        if style == "percent":
            rounded = np.round(raw, 3) + 0.0
            return _format_unique(
                rounded, lambda v: format_percent(v, format=pattern, locale=locale)
            )
        rounded = np.round(raw, 2) + 0.0
        return _format_unique(
            rounded, lambda v: format_decimal(v, format="+#,##0.00;-#,##0.00", locale=locale)
        )

    texts = _assemble(template, len(log_odds), formatted)
    return pd.Series(texts, index=explanations.data.index, dtype="str", name="text")


def anomaly_reasons(
    anomalies: pd.DataFrame | pd.Series | None = None,
    *,
    missing_share: pd.Series | None = None,
    max_missing_share: float = 0.2,
    data: pd.DataFrame | None = None,
    lang: str = "de",
) -> pd.DataFrame:
    """Anomaly flags and data gaps as reasons of their own.

    Parameters
    ----------
    anomalies : pandas.DataFrame, pandas.Series or None
        The result of :func:`scoring.anomaly.anomaly_flags` (index ``invoice_id``), or
        its ``flags`` column alone (``|``-joined codes of
        :data:`scoring.anomaly.FLAG_CODES`, ``""`` for none). With the full table each
        data gap of ``missing_fields`` is a reason of its own, and the texts name the
        strengths; with the flags alone ``DATA_MISSING`` gives one
        ``ANOMALY_DATA_MISSING`` reason.
    missing_share : pandas.Series or None
        Share of each invoice's features that are missing (index ``invoice_id``), as
        :func:`dunning.proposal.propose_items` computes it for its ``DATA_GAP`` review
        rule; a share above ``max_missing_share`` is a ``DATA_GAP`` reason.
    max_missing_share : float
        The largest share without a reason (the policy's ``review.max_missing_share``;
        0.2 by default).
    data : pandas.DataFrame or None
        The invoices' features (:func:`scoring.features.build_features`), for texts that
        name a feature (the amount relative to the usual invoice).
    lang : {"de", "en"}
        Language of ``text``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORY_COLUMNS`; ``source`` is ``"anomaly"`` for the flags
        (``ANOMALY_AMOUNT_UNUSUAL``, ``ANOMALY_BEHAVIOUR_CHANGE``,
        ``ANOMALY_FREQUENCY_UNUSUAL``, :data:`ANOMALY_CODES`; ``feature`` the flag,
        ``value`` its strength) and ``"data_quality"`` for the gaps
        (:data:`DATA_GAP_CODES`, then ``ANOMALY_DATA_MISSING``; ``value`` the missing
        share for ``DATA_GAP``). ``rank`` counts within invoice and source, in the order
        of those constants. ``contribution``, ``odds_factor`` and
        ``probability_change`` are ``NaN``: these reasons do not come from the model.

    Raises
    ------
    DataError
        If ``anomalies`` has no ``flags`` column or an unknown code, or an index has
        duplicate invoice ids.
    PolicyError
        If ``max_missing_share`` is not a share or ``lang`` has no catalogue.

    Examples
    --------
    >>> import pandas as pd
    >>> flags = pd.DataFrame({"amount_unusual_strength": [30.28, 0.1],
    ...                       "flags": ["AMOUNT_UNUSUAL|DATA_MISSING", ""],
    ...                       "missing_fields": ["settled_history|iban", ""]},
    ...                      index=pd.Index(["R5", "R6"], name="invoice_id"))
    >>> features = pd.DataFrame({"amount_vs_median": [9.5238]}, index=["R5"])
    >>> table = anomaly_reasons(flags, data=features, lang="en",
    ...                         missing_share=pd.Series({"R5": 0.1, "R6": 0.25}))
    >>> table[["invoice_id", "source", "rank", "code"]].to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'invoice_id': ['R5', 'R5', 'R5', 'R6'],
     'source': ['anomaly', 'data_quality', 'data_quality', 'data_quality'],
     'rank': [1, 1, 2, 1],
     'code': ['ANOMALY_AMOUNT_UNUSUAL', 'DATA_GAP_SETTLED_HISTORY', 'DATA_GAP_IBAN', 'DATA_GAP']}
    >>> for text in table["text"]:
    ...     print(text)
    Unusual invoice amount: 9.5 times your usual invoice amount (robust z-score 30.3).
    No settled invoice yet: there is no payment history; the assessment is therefore less certain.
    No IBAN on file.
    25% of the features are missing; the assessment is therefore less certain.
    """
    if isinstance(max_missing_share, bool) or not isinstance(max_missing_share, int | float):
        _invalid_share(max_missing_share)
    if not 0 <= float(max_missing_share) <= 1:
        _invalid_share(max_missing_share)
    catalogue = load_catalogue(lang)
    frames: list[pd.DataFrame] = []
    table: pd.DataFrame | None = None
    if anomalies is not None:
        if isinstance(anomalies, pd.DataFrame):
            if "flags" not in anomalies.columns:
                msg = (
                    f"anomalies has no 'flags' column (columns: {list(anomalies.columns)[:8]}); "
                    "pass the result of scoring.anomaly.anomaly_flags or its 'flags' column."
                )
                raise DataError(msg, path="<anomalies>", missing=["flags"])
            table = anomalies
            flags = anomalies["flags"]
        else:
            flags = anomalies
        _check_unique(flags.index, "anomalies")
        codes = _explode(flags, "|")
        known = set(FLAG_CODES.values())
        unknown = sorted(set(codes.to_numpy().tolist()) - known)
        if unknown:
            msg = (
                f"anomalies: unknown flag codes {unknown[:5]}; the flags must be codes of "
                f"scoring.anomaly.FLAG_CODES {sorted(known)}, joined with '|'."
            )
            raise DataError(msg, path="<anomalies>")
        flag_of = {code: flag for flag, code in FLAG_CODES.items()}
        order = {code: i for i, code in enumerate(FLAG_CODES.values())}
        flagged = codes[codes != "DATA_MISSING"]
        if len(flagged):
            names = flagged.map(flag_of)
            strengths = _lookup(table, flagged.index, names + "_strength")
            frames.append(
                _story_rows(
                    flagged.index,
                    "anomaly",
                    flagged.map(ANOMALY_CODES),
                    names,
                    strengths,
                    flagged.map(order),
                )
            )
        if table is not None and "missing_fields" in table.columns:
            fields = _explode(table["missing_fields"], "|")
            unknown = sorted(set(fields.to_numpy().tolist()) - set(MISSING_FIELDS))
            if unknown:
                msg = (
                    f"anomalies: unknown missing_fields {unknown[:5]}; use codes of "
                    f"scoring.anomaly.MISSING_FIELDS {list(MISSING_FIELDS)}."
                )
                raise DataError(msg, path="<anomalies>")
            position = {field: i for i, field in enumerate(MISSING_FIELDS)}
            frames.append(
                _story_rows(
                    fields.index,
                    "data_quality",
                    fields.map(DATA_GAP_CODES),
                    fields,
                    pd.Series(None, index=fields.index, dtype=object),
                    fields.map(position),
                )
            )
        else:
            gaps = codes[codes == "DATA_MISSING"]
            frames.append(
                _story_rows(
                    gaps.index,
                    "data_quality",
                    gaps.map(ANOMALY_CODES),
                    pd.Series("data_missing", index=gaps.index, dtype="str"),
                    pd.Series(None, index=gaps.index, dtype=object),
                    pd.Series(len(DATA_GAP_CODES), index=gaps.index),
                )
            )
    share: pd.Series | None = None
    if missing_share is not None:
        _check_unique(missing_share.index, "missing_share")
        share = pd.Series(missing_share, dtype="float64")
        over = share[share > max_missing_share]
        frames.append(
            _story_rows(
                over.index,
                "data_quality",
                pd.Series("DATA_GAP", index=over.index, dtype="str"),
                pd.Series("missing_share", index=over.index, dtype="str"),
                pd.Series(over.to_numpy(), index=over.index, dtype=object),
                pd.Series(len(MISSING_FIELDS), index=over.index),
            )
        )
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_story()
    rows = pd.concat(frames, ignore_index=True)
    ids = pd.Index(pd.unique(rows["invoice_id"]))
    order_of = _first_positions(ids, None if anomalies is None else anomalies.index, share)
    facts = _facts(ids, table, data, share)
    rows["_row"] = order_of[ids.get_indexer(pd.Index(rows["invoice_id"]))]
    rows["_source"] = rows["source"].map({s: i for i, s in enumerate(SOURCES)})
    rows = rows.sort_values(["_row", "_source", "_order"], kind="stable", ignore_index=True)
    rows["rank"] = rows.groupby(["_row", "_source"], sort=False).cumcount().to_numpy() + 1
    renderer = _Renderer(catalogue, facts, units=_EXTRA_UNITS)
    texts = renderer.texts(
        rows["code"].to_numpy(object),
        rows["feature"].to_numpy(object),
        ids.get_indexer(pd.Index(rows["invoice_id"])),
    )
    rows["text"] = texts
    return _story_frame(rows)


def decision_reasons(decisions: pd.DataFrame, *, lang: str = "de") -> pd.DataFrame:
    """The rule trace and review reasons of each decision, one reason per part.

    Parameters
    ----------
    decisions : pandas.DataFrame
        ``Proposal.decisions`` (:data:`dunning.proposal.DECISION_COLUMNS`), or any frame
        with ``invoice_id``, ``rule_trace`` and (for German) ``rule_trace_de``;
        ``review_reason``, ``level``, ``offer``, ``tone`` and ``channel`` are used when
        present.
    lang : {"de", "en"}
        Language of ``text``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORY_COLUMNS`, ``source`` ``"decision"``: first the parts of the
        rule trace (split on ``"; "``) in their order, coded by what they decide
        (:data:`DECISION_CODES`: ``DECISION_LEVEL``, ``DECISION_OFFER`` (also the
        expected values compared), ``DECISION_TONE``, ``DECISION_CHANNEL``, else
        ``DECISION_RULE``), with the decided ``level``, ``offer``, ``tone`` or
        ``channel`` as ``feature`` and ``value``; then one reason per code of
        ``review_reason`` (:data:`REVIEW_REASON_CODES`, worded by the catalogue). The
        codes are read from the English trace; where the German trace has a different
        number of parts, its parts are coded ``DECISION_RULE``.

    Raises
    ------
    DataError
        If a needed column is missing.
    PolicyError
        If ``lang`` has no catalogue.

    Examples
    --------
    >>> import pandas as pd
    >>> decisions = pd.DataFrame({"invoice_id": ["R1"], "level": [3], "offer": ["none"],
    ...     "rule_trace": ["level 3: 41 days overdue (from 30); no offer: risk 0.94 above 0.70"],
    ...     "rule_trace_de": ["Stufe 3: 41 Tage überfällig (ab 30); "
    ...                       "kein Angebot: Risiko 0,94 über 0,70"],
    ...     "review_reason": ["HIGH_EXPOSURE"]})
    >>> table = decision_reasons(decisions, lang="de")
    >>> table[["rank", "code", "feature", "value"]].to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'rank': [1, 2, 3], 'code': ['DECISION_LEVEL', 'DECISION_OFFER', 'REVIEW_HIGH_EXPOSURE'],
     'feature': ['level', 'offer', 'review_reason'], 'value': [3, 'none', 'HIGH_EXPOSURE']}
    >>> for text in table["text"]:
    ...     print(text)
    Stufe 3: 41 Tage überfällig (ab 30)
    kein Angebot: Risiko 0,94 über 0,70
    Zur Prüfung: Die offene Forderung erreicht die Betragsgrenze für eine Prüfung.
    """
    catalogue = load_catalogue(lang)
    trace_column = "rule_trace_de" if lang == "de" else "rule_trace"
    needed = ["invoice_id", "rule_trace", trace_column]
    absent = [c for c in dict.fromkeys(needed) if c not in decisions.columns]
    if absent:
        msg = (
            f"decisions has no {absent} column(s); pass Proposal.decisions "
            "(dunning.proposal.DECISION_COLUMNS)."
        )
        raise DataError(msg, path="<decisions>", missing=absent)
    n = len(decisions)
    ids = decisions["invoice_id"].reset_index(drop=True)
    english = decisions["rule_trace"].fillna("").astype("str").reset_index(drop=True)
    local = decisions[trace_column].fillna("").astype("str").reset_index(drop=True)
    parts = _explode(local, "; ")
    same = (english.str.count("; ") == local.str.count("; ")).to_numpy(bool)
    row_of = parts.index.to_numpy(np.intp)
    codes = np.full(len(parts), "DECISION_RULE", dtype=object)
    keep = same[row_of]
    english_parts = _explode(english.loc[same], "; ")
    if len(english_parts) == int(keep.sum()):
        codes[keep] = _trace_codes(english_parts)
    features = np.full(len(parts), "", dtype=object)
    values = np.full(len(parts), None, dtype=object)
    for code, feature in _TRACE_FEATURES.items():
        mask = codes == code
        features[mask] = feature
        if feature in decisions.columns:
            values[mask] = decisions[feature].to_numpy(object)[row_of[mask]]
    rows = pd.DataFrame(
        {
            "_row": row_of,
            "_order": parts.groupby(level=0, sort=False).cumcount().to_numpy(),
            "code": codes,
            "feature": features,
            "value": values,
            "text": parts.to_numpy(object),
        }
    )
    frames = [rows]
    if "review_reason" in decisions.columns:
        review = _explode(
            decisions["review_reason"].fillna("").astype("str").reset_index(drop=True), "|"
        )
        review_codes = review.map(REVIEW_REASON_CODES).fillna("REVIEW_OTHER").to_numpy(object)
        renderer = _Renderer(catalogue, pd.DataFrame({"review_reason": review.to_numpy(object)}))
        frames.append(
            pd.DataFrame(
                {
                    "_row": review.index.to_numpy(np.intp),
                    "_order": n + np.arange(len(review)),
                    "code": review_codes,
                    "feature": "review_reason",
                    "value": review.to_numpy(object),
                    "text": renderer.texts(
                        review_codes,
                        np.full(len(review), "review_reason", dtype=object),
                        np.arange(len(review)),
                    ),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True).sort_values(
        ["_row", "_order"], kind="stable", ignore_index=True
    )
    table["invoice_id"] = ids.to_numpy(object)[table["_row"].to_numpy(np.intp)]
    table["source"] = "decision"
    table["rank"] = table.groupby("_row", sort=False).cumcount().to_numpy() + 1
    return _story_frame(table)


def explain_cases(
    explanations: Explanations,
    *,
    decisions: pd.DataFrame | None = None,
    anomalies: pd.DataFrame | pd.Series | None = None,
    missing_share: pd.Series | None = None,
    max_missing_share: float = 0.2,
    k: int = 4,
    k_mitigating: int = 2,
    lang: str = "de",
) -> pd.DataFrame:
    """The whole story of every explained invoice, in one table: score, decision, reasons.

    Parameters
    ----------
    explanations : Explanations
        Ungrouped explanations of the invoices to tell (:func:`explain.explain`), e.g.
        the invoices of the cases only (:meth:`Explanations.select`); its index holds
        the invoice ids.
    decisions : pandas.DataFrame or None
        ``Proposal.decisions`` (:func:`decision_reasons`); rows of invoices that are not
        explained are left out.
    anomalies : pandas.DataFrame, pandas.Series or None
        :func:`scoring.anomaly.anomaly_flags` or its ``flags`` column
        (:func:`anomaly_reasons`).
    missing_share : pandas.Series or None
        Share of missing features per invoice; ``None`` computes it from
        ``explanations.data`` as the proposal's ``DATA_GAP`` review rule does (missing
        cells over all columns).
    max_missing_share : float
        A share above it is a ``DATA_GAP`` reason (the policy's
        ``review.max_missing_share``); 1 turns the reason off.
    k, k_mitigating : int
        Number of risk-raising reasons (at least 1) and of mitigating factors (0 for
        none) per invoice.
    lang : {"de", "en"}
        Language of ``text``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORY_COLUMNS`, one row per invoice and reason, the invoices in
        the order of ``explanations``, within one invoice by :data:`SOURCES`, then
        ``rank``:

        ``score``
            One row, code ``PROBABILITY``: the probability shown as ``value``, the sum of
            the contributions as ``contribution`` (its ``odds_factor``), the probability
            shown minus the base probability as ``probability_change``, and the sentence
            of :func:`probability_texts`.
        ``decision``
            :func:`decision_reasons`.
        ``model``, ``mitigating``
            :func:`reason_table` with ``kind="adverse"`` and ``"mitigating"``.
        ``anomaly``, ``data_quality``
            :func:`anomaly_reasons`; a data gap the model already states (no payment
            history as ``HISTORY_MISSING``, no industry as ``DATA_MISSING``) is not
            repeated.

    Raises
    ------
    DataError
        If the explanations' index has duplicate invoice ids, or an input lacks a column.
    PolicyError
        If ``k``, ``k_mitigating`` or ``max_missing_share`` is invalid or ``lang`` has no
        catalogue.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from explain.attributions import Explanations
    >>> data = pd.DataFrame({"days_overdue": [47], "late_12m_count": [0], "history_isna": [0]},
    ...                     index=pd.Index(["R1"], name="invoice_id"))
    >>> exp = Explanations(values=np.array([[0.9, -0.4, 0.0]]), base_values=np.array([-1.0]),
    ...                    data=data, feature_names=tuple(data.columns))
    >>> decisions = pd.DataFrame({"invoice_id": ["R1"], "level": [2], "offer": ["none"],
    ...     "rule_trace": ["level 2: 47 days overdue (from 30)"],
    ...     "review_reason": ["UNCERTAIN_SCORE"]})
    >>> story = explain_cases(exp, decisions=decisions, anomalies=pd.Series({"R1": ""}),
    ...                       lang="en")
    >>> story[["source", "rank", "code"]].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'source': ['score', 'decision', 'decision', 'model', 'mitigating'],
     'rank': [1, 1, 2, 1, 1],
     'code': ['PROBABILITY', 'DECISION_LEVEL', 'REVIEW_UNCERTAIN_SCORE', 'DAYS_OVERDUE',
              'LATE_12M']}
    >>> for text in story["text"].iloc[1:]:
    ...     print(text)
    level 2: 47 days overdue (from 30)
    For review: the risk lies close to the decision threshold.
    The invoice is 47 days overdue.
    No late payment in the last 12 months.
    """
    _check_count(k, "k", minimum=1, caller="explain_cases")
    _check_count(k_mitigating, "k_mitigating", minimum=0, caller="explain_cases")
    index = explanations.data.index
    _check_unique(index, "explanations")
    frames: list[pd.DataFrame] = []

    probabilities = explanations.probabilities()
    log_odds = probabilities["log_odds"].to_numpy(np.float64)
    total = log_odds - probabilities["base_log_odds"].to_numpy(np.float64)
    shown = probabilities["probability"].to_numpy(np.float64)
    frames.append(
        pd.DataFrame(
            {
                "invoice_id": index.to_numpy(object),
                "source": "score",
                "rank": 1,
                "code": "PROBABILITY",
                "feature": "risk",
                "value": pd.Series(shown, dtype=object).to_numpy(object),
                "contribution": total,
                "odds_factor": np.exp(total),
                "probability_change": shown - probabilities["base_probability"].to_numpy(),
                "text": probability_texts(explanations, lang=lang).to_numpy(object),
            }
        )
    )
    if decisions is not None:
        if "invoice_id" not in decisions.columns:
            msg = "decisions has no 'invoice_id' column; pass Proposal.decisions."
            raise DataError(msg, path="<decisions>", missing=["invoice_id"])
        wanted = decisions.loc[_within(index, decisions["invoice_id"])]
        frames.append(decision_reasons(wanted, lang=lang))
    model = reason_table(explanations, k=k, lang=lang).assign(source="model")
    frames.append(model)
    if k_mitigating:
        frames.append(
            reason_table(explanations, k=k_mitigating, lang=lang, kind="mitigating").assign(
                source="mitigating"
            )
        )
    if missing_share is None:
        missing_share = explanations.data.isna().mean(axis=1)
    else:
        missing_share = missing_share.loc[_within(index, missing_share.index)]
    if anomalies is not None:
        anomalies = anomalies.loc[_within(index, anomalies.index)]
    quality = anomaly_reasons(
        anomalies,
        missing_share=missing_share,
        max_missing_share=max_missing_share,
        data=explanations.data,
        lang=lang,
    )
    frames.append(_without_stated_gaps(quality, model))
    story = pd.concat([f[list(STORY_COLUMNS)] for f in frames if len(f)], ignore_index=True)
    key = pd.DataFrame(
        {
            "row": index.get_indexer(pd.Index(story["invoice_id"])),
            "source": story["source"].map({s: i for i, s in enumerate(SOURCES)}).to_numpy(),
            "rank": story["rank"].to_numpy(np.int64),
        }
    )
    order = np.lexsort((key["rank"], key["source"], key["row"]))
    story = story.iloc[order].reset_index(drop=True)
    return _story_frame(story)


def format_reason(
    code: str,
    values: Mapping[str, Any],
    *,
    feature: str | None = None,
    lang: str = "de",
    variant: str | None = None,
    kind: Kind = "adverse",
) -> str:
    """The sentence of one reason code, filled with one case's values.

    Parameters
    ----------
    code : str
        A code with a catalogue text (:data:`CATALOGUE_CODES`).
    values : mapping of str to value
        The case's feature values by column code (as in :func:`build_features`), and
        for anomaly texts the anomaly columns.
    feature : str or None
        The business feature (group) the reason is about; needed for ``{value}`` and
        ``{label}``. ``None`` takes the feature of ``code`` in :data:`GROUP_CODES`.
    lang : {"de", "en"}
        Catalogue language.
    variant : str or None
        Force a text variant (``text``, ``zero``, ``one``, ``other``, ``missing``);
        ``None`` picks it from the value of the entry's ``count`` column, as
        :func:`reason_table` does.
    kind : {"adverse", "mitigating"}
        ``"mitigating"`` uses the entry's mitigating wording, if it has one.

    Returns
    -------
    str

    Raises
    ------
    PolicyError
        If ``lang`` has no catalogue or ``code`` has no text.

    Examples
    --------
    >>> format_reason("DAYS_OVERDUE", {"days_overdue": 1}, lang="de")
    'Die Rechnung ist seit 1 Tag überfällig.'
    >>> format_reason("DAYS_OVERDUE", {"days_overdue": 3}, lang="de", kind="mitigating")
    'Die Rechnung ist erst seit 3 Tagen überfällig.'
    >>> format_reason("EXPOSURE", {"open_exposure": 1234.5, "open_invoices": 2}, lang="en")
    'In total, 2 invoices totalling 1,234.50 are open.'
    """
    catalogue = load_catalogue(lang)
    if code not in catalogue["reasons"]:
        msg = f"unknown reason code {code!r}; use one of {list(CATALOGUE_CODES)}."
        raise PolicyError(msg, field="code")
    if feature is None:
        feature = next((g for g, c in GROUP_CODES.items() if c == code), code)
    row = pd.DataFrame({name: [value] for name, value in values.items()})
    texts = _Renderer(catalogue, row, units=_EXTRA_UNITS).texts(
        np.array([code], dtype=object),
        np.array([feature], dtype=object),
        np.zeros(1, dtype=np.intp),
        kind=kind,
        variant=variant,
    )
    return str(texts[0])


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


def variants(entry: Mapping[str, Any]) -> dict[str, str]:
    """The text variants of a catalogue entry (``text``, ``zero``, ``one``, ``other``, ``missing``).

    Examples
    --------
    >>> variants({"count": "days_overdue", "one": "1 Tag", "other": "{days_overdue} Tage",
    ...           "mitigating": {"other": "erst {days_overdue} Tage"}})
    {'one': '1 Tag', 'other': '{days_overdue} Tage'}
    """
    return {key: value for key, value in entry.items() if key in _VARIANTS}


# --------------------------------------------------------------------------- helpers


def _check_count(value: object, name: str, *, minimum: int, caller: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name} of {caller} must be an int >= {minimum}. Got {value!r} instead."
        raise PolicyError(msg, field=name)


def _invalid_share(value: object) -> None:
    msg = f"max_missing_share must be a share in [0, 1]. Got {value!r} instead."
    raise PolicyError(msg, field="max_missing_share")


def _check_unique(index: pd.Index, name: str) -> None:
    if not index.is_unique:
        duplicates = index[index.duplicated()].unique().tolist()[:5]
        msg = f"{name}: invoice ids {duplicates} occur more than once; pass one row per invoice."
        raise DataError(msg, path=f"<{name}>")


def _groups(columns: list[str]) -> list[str]:
    return [FEATURES_BY_CODE[c].group if c in FEATURES_BY_CODE else c for c in columns]


def _missing_inputs(explanations: Explanations, groups: list[str]) -> npt.NDArray[np.bool_]:
    """Per row and group: the group's main column is missing or an ``_isna`` column is 1."""
    data = explanations.data
    columns = list(explanations.feature_names)
    column_groups = _groups(columns)
    missing = np.zeros((len(data), len(groups)), dtype=bool)
    for j, group in enumerate(groups):
        members = [c for c, g in zip(columns, column_groups, strict=True) if g == group]
        flags = np.array(pd.isna(data[members[0]]), dtype=bool)
        for member in members:
            if member.endswith("_isna"):
                flags = flags | (data[member].to_numpy(np.float64, na_value=np.nan) == 1)
        missing[:, j] = flags
    return missing


def _top(
    ranking: npt.NDArray[np.float64], k: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Column positions of each row's ``k`` largest values, largest first, and the values.

    Ties go to the leftmost column: the same as the first ``k`` columns of a stable
    ``argsort`` of ``-ranking``, by ``k`` passes of ``argmax`` (which returns the leftmost
    maximum) in a third of the time. A value once taken counts as ``-inf`` afterwards.
    """
    n_rows, n_groups = ranking.shape
    k = min(k, n_groups)
    work = ranking.copy()
    rows = np.arange(n_rows)
    order = np.empty((n_rows, k), dtype=np.intp)
    top = np.empty((n_rows, k), dtype=np.float64)
    for i in range(k):
        best = work.argmax(axis=1)
        order[:, i] = best
        top[:, i] = work[rows, best]
        work[rows, best] = -np.inf
    return order, top


def _gather(
    frame: pd.DataFrame, rows: npt.NDArray[np.intp], columns: npt.NDArray[np.intp]
) -> npt.NDArray[np.object_]:
    """``frame.iat[rows[i], columns[i]]`` for every ``i``, one column at a time."""
    out = np.empty(len(rows), dtype=object)
    for j in np.unique(columns):
        mask = columns == j
        out[mask] = frame.iloc[:, int(j)].to_numpy(dtype=object)[rows[mask]]
    return out


def _explode(texts: pd.Series, sep: str) -> pd.Series:
    """The non-empty parts of ``sep``-joined texts, indexed by their row's label."""
    text = texts.fillna("").astype("str")
    text = text[text != ""]
    if text.empty:
        return pd.Series([], index=texts.index[:0], dtype=object)
    parts = text.str.split(sep, regex=False).explode()
    return parts[parts != ""].astype(object)


def _trace_codes(parts: pd.Series) -> npt.NDArray[np.object_]:
    """The code of each English rule-trace part, by how it begins."""
    codes = np.full(len(parts), "DECISION_RULE", dtype=object)
    text = parts.astype("str")
    for prefixes, code in _TRACE_PREFIXES:
        hit = np.zeros(len(parts), dtype=bool)
        for prefix in prefixes:
            hit |= text.str.startswith(prefix).to_numpy(bool)
        codes[hit & (codes == "DECISION_RULE")] = code
    return codes


def _lookup(table: pd.DataFrame | None, ids: pd.Index, columns: pd.Series) -> pd.Series:
    """``table.loc[ids[i], columns[i]]`` where the column exists, else missing."""
    out = pd.Series(None, index=ids, dtype=object)
    if table is None:
        return out
    for column in pd.unique(columns.to_numpy(object)):
        if column in table.columns:
            mask = (columns == column).to_numpy(bool)
            out.iloc[np.flatnonzero(mask)] = table[column].reindex(ids[mask]).to_numpy(object)
    return out


def _story_rows(
    ids: pd.Index,
    source: str,
    codes: pd.Series,
    features: pd.Series,
    values: pd.Series,
    order: pd.Series,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ids.to_numpy(object),
            "source": source,
            "code": codes.to_numpy(object),
            "feature": features.to_numpy(object),
            "value": values.to_numpy(object),
            "_order": order.to_numpy(np.int64),
        }
    )


def _first_positions(
    ids: pd.Index, flagged: pd.Index | None, share: pd.Series | None
) -> npt.NDArray[np.int64]:
    """Sort key of each id: its position among the anomalies, then the missing shares."""
    known: pd.Index = pd.Index([], dtype=object)
    for labels in (flagged, None if share is None else share.index):
        if labels is not None:
            known = known.append(labels)
    return np.asarray(known.drop_duplicates().get_indexer(ids), dtype=np.int64)


def _facts(
    ids: pd.Index,
    table: pd.DataFrame | None,
    data: pd.DataFrame | None,
    share: pd.Series | None,
) -> pd.DataFrame:
    """The columns anomaly texts may name, for the invoices ``ids``."""
    parts: list[pd.DataFrame] = [pd.DataFrame(index=ids)]
    if data is not None:
        _check_unique(data.index, "data")
        parts.append(data.reindex(ids))
    if table is not None:
        parts.append(table.drop(columns=["flags"]).reindex(ids))
    if share is not None:
        parts.append(share.reindex(ids).rename("missing_share").to_frame())
    facts = pd.concat(parts, axis=1)
    return facts.loc[:, ~facts.columns.duplicated(keep="last")]


def _without_stated_gaps(quality: pd.DataFrame, model: pd.DataFrame) -> pd.DataFrame:
    """Data-quality rows whose gap the model's reasons already state, left out."""
    if quality.empty or model.empty:
        return quality
    keep = np.ones(len(quality), dtype=bool)
    for gap, (code, feature) in _STATED_BY_MODEL.items():
        stated = model["code"] == code
        if feature is not None:
            stated &= model["feature"] == feature
        ids = pd.Index(model.loc[stated, "invoice_id"]).unique()
        covered = _within(ids, quality["invoice_id"])
        keep &= ~((quality["code"] == gap).to_numpy(bool) & covered)
    if keep.all():
        return quality
    dropped = quality.loc[keep].reset_index(drop=True)
    dropped["rank"] = dropped.groupby(["invoice_id", "source"], sort=False).cumcount() + 1
    return dropped


def _empty_story() -> pd.DataFrame:
    return _story_frame(pd.DataFrame({c: [] for c in STORY_COLUMNS}))


def _story_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The columns of :data:`STORY_COLUMNS` with their dtypes."""
    n = len(table)
    nan = np.full(n, np.nan)
    return pd.DataFrame(
        {
            "invoice_id": pd.Series(table["invoice_id"].to_numpy(object), dtype=object),
            "source": _strings(table["source"]),
            "rank": table["rank"].to_numpy(np.int64),
            "code": _strings(table["code"]),
            "feature": _strings(table["feature"]),
            "value": pd.Series(table["value"].to_numpy(object), dtype=object),
            **{
                name: nan if name not in table.columns else table[name].to_numpy(np.float64)
                for name in ("contribution", "odds_factor", "probability_change")
            },
            "text": _strings(table["text"]),
        },
        columns=list(STORY_COLUMNS),
    )


def _strings(values: pd.Series | npt.NDArray[Any]) -> pd.Series:
    """A ``str`` column (kept as it is when it is one already)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        return values.reset_index(drop=True)
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def _within(index: pd.Index, labels: pd.Series | pd.Index) -> npt.NDArray[np.bool_]:
    """Whether each label is in the unique ``index`` (a hash lookup, unlike ``isin``)."""
    return np.asarray(index.get_indexer(pd.Index(labels)) >= 0, dtype=bool)


def _groups_of(keys: npt.NDArray[Any]) -> Iterator[tuple[Any, npt.NDArray[np.intp]]]:
    """Each distinct key (in order of first appearance) with its positions."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniques)))
    start = 0
    for i, end in enumerate(bounds):
        yield uniques[i], order[start:end]
        start = int(end)


def _format_unique(
    values: npt.NDArray[Any], format_one: Any, missing: str = ""
) -> npt.NDArray[np.object_]:
    """``format_one`` of each distinct value once, spread back to every position."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    words = np.array([*(format_one(u) for u in uniques), missing], dtype=object)
    return np.asarray(words[codes], dtype=object)


def _assemble(template: str, n: int, field: Any) -> npt.NDArray[np.object_]:
    """``template`` filled for ``n`` rows; ``field(name)`` gives a placeholder's strings."""
    out = np.full(n, "", dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name:
            out = out + field(name)
    return out


class _Renderer:
    """Fills catalogue texts with many rows' values; formats each distinct value once."""

    def __init__(
        self,
        catalogue: Mapping[str, Any],
        data: pd.DataFrame,
        units: Mapping[str, str] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.locale = Locale.parse(catalogue["locale"])
        self.lang = self.locale.language
        self.data = data
        self.units = dict(units or {})
        self.arrays: dict[str, npt.NDArray[Any]] = {}
        self.primary: dict[str, str] = {}
        for column, group in zip(
            data.columns, _groups([str(c) for c in data.columns]), strict=True
        ):
            self.primary.setdefault(group, str(column))
        self.cache: dict[tuple[str, Any], str] = {}
        self.forms: dict[float, str] = {}

    def texts(
        self,
        codes: npt.NDArray[np.object_],
        groups: npt.NDArray[np.object_],
        rows: npt.NDArray[np.intp],
        *,
        kind: Kind = "adverse",
        variant: str | None = None,
    ) -> npt.NDArray[np.object_]:
        out = np.empty(len(rows), dtype=object)
        for code, at in _groups_of(np.asarray(codes, dtype=object)):
            entry = self._entry(str(code), kind)
            keys = self._variants(entry, rows[at], variant)
            for key, sub in _groups_of(keys):
                chosen = at[sub]
                template = entry[str(key)]
                out[chosen] = _assemble(
                    template,
                    len(chosen),
                    lambda name, c=chosen: self._field(name, groups[c], rows[c]),
                )
        return out

    def _entry(self, code: str, kind: Kind) -> Mapping[str, Any]:
        entry: Mapping[str, Any] = self.catalogue["reasons"][code]
        mitigating = entry.get("mitigating")
        if kind == "mitigating" and mitigating:
            return {"count": entry.get("count", ""), **mitigating}
        return entry

    def _variants(
        self, entry: Mapping[str, Any], rows: npt.NDArray[np.intp], variant: str | None
    ) -> npt.NDArray[np.object_]:
        if variant is not None:
            return np.full(len(rows), variant, dtype=object)
        if "text" in entry and "missing" not in entry:
            return np.full(len(rows), "text", dtype=object)
        fallback = "missing" if "missing" in entry else "other"
        column = self._array(str(entry.get("count", "")))
        if column is None:
            return np.full(len(rows), fallback, dtype=object)
        return _format_unique(column[rows], lambda v: self._plural(entry, v), missing=fallback)

    def _plural(self, entry: Mapping[str, Any], count: Any) -> str:
        if not isinstance(count, int | float | np.number) or math.isnan(float(count)):
            return "missing" if "missing" in entry else "other"
        if "text" in entry:
            return "text"
        number = float(count)
        if number == 0 and "zero" in entry:
            return "zero"
        form = self.forms.get(number)
        if form is None:
            form = self.forms[number] = self.locale.plural_form(
                abs(number) if number % 1 else int(number)
            )
        return form if form in entry else "other"

    def _array(self, column: str) -> npt.NDArray[Any] | None:
        array = self.arrays.get(column)
        if array is None and column in self.data.columns:
            array = self.arrays[column] = self.data[column].to_numpy(dtype=object)
        return array

    def _field(
        self, name: str, groups: npt.NDArray[np.object_], rows: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.object_]:
        if name == "label":
            return _format_unique(groups, lambda g: self._label(self.primary.get(str(g), str(g))))
        if name == "value":
            out = np.empty(len(rows), dtype=object)
            for group, at in _groups_of(groups):
                primary = self.primary.get(group, group)
                out[at] = self._column_text(primary, primary, rows[at])
            return out
        if name == "open_amount":
            column = self._array("log_open_amount")
            if column is None:
                return np.full(len(rows), str(self.catalogue["missing"]), dtype=object)
            amounts = np.expm1(pd.to_numeric(column[rows], errors="coerce").astype(np.float64))
            return self._texts_of("open_exposure", amounts)
        return self._column_text(name, name, rows)

    def _column_text(
        self, column: str, unit_of: str, rows: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.object_]:
        values = self._array(column)
        if values is None:
            return np.full(len(rows), str(self.catalogue["missing"]), dtype=object)
        return self._texts_of(unit_of, values[rows])

    def _texts_of(self, column: str, values: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
        return _format_unique(
            values, lambda v: self._format(column, v), missing=str(self.catalogue["missing"])
        )

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
        unit = spec.unit if spec is not None else self.units.get(column)
        if unit == "category" or isinstance(value, str):
            words = self.catalogue.get("values", {}).get(column, {})
            return str(words.get(str(value), value))
        if unit == "share":
            return format_percent(float(value), locale=self.locale)
        if unit is None:
            return format_decimal(float(value), format="#,##0.##", locale=self.locale)
        return format_decimal(float(value), format=_FORMATS[unit], locale=self.locale)
