"""Benchmark: explanations for 1M rows next to LightGBM's bare ``pred_contrib``.

Run: ``.venv/bin/python benchmarks/bench_explain.py [--n N] [--trees T] [--cases-share S]
[--text-rows R] [--repeat R]``

A :class:`~scoring.risk.RiskModel` with ``--trees`` trees (default 300, no early
stopping) is fitted on the rolling snapshots of a demo portfolio of ``--train`` customers
and calibrated (isotonic) on a held-out quarter of them. The matrix to explain resamples
that portfolio's feature rows of today (:func:`scoring.features.build_features`: the 31
columns of :data:`scoring.features.FEATURES`, with their int, float and category dtypes
and their missing values) to ``--n`` rows (default 1,000,000). Then, each next to a bare
baseline on the same rows and threads:

1. ``explain(model, X)``, all rows, next to ``booster_.predict(X, pred_contrib=True)``
   (target: ratio within 1.3). TreeSHAP takes minutes for a million rows, and on a
   busy machine two single runs of minutes each differ by more than ``explain`` adds. So
   both run on the same ``--chunk`` rows in turns (default 50,000 rows; bare first on
   even chunks, ``explain`` first on odd ones) and their times are summed: a change in
   the load hits both alike. The benchmark checks that the values are equal exactly.
   ``explain`` adds the feature checks and the copies of the contribution matrix into
   ``values`` and ``base_values``: the row "of which checks + copies" times that work on
   all rows in one call (best of 3). ``--whole`` also times one call of each on all rows;
2. ``Explanations.grouped()`` and ``probabilities()`` on all rows (their ratio is to the
   same bare ``pred_contrib``: the cost they add to it);
3. for the **cases** only (reasons are written for invoices in a letter; ``--cases-share``
   of the rows, default 0.3, the share of overdue invoices with a new level in the
   demo run): ``Explanations.select``, ``reasons(k=4)``, ``mitigating(k=2)`` and
   ``explain_cases`` (with a synthetic rule trace, review codes and anomaly table per
   invoice), each next to the bare ``pred_contrib`` of the same rows (TreeSHAP costs the
   same per row, so that is the time on all rows pro rata, not timed again);
4. text rendering alone for ``--text-rows`` rows (default 100,000): the four reason texts
   of each row rendered again from the codes of ``reasons(k=4)`` (the private renderer
   that ``reason_table`` uses), next to a bare f-string with one integer per text.

Times are wall-clock ``time.perf_counter`` seconds, the best of ``--repeat`` runs
(default 2) for the steps on the cases and the texts, of 1 for the steps on all rows. The
rows/s column gives the rate per explained row.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd

# The shared report helpers; this script runs from benchmarks/.
from _report import Row, best_of, machine, peak_mib, print_rows, usable_cpus

from dunning.datasets import make_portfolio
from explain import Explanations, explain
from explain.reasons import _Renderer, explain_cases, load_catalogue
from scoring.features import build_features
from scoring.risk import RiskModel
from scoring.training import build_training_set

AS_OF = date(2026, 11, 23)
BARE = "booster_.predict(pred_contrib=True)"
PRO_RATA = "the same, pro rata for these rows"


def fitted_model(
    n_customers: int, trees: int, threads: int, seed: int
) -> tuple[RiskModel, pd.DataFrame]:
    """A calibrated model with ``trees`` trees, and today's features of its portfolio."""
    portfolio = make_portfolio(n_customers, seed=seed, as_of=AS_OF)
    training = build_training_set(portfolio, AS_OF)
    rng = np.random.default_rng(seed)
    held_out = rng.random(len(training.y)) < 0.25
    model = RiskModel(n_estimators=trees, n_jobs=threads, random_state=0)
    model.fit(training.X.loc[~held_out], training.y[~held_out])
    model.calibrate(training.X.loc[held_out], training.y[held_out], method="isotonic")
    return model, build_features(portfolio, AS_OF)


