"""Benchmark: fitting the CLV models on 100,000 simulated customers.

Run: ``.venv/bin/python benchmarks/bench_clv.py [--customers N] [--repeat K]``

Prints one table: for each model the customers, the fit time, the log-likelihood
evaluations the optimizer made and their rate, next to a bare vectorised evaluation of
the same log-likelihood (NumPy/SciPy, no validation, no gradient) at the fitted
parameters. The ratio "fit per evaluation / bare evaluation" is the cost of what the fit
adds per evaluation: the analytic gradient, the optimizer's bookkeeping, and (once per
fit) input validation. A last row times 12-month CLV for all customers. Times are the
best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

# The shared report helpers; this script runs from benchmarks/.
from _report import Column, best_of, print_table
from scipy.special import betaln, gammaln

from scoring.clv import BetaGeoModel, GammaGammaModel

FloatArray = npt.NDArray[np.float64]

CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate(n: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Customers from the BG/NBD and Gamma-Gamma stories with the CDNOW parameters (weeks)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(52.0, 104.0, n)
    lam = rng.gamma(CDNOW_BGNBD["r"], 1.0 / CDNOW_BGNBD["alpha"], n)
    p = rng.beta(CDNOW_BGNBD["a"], CDNOW_BGNBD["b"], n)
    dropout_after = rng.geometric(p)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(dropout_after, arrivals).astype(np.float64)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    nu = rng.gamma(CDNOW_GAMMA_GAMMA["q"], 1.0 / CDNOW_GAMMA_GAMMA["v"], n)
    spend = rng.gamma(CDNOW_GAMMA_GAMMA["p"] * np.maximum(x, 1), 1.0 / nu) / np.maximum(x, 1)
    m = np.where(x > 0, spend, 0.0)
    return x, t_x, T, m


def bare_bgnbd(params: dict[str, float], x: FloatArray, t_x: FloatArray, T: FloatArray) -> float:
    """Total BG/NBD log-likelihood (eq. 6), one vectorised pass, no checks, no gradient."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    dead = np.where(
        x > 0,
        betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return float(np.sum(common + np.logaddexp(alive, dead)))


def bare_gamma_gamma(params: dict[str, float], x: FloatArray, m: FloatArray) -> float:
    """Total Gamma-Gamma log-likelihood, one vectorised pass, no checks, no gradient."""
    p, q, v = params["p"], params["q"], params["v"]
    px = p * x
    return float(
        np.sum(
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(x * m)
            + np.log(x)
            - (px + q) * np.log(v + x * m)
        )
    )


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, t_x, T, m = simulate(args.customers, args.seed)
    repeat = x > 0

    bgf = BetaGeoModel()
    fit_bg, _ = best_of(args.repeat, lambda: bgf.fit(x, t_x, T))
    bare_bg, total = best_of(args.repeat * 5, lambda: bare_bgnbd(bgf.params_, x, t_x, T))
    if not np.isclose(total, bgf.log_likelihood_, rtol=1e-9):
        msg = "bare BG/NBD log-likelihood differs from the model's"
        raise SystemExit(msg)

    ggf = GammaGammaModel()
    fit_gg, _ = best_of(args.repeat, lambda: ggf.fit(x[repeat], m[repeat]))
    bare_gg, total = best_of(
        args.repeat * 5, lambda: bare_gamma_gamma(ggf.params_, x[repeat], m[repeat])
    )
    if not np.isclose(total, ggf.log_likelihood_):
        msg = "bare Gamma-Gamma log-likelihood differs from the model's"
        raise SystemExit(msg)

    clv_time, _ = best_of(
        args.repeat,
        lambda: ggf.customer_lifetime_value(bgf, x, t_x, T, m, horizon_months=12, time_unit_days=7),
    )

    columns = [
        Column("step", 28, left=True),
        Column("customers", 10, ","),
        Column("seconds", 9, ".3f"),
        Column("evals", 7),
        Column("evals/s", 9, ".1f"),
        Column("bare s", 9, ".4f"),
        Column("bare/s", 8, ".1f"),
        Column("ratio", 7, ".2f"),
    ]
    fits = [
        ("BetaGeoModel.fit", x.size, fit_bg, bgf.n_evaluations_, bare_bg),
        ("GammaGammaModel.fit", int(repeat.sum()), fit_gg, ggf.n_evaluations_, bare_gg),
    ]
    print_table(
        columns,
        [
            *[
                (name, n, fit, evals, evals / fit, bare, 1 / bare, fit / evals / bare)
                for name, n, fit, evals, bare in fits
            ],
            ("customer_lifetime_value 12m", x.size, clv_time),
        ],
    )
    print()
    print(f"BG/NBD params: { {k: round(v, 3) for k, v in bgf.params_.items()} }")
    print(f"Gamma-Gamma params: { {k: round(v, 3) for k, v in ggf.params_.items()} }")
    print("ratio = (fit seconds / evaluations) / bare evaluation seconds")


if __name__ == "__main__":
    main()
