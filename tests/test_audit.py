"""The audit trail and the schema migrations of the decision store, on SQLite and PostgreSQL.

The tamper tests change the database behind the store's back, with raw SQL, as someone
with write access to the tables would, and check that :meth:`DecisionStore.verify_audit`
names the first broken event. ``_auditor_check`` re-verifies an export the way
docs/audit.md tells an auditor to, without this library. The concurrency tests start two
real processes appending to the same database at the same moment.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from dunning.errors import DataError, StoreError
from dunning.store import (
    _SCHEMA_HEAD,
    AUDIT_GENESIS,
    AUDIT_KINDS,
    AuditVerification,
    DecisionStore,
    _alembic_config,
    _metadata,
    verify_audit_file,
)

AT = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
AS_OF = date(2026, 11, 23)
ALL_TABLES = {
    "runs", "cases", "decisions", "letters", "issued", "reviews", "audit_events",
        "alembic_version",
}  # fmt: skip


@contextmanager
def _sql(url: str) -> Iterator[Connection]:
    """A raw connection in one transaction, committed at the end: the tamperer's tool."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _rows(url: str, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    with _sql(url) as conn:
        return [tuple(row) for row in conn.execute(text(statement), params or {})]


def _tables(url: str) -> set[str]:
    if make_url(url).get_backend_name() == "postgresql":
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {name for (name,) in _rows(url, query)}


def _sha(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value.encode('utf-8'))}:{value}"


def _auditor_check(lines: list[str]) -> str:
    """docs/audit.md's recipe, written from the documentation: returns the head hash."""
    prev = "0" * 64
    for number, line in enumerate(lines, start=1):
        e = json.loads(line)
        assert e["seq"] == number
        fields = [str(e["seq"]), e["at"], e["kind"], e["run_id"], e["subject"], e["payload"]]
        assert _sha("\n".join(_field(v) for v in fields)) == e["content_hash"]
        assert e["prev_hash"] == prev
        prev = _sha(prev + e["content_hash"])
        assert prev == e["chain_hash"]
    return prev


def _five_events(url: str) -> AuditVerification:
    """A trail of five events, 06:30 … 06:34 UTC; returns the check of the intact trail."""
    with DecisionStore(url) as store:
        store.record_events(
            [
                {"kind": "run_started", "run_id": "R1", "at": AT, "payload": {"n_cases": 2}},
                {"kind": "case_proposed", "run_id": "R1", "subject": "C1",
                 "at": AT + timedelta(minutes=1),
                 "payload": {"level": 2, "open_amount": Decimal("1234.56")}},
                {"kind": "case_proposed", "run_id": "R1", "subject": "C2",
                 "at": AT + timedelta(minutes=2),
                 "payload": {"level": 1, "open_amount": Decimal("99.90")}},
                {"kind": "payment_received", "subject": "R-7", "at": AT + timedelta(minutes=3),
                 "payload": {"amount": Decimal("50.00"), "currency": "EUR"}},
                {"kind": "run_finished", "run_id": "R1", "at": AT + timedelta(minutes=4)},
            ]
        )  # fmt: skip
        check = store.verify_audit()
    assert check.ok and check.events == 5
    return check


def _stored(url: str, seq: int) -> dict[str, Any]:
    with DecisionStore(url) as store:
        trail = store.audit_events()
    return dict(trail.loc[trail["seq"] == seq].iloc[0])


def _verify(url: str, **kwargs: Any) -> AuditVerification:
    with DecisionStore(url) as store:
        return store.verify_audit(**kwargs)


# --- recording ---------------------------------------------------------------------------------


def test_events_are_numbered_and_chained_as_documented(store_url: str) -> None:
    """seq 1..n, canonical payload text, and hashes an auditor recomputes from the docs."""
    _five_events(store_url)
    raw = _rows(
        store_url,
        "SELECT seq, kind, run_id, subject, payload, content_hash, prev_hash, chain_hash "
        "FROM audit_events ORDER BY seq",
    )
    assert [r[:4] for r in raw] == [
        (1, "run_started", "R1", None),
        (2, "case_proposed", "R1", "C1"),
        (3, "case_proposed", "R1", "C2"),
        (4, "payment_received", None, "R-7"),
        (5, "run_finished", "R1", None),
    ]
    assert [r[4] for r in raw] == [
        '{"n_cases":2}',
        '{"level":2,"open_amount":"1234.56"}',
        '{"level":1,"open_amount":"99.90"}',
        '{"amount":"50.00","currency":"EUR"}',
        "{}",
    ]
    content = "1:1\n27:2026-11-23T06:30:00.000000Z\n11:run_started\n2:R1\n-\n13:" + '{"n_cases":2}'
    assert raw[0][5] == _sha(content)
    assert raw[0][6] == AUDIT_GENESIS == "0" * 64
    assert raw[0][7] == _sha(AUDIT_GENESIS + raw[0][5])
    # Pinned (also `printf … | sha256sum`): the encoding never changes silently.
    assert raw[0][5] == "46c424631d535043f3acaa8cf96d66442c79758cee39748f5d3f056b9901f921"
    for before, after in itertools.pairwise(raw):
        assert after[6] == before[7]
        assert after[7] == _sha(after[6] + after[5])
    with DecisionStore(store_url) as store:
        trail = store.audit_events()
        assert store.audit_events(run_id="R1")["seq"].tolist() == [1, 2, 3, 5]
        assert store.audit_events(subject="C2")["seq"].tolist() == [3]
        assert store.audit_events(kind="case_proposed")["subject"].tolist() == ["C1", "C2"]
    assert trail["at"].tolist() == [
        pd.Timestamp("2026-11-23 06:30", tz="UTC") + pd.Timedelta(minutes=m) for m in range(5)
    ]
    assert trail["chain_hash"].tolist() == [r[7] for r in raw]


