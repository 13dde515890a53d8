"""The ``dunning`` command line end to end: exit codes, errors, review → issue, audit.

One small demo (300 customers, HTML letters only) is run once per module; tests that
change the store work on a copy of its output folder.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from dunning.cli import app
from dunning.datasets import make_portfolio
from dunning.store import DecisionStore, sqlite_url

AS_OF = date(2026, 11, 23)
DEMO = ["--customers", "300", "--seed", "3"]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "out"
    result = _invoke("demo", "--out", str(out), *DEMO, "--formats", "html", "--workers", "1",
                     "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def out(demo_out: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's output folder (store, model, letters)."""
    copy = tmp_path / "out"
    shutil.copytree(demo_out, copy)
    return copy


def _pending(out: Path) -> list[str]:
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        cases = store.cases()
        issued = set(store.issued()["case_id"])
    routed = cases.loc[cases["needs_review"] & ~cases["case_id"].isin(issued), "case_id"]
    return sorted(routed)


def _issued_cases(out: Path) -> set[str]:
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        return set(store.issued()["case_id"])


def test_demo_prints_where_everything_is_and_what_next(demo_out: Path) -> None:
    assert (demo_out / "model" / "metadata.json").is_file()
    assert (demo_out / "review_queue.csv").is_file()
    issued = _issued_cases(demo_out)
    with DecisionStore(sqlite_url(demo_out / "dunning.sqlite")) as store:
        cases = store.cases()
    auto = set(cases.loc[~cases["needs_review"], "case_id"])
    assert auto and auto == issued  # what needs no review was issued, nothing else
    assert not (set(cases.loc[cases["needs_review"], "case_id"]) & issued)


