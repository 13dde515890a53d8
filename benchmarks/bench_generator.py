"""Time the demo portfolio generator at about 1,000,000 invoices.

Run from the repository root::

    .venv/bin/python benchmarks/bench_generator.py            # 40,000 customers
    .venv/bin/python benchmarks/bench_generator.py --customers 4000

Prints the table sizes, the wall time of :func:`dunning.datasets.make_portfolio` (best of
``--repeat`` runs) and invoices per second, then the cost of turning 1,000,000 integer
cent amounts into ``Decimal`` objects: one comprehension per row, and the generator's way
(one comprehension over the distinct amounts, shared).
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal

import numpy as np

# The shared report helpers; this script runs from benchmarks/.
from _report import best_of

from dunning.datasets import make_portfolio
from dunning.datasets._generator import _decimals
from dunning.money import quantize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    best, p = best_of(
        args.repeat,
        lambda: make_portfolio(args.customers, seed=args.seed, as_of=date(2026, 11, 23)),
    )
    n_invoices = len(p.invoices)
    print(f"customers     {len(p.customers):>12,}")
    print(f"invoices      {n_invoices:>12,}")
    print(f"payments      {len(p.payments):>12,}")
    print(f"history       {len(p.history):>12,}")
    print(f"open items    {len(p.truth) if p.truth is not None else 0:>12,}")
    print(f"seconds       {best:>12.2f}   (best of {args.repeat})")
    print(f"invoices/s    {n_invoices / best:>12,.0f}")

    # Decimal conversion of 1,000,000 amounts from integer cents, as the generator has them.
    cents = (p.invoices["amount"].head(1_000_000).map(lambda d: int(d.scaleb(2)))).to_numpy(
        dtype=np.int64
    )
    currencies = p.invoices["currency"].head(1_000_000).to_numpy(dtype=object)
    per_row_s, per_row = best_of(
        1,
        lambda: [
            quantize(Decimal(u).scaleb(-2), c)
            for u, c in zip(cents.tolist(), currencies.tolist(), strict=True)
        ],
    )
    shared_s, shared = best_of(1, lambda: _decimals(cents, currencies))
    if per_row != shared.tolist():
        msg = "the two Decimal conversions disagree"
        raise SystemExit(msg)
    print(f"Decimals from cents ({len(cents):,} amounts, {len(np.unique(cents)):,} distinct):")
    print(f"  one comprehension per row      {per_row_s:6.2f} s")
    print(f"  per distinct amount, shared    {shared_s:6.2f} s")


if __name__ == "__main__":
    main()
