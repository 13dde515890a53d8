"""Importing our packages changes no global state."""

from __future__ import annotations

import json
import subprocess
import sys

MODULES = [
    "dunning",
    "dunning.errors",
    "dunning.money",
    "dunning.models",
    "dunning.calendar",
    "dunning.communication",
    "dunning.policy",
    "dunning.ledger",
    "dunning.io",
    "dunning.datasets",
    "dunning.interest",
    "dunning.levels",
    "dunning.offers",
    "dunning.accounts",
    "dunning.proposal",
    "dunning.workflow",
    "dunning.whatif",
    "dunning.letters",
    "dunning.messages",
    "dunning._pdfua",
    "dunning._files",
    "dunning.store",
    "dunning.cluster",
    "dunning.pipeline",
    "dunning.cli",
    "scoring",
    "scoring.anomaly",
    "scoring.calibration",
    "scoring.clv",
    "scoring.drift",
    "scoring.features",
    "scoring.metrics",
    "scoring.model_card",
    "scoring.training",
    "scoring.risk",
    "explain",
    "explain.attributions",
    "explain.reasons",
    "explain.fairness",
    "explain.counterfactual",
    "explain.report",
]

# Third-party libraries may change global state when imported (scikit-learn sets KMP_*
# environment variables, pandas and numba add warning filters). They are imported first, so
# the probe measures only what our own modules do.
THIRD_PARTY = [
    "babel", "holidays", "jinja2", "lightgbm", "numba", "numpy", "pandas", "pyarrow",
    "pydantic", "rich", "schwifty", "scipy", "segno", "shap", "sklearn", "sqlalchemy",
    "typer", "weasyprint",
]  # fmt: skip

PROBE = """
import json, logging, os, sys, warnings, importlib
for name in sys.argv[1].split(","):
    importlib.import_module(name)
import pandas as pd
import numpy as np
before = (dict(os.environ), list(warnings.filters), str(pd.options.display.max_rows),
          str(pd.options.mode.copy_on_write), np.random.get_state()[1][:4].tolist(),
          len(logging.getLogger().handlers))
for name in sys.argv[2:]:
    importlib.import_module(name)
after = (dict(os.environ), list(warnings.filters), str(pd.options.display.max_rows),
         str(pd.options.mode.copy_on_write), np.random.get_state()[1][:4].tolist(),
         len(logging.getLogger().handlers))
print(json.dumps([before[i] == after[i] for i in range(len(before))]))
"""


def test_imports_have_no_side_effects() -> None:
    """Importing every module leaves environment, warnings, pandas options, RNG, logging alone."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(THIRD_PARTY), *MODULES],
        capture_output=True,
        text=True,
        check=True,
    )
    unchanged = json.loads(done.stdout.strip().splitlines()[-1])
    labels = ["os.environ", "warnings.filters", "pd display", "pd cow", "numpy RNG", "root log"]
    assert dict(zip(labels, unchanged, strict=True)) == dict.fromkeys(labels, True)
