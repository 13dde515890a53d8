"""The dunning run: train → score → decide → explain → write → record.

:func:`run` chains one private function per stage, each replaceable on its own:

1. ``_train``: a :class:`scoring.risk.RiskModel` on rolling snapshots before ``as_of``
   (:func:`scoring.training.build_training_set`); no label looks past ``as_of``.
2. ``_score``: features of the overdue open items on ``as_of``
   (:func:`scoring.features.build_features`) and their calibrated risk of staying
   unpaid; ``_flag_anomalies`` (:func:`scoring.anomaly.anomaly_flags`) and
   ``_check_drift`` (PSI against the model's training reference,
   :func:`scoring.drift.drift_report`).
3. ``_decide``: :func:`dunning.workflow.propose` with the decision store: open items
   with earlier fees and part-payments allocated (:mod:`dunning.accounts`) → levels,
   fees, interest, cases, offers, tone and channel, review routing.
4. ``_explain``: TreeSHAP contributions (:func:`explain.explain`) → the top 3 reasons
   per invoice in the customer's language.
5. ``_record_proposal``: the run (its id from :func:`run_id_for`), its cases, decisions
   and a ``case_proposed`` audit event per case in the decision store
   (:class:`dunning.store.DecisionStore`, ``out/dunning.sqlite`` by default), each once;
   ``run_started`` and ``payment_received`` events once.
6. ``_write_and_issue``: one HTML and one PDF letter per case in ``out/letters/``
   (:func:`dunning.letters.render_letters`) and its e-mail in ``out/messages/``; as each
   chunk of letters is written, :func:`dunning.workflow.issue` commits its approved
   cases (no review needed, or approved by a clerk) with their documents in one
   transaction (``issue_letters=True``).
7. ``_write_reviewer_reports``: ``out/reports/portfolio.html`` and a case report per case
   routed to review (``reports=True``).
8. ``_write_decisions``, ``_write_review_queue``: ``out/decisions.csv`` (one row per
   invoice decision) and ``out/review_queue.csv`` (the cases waiting for a clerk).
9. ``_write_report``: ``out/reports/run_summary.html`` (counts by level and offer,
   anomalies, drift, data quality) from ``templates/reports/run_summary.html.j2``; the
   model bundle is in ``out/model/`` and its card in ``out/reports/model_card.html``. The
   run is marked finished (``run_finished`` event, ``runs.finished_at``).

Running the same inputs again continues the run: nothing is recorded or issued twice, and
the cases issued before are not proposed again. With ``backend="dask"`` the per-customer
stages (features, scores, explanations, letters) run as Dask tasks
(:mod:`dunning.cluster`).

Stage progress is logged at INFO on the ``dunning.progress`` logger. See
``docs/run.md`` for the output layout and the columns of ``decisions.csv``.

Examples
--------
>>> import tempfile
>>> from datetime import date
>>> from dunning.datasets import make_portfolio
>>> as_of = date(2026, 11, 23)
>>> with tempfile.TemporaryDirectory() as out:
...     result = run(make_portfolio(40, seed=1, as_of=as_of), as_of=as_of, out=out,
...                  formats=("html",))
...     (Path(out) / "decisions.csv").is_file()
True
>>> result.counts["cases"] == len(result.cases)
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, Protocol

import jinja2
import numpy as np
import pandas as pd

from dunning._assets import templates_dir
from dunning._files import write_atomic
from dunning.errors import DunningError, ModelError
from dunning.ledger import open_items
from dunning.letters import FORMATS, Creditor, render_letters
from dunning.levels import LEVEL_NAMES, MAX_AUTOMATIC_LEVEL
from dunning.messages import write_emails, write_sms
from dunning.models import SCHEMAS, Portfolio
from dunning.policy import Policy
from dunning.proposal import DECISION_COLUMNS, Proposal
from dunning.store import DecisionStore, sqlite_url
from dunning.workflow import Scores, approved_cases, issue, propose
from explain.attributions import Explanations, explain
from explain.counterfactual import counterfactuals
from explain.fairness import fairness_report
from explain.reasons import STORY_COLUMNS, explain_cases
from explain.report import model_summary, portfolio_report_html, write_case_reports
from scoring.anomaly import anomaly_flags
from scoring.drift import DriftReport, ReferenceDistribution, drift_report
from scoring.features import build_features
from scoring.model_card import model_card
from scoring.risk import RiskModel
from scoring.training import build_training_set

__all__ = [
    "BACKENDS",
    "DECISIONS_CSV_COLUMNS",
    "REVIEW_QUEUE_COLUMNS",
    "RunResult",
    "portfolio_hash",
    "run",
    "run_id_for",
    "score_portfolio",
    "train_model",
]

logger = logging.getLogger(__name__)
progress = logging.getLogger("dunning.progress")

#: Number of reasons per invoice.
N_REASONS = 3
#: Features that move with the calendar by construction, left out of the drift check.
CALENDAR_FEATURES: frozenset[str] = frozenset({"tenure_days", "industry_outlook"})

#: Columns of ``out/decisions.csv``, in order (see ``docs/run.md``).
#: Decision columns that stay internal (cents and the last letter's date).
_INTERNAL_DECISION_COLUMNS = frozenset({"open_minor", "last_dunned_on"})
#: The decision columns written to ``decisions.csv``, in the order of
#: :data:`dunning.proposal.DECISION_COLUMNS`.
_CSV_DECISION_COLUMNS: tuple[str, ...] = tuple(
    c for c in DECISION_COLUMNS if c not in _INTERNAL_DECISION_COLUMNS
)
#: Columns of ``decisions.csv``: the run date, the decision columns with the case's offer
#: code and reason after ``offer``, the reasons, and the anomaly flags.
DECISIONS_CSV_COLUMNS: tuple[str, ...] = (
    "as_of",
    *(
        name
        for column in _CSV_DECISION_COLUMNS
        for name in ((column, "offer_code", "offer_reason") if column == "offer" else (column,))
    ),
    "reason_lang",
    "reason_codes",
    *(f"reason_{i}" for i in range(1, N_REASONS + 1)),
    "anomaly_flags",
)


@dataclass(frozen=True)
class RunResult:
    """What a run produced: tables, files and counts.

    Parameters
    ----------
    as_of : datetime.date
        The run date.
    run_id : str
        Id of the run in the decision store.
    decisions : pandas.DataFrame
        One row per overdue open invoice: the columns of ``decisions.csv``
        (``open_amount`` as ``Decimal``).
    cases : pandas.DataFrame
        One row per case (letter), as in :class:`dunning.proposal.Proposal`.
    reasons : pandas.DataFrame
        Top reasons per invoice in the customer's language (``invoice_id, rank, code,
        feature, value, contribution, text, lang``).
    manifest : pandas.DataFrame
        Documents written for customers: letters and e-mails (``case_id, format`` (``html``,
        ``pdf``, ``eml``), ``path, sha256, pages`` (letters only)).
    paths : Mapping of str to pathlib.Path
        ``out``, ``letters``, ``reports``, ``decisions_csv``, ``run_summary``, ``store``,
        ``model`` (the risk-model bundle) and ``model_card``.
    counts : Mapping of str to int
        ``open_items``, ``decisions``, ``cases``, ``level_1`` … ``level_4`` (cases by
        case level), ``offer_installment_plan``, ``offer_deferral``, ``offer_none``,
        ``letters_html``, ``letters_pdf``, ``anomalies`` (invoices with an anomaly flag),
        ``drift_alarm`` (1 when a feature or the score shifted significantly),
        ``needs_review`` (cases routed to a clerk by the policy's review rules),
        ``files_written``.
    drift : pandas.DataFrame or None
        Population stability of every feature and of the score against the model's
        training reference (:func:`scoring.drift.drift_report`).

    Examples
    --------
    See the module docstring; ``print(result.summary())`` shows the counts.
    """

    as_of: date
    run_id: str
    decisions: pd.DataFrame
    cases: pd.DataFrame
    reasons: pd.DataFrame
    manifest: pd.DataFrame
    paths: Mapping[str, Path]
    counts: Mapping[str, int]
    drift: pd.DataFrame | None = None

    def summary(self) -> str:
        """A short plain-text summary: cases, letters by level, offers, files written.

        Examples
        --------
        >>> r = RunResult(date(2026, 11, 23), "R1", pd.DataFrame(), pd.DataFrame(),
        ...     pd.DataFrame(), pd.DataFrame(), {"out": Path("out")},
        ...     {"decisions": 5, "cases": 3, "level_1": 2, "level_2": 1, "level_3": 0,
        ...      "level_4": 0, "offer_installment_plan": 1, "offer_deferral": 0,
        ...      "offer_none": 2, "needs_review": 1, "letters_html": 3, "letters_pdf": 3,
        ...      "files_written": 9})
        >>> print(r.summary())
        Dunning run 2026-11-23 (R1): 5 overdue invoices, 3 cases (letters).
        Letters by level: payment reminder 2, first reminder 1, second reminder 0, final notice 0.
        Offers: installment plan 1, deferral 0, none 2.
        Routed to review: 1 of 3 cases.
        Files written: 9 (3 HTML and 3 PDF letters, decisions.csv, run report, SQLite store) in out.
        """
        c = self.counts
        levels = ", ".join(
            f"{LEVEL_NAMES[level]['en']} {c.get(f'level_{level}', 0)}"
            for level in range(1, MAX_AUTOMATIC_LEVEL + 1)
        )
        return "\n".join(
            [
                f"Dunning run {self.as_of.isoformat()} ({self.run_id}): "
                f"{c.get('decisions', 0)} overdue invoices, {c.get('cases', 0)} cases (letters).",
                f"Letters by level: {levels}.",
                f"Offers: installment plan {c.get('offer_installment_plan', 0)}, "
                f"deferral {c.get('offer_deferral', 0)}, none {c.get('offer_none', 0)}.",
                f"Routed to review: {c.get('needs_review', 0)} of {c.get('cases', 0)} cases.",
                f"Files written: {c.get('files_written', 0)} ({c.get('letters_html', 0)} HTML "
                f"and {c.get('letters_pdf', 0)} PDF letters, decisions.csv, run report, "
                f"SQLite store) in {self.paths.get('out', Path())}.",
            ]
        )


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """Log a stage's start and end on ``dunning.progress`` (``extra``: stage, finished)."""
    progress.info("%s ...", name, extra={"stage": name})
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    progress.info(
        "%s done in %.1f s", name, seconds,
        extra={"stage": name, "finished": True, "seconds": seconds},
    )  # fmt: skip


def _software_version() -> str:
    try:
        return version("dunning")
    except PackageNotFoundError:
        return "unknown"


def portfolio_hash(portfolio: Portfolio) -> str:
    """A sha256 over the four input tables (names, columns and values, in order).

    Examples
    --------
    >>> portfolio_hash(Portfolio.empty()) == portfolio_hash(Portfolio.empty())
    True
    """
    digest = hashlib.sha256()
    for name, table in portfolio.tables().items():
        columns = "\x1f".join(map(str, table.columns))
        digest.update(f"{name}\x1e{columns}\x1e".encode())
        if len(table):
            hashed = pd.util.hash_pandas_object(table, index=False)
            digest.update(hashed.to_numpy(dtype=np.uint64).tobytes())
    return digest.hexdigest()


def run_id_for(portfolio: Portfolio, as_of: date, policy: Policy | None = None) -> str:
    """The id of the run of ``policy`` on ``portfolio`` for ``as_of``.

    ``R<yyyymmdd>-`` and 12 hex digits of a sha256 over the portfolio hash
    (:func:`portfolio_hash`), the run date and the policy's version id
    (:attr:`dunning.policy.Policy.version_id`; default ``Policy.default("DE")``). The same
    inputs give the same id, so running the same command again continues that run.

    Examples
    --------
    >>> p = Portfolio.empty()
    >>> run_id_for(p, date(2026, 11, 23)) == run_id_for(p, date(2026, 11, 23))
    True
    >>> run_id_for(p, date(2026, 11, 23))[:10]
    'R20261123-'
    >>> run_id_for(p, date(2026, 11, 23)) != run_id_for(p, date(2026, 11, 23), Policy.default("GB"))
    True
    """
    policy = Policy.default("DE") if policy is None else policy
    key = f"{portfolio_hash(portfolio)}|{as_of.isoformat()}|{policy.version_id}"
    return f"R{as_of:%Y%m%d}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


def train_model(
    portfolio: Portfolio,
    as_of: date,
    *,
    out: str | os.PathLike[str] | None = None,
    random_state: int = 0,
) -> RiskModel:
    """Train the risk model the way :func:`run` does, and save it for later runs.

    Time-aware training on rolling snapshots before ``as_of`` with early stopping and
    isotonic calibration (``docs/risk-model.md``).

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables with enough history.
    as_of : datetime.date
        The training date; no label looks past it.
    out : path, optional
        Output folder: the model bundle goes to ``<out>/model/`` (load it with
        :meth:`scoring.risk.RiskModel.load` or pass the folder to ``run(model=...)``) and
        its model card to ``<out>/reports/model_card.html``.
    random_state : int
        Seed.

    Returns
    -------
    RiskModel

    Examples
    --------
    >>> import tempfile
    >>> from dunning.datasets import make_portfolio
    >>> p = make_portfolio(60, seed=1, as_of=date(2026, 11, 23))
    >>> with tempfile.TemporaryDirectory() as out:
    ...     model = train_model(p, date(2026, 11, 23), out=out)
    ...     (Path(out) / "model").is_dir()
    True
    """
    return _train(portfolio, as_of, random_state, None if out is None else Path(out))


def _load_model(model: RiskModel | str | os.PathLike[str]) -> RiskModel:
    """A fitted model as given, or the bundle in a folder (:meth:`RiskModel.load`)."""
    if isinstance(model, RiskModel):
        return model
    path = Path(model)
    if not path.is_dir():
        msg = f"model {path}: not a model bundle folder (train one with `dunning train`)."
        raise ModelError(msg)
    return RiskModel.load(path)


# --- stages ---------------------------------------------------------------------------


def _train(
    portfolio: Portfolio, as_of: date, random_state: int, out_dir: Path | None = None
) -> RiskModel:
    """Time-aware training with early stopping and isotonic calibration (docs/risk-model.md).

    The two latest snapshots are held out for early stopping, calibration and metrics.
    When they cannot be (too few snapshots, or a slice with one outcome only), the model
    is fitted on all snapshots without validation or calibration, and a warning says so.
    With ``out_dir``, the bundle goes to ``out_dir/model/`` and its model card to
    ``out_dir/reports/model_card.html``.
    """
    training = build_training_set(portfolio, as_of)
    progress.info("training set: %d rows, %d unpaid", len(training.X), int(training.y.sum()))
    # One thread: on these training-set sizes it is as fast as several, it cannot be slowed
    # down by OpenMP busy-waiting on a busy machine, and the model is the same everywhere.
    # No monotone constraints: on the demo portfolios they cost up to 1 point of the oracle
    # AUC ratio (measured in docs/risk-model.md); RiskModel(monotone="features") adds them.
    model = RiskModel(n_estimators=1000, random_state=random_state, n_jobs=1)
    try:
        model.fit_time_aware(
            training,
            validation_snapshots=2,
            calibration="isotonic",
            source=f"portfolio sha256 {portfolio_hash(portfolio)[:16]}, run of {as_of}",
        )
    except ModelError as exc:
        logger.warning(
            "time-aware training not possible, fitting on all snapshots without validation "
            "or calibration: %s",
            exc,
        )
        model = RiskModel(random_state=random_state, n_jobs=1).fit(training.X, training.y)
    if out_dir is not None:
        bundle = model.save(out_dir / "model", created_at=as_of)
        card = model_card(bundle, format="html")
        (out_dir / "reports").mkdir(parents=True, exist_ok=True)
        _write_atomic_text(out_dir / "reports" / "model_card.html", card)
    return model


def _score(model: RiskModel, portfolio: Portfolio, as_of: date) -> tuple[pd.DataFrame, pd.Series]:
    features = build_features(portfolio, as_of)
    if features.empty:
        return features, pd.Series(dtype="float64", index=features.index, name="risk")
    risk = pd.Series(model.predict_proba(features)[:, 1], index=features.index, name="risk")
    return features, risk


def score_portfolio(
    portfolio: Portfolio,
    as_of: date,
    *,
    model: RiskModel | None = None,
    random_state: int = 0,
) -> Scores:
    """Score every overdue open invoice: risk, features, anomalies and the drift alarm.

    The scoring stages of :func:`run` on their own, for :func:`dunning.workflow.propose`
    (and ``dunning propose``).

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    as_of : datetime.date
        The run date.
    model : RiskModel, optional
        A fitted model (e.g. :meth:`scoring.risk.RiskModel.load`); ``None`` trains one on
        the portfolio's history before ``as_of`` as :func:`run` does.
    random_state : int
        Seed of the model trained when ``model`` is ``None``.

    Returns
    -------
    Scores

    Examples
    --------
    >>> from dunning.datasets import make_portfolio
    >>> p = make_portfolio(40, seed=1, as_of=date(2026, 11, 23))
    >>> scores = score_portfolio(p, date(2026, 11, 23))
    >>> bool(scores.risk.between(0, 1).all()), scores.risk.index.equals(scores.features.index)
    (True, True)
    """
    model = _train(portfolio, as_of, random_state) if model is None else model
    features, risk = _score(model, portfolio, as_of)
    items = open_items(portfolio, as_of)
    anomalies = _flag_anomalies(portfolio, as_of, features, items)
    drift = _check_drift(model, features, risk)
    return Scores(
        risk=risk,
        features=features,
        anomalies=_routed_anomalies(anomalies),
        drift_alarm=drift is not None and drift.alarm,
    )


def _flag_anomalies(
    portfolio: Portfolio, as_of: date, features: pd.DataFrame, items: pd.DataFrame
) -> pd.Series:
    """The ``|``-joined anomaly codes of each overdue invoice ("" for none)."""
    if features.empty:
        return pd.Series(dtype="str", index=features.index, name="anomaly_flags")
    flags = anomaly_flags(portfolio, as_of, features=features, items=items)
    return flags["flags"].fillna("").astype("str").rename("anomaly_flags")


def _check_drift(model: RiskModel, features: pd.DataFrame, risk: pd.Series) -> DriftReport | None:
    """PSI of today's features and scores against the model's training reference.

    Features in :data:`CALENDAR_FEATURES` are left out: the reference spans a year of
    training snapshots, so features that move with the calendar by construction (tenure
    grows every day, the outlook index changes every quarter) always "shift" and would
    raise the alarm on every run. Their values still enter the score, whose PSI is checked.
    """
    reference = getattr(model, "reference_", None)
    if features.empty or not reference:
        return None
    full = ReferenceDistribution.from_dict(reference)
    kept = {k: v for k, v in full.features.items() if k not in CALENDAR_FEATURES}
    trimmed = ReferenceDistribution(features=kept, score=full.score, bins=full.bins)
    return drift_report(trimmed, features, score_new=risk.to_numpy())


def _decide(
    portfolio: Portfolio,
    features: pd.DataFrame,
    risk: pd.Series,
    as_of: date,
    store: DecisionStore,
    *,
    policy: Policy,
    anomalies: pd.Series | None = None,
    drift: DriftReport | None = None,
) -> Proposal:
    """Levels, fees, interest, cases, offers, tone, channel and review routing."""
    scores = Scores(
        risk=risk,
        features=features,
        anomalies=_routed_anomalies(anomalies),
        drift_alarm=drift is not None and drift.alarm,
    )
    return propose(portfolio, scores, policy, as_of, store=store)


def _routed_anomalies(anomalies: pd.Series | None) -> pd.Series | None:
    """The anomaly codes that route a case to review as ``ANOMALY``.

    ``DATA_MISSING`` is left out: missing data is routed by the policy's own data-gap rule
    (``review.max_missing_share`` of the features), not as an anomaly. It stays in the
    ``anomaly_flags`` column of ``decisions.csv``.
    """
    if anomalies is None:
        return None
    text = anomalies.fillna("").astype("str")
    return text.str.replace(r"\|?DATA_MISSING", "", regex=True).str.strip("|")


def _explain(
    model: RiskModel,
    features: pd.DataFrame,
    proposal: Proposal,
    customers: pd.DataFrame,
    explain_rows: _Explainer | None = None,
) -> tuple[pd.DataFrame, Explanations | None]:
    columns = ["invoice_id", "rank", "code", "feature", "value", "contribution", "text", "lang"]
    if features.empty or proposal.decisions.empty:
        return pd.DataFrame(columns=columns), None
    explanations = (explain if explain_rows is None else explain_rows)(model, features)
    language = (
        customers.drop_duplicates("customer_id")
        .set_index("customer_id")["language"]
        .reindex(proposal.decisions["customer_id"].to_numpy())
        .fillna("de")
        .to_numpy()
    )
    wanted = pd.DataFrame(
        {"invoice_id": proposal.decisions["invoice_id"].to_numpy(), "lang": language}
    )
    frames = []
    for lang in sorted(set(language)):
        # Each invoice's reasons in its customer's language only.
        rows = pd.Index(wanted.loc[wanted["lang"] == lang, "invoice_id"].unique())
        shown = explanations.select(rows.intersection(explanations.data.index))
        frames.append(shown.reasons(k=N_REASONS, lang=lang).assign(lang=lang))
    reasons = pd.concat(frames, ignore_index=True).merge(wanted, on=["invoice_id", "lang"])
    ordered = reasons.sort_values(["invoice_id", "rank"], kind="stable").reset_index(drop=True)
    return ordered[columns], explanations


def _report_lang(policy: Policy) -> Literal["de", "en"]:
    """Reviewer reports are written for the clerks: German under a German policy."""
    return "de" if policy.jurisdiction == "DE" else "en"


def _main_invoices(decisions: pd.DataFrame) -> pd.Series:
    """The invoice that drives each case: the largest ``risk x open amount`` (ties: id)."""
    linked = decisions.loc[decisions["case_id"].notna()]
    weight = linked["risk"].to_numpy(np.float64) * linked["open_minor"].to_numpy(np.float64)
    ordered = linked.assign(_w=weight).sort_values(
        ["case_id", "_w", "invoice_id"], ascending=[True, False, True], kind="stable"
    )
    first = ordered.drop_duplicates("case_id")
    return pd.Series(first["invoice_id"].to_numpy(), index=first["case_id"].to_numpy())


def _drift_warning(drift: DriftReport | None, lang: Literal["de", "en"]) -> str | None:
    """The drift check's own summary, only while it raises an alarm."""
    if drift is None or not drift.alarm:
        return None
    return drift.text(lang)


def _data_quality_notes(
    proposal: Proposal,
    features: pd.DataFrame,
    anomalies: pd.Series,
    policy: Policy,
    lang: str,
) -> dict[str, list[str]]:
    """Per case: invoices with an anomaly flag, and invoices lacking model inputs."""
    d = proposal.decisions.loc[proposal.decisions["case_id"].notna(), ["case_id", "invoice_id"]]
    ids = d["invoice_id"].to_numpy()
    flags = anomalies.reindex(ids).fillna("").astype("str").to_numpy()
    missing = (
        features.reindex(ids).isna().mean(axis=1).to_numpy(np.float64)
        if features.shape[1]
        else np.zeros(len(ids))
    )
    notes: dict[str, list[str]] = {}
    for case, invoice, flag, share in zip(d["case_id"], ids, flags, missing, strict=True):
        lines = notes.setdefault(str(case), [])
        if flag:
            lines.append(
                f"Rechnung {invoice}: Auffälligkeit {flag.replace('|', ', ')}"
                if lang == "de"
                else f"Invoice {invoice}: anomaly {flag.replace('|', ', ')}"
            )
        if share > policy.review.max_missing_share:
            pct = f"{share:.0%}".replace("%", "\u00a0%") if lang == "de" else f"{share:.0%}"
            lines.append(
                f"Rechnung {invoice}: {pct} der Modelleingaben fehlen"
                if lang == "de"
                else f"Invoice {invoice}: {pct} of the model inputs are missing"
            )
    return {k: v for k, v in notes.items() if v}


def _write_reviewer_reports(
    proposal: Proposal,
    reasons: pd.DataFrame,
    explanations: Explanations | None,
    paths: Mapping[str, Path],
    *,
    model: RiskModel,
    features: pd.DataFrame,
    items: pd.DataFrame,
    anomalies: pd.Series,
    drift: DriftReport | None,
    policy: Policy,
    customers: pd.DataFrame,
) -> pd.DataFrame:
    """HTML case reports for the cases routed to review, and the portfolio report."""
    lang = _report_lang(policy)
    cases = proposal.cases
    routed = cases.loc[cases["needs_review"].to_numpy(bool)]
    model_info = model_summary(model)
    warning = _drift_warning(drift, lang)
    hints: dict[str, str] = {}
    main = _main_invoices(proposal.decisions)
    wanted = main.reindex(routed["case_id"].to_numpy()).dropna()
    if len(wanted) and not features.empty:
        found = counterfactuals(
            model,
            features.loc[wanted.to_numpy()],
            threshold=policy.review.flag_threshold,
            items=items,
            lang=lang,
        )
        by_invoice = dict(zip(found["invoice_id"], found["text"], strict=True))
        flagged = dict(zip(found["invoice_id"], found["flagged"], strict=True))
        hints = {
            str(case): by_invoice[inv]
            for case, inv in wanted.items()
            if inv in by_invoice and flagged[inv]
        }
    # The story of each routed case in the clerk's language: model reasons (raising and
    # mitigating), anomalies and data gaps.
    story = pd.DataFrame(columns=list(STORY_COLUMNS))
    case_invoices = proposal.decisions.loc[
        proposal.decisions["case_id"].isin(routed["case_id"]), "invoice_id"
    ]
    if explanations is not None and len(case_invoices):
        shown = case_invoices.loc[case_invoices.isin(explanations.data.index)].to_numpy()
        story = explain_cases(
            explanations.select(shown),
            decisions=proposal.decisions.loc[proposal.decisions["invoice_id"].isin(shown)],
            anomalies=anomalies,
            missing_share=features.isna().mean(axis=1) if features.shape[1] else None,
            max_missing_share=policy.review.max_missing_share,
            lang=lang,
        )
        # The score and the rule trace have their own sections in the case report.
        story = story.loc[~story["source"].isin(["score", "decision"])]
    manifest = write_case_reports(
        routed,
        proposal.decisions,
        story,
        paths["case_reports"],
        explanations=explanations,
        model_info=model_info,
        policy_info=policy,
        data_quality=_data_quality_notes(proposal, features, anomalies, policy, lang),
        counterfactuals=hints,
        drift_warning=warning,
        # HTML only: a case report PDF costs about a second (four to five pages with the
        # charts); write_case_reports(formats=("html", "pdf")) makes them on request.
        formats=("html",),
        lang=lang,
        as_of=proposal.as_of,
    )
    fairness = None
    fairness_warnings: tuple[str, ...] = ()
    if not features.empty and "country" in customers.columns:
        # The customer's country: monitored only, never a model input (docs/fairness).
        country = (
            customers.drop_duplicates("customer_id")
            .set_index("customer_id")["country"]
            .reindex(proposal.decisions["customer_id"].to_numpy())
        )
        scores = proposal.decisions["risk"].astype("float64").reset_index(drop=True)
        report = fairness_report(
            scores,
            pd.Series(country.to_numpy(), name="country"),
            threshold=policy.review.flag_threshold,
            features=features.reindex(proposal.decisions["invoice_id"].to_numpy()).reset_index(
                drop=True
            ),
        )
        fairness = report.groups
        fairness_warnings = report.warnings_de if lang == "de" else report.warnings
    html_files = manifest.loc[manifest["format"] == "html"]
    links = {
        str(case): f"cases/{Path(str(path)).name}"
        for case, path in zip(html_files["case_id"], html_files["path"], strict=True)
    }
    page = portfolio_report_html(
        cases,
        proposal.decisions,
        explanations=explanations,
        scores=proposal.decisions.set_index("invoice_id")["risk"],
        reasons=story.loc[story["source"] == "model"] if len(story) else None,
        drift=drift.table if drift is not None else None,
        drift_warning=warning,
        fairness=fairness,
        fairness_warnings=fairness_warnings,
        model_info=model_info,
        policy_info=policy,
        case_links=links,
        lang=lang,
        as_of=proposal.as_of,
    )
    _write_atomic_text(paths["portfolio_report"], page)
    return manifest


def _write_letters(
    proposal: Proposal,
    reasons: pd.DataFrame,
    folder: Path,
    creditor: Creditor,
    formats: Sequence[str],
    policy: Policy | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    return render_letters(
        proposal.cases,
        proposal.decisions,
        reasons,
        folder,
        creditor=creditor,
        as_of=proposal.as_of,
        formats=formats,
        policy=policy,
        workers=workers,
    )


def _decision_table(
    proposal: Proposal, reasons: pd.DataFrame, anomalies: pd.Series
) -> pd.DataFrame:
    """One row per invoice decision with the case's offer, its reasons and anomaly flags."""
    d = proposal.decisions
    table = d.loc[:, list(_CSV_DECISION_COLUMNS)].copy()
    table.insert(0, "as_of", pd.Timestamp(proposal.as_of))
    case_offers = proposal.cases.set_index("case_id")[["offer_code", "offer_reason"]]
    linked = case_offers.reindex(table["case_id"].to_numpy())
    table["offer_code"] = pd.Series(linked["offer_code"].to_numpy(), dtype="str")
    table["offer_reason"] = pd.Series(linked["offer_reason"].to_numpy(), dtype="str")

    if reasons.empty:
        wide = pd.DataFrame(index=pd.Index([], name="invoice_id"))
        lang = pd.Series(dtype="str")
        codes = pd.Series(dtype="str")
    else:
        ordered = reasons.sort_values(["invoice_id", "rank"], kind="stable")
        grouped = ordered.groupby("invoice_id", sort=False)
        codes = grouped["code"].agg("|".join)
        lang = grouped["lang"].first()
        wide = ordered.pivot(index="invoice_id", columns="rank", values="text")
    ids = table["invoice_id"].to_numpy()
    table["reason_lang"] = pd.Series(lang.reindex(ids).to_numpy(), dtype="str")
    table["reason_codes"] = pd.Series(codes.reindex(ids).fillna("").to_numpy(), dtype="str")
    for i in range(1, N_REASONS + 1):
        column = wide[i] if i in wide.columns else pd.Series(dtype="str")
        table[f"reason_{i}"] = pd.Series(column.reindex(ids).to_numpy(), dtype="str")
    table["anomaly_flags"] = pd.Series(anomalies.reindex(ids).fillna("").to_numpy(), dtype="str")
    return table.loc[:, list(DECISIONS_CSV_COLUMNS)].reset_index(drop=True)


def _write_atomic_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def _write_decisions(table: pd.DataFrame, path: Path) -> None:
    """``decisions.csv``: exact amounts as text, ISO dates, risk with 6 decimals."""
    out = table.copy()
    for column in ("as_of", "issue_date", "due_date"):
        out[column] = out[column].dt.strftime("%Y-%m-%d")
    for column in ("open_amount", "fee", "interest", "flat_fee", "claim_total"):
        out[column] = out[column].map(str)
    out["interest_from"] = out["interest_from"].map(lambda day: day.isoformat())
    out["risk"] = np.char.mod("%.6f", out["risk"].to_numpy(np.float64))
    _write_atomic_text(path, out.to_csv(index=False, lineterminator="\n"))


def _missing_rates(portfolio: Portfolio) -> pd.DataFrame:
    """Rows and missing rate of each optional column, per input table."""
    rows = []
    for name, table in portfolio.tables().items():
        for spec in SCHEMAS[name]:
            if spec.required or spec.name not in table.columns:
                continue
            rate = float(table[spec.name].isna().mean()) if len(table) else 0.0
            rows.append(
                {"table": name, "column": spec.name, "rows": len(table), "missing": f"{rate:.1%}"}
            )
    return pd.DataFrame(rows, columns=["table", "column", "rows", "missing"])


def _write_report(
    path: Path,
    *,
    as_of: date,
    run_id: str,
    counts: Mapping[str, int],
    files: Mapping[str, Path],
    portfolio: Portfolio,
    quality: pd.DataFrame | None,
    drift: DriftReport | None,
) -> None:
    """``reports/run_summary.html`` from ``templates/reports/run_summary.html.j2``."""
    if quality is not None:
        table = quality
        note = "Data-quality summary from loading (missing rates and rejects per column)."
    else:
        table = _missing_rates(portfolio)
        note = (
            "No loading summary was given (the portfolio was passed in directly); missing "
            "values of optional columns are shown. Missing values are kept, never filled in."
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "reports"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    drift_table = drift.table if drift is not None else pd.DataFrame()
    html = env.get_template("run_summary.html.j2").render(
        as_of=as_of.isoformat(),
        run_id=run_id,
        n_decisions=counts["decisions"],
        n_cases=counts["cases"],
        n_files=counts["files_written"],
        levels=[
            {"level": lv, "name": LEVEL_NAMES[lv]["en"], "count": counts[f"level_{lv}"]}
            for lv in range(1, MAX_AUTOMATIC_LEVEL + 1)
        ],
        offers=[
            {"offer": "installment plan", "count": counts["offer_installment_plan"]},
            {"offer": "deferral", "count": counts["offer_deferral"]},
            {"offer": "none", "count": counts["offer_none"]},
        ],
        quality_note=note,
        quality_columns=[str(c) for c in table.columns],
        quality_rows=[["" if pd.isna(v) else v for v in row] for row in table.to_numpy()],
        files=sorted((k, str(v)) for k, v in files.items()),
        n_anomalies=counts["anomalies"],
        n_review=counts["needs_review"],
        drift_text=drift.text("en") if drift is not None else "",
        drift_columns=[str(c) for c in drift_table.columns],
        drift_rows=[
            ["" if pd.isna(v) else (f"{v:.3f}" if isinstance(v, float) else v) for v in row]
            for row in drift_table.to_numpy()
        ],
    )
    _write_atomic_text(path, html)


def _run_started(
    run_id: str, as_of: date, portfolio: Portfolio, model: RiskModel, policy: Policy
) -> dict[str, object]:
    """The audit event that opens a run: inputs, software, model, policy and templates."""
    return {
        "kind": "run_started",
        "run_id": run_id,
        "payload": {
            "as_of": as_of.isoformat(),
            "portfolio_hash": portfolio_hash(portfolio),
            "software_version": _software_version(),
            "model_version": str(getattr(model, "version_id", "")),
            "policy": policy.name,
            "policy_version": policy.version,
            "policy_version_id": policy.version_id,
            "templates_hash": _templates_hash(),
        },
    }


def _templates_hash() -> str:
    """sha256 over every template file (path and bytes), in path order."""
    root = templates_dir()
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cases_proposed(
    run_id: str, proposal: Proposal, table: pd.DataFrame
) -> list[dict[str, object]]:
    """One ``case_proposed`` audit event per case: score, reasons and rule trace."""
    codes = table.groupby("case_id")["reason_codes"].agg(
        lambda c: sorted(set("|".join(c).split("|")) - {""})
    )
    traces = table.groupby("case_id")["rule_trace"].agg(list)
    events: list[dict[str, object]] = []
    for case in proposal.cases.to_dict("records"):
        cid = str(case["case_id"])
        events.append(
            {
                "kind": "case_proposed",
                "run_id": run_id,
                "subject": cid,
                "payload": {
                    "customer_id": str(case["customer_id"]),
                    "level": int(case["level"]),
                    "risk": round(float(case["risk"]), 6),
                    "amount_due": str(case["amount_due"]),
                    "currency": str(case["currency"]),
                    "offer": str(case["offer"]),
                    "tone": str(case["tone"]),
                    "channel": str(case["channel"]),
                    "needs_review": bool(case["needs_review"]),
                    "review_reason": str(case["review_reason"]),
                    "reason_codes": codes.get(cid, []),
                    "rule_trace": traces.get(cid, []),
                },
            }
        )
    return events


#: Columns of ``out/review_queue.csv``, in order.
REVIEW_QUEUE_COLUMNS: tuple[str, ...] = (
    "as_of",
    "case_id",
    "customer_id",
    "name",
    "level",
    "amount_due",
    "currency",
    "risk",
    "review_reason",
    "offer",
    "tone",
    "channel",
)


def _write_review_queue(proposal: Proposal, path: Path) -> int:
    """``review_queue.csv``: the cases waiting for a clerk, largest amount first."""
    cases = proposal.cases
    queue = cases.loc[cases["needs_review"].to_numpy(bool) & ~approved_cases(cases)].copy()
    queue = queue.sort_values(["amount_due_minor", "case_id"], ascending=[False, True])
    queue.insert(0, "as_of", proposal.as_of.isoformat())
    queue["amount_due"] = queue["amount_due"].map(str)
    queue["risk"] = np.char.mod("%.6f", queue["risk"].to_numpy(np.float64))
    text = queue.loc[:, list(REVIEW_QUEUE_COLUMNS)].to_csv(index=False, lineterminator="\n")
    _write_atomic_text(path, text)
    return len(queue)


def _counts(
    items: int,
    proposal: Proposal,
    manifest: pd.DataFrame,
    anomalies: pd.Series,
    drift: DriftReport | None,
    model_files: int,
) -> dict[str, int]:
    cases = proposal.cases
    levels = cases["level"].value_counts()
    offers = cases["offer"].value_counts()
    formats = manifest["format"].value_counts()
    counts = {
        "open_items": items,
        "decisions": len(proposal.decisions),
        "cases": len(cases),
        **{f"level_{lv}": int(levels.get(lv, 0)) for lv in range(1, MAX_AUTOMATIC_LEVEL + 1)},
        "offer_installment_plan": int(offers.get("installment_plan", 0)),
        "offer_deferral": int(offers.get("deferral", 0)),
        "offer_none": int(offers.get("none", 0)),
        "letters_html": int(formats.get("html", 0)),
        "letters_pdf": int(formats.get("pdf", 0)),
        "anomalies": int((anomalies != "").sum()),
        "drift_alarm": int(drift is not None and drift.alarm),
        "needs_review": int(cases["needs_review"].sum()) if len(cases) else 0,
    }
    # Letters, the model bundle and its card, decisions.csv, review queue, run report,
    # SQLite store.
    counts["files_written"] = len(manifest) + model_files + 1 + 4
    return counts


#: Explains rows: :func:`explain.attributions.explain` or its Dask counterpart.
_Explainer = Callable[[RiskModel, pd.DataFrame], Explanations]
Backend = Literal["local", "dask"]
#: The backends :func:`run` knows.
BACKENDS: tuple[Backend, ...] = ("local", "dask")


class _Render(Protocol):
    def __call__(
        self,
        cases: pd.DataFrame,
        decisions: pd.DataFrame,
        reasons: pd.DataFrame,
        out_dir: Path,
        *,
        creditor: Creditor,
        as_of: date,
        formats: Sequence[str],
        policy: Policy | None,
        on_chunk: Callable[[pd.DataFrame], None] | None,
        templates: str | os.PathLike[str] | None,
    ) -> pd.DataFrame: ...


@dataclass(frozen=True)
class _Stages:
    """The per-customer stages of a run, in this process or as Dask tasks."""

    score: Callable[[RiskModel, Portfolio, date], tuple[pd.DataFrame, pd.Series]]
    explain: _Explainer
    render: _Render


def _local_stages(workers: int) -> _Stages:
    def render(
        cases: pd.DataFrame,
        decisions: pd.DataFrame,
        reasons: pd.DataFrame,
        out_dir: Path,
        *,
        creditor: Creditor,
        as_of: date,
        formats: Sequence[str],
        policy: Policy | None,
        on_chunk: Callable[[pd.DataFrame], None] | None,
        templates: str | os.PathLike[str] | None,
    ) -> pd.DataFrame:
        return render_letters(
            cases, decisions, reasons, out_dir, creditor=creditor, as_of=as_of,
            formats=formats, policy=policy, workers=workers, on_chunk=on_chunk,
            templates=templates,
        )  # fmt: skip

    return _Stages(score=_score, explain=explain, render=render)


@contextmanager
def _stages(backend: str, client: Any, workers: int) -> Iterator[_Stages]:
    """The stages of ``backend``; ``dask`` without a client starts a ``LocalCluster``."""
    if backend == "local":
        yield _local_stages(workers)
        return
    if backend != "dask":
        msg = f"unknown backend {backend!r}; expected one of {list(BACKENDS)}."
        raise DunningError(msg)
    from dunning.cluster import DaskBackend, local_cluster

    def stages(dask: DaskBackend) -> _Stages:
        return _Stages(score=dask.score, explain=dask.explain, render=dask.render_letters)

    if client is None:
        with local_cluster(workers=max(2, workers)) as started:
            yield stages(DaskBackend(started))
    else:
        yield stages(DaskBackend(client))


def _payments_received(
    portfolio: Portfolio, store: DecisionStore, run_id: str, as_of: date
) -> list[dict[str, object]]:
    """A ``payment_received`` event for each payment on a dunned invoice, once per payment.

    A payment counts when it is dated on or before ``as_of`` and on or after the invoice's
    first letter in the store; the event's subject is the payment id.
    """
    payments = portfolio.payments
    if payments.empty:
        return []
    dunned = store.issued(until=as_of, invoice_ids=payments["invoice_id"].astype("str"))
    if dunned.empty:
        return []
    first = dunned.groupby("invoice_id")["issued_on"].min()
    dates = pd.to_datetime(payments["payment_date"])
    since = pd.to_datetime(payments["invoice_id"].astype("str").map(first))
    chosen = payments.loc[since.notna() & (dates >= since) & (dates <= pd.Timestamp(as_of))]
    return [
        {
            "kind": "payment_received",
            "run_id": run_id,
            "subject": str(row["payment_id"]),
            "payload": {
                "invoice_id": str(row["invoice_id"]),
                "payment_date": pd.Timestamp(row["payment_date"]).date(),
                "amount": row["amount"],
                "currency": str(row["currency"]),
            },
        }
        for row in chosen.sort_values("payment_id", kind="stable").to_dict("records")
    ]


def run(
    portfolio: Portfolio,
    *,
    as_of: date,
    out: str | os.PathLike[str],
    store: str | None = None,
    model: RiskModel | str | os.PathLike[str] | None = None,
    creditor: Creditor | None = None,
    random_state: int = 0,
    quality: pd.DataFrame | None = None,
    formats: Sequence[str] = FORMATS,
    policy: Policy | None = None,
    issue_letters: bool = True,
    workers: int = 1,
    backend: Backend = "local",
    client: Any = None,
    reports: bool = True,
    templates: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Run the whole pipeline on a portfolio and write everything to ``out``.

    The run's id is :func:`run_id_for` (portfolio, ``as_of``, policy). Running the same
    inputs again continues that run: what the store has already (cases, decisions, audit
    events, issued letters) is kept and not recorded twice, and the cases issued before are
    not proposed again. Each letter is written atomically and then, with its e-mail, issued
    in one transaction (issued rows, documents with their sha256, ``letter_issued`` audit
    events), a few cases at a time, so a run killed at any point leaves every case either
    issued once with its files, or not issued; the next run issues the rest.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables (:func:`dunning.load_portfolio` or
        :func:`dunning.datasets.make_portfolio`).
    as_of : datetime.date
        The run date; only facts dated on or before it are used.
    out : path
        Output folder, created if missing: ``letters/``, ``messages/``, ``reports/``,
        ``decisions.csv``, ``review_queue.csv``, ``model/`` and (by default) the store
        ``dunning.sqlite``.
    store : str, optional
        SQLAlchemy URL of the decision store (``postgresql+psycopg://…``); default
        ``sqlite:///<out>/dunning.sqlite``.
    model : RiskModel or path, optional
        A fitted model, or a model bundle folder (``dunning train``, :func:`train_model`);
        default: train one on the portfolio's history before ``as_of`` (saved to
        ``<out>/model/``).
    creditor : Creditor, optional
        Sender and payee of the letters; :meth:`Creditor.demo` by default.
    random_state : int
        Seed of the risk model.
    quality : pandas.DataFrame, optional
        ``LoadResult.quality``, shown in the run report; without it the report shows
        the missing rates of the portfolio's optional columns.
    formats : sequence of {"html", "pdf"}
        Letter formats to write (the reviewers' case reports are HTML).
    policy : Policy, optional
        The dunning policy (levels, fees, interest, review rules); default
        ``Policy.default("DE")``.
    issue_letters : bool
        Issue the approved cases: the ones that need no review and the ones a clerk
        approved for this day (:func:`dunning.workflow.issue`). ``False`` records and
        writes the proposal without issuing anything (``dunning propose``).
    workers : int
        Processes rendering the letters (:func:`dunning.letters.render_letters`); with
        ``backend="dask"`` and no client, the workers of the local cluster. The output is
        byte-identical for any number. A script using more than one needs the ``if
        __name__ == "__main__":`` guard.
    backend : {"local", "dask"}
        Where features, scores, explanations and letters are computed: in this process, or
        as Dask tasks partitioned by customer (``docs/scale-out.md``). Training, the
        decisions and the store stay in this process; results are identical.
    client : distributed.Client, optional
        The Dask cluster for ``backend="dask"``; default a ``LocalCluster`` for the run.
    reports : bool
        Write the reviewer reports (``reports/portfolio.html`` and a case report for each
        case routed to review, about 0.2 s each); ``False`` skips them (``--no-reports``
        on the command line).
    templates : path, optional
        A folder of your own letter templates over the package's
        (``docs/custom-templates.md``), rendered in Jinja2's sandbox for letters and
        e-mails; the manifest records which template set made each letter.

    Returns
    -------
    RunResult

    Raises
    ------
    DunningError
        A subclass naming the stage's problem (``ModelError``, ``RenderError``,
        ``StoreError``, ``DataError``), or an unknown backend.

    Examples
    --------
    See the module docstring.
    """
    out_dir = Path(out)
    letters_dir, reports_dir = out_dir / "letters", out_dir / "reports"
    for folder in (out_dir, letters_dir, reports_dir, out_dir / "messages", reports_dir / "cases"):
        folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "out": out_dir,
        "letters": letters_dir,
        "reports": reports_dir,
        "decisions_csv": out_dir / "decisions.csv",
        "run_summary": reports_dir / "run_summary.html",
        "store": out_dir / "dunning.sqlite",
        "review_queue": out_dir / "review_queue.csv",
        "messages": out_dir / "messages",
        "sms_csv": out_dir / "messages" / "sms.csv",
        "portfolio_report": reports_dir / "portfolio.html",
        "case_reports": reports_dir / "cases",
        "model": out_dir / "model",
        "model_card": reports_dir / "model_card.html",
    }
    creditor = creditor or Creditor.demo()
    policy = Policy.default("DE") if policy is None else policy
    url = sqlite_url(paths["store"]) if store is None else store

    with _stages(backend, client, workers) as stages:
        if model is None:
            with _stage("train risk model"):
                fitted = _train(portfolio, as_of, random_state, out_dir)
        else:
            with _stage("load risk model"):
                fitted = _load_model(model)
        with _stage("score overdue invoices"):
            features, risk = stages.score(fitted, portfolio, as_of)
            items = open_items(portfolio, as_of)
        with _stage("flag anomalies and check drift"):
            anomalies = _flag_anomalies(portfolio, as_of, features, items)
            drift = _check_drift(fitted, features, risk)
        with DecisionStore(url) as ledger:
            return _decide_and_write(
                portfolio, as_of, ledger, paths, model=fitted, features=features, risk=risk,
                items=items, anomalies=anomalies, drift=drift, policy=policy,
                creditor=creditor, formats=formats, quality=quality,
                issue_letters=issue_letters, stages=stages, reports=reports,
                templates=templates,
            )  # fmt: skip


def _record_proposal(
    store: DecisionStore,
    run_id: str,
    proposal: Proposal,
    table: pd.DataFrame,
) -> None:
    """The proposal's cases, decisions and ``case_proposed`` events, each once."""
    store.record_cases(run_id, proposal.cases, as_of=proposal.as_of)
    store.record_decisions(run_id, table)
    store.record_events(_cases_proposed(run_id, proposal, table), once=True)


def _by_case(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if frame.empty or "case_id" not in frame.columns:
        return {}
    return {str(k): v for k, v in frame.groupby("case_id", sort=False)}


def _write_and_issue(
    proposal: Proposal,
    reasons: pd.DataFrame,
    paths: Mapping[str, Path],
    *,
    stages: _Stages,
    store: DecisionStore,
    run_id: str,
    creditor: Creditor,
    formats: Sequence[str],
    policy: Policy,
    issue_letters: bool,
    templates: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Letters and e-mails of every case; the approved ones issued as their files are ready.

    The cases to issue render first, then the drafts of the cases waiting for review. As
    each chunk of letters is written, its e-mails are written and its approved cases are
    issued with their documents in one transaction. Returns the letter manifest, the
    e-mail manifest and the number of cases issued.
    """
    cases, decisions = proposal.cases, proposal.decisions
    ready = approved_cases(cases)
    ready_ids = set(cases.loc[ready, "case_id"].astype("str"))
    order = pd.concat([cases.loc[ready], cases.loc[~ready]], ignore_index=True)
    decisions_of = _by_case(decisions)
    linked = (
        reasons.merge(decisions[["invoice_id", "case_id"]].dropna(), on="invoice_id")
        if len(reasons)
        else reasons
    )
    reasons_of = _by_case(linked)
    cases_of = _by_case(cases)
    # The clerks' decisions are recorded once here, not again with every chunk issued.
    if issue_letters and len(proposal.reviews):
        store.record_reviews(proposal.reviews)
    recorded = replace(proposal, reviews=proposal.reviews.iloc[:0])
    emails: list[pd.DataFrame] = []
    issued = 0

    def commit(chunk: pd.DataFrame) -> None:
        nonlocal issued
        ids = list(dict.fromkeys(chunk["case_id"].astype("str")))
        mail = write_emails(
            pd.concat([cases_of[c] for c in ids]),
            pd.concat([decisions_of[c] for c in ids if c in decisions_of]),
            pd.concat([reasons_of[c] for c in ids if c in reasons_of] or [linked.iloc[:0]]).drop(
                columns="case_id", errors="ignore"
            ),
            paths["messages"],
            creditor=creditor,
            as_of=proposal.as_of,
            policy=policy,
            letters_dir=paths["letters"] if "pdf" in formats else None,
            templates=templates,
        )
        emails.append(mail)
        now = [c for c in ids if c in ready_ids]
        if issue_letters and now:
            documents = pd.concat([chunk, mail], ignore_index=True)
            result = issue(recorded, store, case_ids=now, documents=documents, run_id=run_id)
            issued += result.n_cases

    manifest = stages.render(
        order, decisions, reasons, paths["letters"], creditor=creditor, as_of=proposal.as_of,
        formats=formats, policy=policy, on_chunk=commit, templates=templates,
    )  # fmt: skip
    mails = (
        pd.concat(emails, ignore_index=True).sort_values(
            ["case_id", "format"], kind="stable", ignore_index=True
        )
        if emails
        else pd.DataFrame(columns=["case_id", "format", "path", "sha256"])
    )
    return manifest, mails, issued


def _decide_and_write(
    portfolio: Portfolio,
    as_of: date,
    store: DecisionStore,
    paths: Mapping[str, Path],
    *,
    model: RiskModel,
    features: pd.DataFrame,
    risk: pd.Series,
    items: pd.DataFrame,
    anomalies: pd.Series,
    drift: DriftReport | None,
    policy: Policy,
    creditor: Creditor,
    formats: Sequence[str],
    quality: pd.DataFrame | None,
    issue_letters: bool,
    stages: _Stages,
    reports: bool = True,
    templates: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Stages 3 to 8 with one open decision store."""
    run_id = run_id_for(portfolio, as_of, policy)
    with _stage("decide levels, cases and offers"):
        proposal = _decide(
            portfolio, features, risk, as_of, store, policy=policy, anomalies=anomalies, drift=drift
        )
    progress.info("%d overdue invoices, %d cases", len(proposal.decisions), len(proposal.cases))
    store.record_run(
        as_of=as_of,
        portfolio_hash=portfolio_hash(portfolio),
        n_cases=len(proposal.cases),
        software_version=_software_version(),
        run_id=run_id,
        policy_version=policy.version_id,
        exist_ok=True,
    )
    store.record_events([_run_started(run_id, as_of, portfolio, model, policy)], once=True)
    store.record_events(_payments_received(portfolio, store, run_id, as_of), once=True)
    with _stage("explain"):
        reasons, explanations = _explain(
            model, features, proposal, portfolio.customers, stages.explain
        )
    table = _decision_table(proposal, reasons, anomalies)
    with _stage("record the proposal"):
        _record_proposal(store, run_id, proposal, table)
    with _stage(f"write SMS for {len(proposal.cases)} cases"):
        sms = write_sms(
            proposal.cases, paths["sms_csv"], creditor=creditor, as_of=as_of, policy=policy
        )
    with _stage(f"render and issue {len(proposal.cases)} letters"):
        manifest, emails, issued = _write_and_issue(
            proposal, reasons, paths, stages=stages, store=store, run_id=run_id,
            creditor=creditor, formats=formats, policy=policy, issue_letters=issue_letters,
            templates=templates,
        )  # fmt: skip
    written = pd.DataFrame(columns=["case_id", "format", "path"])
    if reports:
        with _stage("write reviewer reports"):
            written = _write_reviewer_reports(
                proposal,
                reasons,
                explanations,
                paths,
                model=model,
                features=features,
                items=items,
                anomalies=anomalies,
                drift=drift,
                policy=policy,
                customers=portfolio.customers,
            )
    with _stage("write decisions.csv"):
        _write_decisions(table, paths["decisions_csv"])
    model_dir = paths["model"]
    model_files = sum(1 for f in model_dir.iterdir() if f.is_file()) if model_dir.is_dir() else 0
    counts = _counts(len(items), proposal, manifest, anomalies, drift, model_files)
    counts["emails"] = len(emails)
    counts["sms"] = len(sms)
    counts["sms_segments"] = int(sms["segments"].sum()) if len(sms) else 0
    counts["case_reports"] = int((written["format"] == "html").sum())
    # E-mails, the SMS list, the case reports and the portfolio report.
    counts["files_written"] += len(emails) + 1 + len(written) + int(reports)
    # Every document written for a customer: letters (HTML, PDF) and e-mails (.eml).
    outbox = pd.concat([manifest, emails], ignore_index=True)
    counts["review_queue"] = _write_review_queue(proposal, paths["review_queue"])
    counts["issued_cases"] = issued
    counts["residual_claims"] = len(proposal.residuals)
    store.record_events(
        [{"kind": "run_finished", "run_id": run_id, "payload": {"counts": dict(counts)}}]
    )
    store.finish_run(run_id)
    with _stage("write run report"):
        _write_report(
            paths["run_summary"],
            as_of=as_of,
            run_id=run_id,
            counts=counts,
            files=paths,
            portfolio=portfolio,
            quality=quality,
            drift=drift,
        )
    result = RunResult(
        as_of=as_of,
        run_id=run_id,
        decisions=table,
        cases=proposal.cases,
        reasons=reasons,
        manifest=outbox,
        paths=paths,
        counts=counts,
        drift=drift.table if drift is not None else None,
    )
    logger.debug("run %s finished: %s", run_id, counts)
    return result
