"""Decision store: a real SQLite file round-trip with exact amounts, errors as StoreError."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from dunning.errors import StoreError
from dunning.store import DecisionStore, sqlite_url

AS_OF = date(2026, 11, 23)


def _decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["R-1", "R-2", "R-3"],
            "case_id": pd.Series(["C1", "C1", None], dtype="str"),
            "customer_id": ["K-1", "K-1", "K-2"],
            "level": [2, 0, 0],
            "open_amount": [Decimal("1234.56"), Decimal("0.10"), Decimal("99999999999.99")],
            "currency": ["EUR", "EUR", "JPY"],
            "risk": [0.3412, 0.25, 0.9],
            "offer": ["installment_plan", "installment_plan", "none"],
            "reason_codes": ["LATE_12M|AMOUNT_UNUSUAL", "LATE_12M", ""],
        }
    )


def test_sqlite_file_round_trip_is_exact(tmp_path: Path) -> None:
    """Decisions written to a SQLite file come back with the same Decimals and fields."""
    db = tmp_path / "dunning.sqlite"
    created = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    with DecisionStore(sqlite_url(db)) as store:
        run_id = store.record_run(
            as_of=AS_OF, portfolio_hash="f" * 64, n_cases=1, software_version="0.1.0",
            created_at=created,
        )  # fmt: skip
        assert store.record_decisions(run_id, _decisions()) == 3
    assert db.is_file()

    with DecisionStore(sqlite_url(db)) as store:  # a fresh connection to the same file
        back = store.decisions(run_id)
        runs = store.runs()
    assert back["open_amount"].tolist() == [
        Decimal("1234.56"),
        Decimal("0.10"),
        Decimal("99999999999.99"),
    ]
    assert all(isinstance(a, Decimal) for a in back["open_amount"])
    assert back["invoice_id"].tolist() == ["R-1", "R-2", "R-3"]
    assert back["level"].tolist() == [2, 0, 0]
    assert back["risk"].tolist() == [0.3412, 0.25, 0.9]
    assert back["reasons"].tolist() == ["LATE_12M|AMOUNT_UNUSUAL", "LATE_12M", ""]
    assert back["case_id"].iloc[:2].tolist() == ["C1", "C1"]
    assert pd.isna(back["case_id"].iloc[2])
    assert runs[["run_id", "n_cases", "software_version"]].values.tolist() == [[run_id, 1, "0.1.0"]]
    assert runs.loc[0, "as_of"] == AS_OF


def test_amounts_are_stored_as_text_never_float(tmp_path: Path) -> None:
    """In the file itself open_amount is TEXT holding the exact decimal string."""
    db = tmp_path / "d.sqlite"
    with DecisionStore(sqlite_url(db)) as store:
        run_id = store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=1, run_id="R1")
        store.record_decisions(run_id, _decisions())
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT open_amount, typeof(open_amount) FROM decisions ORDER BY invoice_id"
        ).fetchall()
    assert rows == [("1234.56", "text"), ("0.10", "text"), ("99999999999.99", "text")]


def test_letters_round_trip(tmp_path: Path) -> None:
    """The letter manifest is recorded and read back per run."""
    manifest = pd.DataFrame(
        {
            "case_id": ["C1", "C1"],
            "format": ["html", "pdf"],
            "path": ["out/letters/C1.html", "out/letters/C1.pdf"],
            "sha256": ["a" * 64, "b" * 64],
            "pages": [1, 1],
        }
    )
    with DecisionStore(sqlite_url(tmp_path / "d.sqlite")) as store:
        assert store.record_letters("R1", manifest) == 2
        back = store.letters("R1")
    assert back.values.tolist() == [
        ["R1", "C1", "html", "out/letters/C1.html", "a" * 64],
        ["R1", "C1", "pdf", "out/letters/C1.pdf", "b" * 64],
    ]


def test_errors_are_store_errors(tmp_path: Path) -> None:
    """Duplicate runs, unknown runs, float amounts and bad URLs raise StoreError."""
    with DecisionStore(sqlite_url(tmp_path / "d.sqlite")) as store:
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
        with pytest.raises(StoreError, match="recording run R1 failed: IntegrityError"):
            store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
        with pytest.raises(StoreError, match="no run 'R9'"):
            store.decisions("R9")
        floats = _decisions().assign(open_amount=[1234.56, 0.1, 1.0])
        with pytest.raises(StoreError, match="Decimal"):
            store.record_decisions("R1", floats)
        with pytest.raises(StoreError, match="lack the column"):
            store.record_decisions("R1", _decisions().drop(columns="currency"))
    with pytest.raises(StoreError, match="invalid store URL"):
        DecisionStore("not a url")
    with pytest.raises(StoreError, match="cannot open") as info:
        DecisionStore(sqlite_url(tmp_path / "missing-dir" / "d.sqlite"))
    assert info.value.url is not None


def test_url_shown_without_credentials() -> None:
    """User name and password never appear in the store's URL or its errors."""
    with pytest.raises(StoreError) as info:
        DecisionStore("postgresql+nosuchdriver://clerk:s3cret@db.example/dunning")
    assert "s3cret" not in str(info.value)
    assert "clerk" not in str(info.value)
    with DecisionStore("sqlite://") as store:
        assert store.url == "sqlite://"
