"""The whole run end to end: files, PDFs, CSV, SQLite, determinism, AR sample, CLI."""

from __future__ import annotations

import csv
import logging
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pypdf
import pytest
from typer.testing import CliRunner

from dunning.cli import app
from dunning.datasets import make_portfolio
from dunning.pipeline import DECISIONS_CSV_COLUMNS, RunResult, run
from dunning.store import DecisionStore, sqlite_url

AS_OF = date(2026, 11, 23)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AR_FILE = DATA / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    out = tmp_path_factory.mktemp("run")
    return run(make_portfolio(300, seed=3, as_of=AS_OF), as_of=AS_OF, out=out)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_writes_the_output_layout(demo_run: RunResult) -> None:
    """letters/, reports/run_summary.html, decisions.csv and dunning.sqlite all exist."""
    out = demo_run.paths["out"]
    assert (out / "letters").is_dir()
    assert (out / "reports" / "run_summary.html").is_file()
    assert (out / "decisions.csv").is_file()
    assert (out / "dunning.sqlite").is_file()
    assert len(demo_run.cases) > 0
    names = sorted(p.name for p in (out / "letters").iterdir())
    expected = sorted(f"{c}.{f}" for c in demo_run.cases["case_id"] for f in ("html", "pdf"))
    assert names == expected
    model_files = sorted(p.name for p in (out / "model").iterdir())
    assert model_files == ["calibrator.json", "metadata.json", "model.txt"]
    assert (out / "reports" / "model_card.html").is_file()
    assert (out / "review_queue.csv").is_file()
    emails = sorted(p.name for p in (out / "messages").glob("*.eml"))
    with_address = demo_run.cases.loc[demo_run.cases["email"].fillna("").str.contains("@")]
    assert emails == sorted(f"{c}.eml" for c in with_address["case_id"])
    sms = pd.read_csv(out / "messages" / "sms.csv")
    assert sorted(sms["case_id"]) == sorted(demo_run.cases["case_id"])
    routed = demo_run.cases.loc[demo_run.cases["needs_review"], "case_id"]
    reports = sorted(p.name for p in (out / "reports" / "cases").iterdir())
    assert reports == sorted(f"case-{c}.html" for c in routed)
    assert (out / "reports" / "portfolio.html").is_file()
    # letters + model bundle + model card + decisions.csv, review queue, run report, store,
    # e-mails + sms.csv, case reports + portfolio report
    assert demo_run.counts["files_written"] == (
        len(expected) + len(model_files) + 1 + 4 + len(emails) + 1 + len(reports) + 1
    )


def test_run_leaves_an_intact_audit_chain(demo_run: RunResult) -> None:
    """run_started, one case_proposed per case, letter_issued per issued row, run_finished."""
    with DecisionStore(sqlite_url(demo_run.paths["store"])) as store:
        check = store.verify_audit()
        events = store.audit_events(run_id=demo_run.run_id)
        issued = store.issued()
    assert check.ok, check.reason
    kinds = events["kind"].tolist()
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("case_proposed") == len(demo_run.cases)
    # letter_issued events carry no run id: count them over the whole (fresh) store.
    with DecisionStore(sqlite_url(demo_run.paths["store"])) as store:
        all_events = store.audit_events()
    assert len(issued) > 0
    assert issued["case_id"].nunique() == demo_run.counts["issued_cases"]
    assert (all_events["kind"] == "letter_issued").sum() == len(issued)
    assert check.events == len(all_events)
    assert demo_run.drift is not None
    assert set(demo_run.drift.columns) >= {"feature", "psi", "status"}
    assert demo_run.counts["cases"] == len(demo_run.cases)
    assert sum(demo_run.counts[f"level_{lv}"] for lv in range(1, 5)) == len(demo_run.cases)


def test_every_pdf_parses_and_shows_its_total(demo_run: RunResult) -> None:
    """Each PDF opens with pypdf and shows its case id and its invoice numbers."""
    pdfs = demo_run.manifest.loc[demo_run.manifest["format"] == "pdf"]
    decisions = demo_run.decisions
    for row in pdfs.itertuples():
        reader = pypdf.PdfReader(row.path)
        assert len(reader.pages) == row.pages
        text = "".join(page.extract_text() for page in reader.pages)
        assert row.case_id in text
        for invoice_id in decisions.loc[decisions["case_id"] == row.case_id, "invoice_id"]:
            assert invoice_id in text


