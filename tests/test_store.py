"""Decision store: exact round-trips on SQLite and on a real PostgreSQL server.

Most tests take the ``store_url`` fixture (tests/conftest.py) and so run twice: on a fresh
SQLite file and on an emptied database of a throwaway PostgreSQL server. The raw-SQL checks
look at what the database itself stores and enforces (text amounts, keys, checks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from dunning.datasets import make_portfolio
from dunning.errors import StoreError
from dunning.io import load_portfolio
from dunning.store import (
    REVIEW_ACTIONS,
    DecisionStore,
    _insert_missing,
    _issued,
    _reviews,
    sqlite_url,
)

AS_OF = date(2026, 11, 23)

# What the database itself says when a key or a check is violated.
DUPLICATE_KEY = "UNIQUE constraint failed|duplicate key value violates unique constraint"
CHECK_FAILED = "CHECK constraint failed|violates check constraint"


@contextmanager
def _sql(url: str) -> Iterator[Connection]:
    """A raw connection to the store's database, in one transaction (committed at the end)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _rows(
    url: str, statement: str, params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    with _sql(url) as conn:
        return [tuple(row) for row in conn.execute(text(statement), params or {})]


def _type_of(url: str, column: str) -> tuple[str, str]:
    """The SQL that names a value's stored type, and the name a text value gets."""
    if make_url(url).get_backend_name() == "postgresql":
        return f"pg_typeof({column})::text", "character varying"
    return f"typeof({column})", "text"


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


def _tables(url: str) -> set[str]:
    if make_url(url).get_backend_name() == "postgresql":
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {name for (name,) in _rows(url, query)}


def test_store_url_fixture_gives_each_backend_an_empty_database(store_url: str) -> None:
    """Both backends really run: a SQLite file, or a PostgreSQL 15+ server with no tables."""
    backend = make_url(store_url).get_backend_name()
    assert backend in ("sqlite", "postgresql")
    if backend == "postgresql":
        ((version,),) = _rows(store_url, "SHOW server_version_num")
        assert int(version) >= 150000
        assert _rows(store_url, "SHOW server_encoding") == [("UTF8",)]
    assert _tables(store_url) == set()
    with DecisionStore(store_url):
        pass
    assert _tables(store_url) == {
        "runs", "cases", "decisions", "letters", "issued", "reviews", "audit_events",
        "alembic_version",
    }  # fmt: skip


def test_round_trip_is_exact(store_url: str) -> None:
    """Decisions written come back from a fresh connection with the same Decimals and fields."""
    created = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    with DecisionStore(store_url) as store:
        run_id = store.record_run(
            as_of=AS_OF, portfolio_hash="f" * 64, n_cases=1, software_version="0.1.0",
            created_at=created,
        )  # fmt: skip
        assert store.record_decisions(run_id, _decisions()) == 3

    with DecisionStore(store_url) as store:  # a fresh connection to the same database
        back = store.decisions(run_id)
        runs = store.runs()
    assert back["open_amount"].tolist() == [
        Decimal("1234.56"),
        Decimal("0.10"),
        Decimal("99999999999.99"),
    ]
    assert all(isinstance(a, Decimal) for a in back["open_amount"])
    assert [str(a) for a in back["open_amount"]] == ["1234.56", "0.10", "99999999999.99"]
    assert back["invoice_id"].tolist() == ["R-1", "R-2", "R-3"]
    assert back["level"].tolist() == [2, 0, 0]
    assert back["risk"].tolist() == [0.3412, 0.25, 0.9]
    assert back["reasons"].tolist() == ["LATE_12M|AMOUNT_UNUSUAL", "LATE_12M", ""]
    assert back["case_id"].iloc[:2].tolist() == ["C1", "C1"]
    assert pd.isna(back["case_id"].iloc[2])
    assert runs[["run_id", "n_cases", "software_version"]].values.tolist() == [[run_id, 1, "0.1.0"]]
    assert runs.loc[0, "as_of"] == AS_OF
    # Both backends give the time back in UTC.
    assert str(runs["created_at"].dtype) == "datetime64[ns, UTC]"
    assert runs.loc[0, "created_at"] == pd.Timestamp("2026-11-23 06:00", tz="UTC")


def test_sqlite_store_is_a_file(tmp_path: Path) -> None:
    """The default backend writes a plain SQLite file at the path given."""
    db = tmp_path / "dunning.sqlite"
    with DecisionStore(sqlite_url(db)) as store:
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
    assert db.is_file()
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"


def test_amounts_are_stored_as_text_never_float(store_url: str) -> None:
    """In the database itself open_amount is text holding the exact decimal string."""
    with DecisionStore(store_url) as store:
        run_id = store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=1, run_id="R1")
        store.record_decisions(run_id, _decisions())
    type_of, text_type = _type_of(store_url, "open_amount")
    rows = _rows(store_url, f"SELECT open_amount, {type_of} FROM decisions ORDER BY invoice_id")
    assert rows == [
        ("1234.56", text_type),
        ("0.10", text_type),
        ("99999999999.99", text_type),
    ]