def test_payload_is_canonical_json(store_url: str) -> None:
    """Sorted keys, no spaces, amounts as exact strings, dates ISO, times in UTC, ASCII."""
    payload = {
        "z": [Decimal("0.10"), Decimal("5"), 3, 0.25, True, None],
        "a": {"issued_on": date(2026, 11, 23),
              "decided_at": datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=1))),
              "stamp": pd.Timestamp("2026-11-24 09:00:00.5", tz="UTC")},
        "name": "Köln \"Süd\"\n",
        "missing": float("nan"),
    }  # fmt: skip
    with DecisionStore(store_url) as store:
        assert store.record_events([{"kind": "case_proposed", "at": AT, "payload": payload}]) == 1
    ((stored,),) = _rows(store_url, "SELECT payload FROM audit_events")
    assert stored == (
        '{"a":{"decided_at":"2026-11-24T09:00:00.000000Z","issued_on":"2026-11-23",'
        '"stamp":"2026-11-24T09:00:00.500000Z"},"missing":null,'
        '"name":"K\\u00f6ln \\"S\\u00fcd\\"\\n","z":["0.10","5",3,0.25,true,null]}'
    )
    assert json.loads(stored)["name"] == 'Köln "Süd"\n'


def test_ids_of_any_text_are_encoded_unambiguously(store_url: str) -> None:
    """Line feeds and non-ASCII in subject and run_id: the length prefix keeps fields apart."""
    events = [
        {"kind": "case_proposed", "at": AT, "run_id": "R\n1", "subject": "Ü-7\n-"},
        {"kind": "case_proposed", "at": AT, "run_id": "R", "subject": "1\nÜ-7\n-"},
    ]
    with DecisionStore(store_url) as store:
        store.record_events(events)
        trail = store.audit_events()
        assert store.verify_audit().ok
    assert trail["subject"].tolist() == ["Ü-7\n-", "1\nÜ-7\n-"]
    first = "1:1\n27:2026-11-23T06:30:00.000000Z\n13:case_proposed\n3:R\n1\n6:Ü-7\n-\n2:{}"
    assert trail.loc[0, "content_hash"] == _sha(first)


def test_record_events_refuses_invalid_events_and_writes_nothing(store_url: str) -> None:
    """Every problem is named with the event's position; a failed batch leaves no trace."""
    good = {"kind": "run_started", "run_id": "R1", "at": AT}
    cases = [
        ({"kind": "Run Started"}, r"event 1 \(kind 'Run Started'\): kind 'Run Started' is not"),
        ({"kind": "x" * 33}, "at most 32 characters"),
        ({"type": "run_started"}, r"unknown field\(s\) \['type'\]"),
        ({"kind": "run_started", "at": datetime(2026, 11, 23, 6, 30)}, "at: .* has no time zone"),
        ({"kind": "run_started", "subject": ""}, "subject must have 1 to 128 characters"),
        ({"kind": "run_started", "run_id": "R" * 65}, "run_id must have 1 to 64 characters"),
        ({"kind": "run_started", "run_id": 7}, "run_id must be text or None, got int"),
        ({"kind": "run_started", "payload": [1, 2]}, "payload must be a mapping"),
        ({"kind": "run_started", "payload": {"fee": Decimal("NaN")}}, "payload.fee is NaN"),
        ({"kind": "run_started", "payload": {"x": {1: "a"}}}, "payload.x has the key 1"),
        ({"kind": "run_started", "payload": {"x": [float("inf")]}}, r"payload.x\[0\] is infinite"),
        ({"kind": "run_started", "payload": {"t": datetime(2026, 1, 1)}}, "payload.t: .*time zone"),
        ({"kind": "run_started", "payload": {"s": {1, 2}}}, "payload.s is a set"),
    ]
    with DecisionStore(store_url) as store:
        for bad, pattern in cases:
            with pytest.raises(StoreError, match=pattern) as info:
                store.record_events([good, bad])
            assert "Nothing was recorded" in str(info.value)
        with pytest.raises(StoreError, match="give a sequence of events"):
            store.record_events(good)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="event 0 is a str, not a mapping"):
            store.record_events(["run_started"])  # type: ignore[list-item]
        assert store.record_events([]) == 0
        assert store.audit_events().empty
        assert store.verify_audit() == AuditVerification(
            True, 0, None, f"all 0 events link up; head {'0' * 16}…", AUDIT_GENESIS
        )
    assert "letter_issued" in AUDIT_KINDS


