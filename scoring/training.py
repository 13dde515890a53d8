"""Training data for the risk model: rolling point-in-time snapshots with leak-free labels.

The target
----------
For a decision date ``s`` and a horizon ``h`` (``horizon_days``, 30 by default), an
invoice that is overdue on ``s`` is labelled **1 ("stays unpaid") when it is not fully
paid on** ``s + h``, i.e. the payments dated on or before ``s + h`` do not cover its
amount, and 0 when they do. This is the event the dunning run acts on: will this overdue
invoice still be open a month from now?

Snapshots
---------
The decision dates are ``s_k = as_of - h - k * step_days`` for ``k = 0 … snapshots - 1``,
so the last horizon ends exactly on ``as_of``: no label uses a payment dated after
``as_of``, and the features of a snapshot use only facts dated on or before ``s_k``
(:func:`scoring.features.build_features`). The rows of all snapshots are stacked, oldest
first; an invoice overdue on several snapshot dates appears once per snapshot, which is
what a time-aware validation (train on earlier snapshots, validate on later ones) needs.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> from dunning.models import Portfolio
>>> customers = pd.DataFrame({"customer_id": ["K1"], "name": ["Erika Muster"],
...     "country": ["DE"], "language": ["de"], "segment": ["B2C"]})
>>> invoices = pd.DataFrame({"invoice_id": ["R1", "R2"], "customer_id": ["K1", "K1"],
...     "issue_date": pd.to_datetime(["2026-08-01", "2026-08-01"]),
...     "due_date": pd.to_datetime(["2026-08-15", "2026-08-15"]),
...     "amount": [Decimal("100.00"), Decimal("50.00")], "currency": ["EUR", "EUR"]})
>>> payments = pd.DataFrame({"payment_id": ["P1"], "invoice_id": ["R1"],
...     "payment_date": pd.to_datetime(["2026-09-10"]), "amount": [Decimal("100.00")],
...     "currency": ["EUR"]})
>>> p = Portfolio(customers, invoices, payments, Portfolio.empty().history)
>>> ts = build_training_set(p, date(2026, 10, 1), snapshots=1)
>>> ts.y.tolist(), ts.snapshot.dt.date.unique().tolist()
([0, 1], [datetime.date(2026, 9, 1)])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dunning.datasets.outlook import industry_outlook
from dunning.errors import PolicyError
from dunning.models import Portfolio
from dunning.money import to_minor_array
from scoring.features import build_features

__all__ = ["TrainingSet", "build_training_set"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class TrainingSet:
    """Stacked snapshot features with their labels.

    Parameters
    ----------
    X : pandas.DataFrame
        Features (columns of :data:`scoring.features.FEATURES`), indexed by
        ``(snapshot, invoice_id)``, oldest snapshot first.
    y : pandas.Series
        ``int64`` label per row: 1 when the invoice was not fully paid ``horizon_days``
        after the snapshot date, else 0. Same index as ``X``.
    snapshot : pandas.Series
        The snapshot (decision) date of each row, ``datetime64[ns]``. Same index as ``X``.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = TrainingSet(X=pd.DataFrame({"days_overdue": [3]}), y=pd.Series([1]),
    ...                  snapshot=pd.Series(pd.to_datetime(["2026-09-01"])))
    >>> len(ts.X), int(ts.y.sum())
    (1, 1)
    """

    X: pd.DataFrame
    y: pd.Series
    snapshot: pd.Series


def build_training_set(
    portfolio: Portfolio,
    as_of: date,
    *,
    horizon_days: int = 30,
    snapshots: int = 12,
    step_days: int = 30,
    outlook_table: pd.DataFrame | None = None,
) -> TrainingSet:
    """Features and labels on rolling snapshot dates whose horizon ends by ``as_of``.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    as_of : datetime.date
        The decision date of the run; no label looks past it.
    horizon_days : int
        Days after a snapshot date by which the invoice must be fully paid to count as
        paid (label 0).
    snapshots : int
        Number of snapshot dates.
    step_days : int
        Days between consecutive snapshot dates.
    outlook_table : pandas.DataFrame or None
        Industry outlook table passed to :func:`scoring.features.build_features`.

    Returns
    -------
    TrainingSet
        Rows of all snapshots with at least one overdue invoice, oldest first.

    Raises
    ------
    PolicyError
        If ``horizon_days``, ``snapshots`` or ``step_days`` is not a positive integer.

    Examples
    --------
    See the module docstring.
    """
    for name, value in (
        ("horizon_days", horizon_days),
        ("snapshots", snapshots),
        ("step_days", step_days),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{name} of build_training_set must be an int >= 1. Got {value!r} instead."
            raise PolicyError(msg, field=name)

    if outlook_table is None:
        outlook_table = industry_outlook()  # read the packaged table once, not per snapshot
    settled_on = _settlement_dates(portfolio, pd.Timestamp(as_of))
    frames: list[pd.DataFrame] = []
    labels: list[np.ndarray] = []
    dates: list[pd.Timestamp] = []
    for k in reversed(range(snapshots)):
        snapshot = as_of - timedelta(days=horizon_days + k * step_days)
        features = build_features(portfolio, snapshot, outlook_table=outlook_table)
        if features.empty:
            continue
        horizon_end = pd.Timestamp(snapshot + timedelta(days=horizon_days))
        settled = settled_on.reindex(features.index).to_numpy()
        labels.append(~(settled <= horizon_end.to_datetime64()))
        frames.append(features)
        dates.append(pd.Timestamp(snapshot))
    if not frames:
        logger.warning(
            "no overdue invoices on any of the %d snapshot dates before %s", snapshots, as_of
        )
        frames, labels, dates = [build_features(portfolio, as_of).iloc[:0]], [np.zeros(0)], []

    X = pd.concat(frames, keys=dates or [pd.Timestamp(as_of)], names=["snapshot", "invoice_id"])
    index = X.index
    y = pd.Series(np.concatenate(labels).astype(np.int64), index=index, name="unpaid")
    snapshot_dates = pd.Series(
        index.get_level_values("snapshot").astype("datetime64[ns]"), index=index, name="snapshot"
    )
    logger.info("training set: %d rows from %d snapshots", len(X), len(dates))
    return TrainingSet(X=X, y=y, snapshot=snapshot_dates)


def _settlement_dates(portfolio: Portfolio, cutoff: pd.Timestamp) -> pd.Series:
    """Day each invoice became fully paid, counting payments dated on or before ``cutoff``.

    Indexed by ``invoice_id``; invoices not fully paid by ``cutoff`` are absent. The
    comparison is exact, in integer minor units.
    """
    payments = portfolio.payments.loc[portfolio.payments["payment_date"] <= cutoff]
    invoices = portfolio.invoices
    invoice_ids = pd.Index(invoices["invoice_id"])
    pos = invoice_ids.get_indexer(payments["invoice_id"])
    known = pos >= 0
    paid = pd.DataFrame(
        {
            "pos": pos[known],
            "date": payments["payment_date"].to_numpy()[known],
            "minor": to_minor_array(
                payments["amount"].to_numpy()[known],
                payments["currency"].to_numpy()[known].tolist(),
            ),
        }
    ).sort_values(["pos", "date"], kind="stable")
    cumulative = paid.groupby("pos")["minor"].cumsum().to_numpy()
    amount = to_minor_array(invoices["amount"], invoices["currency"].tolist())
    covered = paid.loc[cumulative >= amount[paid["pos"].to_numpy()]]
    first = covered.groupby("pos")["date"].min()
    return pd.Series(first.to_numpy(), index=invoice_ids[first.index.to_numpy()], name="settled_on")