def test_letters_round_trip(store_url: str) -> None:
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
    with DecisionStore(store_url) as store:
        assert store.record_letters("R1", manifest) == 2
        assert store.record_letters("R2", manifest.iloc[[1]]) == 1
        back = store.letters("R1")
        assert store.letters("R9").empty
        # (run, case, format) is the key: a letter recorded again (a resumed run) is
        # skipped and keeps its first values.
        again = manifest.iloc[[0]].assign(sha256="c" * 64)
        assert store.record_letters("R1", again) == 0
        assert store.letters("R1").values.tolist() == back.values.tolist()
    assert back.values.tolist() == [
        ["R1", "C1", "html", "out/letters/C1.html", "a" * 64, 1, None, None, None],
        ["R1", "C1", "pdf", "out/letters/C1.pdf", "b" * 64, 1, None, None, None],
    ]


def test_errors_are_store_errors(store_url: str) -> None:
    """Duplicate runs, unknown runs, float amounts and missing columns raise StoreError."""
    with DecisionStore(store_url) as store:
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
        with pytest.raises(
            StoreError, match=r"recording run R1 failed: (IntegrityError|UniqueViolation)"
        ):
            store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
        with pytest.raises(StoreError, match="no run 'R9'"):
            store.decisions("R9")
        floats = _decisions().assign(open_amount=[1234.56, 0.1, 1.0])
        with pytest.raises(StoreError, match="Decimal"):
            store.record_decisions("R1", floats)
        with pytest.raises(StoreError, match="lack the column"):
            store.record_decisions("R1", _decisions().drop(columns="currency"))
        assert store.runs()["run_id"].tolist() == ["R1"]  # the failed writes left nothing
        assert store.decisions("R1").empty


def test_bad_urls_are_store_errors(tmp_path: Path) -> None:
    """An invalid URL or a SQLite file in a missing folder cannot be opened."""
    with pytest.raises(StoreError, match="invalid store URL"):
        DecisionStore("not a url")
    with pytest.raises(StoreError, match="cannot open") as info:
        DecisionStore(sqlite_url(tmp_path / "missing-dir" / "d.sqlite"))
    assert info.value.url is not None


def test_unreachable_postgresql_server_is_a_store_error(tmp_path: Path) -> None:
    """No server on the socket: the store says it cannot open and names the URL."""
    url = f"postgresql+psycopg://postgres@/dunning?host={tmp_path}&port=5432"
    with pytest.raises(StoreError, match=r"cannot open the decision store at .*OperationalError"):
        DecisionStore(url)


def test_postgresql_errors_never_show_credentials(postgres_url: str) -> None:
    """A real server refusing an unknown role: the role and the password are masked."""
    parsed = make_url(postgres_url)
    wrong = parsed.set(username="clerk", password="s3cret").render_as_string(hide_password=False)
    with pytest.raises(StoreError, match=r"role \"\*\*\*\" does not exist") as info:
        DecisionStore(wrong)
    assert "s3cret" not in str(info.value)
    assert "clerk" not in str(info.value)
    assert info.value.url == parsed._replace(username=None).render_as_string()
    missing = parsed.set(database="no_such_db").render_as_string()
    with pytest.raises(StoreError, match='database "no_such_db" does not exist'):
        DecisionStore(missing)


def test_url_shown_without_credentials() -> None:
    """User name and password never appear in the store's URL or its errors."""
    with pytest.raises(StoreError) as info:
        DecisionStore("postgresql+nosuchdriver://clerk:s3cret@db.example/dunning")
    assert "s3cret" not in str(info.value)
    assert "clerk" not in str(info.value)
    with DecisionStore("sqlite://") as store:
        assert store.url == "sqlite://"


def test_postgresql_store_url_hides_the_password(postgres_url: str) -> None:
    """With a password in the URL (trust auth ignores it) the store still shows none."""
    parsed = make_url(postgres_url)
    with DecisionStore(parsed.set(password="s3cret").render_as_string(hide_password=False)) as s:
        assert s.url == parsed._replace(username=None).render_as_string()
        assert "s3cret" not in s.url
        assert s.record_letters("R1", pd.DataFrame(columns=["case_id", "format", "path"])) == 0


# --- issued letters ----------------------------------------------------------------------

ISSUED_AT = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
ISSUED_COLUMNS = [
    "invoice_id", "level", "case_id", "customer_id", "issued_on", "channel", "currency",
    "fee", "interest", "flat_fee", "earlier_fees", "open_amount", "run_id", "issued_at",
    "approved_by",
]  # fmt: skip