def resampled(features: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows drawn from ``features`` with replacement, with fresh invoice ids."""
    rng = np.random.default_rng(seed)
    matrix = features.iloc[rng.integers(0, len(features), n)]
    ids = pd.Index(np.char.add("R", np.arange(n).astype("U9")), name="invoice_id", dtype="str")
    return matrix.set_axis(ids)


def paired(
    model: RiskModel, X: pd.DataFrame, chunk: int, threads: int
) -> tuple[float, float, Explanations]:
    """Seconds of bare ``pred_contrib`` and of ``explain`` on ``X``, chunk by chunk, alternately.

    Each chunk is computed by both, in turns (bare first on even chunks, ``explain`` first
    on odd ones), so that a change in the machine's load hits both alike. Checks that the
    values are equal, and returns the chunks' explanations joined into one.
    """
    booster = model.booster_
    bare_s = explain_s = 0.0
    parts: list[Explanations] = []
    for number, start in enumerate(range(0, len(X), chunk)):
        rows = X.iloc[start : start + chunk]
        steps = [("bare", rows), ("explain", rows)]
        for name, data in steps if number % 2 == 0 else steps[::-1]:
            began = time.perf_counter()
            if name == "bare":
                contrib = np.asarray(booster.predict(data, pred_contrib=True, num_threads=threads))
                bare_s += time.perf_counter() - began
            else:
                part = explain(model, data)
                explain_s += time.perf_counter() - began
        same = np.array_equal(part.values, contrib[:, :-1])
        if not (same and np.array_equal(part.base_values, contrib[:, -1])):
            msg = "explain(model, X) differs from booster_.predict(pred_contrib=True)"
            raise SystemExit(msg)
        parts.append(part)
    joined = Explanations(
        values=np.vstack([p.values for p in parts]),
        base_values=np.concatenate([p.base_values for p in parts]),
        data=X,
        feature_names=parts[0].feature_names,
        calibrator=parts[0].calibrator,
    )
    return bare_s, explain_s, joined


def own_work(model: RiskModel, X: pd.DataFrame, contrib: np.ndarray, repeat: int) -> float:
    """Seconds of what ``explain`` adds to ``pred_contrib``: the feature checks and copies."""

    def work() -> None:
        model.check_features(X)
        np.ascontiguousarray(contrib[:, :-1])
        np.ascontiguousarray(contrib[:, -1])

    return best_of(repeat, work)[0]


def synthetic_story_inputs(
    ids: pd.Index, days: np.ndarray, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decisions (rule traces, review codes) and an anomaly table for the invoices ``ids``."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    level = np.clip(days // 15, 1, 4).astype(np.int64)
    lv = pd.Series(level.astype(str))
    d = pd.Series(days.astype(np.int64).astype(str))
    risk = pd.Series(np.round(rng.random(n), 2).astype(str))
    english = (
        "level " + lv + ": " + d + " days overdue (from 30), 14 days after level 1; "
        "no offer: risk "
        + risk
        + " above 0.70; tone neutral: level "
        + lv
        + "; channel email: cheapest usable of email, letter"
    )
    german = (
        "Stufe " + lv + ": " + d + " Tage überfällig (ab 30), 14 Tage nach Stufe 1; "
        "kein Angebot: Risiko "
        + risk.str.replace(".", ",")
        + " über 0,70; Ton neutral: Stufe "
        + lv
        + "; Kanal E-Mail: günstigster nutzbarer unter E-Mail, Brief"
    )
    draw = rng.random(n)
    review = np.where(draw < 0.10, "UNCERTAIN_SCORE", "")
    review = np.where(draw > 0.98, "HIGH_EXPOSURE|ANOMALY", review)
    decisions = pd.DataFrame(
        {
            "invoice_id": ids.to_numpy(object),
            "level": level,
            "offer": "none",
            "tone": "neutral",
            "channel": "email",
            "rule_trace": english.to_numpy(object),
            "rule_trace_de": german.to_numpy(object),
            "review_reason": review,
        }
    )
    unusual = rng.random(n) < 0.01
    gap = np.where(rng.random(n) < 0.05, "iban", "")
    flags = np.where(unusual, "AMOUNT_UNUSUAL", "")
    flags = np.where(
        gap != "", np.where(unusual, "AMOUNT_UNUSUAL|DATA_MISSING", "DATA_MISSING"), flags
    )
    anomalies = pd.DataFrame(
        {
            "amount_unusual_strength": np.where(unusual, 3.5 + 10 * rng.random(n), rng.random(n)),
            "missing_fields": gap,
            "flags": flags,
        },
        index=ids,
    )
    return decisions, anomalies


def main() -> None:
    """Parse the arguments, fit, explain, time, print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows to explain")
    parser.add_argument("--trees", type=int, default=300, help="trees of the model")
    parser.add_argument("--train", type=int, default=2000, help="customers to train on")
    parser.add_argument("--cases-share", type=float, default=0.3, help="share of rows in cases")
    parser.add_argument("--text-rows", type=int, default=100_000, help="rows for text rendering")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing on the cases")
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per paired chunk")
    parser.add_argument("--whole", action="store_true", help="also time one call each on all rows")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("scoring.clv").setLevel(logging.ERROR)
    threads = usable_cpus()

    started = time.perf_counter()
    model, features = fitted_model(args.train, args.trees, threads, args.seed)
    X = resampled(features, args.n, args.seed)
    booster: lgb.Booster = model.booster_
    prepared = time.perf_counter() - started

    def bare(rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(rows, pred_contrib=True, num_threads=threads))

    bare_s, explain_s, exp = paired(model, X, args.chunk, threads)
    head = X.head(5000)
    if np.abs(explain(model, head).log_odds - model.decision_function(head)).max() > 1e-6:
        msg = "contributions do not add up to the raw score"
        raise SystemExit(msg)
    own_s = own_work(model, X, np.column_stack([exp.values, exp.base_values]), repeat=3)
    chunks = -(-args.n // args.chunk)
    note = f"{booster.num_trees()} trees, {X.shape[1]} columns, {threads} threads"
    rows = [
        Row("explain(model, X)", args.n, explain_s, BARE, bare_s, f"{note}; {chunks} chunks"),
        Row("  of which checks + copies", args.n, own_s, BARE, bare_s, "best of 3, one call"),
    ]
    if args.whole:
        whole_bare_s, _ = best_of(1, lambda: bare(X))
        whole_s, _ = best_of(1, lambda: explain(model, X))
        rows.append(Row("explain(model, X), one call", args.n, whole_s, BARE, whole_bare_s, note))
    grouped_s, grouped = best_of(1, exp.grouped)
    rows.append(
        Row(".grouped()", args.n, grouped_s, BARE, bare_s, f"{len(grouped.feature_names)} groups")
    )
    del grouped
    proba_s, _ = best_of(1, exp.probabilities)
    rows.append(Row(".probabilities()", args.n, proba_s, BARE, bare_s, "isotonic calibrator"))

    rng = np.random.default_rng(args.seed + 1)
    in_case = rng.random(args.n) < args.cases_share
    cases = X.loc[in_case]
    n_cases = len(cases)
    # TreeSHAP costs the same per row: the bare time of the cases is the full one pro rata.
    case_bare_s = bare_s * n_cases / args.n
    select_s, sub = best_of(args.repeat, lambda: exp.select(in_case))
    rows.append(Row(".select(cases)", n_cases, select_s, PRO_RATA, case_bare_s, "boolean mask"))
    reasons_s, reasons = best_of(args.repeat, lambda: sub.reasons(k=4, lang="de"))
    rows.append(
        Row(
            ".reasons(k=4), cases",
            n_cases,
            reasons_s,
            PRO_RATA,
            case_bare_s,
            f"{len(reasons):,} reasons",
        )
    )
    mitigating_s, mitigating = best_of(args.repeat, lambda: sub.mitigating(k=2, lang="de"))
    rows.append(
        Row(
            ".mitigating(k=2), cases",
            n_cases,
            mitigating_s,
            PRO_RATA,
            case_bare_s,
            f"{len(mitigating):,} factors",
        )
    )
    decisions, anomalies = synthetic_story_inputs(
        cases.index, cases["days_overdue"].to_numpy(), args.seed
    )
    story_s, story = best_of(
        args.repeat,
        lambda: explain_cases(sub, decisions=decisions, anomalies=anomalies, lang="de"),
    )
    rows.append(
        Row("explain_cases, cases", n_cases, story_s, PRO_RATA, case_bare_s, f"{len(story):,} rows")
    )
    del story

    text_rows = min(args.text_rows, n_cases)
    few = sub.select(np.arange(n_cases) < text_rows)
    few_reasons = few.reasons(k=4, lang="de")
    positions = few.data.index.get_indexer(pd.Index(few_reasons["invoice_id"]))
    codes = few_reasons["code"].to_numpy(object)
    groups = few_reasons["feature"].to_numpy(object)
    catalogue = load_catalogue("de")

    def render() -> np.ndarray:
        return _Renderer(catalogue, few.data).texts(codes, groups, positions)

    render_s, texts = best_of(args.repeat, render)
    if not np.array_equal(texts, few_reasons["text"].to_numpy(object)):
        msg = "the texts rendered again differ from reasons()"
        raise SystemExit(msg)
    days = np.resize(few.data["days_overdue"].to_numpy(np.int64), len(codes)).tolist()
    fstring_s, _ = best_of(
        args.repeat, lambda: [f"Die Rechnung ist seit {d} Tagen überfällig." for d in days]
    )
    rows.append(
        Row(
            "reason texts (render only)",
            text_rows,
            render_s,
            "bare f-string, one int per text",
            fstring_s,
            f"{len(codes):,} texts, {len(set(codes))} codes",
        )
    )

    print(machine(lgb))
    print(
        f"Model and {args.n:,}-row matrix prepared in {prepared:.0f} s. Best of 1 run on all "
        f"rows, of {args.repeat} on the cases ({args.cases_share:.0%} of the rows) and texts."
    )
    print()
    print_rows(rows, step_width=28, baseline_width=36, ratio_digits=2)
    print()
    print(
        "ratio = seconds / baseline seconds; rows/s per explained row. "
        f"Peak memory {peak_mib():,.0f} MiB; whole run {time.perf_counter() - started:,.0f} s."
    )


if __name__ == "__main__":
    main()