# --- events written by the store's own writers ----------------------------------------------


def _issued_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["R-2", "R-1"],
            "level": [1, 2],
            "case_id": ["C1", "C1"],
            "customer_id": ["K-1", "K-1"],
            "issued_on": [date(2026, 11, 23)] * 2,
            "channel": ["email", "letter"],
            "currency": ["EUR", "EUR"],
            "fee": [Decimal("0.00"), Decimal("5.00")],
            "open_amount": [Decimal("0.10"), Decimal("1234.56")],
            "run_id": ["R1", "R1"],
            "approved_by": [None, "clerk-7"],
        }
    )


def _review_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C1", "C2"],
            "customer_id": ["K-1", "K-2"],
            "invoice_ids": [["R-1", "R-2"], "J-1"],
            "action": ["hold", "change_offer"],
            "clerk_id": ["clerk-7", "lead-2"],
            "reason": ["pays Friday", "asked for instalments"],
            "offer": [None, "installment_plan"],
            "hold_until": [date(2026, 11, 27), None],
            "decided_at": [datetime(2026, 11, 24, 9, 0, tzinfo=UTC)] * 2,
            "as_of": [AS_OF] * 2,
            "review_id": ["REV-1", "REV-2"],
        }
    )


def test_record_issued_audits_each_inserted_letter(store_url: str) -> None:
    """One letter_issued event per row inserted; re-recording adds rows and events for none."""
    with DecisionStore(store_url) as store:
        assert store.record_issued(_issued_events(), issued_at=AT) == 2
        assert store.record_issued(_issued_events(), issued_at=AT) == 0
        more = _issued_events().assign(level=[2, 2])  # R-2 level 2 is new, R-1 level 2 is not
        assert store.record_issued(more, issued_at=AT + timedelta(days=1)) == 1
        trail = store.audit_events()
        assert store.verify_audit().ok
    assert trail[["seq", "kind", "run_id", "subject"]].values.tolist() == [
        [1, "letter_issued", "R1", "R-2"],
        [2, "letter_issued", "R1", "R-1"],
        [3, "letter_issued", "R1", "R-2"],
    ]
    assert trail["at"].tolist() == [pd.Timestamp(AT)] * 2 + [pd.Timestamp(AT + timedelta(days=1))]
    assert json.loads(trail.loc[1, "payload"]) == {
        "approved_by": "clerk-7", "case_id": "C1", "channel": "letter", "currency": "EUR",
        "customer_id": "K-1", "earlier_fees": "0", "fee": "5.00", "flat_fee": "0",
        "interest": "0", "issued_at": "2026-11-23T06:30:00.000000Z",
        "issued_on": "2026-11-23", "level": 2, "open_amount": "1234.56",
    }  # fmt: skip
    assert json.loads(trail.loc[2, "payload"])["level"] == 2


def test_record_reviews_audits_each_inserted_review(store_url: str) -> None:
    """One review_decision event per review inserted, none for a review already stored."""
    with DecisionStore(store_url) as store:
        assert store.record_reviews(_review_frame()) == 2
        assert store.record_reviews(_review_frame()) == 0
        trail = store.audit_events()
    assert trail[["seq", "kind", "subject"]].values.tolist() == [
        [1, "review_decision", "C1"],
        [2, "review_decision", "C2"],
    ]
    assert trail["run_id"].isna().all()
    assert json.loads(trail.loc[0, "payload"]) == {
        "action": "hold", "as_of": "2026-11-23", "clerk_id": "clerk-7",
        "customer_id": "K-1", "decided_at": "2026-11-24T09:00:00.000000Z",
        "hold_until": "2026-11-27", "invoice_ids": "R-1|R-2", "offer": None,
        "reason": "pays Friday", "review_id": "REV-1",
    }  # fmt: skip


def test_runs_decisions_and_letters_write_no_events(store_url: str) -> None:
    """The pipeline records run and case events itself (record_events); these add none."""
    with DecisionStore(store_url) as store:
        store.record_run(as_of=AS_OF, portfolio_hash="h", n_cases=0, run_id="R1")
        store.record_letters(
            "R1", pd.DataFrame({"case_id": ["C1"], "format": ["pdf"], "path": ["p"],
                                "sha256": ["a" * 64]})
        )  # fmt: skip
        assert store.audit_events().empty