def _events() -> pd.DataFrame:
    """Three letters: a EUR case of two invoices (one approved by a clerk) and a JPY one."""
    return pd.DataFrame(
        {
            "invoice_id": ["R-2", "R-1", "J-1"],
            "level": [1, 2, 3],
            "case_id": ["C20261123-aa", "C20261123-aa", "C20261123-bb-JPY"],
            "customer_id": ["K-1", "K-1", "K-2"],
            "issued_on": [date(2026, 11, 23), date(2026, 11, 23), date(2026, 11, 20)],
            "channel": ["email", "email", "letter"],
            "currency": ["EUR", "EUR", "JPY"],
            "fee": [Decimal("0.00"), Decimal("5.00"), Decimal("0")],
            "interest": [Decimal("0.10"), Decimal("12.34"), Decimal("57")],
            "flat_fee": [Decimal("0.00"), Decimal("40.00"), Decimal("0")],
            "earlier_fees": [Decimal("0.00"), Decimal("2.50"), Decimal("500")],
            "open_amount": [Decimal("0.10"), Decimal("1234.56"), Decimal("1234")],
            "run_id": ["R1", "R1", "R0"],
            "approved_by": [None, "clerk-7", ""],
        }
    )


def test_issued_round_trip_is_exact(store_url: str) -> None:
    """Issued letters come back from a fresh connection with the same Decimals and dates."""
    with DecisionStore(store_url) as store:
        assert store.record_issued(_events(), issued_at=ISSUED_AT) == 3
    with DecisionStore(store_url) as store:
        back = store.issued()
    assert back.columns.tolist() == ISSUED_COLUMNS
    assert back["invoice_id"].tolist() == ["J-1", "R-1", "R-2"]
    assert back["level"].tolist() == [3, 2, 1]
    assert back["level"].dtype == "int64"
    assert back["issued_on"].dtype == "datetime64[ns]"
    assert back["issued_on"].tolist() == [
        pd.Timestamp("2026-11-20"), pd.Timestamp("2026-11-23"), pd.Timestamp("2026-11-23"),
    ]  # fmt: skip
    assert back["open_amount"].tolist() == [Decimal("1234"), Decimal("1234.56"), Decimal("0.10")]
    assert back["interest"].tolist() == [Decimal("57"), Decimal("12.34"), Decimal("0.10")]
    assert back["earlier_fees"].tolist() == [Decimal("500"), Decimal("2.50"), Decimal("0.00")]
    assert [str(v) for v in back["fee"]] == ["0", "5.00", "0.00"]  # the exponent is kept
    for column in ("fee", "interest", "flat_fee", "earlier_fees", "open_amount"):
        assert all(type(v) is Decimal for v in back[column]), column
    assert back["issued_at"].dtype == "datetime64[ns, UTC]"
    assert back["issued_at"].tolist() == [pd.Timestamp("2026-11-23 06:30", tz="UTC")] * 3
    assert back["run_id"].tolist() == ["R0", "R1", "R1"]
    assert back.loc[1, "approved_by"] == "clerk-7"
    assert pd.isna(back.loc[0, "approved_by"]) and pd.isna(back.loc[2, "approved_by"])

    type_of, text_type = _type_of(store_url, "open_amount")
    raw = _rows(
        store_url,
        f"SELECT open_amount, {type_of}, fee, approved_by FROM issued ORDER BY invoice_id",
    )
    assert raw == [
        ("1234", text_type, "0", None),
        ("1234.56", text_type, "5.00", "clerk-7"),
        ("0.10", text_type, "0.00", None),
    ]


def test_absent_money_columns_are_stored_as_exact_zero(store_url: str) -> None:
    """Money columns left out are stored as "0", right for EUR and JPY alike."""
    events = _events().drop(columns=["fee", "interest", "flat_fee", "earlier_fees", "run_id"])
    with DecisionStore(store_url) as store:
        assert store.record_issued(events, issued_at=ISSUED_AT) == 3
        back = store.issued()
    assert back["fee"].tolist() == [Decimal("0")] * 3
    assert back["open_amount"].tolist() == [Decimal("1234"), Decimal("1234.56"), Decimal("0.10")]
    assert back["run_id"].isna().all()
    raw = _rows(store_url, "SELECT DISTINCT fee, interest, flat_fee, earlier_fees FROM issued")
    assert raw == [("0", "0", "0", "0")]


def test_record_issued_is_idempotent(store_url: str) -> None:
    """Recording the same letters again inserts nothing; only new (invoice, level) pairs go in."""
    with DecisionStore(store_url) as store:
        assert store.record_issued(_events(), issued_at=ISSUED_AT) == 3
        assert store.record_issued(_events(), issued_at=ISSUED_AT + timedelta(days=1)) == 0
        later = (
            _events()
            .iloc[[1]]
            .assign(level=3, issued_on=date(2026, 12, 7), fee=Decimal("10.00"), approved_by=None)
        )
        retried = _events().iloc[[1]].assign(fee=Decimal("99.00"), run_id="R9")
        assert store.record_issued(pd.concat([retried, later]), issued_at=ISSUED_AT) == 1
        back = store.issued()
    assert back[["invoice_id", "level"]].values.tolist() == [
        ["J-1", 3], ["R-1", 2], ["R-1", 3], ["R-2", 1],
    ]  # fmt: skip
    # The letter already recorded keeps its first values; it is not overwritten.
    assert back.loc[1, ["fee", "run_id"]].tolist() == [Decimal("5.00"), "R1"]
    assert back.loc[2, "fee"] == Decimal("10.00")
    assert back["issued_at"].tolist() == [pd.Timestamp("2026-11-23 06:30", tz="UTC")] * 4


