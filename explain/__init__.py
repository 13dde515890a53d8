"""Why a case was scored as it was: exact attributions and reasons in plain words.

* :mod:`explain.attributions`: :func:`explain` computes TreeSHAP contributions (log-odds)
  of every column for every row through LightGBM's ``pred_contrib``;
  :class:`Explanations` groups them into business features and converts them to a
  ``shap.Explanation``.
* :mod:`explain.reasons`: :func:`reason_table` turns the largest risk-raising (and
  mitigating) contributions into reason codes (:data:`explain.reasons.REASON_CODES`) and
  sentences from the catalogues ``explain/catalogues/{de,en}.toml``;
  :func:`explain_cases` gives the whole story of each case in one table: the score, the
  policy's rule trace, model reasons, anomalies and data gaps.
* :mod:`explain.counterfactual`: :func:`counterfactuals`, the smallest actionable change
  that brings a flagged case below the threshold, checked with the real model.
* :mod:`explain.fairness`: :func:`fairness_report`, flag rates per group of a monitored
  column the model does not use, parity differences and proxy features.
* :mod:`explain.report`: case and portfolio reports for reviewers (HTML and PDF/UA).

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> from explain import Explanations
>>> data = pd.DataFrame({"days_overdue": [47], "open_exposure": [1234.5], "open_invoices": [3]},
...                     index=pd.Index(["R1"], name="invoice_id"))
>>> exp = Explanations(values=np.array([[1.1, 0.2, 0.1]]), base_values=np.array([-1.0]),
...                    data=data, feature_names=tuple(data.columns))
>>> reasons = exp.reasons(k=2, lang="de")
>>> reasons[["rank", "code", "contribution"]].to_dict("list")
{'rank': [1, 2], 'code': ['DAYS_OVERDUE', 'EXPOSURE'], 'contribution': [1.1, 0.30000000000000004]}
>>> for text in reasons["text"]:
...     print(text)
Die Rechnung ist seit 47 Tagen überfällig.
Insgesamt sind 3 Rechnungen über zusammen 1.234,50 offen.
"""

from __future__ import annotations

from explain.attributions import Explanations, explain, feature_groups
from explain.counterfactual import counterfactuals
from explain.fairness import FairnessReport, fairness_report
from explain.reasons import explain_cases, reason_table

__all__ = [
    "Explanations",
    "FairnessReport",
    "counterfactuals",
    "explain",
    "explain_cases",
    "fairness_report",
    "feature_groups",
    "reason_table",
]
