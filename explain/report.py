"""Reviewer reports: one page per case (HTML and PDF) and one for the portfolio (HTML).

A clerk who reviews a case, and an auditor who reviews a run, need the same answer as the
customer's letter, in more depth: *why* this score, this level, this offer? The reports
show it from plain data (the rows of :class:`dunning.proposal.Proposal`, the reason table
of :meth:`explain.attributions.Explanations.reasons`, the contributions of
:func:`explain.attributions.explain`), so they can be rendered wherever those exist.

Case report (:func:`case_report_html`, :func:`report_pdf`, :func:`write_case_reports`)
    The score with its calibration context (calibrated risk, the model's raw probability
    and log-odds, its base value, and what the validation data say about scores like this
    one), the dunning level, offer, tone, channel and review routing, the reason table
    (reasons that raise the risk, then mitigating ones), a **waterfall** of the grouped
    contributions from the model's base value to the main invoice's log-odds (an SVG chart and a
    table with the same numbers), the invoices with their rule traces, data-quality notes,
    a counterfactual hint, a drift warning and the model and policy versions.
Portfolio report (:func:`portfolio_report_html`)
    Case counts by level, offer and review status; the score distribution; global
    importance (mean absolute contribution per business feature) and a beeswarm summary;
    the calibration plot; the drift (PSI) and fairness tables; and a sortable list of the
    cases routed to review with their top reasons and links to their case reports.

Accessibility and privacy
-------------------------
The HTML follows the checks of the letters: ``lang`` on ``<html>``, a ``<title>``, one
``h1`` and no skipped heading level, a caption and ``scope`` on every table header, dark
text on light backgrounds (contrast at least 4.5:1, see ``templates/reports/report.css``).
Every chart is an ``<img>`` (SVG data URI) with an ``alt`` text that states its main
numbers, and a table next to it holds the same numbers. Charts use the Okabe-Ito
colours (vermillion raises the risk, blue lowers it; signs and labels carry the meaning
too) and the colour-blind-safe ``viridis`` map; they are drawn on a local matplotlib
figure inside :func:`matplotlib.rc_context` (no global state changes) and are
byte-for-byte reproducible (``svg.hashsalt``, no date in the metadata). The PDF is
PDF/UA-1 (tagged, ``/Lang``, title), rendered by WeasyPrint through
:class:`dunning._assets.AssetURLFetcher`, and every WeasyPrint ERROR fails the render.

A report holds only what the review needs: the customer id, name and segment, the
amounts, reasons and decisions. It never shows the postal address, the e-mail address or
the phone number, and an IBAN is masked by :func:`mask_iban` (country code, check digits
and the last two characters stay: ``DE89 •••• •••• •••• •••• 00``). The review list of
the portfolio report shows no names at all.

Examples
--------
>>> from decimal import Decimal
>>> import pandas as pd
>>> case = {"case_id": "C1", "customer_id": "K-1", "name": "Erika Muster", "level": 2,
...         "level_name_de": "1. Mahnung", "level_name_en": "first reminder",
...         "amount_due": Decimal("1234.56"), "currency": "EUR", "risk": 0.62,
...         "offer": "none", "needs_review": True, "review_reason": "HIGH_EXPOSURE",
...         "street": "Hauptstr. 1", "email": "erika@example.org"}
>>> reasons = pd.DataFrame({"invoice_id": ["R-1"], "rank": [1], "code": ["DAYS_OVERDUE"],
...     "feature": ["days_overdue"], "value": [47], "contribution": [0.9],
...     "text": ["The invoice is 47 days overdue."]})
>>> contributions = Contributions(pd.Series({"days_overdue": 0.9, "segment": -0.3}), -1.0)
>>> html = case_report_html(case, pd.DataFrame(), reasons, contributions=contributions,
...                         iban="DE89370400440532013000", lang="en")
>>> "The invoice is 47 days overdue." in html and "DE89 •••• •••• •••• •••• 00" in html
True
>>> "Hauptstr" in html or "erika@" in html or "DE89370400440532013000" in html
False
>>> pdf = report_pdf(html)
>>> pdf[:5]
b'%PDF-'
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import logging
import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import jinja2
import numpy as np
import numpy.typing as npt
import pandas as pd
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from dunning._assets import AssetURLFetcher, templates_dir
from dunning._files import write_atomic as _write_atomic
from dunning.errors import DataError, PolicyError, RenderError
from dunning.levels import LEVEL_NAMES
from dunning.policy import Policy
from dunning.proposal import REVIEW_CODES
from explain.attributions import Explanations
from scoring.features import FEATURES, FEATURES_BY_CODE
from scoring.metrics import calibration_table
from scoring.risk import RiskModel

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from weasyprint.text.fonts import FontConfiguration

__all__ = [
    "CASE_TEMPLATE",
    "FORMATS",
    "LABELS_FILE",
    "MANIFEST_COLUMNS",
    "PALETTE",
    "PORTFOLIO_TEMPLATE",
    "Contributions",
    "case_report_html",
    "labels",
    "mask_iban",
    "model_summary",
    "portfolio_report_html",
    "report_pdf",
    "write_case_reports",
]

logger = logging.getLogger(__name__)
progress = logging.getLogger("dunning.progress")

#: The case report template, relative to ``templates/reports``.
CASE_TEMPLATE = "case.html.j2"
#: The portfolio report template, relative to ``templates/reports``.
PORTFOLIO_TEMPLATE = "portfolio.html.j2"
#: Output formats :func:`write_case_reports` can write.
FORMATS: tuple[str, ...] = ("html", "pdf")
#: Columns of the manifest returned by :func:`write_case_reports`.
MANIFEST_COLUMNS: tuple[str, ...] = ("case_id", "format", "path", "sha256", "pages")
#: Colours of the charts: Okabe-Ito vermillion and blue (distinguishable with every common
#: colour-vision deficiency), grey for reference lines, near-black text on white. Bars and
#: markers keep a contrast of at least 3:1 against the white background (WCAG 1.4.11).
PALETTE: Mapping[str, str] = {
    "raise": "#D55E00",
    "lower": "#0072B2",
    "accent": "#0072B2",
    "reference": "#595959",
    "missing": "#8C8C8C",
    "text": "#111111",
    "background": "#FFFFFF",
}

_LOCALES: Mapping[str, str] = {"de": "de_DE", "en": "en_GB"}
_PDF_VARIANT = "pdf/ua-1"
_SALT = "dunning-explain-report"
_WATERFALL_ROWS = 10
_IMPORTANCE_ROWS = 12
_BEESWARM_FEATURES = 10
_BEESWARM_MAX_ROWS = 2000
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DASH = "–"
# Label horizon of scoring.training when the model does not say (docs/risk-model.md).
_HORIZON_DAYS = 30

#: The report wording (``templates/reports/report_labels.toml``), relative to the templates.
LABELS_FILE = "reports/report_labels.toml"

_FIRST_COLUMN: Mapping[str, str] = {
    group: next(spec.code for spec in FEATURES if spec.group == group)
    for group in dict.fromkeys(spec.group for spec in FEATURES)
}


# --------------------------------------------------------------------------- inputs


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Contributions:
    """The grouped contributions of one invoice: the numbers of the waterfall.

    Parameters
    ----------
    values : pandas.Series
        Contribution of each business feature (index) in log-odds.
    base_value : float
        The model's base value (expected raw score) in log-odds.
    data : pandas.Series, optional
        The invoice's value of each feature (same index), shown next to the contribution.
    invoice_id : str, optional
        The explained invoice.
    base_probability, probability : float, optional
        The probability shown (calibrated) for the base value and for the invoice's
        log-odds, when known.

    Raises
    ------
    DataError
        If ``values`` has duplicate labels or a non-finite value, or ``base_value`` is
        not finite.

    Examples
    --------
    Plain numbers:

    >>> import pandas as pd
    >>> c = Contributions(pd.Series({"days_overdue": 0.9, "segment": -0.3}), -1.0)
    >>> round(c.log_odds, 6)
    -0.4

    From :func:`explain.explain` output (grouped into business features):

    >>> import numpy as np
    >>> from explain.attributions import Explanations
    >>> exp = Explanations(values=np.array([[0.5, 0.2, 0.1]]), base_values=np.array([-1.0]),
    ...     data=pd.DataFrame({"days_overdue": [40], "late_12m_count": [2],
    ...                        "late_12m_share": [0.5]}, index=pd.Index(["R1"])),
    ...     feature_names=("days_overdue", "late_12m_count", "late_12m_share"))
    >>> c = Contributions.from_explanations(exp, "R1")
    >>> c.values.round(6).to_dict(), c.invoice_id, c.data.to_dict()
    ({'days_overdue': 0.5, 'late_12m': 0.3}, 'R1', {'days_overdue': 40, 'late_12m': 2})
    """

    values: pd.Series
    base_value: float
    data: pd.Series | None = None
    invoice_id: str | None = None
    base_probability: float | None = None
    probability: float | None = None

    def __post_init__(self) -> None:
        values = pd.to_numeric(self.values, errors="coerce").astype("float64")
        if values.index.has_duplicates:
            msg = (
                "Contributions.values has duplicate features "
                f"{sorted(map(str, values.index[values.index.duplicated()]))}; group them first."
            )
            raise DataError(msg)
        if not np.isfinite(values.to_numpy()).all() or not math.isfinite(float(self.base_value)):
            msg = (
                "Contributions need finite log-odds; got a missing or infinite value in "
                f"{values.to_dict()} or base value {self.base_value!r}."
            )
            raise DataError(msg)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "base_value", float(self.base_value))

    @property
    def log_odds(self) -> float:
        """The explained raw score: ``base_value + values.sum()``."""
        return float(self.base_value + float(self.values.sum()))

    @classmethod
    def from_explanations(
        cls, explanations: Explanations, row: int | str, *, grouped: bool = True
    ) -> Contributions:
        """One row of :class:`~explain.attributions.Explanations`.

        Parameters
        ----------
        explanations : Explanations
            From :func:`explain.explain` (index: invoice ids).
        row : int or str
            An index label (invoice id); an int that is not a label is a position.
        grouped : bool, default True
            Sum technical columns into business features first
            (:meth:`~explain.attributions.Explanations.grouped`); pass ``False`` for
            explanations that are grouped already.

        Raises
        ------
        DataError
            If ``row`` is neither a label nor a valid position.

        Examples
        --------
        See :class:`Contributions`.
        """
        index = explanations.data.index
        if row in index:
            position = int(cast("int", index.get_loc(row)))
        elif isinstance(row, int) and not isinstance(row, bool) and 0 <= row < len(index):
            position = row
        else:
            msg = (
                f"row {row!r} is neither an invoice id nor a position of the explanations "
                f"({len(index)} rows); pass the case's main invoice id."
            )
            raise DataError(msg)
        single = dataclasses.replace(
            explanations,
            values=explanations.values[position : position + 1],
            base_values=explanations.base_values[position : position + 1],
            data=explanations.data.iloc[position : position + 1],
        )
        if grouped:
            single = single.grouped()
        names = list(single.feature_names)
        label = index[position]
        base = float(single.base_values[0])
        log_odds = base + float(single.values[0].sum())
        # Explanations that know the model's calibrator state the probability shown.
        shown = getattr(single, "probability_of", None)
        probabilities = (
            [float(p) for p in np.asarray(shown([base, log_odds]), dtype=np.float64)]
            if callable(shown)
            else [None, None]
        )
        return cls(
            values=pd.Series(single.values[0], index=names, dtype="float64"),
            base_value=base,
            data=pd.Series(single.data.iloc[0].to_numpy(dtype=object), index=names, dtype=object),
            invoice_id=None if isinstance(label, int | np.integer) else str(label),
            base_probability=probabilities[0],
            probability=probabilities[1],
        )


@cache
def _label_file() -> Mapping[str, Mapping[str, Any]]:
    path = templates_dir() / LABELS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"report wording {path} cannot be read: {exc}; reinstall the dunning package."
        raise RenderError(msg, template=LABELS_FILE) from exc
    return MappingProxyType(
        {
            lang: MappingProxyType(
                {
                    "texts": MappingProxyType(
                        {k: v for k, v in section.items() if isinstance(v, str)}
                    ),
                    "codes": MappingProxyType(
                        {k: MappingProxyType(v) for k, v in section.get("codes", {}).items()}
                    ),
                }
            )
            for lang, section in data.items()
        }
    )


def _section(lang: str) -> Mapping[str, Any]:
    texts = _label_file()
    if lang not in texts or lang not in _LOCALES:
        msg = f"report language must be 'de' or 'en'. Got {lang!r} instead."
        raise PolicyError(msg, field="lang")
    return texts[lang]


def labels(lang: str) -> Mapping[str, str]:
    """The wording of the reports in one language (``templates/reports/report_labels.toml``).

    Headings, labels, captions, chart texts and alternative texts; the words for codes
    (review reasons, offers, tones …) are in the file's ``codes`` tables.

    Parameters
    ----------
    lang : {"de", "en"}

    Raises
    ------
    PolicyError
        If the file has no section for ``lang``.
    RenderError
        If the file cannot be read.

    Examples
    --------
    >>> labels("de")["reasons"], labels("en")["reasons"]
    ('Gründe', 'Reasons')
    """
    return cast("Mapping[str, str]", _section(lang)["texts"])


def mask_iban(iban: str) -> str:
    """An IBAN with everything but country code, check digits and last two characters hidden.

    The country code and check digits say which country's account it is; the last two
    characters let a clerk tell two accounts of a customer apart. The bank code and the
    account number are hidden. The result is grouped in fours like a printed IBAN.

    Parameters
    ----------
    iban : str
        An IBAN in any spacing or case.

    Raises
    ------
    DataError
        If the text is not 15 to 34 letters and digits starting with a country code and
        two check digits (the checksum itself is not verified here).

    Examples
    --------
    >>> mask_iban("DE89 3704 0044 0532 0130 00")
    'DE89 •••• •••• •••• •••• 00'
    >>> mask_iban("gb29nwbk60161331926819")
    'GB29 •••• •••• •••• •••• 19'
    """
    compact = re.sub(r"\s+", "", str(iban)).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        msg = (
            "mask_iban needs an IBAN (country code, two check digits, 11 to 30 letters or "
            f"digits); got a text of {len(compact)} characters."
        )
        raise DataError(msg)
    masked = compact[:4] + "•" * (len(compact) - 6) + compact[-2:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def model_summary(model: RiskModel) -> dict[str, Any]:
    """What the reports show about a fitted risk model, as plain data.

    Parameters
    ----------
    model : RiskModel
        A fitted model (ideally from :meth:`~scoring.risk.RiskModel.fit_time_aware`).

    Returns
    -------
    dict
        ``version_id``, ``trained_on`` (snapshot window), ``calibration`` (method),
        ``roc_auc``, ``brier``, ``ece`` (validation metrics), ``n_trees``,
        ``horizon_days`` (the label horizon; each when recorded) and
        ``calibration_table`` (records of the validation calibration table, or ``[]``);
        the value for ``model_info`` of :func:`case_report_html` and
        :func:`portfolio_report_html`.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"days_overdue": rng.integers(1, 90, 200)})
    >>> y = (X["days_overdue"] + rng.normal(0, 20, 200) > 45).astype(int)
    >>> info = model_summary(RiskModel(n_estimators=20, n_jobs=1).fit(X, y))
    >>> sorted(info)
    ['calibration', 'calibration_table', 'n_trees', 'trained_on', 'version_id']
    >>> info["calibration"], info["calibration_table"]
    ('none', [])
    """
    training: Mapping[str, Any] = getattr(model, "training_", None) or {}
    validation: Mapping[str, Any] = getattr(model, "validation_", None) or {}
    info: dict[str, Any] = {"version_id": model.version_id}
    if "first_snapshot" in training:
        info["trained_on"] = (
            f"{training['first_snapshot']} – {training['last_snapshot']} "
            f"({training.get('rows', '?')} rows)"
        )
    else:
        info["trained_on"] = f"{training.get('rows', '?')} rows"
    info["calibration"] = str(training.get("calibration") or "none")
    metrics: Mapping[str, Any] = validation.get("metrics") or {}
    for name in ("roc_auc", "brier", "ece"):
        if name in metrics:
            info[name] = float(metrics[name])
    trees = int(getattr(model, "best_iteration_", 0) or 0)
    if trees:
        info["n_trees"] = trees
    if "horizon_days" in training:
        info["horizon_days"] = int(training["horizon_days"])
    info["calibration_table"] = [dict(row) for row in validation.get("calibration_table") or []]
    return info


# --------------------------------------------------------------------------- formatting


class _Fmt:
    """Numbers, money, dates and labels for one report language."""

    def __init__(self, lang: str) -> None:
        if lang not in _LOCALES:
            msg = f"report language must be 'de' or 'en'. Got {lang!r} instead."
            raise PolicyError(msg, field="lang")
        self.lang = lang
        self.locale = _LOCALES[lang]
        self.t = labels(lang)
        self.codes: Mapping[str, Mapping[str, str]] = _section(lang)["codes"]

    def log_odds(self, value: float) -> str:
        return str(format_decimal(value, format="+#,##0.000;-#,##0.000", locale=self.locale))

    def plain(self, value: float, digits: int = 3) -> str:
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self.locale))

    def pct(self, value: float) -> str:
        if value is None or not math.isfinite(float(value)):
            return _DASH
        sign = "\xa0%" if self.lang == "de" else "%"
        return self.plain(float(value) * 100, 1) + sign

    def integer(self, value: Any) -> str:
        return str(format_decimal(int(value), format="#,##0", locale=self.locale))

    def money(self, value: Any, currency: str) -> str:
        if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
            return _DASH
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return str(format_currency(amount, currency, locale=self.locale))

    def day(self, value: Any) -> str:
        return str(format_date(pd.Timestamp(value).date(), format="long", locale=self.locale))

    def label(self, table: str, key: Any) -> str:
        """The word for a code (``codes.<table>`` of the wording file); the code if none."""
        return str(self.codes.get(table, {}).get(str(key), key))

    def column(self, code: str) -> str:
        spec = FEATURES_BY_CODE.get(code)
        if spec is None:
            return code
        return spec.label_de if self.lang == "de" else spec.label_en

    def group(self, group: str) -> str:
        if group in self.codes.get("group", {}):
            return self.label("group", group)
        spec = FEATURES_BY_CODE.get(_FIRST_COLUMN.get(group, group))
        if spec is None:
            return group
        return spec.label_de if self.lang == "de" else spec.label_en

    def value(self, group: str, value: Any) -> str:
        """A feature value as the clerk reads it (by the unit of the group's main column)."""
        if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
            return self.t["missing"]
        if isinstance(value, str | bool) or not isinstance(value, int | float | np.number):
            return str(value)
        spec = FEATURES_BY_CODE.get(_FIRST_COLUMN.get(group, group))
        unit = spec.unit if spec is not None else None
        number = float(value)
        if unit == "log_amount":
            return self.plain(float(np.expm1(number)), 2)
        if unit == "share":
            return self.pct(number)
        if unit in ("count", "level", "flag") or (unit == "days" and number.is_integer()):
            return self.integer(number)
        if unit == "amount":
            return self.plain(number, 2)
        return self.plain(number, 2 if unit is None else 1)


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    text = str(value).strip()
    return text or None


def _cell(
    text: Any = "",
    *,
    num: bool = False,
    header: bool = False,
    sort: Any = None,
    href: str | None = None,
    items: Sequence[str] | None = None,
    code: bool = False,
) -> dict[str, Any]:
    return {
        "text": str(text),
        "num": num,
        "header": header,
        "sort": None if sort is None else str(sort),
        "href": href,
        "items": list(items) if items else None,
        "code": code,
    }


def _column(
    label: str, *, num: bool = False, sort: str | None = None, type: str | None = None
) -> dict[str, Any]:
    return {"label": label, "num": num, "sort": sort, "type": type}


def _table(
    caption: str,
    columns: Sequence[dict[str, Any]],
    rows: Sequence[Sequence[dict[str, Any]]],
    *,
    id: str | None = None,
    cls: str | None = None,
    data: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    return {
        "caption": caption,
        "columns": list(columns),
        "rows": [list(row) for row in rows],
        "id": id,
        "cls": cls,
        "data": list(data),
    }


def _kv_table(caption: str, rows: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return _table(caption, [], [[_cell(k, header=True), _cell(v)] for k, v in rows], cls="kv")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "reports"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(env: jinja2.Environment, template: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(template).render(context)
    except jinja2.TemplateError as exc:
        case = context.get("case_id")
        where = f"case {case}: " if case else ""
        msg = f"{where}template reports/{template} failed: {exc}"
        raise RenderError(msg, template=f"reports/{template}", case_id=case) from exc


# --------------------------------------------------------------------------- charts


@contextmanager
def _figure(width: float, height: float, *, constrained: bool = False) -> Iterator[Figure]:
    """A local figure inside an rc_context: no pyplot, no global state left behind."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context(
        {
            "svg.hashsalt": _SALT,
            "svg.fonttype": "path",
            "font.family": "DejaVu Sans",
            "font.size": 9.0,
            "text.color": PALETTE["text"],
            "axes.labelcolor": PALETTE["text"],
            "axes.edgecolor": PALETTE["reference"],
            "xtick.color": PALETTE["text"],
            "ytick.color": PALETTE["text"],
            "axes.unicode_minus": False,
        }
    ):
        figure = Figure(
            figsize=(width, height),
            facecolor=PALETTE["background"],
            layout="constrained" if constrained else None,
        )
        FigureCanvasAgg(figure)
        yield figure


def _svg(figure: Figure) -> str:
    import matplotlib as mpl

    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": _SALT, "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, dpi=120)
    return buffer.getvalue()


def _chart(figure: Figure, alt: str, caption: str) -> dict[str, Any]:
    width, height = figure.get_size_inches()
    encoded = base64.b64encode(_svg(figure).encode("utf-8")).decode("ascii")
    return {
        "uri": f"data:image/svg+xml;base64,{encoded}",
        "alt": alt,
        "caption": caption,
        "width": round(float(width) * 96),
        "height": round(float(height) * 96),
    }


def _tick_formatter(fmt: _Fmt, digits: int) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: fmt.plain(float(x), digits))


# --------------------------------------------------------------------------- case report


def _main_invoice(decisions: pd.DataFrame) -> str | None:
    """The invoice that weighs most in the case: largest ``risk × open_amount``."""
    if decisions.empty or "invoice_id" not in decisions.columns:
        return None
    ids = decisions["invoice_id"].astype("str").to_numpy()
    amount = (
        np.array([float(v) if not pd.isna(v) else 0.0 for v in decisions["open_amount"]])
        if "open_amount" in decisions.columns
        else np.ones(len(ids))
    )
    risk = (
        pd.to_numeric(decisions["risk"], errors="coerce").fillna(1.0).to_numpy(np.float64)
        if "risk" in decisions.columns
        else np.ones(len(ids))
    )
    order = sorted(range(len(ids)), key=lambda i: (-(risk[i] * amount[i]), ids[i]))
    return str(ids[order[0]])


def _resolve_contributions(
    contributions: Contributions | Explanations | None,
    row: int | str | None,
    main: str | None,
) -> Contributions | None:
    if contributions is None or isinstance(contributions, Contributions):
        return contributions
    if row is None:
        if main is not None and main in contributions.data.index:
            row = main
        elif len(contributions.data) == 1:
            row = 0
        else:
            msg = (
                "case_report_html: say which row of the explanations is the case's main "
                f"invoice (row=...); {len(contributions.data)} rows were given."
            )
            raise DataError(msg)
    return Contributions.from_explanations(contributions, row)


def _waterfall_steps(c: Contributions, fmt: _Fmt) -> list[dict[str, Any]]:
    """Base, the largest contributions (by size, ties by name), the rest, the score."""
    items = sorted(c.values.items(), key=lambda kv: (-abs(float(kv[1])), str(kv[0])))
    shown, rest = items[:_WATERFALL_ROWS], items[_WATERFALL_ROWS:]
    steps: list[dict[str, Any]] = []
    running = c.base_value
    for name, value in shown:
        data = c.data.get(name) if c.data is not None else None
        steps.append(
            {
                "label": fmt.group(str(name)),
                "value": fmt.value(str(name), data) if c.data is not None else _DASH,
                "contribution": float(value),
                "start": running,
            }
        )
        running += float(value)
    if rest:
        total = float(sum(float(v) for _, v in rest))
        steps.append(
            {
                "label": fmt.t["other_features"].format(n=len(rest)),
                "value": _DASH,
                "contribution": total,
                "start": running,
            }
        )
    return steps


def _waterfall_chart(c: Contributions, steps: list[dict[str, Any]], fmt: _Fmt) -> dict[str, Any]:
    n = len(steps) + 2
    labels = [fmt.t["base_row"], *(s["label"] for s in steps), fmt.t["final_row"]]
    final = c.log_odds
    with _figure(6.8, 0.3 * n + 0.9) as figure:
        axes = figure.add_subplot()
        y = list(range(n - 1, -1, -1))
        for x, yy in ((c.base_value, y[0]), (final, y[-1])):
            axes.scatter([x], [yy], color=PALETTE["text"], marker="D", s=28, zorder=3)
        ends = [c.base_value]
        for k, step in enumerate(steps, start=1):
            start, value = step["start"], step["contribution"]
            colour = PALETTE["raise"] if value > 0 else PALETTE["lower"]
            axes.barh(y[k], value, left=start, height=0.6, color=colour, zorder=2)
            end = start + value
            axes.plot([start, start], [y[k - 1], y[k]], color=PALETTE["reference"], lw=0.6)
            ends.append(end)
            axes.annotate(
                fmt.log_odds(value),
                xy=(max(start, end), y[k]),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        axes.plot([final, final], [y[-2], y[-1]], color=PALETTE["reference"], lw=0.6)
        for x, yy in ((c.base_value, y[0]), (final, y[-1])):
            axes.annotate(
                fmt.plain(x),
                xy=(x, yy),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        axes.axvline(0, color=PALETTE["reference"], lw=0.6, ls="--", zorder=1)
        axes.set_yticks(y, labels)
        axes.xaxis.set_major_formatter(_tick_formatter(fmt, 1))
        low = min([*ends, final, 0.0])
        high = max([*ends, final, 0.0])
        pad = 0.18 * (high - low or 1.0)
        axes.set_xlim(low - 0.05 * (high - low or 1.0), high + pad)
        axes.set_xlabel(fmt.t["axis_log_odds"])
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        top = ", ".join(
            f"{s['label']} {fmt.log_odds(s['contribution'])}"
            for s in sorted(steps, key=lambda s: -abs(s["contribution"]))[:3]
        )
        alt = fmt.t["waterfall_alt"].format(
            base=fmt.plain(c.base_value),
            top=top or _DASH,
            final=fmt.plain(final),
            pct=fmt.pct(_sigmoid(final)),
        )
        return _chart(figure, alt, fmt.t["waterfall_figcaption"])


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + math.exp(-x))) if x > -700 else 0.0


def _waterfall(c: Contributions, fmt: _Fmt) -> dict[str, Any]:
    steps = _waterfall_steps(c, fmt)
    t = fmt.t
    rows = [
        [
            _cell(t["base_row"], header=True),
            _cell(_DASH),
            _cell(_DASH, num=True),
            _cell(fmt.plain(c.base_value), num=True),
            _cell(_DASH, num=True),
        ]
    ]
    for step in steps:
        value = step["contribution"]
        rows.append(
            [
                _cell(step["label"], header=True),
                _cell(step["value"]),
                _cell(fmt.log_odds(value), num=True),
                _cell(fmt.plain(step["start"] + value), num=True),
                _cell("×" + fmt.plain(math.exp(value), 2), num=True),
            ]
        )
    rows.append(
        [
            _cell(t["final_row"], header=True),
            _cell(_DASH),
            _cell(_DASH, num=True),
            _cell(fmt.plain(c.log_odds), num=True),
            _cell(_DASH, num=True),
        ]
    )
    columns = [
        _column(t["feature"]),
        _column(t["value"]),
        _column(t["contribution"], num=True),
        _column(t["running"], num=True),
        _column(t["odds_factor"], num=True),
    ]
    intro = (
        t["waterfall_intro"].format(invoice=c.invoice_id)
        if c.invoice_id
        else t["waterfall_intro_plain"]
    )
    return {
        "intro": intro,
        "chart": _waterfall_chart(c, steps, fmt),
        "table": _table(t["waterfall_caption"], columns, rows),
    }


def _review_text(codes: Any, fmt: _Fmt) -> str:
    text = _text(codes) or ""
    return ", ".join(fmt.label("review", code) for code in text.split("|") if code)


def _truthy(value: Any) -> bool:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "ja"}
    return bool(value)


def _summary(case: Mapping[str, Any], iban: str | None, fmt: _Fmt) -> dict[str, Any]:
    t, lang = fmt.t, fmt.lang
    currency = str(case.get("currency") or "EUR")
    rows: list[tuple[str, str]] = [
        (t["case_id"], str(case["case_id"])),
        (t["customer_id"], _text(case.get("customer_id")) or _DASH),
    ]
    if _text(case.get("name")):
        rows.append((t["name"], str(_text(case.get("name")))))
    if _text(case.get("segment")):
        rows.append((t["segment"], fmt.label("segment", case.get("segment"))))
    if iban:
        rows.append((t["iban"], mask_iban(iban)))
    level_value = case.get("level")
    if level_value is not None and not pd.isna(level_value):
        level = int(level_value)
        name = _text(case.get(f"level_name_{lang}")) or (
            LEVEL_NAMES[level][lang] if level in LEVEL_NAMES else ""
        )
        rows.append((t["level"], f"{level} – {name}" if name else str(level)))
    amount = case.get("amount_due", case.get("total"))
    rows.append((t["amount_due"], fmt.money(amount, currency)))
    offer = _text(case.get("offer"))
    if offer:
        reason = _text(case.get("offer_reason_de" if lang == "de" else "offer_reason"))
        # The policy's reason starts with the offer ("no offer: …", "deferral offered: …").
        rows.append((t["offer"], reason or fmt.label("offer", offer)))
    if _text(case.get("tone")):
        rows.append((t["tone"], fmt.label("tone", case.get("tone"))))
    if _text(case.get("channel")):
        rows.append((t["channel"], fmt.label("channel", case.get("channel"))))
    review = _review_text(case.get("review_reason"), fmt)
    if _truthy(case.get("needs_review")):
        rows.append(
            (
                t["review"],
                t["review_yes"].format(reasons=review) if review else t["review_yes_plain"],
            )
        )
    else:
        rows.append((t["review"], t["review_no"]))
    return _kv_table(t["summary_caption"], rows)


def _valid(value: Any) -> bool:
    return value is not None and not (not isinstance(value, str) and bool(pd.isna(value)))


def _number(value: Any) -> float | None:
    """A number, or None when missing (``None``, ``NaN``, ``NA``)."""
    return float(value) if _valid(value) else None


def _score(
    case: Mapping[str, Any],
    decisions: pd.DataFrame,
    c: Contributions | None,
    probability: Mapping[str, float] | None,
    model_info: Mapping[str, Any],
    fmt: _Fmt,
) -> tuple[dict[str, Any], str | None]:
    """The score table: case risk, the explained invoice's risk, raw score, base value."""
    t = fmt.t
    info = dict(probability or {})
    invoice = c.invoice_id if c is not None else None
    calibrated = _number(info.get("calibrated"))
    if calibrated is None and invoice is not None and {"invoice_id", "risk"} <= set(decisions):
        match = decisions.loc[decisions["invoice_id"].astype("str") == invoice, "risk"]
        calibrated = _number(match.iloc[0]) if len(match) else None
    if calibrated is None and c is not None:
        calibrated = c.probability
    rows: list[tuple[str, str]] = []
    case_risk = _number(case.get("risk"))
    if case_risk is not None:
        rows.append((t["case_risk"], fmt.pct(case_risk)))
    if calibrated is not None:
        label = t["invoice_risk"].format(invoice=invoice) if invoice else t["calibrated"]
        rows.append((label, fmt.pct(calibrated)))
    log_odds = c.log_odds if c is not None else info.get("log_odds")
    raw = info.get("raw", _sigmoid(log_odds) if log_odds is not None else None)
    if raw is not None:
        rows.append((t["raw"], fmt.pct(float(raw))))
    if log_odds is not None:
        rows.append((t["log_odds"], fmt.plain(float(log_odds))))
    base_value = c.base_value if c is not None else info.get("base_value")
    if base_value is not None:
        base_pct = info.get("base", _sigmoid(float(base_value)))
        text = t["base_value"].format(log_odds=fmt.plain(base_value), pct=fmt.pct(base_pct))
        if c is not None and c.base_probability is not None:
            text = t["base_value_calibrated"].format(
                log_odds=fmt.plain(base_value),
                pct=fmt.pct(base_pct),
                calibrated=fmt.pct(c.base_probability),
            )
        rows.append((t["base"], text))
    elif info.get("base") is not None:
        rows.append((t["base"], fmt.pct(float(info["base"]))))
    note = None
    table = model_info.get("calibration_table") or []
    reference = calibrated if calibrated is not None else case_risk
    if reference is not None and len(table):
        note = _calibration_note(reference, table, fmt)
    return _kv_table(t["score_caption"], rows), note


def _calibration_note(p: float, table: Sequence[Mapping[str, Any]], fmt: _Fmt) -> str | None:
    for row in table:
        lower, upper = float(row["lower"]), float(row["upper"])
        last = upper >= 1.0
        if (lower <= p < upper or (last and lower <= p <= upper)) and int(row["count"]) > 0:
            return fmt.t["calibration_note"].format(
                count=fmt.integer(row["count"]),
                lower=fmt.pct(lower),
                upper=fmt.pct(upper),
                observed=fmt.pct(float(row["observed_rate"])),
                predicted=fmt.pct(float(row["mean_predicted"])),
            )
    return None


def _reason_tables(
    reasons: pd.DataFrame, fmt: _Fmt
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Reasons raising the risk and mitigating ones, one row per reason code.

    A code that several invoices share is shown once, with the text and contribution of
    its strongest row and the list of invoices it applies to.
    """
    if reasons.empty or "text" not in reasons.columns:
        return None, None
    frame = reasons
    if "lang" in frame.columns:
        frame = frame.loc[frame["lang"] == fmt.lang]
    contribution = (
        pd.to_numeric(frame["contribution"], errors="coerce")
        if "contribution" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    frame = frame.assign(
        _c=contribution,
        invoice_id=(
            frame["invoice_id"].astype("str")
            if "invoice_id" in frame.columns
            else pd.Series("", index=frame.index)
        ),
        _key=(frame["code"] if "code" in frame.columns else frame["text"]).astype("str"),
        source=(
            frame["source"].fillna("model").astype("str")
            if "source" in frame.columns
            else pd.Series("model", index=frame.index)
        ),
    )
    t = fmt.t
    columns = [
        _column(t["reason"]),
        _column(t["code"]),
        _column(t["invoices_of_reason"]),
        _column(t["source"]),
        _column(t["contribution"], num=True),
    ]

    def table(part: pd.DataFrame, caption: str, sign: int) -> dict[str, Any] | None:
        if part.empty:
            return None
        # Strongest row first: NaN (a rule, no model contribution) before any number.
        strength = (part["_c"] * sign).fillna(np.inf)
        ordered = part.assign(_s=strength).sort_values(
            ["_s", "_key", "invoice_id"], ascending=[False, True, True], kind="stable"
        )
        rows = []
        for key, group in ordered.groupby("_key", sort=False):
            best = group.iloc[0]
            invoices = list(dict.fromkeys(group["invoice_id"]))
            shown = ", ".join(i for i in invoices[:3] if i)
            if len(invoices) > 3:
                shown += " " + t["and_more"].format(n=len(invoices) - 3)
            value = best["_c"]
            rows.append(
                [
                    _cell(best["text"], header=True),
                    _cell(str(key), code=True),
                    _cell(shown or _DASH),
                    _cell(fmt.label("source", best["source"])),
                    _cell(_DASH if pd.isna(value) else fmt.log_odds(float(value)), num=True),
                ]
            )
        return _table(caption, columns, rows)

    raising = table(frame.loc[~(frame["_c"] < 0)], t["reasons_caption"], 1)
    lowering = table(frame.loc[frame["_c"] < 0], t["mitigating_caption"], -1)
    return raising, lowering


def _invoices_table(
    decisions: pd.DataFrame, currency: str, fmt: _Fmt
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The case's invoices with amounts, and the rule trace of each (if any)."""
    t = fmt.t
    columns = [
        _column(t["invoice"]),
        _column(t["days_overdue"], num=True),
        _column(t["open_amount"], num=True),
        _column(t["fee"], num=True),
        _column(t["interest"], num=True),
        _column(t["flat_fee"], num=True),
        _column(t["risk"], num=True),
        _column(t["level"], num=True),
    ]
    trace = "rule_trace_de" if fmt.lang == "de" else "rule_trace"
    rows = []
    rules = []
    records = cast("list[dict[str, Any]]", decisions.to_dict("records"))
    for record in sorted(records, key=lambda r: str(r.get("invoice_id"))):
        cur = str(record.get("currency") or currency)
        invoice = str(record.get("invoice_id", _DASH))
        days = record.get("days_overdue")
        risk = record.get("risk")
        level = record.get("level")
        rows.append(
            [
                _cell(invoice, header=True),
                _cell(_DASH if days is None or pd.isna(days) else fmt.integer(days), num=True),
                _cell(fmt.money(record.get("open_amount"), cur), num=True),
                _cell(fmt.money(record.get("fee"), cur), num=True),
                _cell(fmt.money(record.get("interest"), cur), num=True),
                _cell(fmt.money(record.get("flat_fee"), cur), num=True),
                _cell(_DASH if risk is None or pd.isna(risk) else fmt.pct(float(risk)), num=True),
                _cell(_DASH if level is None or pd.isna(level) else str(int(level)), num=True),
            ]
        )
        text = _text(record.get(trace))
        if text:
            rules.append([_cell(invoice, header=True), _cell(text)])
    if not rows:
        rows.append([_cell(t["no_invoices"], header=True), *(_cell(_DASH) for _ in columns[1:])])
    rule_table = (
        _table(t["rules_caption"], [_column(t["invoice"]), _column(t["rule_trace"])], rules)
        if rules
        else None
    )
    return _table(t["invoices_caption"], columns, rows), rule_table


def _info_rows(info: Mapping[str, Any], fmt: _Fmt, *, policy: bool) -> list[tuple[str, str]]:
    rows = []
    for key, value in info.items():
        if key == "calibration_table" or value is None:
            continue
        name = f"policy_{key}" if policy and key == "version_id" else key
        label = fmt.label("info", name)
        if isinstance(value, float):
            text = fmt.plain(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = fmt.integer(value)
        else:
            text = str(value)
        rows.append((label, text))
    return rows


def _policy_info(policy_info: Mapping[str, Any] | Policy | None) -> Mapping[str, Any]:
    if isinstance(policy_info, Policy):
        return {
            "name": policy_info.name,
            "version": policy_info.version,
            "version_id": policy_info.version_id,
        }
    return policy_info or {}


def _case_context(
    case: Mapping[str, Any],
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    contributions: Contributions | Explanations | None,
    row: int | str | None,
    probability: Mapping[str, float] | None,
    counterfactual: str | None,
    data_quality: Sequence[str],
    drift_warning: str | None,
    model_info: Mapping[str, Any] | None,
    policy_info: Mapping[str, Any] | Policy | None,
    iban: str | None,
    lang: str,
    as_of: date | None,
) -> dict[str, Any]:
    fmt = _Fmt(lang)
    t = fmt.t
    if "case_id" not in case or _text(case.get("case_id")) is None:
        msg = "case_report_html: the case has no case_id; pass one row of Proposal.cases."
        raise DataError(msg, missing=["case_id"])
    case_id = str(case["case_id"])
    main = _main_invoice(decisions)
    c = _resolve_contributions(contributions, row, main)
    info = dict(model_info or {})
    score, note = _score(case, decisions, c, probability, info, fmt)
    raising, lowering = _reason_tables(reasons, fmt)
    invoices, rules = _invoices_table(decisions, str(case.get("currency") or "EUR"), fmt)
    warnings = []
    if drift_warning:
        warnings.append({"label": t["drift_warning"], "text": drift_warning})
    if _truthy(case.get("needs_review")):
        review = _review_text(case.get("review_reason"), fmt) or t["review_yes_plain"]
        warnings.append(
            {"label": t["review_needed"], "text": t["review_needed_text"].format(reasons=review)}
        )
    lead = t["case_lead"]
    if as_of is not None:
        lead += " " + t["as_of"].format(date=fmt.day(as_of))
    versions = _info_rows(info, fmt, policy=False) + _info_rows(
        _policy_info(policy_info), fmt, policy=True
    )
    return {
        "html_lang": _LOCALES[lang].replace("_", "-"),
        "title": t["case_title"].format(case_id=case_id),
        "case_id": case_id,
        "lead": lead,
        "t": t,
        "warnings": warnings,
        "summary": _summary(case, iban, fmt),
        "score_intro": t["score_intro"].format(
            horizon=fmt.integer(info.get("horizon_days") or _HORIZON_DAYS)
        ),
        "score": score,
        "calibration_note": note,
        "reasons_table": raising,
        "mitigating_table": lowering,
        "waterfall": _waterfall(c, fmt) if c is not None and len(c.values) else None,
        "invoices": invoices,
        "rules": rules,
        "data_quality": [str(n) for n in data_quality if str(n).strip()],
        "counterfactual": _text(counterfactual),
        "versions": _kv_table(t["versions_caption"], versions or [(t["model_version"], _DASH)]),
        "privacy": t["privacy"],
    }


def case_report_html(
    case: Mapping[str, Any],
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    contributions: Contributions | Explanations | None = None,
    row: int | str | None = None,
    probability: Mapping[str, float] | None = None,
    counterfactual: str | None = None,
    data_quality: Sequence[str] = (),
    drift_warning: str | None = None,
    model_info: Mapping[str, Any] | None = None,
    policy_info: Mapping[str, Any] | Policy | None = None,
    iban: str | None = None,
    lang: str = "de",
    as_of: date | None = None,
) -> str:
    """Render the review report of one case as a self-contained HTML page.

    Parameters
    ----------
    case : Mapping
        One row of ``Proposal.cases`` (``case_id``; shown when present: ``customer_id,
        name, segment, level, level_name_de/en, amount_due`` (or ``total``), ``currency,
        risk, offer, offer_reason(_de), tone, channel, needs_review, review_reason``).
        Address and e-mail columns are ignored.
    decisions : pandas.DataFrame
        The case's rows of ``Proposal.decisions`` (``invoice_id, days_overdue,
        open_amount, fee, interest, flat_fee, risk, level, rule_trace(_de)``; all
        optional but ``invoice_id``). May be empty.
    reasons : pandas.DataFrame
        Reason rows of the case's invoices (``invoice_id, rank, code, feature, value,
        contribution, text``; optional ``source`` in ``model, anomaly, data_quality,
        decision`` and ``lang``: only rows in ``lang`` are shown). Rows with a negative
        contribution are listed as mitigating. May be empty.
    contributions : Contributions or Explanations, optional
        The waterfall's numbers: a :class:`Contributions`, or explanations from
        :func:`explain.explain` with ``row`` (default: the case's main invoice, the one
        with the largest ``risk × open_amount`` in ``decisions``).
    row : int or str, optional
        Row of ``contributions`` when it is an ``Explanations``.
    probability : Mapping, optional
        ``calibrated`` (the explained invoice's calibrated risk; default: its ``risk`` in
        ``decisions``), ``raw`` and ``base`` (probabilities; default: the logistic
        function of the contributions' log-odds and base value), ``log_odds`` and
        ``base_value`` (used without contributions). The case's own ``risk`` (the
        open-amount weighted mean of its invoices) is shown as well.
    counterfactual : str, optional
        A hint what would change the assessment (in ``lang``).
    data_quality : sequence of str
        Data-quality notes (in ``lang``).
    drift_warning : str, optional
        Shown as a warning at the top.
    model_info : Mapping, optional
        Shown in the versions table (e.g. :func:`model_summary`); a ``calibration_table``
        entry (records of ``lower, upper, count, mean_predicted, observed_rate``) places
        the score in its validation bin.
    policy_info : Mapping or Policy, optional
        ``name, version, version_id``.
    iban : str, optional
        The customer's IBAN; shown masked (:func:`mask_iban`), never in full.
    lang : {"de", "en"}
        Report language.
    as_of : datetime.date, optional
        Run date shown in the lead paragraph.

    Returns
    -------
    str
        A complete HTML document (CSS inline, the chart as an SVG data URI).

    Raises
    ------
    PolicyError
        If ``lang`` is unknown.
    DataError
        If the case has no ``case_id``, the contributions are not finite, the row of the
        explanations cannot be chosen, or the IBAN is malformed.
    RenderError
        If the template fails.

    Examples
    --------
    See the module docstring.
    """
    context = _case_context(
        case,
        decisions,
        reasons,
        contributions=contributions,
        row=row,
        probability=probability,
        counterfactual=counterfactual,
        data_quality=data_quality,
        drift_warning=drift_warning,
        model_info=model_info,
        policy_info=policy_info,
        iban=iban,
        lang=lang,
        as_of=as_of,
    )
    return _render(_environment(), CASE_TEMPLATE, context)


# --------------------------------------------------------------------------- PDF


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _pdf(
    html: str, title: str | None, fetcher: AssetURLFetcher, fonts: FontConfiguration
) -> tuple[bytes, int]:
    from weasyprint import HTML

    name = f"report {title}" if title else "report"
    handler = _Collect()
    wp_logger = logging.getLogger("weasyprint")
    wp_logger.addHandler(handler)
    try:
        document = HTML(
            string=html, base_url=fetcher.root.as_uri() + "/", url_fetcher=fetcher
        ).render(font_config=fonts, pdf_variant=_PDF_VARIANT)
        data = document.write_pdf(pdf_variant=_PDF_VARIANT)
    except RenderError:
        raise
    except Exception as exc:  # WeasyPrint raises many types; name the report.
        msg = f"{name}: the PDF could not be rendered: {exc}"
        raise RenderError(msg, template=f"reports/{CASE_TEMPLATE}") from exc
    finally:
        wp_logger.removeHandler(handler)
    if handler.messages:
        msg = f"{name}: WeasyPrint reported an error: {handler.messages[0]}"
        raise RenderError(msg, template=f"reports/{CASE_TEMPLATE}")
    return bytes(data), len(document.pages)


def report_pdf(html: str, *, title: str | None = None) -> bytes:
    """Render a report's HTML to a PDF/UA-1 document with the restricted fetcher.

    Parameters
    ----------
    html : str
        From :func:`case_report_html` (the portfolio report is meant for the screen).
    title : str, optional
        Names the report in errors (the PDF's title is the HTML ``<title>``).

    Returns
    -------
    bytes

    Raises
    ------
    RenderError
        If WeasyPrint fails or logs an ERROR (a refused URL, a missing ``alt`` or
        ``lang``).

    Examples
    --------
    >>> report_pdf('<html lang="en"><title>t</title><p>Hello</p></html>')[:5]
    b'%PDF-'
    >>> report_pdf('<html lang="en"><title>t</title><img src="http://x.example/a.png" '
    ...            'alt="a">', title="C1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.RenderError: report C1: WeasyPrint reported an error: ... refused to fetch ...
    """
    from weasyprint.text.fonts import FontConfiguration

    return _pdf(html, title, AssetURLFetcher(), FontConfiguration())[0]


# --------------------------------------------------------------------------- batch


def write_case_reports(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    folder: str | os.PathLike[str],
    *,
    explanations: Explanations | None = None,
    model_info: Mapping[str, Any] | None = None,
    policy_info: Mapping[str, Any] | Policy | None = None,
    data_quality: Mapping[str, Sequence[str]] | None = None,
    counterfactuals: Mapping[str, str] | None = None,
    drift_warning: str | None = None,
    formats: Sequence[str] = FORMATS,
    lang: str | None = None,
    as_of: date | None = None,
) -> pd.DataFrame:
    """Write ``case-<case_id>.html`` and ``.pdf`` for every case into ``folder``.

    Parameters
    ----------
    cases : pandas.DataFrame
        Rows of ``Proposal.cases`` (e.g. only those with ``needs_review``); an ``iban``
        column, if present, is shown masked.
    decisions : pandas.DataFrame
        ``Proposal.decisions``; the rows with a case's ``case_id`` are its invoices.
    reasons : pandas.DataFrame
        Reason rows (``invoice_id, …, text`` and optionally ``lang``), linked to the
        cases through ``decisions``.
    folder : path
        Created if missing. Files are written atomically (a temporary file, then a
        rename).
    explanations : Explanations, optional
        Ungrouped explanations of the invoices (index: invoice ids); each case's
        waterfall is its main invoice's row, grouped into business features (a case
        whose main invoice is not explained gets no waterfall).
    model_info, policy_info, drift_warning
        As for :func:`case_report_html`, the same for every case.
    data_quality, counterfactuals : Mapping, optional
        Notes and hints per ``case_id``.
    formats : sequence of {"html", "pdf"}
        What to write.
    lang : {"de", "en"}, optional
        Report language; default: each case's ``language`` column, else ``"de"``.
    as_of : datetime.date, optional
        Run date shown in each report.

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`MANIFEST_COLUMNS`): one row per file, with its sha256 and
        the PDF's page count (``NA`` without a PDF).

    Raises
    ------
    RenderError
        If ``formats`` is invalid, a case id is not usable as a file name, or a report
        cannot be rendered (the error names the case).

    Examples
    --------
    >>> import tempfile
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1"], "customer_id": ["K-1"], "level": [1],
    ...     "amount_due": [Decimal("80.00")], "currency": ["EUR"], "risk": [0.3]})
    >>> decisions = pd.DataFrame({"case_id": ["C1"], "invoice_id": ["R-1"],
    ...     "days_overdue": [12], "open_amount": [Decimal("80.00")]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = write_case_reports(cases, decisions, pd.DataFrame(), tmp, lang="en")
    ...     names = sorted(p.name for p in Path(tmp).iterdir())
    >>> names, manifest["pages"].tolist()
    (['case-C1.html', 'case-C1.pdf'], [1, 1])
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        msg = (
            f"write_case_reports: formats must be a non-empty subset of {FORMATS}; "
            f"got {tuple(formats)}."
        )
        raise RenderError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    fetcher = AssetURLFetcher()
    fonts = None
    if "pdf" in formats:
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()

    by_case: dict[str, pd.DataFrame] = (
        {str(k): v for k, v in decisions.groupby("case_id", sort=False, dropna=True)}
        if "case_id" in decisions.columns
        else {}
    )
    reasons_by_case: dict[str, pd.DataFrame] = {}
    if not reasons.empty and "case_id" in decisions.columns:
        linked = reasons.drop(columns="case_id", errors="ignore").merge(
            decisions[["invoice_id", "case_id"]].dropna(), on="invoice_id", how="inner"
        )
        reasons_by_case = {str(k): v for k, v in linked.groupby("case_id", sort=False)}
    empty = pd.DataFrame(columns=["invoice_id", "text"])

    rows: list[dict[str, Any]] = []
    records = cast("list[dict[str, Any]]", cases.to_dict("records"))
    for done, case in enumerate(records, start=1):
        cid = str(case.get("case_id"))
        if not _SAFE_ID.fullmatch(cid) or ".." in cid:
            msg = (
                f"case id {cid!r} cannot be used in a file name; case ids hold letters, "
                "digits, '.', '_' and '-' only (see dunning.proposal.case_id)."
            )
            raise RenderError(msg, case_id=cid)
        case_lang = lang or _text(case.get("language")) or "de"
        invoices = by_case.get(cid, empty)
        main = _main_invoice(invoices)
        contributions = None
        if explanations is not None and main is not None and main in explanations.data.index:
            contributions = Contributions.from_explanations(explanations, main)
        context = _case_context(
            case,
            invoices,
            reasons_by_case.get(cid, empty),
            contributions=contributions,
            row=None,
            probability=None,
            counterfactual=(counterfactuals or {}).get(cid),
            data_quality=list((data_quality or {}).get(cid, ())),
            drift_warning=drift_warning,
            model_info=model_info,
            policy_info=policy_info,
            iban=_text(case.get("iban")),
            lang=case_lang,
            as_of=as_of,
        )
        html = _render(env, CASE_TEMPLATE, context)
        files: list[tuple[str, bytes]] = [("html", html.encode("utf-8"))]
        pages: int | None = None
        if fonts is not None:
            try:
                pdf, pages = _pdf(html, cid, fetcher, fonts)
            except RenderError as exc:
                raise RenderError(str(exc), template=exc.template, case_id=cid) from exc
            files.append(("pdf", pdf))
        for fmt, data in files:
            if fmt not in formats:
                continue
            path = out / f"case-{cid}.{fmt}"
            _write_atomic(path, data)
            rows.append(
                {
                    "case_id": cid,
                    "format": fmt,
                    "path": str(path),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "pages": pages,
                }
            )
        if done % 100 == 0 or done == len(records):
            progress.info("case reports: %d of %d cases rendered", done, len(records))
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    for column in ("case_id", "format", "path", "sha256"):
        manifest[column] = manifest[column].astype("str")
    manifest["pages"] = manifest["pages"].astype("Int64")
    return manifest


# --------------------------------------------------------------------------- portfolio


def _count_tables(
    cases: pd.DataFrame, fmt: _Fmt
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    t, lang = fmt.t, fmt.lang
    n = len(cases)

    def share(k: int) -> str:
        return fmt.pct(k / n) if n else _DASH

    levels: list[list[dict[str, Any]]] = []
    if "level" in cases.columns and n:
        amounts = cases.get("amount_due", cases.get("total"))
        for level, part in cases.groupby("level", sort=True):
            number = int(cast("int", level))
            name_column = f"level_name_{lang}"
            name = (_text(part[name_column].iloc[0]) if name_column in part.columns else None) or (
                LEVEL_NAMES[number][lang] if number in LEVEL_NAMES else ""
            )
            totals = _money_by_currency(part, amounts, fmt)
            levels.append(
                [
                    _cell(str(number), header=True),
                    _cell(name),
                    _cell(fmt.integer(len(part)), num=True),
                    _cell(share(len(part)), num=True),
                    _cell(totals, num=True),
                ]
            )
    level_table = _table(
        t["levels_caption"],
        [
            _column(t["level"]),
            _column(t["level_name"]),
            _column(t["cases"], num=True),
            _column(t["share"], num=True),
            _column(t["amount_due"], num=True),
        ],
        levels,
    )
    offers: list[list[dict[str, Any]]] = []
    if "offer" in cases.columns and n:
        counts = cases["offer"].fillna("none").astype("str").value_counts()
        for offer in sorted(counts.index, key=lambda o: (-int(counts[o]), o)):
            offers.append(
                [
                    _cell(fmt.label("offer", offer), header=True),
                    _cell(fmt.integer(counts[offer]), num=True),
                    _cell(share(int(counts[offer])), num=True),
                ]
            )
    offer_table = _table(
        t["offers_caption"],
        [_column(t["offer"]), _column(t["cases"], num=True), _column(t["share"], num=True)],
        offers,
    )
    flags = (
        cases["needs_review"].map(_truthy)
        if "needs_review" in cases.columns
        else pd.Series(False, index=cases.index)
    )
    routed = int(flags.sum())
    status = [
        [
            _cell(t["routed"], header=True),
            _cell(fmt.integer(routed), num=True),
            _cell(share(routed), num=True),
        ],
        [
            _cell(t["not_routed"], header=True),
            _cell(fmt.integer(n - routed), num=True),
            _cell(share(n - routed), num=True),
        ],
    ]
    if "review_reason" in cases.columns:
        codes = cases.loc[flags, "review_reason"].fillna("").astype("str").str.split("|")
        counted = pd.Series([c for row in codes for c in row if c], dtype="str").value_counts()
        known = [c for c in REVIEW_CODES if c in counted.index]
        others = sorted(c for c in counted.index if c not in REVIEW_CODES)
        for code in [*known, *others]:
            status.append(
                [
                    _cell(
                        t["review_code"].format(label=fmt.label("review", code)),
                        header=True,
                    ),
                    _cell(fmt.integer(counted[code]), num=True),
                    _cell(share(int(counted[code])), num=True),
                ]
            )
    review_table = _table(
        t["review_caption"],
        [_column(t["status"]), _column(t["cases"], num=True), _column(t["share"], num=True)],
        status,
    )
    return level_table, offer_table, review_table


def _money_by_currency(part: pd.DataFrame, amounts: pd.Series | None, fmt: _Fmt) -> str:
    if amounts is None:
        return _DASH
    currencies = (
        part["currency"].fillna("EUR").astype("str")
        if "currency" in part.columns
        else pd.Series("EUR", index=part.index)
    )
    totals: dict[str, Decimal] = {}
    for currency, value in zip(currencies, amounts.loc[part.index], strict=True):
        if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
            continue
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return "; ".join(fmt.money(totals[c], c) for c in sorted(totals)) or _DASH


def _histogram(scores: pd.Series, fmt: _Fmt) -> dict[str, Any] | None:
    values = pd.to_numeric(scores, errors="coerce").dropna().to_numpy(np.float64)
    if values.size == 0:
        return None
    edges = np.arange(11) / 10
    # The bins of scoring.metrics.calibration_table: [k/10, (k+1)/10), the last one closed.
    index = np.clip(np.floor(values * 10), 0, 9).astype(np.int64)
    counts = np.bincount(index, minlength=10)
    t = fmt.t
    ranges = [f"{fmt.plain(edges[i], 1)}–{fmt.plain(edges[i + 1], 1)}" for i in range(10)]
    with _figure(6.4, 3.2) as figure:
        axes = figure.add_subplot()
        axes.bar(
            edges[:-1],
            counts,
            width=0.1,
            align="edge",
            color=PALETTE["accent"],
            edgecolor=PALETTE["background"],
            linewidth=0.8,
        )
        for i, count in enumerate(counts):
            if count:
                axes.annotate(
                    fmt.integer(count),
                    xy=(edges[i] + 0.05, count),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7.5,
                )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, max(1, int(counts.max())) * 1.15)
        axes.xaxis.set_major_formatter(_tick_formatter(fmt, 1))
        axes.set_xlabel(t["axis_risk"])
        axes.set_ylabel(t["axis_invoices"])
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        top = int(np.argmax(counts))
        alt = t["histogram_alt"].format(
            n=fmt.integer(values.size),
            top=ranges[top],
            count=fmt.integer(counts[top]),
            median=fmt.plain(float(np.median(values))),
        )
        chart = _chart(figure, alt, t["histogram_figcaption"])
    rows = [
        [
            _cell(ranges[i], header=True),
            _cell(fmt.integer(counts[i]), num=True),
            _cell(fmt.pct(counts[i] / values.size), num=True),
        ]
        for i in range(10)
    ]
    table = _table(
        t["histogram_caption"],
        [
            _column(t["score_range"]),
            _column(t["invoices_count"], num=True),
            _column(t["share"], num=True),
        ],
        rows,
    )
    return {"chart": chart, "table": table}


def _importance(grouped: Explanations, fmt: _Fmt) -> tuple[dict[str, Any], list[str]] | None:
    if grouped.values.shape[0] == 0 or grouped.values.shape[1] == 0:
        return None
    t = fmt.t
    mean_abs = np.abs(grouped.values).mean(axis=0)
    names = list(grouped.feature_names)
    order = sorted(range(len(names)), key=lambda i: (-mean_abs[i], names[i]))
    total = float(mean_abs.sum())
    shown = order[:_IMPORTANCE_ROWS]
    labels = [fmt.group(names[i]) for i in shown]
    with _figure(6.6, 0.32 * len(shown) + 1.0) as figure:
        axes = figure.add_subplot()
        y = list(range(len(shown) - 1, -1, -1))
        values = [float(mean_abs[i]) for i in shown]
        axes.barh(y, values, height=0.65, color=PALETTE["accent"])
        for yy, value in zip(y, values, strict=True):
            axes.annotate(
                fmt.plain(value),
                xy=(value, yy),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
            )
        axes.set_yticks(y, labels)
        axes.set_xlim(0, max(values) * 1.2 if max(values) > 0 else 1.0)
        axes.xaxis.set_major_formatter(_tick_formatter(fmt, 2))
        axes.set_xlabel(t["axis_mean_abs"])
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        top = ", ".join(f"{fmt.group(names[i])} {fmt.plain(mean_abs[i])}" for i in order[:3])
        alt = t["importance_alt"].format(n=len(names), top=top)
        chart = _chart(figure, alt, t["importance_figcaption"])
    rows = [
        [
            _cell(fmt.group(names[i]), header=True),
            _cell(names[i], code=True),
            _cell(fmt.plain(mean_abs[i]), num=True),
            _cell(fmt.pct(mean_abs[i] / total) if total > 0 else _DASH, num=True),
        ]
        for i in order
    ]
    table = _table(
        t["importance_caption"],
        [
            _column(t["feature"]),
            _column(t["code"]),
            _column(t["mean_abs"], num=True),
            _column(t["share"], num=True),
        ],
        rows,
    )
    return {"chart": chart, "table": table}, [names[i] for i in order]


def _numeric(column: pd.Series) -> npt.NDArray[np.float64]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes, dtype=np.float64)
        codes[codes < 0] = np.nan
        return codes
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        return np.asarray(
            pd.Categorical(column.astype("str").where(column.notna())).codes, dtype=np.float64
        )
    return pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)


def _direction(values: npt.NDArray[np.float64], contributions: npt.NDArray[np.float64]) -> float:
    """Spearman correlation of value and contribution (NaN when undefined)."""
    keep = np.isfinite(values)
    if keep.sum() < 3:
        return math.nan
    a = pd.Series(values[keep]).rank().to_numpy(np.float64)
    b = pd.Series(contributions[keep]).rank().to_numpy(np.float64)
    if a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (a.std() * b.std()))


def _beeswarm(grouped: Explanations, order: list[str], fmt: _Fmt) -> dict[str, Any]:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    t = fmt.t
    n = grouped.values.shape[0]
    features = order[:_BEESWARM_FEATURES]
    position = {name: i for i, name in enumerate(grouped.feature_names)}
    rows_shown = np.arange(n)
    if n > _BEESWARM_MAX_ROWS:
        rows_shown = np.sort(
            np.random.default_rng(0).choice(n, size=_BEESWARM_MAX_ROWS, replace=False)
        )
    cmap = colormaps["viridis"]
    summary_rows = []
    alt_parts = []
    with _figure(7.6, 0.42 * len(features) + 1.3, constrained=True) as figure:
        axes = figure.add_subplot()
        for k, name in enumerate(features):
            j = position[name]
            y0 = len(features) - 1 - k
            shap_values = grouped.values[:, j]
            raw = _numeric(grouped.data.iloc[:, j])
            categorical = isinstance(grouped.data.iloc[:, j].dtype, pd.CategoricalDtype) or (
                grouped.data.iloc[:, j].dtype == object
            )
            x = shap_values[rows_shown]
            v = raw[rows_shown]
            finite = np.isfinite(v)
            colour_value = np.full(v.shape, np.nan)
            if finite.any():
                ranks = pd.Series(v[finite]).rank(pct=True).to_numpy(np.float64)
                colour_value[finite] = ranks
            offsets = _swarm_offsets(x)
            colours = np.array(
                [cmap(c) if np.isfinite(c) else PALETTE["missing"] for c in colour_value],
                dtype=object,
            )
            if len(x):
                axes.scatter(
                    x, y0 + offsets, c=list(colours), s=7, linewidths=0, rasterized=True, zorder=2
                )
            rho = math.nan if categorical else _direction(raw, shap_values)
            if categorical:
                direction = t["category"]
            elif math.isnan(rho) or abs(rho) < 0.3:
                direction = t["mixed"]
            else:
                direction = t["higher_raises"] if rho > 0 else t["lower_raises"]
            if k < 3:
                alt_parts.append(f"{fmt.group(name)}: {direction}")
            summary_rows.append(
                [
                    _cell(fmt.group(name), header=True),
                    _cell(fmt.plain(float(np.abs(shap_values).mean())), num=True),
                    _cell(fmt.log_odds(float(shap_values.min())), num=True),
                    _cell(fmt.log_odds(float(np.median(shap_values))), num=True),
                    _cell(fmt.log_odds(float(shap_values.max())), num=True),
                    _cell(direction),
                ]
            )
        axes.axvline(0, color=PALETTE["reference"], lw=0.6, zorder=1)
        axes.set_yticks(list(range(len(features) - 1, -1, -1)), [fmt.group(f) for f in features])
        axes.set_ylim(-0.6, len(features) - 0.4)
        axes.xaxis.set_major_formatter(_tick_formatter(fmt, 1))
        axes.set_xlabel(t["axis_log_odds"])
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        from matplotlib.cm import ScalarMappable

        bar = figure.colorbar(
            ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=axes, fraction=0.03, pad=0.01
        )
        bar.set_ticks([0, 1], labels=[t["low"], t["high"]])
        bar.set_label(t["feature_value"])
        bar.outline.set_visible(False)
        alt = t["beeswarm_alt"].format(
            n=fmt.integer(len(rows_shown)), k=len(features), top="; ".join(alt_parts)
        )
        chart = _chart(figure, alt, t["beeswarm_figcaption"])
    sample = (
        t["beeswarm_sample"].format(shown=fmt.integer(len(rows_shown)), n=fmt.integer(n))
        if len(rows_shown) < n
        else ""
    )
    table = _table(
        t["beeswarm_caption"],
        [
            _column(t["feature"]),
            _column(t["mean_abs"], num=True),
            _column(t["minimum"], num=True),
            _column(t["median"], num=True),
            _column(t["maximum"], num=True),
            _column(t["direction"]),
        ],
        summary_rows,
    )
    return {
        "intro": t["beeswarm_intro"].format(sample=sample).strip(),
        "chart": chart,
        "table": table,
    }


def _swarm_offsets(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Vertical offsets that stack points of similar contribution (deterministic)."""
    if x.size == 0:
        return np.zeros(0)
    span = float(x.max() - x.min()) or 1.0
    bins = np.floor((x - x.min()) / span * 80).astype(np.int64)
    offsets = np.zeros(x.size)
    order = np.lexsort((x, bins))
    counts: dict[int, int] = {}
    for i in order:
        k = counts.get(int(bins[i]), 0)
        counts[int(bins[i])] = k + 1
        offsets[i] = ((k + 1) // 2) * (1 if k % 2 else -1)
    peak = float(np.abs(offsets).max()) or 1.0
    return offsets / peak * 0.38


def _calibration(
    y_true: npt.ArrayLike | None,
    y_prob: npt.ArrayLike | None,
    table: Sequence[Mapping[str, Any]] | pd.DataFrame | None,
    fmt: _Fmt,
) -> dict[str, Any] | None:
    if y_true is not None and y_prob is not None:
        records = cast("list[dict[str, Any]]", calibration_table(y_true, y_prob).to_dict("records"))
    elif isinstance(table, pd.DataFrame):
        records = cast("list[dict[str, Any]]", table.to_dict("records"))
    elif table:
        records = [dict(row) for row in table]
    else:
        return None
    t = fmt.t
    filled = [r for r in records if int(r["count"]) > 0]
    if not filled:
        return None
    predicted = [float(r["mean_predicted"]) for r in filled]
    observed = [float(r["observed_rate"]) for r in filled]
    counts = np.array([float(r["count"]) for r in filled])
    with _figure(4.6, 4.4) as figure:
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], ls="--", color=PALETTE["reference"], lw=1.0, label=t["perfect"])
        axes.plot(predicted, observed, color=PALETTE["accent"], lw=1.0)
        axes.scatter(
            predicted,
            observed,
            s=12 + 150 * counts / counts.max(),
            color=PALETTE["accent"],
            zorder=3,
            label=t["model"],
        )
        axes.set(xlim=(0, 1), ylim=(0, 1))
        axes.xaxis.set_major_formatter(_tick_formatter(fmt, 1))
        axes.yaxis.set_major_formatter(_tick_formatter(fmt, 1))
        axes.set_xlabel(t["axis_predicted"])
        axes.set_ylabel(t["axis_observed"])
        axes.legend(loc="lower right", frameon=False, fontsize=8, markerscale=0.5)
        figure.tight_layout()
        worst = max(
            filled, key=lambda r: abs(float(r["observed_rate"]) - float(r["mean_predicted"]))
        )
        gap = abs(float(worst["observed_rate"]) - float(worst["mean_predicted"])) * 100
        alt = t["calibration_alt"].format(
            filled=len(filled),
            bins=len(records),
            gap=fmt.plain(gap, 1),
            range=f"{fmt.plain(float(worst['lower']), 1)}–{fmt.plain(float(worst['upper']), 1)}",
        )
        chart = _chart(figure, alt, t["calibration_figcaption"])
    rows = []
    for r in records:
        count = int(r["count"])
        rows.append(
            [
                _cell(
                    f"{fmt.plain(float(r['lower']), 1)}–{fmt.plain(float(r['upper']), 1)}",
                    header=True,
                ),
                _cell(fmt.integer(count), num=True),
                _cell(fmt.plain(float(r["mean_predicted"])) if count else _DASH, num=True),
                _cell(fmt.plain(float(r["observed_rate"])) if count else _DASH, num=True),
            ]
        )
    table_out = _table(
        t["calibration_caption"],
        [
            _column(t["bin"]),
            _column(t["count"], num=True),
            _column(t["mean_predicted"], num=True),
            _column(t["observed_rate"], num=True),
        ],
        rows,
    )
    return {"intro": t["calibration_intro"], "chart": chart, "table": table_out}


def _drift_table(drift: pd.DataFrame, fmt: _Fmt) -> dict[str, Any]:
    """The PSI table of :mod:`scoring.drift`, with the feature's label and code."""
    t = fmt.t
    labels = {
        "feature": t["code"],
        "role": t["role"],
        "kind": t["kind"],
        "psi": t["psi"],
        "status": t["status"],
        "n_reference": t["n_reference"],
        "n_new": t["n_new"],
    }
    if "feature" not in drift.columns:
        return _generic_table(drift, t["drift_caption"], fmt)
    columns = [c for c in labels if c in drift.columns]
    numeric = {"psi", "n_reference", "n_new"}
    rows = []
    for record in cast("list[dict[str, Any]]", drift.to_dict("records")):
        code = str(record["feature"])
        role = str(record.get("role") or "")
        name = t["score_row"] if role == "score" else fmt.column(code)
        cells = [_cell(name, header=True)]
        for column in columns:
            value = record.get(column)
            number = _number(value) if column == "psi" else None
            if column == "psi":
                text = _DASH if number is None else fmt.plain(number)
            elif column in ("n_reference", "n_new"):
                text = _DASH if not _valid(value) else fmt.integer(value)
            elif column == "status":
                text = fmt.label("drift_status", value)
            elif column == "role":
                text = fmt.label("drift_role", value)
            elif column == "kind":
                text = fmt.label("drift_kind", value)
            else:
                text = str(value)
            cells.append(_cell(text, num=column in numeric, code=column == "feature"))
        rows.append(cells)
    return _table(
        t["drift_caption"],
        [_column(t["feature"]), *(_column(labels[c], num=c in numeric) for c in columns)],
        rows,
    )


def _generic_table(frame: pd.DataFrame, caption: str, fmt: _Fmt) -> dict[str, Any]:
    columns = [str(c) for c in frame.columns]
    numeric = {
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
    }
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for k, (column, value) in enumerate(zip(frame.columns, values, strict=True)):
            if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
                text = _DASH
            elif isinstance(value, bool | np.bool_):
                text = fmt.t["yes"] if value else fmt.t["no"]
            elif isinstance(value, int | np.integer):
                text = fmt.integer(value)
            elif isinstance(value, float | np.floating):
                text = fmt.plain(float(value))
            else:
                text = str(value)
            cells.append(_cell(text, header=k == 0, num=column in numeric))
        rows.append(cells)
    return _table(caption, [_column(c, num=c in numeric) for c in columns], rows)


def _safe_href(href: str, case_id: str) -> str:
    if _SCHEME.match(href) or href.startswith("//"):
        msg = (
            f"case_links: the link of case {case_id} must be a relative path such as "
            f"'cases/case-{case_id}.html'; got {href!r}."
        )
        raise RenderError(msg, case_id=case_id)
    return href


def _top_reasons(reasons: pd.DataFrame, k: int = 3) -> list[str]:
    frame = reasons
    if "contribution" in frame.columns:
        contribution = pd.to_numeric(frame["contribution"], errors="coerce")
        frame = frame.assign(_c=contribution).loc[~(contribution <= 0)]
        frame = frame.sort_values(["_c", "text"], ascending=[False, True], kind="stable")
    key = "code" if "code" in frame.columns else "text"
    return [str(x) for x in frame.drop_duplicates(key)["text"].head(k)]


def _review_list(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame | None,
    case_links: Mapping[str, str],
    fmt: _Fmt,
) -> dict[str, Any] | None:
    if "needs_review" not in cases.columns:
        return None
    routed = cases.loc[cases["needs_review"].map(_truthy)]
    if routed.empty:
        return None
    t = fmt.t
    reasons_by_case: dict[str, pd.DataFrame] = {}
    if reasons is not None and not reasons.empty and "case_id" in decisions.columns:
        frame = reasons
        if "lang" in frame.columns:
            frame = frame.loc[frame["lang"] == fmt.lang]
        linked = frame.drop(columns="case_id", errors="ignore").merge(
            decisions[["invoice_id", "case_id"]].dropna(), on="invoice_id", how="inner"
        )
        reasons_by_case = {str(k): v for k, v in linked.groupby("case_id", sort=False)}
    records = cast("list[dict[str, Any]]", routed.to_dict("records"))

    def amount(record: Mapping[str, Any]) -> Decimal:
        value = record.get("amount_due", record.get("total"))
        if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
            return Decimal(0)
        return value if isinstance(value, Decimal) else Decimal(str(value))

    records.sort(key=lambda r: (-amount(r), str(r.get("case_id"))))
    rows = []
    for record in records:
        cid = str(record.get("case_id"))
        href = case_links.get(cid)
        level = record.get("level")
        risk = record.get("risk")
        currency = str(record.get("currency") or "EUR")
        top = _top_reasons(reasons_by_case.get(cid, pd.DataFrame(columns=["text"])))
        rows.append(
            [
                _cell(cid, header=True, href=_safe_href(href, cid) if href else None, sort=cid),
                _cell(_text(record.get("customer_id")) or _DASH),
                _cell(
                    _DASH if level is None or pd.isna(level) else str(int(level)),
                    num=True,
                    sort=-1 if level is None or pd.isna(level) else int(level),
                ),
                _cell(fmt.money(amount(record), currency), num=True, sort=amount(record)),
                _cell(
                    _DASH if risk is None or pd.isna(risk) else fmt.pct(float(risk)),
                    num=True,
                    sort=-1 if risk is None or pd.isna(risk) else repr(float(risk)),
                ),
                _cell(_review_text(record.get("review_reason"), fmt) or _DASH),
                _cell(_DASH if not top else "", items=top),
            ]
        )
    columns = [
        _column(t["case_id"], type="text"),
        _column(t["customer_id"], type="text"),
        _column(t["level"], num=True, type="number"),
        _column(t["amount_due"], num=True, sort="descending", type="number"),
        _column(t["risk"], num=True, type="number"),
        _column(t["review_reasons"], type="text"),
        _column(t["top_reasons"], type="text"),
    ]
    return _table(
        t["review_table_caption"],
        columns,
        rows,
        id="review-cases",
        cls="sortable",
        data=[
            ("sorted-by", t["sorted_by"]),
            ("ascending", t["ascending"]),
            ("descending", t["descending"]),
        ],
    )


def portfolio_report_html(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    explanations: Explanations | None = None,
    scores: pd.Series | None = None,
    reasons: pd.DataFrame | None = None,
    drift: pd.DataFrame | None = None,
    drift_warning: str | None = None,
    fairness: pd.DataFrame | None = None,
    fairness_warnings: Sequence[str] = (),
    y_true: npt.ArrayLike | None = None,
    y_prob: npt.ArrayLike | None = None,
    model_info: Mapping[str, Any] | None = None,
    policy_info: Mapping[str, Any] | Policy | None = None,
    case_links: Mapping[str, str] | None = None,
    lang: str = "en",
    as_of: date | None = None,
) -> str:
    """Render the portfolio report for reviewers as a self-contained HTML page.

    Parameters
    ----------
    cases, decisions : pandas.DataFrame
        ``Proposal.cases`` and ``Proposal.decisions``.
    explanations : Explanations, optional
        Contributions of the scored invoices (ungrouped, from :func:`explain.explain`):
        global importance (mean absolute grouped contribution) and the beeswarm.
    scores : pandas.Series, optional
        Calibrated risk per invoice; default ``decisions["risk"]``.
    reasons : pandas.DataFrame, optional
        Reason rows (``invoice_id, code, contribution, text``, optional ``lang``): the
        top three reasons of each case in the review list.
    drift : pandas.DataFrame, optional
        ``DriftReport.table`` of :mod:`scoring.drift` (``feature, role, kind, psi,
        status, n_reference, n_new``).
    drift_warning : str, optional
        Shown as a warning; without it a table with a ``significant`` row gives a
        standard warning.
    fairness : pandas.DataFrame, optional
        Measures per group, shown as given (first column as row header).
    fairness_warnings : sequence of str
        Shown as warnings above the fairness table.
    y_true, y_prob : array-like, optional
        Outcomes and calibrated predictions of held-out data for the calibration plot;
        without them the ``calibration_table`` of ``model_info`` is used, else the plot
        is left out with a note.
    model_info, policy_info : Mapping, optional
        As for :func:`case_report_html`.
    case_links : Mapping of str to str, optional
        ``case_id`` → relative link of its case report (e.g. ``case-<id>.html``).
    lang : {"de", "en"}
        Report language.
    as_of : datetime.date, optional
        Run date, shown in the title.

    Returns
    -------
    str

    Raises
    ------
    PolicyError
        If ``lang`` is unknown.
    RenderError
        If a case link is not relative, or the template fails.

    Examples
    --------
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1", "C2"], "customer_id": ["K-1", "K-2"],
    ...     "level": [1, 2], "amount_due": [Decimal("80.00"), Decimal("1200.00")],
    ...     "currency": ["EUR", "EUR"], "risk": [0.2, 0.7], "offer": ["none", "deferral"],
    ...     "needs_review": [False, True], "review_reason": ["", "HIGH_EXPOSURE"]})
    >>> decisions = pd.DataFrame({"case_id": ["C1", "C2"], "invoice_id": ["R1", "R2"],
    ...                           "risk": [0.2, 0.7]})
    >>> html = portfolio_report_html(cases, decisions, case_links={"C2": "case-C2.html"})
    >>> '<a href="case-C2.html">C2</a>' in html, 'aria-sort="descending"' in html
    (True, True)
    """
    fmt = _Fmt(lang)
    t = fmt.t
    for cid, href in (case_links or {}).items():
        _safe_href(str(href), str(cid))
    levels, offers, review_status = _count_tables(cases, fmt)
    if scores is None:
        scores = decisions["risk"] if "risk" in decisions.columns else pd.Series(dtype="float64")
    importance = beeswarm = None
    if explanations is not None and len(explanations.data):
        grouped = explanations.grouped()
        found = _importance(grouped, fmt)
        if found is not None:
            importance, order = found
            beeswarm = _beeswarm(grouped, order, fmt)
    info = dict(model_info or {})
    calibration = _calibration(y_true, y_prob, info.get("calibration_table"), fmt)
    warnings = []
    if drift_warning:
        warnings.append({"label": t["drift_warning"], "text": drift_warning})
    elif (
        drift is not None and "status" in drift.columns and (drift["status"] == "significant").any()
    ):
        warnings.append({"label": t["drift_warning"], "text": t["drift_alarm"]})
    versions = _info_rows(info, fmt, policy=False) + _info_rows(
        _policy_info(policy_info), fmt, policy=True
    )
    title = (
        t["portfolio_title_date"].format(date=fmt.day(as_of))
        if as_of is not None
        else t["portfolio_title"]
    )
    context = {
        "html_lang": _LOCALES[lang].replace("_", "-"),
        "title": title,
        "lead": t["portfolio_lead"],
        "t": t,
        "warnings": warnings,
        "levels": levels,
        "offers": offers,
        "review_status": review_status,
        "histogram": _histogram(scores, fmt),
        "importance": importance,
        "beeswarm": beeswarm,
        "calibration": calibration,
        "drift": _drift_table(drift, fmt) if drift is not None and len(drift) else None,
        "fairness": (
            _generic_table(fairness, t["fairness_caption"], fmt)
            if fairness is not None and len(fairness)
            else None
        ),
        "fairness_warnings": [str(w) for w in fairness_warnings],
        "review": _review_list(cases, decisions, reasons, case_links or {}, fmt),
        "versions": _kv_table(t["versions_caption"], versions) if versions else None,
        "privacy": t["portfolio_privacy"],
    }
    return _render(_environment(), PORTFOLIO_TEMPLATE, context)
