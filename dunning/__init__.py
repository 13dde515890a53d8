"""Explainable dunning: decide what happens to every overdue invoice, and say why.

The public API is small: load a portfolio, run the pipeline (or score, propose, review
and issue step by step), compare policies, inspect the result.

Examples
--------
>>> from datetime import date
>>> import dunning
>>> from dunning.datasets import make_portfolio
>>> portfolio = make_portfolio(50, seed=1, as_of=date(2026, 11, 23))
>>> len(portfolio.customers)
50
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from dunning.errors import (
    DataError,
    DataQualityWarning,
    DunningError,
    FeatureMismatchError,
    ModelError,
    PolicyError,
    RenderError,
    StoreError,
)
from dunning.models import Portfolio

if TYPE_CHECKING:
    from dunning.io import CsvFormat, LoadResult, load_portfolio
    from dunning.pipeline import RunResult, run, score_portfolio
    from dunning.policy import Policy
    from dunning.whatif import compare
    from dunning.workflow import ReviewDecision, Scores, apply_reviews, issue, propose

__all__ = [
    "CsvFormat",
    "DataError",
    "DataQualityWarning",
    "DunningError",
    "FeatureMismatchError",
    "LoadResult",
    "ModelError",
    "Policy",
    "PolicyError",
    "Portfolio",
    "RenderError",
    "ReviewDecision",
    "RunResult",
    "Scores",
    "StoreError",
    "apply_reviews",
    "compare",
    "issue",
    "load_portfolio",
    "propose",
    "run",
    "score_portfolio",
]

__version__ = "0.1.0"

logging.getLogger("dunning").addHandler(logging.NullHandler())

# Loaded on first use (as sklearn does for its submodules): keeps ``import dunning``
# light and lets lower layers import ``dunning.errors`` without pulling in the run.
_LAZY = {
    "CsvFormat": "dunning.io",
    "LoadResult": "dunning.io",
    "load_portfolio": "dunning.io",
    "RunResult": "dunning.pipeline",
    "run": "dunning.pipeline",
    "score_portfolio": "dunning.pipeline",
    "Policy": "dunning.policy",
    "compare": "dunning.whatif",
    "ReviewDecision": "dunning.workflow",
    "Scores": "dunning.workflow",
    "apply_reviews": "dunning.workflow",
    "issue": "dunning.workflow",
    "propose": "dunning.workflow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'dunning' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
