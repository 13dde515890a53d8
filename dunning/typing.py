"""Type aliases shared by the public API.

Examples
--------
>>> from dunning.typing import Lang
>>> from typing import get_args
>>> get_args(Lang)
('de', 'en')
"""

from __future__ import annotations

import os
from typing import Literal, TypeAlias

import pandas as pd

__all__ = ["Lang", "Segment", "TableSource"]

#: A table given to :func:`dunning.load_portfolio`: a CSV or Parquet path, or a DataFrame.
TableSource: TypeAlias = str | os.PathLike[str] | pd.DataFrame
#: Letter and reason language.
Lang: TypeAlias = Literal["de", "en"]
#: Customer segment: consumers (``B2C``) or businesses (``B2B``).
Segment: TypeAlias = Literal["B2C", "B2B"]