def test_record_issued_twice_from_two_stores(store_url: str) -> None:
    """Two stores open on the same database: the second recording of a letter inserts nothing."""
    with DecisionStore(store_url) as first, DecisionStore(store_url) as second:
        assert first.record_issued(_events().iloc[:2], issued_at=ISSUED_AT) == 2
        assert second.record_issued(_events(), issued_at=ISSUED_AT) == 1
        assert first.record_issued(_events(), issued_at=ISSUED_AT) == 0
        assert len(second.issued()) == 3


def test_duplicates_within_one_frame_keep_the_first(store_url: str) -> None:
    """Two rows for the same invoice and level in one frame: the first is recorded."""
    events = _events()
    twice = pd.concat([events, events.iloc[[0]].assign(fee=Decimal("7.00"), case_id="C-other")])
    with DecisionStore(store_url) as store:
        assert store.record_issued(twice, issued_at=ISSUED_AT) == 3
        back = store.issued()
    row = back.loc[back["invoice_id"] == "R-2"].iloc[0]
    assert (row["case_id"], row["fee"]) == ("C20261123-aa", Decimal("0.00"))


def test_database_refuses_the_same_level_twice(store_url: str) -> None:
    """The primary key (invoice_id, level) and the level check hold in the database itself."""
    with DecisionStore(store_url) as store:
        store.record_issued(_events(), issued_at=ISSUED_AT)
    row = {
        "invoice_id": "R-1", "level": 2, "case_id": "C2", "customer_id": "K-1",
        "issued_on": date(2026, 12, 1), "channel": "letter", "currency": "EUR", "fee": "0",
        "interest": "0", "flat_fee": "0", "earlier_fees": "0", "open_amount": "1.00",
        "run_id": None, "issued_at": datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        "approved_by": None,
    }  # fmt: skip
    # Core inserts bypass DecisionStore's own checks, so only the database can refuse.
    with _sql(store_url) as conn, pytest.raises(IntegrityError, match=DUPLICATE_KEY):
        conn.execute(_issued.insert(), [row])
    with _sql(store_url) as conn, pytest.raises(IntegrityError, match=CHECK_FAILED):
        conn.execute(_issued.insert(), [{**row, "level": 0}])
    with _sql(store_url) as conn:
        conn.execute(_issued.insert(), [{**row, "level": 4}])  # a new level is fine
    assert _rows(store_url, "SELECT count(*) FROM issued") == [(4,)]


def test_issued_until_filters_by_issue_date(store_url: str) -> None:
    """``until`` keeps letters issued on or before the date, ordered by invoice and level."""
    with DecisionStore(store_url) as store:
        store.record_issued(_events(), issued_at=ISSUED_AT)
        assert store.issued(until=date(2026, 11, 22))["invoice_id"].tolist() == ["J-1"]
        assert store.issued(until=date(2026, 11, 23))["invoice_id"].tolist() == [
            "J-1", "R-1", "R-2",
        ]  # fmt: skip
        empty = store.issued(until=date(2026, 11, 19))
    assert empty.empty
    assert empty.columns.tolist() == ISSUED_COLUMNS
    assert empty["issued_on"].dtype == "datetime64[ns]"
    assert empty["level"].dtype == "int64"