def test_decisions_csv_has_one_row_per_decision(demo_run: RunResult) -> None:
    """decisions.csv: documented columns, one row per decision, exact amounts as text."""
    rows = _read_csv(demo_run.paths["decisions_csv"])
    assert len(rows) == len(demo_run.decisions)
    assert list(rows[0]) == list(DECISIONS_CSV_COLUMNS)
    assert [r["invoice_id"] for r in rows] == demo_run.decisions["invoice_id"].tolist()
    assert [Decimal(r["open_amount"]) for r in rows] == demo_run.decisions["open_amount"].tolist()
    assert all(r["as_of"] == "2026-11-23" for r in rows)
    with_case = [r for r in rows if r["case_id"]]
    assert {r["case_id"] for r in with_case} == set(demo_run.cases["case_id"])
    assert all(re.fullmatch(r"\d\.\d{6}", r["risk"]) for r in rows)
    explained = [r for r in rows if r["reason_codes"]]
    assert explained, "no decision carries reasons"
    for r in explained:
        n = len(r["reason_codes"].split("|"))
        assert all(r[f"reason_{i}"] for i in range(1, n + 1))
        assert r["reason_lang"] in {"de", "en"}


def test_sqlite_round_trip_equals_the_decisions(demo_run: RunResult) -> None:
    """The store returns the run's decisions with identical ids, levels and Decimals."""
    with DecisionStore(sqlite_url(demo_run.paths["store"])) as store:
        stored = store.decisions(demo_run.run_id)
        letters = store.letters(demo_run.run_id)
        runs = store.runs()
    mine = demo_run.decisions.sort_values("invoice_id").reset_index(drop=True)
    assert stored["invoice_id"].tolist() == mine["invoice_id"].tolist()
    assert stored["open_amount"].tolist() == mine["open_amount"].tolist()
    assert stored["level"].tolist() == mine["level"].tolist()
    assert stored["risk"].tolist() == mine["risk"].tolist()
    assert stored["offer"].tolist() == mine["offer"].tolist()
    assert stored["reasons"].tolist() == mine["reason_codes"].tolist()
    assert stored["case_id"].fillna("").tolist() == mine["case_id"].fillna("").tolist()
    # The documents of the issued cases (no review needed) are recorded, with their sha256;
    # the drafts of the cases waiting for a clerk are not.
    issued = set(demo_run.cases.loc[~demo_run.cases["needs_review"], "case_id"])
    sent = demo_run.manifest.loc[demo_run.manifest["case_id"].isin(issued)]
    assert sorted(zip(letters["case_id"], letters["format"], letters["sha256"], strict=True)) == (
        sorted(zip(sent["case_id"], sent["format"], sent["sha256"], strict=True))
    )
    assert set(letters["format"]) == {"html", "pdf", "eml"}
    assert runs.loc[runs["run_id"] == demo_run.run_id, "n_cases"].item() == len(demo_run.cases)


def test_report_is_accessible_html(demo_run: RunResult) -> None:
    """The run report has lang, a title, headings and column headers."""
    html = demo_run.paths["run_summary"].read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "<title>Dunning run 2026-11-23</title>" in html
    assert "<h1>" in html and "<h2>Letters by level</h2>" in html
    assert '<th scope="col">Cases</th>' in html
    assert "Data quality" in html


def test_summary_names_cases_levels_offers_files(demo_run: RunResult) -> None:
    """The summary states cases, letters by level, offers and files written."""
    text = demo_run.summary()
    assert f"{len(demo_run.cases)} cases" in text
    assert "payment reminder" in text and "final notice" in text
    assert "Offers: installment plan" in text
    assert f"Files written: {demo_run.counts['files_written']}" in text


