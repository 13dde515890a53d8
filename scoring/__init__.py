"""Scores for dunning decisions: point-in-time features, training labels, payment risk.

* :mod:`scoring.features`: :data:`FEATURES` (the feature dictionary) and
  :func:`build_features` (one row per overdue open invoice, facts known on the day).
* :mod:`scoring.training`: :func:`build_training_set`, rolling snapshots with leak-free
  labels ("not fully paid 30 days after the decision date").
* :mod:`scoring.risk`: :class:`RiskModel`, a scikit-learn classifier around LightGBM, with
  time-aware validation, early stopping, calibration and a bundle saved without pickle.
* :mod:`scoring.calibration`: :class:`IsotonicCalibrator`, :class:`PlattCalibrator`.
* :mod:`scoring.metrics`: :func:`risk_metrics` (ROC AUC, PR AUC, Brier, ECE),
  :func:`calibration_table`, :func:`bootstrap_intervals`.
* :mod:`scoring.model_card`: :func:`model_card` of a saved risk model (Markdown or HTML).

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

from scoring.calibration import IsotonicCalibrator, PlattCalibrator, calibrator_from_dict
from scoring.clv import (
    BetaGeoModel,
    GammaGammaModel,
    contractual_clv,
    estimate_to_money,
    summary_from_transactions,
)
from scoring.features import FEATURES, FeatureSpec, build_features
from scoring.metrics import (
    bootstrap_intervals,
    calibration_table,
    expected_calibration_error,
    risk_metrics,
)
from scoring.model_card import model_card
from scoring.risk import RiskModel
from scoring.training import TrainingSet, build_training_set

__all__ = [
    "FEATURES",
    "BetaGeoModel",
    "FeatureSpec",
    "GammaGammaModel",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "RiskModel",
    "TrainingSet",
    "bootstrap_intervals",
    "build_features",
    "build_training_set",
    "calibration_table",
    "calibrator_from_dict",
    "contractual_clv",
    "estimate_to_money",
    "expected_calibration_error",
    "model_card",
    "risk_metrics",
    "summary_from_transactions",
]