def test_issued_is_a_dunning_history(store_url: str) -> None:
    """A portfolio's history recorded as issued letters loads back as the same history."""
    as_of = date(2026, 11, 23)
    portfolio = make_portfolio(40, seed=0, as_of=as_of)
    history = portfolio.history
    invoices = portfolio.invoices.set_index("invoice_id")
    events = history.assign(
        customer_id=invoices.loc[history["invoice_id"], "customer_id"].to_numpy(),
        currency=invoices.loc[history["invoice_id"], "currency"].to_numpy(),
    )
    events["case_id"] = "C-" + events["customer_id"]
    with DecisionStore(store_url) as store:
        assert store.record_issued(events, issued_at=ISSUED_AT) == len(history) == 1169
        assert store.record_issued(events, issued_at=ISSUED_AT) == 0
        stored = store.issued()
    loaded = load_portfolio(
        portfolio.customers, portfolio.invoices, portfolio.payments, stored, as_of=as_of
    )
    assert loaded.rows_accepted["history"] == 1169
    expected = history.sort_values(["invoice_id", "level"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        loaded.portfolio.history.sort_values(["invoice_id", "level"]).reset_index(drop=True),
        expected,
    )


def test_record_issued_errors_name_what_is_wrong(store_url: str) -> None:
    """Missing columns, float money, invalid rows and naive times raise before writing."""
    with DecisionStore(store_url) as store:
        with pytest.raises(StoreError, match=r"\['level', 'channel'\]"):
            store.record_issued(_events().drop(columns=["channel", "level"]))
        floats = _events().assign(interest=[0.1, 12.34, 57.0])
        with pytest.raises(StoreError, match="interest must hold finite Decimal values"):
            store.record_issued(floats)
        nan = _events().assign(fee=[Decimal("0.00"), Decimal("NaN"), Decimal("0")])
        with pytest.raises(StoreError, match=r"fee must hold .* row\(s\) 1 do not"):
            store.record_issued(nan)
        cases = [
            ({"level": [1, 0, 3]}, r"row 1 \(case 'C20261123-aa'\): level must be"),
            ({"level": [1, 2.5, 3]}, "row 1 .*level must be a whole number"),
            ({"channel": ["email", "pigeon", "letter"]}, "row 1 .*channel 'pigeon'"),
            ({"currency": ["EUR", "eur", "JPY"]}, "row 1 .*currency 'eur'"),
            ({"case_id": ["C1", " ", "C2"]}, r"row 1 \(case None\): case_id is empty"),
            ({"issued_on": [date(2026, 11, 23), pd.NaT, date(2026, 11, 20)]}, "issued_on"),
        ]
        for change, pattern in cases:
            with pytest.raises(StoreError, match=pattern):
                store.record_issued(_events().assign(**change), issued_at=ISSUED_AT)
        with pytest.raises(StoreError, match=r"issued_at: .* has no time zone"):
            store.record_issued(_events(), issued_at=datetime(2026, 11, 23, 6, 30))
        assert store.issued().empty


# --- reviews -------------------------------------------------------------------------------

AS_OF_REVIEW = date(2026, 11, 23)
REVIEW_COLUMNS = [
    "review_id", "case_id", "customer_id", "invoice_ids", "action", "clerk_id", "reason",
    "offer", "hold_until", "decided_at", "as_of",
]  # fmt: skip


def _reviews_frame() -> pd.DataFrame:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C1", "C3"],
            "customer_id": ["K-1", "K-2", "K-1", "K-3"],
            "invoice_ids": [["R-1", "R-2"], "J-1", "R-1|R-2", ("R-9",)],
            "action": ["hold", "change_offer", "approve", "escalate"],
            "clerk_id": ["clerk-7", "clerk-7", "lead-2", "clerk-9"],
            "reason": ["pays Friday", "asked for instalments", "paid nothing", "amount unusual"],
            "offer": [None, "installment_plan", None, None],
            "hold_until": [date(2026, 11, 27), None, None, None],
            "decided_at": [
                at,
                at,
                datetime(2026, 11, 28, 9, 0, tzinfo=timezone(timedelta(hours=1))),  # 08:00 UTC
                at - timedelta(hours=1),
            ],
            "as_of": [AS_OF_REVIEW] * 4,
        }
    )


def _expected_id(case_id: str, action: str, clerk_id: str, decided_at_utc: str) -> str:
    text = f"{case_id}|{action}|{clerk_id}|{decided_at_utc}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_reviews_round_trip_in_decision_order(store_url: str) -> None:
    """Reviews come back oldest first (ties by review_id) with UTC times and stable ids."""
    with DecisionStore(store_url) as store:
        assert store.record_reviews(_reviews_frame()) == 4
    with DecisionStore(store_url) as store:
        back = store.reviews()
        c1 = store.reviews(case_id="C1")
        assert store.reviews(case_id="C404").empty
    ids = {
        "C1-hold": _expected_id("C1", "hold", "clerk-7", "2026-11-24T09:00:00+00:00"),
        "C2": _expected_id("C2", "change_offer", "clerk-7", "2026-11-24T09:00:00+00:00"),
        "C1-approve": _expected_id("C1", "approve", "lead-2", "2026-11-28T08:00:00+00:00"),
        "C3": _expected_id("C3", "escalate", "clerk-9", "2026-11-24T08:00:00+00:00"),
    }
    tie = sorted([ids["C1-hold"], ids["C2"]])  # same decided_at: ordered by review_id
    assert back.columns.tolist() == REVIEW_COLUMNS
    assert back["review_id"].tolist() == [ids["C3"], *tie, ids["C1-approve"]]
    assert back["decided_at"].dtype == "datetime64[ns, UTC]"
    assert back["decided_at"].tolist() == [
        pd.Timestamp("2026-11-24 08:00", tz="UTC"),
        pd.Timestamp("2026-11-24 09:00", tz="UTC"),
        pd.Timestamp("2026-11-24 09:00", tz="UTC"),
        pd.Timestamp("2026-11-28 08:00", tz="UTC"),
    ]
    by_case = back.set_index("review_id")
    assert by_case.loc[ids["C1-hold"], "invoice_ids"] == "R-1|R-2"
    assert by_case.loc[ids["C3"], "invoice_ids"] == "R-9"
    assert by_case.loc[ids["C2"], "offer"] == "installment_plan"
    assert pd.isna(by_case.loc[ids["C1-hold"], "offer"])
    assert back["hold_until"].dtype == "datetime64[ns]"
    assert by_case.loc[ids["C1-hold"], "hold_until"] == pd.Timestamp("2026-11-27")
    assert pd.isna(by_case.loc[ids["C2"], "hold_until"])
    assert back["as_of"].tolist() == [pd.Timestamp("2026-11-23")] * 4
    assert c1["action"].tolist() == ["hold", "approve"]  # the later decision is in force
    assert c1["clerk_id"].tolist() == ["clerk-7", "lead-2"]