def _refuse_letter_events(url: str) -> None:
    """Make the database itself refuse letter_issued events (as a full disk would)."""
    with _sql(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "ALTER TABLE audit_events ADD CONSTRAINT no_letters "
                    "CHECK (kind NOT IN ('letter_issued', 'review_decision'))"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_letters BEFORE INSERT ON audit_events "
                    "WHEN NEW.kind IN ('letter_issued', 'review_decision') "
                    "BEGIN SELECT RAISE(ABORT, 'no_letters'); END"
                )
            )


def test_issuing_and_auditing_are_one_transaction(store_url: str) -> None:
    """When the audit event cannot be written, the letter is not issued either."""
    with DecisionStore(store_url):
        pass
    _refuse_letter_events(store_url)
    with DecisionStore(store_url) as store:
        with pytest.raises(StoreError, match=r"recording 2 issued letters failed.*no_letters"):
            store.record_issued(_issued_events(), issued_at=AT)
        with pytest.raises(StoreError, match=r"recording 2 reviews failed.*no_letters"):
            store.record_reviews(_review_frame())
        assert store.issued().empty
        assert store.reviews().empty
        assert store.audit_events().empty


# --- tampering with the database directly ---------------------------------------------------


def test_intact_trail_verifies(store_url: str) -> None:
    """Events from every writer in one chain: ok, with the count and the head hash."""
    with DecisionStore(store_url) as store:
        store.record_events([{"kind": "run_started", "run_id": "R1", "at": AT}])
        store.record_issued(_issued_events(), issued_at=AT)
        store.record_reviews(_review_frame())
        check = store.verify_audit()
        head = store.audit_events()["chain_hash"].iloc[-1]
    assert (check.ok, check.events, check.first_broken, check.head) == (True, 5, None, head)
    assert check.reason == f"all 5 events link up; head {head[:16]}…"
    assert check.anchor == (5, head)


def test_changed_payload_is_detected(store_url: str) -> None:
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(
            text("UPDATE audit_events SET payload = :p WHERE seq = 3"),
            {"p": '{"level":1,"open_amount":"9.90"}'},
        )
    check = _verify(store_url)
    assert (check.ok, check.first_broken, check.events) == (False, 3, 5)
    assert check.reason == (
        "event 3 (case_proposed) does not match its content_hash: its seq, at, kind, run_id, "
        "subject or payload was changed after it was recorded"
    )


@pytest.mark.parametrize(
    ("statement", "first", "reason"),
    [
        ("UPDATE audit_events SET subject = 'C9' WHERE seq = 2", 2, "does not match its content"),
        ("UPDATE audit_events SET run_id = NULL WHERE seq = 5", 5, "does not match its content"),
        ("UPDATE audit_events SET kind = 'run_started' WHERE seq = 4", 4, "(run_started) does"),
        ("UPDATE audit_events SET chain_hash = prev_hash WHERE seq = 2", 2,
         "chain_hash is not sha256(prev_hash + content_hash)"),
        ("UPDATE audit_events SET prev_hash = :zeros WHERE seq = 4", 4,
         "prev_hash is not the chain_hash of event 3"),
        ("DELETE FROM audit_events WHERE seq = 1", 1,
         "event 1 is missing: the trail starts at event 2 (deleted)"),
    ],
)  # fmt: skip
def test_other_direct_changes_are_detected(
    store_url: str, statement: str, first: int, reason: str
) -> None:
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(text(statement), {"zeros": AUDIT_GENESIS} if ":zeros" in statement else {})
    check = _verify(store_url)
    assert (check.ok, check.first_broken) == (False, first)
    assert reason in check.reason


def test_changed_time_is_detected(store_url: str) -> None:
    """Backdating an event by a second (a valid time) breaks its content hash."""
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(
            text("UPDATE audit_events SET at = :at WHERE seq = 2"),
            {"at": AT + timedelta(minutes=1, seconds=-1)},
        )
    assert _verify(store_url).first_broken == 2


def test_garbled_time_is_reported_not_raised(tmp_path: Path) -> None:
    """SQLite keeps any text in a column: a time that is no time is a broken event."""
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    _five_events(url)
    with _sql(url) as conn:
        conn.execute(text("UPDATE audit_events SET at = 'yesterday' WHERE seq = 4"))
    check = _verify(url)
    assert (check.ok, check.first_broken, check.events) == (False, 4, 5)
    assert check.reason.startswith("event 4: at is 'yesterday', not a time")
    with DecisionStore(url) as store, pytest.raises(StoreError, match="event 4: at is"):
        store.export_audit(tmp_path / "audit.jsonl")
    assert not (tmp_path / "audit.jsonl").exists()


