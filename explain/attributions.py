"""Exact TreeSHAP attributions of the risk model, through LightGBM's ``pred_contrib``.

:func:`explain` splits each row's raw score (log-odds of "stays unpaid") into one
contribution per column plus a base value: ``base_value + sum(values) == log-odds``
holds for every row (to float rounding). The contributions are TreeSHAP values
(path-dependent) computed by LightGBM itself, multi-threaded, for all rows in one call;
they equal ``shap.TreeExplainer`` on the same booster.

Contributions are in **log-odds**, not in probability or percentage points: a
contribution of +0.7 multiplies the odds of non-payment by ``exp(0.7) ≈ 2``, whatever
the probability. :meth:`Explanations.grouped` sums the contributions of technical
columns (missing-value indicators) into the business feature of the feature dictionary
(:data:`scoring.features.FEATURES`), and :meth:`Explanations.reasons` turns the largest
risk-raising ones into sentences.

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> from scoring.risk import RiskModel
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"days_overdue": rng.integers(1, 90, 300),
...                   "late_12m_share": rng.random(300)})
>>> y = (X["days_overdue"] / 90 + X["late_12m_share"] + rng.normal(0, 0.3, 300) > 1).astype(int)
>>> model = RiskModel(n_estimators=30).fit(X, y)
>>> exp = explain(model, X.head(3))
>>> exp.values.shape, exp.feature_names
((3, 2), ('days_overdue', 'late_12m_share'))
>>> bool(np.allclose(exp.log_odds, model.decision_function(X.head(3))))
True
>>> exp.grouped().feature_names
('days_overdue', 'late_12m')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from dunning.typing import Lang
from explain.reasons import reason_table
from scoring.features import FEATURES_BY_CODE
from scoring.risk import RiskModel

if TYPE_CHECKING:
    import shap

__all__ = ["Explanations", "explain", "feature_groups"]


@dataclass(frozen=True, slots=True, eq=False)
class Explanations:
    """Per-row, per-column contributions to the model's log-odds.

    Parameters
    ----------
    values : numpy.ndarray of shape (n_rows, n_columns)
        Contributions in log-odds (``float64``).
    base_values : numpy.ndarray of shape (n_rows,)
        The model's expected raw score, the same for every row.
    data : pandas.DataFrame
        The explained rows (index: the invoice ids), one column per feature name.
    feature_names : tuple of str
        Column names, in the order of ``values``' columns.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> exp = Explanations(values=np.array([[0.5, -0.2]]), base_values=np.array([-1.0]),
    ...                    data=pd.DataFrame({"days_overdue": [40], "history_isna": [1]}),
    ...                    feature_names=("days_overdue", "history_isna"))
    >>> exp.log_odds
    array([-0.7])
    >>> g = exp.grouped()
    >>> g.feature_names, g.values
    (('days_overdue', 'days_late'), array([[ 0.5, -0.2]]))
    """

    values: npt.NDArray[np.float64]
    base_values: npt.NDArray[np.float64]
    data: pd.DataFrame
    feature_names: tuple[str, ...]

    @property
    def log_odds(self) -> npt.NDArray[np.float64]:
        """The raw score of each row: ``base_values + values.sum(axis=1)``."""
        return np.asarray(self.base_values + self.values.sum(axis=1), dtype=np.float64)

    def grouped(self) -> Explanations:
        """Contributions summed per business feature (:func:`feature_groups`).

        Returns
        -------
        Explanations
            One column per group, in order of first appearance; ``data`` holds each
            group's main column (its first column), renamed to the group. Base values
            and row sums are unchanged.

        Examples
        --------
        See :class:`Explanations`.
        """
        groups = feature_groups(self.feature_names)
        names = tuple(dict.fromkeys(groups))
        position = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((len(groups), len(names)))
        matrix[np.arange(len(groups)), [position[g] for g in groups]] = 1.0
        first = [groups.index(name) for name in names]
        data = self.data.iloc[:, first].set_axis(list(names), axis=1)
        return Explanations(
            values=self.values @ matrix,
            base_values=self.base_values,
            data=data,
            feature_names=names,
        )

    def reasons(self, k: int = 3, lang: Lang = "de") -> pd.DataFrame:
        """The top ``k`` risk-raising reasons per row, in words.

        Delegates to :func:`explain.reasons.reason_table`; call it on the ungrouped
        explanations, since the texts read every column of a group.

        Returns
        -------
        pandas.DataFrame
            Columns ``invoice_id, rank, code, feature, value, contribution, text``.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.array([[0.9, -0.2]]), base_values=np.array([-1.0]),
        ...     data=pd.DataFrame({"days_overdue": [47], "disputed": [0.0]},
        ...                       index=pd.Index(["R1"], name="invoice_id")),
        ...     feature_names=("days_overdue", "disputed"))
        >>> exp.reasons(lang="en")[["invoice_id", "code", "text"]].to_dict("records")
        [{'invoice_id': 'R1', 'code': 'DAYS_OVERDUE', 'text': 'The invoice is 47 days overdue.'}]
        """
        return reason_table(self, k=k, lang=lang)

    def to_shap(self) -> shap.Explanation:
        """The same numbers as a :class:`shap.Explanation`, for shap's plots.

        ``data`` holds numbers (category columns as their codes, missing as ``NaN``) and
        ``display_data`` the original values.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.array([[0.5]]), base_values=np.array([-1.0]),
        ...                    data=pd.DataFrame({"days_overdue": [40]}),
        ...                    feature_names=("days_overdue",))
        >>> s = exp.to_shap()
        >>> s.values.tolist(), s.base_values.tolist(), s.feature_names
        ([[0.5]], [-1.0], ['days_overdue'])
        """
        import shap

        numeric = (
            np.column_stack([_numeric(self.data.iloc[:, i]) for i in range(self.data.shape[1])])
            if self.data.shape[1]
            else np.zeros((len(self.data), 0))
        )
        return shap.Explanation(
            values=self.values,
            base_values=self.base_values,
            data=numeric,
            display_data=self.data.to_numpy(dtype=object),
            feature_names=list(self.feature_names),
        )


def feature_groups(feature_names: tuple[str, ...] | list[str]) -> list[str]:
    """The business feature of each column: its ``FEATURES`` group, else the column itself.

    Examples
    --------
    >>> feature_groups(["late_12m_count", "late_12m_share_isna", "my_column"])
    ['late_12m', 'late_12m', 'my_column']
    """
    return [
        FEATURES_BY_CODE[name].group if name in FEATURES_BY_CODE else name for name in feature_names
    ]


def explain(model: RiskModel, X: pd.DataFrame | npt.ArrayLike) -> Explanations:
    """TreeSHAP contributions of every column to every row's log-odds, in one batch.

    Parameters
    ----------
    model : RiskModel
        A fitted model.
    X : pandas.DataFrame or array-like
        Rows to explain, with the columns the model was fitted on.

    Returns
    -------
    Explanations
        ``values`` (n×p log-odds), ``base_values``, ``data`` (``X`` as a DataFrame) and
        ``feature_names``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    FeatureMismatchError
        If ``X`` does not match the columns, dtypes or categories seen at fit.

    Examples
    --------
    See the module docstring.
    """
    check_is_fitted(model)
    checked = model.check_features(X)
    names = _feature_names(model)
    frame = checked if isinstance(checked, pd.DataFrame) else pd.DataFrame(checked, columns=names)
    if len(frame) == 0:
        contrib = np.zeros((0, len(names) + 1))
    else:
        threads = 0 if model.n_jobs is None or model.n_jobs < 0 else int(model.n_jobs)
        contrib = np.asarray(
            model.booster_.predict(checked, pred_contrib=True, num_threads=threads),
            dtype=np.float64,
        )
    return Explanations(
        values=np.ascontiguousarray(contrib[:, :-1]),
        base_values=np.ascontiguousarray(contrib[:, -1]),
        data=frame,
        feature_names=tuple(names),
    )


def _feature_names(model: RiskModel) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [str(n) for n in model.booster_.feature_name()]


def _numeric(column: pd.Series) -> npt.NDArray[Any]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy(np.float64)
        codes[codes < 0] = np.nan
        return codes
    return pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)