def test_record_reviews_is_append_only_and_idempotent(store_url: str) -> None:
    """The same review twice is stored once; a given review_id is kept; duplicates skipped."""
    with DecisionStore(store_url) as store:
        assert store.record_reviews(_reviews_frame()) == 4
        assert store.record_reviews(_reviews_frame()) == 0
        named = _reviews_frame().iloc[[2]].assign(review_id="REV-1", reason="second look")
        assert store.record_reviews(pd.concat([named, named.assign(reason="x")])) == 1
        assert store.record_reviews(named) == 0
        back = store.reviews(case_id="C1")
    assert back["review_id"].tolist()[0] == _expected_id(
        "C1", "hold", "clerk-7", "2026-11-24T09:00:00+00:00"
    )
    assert len(back) == 3
    assert back.set_index("review_id").loc["REV-1", "reason"] == "second look"
    assert _rows(store_url, "SELECT count(*) FROM reviews") == [(5,)]


def test_hold_without_end_date_lasts_until_a_later_review(store_url: str) -> None:
    """A hold may leave hold_until empty; it is stored as NULL and read back as NaT."""
    open_hold = _reviews_frame().iloc[[0]].assign(hold_until=[None])
    with DecisionStore(store_url) as store:
        assert store.record_reviews(open_hold) == 1
        back = store.reviews(case_id="C1")
    assert back["action"].tolist() == ["hold"]
    assert back["hold_until"].isna().tolist() == [True]
    assert _rows(store_url, "SELECT hold_until FROM reviews") == [(None,)]


def test_review_errors_are_raised_before_writing(store_url: str) -> None:
    """An unknown action, an empty clerk or reason, or a missing detail is a StoreError."""
    frame = _reviews_frame()
    with DecisionStore(store_url) as store:
        with pytest.raises(StoreError, match=r"lack the required column\(s\) \['clerk_id'\]"):
            store.record_reviews(frame.drop(columns="clerk_id"))
        cases = [
            ({"action": ["hold", "delete", "approve", "escalate"]},
             r"row 1 \(case 'C2'\): action 'delete' is not one of"),
            ({"clerk_id": ["clerk-7", "clerk-7", "", "clerk-9"]},
             r"row 2 \(case 'C1'\): clerk_id is empty \(every review needs"),
            ({"reason": ["pays Friday", "x", "y", "   "]}, r"row 3 \(case 'C3'\): reason is empty"),
            ({"reason": [None, "x", "y", "z"]}, "row 0 .*reason is empty"),
            ({"offer": [None, None, None, None]}, "row 1 .*required for action 'change_offer'"),
            ({"offer": ["none", "deferral", None, None]}, "row 0 .*allowed only there"),
            ({"hold_until": [None, None, AS_OF_REVIEW, None]}, "row 2 .*allowed only for action"),
            ({"decided_at": [datetime(2026, 11, 24, 9, 0)] * 4}, "row 0 .*has no time zone"),
            ({"as_of": [AS_OF_REVIEW, None, AS_OF_REVIEW, AS_OF_REVIEW]}, "row 1 .*as_of"),
        ]  # fmt: skip
        for change, pattern in cases:
            with pytest.raises(StoreError, match=pattern):
                store.record_reviews(frame.assign(**change))
        assert store.reviews().empty  # nothing of a failed batch is written
    assert REVIEW_ACTIONS == ("approve", "change_offer", "hold", "escalate")


def test_database_refuses_an_unknown_review_action(store_url: str) -> None:
    """The CHECK constraint on ``action`` holds in the database itself, for every action."""
    with DecisionStore(store_url):
        pass  # creates the tables
    row = {
        "review_id": "X", "case_id": "C1", "customer_id": "K-1", "invoice_ids": "R-1",
        "action": "delete", "clerk_id": "clerk-7", "reason": "r", "offer": None,
        "hold_until": None, "decided_at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        "as_of": AS_OF_REVIEW,
    }  # fmt: skip
    with _sql(store_url) as conn, pytest.raises(IntegrityError, match=CHECK_FAILED):
        conn.execute(_reviews.insert(), [row])
    with _sql(store_url) as conn:
        conn.execute(
            _reviews.insert(),
            [{**row, "review_id": f"X-{a}", "action": a} for a in REVIEW_ACTIONS],
        )
    with DecisionStore(store_url) as store:
        assert sorted(store.reviews()["action"]) == sorted(REVIEW_ACTIONS)


