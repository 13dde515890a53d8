"""`dunning propose [--compare]` on CSV files, and the demo's fresh store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dunning.cli import app
from dunning.datasets import make_portfolio
from dunning.io import load_portfolio
from dunning.pipeline import score_portfolio
from dunning.policy import Policy
from dunning.whatif import compare
from dunning.workflow import propose

AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    p = make_portfolio(120, seed=5, as_of=AS_OF)
    for name, table in p.tables().items():
        if name != "truth" and len(table.columns):
            table.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    return folder


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The German default with € 2.00 for the first and second reminder (B2C)."""
    text = Policy.default_text("DE").replace('name = "Standard Deutschland"', 'name = "Kulanz"')
    text = text.replace("fee_b2c = 1.00", "fee_b2c = 2.00")
    path = tmp_path_factory.mktemp("policy") / "kulanz.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_propose_compare_writes_what_the_api_computes(
    data: Path, variant: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["propose", "--data", str(data), "--compare", str(variant), "--out", str(out), "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "What-if Standard Deutschland → Kulanz" in result.output

    loaded = load_portfolio(
        *(data / f"{n}.csv" for n in ("customers", "invoices", "payments", "history", "promises")),
        as_of=AS_OF,
    )
    scores = score_portfolio(loaded.portfolio, AS_OF)
    a = propose(loaded.portfolio, scores, Policy.default("DE"), AS_OF)
    b = propose(loaded.portfolio, scores, Policy.from_file(variant), AS_OF)
    expected = compare(a, b).totals.reset_index()
    written = pd.read_csv(out / "compare_totals.csv", dtype=str, keep_default_na=False)
    eur = written.loc[written.iloc[:, 0] == "EUR"].iloc[0]
    want = expected.loc[expected.iloc[:, 0] == "EUR"].iloc[0]
    for column in ("fees_a", "fees_b", "fees_diff", "amount_due_diff"):
        assert Decimal(eur[column]) == want[column]
    # Every € 1.00 consumer fee of the default is € 2.00 under the variant.
    d = a.decisions
    charged = d.loc[d["case_id"].notna() & (d["fee"] == Decimal("1.00"))]
    assert len(charged) > 0
    assert Decimal(eur["fees_diff"]) == Decimal(len(charged)) * Decimal("1.00")
    cases = pd.read_csv(out / "compare_cases.csv", dtype=str, keep_default_na=False)
    assert set(cases["change"]) <= {"new_letter", "no_letter", "changed", "same"}
    assert (out / "proposal_cases.csv").is_file()


def test_propose_with_unknown_policy_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["propose", "--policy", str(tmp_path / "nope.toml"), "--customers", "5", "-q"]
    )
    assert result.exit_code == 2
    assert "neither DE, GB nor a policy file" in result.output
    assert "Traceback" not in result.output


def test_demo_twice_proposes_the_same_letters(tmp_path: Path) -> None:
    """The demo recreates its store: a second demo run is not an idempotent re-run."""
    out = tmp_path / "out"
    args = ["demo", "--out", str(out), "--customers", "40", "--seed", "2", "--quiet"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    before = pd.read_csv(out / "decisions.csv")
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    after = pd.read_csv(out / "decisions.csv")
    pd.testing.assert_frame_equal(before, after)
