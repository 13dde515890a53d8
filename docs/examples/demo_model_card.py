"""Write docs/model-card-demo.md: the model card of the demo portfolio's risk model.

Run from the repository root: ``.venv/bin/python docs/examples/demo_model_card.py``.
It trains exactly as ``dunning demo`` does (2,000 customers, seed 7, as of 2026-11-23).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

from dunning.datasets import make_portfolio
from scoring.model_card import model_card
from scoring.risk import RiskModel
from scoring.training import build_training_set

AS_OF = date(2026, 11, 23)


def main() -> None:
    portfolio = make_portfolio(2000, seed=7, as_of=AS_OF)
    training = build_training_set(portfolio, AS_OF)
    model = RiskModel(n_estimators=1000, random_state=0, n_jobs=1).fit_time_aware(
        training,
        validation_snapshots=2,
        calibration="isotonic",
        source="dunning.datasets.make_portfolio(2000, seed=7, as_of=2026-11-23)",
    )
    with tempfile.TemporaryDirectory() as folder:
        bundle = model.save(Path(folder) / "model", created_at=AS_OF)
        card = model_card(bundle, format="markdown")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/model-card-demo.md")
    target.write_text(card, encoding="utf-8")


if __name__ == "__main__":
    main()