def test_deleted_middle_event_is_detected(store_url: str) -> None:
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    check = _verify(store_url)
    assert (check.ok, check.first_broken, check.events) == (False, 3, 4)
    assert check.reason == "event 3 is missing: event 2 is followed by event 4 (deleted)"


def _forge(url: str, seq: int, prev_hash: str, kind: str = "payment_received") -> None:
    """Insert an event whose content_hash and chain_hash are computed exactly as the store does."""
    at = "2026-11-23T06:33:30.000000Z"
    payload = '{"amount":"5000.00","currency":"EUR"}'
    content = _sha("\n".join(_field(v) for v in [str(seq), at, kind, None, "R-8", payload]))
    with _sql(url) as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, kind, run_id, subject, payload, "
                "content_hash, prev_hash, chain_hash) "
                "VALUES (:seq, :at, :kind, NULL, 'R-8', :payload, :content, :prev, :chain)"
            ),
            {"seq": seq, "at": datetime(2026, 11, 23, 6, 33, 30, tzinfo=UTC), "kind": kind,
             "payload": payload, "content": content, "prev": prev_hash,
             "chain": _sha(prev_hash + content)},
        )  # fmt: skip


def test_forged_event_inserted_in_the_middle_is_detected(store_url: str) -> None:
    """Events 4 and 5 moved up to make room; the forged event 4 itself looks consistent."""
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(text("UPDATE audit_events SET seq = 6 WHERE seq = 5"))
        conn.execute(text("UPDATE audit_events SET seq = 5 WHERE seq = 4"))
    _forge(store_url, 4, _stored(store_url, 3)["chain_hash"])
    check = _verify(store_url)
    assert (check.ok, check.first_broken, check.events) == (False, 5, 6)
    assert "event 5 (payment_received) does not match its content_hash" in check.reason


def test_forged_event_appended_with_a_wrong_link_is_detected(store_url: str) -> None:
    """A forged last event with a correct content hash, chained to event 3 instead of 5."""
    _five_events(store_url)
    _forge(store_url, 6, _stored(store_url, 3)["chain_hash"])
    check = _verify(store_url)
    assert (check.ok, check.first_broken) == (False, 6)
    assert check.reason.startswith("event 6: prev_hash is not the chain_hash of event 5")


def test_swapped_events_are_detected(store_url: str) -> None:
    """Events 2 and 3 exchange their places (seq): both keep their hashes, both break."""
    _five_events(store_url)
    with _sql(store_url) as conn:
        conn.execute(text("UPDATE audit_events SET seq = 1000 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = 1000"))
    check = _verify(store_url)
    assert (check.ok, check.first_broken) == (False, 2)
    assert "event 2 (case_proposed) does not match its content_hash" in check.reason


