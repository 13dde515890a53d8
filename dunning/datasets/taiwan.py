"""The UCI "default of credit card clients" data (Taiwan, 2005) as model-ready tables.

Real, anonymised payment behaviour of 30,000 card holders (Yeh & Lien 2009, UCI Machine
Learning Repository, dataset 350): six months of repayment status, bills and payments,
and whether the client defaulted on the next month's payment. It is not an invoice
ledger (no dates, no due dates), so it does not map to a :class:`~dunning.models.Portfolio`;
it serves as a real-data check that :class:`scoring.risk.RiskModel` learns payment risk.

The file is not shipped with this package (its terms are attribution-only). Tests read
it from ``../shared/data/uci-taiwan-credit-default/UCI_Credit_Card.csv`` beside the
repository. Cite: Yeh, I. C. & Lien, C. H. (2009), *Expert Systems with Applications*
36(2), 2473–2480.

What the loader does
--------------------
* Reads the R-style numbers (``5e+05``) and casts every amount (``LIMIT_BAL``,
  ``BILL_AMT1`` … ``6``, ``PAY_AMT1`` … ``6``) to ``int64`` New Taiwan dollars; a
  non-whole amount is an error, never rounded away.
* ``AGE`` and the repayment status ``PAY_0``, ``PAY_2`` … ``PAY_6`` (there is no
  ``PAY_1``; ``PAY_0`` is September) become ``int64``, undocumented values (-2, 0) kept.
* ``SEX``, ``EDUCATION`` and ``MARRIAGE`` become ``category`` columns with words;
  undocumented codes (``EDUCATION`` 0, 5, 6; ``MARRIAGE`` 0) become ``"unknown"``.
* ``ID`` is dropped; ``y`` is ``default.payment.next.month`` as ``int64``.

Examples
--------
>>> import pandas as pd
>>> TAIWAN_CATEGORIES["EDUCATION"]
('graduate school', 'university', 'high school', 'others', 'unknown')
>>> len(TAIWAN_COLUMNS), TAIWAN_TARGET
(25, 'default.payment.next.month')
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dunning.errors import DataError

__all__ = [
    "TAIWAN_CATEGORIES",
    "TAIWAN_COLUMNS",
    "TAIWAN_FILE",
    "TAIWAN_TARGET",
    "load_taiwan_credit",
]

logger = logging.getLogger(__name__)

#: File name of the data inside its folder.
TAIWAN_FILE = "UCI_Credit_Card.csv"
#: Name of the target column in the file.
TAIWAN_TARGET = "default.payment.next.month"

_MONTHS = range(1, 7)
_STATUS = ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")
_AMOUNTS = (
    "LIMIT_BAL",
    *(f"BILL_AMT{i}" for i in _MONTHS),
    *(f"PAY_AMT{i}" for i in _MONTHS),
)
_CODES: dict[str, dict[int, str]] = {
    "SEX": {1: "male", 2: "female"},
    "EDUCATION": {1: "graduate school", 2: "university", 3: "high school", 4: "others"},
    "MARRIAGE": {1: "married", 2: "single", 3: "others"},
}
_UNKNOWN = "unknown"

#: Categories of the coded columns, in code order, ``"unknown"`` for undocumented codes.
TAIWAN_CATEGORIES: dict[str, tuple[str, ...]] = {
    "SEX": ("male", "female", _UNKNOWN),
    "EDUCATION": ("graduate school", "university", "high school", "others", _UNKNOWN),
    "MARRIAGE": ("married", "single", "others", _UNKNOWN),
}
#: Columns of the file, in order.
TAIWAN_COLUMNS: tuple[str, ...] = (
    "ID",
    "LIMIT_BAL",
    "SEX",
    "EDUCATION",
    "MARRIAGE",
    "AGE",
    *_STATUS,
    *(f"BILL_AMT{i}" for i in _MONTHS),
    *(f"PAY_AMT{i}" for i in _MONTHS),
    TAIWAN_TARGET,
)


def load_taiwan_credit(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Read ``UCI_Credit_Card.csv`` into features and the default label.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, or the folder that holds it (``UCI_Credit_Card.csv``).

    Returns
    -------
    X : pandas.DataFrame
        23 columns in file order without ``ID``: ``int64`` amounts, age and repayment
        status, ``category`` for ``SEX``, ``EDUCATION`` and ``MARRIAGE``.
    y : pandas.Series
        ``int64``, named ``"default"``: 1 when the client defaulted next month.

    Raises
    ------
    DataError
        If the file is missing or unreadable, a column is absent, or a value is not a
        whole number. The message names the file.

    Examples
    --------
    >>> load_taiwan_credit("/nonexistent/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: /nonexistent/folder/UCI_Credit_Card.csv: file not found; ...
    """
    file = Path(path)
    if file.is_dir() or not file.suffix:
        file = file / TAIWAN_FILE
    name = str(file)
    if not file.is_file():
        msg = (
            f"{name}: file not found; download the UCI 'default of credit card clients' "
            f"data ({TAIWAN_FILE}) and give its path."
        )
        raise DataError(msg, path=name)
    try:
        raw = pd.read_csv(file, dtype="float64", usecols=lambda c: c in TAIWAN_COLUMNS)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        msg = f"{name}: not a readable CSV file of numbers ({exc}); expected {TAIWAN_FILE}."
        raise DataError(msg, path=name) from exc
    missing = [c for c in TAIWAN_COLUMNS if c not in raw.columns]
    if missing:
        msg = (
            f"{name}: required column(s) {', '.join(missing)} missing; is this the UCI "
            f"{TAIWAN_FILE} with named columns (not the X1 … X23 export)?"
        )
        raise DataError(msg, path=name, missing=missing)

    columns: dict[str, pd.Series] = {}
    for column in TAIWAN_COLUMNS[1:-1]:
        values = raw[column]
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (
                f"{name}: line {row + 2}, column {column!r}: {float(values.iloc[row])!r} is not a "
                "whole number; the file should hold integers only."
            )
            raise DataError(msg, path=name)
        if column in _CODES:
            words = values.astype(np.int64).map(_CODES[column]).fillna(_UNKNOWN)
            columns[column] = pd.Series(
                pd.Categorical(words, categories=list(TAIWAN_CATEGORIES[column])),
                index=raw.index,
            )
        else:
            columns[column] = values.astype(np.int64)
    target = raw[TAIWAN_TARGET]
    if not target.isin([0.0, 1.0]).all():
        msg = f"{name}: column {TAIWAN_TARGET!r} must hold 0 or 1 in every row."
        raise DataError(msg, path=name)
    X = pd.DataFrame(columns)
    y = target.astype(np.int64).rename("default")
    logger.debug("read %d clients from %s", len(X), name)
    return X, y
