"""The on-disk format of a risk-model bundle: canonical JSON, hashes, reference bins.

A bundle is a folder with three files (:data:`BUNDLE_FILES`): ``model.txt`` (LightGBM's
own text format), ``calibrator.json`` and ``metadata.json``. Nothing is pickled. This
module holds what the format needs besides the model itself:

* :func:`dumps` writes canonical JSON (sorted keys, two-space indent, UTF-8, no NaN), so
  the same content always gives the same bytes;
* :func:`version_id` is the sha256 of the three files, with ``created_at`` and
  ``version_id`` left out of ``metadata.json``: retraining on the same data with the same
  libraries gives the same id, whenever it happens;
* :func:`data_hash` fingerprints the training data (values, index, column names, dtypes)
  without keeping it.

Examples
--------
>>> dumps({"b": 1, "a": [0.5, None]})
'{\\n  "a": [\\n    0.5,\\n    null\\n  ],\\n  "b": 1\\n}\\n'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dunning.errors import ModelError

#: Files of a bundle, in the order they are hashed.
BUNDLE_FILES: tuple[str, ...] = ("calibrator.json", "metadata.json", "model.txt")
#: ``metadata.json`` fields that do not count towards the version id.
UNHASHED_FIELDS: frozenset[str] = frozenset({"created_at", "version_id"})
#: Identifies the format in ``metadata.json``; the version changes when a field changes.
FORMAT = "dunning-risk-model"
FORMAT_VERSION = 1
#: Distributions whose versions the metadata records.
LIBRARIES: tuple[str, ...] = ("dunning", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers, tuples as lists and NaN as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    """Canonical JSON text of ``value`` (sorted keys, indent 2, final newline)."""
    return json.dumps(jsonable(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def version_id(files: Mapping[str, bytes]) -> str:
    """sha256 over the bundle files, without the unhashed ``metadata.json`` fields."""
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        content = files[name]
        if name == "metadata.json":
            metadata = json.loads(content)
            hashed = {k: v for k, v in metadata.items() if k not in UNHASHED_FIELDS}
            content = dumps(hashed).encode()
        digest.update(name.encode() + b"\0" + str(len(content)).encode() + b"\0" + content)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a model's predictions."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def data_hash(X: Any, y: Any, snapshot: Any = None) -> str:
    """sha256 of the training data: values, index, column names and dtypes, labels."""
    digest = hashlib.sha256()
    if isinstance(X, pd.DataFrame):
        header = "\x1f".join(f"{c}:{X[c].dtype}" for c in X.columns)
        digest.update(b"frame\0" + header.encode() + b"\0")
        if len(X):
            digest.update(pd.util.hash_pandas_object(X, index=True).to_numpy(np.uint64).tobytes())
    else:
        array = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        digest.update(b"array\0" + str(array.shape).encode() + b"\0" + array.tobytes())
    labels = pd.Series(np.asarray(y))
    digest.update(b"\0labels\0")
    if len(labels):
        digest.update(pd.util.hash_pandas_object(labels, index=False).to_numpy(np.uint64).tobytes())
    if snapshot is not None:
        dates = pd.Series(np.asarray(snapshot, dtype="datetime64[ns]"))
        digest.update(b"\0snapshots\0")
        if len(dates):
            digest.update(
                pd.util.hash_pandas_object(dates, index=False).to_numpy(np.uint64).tobytes()
            )
    return digest.hexdigest()


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write each file atomically (temporary file, then rename) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = folder / name
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_files(folder: Path) -> dict[str, bytes]:
    """The bundle files of ``folder``; a missing one raises :class:`ModelError`."""
    files: dict[str, bytes] = {}
    for name in BUNDLE_FILES:
        path = folder / name
        if not path.is_file():
            msg = (
                f"{path} is missing: a risk-model bundle holds {', '.join(BUNDLE_FILES)}. "
                "Point to the folder written by RiskModel.save()."
            )
            raise ModelError(msg)
        files[name] = path.read_bytes()
    return files