def test_every_help_has_an_example() -> None:
    commands = [["demo"], ["train"], ["propose"], ["issue"], ["explain"], ["report"],
                ["verify-audit"], ["review"], ["review", "list"], ["review", "show"],
                ["review", "approve"], ["review", "change"], ["review", "hold"],
                ["review", "escalate"]]  # fmt: skip
    for command in commands:
        result = _invoke(*command, "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "Example: dunning " + command[0] in result.output, command


def test_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    unknown = _invoke("review", "approve", "C1", "--clerk", "k")  # --reason missing
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("dunning review approve: error:")
    assert len(unknown.stderr.strip().splitlines()) == 1
    bad_option = _invoke("issue", "--no-such-option")
    assert bad_option.exit_code == 2
    assert "dunning issue: error: No such option" in bad_option.stderr
    no_store = _invoke("review", "list", "--out", str(tmp_path / "nowhere"))
    assert no_store.exit_code == 2
    assert "no decision store at" in no_store.stderr
    assert not (tmp_path / "nowhere").exists()  # nothing created


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    args = ["propose", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    plain = _invoke(*args)
    assert plain.exit_code == 2
    assert "Traceback" not in plain.output
    assert plain.stderr.strip().splitlines() == [
        f"dunning propose: error: --data {tmp_path}: missing customers.csv, invoices.csv, "
        "payments.csv."
    ]
    debug = _invoke(*args, "--debug")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("dunning propose: error:")


def test_unknown_case_is_exit_2(out: Path) -> None:
    for command in (["review", "show"], ["review", "approve"], ["explain"]):
        extra = ["--clerk", "k-1", "--reason", "r"] if command[-1] == "approve" else []
        result = _invoke(*command, "C-NOPE", "--out", str(out), *extra)
        assert result.exit_code == 2, (command, result.output)
        assert "unknown case 'C-NOPE'" in result.stderr
        assert "Traceback" not in result.output


def test_review_list_show_and_store_as_path_or_url(out: Path) -> None:
    pending = _pending(out)
    assert pending
    by_path = _invoke("review", "list", "--store", str(out / "dunning.sqlite"))
    by_url = _invoke("review", "list", "--store", sqlite_url(out / "dunning.sqlite"))
    by_out = _invoke("review", "list", "--out", str(out))
    assert by_path.exit_code == by_url.exit_code == by_out.exit_code == 0, by_path.output
    assert by_path.stdout == by_url.stdout == by_out.stdout
    for case in pending:
        assert case in by_out.stdout
    assert f"{len(pending)} pending" in by_out.stdout
    shown = _invoke("review", "show", pending[0], "--out", str(out))
    assert shown.exit_code == 0, shown.output
    assert "Rule trace:" in shown.stdout
    assert "Not issued." in shown.stdout


def test_approve_then_issue_issues_that_case_and_hold_keeps_one_out(out: Path) -> None:
    approved, held, *_ = _pending(out)
    ok = _invoke("review", "approve", approved, "--clerk", "clerk-7", "--reason",
                 "checked the file", "--out", str(out))  # fmt: skip
    assert ok.exit_code == 0, ok.output
    hold = _invoke("review", "hold", held, "--until", "2026-12-04", "--clerk", "clerk-7",
                   "--reason", "customer pays Friday", "--out", str(out))  # fmt: skip
    assert hold.exit_code == 0, hold.output
    listed = _invoke("review", "list", "--out", str(out))
    assert "approved" in listed.stdout
    assert "held until 2026-12-04" in listed.stdout
    before = _issued_cases(out)
    issued = _invoke("issue", "--out", str(out), *DEMO, "--formats", "html", "-q")
    assert issued.exit_code == 0, issued.output
    now = _issued_cases(out)
    assert approved in now and approved not in before
    assert held not in now
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        rows = store.issued()
    assert set(rows.loc[rows["case_id"] == approved, "approved_by"]) == {"clerk-7"}
    again = _invoke("review", "approve", approved, "--clerk", "clerk-7", "--reason", "x",
                    "--out", str(out))  # fmt: skip
    assert again.exit_code == 2
    assert "already issued" in again.stderr


def test_verify_audit_exit_codes_export_and_tampering(out: Path, tmp_path: Path) -> None:
    export = tmp_path / "audit.jsonl"
    intact = _invoke("verify-audit", "--out", str(out), "--export", str(export))
    assert intact.exit_code == 0, intact.output
    assert "Audit trail intact" in intact.stdout
    from_file = _invoke("verify-audit", "--file", str(export))
    assert from_file.exit_code == 0, from_file.output

    lines = export.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[2])
    record["payload"] = record["payload"].replace("}", ',"x":1}', 1)
    lines[2] = json.dumps(record)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken_file = _invoke("verify-audit", "--file", str(export))
    assert broken_file.exit_code == 1
    assert "first broken link at event 3" in broken_file.stdout

    with sqlite3.connect(out / "dunning.sqlite") as db:
        db.execute("UPDATE audit_events SET payload = '{\"forged\":true}' WHERE seq = 5")
    broken = _invoke("verify-audit", "--store", sqlite_url(out / "dunning.sqlite"))
    assert broken.exit_code == 1
    assert "BROKEN" in broken.stdout
    assert "first broken link at event 5" in broken.stdout
    report = _invoke("report", "--out", str(out))
    assert report.exit_code == 1  # the report shows the broken chain


def test_report_writes_the_store_report(out: Path) -> None:
    pending = _pending(out)
    _invoke("review", "approve", pending[0], "--clerk", "clerk-9", "--reason", "ok",
            "--out", str(out))  # fmt: skip
    result = _invoke("report", "--out", str(out))
    assert result.exit_code == 0, result.output
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        run_id = store.latest_run_id()
        letters = store.letters(str(run_id))
        issued = set(store.issued()["case_id"])
    html = (out / "reports" / f"store_report_{run_id}.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "clerk-9" in html
    assert "Intact." in html
    shown = letters.loc[letters["case_id"].isin(issued), "sha256"]
    assert all(sha in html for sha in shown)
    assert ("No letters of this run were issued." in html) == shown.empty


def test_explain_tells_the_story(out: Path) -> None:
    case = _pending(out)[0]
    result = _invoke("explain", case, "--out", str(out), *DEMO, "--lang", "en", "-q")
    assert result.exit_code == 0, result.output
    assert "Rule trace:" in result.stdout
    assert "Reasons raising the risk:" in result.stdout
    german = _invoke("explain", case, "--out", str(out), *DEMO, "--lang", "de", "-q")
    assert german.exit_code == 0, german.output
    bad = _invoke("explain", case, "--out", str(out), "--lang", "fr")
    assert bad.exit_code == 2


def test_propose_with_mapping_records_and_rejects_exit_1(demo_out: Path, tmp_path: Path) -> None:
    """Renamed columns through --mapping, one bad invoice row: recorded, exit 1 (partial)."""
    data = tmp_path / "data"
    data.mkdir()
    p = make_portfolio(60, seed=5, as_of=AS_OF)
    renames = {"customer_id": "Kundennummer", "invoice_id": "Rechnungsnummer"}
    for name, table in p.tables().items():
        if name != "truth" and len(table.columns):
            frame = table.rename(columns=renames)
            if name == "invoices":
                bad = frame.iloc[[0]].assign(Rechnungsnummer="BAD-1", amount="-5.00")
                frame = pd.concat([frame, bad], ignore_index=True)
            frame.to_csv(data / f"{name}.csv", index=False, date_format="%Y-%m-%d", sep=";")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('Kundennummer = "customer_id"\nRechnungsnummer = "invoice_id"\n')
    out = tmp_path / "out"
    shutil.copytree(demo_out / "model", out / "model")  # no training: the demo's model
    result = _invoke("propose", "--data", str(data), "--mapping", str(mapping), "--sep", ";",
                     "--out", str(out), "--formats", "html", "-q")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "input rows rejected" in result.stdout
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        cases = store.cases()
        assert len(cases) > 0
        assert store.issued().empty  # propose issues nothing
    no_mapping = _invoke("propose", "--data", str(data), "--sep", ";", "--out", str(out), "-q")
    assert no_mapping.exit_code == 2
    assert "Kundennummer" in no_mapping.stderr or "customer_id" in no_mapping.stderr


def test_issue_on_dask_equals_the_local_issue(demo_out: Path, tmp_path: Path) -> None:
    """--backend dask (a LocalCluster) issues and writes exactly what the local backend does."""
    runs = {}
    for backend in ("local", "dask"):
        out = tmp_path / backend
        shutil.copytree(demo_out / "model", out / "model")  # the demo's model, no training
        result = _invoke("issue", *DEMO, "--out", str(out), "--formats", "html",
                         "--no-reports", "--backend", backend, "--workers", "2",
                         "-q")  # fmt: skip
        assert result.exit_code == 0, result.output
        with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
            issued = store.issued()[["invoice_id", "level", "case_id", "fee", "interest"]]
            letters = store.letters(store.latest_run_id() or "")
        runs[backend] = (issued, letters[["case_id", "format", "sha256"]])
        assert not (out / "reports" / "portfolio.html").exists()  # --no-reports
    assert len(runs["local"][0]) > 0
    pd.testing.assert_frame_equal(runs["dask"][0], runs["local"][0])
    pd.testing.assert_frame_equal(runs["dask"][1], runs["local"][1])
