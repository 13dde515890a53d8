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
    "dunning.ledger",
    "dunning.io",
    "dunning.datasets",
    "dunning.interest",
    "dunning.levels",
    "dunning.offers",
    "dunning.proposal",
    "dunning.letters",
    "dunning.store",
    "dunning.run",
    "dunning.cli",
    "scoring",
    "scoring.features",
    "scoring.training",
    "scoring.risk",
    "explain",
    "explain.attributions",
    "explain.reasons",
]

PROBE = """
import json, logging, os, sys, warnings
import pandas as pd
import numpy as np
before = (dict(os.environ), list(warnings.filters), str(pd.options.display.max_rows),
          str(pd.options.mode.copy_on_write), np.random.get_state()[1][:4].tolist(),
          len(logging.getLogger().handlers))
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
after = (dict(os.environ), list(warnings.filters), str(pd.options.display.max_rows),
         str(pd.options.mode.copy_on_write), np.random.get_state()[1][:4].tolist(),
         len(logging.getLogger().handlers))
print(json.dumps([before[i] == after[i] for i in range(len(before))]))
"""


def test_imports_have_no_side_effects() -> None:
    """Importing every module leaves environment, warnings, pandas options, RNG, logging alone."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *MODULES], capture_output=True, text=True, check=True
    )
    unchanged = json.loads(done.stdout.strip().splitlines()[-1])
    labels = ["os.environ", "warnings.filters", "pd display", "pd cow", "numpy RNG", "root log"]
    assert dict(zip(labels, unchanged, strict=True)) == dict.fromkeys(labels, True)
