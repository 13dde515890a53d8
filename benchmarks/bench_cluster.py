"""Benchmark: scoring and explaining on Dask (LocalCluster) next to the local stages.

Run: ``.venv/bin/python benchmarks/bench_cluster.py [--customers N] [--workers N] [--quick]``

One run builds a demo portfolio of ``--customers`` customers (default 4,000: about 100,000
invoices), fits the run's risk model (``dunning.pipeline._train``) on a small portfolio
(500 customers) and times, on the big one:

1. **score**: ``build_features`` and ``predict_proba`` in this process (the local stage)
   next to ``DaskBackend.score`` on a ``LocalCluster`` of ``--workers`` worker processes
   with one thread each;
2. **explain**: ``explain.attributions.explain`` next to ``DaskBackend.explain``.

The Dask rows are timed twice: the first call ("cold") includes sending the model to the
workers and the workers' first imports of the scoring code; the second ("warm") is what
every later run on a running cluster costs. Each Dask result is checked to be identical to
the local one. Starting the cluster is timed on its own, and the workers' peak memory is
printed with it. Times are wall-clock
``time.perf_counter`` seconds of one run each; ``--quick`` runs a small portfolio as a
smoke test. A script that starts a LocalCluster needs the ``if __name__ == "__main__":``
guard, as here.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from datetime import date

import distributed
import numpy as np
import pandas as pd

# The report helpers; this script runs from benchmarks/.
from _report import Row, best_of, machine, peak_mib, print_rows

from dunning.cluster import DaskBackend, local_cluster
from dunning.datasets import make_portfolio
from dunning.pipeline import _score, _train
from explain.attributions import explain

AS_OF = date(2026, 11, 23)


def main() -> None:
    """Parse the arguments, time the local and the Dask stages, print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=4_000, help="demo customers")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    args = parser.parse_args()
    customers = 300 if args.quick else args.customers
    logging.basicConfig(level=logging.ERROR)

    print(machine(distributed))
    model = _train(make_portfolio(300 if args.quick else 500, seed=5, as_of=AS_OF), AS_OF, 0)
    portfolio = make_portfolio(customers, seed=7, as_of=AS_OF)
    invoices = len(portfolio.invoices)
    print(
        f"Portfolio: {customers:,} customers, {invoices:,} invoices, "
        f"{len(portfolio.payments):,} payments; model: {model.booster_.num_trees()} trees."
    )

    local_score_s, (features, risk) = best_of(1, lambda: _score(model, portfolio, AS_OF))
    local_explain_s, expected = best_of(1, lambda: explain(model, features))
    n = len(features)
    rows = [
        Row("score, local", n, local_score_s, note=f"{invoices:,} invoices"),
        Row("explain, local", n, local_explain_s),
    ]
    start = time.perf_counter()
    with local_cluster(args.workers, 1) as client:
        up_s = time.perf_counter() - start
        backend = DaskBackend(client)
        for label in ("cold", "warm"):
            score_s, (dask_features, dask_risk) = best_of(
                1, lambda: backend.score(model, portfolio, AS_OF)
            )
            pd.testing.assert_frame_equal(dask_features, features, check_exact=True)
            pd.testing.assert_series_equal(dask_risk, risk, check_exact=True)
            explain_s, found = best_of(1, lambda: backend.explain(model, features))
            if not np.array_equal(found.values, expected.values):
                msg = "DaskBackend.explain differs from explain()"
                raise SystemExit(msg)
            rows += [
                Row(f"score, dask {label}", n, score_s, "score, local", local_score_s),
                Row(f"explain, dask {label}", n, explain_s, "explain, local", local_explain_s),
                Row(
                    f"score + explain, dask {label}",
                    n,
                    score_s + explain_s,
                    "score + explain, local",
                    local_score_s + local_explain_s,
                    note=f"{backend.partitions} partitions, identical results",
                ),
            ]
        # The workers' peak resident memory (ru_maxrss is KiB on Linux).
        worker_mib = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(
        f"Dask: LocalCluster of {args.workers} worker processes x 1 thread, started in "
        f"{up_s:.1f} s (not in the rows below); peak memory per worker "
        f"{', '.join(f'{v:,.0f}' for v in worker_mib.values())} MiB."
    )
    print_rows(rows, step_width=30, baseline_width=24)
    print(f"Peak memory of this process: {peak_mib():,.0f} MiB.")


if __name__ == "__main__":
    main()
