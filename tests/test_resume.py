"""Exactly once under SIGKILL: a run killed anywhere and started again issues every case once.

A real dunning run of about a thousand cases runs as a subprocess; it is killed with
SIGKILL at random moments while it renders and issues letters (ten times, each time started
again with the same inputs), then left to finish. After every kill the store must be
consistent (the audit chain verifies; every issued case has its documents recorded and on
disk with the recorded sha256), and at the end every case that needs no review has exactly
one history entry per invoice and one set of documents. That the same inputs give
byte-identical files is tested in tests/test_run.py. The small runs below check resuming,
the run's identity and the ``payment_received`` events.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dunning.datasets import make_portfolio
from dunning.models import Portfolio
from dunning.pipeline import run, run_id_for, train_model
from dunning.store import DecisionStore, sqlite_url
from scoring.risk import RiskModel

AS_OF = date(2026, 11, 23)
CUSTOMERS = 4500
SEED = 11
KILLS = 10

# The portfolio of the killed runs: the customers of a generated portfolio who have an
# overdue invoice on AS_OF, with 400 days of history, so that nearly every customer is a
# case and a restart spends its time on letters rather than on scoring. The driver the
# subprocess runs builds it the same way every time and uses a saved model; letters are
# HTML (PDFs would only make the test slower) and the reviewer reports are left out. It
# prints a line each time another chunk of letters (ten cases) is written and issued.
PORTFOLIO = """
from datetime import date, timedelta
from dunning.datasets import make_portfolio
from dunning.ledger import open_items
from dunning.models import Portfolio

def overdue_customers(customers, seed, as_of):
    full = make_portfolio(customers, seed=seed, as_of=as_of, start=as_of - timedelta(days=400))
    items = open_items(full, as_of)
    keep = set(items.loc[items["days_overdue"] > 0, "customer_id"])
    invoices = full.invoices.loc[full.invoices["customer_id"].isin(keep)]
    ids = set(invoices["invoice_id"])
    def of_invoices(table):
        return table.loc[table["invoice_id"].isin(ids)].reset_index(drop=True)
    return Portfolio(
        customers=full.customers.loc[full.customers["customer_id"].isin(keep)].reset_index(
            drop=True
        ),
        invoices=invoices.reset_index(drop=True),
        payments=of_invoices(full.payments),
        history=of_invoices(full.history),
        promises=of_invoices(full.promises),
    )

def no_drift_routing():
    # Only customers with an overdue invoice: today's features differ from the training
    # snapshots by construction, which would send every case to review as a drift alarm.
    from dunning.policy import Policy
    policy = Policy.default("DE")
    review = policy.review.model_copy(update={"route_drift_alarm": False})
    return policy.model_copy(update={"review": review})
"""

DRIVER = (
    PORTFOLIO
    + """
import logging, sys
from dunning.pipeline import run

class Mark(logging.Handler):
    def emit(self, record):
        if getattr(record, "stage", "") == "letters" and getattr(record, "done", 0) > 0:
            print("LETTERS", record.done, flush=True)

progress = logging.getLogger("dunning.progress")
progress.setLevel(logging.DEBUG)  # a record after every chunk of letters issued
progress.addHandler(Mark())
out, model, customers, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
as_of = date(2026, 11, 23)
portfolio = overdue_customers(customers, seed, as_of)
result = run(portfolio, as_of=as_of, out=out, model=model, formats=("html",), reports=False,
             policy=no_drift_routing())
print("DONE", result.run_id, result.counts["issued_cases"], flush=True)
"""
)


def _portfolio() -> Portfolio:
    namespace: dict[str, Any] = {}
    exec(PORTFOLIO, namespace)  # the very code the driver runs
    portfolio: Portfolio = namespace["overdue_customers"](CUSTOMERS, SEED, AS_OF)
    return portfolio


def _start(out: Path, model: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", DRIVER, str(out), str(model), str(CUSTOMERS), str(SEED)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_consistent(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store after a kill: intact chain; every issued case has its documents on disk."""
    with DecisionStore(sqlite_url(out / "dunning.sqlite")) as store:
        check = store.verify_audit()
        issued = store.issued()
        run_id = store.latest_run_id()
        letters = store.letters(run_id) if run_id else pd.DataFrame(columns=["case_id"])
        events = store.audit_events(kind="letter_issued")
    assert check.ok, check.reason
    assert not issued.duplicated(["invoice_id", "level"]).any()
    assert len(events) == len(issued)
    assert set(letters["case_id"]) == set(issued["case_id"]), "issued without its documents"
    for row in letters.itertuples():
        assert _sha256(Path(row.path)) == row.sha256, f"{row.path} differs from the store"
    return issued, letters


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    train_model(_portfolio(), AS_OF, out=out)
    return out / "model"


