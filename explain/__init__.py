"""Why a case was scored as it was: exact attributions and reasons in plain words.

* :mod:`explain.attributions`: :func:`explain` computes TreeSHAP contributions (log-odds)
  of every column for every row through LightGBM's ``pred_contrib``;
  :class:`Explanations` groups them into business features and converts them to a
  ``shap.Explanation``.
* :mod:`explain.reasons`: :func:`reason_table` turns the largest risk-raising
  contributions into reason codes (:data:`explain.reasons.REASON_CODES`) and
  sentences from the catalogues ``explain/catalogues/{de,en}.toml``.

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
from explain.reasons import reason_table

__all__ = ["Explanations", "explain", "feature_groups", "reason_table"]
