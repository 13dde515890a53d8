"""Exceptions and warnings raised on purpose by ``dunning``, ``scoring`` and ``explain``.

The hierarchy::

    DunningError
     ├── DataError (ValueError)        an input table cannot be used at all (.path, .missing)
     ├── PolicyError (ValueError)      a policy or rule parameter is invalid (.field)
     ├── ModelError                    a model cannot be fitted, loaded or applied
     │    └── FeatureMismatchError (ValueError)  data does not fit the fitted model (.column)
     ├── RenderError (RuntimeError)    a letter or report failed (.template, .case_id)
     └── StoreError (RuntimeError)     the decision store is unavailable or inconsistent (.url)

    DataQualityWarning (UserWarning)   usable data with gaps worth a look

Each error subclasses the builtin it refines, so generic handlers (``except ValueError``)
still catch it. Messages say what went wrong, where, and what to do; structured context
is kept as attributes so that callers (the CLI, the run report) need not parse messages.
Row-level problems in input data are *not* raised: they become reject records
(see :func:`dunning.load_portfolio`).

Examples
--------
>>> from dunning.errors import DataError, DunningError
>>> err = DataError("invoices.csv: required column 'amount' is missing.",
...                 path="invoices.csv", missing=("amount",))
>>> isinstance(err, ValueError) and isinstance(err, DunningError)
True
>>> err.missing
('amount',)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DataError",
    "DataQualityWarning",
    "DunningError",
    "FeatureMismatchError",
    "ModelError",
    "PolicyError",
    "RenderError",
    "StoreError",
]


class DunningError(Exception):
    """Base class of every error raised on purpose by this library."""


class DataError(DunningError, ValueError):
    """An input table cannot be used at all (file missing, unknown format, columns absent).

    Parameters
    ----------
    message : str
        What is wrong, where, and what to do about it.
    path : str or None
        The file (or ``"<DataFrame>"``) that could not be used.
    missing : sequence of str
        Required columns that are absent, after any column mapping.
    """

    def __init__(
        self, message: str, *, path: str | None = None, missing: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.path = path
        self.missing = tuple(missing)


class PolicyError(DunningError, ValueError):
    """A policy or a decision parameter is invalid.

    Parameters
    ----------
    message : str
        What is wrong and which value would be valid.
    field : str or None
        The offending field, e.g. ``"levels[2].fee"``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ModelError(DunningError):
    """A model cannot be fitted, loaded or applied."""


class FeatureMismatchError(ModelError, ValueError):
    """The data given to a fitted model does not match what it was fitted on.

    Parameters
    ----------
    message : str
        What differs, e.g. "column 'segment' was category at fit, is str now".
    column : str or None
        The offending column.
    """

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class RenderError(DunningError, RuntimeError):
    """A letter or report could not be rendered.

    Parameters
    ----------
    message : str
        What failed.
    template : str or None
        The template name.
    case_id : str or None
        The case whose letter failed.
    """

    def __init__(
        self, message: str, *, template: str | None = None, case_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.template = template
        self.case_id = case_id


class StoreError(DunningError, RuntimeError):
    """The decision store is unavailable or inconsistent.

    Parameters
    ----------
    message : str
        What failed.
    url : str or None
        The store URL (without credentials).
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class DataQualityWarning(UserWarning):
    """Input data is usable but has gaps or oddities worth a look."""
