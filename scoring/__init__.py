"""Scores for dunning decisions: point-in-time features, training labels, payment risk.

* :mod:`scoring.features`: :data:`FEATURES` (the feature dictionary) and
  :func:`build_features` (one row per overdue open invoice, facts known on the day).
* :mod:`scoring.training`: :func:`build_training_set`, rolling snapshots with leak-free
  labels ("not fully paid 30 days after the decision date").
* :mod:`scoring.risk`: :class:`RiskModel`, a scikit-learn classifier around LightGBM.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> from dunning.models import Portfolio
>>> from scoring import FEATURES, build_features
>>> customers = pd.DataFrame({"customer_id": ["K1"], "name": ["Erika Muster"],
...     "country": ["DE"], "language": ["de"], "segment": ["B2C"]})
>>> invoices = pd.DataFrame({"invoice_id": ["R1"], "customer_id": ["K1"],
...     "issue_date": pd.to_datetime(["2026-10-01"]), "due_date": pd.to_datetime(["2026-10-15"]),
...     "amount": [Decimal("80.00")], "currency": ["EUR"]})
>>> p = Portfolio(customers, invoices, Portfolio.empty().payments, Portfolio.empty().history)
>>> X = build_features(p, date(2026, 11, 1))
>>> list(X.columns) == [f.code for f in FEATURES], int(X.loc["R1", "days_overdue"])
(True, 17)
>>> int(X.loc["R1", "history_isna"]), float(X.loc["R1", "max_days_late"])
(1, nan)
"""

from __future__ import annotations

from scoring.clv import (
    BetaGeoModel,
    GammaGammaModel,
    contractual_clv,
    estimate_to_money,
    summary_from_transactions,
)
from scoring.features import FEATURES, FeatureSpec, build_features
from scoring.risk import RiskModel
from scoring.training import TrainingSet, build_training_set

__all__ = [
    "FEATURES",
    "BetaGeoModel",
    "FeatureSpec",
    "GammaGammaModel",
    "RiskModel",
    "TrainingSet",
    "build_features",
    "build_training_set",
    "contractual_clv",
    "estimate_to_money",
    "summary_from_transactions",
]