def test_killed_runs_issue_every_case_exactly_once(model_dir: Path, tmp_path: Path) -> None:
    """Ten SIGKILLs at random moments of rendering and committing, then a finishing run."""
    rng = random.Random(20261123)
    partial = before = 0
    for _ in range(KILLS):
        process = _start(tmp_path, model_dir)
        assert process.stdout is not None
        # Wait until this pass has written and issued its first chunk of letters, then kill
        # it somewhere in the next ones: while a letter renders, or while a chunk commits.
        line = process.stdout.readline()
        assert line.startswith("LETTERS"), process.communicate()[1][-2000:]
        time.sleep(rng.uniform(0.0, 1.0))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        issued, _ = _check_consistent(tmp_path)
        with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
            assert store.runs()["finished_at"].isna().all()  # the pass did not finish
        partial += int(issued["case_id"].nunique() > before)
        before = issued["case_id"].nunique()
    assert partial == KILLS, "a pass was killed before it issued anything"

    process = _start(tmp_path, model_dir)
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-2000:]
    _, run_id, _ = stdout.strip().splitlines()[-1].split()
    issued, letters = _check_consistent(tmp_path)
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        cases = store.cases(run_id)
        decisions = store.decisions(run_id)
        kinds = store.audit_events(run_id=run_id)["kind"]
    assert len(cases) >= 900, "about a thousand cases, most of them issued"
    # Every case that needs no review is issued exactly once: one history entry per
    # invoice of the case, one letter and (with an address) one e-mail.
    approved = set(cases.loc[~cases["needs_review"], "case_id"])
    assert set(issued["case_id"]) == approved
    expected = decisions.loc[decisions["case_id"].isin(approved) & (decisions["level"] > 0)]
    assert sorted(zip(issued["invoice_id"], issued["level"], strict=True)) == sorted(
        zip(expected["invoice_id"], expected["level"], strict=True)
    )
    html = letters.loc[letters["format"] == "html", "case_id"]
    assert sorted(html) == sorted(approved)
    assert not letters.duplicated(["case_id", "format"]).any()
    assert sorted(p.stem for p in (tmp_path / "letters").glob("*.html")) == sorted(cases["case_id"])
    # The run and its cases were recorded once, however often it was started.
    assert (kinds == "run_started").sum() == 1
    assert (kinds == "case_proposed").sum() == len(cases)
    assert (kinds == "run_finished").sum() == 1
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        assert store.runs()["finished_at"].notna().all()


# --- small runs: resuming, run identity, payments -------------------------------------------

SMALL = 300


Small = tuple[Portfolio, RiskModel]


@pytest.fixture(scope="module")
def small() -> Small:
    portfolio = make_portfolio(SMALL, seed=3, as_of=AS_OF)
    return portfolio, train_model(portfolio, AS_OF)


def test_the_same_run_again_records_nothing_twice(small: Small, tmp_path: Path) -> None:
    """Same inputs: same run id, no second run_started/case_proposed, nothing issued twice."""
    portfolio, model = small
    first = run(portfolio, as_of=AS_OF, out=tmp_path, model=model, formats=("html",),
                reports=False)  # fmt: skip
    second = run(portfolio, as_of=AS_OF, out=tmp_path, model=model, formats=("html",),
                 reports=False)  # fmt: skip
    assert first.run_id == second.run_id == run_id_for(portfolio, AS_OF)
    assert first.counts["issued_cases"] > 0
    assert second.counts["issued_cases"] == 0
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        kinds = store.audit_events(run_id=first.run_id)["kind"].value_counts()
        runs = store.runs()
        cases = store.cases(first.run_id)
        assert store.verify_audit().ok
    assert kinds["run_started"] == 1
    assert kinds["case_proposed"] == len(first.cases)
    assert kinds["run_finished"] == 2  # one per finished pass
    assert runs["run_id"].tolist() == [first.run_id]
    assert runs["finished_at"].notna().all()
    assert sorted(cases["case_id"]) == sorted(first.cases["case_id"])


def test_a_dry_run_then_issue(small: Small, tmp_path: Path) -> None:
    """issue_letters=False records the proposal only; the same run then issues it."""
    portfolio, model = small
    proposed = run(portfolio, as_of=AS_OF, out=tmp_path, model=model, formats=("html",),
                   reports=False, issue_letters=False)  # fmt: skip
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        assert store.issued().empty
        assert store.letters(proposed.run_id).empty
        assert len(store.cases(proposed.run_id)) == len(proposed.cases)
    issued = run(portfolio, as_of=AS_OF, out=tmp_path, model=model, formats=("html",),
                 reports=False)  # fmt: skip
    ready = proposed.cases.loc[~proposed.cases["needs_review"], "case_id"]
    assert issued.run_id == proposed.run_id
    assert issued.counts["issued_cases"] == len(ready)


def test_payments_on_dunned_invoices_are_audited_once(small: Small, tmp_path: Path) -> None:
    """A payment on an invoice with a letter becomes one payment_received event."""
    portfolio, model = small
    first = run(portfolio, as_of=AS_OF, out=tmp_path, model=model, formats=("html",),
                reports=False)  # fmt: skip
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        dunned = store.issued()
    invoice = dunned.loc[dunned["issued_on"] == pd.Timestamp(AS_OF), "invoice_id"].iloc[0]
    currency = portfolio.invoices.set_index("invoice_id").loc[invoice, "currency"]
    payment = pd.DataFrame(
        {
            "payment_id": ["P-AUDIT-1"],
            "invoice_id": [invoice],
            "payment_date": [pd.Timestamp("2026-11-27")],
            "amount": [Decimal("10.00")],
            "currency": [currency],
        }
    ).astype(portfolio.payments.dtypes.to_dict())
    later = dataclasses.replace(
        portfolio, payments=pd.concat([portfolio.payments, payment], ignore_index=True)
    )
    day = date(2026, 11, 30)
    for _ in range(2):
        again = run(later, as_of=day, out=tmp_path, model=model, formats=("html",),
                    reports=False)  # fmt: skip
    assert again.run_id != first.run_id
    with DecisionStore(sqlite_url(tmp_path / "dunning.sqlite")) as store:
        events = store.audit_events(kind="payment_received")
        assert store.verify_audit().ok
    assert events["subject"].tolist() == ["P-AUDIT-1"]
    assert json.loads(events["payload"].iloc[0]) == {
        "amount": "10.00",
        "currency": currency,
        "invoice_id": invoice,
        "payment_date": "2026-11-27",
    }