# --- schema and portability -----------------------------------------------------------------


def test_existing_store_gains_the_new_tables(store_url: str) -> None:
    """Opening a store made before ``issued`` and ``reviews`` existed adds them, keeping data.

    Such a store has neither the later tables nor Alembic's ``alembic_version`` (see
    tests/test_audit.py for the migrations themselves).
    """
    with DecisionStore(store_url) as store:
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
    with _sql(store_url) as conn:
        for table in ("issued", "reviews", "audit_events", "alembic_version"):
            conn.execute(text(f"DROP TABLE {table}"))
    with DecisionStore(store_url) as store:
        assert store.runs()["run_id"].tolist() == ["R1"]
        assert store.record_issued(_events(), issued_at=ISSUED_AT) == 3
        assert store.record_reviews(_reviews_frame()) == 4


def test_portable_fallback_skips_existing_keys(store_url: str) -> None:
    """The lookup-then-insert path used for other databases skips keys already present."""
    engine = create_engine(store_url)
    _issued.metadata.create_all(engine)
    row = {
        "case_id": "C1", "customer_id": "K-1", "issued_on": AS_OF, "channel": "letter",
        "currency": "EUR", "fee": "0", "interest": "0", "flat_fee": "0", "earlier_fees": "0",
        "open_amount": "1.00", "run_id": None, "issued_at": ISSUED_AT, "approved_by": None,
    }  # fmt: skip
    rows = [{**row, "invoice_id": f"R-{i:04d}", "level": 1} for i in range(1200)]
    try:
        with engine.begin() as conn:
            assert _insert_missing(conn, _issued, rows[:700]) == 700
            more = [*rows, {**rows[0], "level": 2}]  # spans three lookup chunks
            assert _insert_missing(conn, _issued, more) == 501
    finally:
        engine.dispose()
    assert _rows(store_url, "SELECT count(*), max(level) FROM issued") == [(1201, 2)]


