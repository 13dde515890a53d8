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
risk-raising ones into sentences (:meth:`Explanations.mitigating` the largest risk-lowering
ones).

From log-odds to the probability shown
--------------------------------------
The risk shown to clerks is :meth:`scoring.risk.RiskModel.predict_proba`: the model's
log-odds mapped to a probability by its calibrator (isotonic or Platt,
:mod:`scoring.calibration`), or by the logistic function ``expit`` when the model has
none. :func:`explain` keeps that calibrator, and :meth:`Explanations.probabilities` states
every step per row: the base value and the row's log-odds, both as the model's own
probability (``expit``) and as the probability shown (calibrated). A contribution ``c``
multiplies the odds of non-payment by ``exp(c)`` (the reasons' ``odds_factor``: ×2.0
doubles the odds, ×0.5 halves them, whatever the probability); in probability
terms its effect depends on the other contributions, so the reasons also give
``probability_change``: how much the probability shown would fall (or rise, for a
risk-lowering factor) if that contribution alone were zero and all others held. These
changes do **not** add up to the difference between the probability shown and the base
probability (the logistic function and the calibrator are not linear).

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
>>> p = exp.probabilities()
>>> bool(np.allclose(p["probability"], model.predict_proba(X.head(3))[:, 1]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from dunning.errors import DataError
from dunning.typing import Lang
from explain.reasons import reason_table
from scoring.calibration import Calibrator
from scoring.features import FEATURES_BY_CODE
from scoring.risk import RiskModel

if TYPE_CHECKING:
    import shap

__all__ = ["PROBABILITY_COLUMNS", "Explanations", "explain", "feature_groups"]

#: Columns of :meth:`Explanations.probabilities`, in order.
PROBABILITY_COLUMNS: tuple[str, ...] = (
    "base_log_odds",
    "log_odds",
    "model_base_probability",
    "model_probability",
    "base_probability",
    "probability",
)


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
    calibrator : IsotonicCalibrator, PlattCalibrator or None
        The model's map from log-odds to the probability shown
        (:attr:`scoring.risk.RiskModel.calibrator_`); ``None``: the logistic function.

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
    calibrator: Calibrator | None = None

    @property
    def log_odds(self) -> npt.NDArray[np.float64]:
        """The raw score of each row: ``base_values + values.sum(axis=1)``."""
        return np.asarray(self.base_values + self.values.sum(axis=1), dtype=np.float64)

    @property
    def calibration(self) -> Literal["isotonic", "platt"] | None:
        """The calibration method of the probability shown (``None``: uncalibrated)."""
        if self.calibrator is None:
            return None
        return "isotonic" if self.calibrator.method == "isotonic" else "platt"

    def probability_of(self, log_odds: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The probability shown for raw scores (log-odds): the calibrator's, else ``expit``.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.zeros((1, 0)), base_values=np.zeros(1),
        ...                    data=pd.DataFrame(index=[0]), feature_names=())
        >>> exp.probability_of([0.0, np.log(3)]).round(6).tolist()
        [0.5, 0.75]
        """
        scores = np.asarray(log_odds, dtype=np.float64)
        if self.calibrator is None:
            return np.asarray(expit(scores), dtype=np.float64)
        return np.asarray(self.calibrator.predict(scores), dtype=np.float64)

    def probabilities(self) -> pd.DataFrame:
        """How each row's log-odds become the probability shown, step by step.

        Returns
        -------
        pandas.DataFrame
            Index as ``data``; columns :data:`PROBABILITY_COLUMNS`:

            ``base_log_odds``, ``log_odds``
                The base value and the row's raw score (base value plus all
                contributions), in log-odds.
            ``model_base_probability``, ``model_probability``
                Both through the logistic function ``1 / (1 + exp(-s))``: the trees' own
                probabilities.
            ``base_probability``, ``probability``
                Both as shown (:meth:`probability_of`): through the calibrator when there
                is one, else equal to the two before. ``probability`` is what
                :meth:`scoring.risk.RiskModel.predict_proba` returns for the row (to float
                rounding of the contributions' sum).

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.array([[0.9, -0.2]]), base_values=np.array([-1.0]),
        ...                    data=pd.DataFrame({"a": [1], "b": [2]}), feature_names=("a", "b"))
        >>> exp.probabilities().round(4).to_dict("records")
        [{'base_log_odds': -1.0, 'log_odds': -0.3, 'model_base_probability': 0.2689, \
'model_probability': 0.4256, 'base_probability': 0.2689, 'probability': 0.4256}]
        """
        base = np.asarray(self.base_values, dtype=np.float64)
        log_odds = self.log_odds
        return pd.DataFrame(
            {
                "base_log_odds": base,
                "log_odds": log_odds,
                "model_base_probability": expit(base),
                "model_probability": expit(log_odds),
                "base_probability": self.probability_of(base),
                "probability": self.probability_of(log_odds),
            },
            index=self.data.index,
            columns=list(PROBABILITY_COLUMNS),
        )

    def grouped(self) -> Explanations:
        """Contributions summed per business feature (:func:`feature_groups`).

        Returns
        -------
        Explanations
            One column per group, in order of first appearance; ``data`` holds each
            group's main column (its first column), renamed to the group. Base values,
            row sums and the calibrator are unchanged.

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
            calibrator=self.calibrator,
        )

    def select(self, rows: npt.ArrayLike | pd.Index | Sequence[Any]) -> Explanations:
        """The explanations of some rows only, e.g. of the invoices in a letter.

        Parameters
        ----------
        rows : boolean mask or labels
            A boolean array with one entry per row, or labels of ``data``'s index (the
            invoice ids), in the order wanted.

        Returns
        -------
        Explanations

        Raises
        ------
        DataError
            If a mask has the wrong length, or a label is not an explained row.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.array([[0.1], [0.2], [0.3]]),
        ...                    base_values=np.full(3, -1.0),
        ...                    data=pd.DataFrame({"a": [1, 2, 3]}, index=["R1", "R2", "R3"]),
        ...                    feature_names=("a",))
        >>> exp.select(["R3", "R1"]).values.ravel().tolist()
        [0.3, 0.1]
        >>> exp.select(exp.data["a"] > 1).data.index.tolist()
        ['R2', 'R3']
        """
        wanted = np.asarray(rows)
        if wanted.dtype == bool:
            if wanted.shape != (len(self.data),):
                msg = (
                    f"select: the mask has shape {wanted.shape}, the explanations "
                    f"{len(self.data)} rows; pass one bool per row."
                )
                raise DataError(msg)
            positions = np.flatnonzero(wanted)
        else:
            positions = _positions(self.data.index, wanted)
        return Explanations(
            values=self.values[positions],
            base_values=self.base_values[positions],
            data=self.data.iloc[positions],
            feature_names=self.feature_names,
            calibrator=self.calibrator,
        )

    def reasons(
        self,
        k: int = 4,
        lang: Lang = "de",
        *,
        kind: Literal["adverse", "mitigating"] = "adverse",
    ) -> pd.DataFrame:
        """The top ``k`` risk-raising reasons per row, in words.

        Four by default, as adverse-action notices commonly give. Delegates to
        :func:`explain.reasons.reason_table`; call it on the ungrouped explanations,
        since the texts read every column of a group.

        Parameters
        ----------
        k : int
            Maximum number of reasons per row.
        lang : {"de", "en"}
            Language of ``text``.
        kind : {"adverse", "mitigating"}
            ``"mitigating"`` gives the largest risk-lowering factors instead
            (:meth:`mitigating`).

        Returns
        -------
        pandas.DataFrame
            Columns ``invoice_id, rank, code, feature, value, contribution, odds_factor,
            probability_change, text`` (:data:`explain.reasons.REASON_COLUMNS`).

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
        return reason_table(self, k=k, lang=lang, kind=kind)

    def mitigating(self, k: int = 2, lang: Lang = "de") -> pd.DataFrame:
        """The top ``k`` risk-lowering factors per row, in words (what speaks for the customer).

        The groups with the most negative contributions, ranked; silent groups (the
        customer value) and groups whose input is missing are never given. Same columns
        as :meth:`reasons`; ``contribution`` is negative, ``odds_factor`` below 1.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> exp = Explanations(values=np.array([[0.9, -0.4]]), base_values=np.array([-1.0]),
        ...     data=pd.DataFrame({"days_overdue": [47], "late_12m_count": [0]},
        ...                       index=pd.Index(["R1"], name="invoice_id")),
        ...     feature_names=("days_overdue", "late_12m_count"))
        >>> exp.mitigating(lang="en")[["code", "contribution", "text"]].to_dict("records")
        ... # doctest: +NORMALIZE_WHITESPACE
        [{'code': 'LATE_12M', 'contribution': -0.4,
          'text': 'No late payment in the last 12 months.'}]
        """
        return reason_table(self, k=k, lang=lang, kind="mitigating")

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
        ``values`` (n×p log-odds), ``base_values``, ``data`` (``X`` as a DataFrame),
        ``feature_names`` and the model's ``calibrator`` (for the probability shown).

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
        calibrator=getattr(model, "calibrator_", None),
    )


def _positions(index: pd.Index, labels: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    if not index.is_unique:
        msg = "select: the explained rows' index has duplicate labels; select by a mask."
        raise DataError(msg)
    positions = np.asarray(index.get_indexer(pd.Index(labels)), dtype=np.intp)
    if (positions < 0).any():
        unknown = labels[positions < 0][:5].tolist()
        msg = f"select: rows {unknown} are not explained; explain them first."
        raise DataError(msg)
    return positions


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
