"""Benchmark: scoring, feature building and CLV fitting at full size, in one table.

Run: ``.venv/bin/python benchmarks/bench_scoring.py [--invoices N] [--payments N]
[--customers-clv N] [--quick]``

One run measures, each next to a bare baseline on the same data:

1. **Scoring** ``--invoices`` rows (default 1,000,000) with ``RiskModel.predict_proba``
   (calibrated, with the feature checks) next to a bare ``booster_.predict`` on the same
   matrix with the same threads. The model is trained (``fit_time_aware``) on rolling
   snapshots of a small demo portfolio; the scoring matrix resamples its feature rows
   to the wanted size. Target: ratio within 1.2.
2. **Features**: ``build_features`` on a demo portfolio with about ``--invoices``
   invoices and ``--payments`` payments (default 10,000,000). The generator makes about
   one payment per invoice; to reach the wanted count, every payment is split into
   several smaller ones on the same day, in exact integer minor units (each part at
   least one minor unit; the parts add up to the original payment, so every invoice's
   payments keep their total). Baseline: a bare pandas ``groupby`` of the same payments
   per invoice (sum of int64 cents, latest date). A second row times
   ``dunning.ledger.open_items`` alone, which nets the payments.
3. **CLV**: ``summary_from_transactions`` on the invoices of ``--customers-clv`` demo
   customers (default 100,000), then ``BetaGeoModel.fit`` and ``GammaGammaModel.fit``
   (on the customers with a repeat purchase) on that summary, each next to one bare
   NumPy/SciPy evaluation of the same log-likelihood at the fitted parameters. The note
   gives the optimizer's evaluations and the cost per evaluation relative to the bare one.

Times are wall-clock ``time.perf_counter`` seconds, the best of 3 runs for the small
steps and of 1 for the big ones (feature building, summary). ``--quick`` runs small sizes
as a smoke test. The peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date
from decimal import Decimal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

# The report helpers, and the bare log-likelihoods of the CLV benchmark; this script runs
# from benchmarks/.
from _report import Row, best_of, machine, peak_mib, print_rows, usable_cpus
from bench_clv import bare_bgnbd, bare_gamma_gamma

from dunning.datasets import make_portfolio
from dunning.ledger import open_items
from dunning.models import Portfolio
from dunning.money import minor_units, to_minor_array
from scoring.clv import BetaGeoModel, GammaGammaModel, summary_from_transactions
from scoring.features import build_features
from scoring.risk import RiskModel
from scoring.training import build_training_set

AS_OF = date(2026, 11, 23)
#: Invoices per customer of the demo generator (about 25 over two years).
INVOICES_PER_CUSTOMER = 25.26
#: The BG/NBD penalty build_features uses (see scoring.features).
CLV_PENALIZER = 1e-10

FULL = {"invoices": 1_000_000, "payments": 10_000_000, "customers_clv": 100_000, "train": 2000}
QUICK = {"invoices": 20_000, "payments": 200_000, "customers_clv": 5_000, "train": 300}


# --------------------------------------------------------------------------- 1. scoring


def scoring_rows(n_rows: int, n_train_customers: int, threads: int, seed: int) -> list[Row]:
    """RiskModel.predict_proba versus booster_.predict on the same n_rows matrix."""
    portfolio = make_portfolio(n_train_customers, seed=seed, as_of=AS_OF)
    training = build_training_set(portfolio, AS_OF)
    model = RiskModel(monotone="features", n_jobs=threads, random_state=0)
    model.fit_time_aware(training, n_bootstrap=20)
    features = build_features(portfolio, AS_OF)
    rng = np.random.default_rng(seed)
    matrix = features.iloc[rng.integers(0, len(features), n_rows)].reset_index(drop=True)
    booster: lgb.Booster = model.booster_

    head = matrix.head(2000)
    same = np.allclose(
        model.decision_function(head), booster.predict(head, raw_score=True), rtol=0, atol=1e-12
    )
    if not same:
        msg = "RiskModel.decision_function differs from booster_.predict(raw_score=True)"
        raise SystemExit(msg)

    ours, _ = best_of(3, lambda: model.predict_proba(matrix)[:, 1])
    bare, _ = best_of(3, lambda: booster.predict(matrix, num_threads=threads))
    note = (
        f"{model.best_iteration_} trees, {matrix.shape[1]} columns, {threads} threads; "
        f"trained on {len(training.y):,} snapshot rows"
    )
    return [
        Row(
            "scoring: RiskModel.predict_proba",
            n_rows,
            ours,
            "booster_.predict, same matrix",
            bare,
            note,
        )
    ]


# --------------------------------------------------------------------------- 2. features


def split_payments(payments: pd.DataFrame, target: int, seed: int) -> pd.DataFrame:
    """Split payments into about ``target`` smaller ones, same day, exact in minor units.

    Payment ``i`` of ``m`` minor units becomes ``k_i`` parts (``k_i`` is the floor or the
    ceiling of ``target / len(payments)``, at most ``m``): ``m // k_i`` each, plus one
    minor unit for the first ``m % k_i`` parts, so the parts add up to ``m`` exactly.
    """
    rng = np.random.default_rng(seed)
    n = len(payments)
    currency = payments["currency"].to_numpy()
    minor = to_minor_array(payments["amount"], currency.tolist())
    share = max(target / n, 1.0)
    parts = np.floor(share).astype(np.int64) + (rng.random(n) < share % 1.0)
    parts = np.clip(parts, 1, minor)
    source = np.repeat(np.arange(n), parts)
    first = np.repeat(np.cumsum(parts) - parts, parts)
    j = np.arange(len(source)) - first
    k = parts[source]
    part_minor = minor[source] // k + (j < minor[source] % k)
    if not np.array_equal(np.bincount(source, part_minor, n).astype(np.int64), minor):
        msg = "split payments do not add up to the original payments"
        raise SystemExit(msg)
    part_currency = currency[source]
    return pd.DataFrame(
        {
            "payment_id": pd.array([f"Q{i:09d}" for i in range(len(source))], dtype="str"),
            "invoice_id": payments["invoice_id"].to_numpy()[source],
            "payment_date": payments["payment_date"].to_numpy()[source],
            "amount": pd.Series(_decimals(part_minor, part_currency), dtype=object),
            "currency": pd.array(part_currency, dtype="str"),
        }
    ).astype({"invoice_id": "str"})


def _decimals(
    minor: npt.NDArray[np.int64], currency: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    """Exact Decimal amounts from integer minor units."""
    out = np.empty(len(minor), dtype=object)
    codes, uniques = pd.factorize(currency)
    for c, code in enumerate(uniques):
        places = minor_units(str(code))
        where = codes == c
        out[where] = [Decimal(v).scaleb(-places) for v in minor[where].tolist()]
    return out


def feature_rows(n_invoices: int, n_payments: int, seed: int) -> list[Row]:
    """build_features (and open_items) versus a bare pandas groupby of the payments."""
    n_customers = max(1, round(n_invoices / INVOICES_PER_CUSTOMER))
    generated = make_portfolio(n_customers, seed=seed, as_of=AS_OF)
    payments = split_payments(generated.payments, n_payments, seed)
    portfolio = Portfolio(generated.customers, generated.invoices, payments, generated.history)
    del generated

    bare_frame = pd.DataFrame(
        {
            "invoice_id": payments["invoice_id"],
            "minor": to_minor_array(payments["amount"], payments["currency"].tolist()),
            "payment_date": payments["payment_date"],
        }
    )

    def bare() -> pd.DataFrame:
        return bare_frame.groupby("invoice_id", sort=False).agg(
            paid=("minor", "sum"), last=("payment_date", "max")
        )

    seconds, features = best_of(1, lambda: build_features(portfolio, AS_OF))
    ledger_seconds, _ = best_of(1, lambda: open_items(portfolio, AS_OF))
    bare_seconds, _ = best_of(3, bare)
    missing = int(features["clv_isna"].sum())
    note = (
        f"{len(payments):,} payments, {n_customers:,} customers, {len(features):,} "
        f"overdue rows out, clv missing for {missing:,}"
    )
    baseline = "pandas groupby: cents sum, last date"
    return [
        Row(
            "features: build_features",
            len(portfolio.invoices),
            seconds,
            baseline,
            bare_seconds,
            note,
        ),
        Row(
            "  of which open_items (netting)",
            len(portfolio.invoices),
            ledger_seconds,
            baseline,
            bare_seconds,
        ),
    ]


# --------------------------------------------------------------------------- 3. CLV


def clv_rows(n_customers: int, seed: int) -> list[Row]:
    """summary_from_transactions, then the BG/NBD and Gamma-Gamma fits versus bare evaluations."""
    invoices = make_portfolio(n_customers, seed=seed, as_of=AS_OF).invoices
    currency = invoices["currency"].tolist()
    scale = np.array([10.0 ** minor_units(c) for c in currency])
    ledger = pd.DataFrame(
        {
            "customer_id": invoices["customer_id"],
            "issue_date": invoices["issue_date"],
            "value": to_minor_array(invoices["amount"], currency) / scale,
        }
    )
    del invoices
    summary_seconds, summary = best_of(
        1,
        lambda: summary_from_transactions(
            ledger, "customer_id", "issue_date", "value", AS_OF, freq="D"
        ),
    )
    x = summary["frequency"].to_numpy(np.float64)
    t_x = summary["recency"].to_numpy(np.float64)
    age = summary["T"].to_numpy(np.float64)
    m = summary["monetary_value"].to_numpy(np.float64)
    repeat = (x > 0) & (m > 0)

    beta_geo = BetaGeoModel(penalizer_coef=CLV_PENALIZER)
    fit_bg, _ = best_of(3, lambda: beta_geo.fit(x, t_x, age))
    bare_bg, total = best_of(3, lambda: bare_bgnbd(beta_geo.params_, x, t_x, age))
    if not np.isclose(total, beta_geo.log_likelihood_, rtol=1e-9):
        msg = "bare BG/NBD log-likelihood differs from the model's"
        raise SystemExit(msg)

    gamma_gamma = GammaGammaModel()
    fit_gg, _ = best_of(3, lambda: gamma_gamma.fit(x[repeat], m[repeat]))
    bare_gg, total = best_of(3, lambda: bare_gamma_gamma(gamma_gamma.params_, x[repeat], m[repeat]))
    if not np.isclose(total, gamma_gamma.log_likelihood_, rtol=1e-9):
        msg = "bare Gamma-Gamma log-likelihood differs from the model's"
        raise SystemExit(msg)

    def per_eval(model: BetaGeoModel | GammaGammaModel, fit: float, bare: float) -> str:
        evals = model.n_evaluations_
        return f"{evals} evaluations, {fit / evals / bare:.2f}x bare per evaluation"

    return [
        Row(
            "CLV: summary_from_transactions",
            len(ledger),
            summary_seconds,
            note=f"{len(summary):,} customers",
        ),
        Row(
            "CLV: BetaGeoModel.fit",
            len(x),
            fit_bg,
            "bare log-likelihood, 1 evaluation",
            bare_bg,
            per_eval(beta_geo, fit_bg, bare_bg),
        ),
        Row(
            "CLV: GammaGammaModel.fit",
            int(repeat.sum()),
            fit_gg,
            "bare log-likelihood, 1 evaluation",
            bare_gg,
            per_eval(gamma_gamma, fit_gg, bare_gg),
        ),
    ]


def main() -> None:
    """Parse the arguments, run the three benchmarks, print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, help="rows to score and invoices for features")
    parser.add_argument("--payments", type=int, help="payments for the feature benchmark")
    parser.add_argument("--customers-clv", type=int, help="customers for the CLV fits")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    n_invoices = args.invoices or sizes["invoices"]
    n_payments = args.payments or sizes["payments"]
    n_customers = args.customers_clv or sizes["customers_clv"]

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # BG/NBD fits on the demo data log a benign warning when nobody drops out.
    logging.getLogger("scoring.clv").setLevel(logging.ERROR)
    threads = usable_cpus()

    started = time.perf_counter()
    rows = scoring_rows(n_invoices, sizes["train"], threads, args.seed)
    rows += feature_rows(n_invoices, n_payments, args.seed)
    rows += clv_rows(n_customers, args.seed + 1)

    print(machine(lgb))
    print(
        "Best of 3 runs (scoring, fits, bare baselines), of 1 (build_features, open_items, "
        "summary)."
    )
    print()
    print_rows(rows, step_width=34, baseline_width=36, ratio_digits=2)
    print()
    print(
        f"ratio = seconds / baseline seconds; peak memory {peak_mib():,.0f} MiB; "
        f"whole run {time.perf_counter() - started:,.0f} s."
    )


if __name__ == "__main__":
    main()