def test_postgresql_statements_compile() -> None:
    """On PostgreSQL the tables carry their keys and checks; inserts skip conflicts."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    issued = str(CreateTable(_issued).compile(dialect=dialect))
    assert "PRIMARY KEY (invoice_id, level)" in issued
    assert "CHECK (level >= 1)" in issued
    assert "issued_at TIMESTAMP WITH TIME ZONE NOT NULL" in issued
    reviews = str(CreateTable(_reviews).compile(dialect=dialect))
    assert "CHECK (action IN ('approve', 'change_offer', 'hold', 'escalate'))" in reviews
    keys = list(_issued.primary_key.columns)
    insert = postgresql.insert(_issued).on_conflict_do_nothing(index_elements=keys)
    assert "ON CONFLICT (invoice_id, level) DO NOTHING" in str(insert.compile(dialect=dialect))


def test_postgresql_schema_as_created_on_the_server(postgres_url: str) -> None:
    """The live server holds the primary keys and checks the store declares."""
    with DecisionStore(postgres_url):
        pass
    constraints = _rows(
        postgres_url,
        "SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid::regclass::text IN ('issued', 'reviews') "
        "ORDER BY 1, 2, 3",
    )
    assert constraints == [
        ("issued", "c", "CHECK ((level >= 1))"),
        ("issued", "p", "PRIMARY KEY (invoice_id, level)"),
        (
            "reviews",
            "c",
            "CHECK (((action)::text = ANY ((ARRAY['approve'::character varying, "
            "'change_offer'::character varying, 'hold'::character varying, "
            "'escalate'::character varying])::text[])))",
        ),
        ("reviews", "p", "PRIMARY KEY (review_id)"),
    ]
    columns = _rows(
        postgres_url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'issued' AND column_name IN ('open_amount', 'issued_on', "
        "'issued_at') ORDER BY column_name",
    )
    assert columns == [
        ("issued_at", "timestamp with time zone"),
        ("issued_on", "date"),
        ("open_amount", "character varying"),
    ]


# --- cases, finished runs, documents issued with their letters, events once ---------------


def test_cases_and_finished_runs_round_trip(store_url: str) -> None:
    """Cases come back exact; a resumed run is recorded once and reopened until finished."""
    cases = pd.DataFrame(
        {
            "case_id": ["C2", "C1"],
            "customer_id": ["K-2", "K-1"],
            "name": ["Bo Chan", None],
            "level": [2, 1],
            "amount_due": [Decimal("96.40"), Decimal("0.10")],
            "currency": ["EUR", "GBP"],
            "risk": [0.25, None],
            "offer": ["installment_plan", "none"],
            "tone": ["firm", "friendly"],
            "channel": ["letter", "email"],
            "language": ["de", "en"],
            "needs_review": [True, False],
            "review_reason": ["HIGH_EXPOSURE", ""],
        }
    )
    first = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    with DecisionStore(store_url) as store:
        assert store.latest_run_id() is None
        assert store.cases().empty
        for _ in range(2):  # the second time is a resumed run
            store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=2, run_id="R1",
                             policy_version="p" * 64, exist_ok=True)  # fmt: skip
            assert store.record_cases("R1", cases, as_of=AS_OF) in (2, 0)
        store.finish_run("R1", finished_at=first)
        finished_once = store.runs().loc[0, "finished_at"]
        # A later pass (dunning issue after dunning propose) reopens and finishes it again.
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=2, run_id="R1",
                         exist_ok=True)  # fmt: skip
        reopened = store.runs().loc[0, "finished_at"]
        store.finish_run("R1", finished_at=first + timedelta(hours=1))
        back = store.cases()
        runs = store.runs()
        with pytest.raises(StoreError, match="amount_due must hold finite Decimal"):
            store.record_cases("R1", cases.assign(amount_due=[1.5, 2.5]), as_of=AS_OF)
    assert back["case_id"].tolist() == ["C1", "C2"]
    assert back["amount_due"].tolist() == [Decimal("0.10"), Decimal("96.40")]
    assert back["needs_review"].tolist() == [False, True]
    assert back["name"].tolist()[1] == "Bo Chan" and back["name"].isna().tolist()[0]
    assert back["as_of"].tolist() == [AS_OF, AS_OF]
    assert runs["run_id"].tolist() == ["R1"]
    assert runs.loc[0, "policy_version"] == "p" * 64
    assert finished_once == pd.Timestamp(first) and pd.isna(reopened)
    assert runs.loc[0, "finished_at"] == pd.Timestamp(first + timedelta(hours=1))


def test_issuing_records_the_documents_in_the_same_transaction(store_url: str) -> None:
    """record_issued(letters=…) stores the files and puts their sha256 in the audit events."""
    events = _events().assign(run_id="R1")
    documents = pd.DataFrame(
        {
            "case_id": ["C20261123-aa", "C20261123-aa", "C20261123-bb-JPY"],
            "format": ["html", "pdf", "eml"],
            "path": ["l/aa.html", "l/aa.pdf", "m/bb.eml"],
            "sha256": ["a" * 64, "b" * 64, "c" * 64],
            "pages": [1, 1, None],
            "template": ["letters/letter.html.j2", "letters/letter.html.j2", None],
            "template_sha256": ["d" * 64, "d" * 64, None],
            "data_sha256": ["e" * 64, "e" * 64, None],
        }
    )
    with DecisionStore(store_url) as store:
        assert store.record_issued(events, issued_at=ISSUED_AT, letters=documents) == 3
        assert store.record_issued(events, issued_at=ISSUED_AT, letters=documents) == 0
        letters = store.letters("R1")
        trail = store.audit_events(kind="letter_issued")
        assert store.verify_audit().ok
    shown = letters[["case_id", "format", "pages", "template_sha256"]]
    assert shown.astype(object).where(shown.notna(), None).values.tolist() == [
        ["C20261123-aa", "html", 1, "d" * 64],
        ["C20261123-aa", "pdf", 1, "d" * 64],
        ["C20261123-bb-JPY", "eml", None, None],
    ]
    payloads = dict(zip(trail["subject"], trail["payload"], strict=True))
    both = '"documents":{"html":"' + "a" * 64 + '","pdf":"' + "b" * 64 + '"}'
    assert both in payloads["R-1"] and both in payloads["R-2"]
    assert '"documents":{"eml":"' + "c" * 64 + '"}' in payloads["J-1"]


def test_a_failed_issue_records_neither_rows_nor_documents(store_url: str) -> None:
    """A bad letter row aborts the whole transaction: no issued row, no document, no event."""
    documents = pd.DataFrame({"case_id": ["C20261123-aa"], "format": ["html"],
                              "path": ["l/aa.html"], "sha256": ["a" * 64]})  # fmt: skip
    with DecisionStore(store_url) as store:
        with pytest.raises(StoreError, match="has no run_id"):
            store.record_issued(_events().assign(run_id=None), letters=documents)
        assert store.issued().empty
        assert store.letters("R1").empty
        assert store.audit_events().empty


def test_events_once_skips_what_the_trail_has(store_url: str) -> None:
    """once=True: the same kind, run and subject is recorded a single time."""
    events = [
        {"kind": "run_started", "run_id": "R1"},
        {"kind": "case_proposed", "run_id": "R1", "subject": "C1"},
        {"kind": "case_proposed", "run_id": "R1", "subject": "C1"},
        {"kind": "case_proposed", "run_id": "R2", "subject": "C1"},
        {"kind": "payment_received", "subject": "P-1"},
    ]
    with DecisionStore(store_url) as store:
        assert store.record_events(events, once=True) == 4
        assert store.record_events(events, once=True) == 0
        assert store.record_events(events[:1]) == 1  # without once: appended again
        trail = store.audit_events()
        assert store.verify_audit().ok
    assert trail["kind"].tolist() == [
        "run_started", "case_proposed", "case_proposed", "payment_received", "run_started",
    ]  # fmt: skip
