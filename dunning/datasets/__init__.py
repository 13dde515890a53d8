"""Demo and public data: a generated portfolio, the industry outlook, public samples.

* :func:`make_portfolio` generates a realistic portfolio from a documented process,
  with the exact probability that each open invoice stays unpaid (``truth``).
* :func:`industry_outlook` and :func:`outlook_on`: the industry outlook index, an
  external factor per NACE section and quarter (the packaged values are illustrative).
* :func:`load_ar_sample` maps IBM's accounts-receivable sample into the canonical schema;
  :func:`load_taiwan_credit` loads the UCI Taiwan credit-default data.

Examples
--------
>>> from datetime import date
>>> from dunning.datasets import make_portfolio, outlook_on
>>> portfolio = make_portfolio(100, seed=0, as_of=date(2026, 11, 23))
>>> len(portfolio.customers)
100
>>> open_now = portfolio.truth
>>> bool(open_now["p_unpaid"].between(0.0, 1.0).all())
True
>>> b2b = portfolio.customers["segment"] == "B2B"
>>> outlook = outlook_on(portfolio.customers.loc[b2b, "industry"], date(2026, 11, 23))
>>> bool(outlook.notna().all())
True
"""

from __future__ import annotations

from dunning.datasets._generator import make_portfolio
from dunning.datasets.ar_sample import load_ar_sample
from dunning.datasets.outlook import industry_outlook, outlook_on
from dunning.datasets.taiwan import load_taiwan_credit

__all__ = [
    "industry_outlook",
    "load_ar_sample",
    "load_taiwan_credit",
    "make_portfolio",
    "outlook_on",
]