def test_two_runs_write_identical_decisions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Same portfolio, same seed: byte-identical decisions.csv; stages logged on progress."""
    portfolio = make_portfolio(120, seed=5, as_of=AS_OF)
    with caplog.at_level(logging.INFO, logger="dunning.progress"):
        first = run(portfolio, as_of=AS_OF, out=tmp_path / "a", formats=("html",))
    second = run(portfolio, as_of=AS_OF, out=tmp_path / "b", formats=("html",))
    a = (tmp_path / "a" / "decisions.csv").read_bytes()
    b = (tmp_path / "b" / "decisions.csv").read_bytes()
    assert a == b
    assert first.manifest["sha256"].tolist() == second.manifest["sha256"].tolist()
    messages = [r.getMessage() for r in caplog.records if r.name == "dunning.progress"]
    assert any(m.startswith("train risk model done") for m in messages)
    assert any(m.startswith("record the proposal done") for m in messages)
    assert any(m.startswith("render and issue") for m in messages)
    assert first.run_id == second.run_id  # same inputs, same run


def test_ar_sample_end_to_end(tmp_path: Path) -> None:
    """The IBM accounts-receivable sample runs end to end (English letters in USD)."""
    if not AR_FILE.is_file():
        pytest.skip(f"public data not found at {AR_FILE} (../shared/data beside the repo)")
    from dunning.datasets.ar_sample import load_ar_sample

    as_of = date(2013, 6, 30)
    loaded = load_ar_sample(AR_FILE, as_of=as_of)
    result = run(loaded.portfolio, as_of=as_of, out=tmp_path, quality=loaded.quality)
    assert len(result.cases) > 0
    assert set(result.cases["currency"]) == {"USD"}
    assert set(result.cases["language"]) == {"en"}
    rows = _read_csv(tmp_path / "decisions.csv")
    assert len(rows) == len(result.decisions)
    first_pdf = result.manifest.loc[result.manifest["format"] == "pdf", "path"].iloc[0]
    assert "US$" in pypdf.PdfReader(first_pdf).pages[0].extract_text()
    report = (tmp_path / "reports" / "run_summary.html").read_text(encoding="utf-8")
    assert "Data-quality summary from loading" in report


def test_cli_demo_prints_summary(tmp_path: Path) -> None:
    """`dunning demo` runs and prints cases, levels, offers and files written."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["demo", "--out", str(out), "--customers", "40", "--seed", "2", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    for words in ["cases (letters)", "level 1: payment reminder", "installment plan",
                  "files written"]:  # fmt: skip
        assert words in result.output
    assert (out / "decisions.csv").is_file()
    assert pd.read_csv(out / "decisions.csv").shape[0] > 0


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    """A bad date and an unwritable output folder exit with 2 and no traceback."""
    runner = CliRunner()
    bad_date = runner.invoke(app, ["demo", "--as-of", "23.11.2026"])
    assert bad_date.exit_code == 2
    assert "YYYY-MM-DD" in bad_date.output
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    blocked = runner.invoke(app, ["demo", "--out", str(blocker), "--customers", "5", "-q"])
    assert blocked.exit_code == 2
    assert "Traceback" not in blocked.output
    assert "dunning demo: error:" in blocked.output


def test_run_reports_review_share_and_charges(demo_run: RunResult) -> None:
    """counts["needs_review"] counts routed cases; decisions.csv sums to each case's amount_due."""
    cases = demo_run.cases
    assert demo_run.counts["needs_review"] == int(cases["needs_review"].sum())
    assert set(cases.loc[cases["needs_review"], "review_reason"]) - {""}
    assert (cases.loc[~cases["needs_review"], "review_reason"] == "").all()
    rows = _read_csv(demo_run.paths["decisions_csv"])
    by_case: dict[str, Decimal] = {}
    for r in rows:
        if r["case_id"]:
            by_case[r["case_id"]] = by_case.get(r["case_id"], Decimal(0)) + Decimal(
                r["claim_total"]
            )
    assert by_case == dict(zip(cases["case_id"], cases["amount_due"], strict=True))
    for case in cases.itertuples():
        assert case.amount_due == (
            case.total
            + case.case_fees
            + case.case_interest
            + case.case_flat_fees
            + case.case_earlier_fees
        )


def test_missing_data_routes_as_a_data_gap_not_as_an_anomaly() -> None:
    """DATA_MISSING is dropped from the anomaly codes that route a case as ANOMALY."""
    from dunning.pipeline import _routed_anomalies

    flags = pd.Series(
        ["DATA_MISSING", "AMOUNT_UNUSUAL|DATA_MISSING", "DATA_MISSING|BEHAVIOUR_CHANGE", ""],
        dtype="str",
    )
    routed = _routed_anomalies(flags)
    assert routed is not None
    assert routed.tolist() == ["", "AMOUNT_UNUSUAL", "BEHAVIOUR_CHANGE", ""]