def test_rewritten_tail_and_cut_end_need_the_anchor(store_url: str) -> None:
    """Whoever recomputes every hash after a change, or deletes the last events, leaves a
    consistent chain: only an anchor kept outside the database shows it."""
    anchor = _five_events(store_url).anchor
    with _sql(store_url) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    assert _verify(store_url).ok  # consistent in itself…
    cut = _verify(store_url, anchor=anchor)  # …but not with the anchor
    assert (cut.ok, cut.first_broken, cut.events) == (False, 5, 4)
    assert cut.reason == (
        "the trail ends at event 4, but the anchor names event 5: events at its end were deleted"
    )
    # A forger re-appends event 5 with all hashes recomputed from a changed payload.
    _forge(store_url, 5, _stored(store_url, 4)["chain_hash"], kind="run_finished")
    assert _verify(store_url).ok
    rewritten = _verify(store_url, anchor=anchor)
    assert (rewritten.ok, rewritten.first_broken) == (False, 5)
    assert "the trail up to event 5 was rewritten" in rewritten.reason
    # An anchor of an earlier, untouched event still matches.
    with DecisionStore(store_url) as store:
        earlier = (3, _stored(store_url, 3)["chain_hash"])
        assert store.verify_audit(anchor=earlier).ok
        for bad in [(3, "xyz"), (-1, AUDIT_GENESIS), (0, "a" * 64), "5", (True, "a" * 64)]:
            with pytest.raises(StoreError, match=r"verify_audit: anchor .* is not"):
                store.verify_audit(anchor=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgresql_role_with_insert_and_select_only_can_record(store_url: str) -> None:
    """The documented permissions suffice: the store's lock needs no UPDATE right."""
    with DecisionStore(store_url):
        pass  # migrated by the owner
    with _sql(store_url) as conn:
        conn.execute(
            text(
                "DO $$ BEGIN CREATE ROLE dunning_app LOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
        conn.execute(text("GRANT USAGE ON SCHEMA public TO dunning_app"))
        conn.execute(text("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO dunning_app"))
    app = make_url(store_url).set(username="dunning_app").render_as_string()
    with DecisionStore(app) as store:
        assert store.record_events([{"kind": "run_started", "run_id": "R1", "at": AT}]) == 1
        assert store.record_issued(_issued_events(), issued_at=AT) == 2
        check = store.verify_audit()
        assert (check.ok, check.events) == (True, 3)
    with pytest.raises(ProgrammingError, match="permission denied for table audit_events"):
        _rows(app, "UPDATE audit_events SET payload = '{}' WHERE seq = 1")
    assert _verify(store_url).ok


# --- export and offline verification ----------------------------------------------------------


def test_export_verifies_offline_and_by_hand(store_url: str, tmp_path: Path) -> None:
    """The export holds every field as stored; the library and the documented recipe agree."""
    check = _five_events(store_url)
    with DecisionStore(store_url) as store:
        store.record_issued(_issued_events(), issued_at=AT)
        assert store.export_audit(tmp_path / "audit.jsonl") == 7
        check = store.verify_audit()
        stored = store.audit_events()
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    first = json.loads(lines[0])
    assert list(first) == [
        "seq", "at", "kind", "run_id", "subject", "payload", "content_hash", "prev_hash",
        "chain_hash",
    ]  # fmt: skip
    assert first["at"] == "2026-11-23T06:30:00.000000Z"
    assert first["payload"] == '{"n_cases":2}'
    assert [json.loads(line)["chain_hash"] for line in lines] == stored["chain_hash"].tolist()
    assert _auditor_check(lines) == check.head
    from_file = verify_audit_file(tmp_path / "audit.jsonl", anchor=check.anchor)
    assert (from_file.ok, from_file.events, from_file.head) == (True, 7, check.head)
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(
    ("change", "first", "reason"),
    [
        ("payload", 2, "event 2 (case_proposed) does not match its content_hash"),
        ("delete", 2, "event 2 is missing: event 1 is followed by event 3 (deleted)"),
        ("swap", 2, "event 2 is missing: event 1 is followed by event 3 (deleted)"),
        ("duplicate", 3, "event 3 comes again after event 3 (duplicated or reordered)"),
        ("garbage", 4, "event 4: line 4 is not a valid event: Expecting value"),
        ("fields", 1, "event 1: line 1 is not a valid event: the line is not a JSON object"),
        ("types", 5, "event 5: line 5 is not a valid event: the field(s) ['payload'] are not"),
    ],
)
def test_changed_export_is_detected(tmp_path: Path, change: str, first: int, reason: str) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    _five_events(url)
    path = tmp_path / "audit.jsonl"
    with DecisionStore(url) as store:
        store.export_audit(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if change == "payload":
        lines[1] = lines[1].replace("1234.56", "1234.65")
    elif change == "delete":
        del lines[1]
    elif change == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif change == "duplicate":
        lines.insert(3, lines[2])
    elif change == "garbage":
        lines[3] = "not json"
    elif change == "fields":
        lines[0] = json.dumps({**json.loads(lines[0]), "note": "x"})
    else:
        lines[4] = json.dumps({**json.loads(lines[4]), "payload": {}})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = verify_audit_file(path)
    assert (check.ok, check.first_broken) == (False, first)
    assert check.reason.startswith(reason)


def test_verify_audit_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cannot read the audit export .*missing\.jsonl") as info:
        verify_audit_file(tmp_path / "missing.jsonl")
    assert info.value.path == str(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    assert verify_audit_file(tmp_path / "empty.jsonl").ok
    with pytest.raises(ValueError, match="anchor"):
        verify_audit_file(tmp_path / "empty.jsonl", anchor=(1, "nope"))
    assert not verify_audit_file(tmp_path / "empty.jsonl", anchor=(1, "a" * 64)).ok
    with DecisionStore("sqlite://") as store, pytest.raises(StoreError, match="cannot write"):
        store.export_audit(tmp_path / "no-such-folder" / "audit.jsonl")


# --- concurrent appenders ----------------------------------------------------------------------

WRITER = """
import random, sys, time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from dunning.store import DecisionStore

url, writer, folder, batches = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
(folder / f"ready-{writer}").touch()
deadline = time.monotonic() + 60
while not (folder / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.002)
pause = random.Random(writer).uniform  # between transactions, as real writers have
with DecisionStore(url) as store:  # both open a database without tables: both migrate
    for i in range(batches):
        time.sleep(pause(0, 0.01))
        store.record_events([
            {"kind": "case_proposed", "run_id": writer, "subject": f"{writer}-{i}-{j}",
             "payload": {"batch": i, "j": j}}
            for j in range(3)
        ])
        # Both writers issue the same letters: each is issued, and audited, exactly once.
        store.record_issued(pd.DataFrame({
            "invoice_id": [f"R-{i}"], "level": [1], "case_id": ["C"], "customer_id": ["K"],
            "issued_on": [date(2026, 11, 23)], "channel": ["letter"], "currency": ["EUR"],
            "open_amount": [Decimal("10.00")], "run_id": [writer]}))
        time.sleep(pause(0, 0.01))
print("done")
"""


def test_concurrent_appenders_make_one_chain(store_url: str, tmp_path: Path) -> None:
    """Two processes append at the same moment to a fresh database: one unbroken chain."""
    batches = 40
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), store_url, name, str(tmp_path), str(batches)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in ("A", "B")):
            assert time.monotonic() < deadline, "the writers did not start"
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with DecisionStore(store_url) as store:
        check = store.verify_audit()
        trail = store.audit_events()
        issued = store.issued()
    assert (check.ok, check.events) == (True, 2 * 3 * batches + batches)
    assert trail["seq"].tolist() == list(range(1, len(trail) + 1))
    assert len(issued) == batches
    letters = trail.loc[trail["kind"] == "letter_issued"]
    assert sorted(letters["subject"]) == sorted(f"R-{i}" for i in range(batches))
    proposed = trail.loc[trail["kind"] == "case_proposed"]
    for writer in ("A", "B"):
        mine = proposed.loc[proposed["run_id"] == writer]
        assert mine["subject"].tolist() == [
            f"{writer}-{i}-{j}" for i in range(batches) for j in range(3)
        ]  # each writer's events in its own order…
        seqs = mine["seq"].to_numpy().reshape(batches, 3)
        assert (seqs[:, 1:] - seqs[:, :-1] == 1).all()  # …and each batch in one piece
    a, b = (proposed.loc[proposed["run_id"] == w, "seq"] for w in ("A", "B"))
    assert a.min() < b.max() and b.min() < a.max()  # they really ran at the same time


# --- migrations ----------------------------------------------------------------------------


def test_new_database_is_at_the_newest_revision(store_url: str) -> None:
    with DecisionStore(store_url):
        pass
    assert _tables(store_url) == ALL_TABLES
    assert _rows(store_url, "SELECT version_num FROM alembic_version") == [(_SCHEMA_HEAD,)]
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head == _SCHEMA_HEAD == "0002"


def test_model_and_migrations_agree(store_url: str) -> None:
    """Autogenerate finds nothing to change after the migrations ran (alembic check)."""
    with DecisionStore(store_url):
        pass
    command.check(_alembic_config(store_url))  # raises when the model and database differ
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, _metadata) == []
    finally:
        engine.dispose()


def _legacy_metadata(with_workflow: bool) -> MetaData:
    """The schema as dunning created it before migrations (git f08987d and e9ac555).

    ``with_workflow=False``: dunning 0.1, runs/decisions/letters. ``True``: the
    propose/review/issue workflow added issued and reviews. Frozen copies, on purpose.
    """
    meta = MetaData()
    Table(
        "runs", meta,
        Column("run_id", String(64), primary_key=True),
        Column("as_of", Date, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("portfolio_hash", String(128), nullable=False),
        Column("n_cases", Integer, nullable=False),
        Column("software_version", String(64), nullable=False),
    )  # fmt: skip
    Table(
        "decisions", meta,
        Column("run_id", String(64), primary_key=True),
        Column("invoice_id", String(64), primary_key=True),
        Column("case_id", String(64), nullable=True),
        Column("customer_id", String(64), nullable=False),
        Column("level", Integer, nullable=False),
        Column("open_amount", String(32), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("risk", Float, nullable=True),
        Column("offer", String(32), nullable=False),
        Column("reasons", Text, nullable=False),
    )  # fmt: skip
    Table(
        "letters", meta,
        Column("run_id", String(64), primary_key=True),
        Column("case_id", String(64), primary_key=True),
        Column("format", String(8), primary_key=True),
        Column("path", Text, nullable=False),
        Column("sha256", String(64), nullable=False),
    )  # fmt: skip
    if with_workflow:
        Table(
            "issued", meta,
            Column("invoice_id", String(64), primary_key=True),
            Column("level", Integer, primary_key=True),
            Column("case_id", String(96), nullable=False),
            Column("customer_id", String(64), nullable=False),
            Column("issued_on", Date, nullable=False),
            Column("channel", String(8), nullable=False),
            Column("currency", String(3), nullable=False),
            Column("fee", String(32), nullable=False),
            Column("interest", String(32), nullable=False),
            Column("flat_fee", String(32), nullable=False),
            Column("earlier_fees", String(32), nullable=False),
            Column("open_amount", String(32), nullable=False),
            Column("run_id", String(64), nullable=True),
            Column("issued_at", DateTime(timezone=True), nullable=False),
            Column("approved_by", String(64), nullable=True),
            CheckConstraint("level >= 1", name="ck_issued_level"),
        )  # fmt: skip
        Table(
            "reviews", meta,
            Column("review_id", String(64), primary_key=True),
            Column("case_id", String(96), nullable=False),
            Column("customer_id", String(64), nullable=False),
            Column("invoice_ids", Text, nullable=False),
            Column("action", String(16), nullable=False),
            Column("clerk_id", String(64), nullable=False),
            Column("reason", Text, nullable=False),
            Column("offer", String(32), nullable=True),
            Column("hold_until", Date, nullable=True),
            Column("decided_at", DateTime(timezone=True), nullable=False),
            Column("as_of", Date, nullable=False),
            CheckConstraint(
                "action IN ('approve', 'change_offer', 'hold', 'escalate')",
                name="ck_reviews_action",
            ),
        )  # fmt: skip
    return meta


def _make_legacy_store(url: str, *, with_workflow: bool) -> None:
    meta = _legacy_metadata(with_workflow)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            meta.create_all(conn)
            conn.execute(
                meta.tables["runs"].insert(),
                [{"run_id": "R0", "as_of": AS_OF, "created_at": AT, "portfolio_hash": "h",
                  "n_cases": 1, "software_version": "0.1.0"}],
            )  # fmt: skip
            conn.execute(
                meta.tables["decisions"].insert(),
                [{"run_id": "R0", "invoice_id": "R-1", "case_id": "C1", "customer_id": "K-1",
                  "level": 2, "open_amount": "1234.56", "currency": "EUR", "risk": 0.25,
                  "offer": "none", "reasons": "LATE_12M"}],
            )  # fmt: skip
            if with_workflow:
                conn.execute(
                    meta.tables["issued"].insert(),
                    [{"invoice_id": "R-1", "level": 1, "case_id": "C0", "customer_id": "K-1",
                      "issued_on": date(2026, 11, 2), "channel": "letter", "currency": "EUR",
                      "fee": "0", "interest": "1.20", "flat_fee": "0", "earlier_fees": "0",
                      "open_amount": "1234.56", "run_id": None, "issued_at": AT,
                      "approved_by": "clerk-7"}],
                )  # fmt: skip
    finally:
        engine.dispose()


@pytest.mark.parametrize("with_workflow", [False, True], ids=["v0.1", "workflow"])
def test_store_made_before_migrations_is_adopted(store_url: str, with_workflow: bool) -> None:
    """Old tables and rows are kept, the missing tables added, the schema then matches."""
    _make_legacy_store(store_url, with_workflow=with_workflow)
    assert "alembic_version" not in _tables(store_url)
    with DecisionStore(store_url) as store:
        assert store.runs()["run_id"].tolist() == ["R0"]
        decisions = store.decisions("R0")
        assert decisions["open_amount"].tolist() == [Decimal("1234.56")]
        history = store.issued()
        assert len(history) == int(with_workflow)
        assert store.audit_events().empty  # no events are invented for old rows
        assert store.record_issued(_issued_events(), issued_at=AT) == 2
        assert store.record_reviews(_review_frame()) == 2
        assert store.verify_audit().events == 4
    if with_workflow:
        assert history.loc[0, "interest"] == Decimal("1.20")
        assert history.loc[0, "approved_by"] == "clerk-7"
    assert _tables(store_url) == ALL_TABLES
    assert _rows(store_url, "SELECT version_num FROM alembic_version") == [(_SCHEMA_HEAD,)]
    command.check(_alembic_config(store_url))


def test_downgrade_and_upgrade_again(store_url: str) -> None:
    with DecisionStore(store_url):
        pass
    command.downgrade(_alembic_config(store_url), "base")
    assert _tables(store_url) == {"alembic_version"}
    with DecisionStore(store_url) as store:
        assert store.record_events([{"kind": "run_started", "at": AT}]) == 1
    assert _tables(store_url) == ALL_TABLES


def test_database_of_a_newer_version_is_refused(store_url: str) -> None:
    with DecisionStore(store_url):
        pass
    with _sql(store_url) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError, match=r"is at schema revision '0099', which this version"):
        DecisionStore(store_url)


def test_migrating_leaves_logging_and_output_alone(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """No fileConfig: handlers, levels and existing loggers stay as the application set them."""
    root = logging.getLogger()
    ours = logging.getLogger("dunning.store")
    before = (list(root.handlers), root.level, ours.disabled, ours.level,
              logging.getLogger("alembic").level)  # fmt: skip
    with DecisionStore(f"sqlite:///{tmp_path / 'd.sqlite'}") as store:
        store.record_events([{"kind": "run_started", "at": AT}])
    after = (list(root.handlers), root.level, ours.disabled, ours.level,
             logging.getLogger("alembic").level)  # fmt: skip
    assert after == before
    assert capfd.readouterr() == ("", "")
