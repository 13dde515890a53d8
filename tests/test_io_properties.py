"""Property tests of dunning.io.load_portfolio: no row is ever lost, accepted rows are valid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.io import LoadResult, load_portfolio
from dunning.models import (
    SCHEMAS,
    Customer,
    DunningEvent,
    Invoice,
    Payment,
    PaymentPromise,
)
from dunning.money import minor_units

AS_OF = date(2026, 11, 23)
TABLES = ("customers", "invoices", "payments", "history", "promises")
CURRENCIES = ("EUR", "GBP", "CHF", "USD")


@dataclass
class Case:
    """Generated tables (all text), the style they are written in, and known bad rows."""

    tables: dict[str, pd.DataFrame]
    german: bool
    as_csv: bool
    must_reject: set[tuple[str, int]] = field(default_factory=set)


def money_text(cents: int, german: bool) -> str:
    """Cents as an amount with two decimals, in the German or English format."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    if german:
        return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d}"
    return f"{sign}{whole}.{rest:02d}"


def date_text(day: date, german: bool) -> str:
    """A date as dd.mm.yyyy or yyyy-mm-dd."""
    return day.strftime("%d.%m.%Y" if german else "%Y-%m-%d")


def pick(draw: st.DrawFn, options: list[str], n: int) -> list[str]:
    """``n`` values drawn from ``options``."""
    return [draw(st.sampled_from(options)) for _ in range(n)]


def later(draw: st.DrawFn, day: date, most: int) -> date:
    """A day 0 to ``most`` days after ``day``."""
    return day + timedelta(days=draw(st.integers(0, most)))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Valid tables, then a few mutations of the kinds real exports have."""
    german = draw(st.booleans())
    start = date(2025, 1, 1)
    n_customers = draw(st.integers(1, 4))
    customers = pd.DataFrame(
        {
            "customer_id": [f"K{i}" for i in range(n_customers)],
            "name": [f"Kunde {i}" for i in range(n_customers)],
            "country": pick(draw, ["DE", "AT", "GB"], n_customers),
            "language": pick(draw, ["de", "en"], n_customers),
            "segment": pick(draw, ["B2C", "B2B"], n_customers),
            "vulnerable": pick(draw, ["ja", "nein", "", "true"], n_customers),
        },
        dtype=object,
    )
    n_invoices = draw(st.integers(0, 6))
    issue = [later(draw, start, 600) for _ in range(n_invoices)]
    currency = pick(draw, list(CURRENCIES), n_invoices)
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"R{i}" for i in range(n_invoices)],
            "customer_id": [f"K{draw(st.integers(0, n_customers - 1))}" for _ in issue],
            "issue_date": [date_text(day, german) for day in issue],
            "due_date": [date_text(later(draw, day, 60), german) for day in issue],
            "amount": [money_text(draw(st.integers(1, 10**8)), german) for _ in issue],
            "currency": currency,
            "disputed": pick(draw, ["", "nein", "ja", "0"], n_invoices),
        },
        dtype=object,
    )
    n_payments = draw(st.integers(0, 6)) if n_invoices else 0
    paid = [draw(st.integers(0, n_invoices - 1)) for _ in range(n_payments)]
    payments = pd.DataFrame(
        {
            "payment_id": [f"Z{i}" for i in range(n_payments)],
            "invoice_id": [f"R{i}" for i in paid],
            "payment_date": [date_text(later(draw, issue[i], 30), german) for i in paid],
            "amount": [money_text(draw(st.integers(1, 10**6)), german) for _ in paid],
            "currency": [currency[i] for i in paid],
        },
        dtype=object,
    )
    n_history = draw(st.integers(0, 4)) if n_invoices else 0
    dunned = [draw(st.integers(0, n_invoices - 1)) for _ in range(n_history)]
    history = pd.DataFrame(
        {
            "invoice_id": [f"R{i}" for i in dunned],
            "level": [str(draw(st.integers(1, 5))) for _ in dunned],
            "issued_on": [date_text(later(draw, issue[i], 30), german) for i in dunned],
            "channel": pick(draw, ["letter", "email", "sms"], n_history),
        },
        dtype=object,
    )
    n_promises = draw(st.integers(0, 4)) if n_invoices else 0
    promised = [draw(st.integers(0, n_invoices - 1)) for _ in range(n_promises)]
    made = [later(draw, issue[i], 30) for i in promised]
    with_amount = [draw(st.booleans()) for _ in promised]
    promises = pd.DataFrame(
        {
            "promise_id": [f"V{i}" for i in range(n_promises)],
            "invoice_id": [f"R{i}" for i in promised],
            "promised_on": [date_text(day, german) for day in made],
            "promised_by": [date_text(later(draw, day, 20), german) for day in made],
            "amount": [
                money_text(draw(st.integers(1, 10**6)), german) if given else ""
                for given in with_amount
            ],
            "currency": [
                currency[i] if given else "" for i, given in zip(promised, with_amount, strict=True)
            ],
        },
        dtype=object,
    )
    tables = {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "history": history,
        "promises": promises,
    }
    case = Case(tables, german, as_csv=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 4))):
        mutate(draw, case)
    for table in ("customers", "invoices", "payments", "promises"):  # every row of a repeated id
        ids = case.tables[table][SCHEMAS[table][0].name]
        repeated = ids.ne("") & ids.duplicated(keep=False)
        case.must_reject.update((table, int(row)) for row in ids.index[repeated])
    return case


#: Mutation → the tables it applies to.
MUTATIONS: dict[str, tuple[str, ...]] = {
    "blank": TABLES,
    "blank_required": TABLES,
    "garbage_number": ("invoices", "payments", "promises"),
    "bad_date": ("invoices", "payments", "history", "promises"),
    "duplicate_id": ("customers", "invoices", "payments", "promises"),
    "negative": ("invoices", "payments", "promises"),
    "unknown_reference": ("invoices", "payments", "history", "promises"),
    "other_currency": ("payments", "promises"),
    "garbage_code": TABLES,
    "promise_early": ("promises",),
}
CODE_KINDS = ("currency", "country", "segment", "channel")


def mutate(draw: st.DrawFn, case: Case) -> None:
    """Apply one mutation to one row; remember rows that must be rejected."""
    kind = draw(st.sampled_from(sorted(MUTATIONS)))
    tables = [t for t in MUTATIONS[kind] if len(case.tables[t]) > (kind == "duplicate_id")]
    if not tables:
        return
    table = draw(st.sampled_from(tables))
    frame = case.tables[table]
    row = draw(st.integers(0, len(frame) - 1))
    specs = SCHEMAS[table]
    certain = True
    if kind == "blank":
        frame.iloc[row, draw(st.integers(0, frame.shape[1] - 1))] = ""
        certain = False
    elif kind == "blank_required":
        required = [s.name for s in specs if s.required]
        frame.loc[row, draw(st.sampled_from(required))] = ""
    elif kind == "garbage_number":
        frame.loc[row, "amount"] = draw(st.sampled_from(["12,3x", "abc", "€", "1.2.3,4,5", "--5"]))
    elif kind == "bad_date":
        dated = [s.name for s in specs if s.kind == "date"]
        bad = draw(st.sampled_from(["31.02.2026", "2026-13-01", "soon", "2026/02/30"]))
        frame.loc[row, draw(st.sampled_from(dated))] = bad
    elif kind == "duplicate_id":  # which rows repeat an id is worked out at the end
        other = draw(st.integers(0, len(frame) - 1).filter(lambda r: r != row))
        frame.loc[row, specs[0].name] = frame.loc[other, specs[0].name]
        certain = False
    elif kind == "negative":
        frame.loc[row, "amount"] = draw(st.sampled_from(["-1,00", "-1.00", "0,00", "0.00", "-0"]))
    elif kind == "unknown_reference":
        frame.loc[row, "customer_id" if table == "invoices" else "invoice_id"] = "NOPE"
    elif kind == "promise_early":
        frame.loc[row, "promised_by"] = date_text(date(2024, 12, 31), case.german)
    elif kind == "other_currency":
        current = frame.loc[row, "currency"]
        frame.loc[row, "currency"] = draw(st.sampled_from([c for c in CURRENCIES if c != current]))
    else:  # garbage_code
        codes = [s.name for s in specs if s.kind in CODE_KINDS]
        frame.loc[row, draw(st.sampled_from(codes))] = draw(st.sampled_from(["XX", "?", "€"]))
    if certain:
        case.must_reject.add((table, row))


def load(case: Case, folder: Path) -> LoadResult:
    """Load the case's tables from DataFrames or from CSV files in the case's style."""
    if not case.as_csv:
        return load_portfolio(**case.tables, as_of=AS_OF)  # type: ignore[arg-type]
    paths = {}
    for name, frame in case.tables.items():
        path = folder / f"{name}.csv"
        text = frame.to_csv(sep=";" if case.german else ",", index=False)
        path.write_bytes(text.encode("cp1252" if case.german else "utf-8"))
        paths[name] = path
    return load_portfolio(**paths, as_of=AS_OF)  # type: ignore[arg-type]


def optional(value: object) -> object:
    """``None`` for a missing value, else the value."""
    return None if pd.isna(value) else value  # type: ignore[call-overload]


def check_accepted_rows_are_valid(result: LoadResult) -> None:
    """Accepted rows satisfy the schema, the domain models and the cross-table rules."""
    portfolio = result.portfolio
    cutoff = pd.Timestamp(AS_OF)
    for table, frame in portfolio.tables().items():
        assert frame.columns.tolist() == [s.name for s in SCHEMAS[table]]
        for spec in SCHEMAS[table]:
            if spec.required:
                assert not frame[spec.name].isna().any(), (table, spec.name)
    for row in portfolio.customers.itertuples(index=False):
        Customer(
            customer_id=row.customer_id,
            name=row.name,
            country=row.country,
            language=row.language,
            segment=row.segment,
            vulnerable=bool(optional(row.vulnerable) or False),
        )
    invoices = portfolio.invoices
    for row in invoices.itertuples(index=False):
        Invoice(
            invoice_id=row.invoice_id,
            customer_id=row.customer_id,
            issue_date=row.issue_date.date(),
            due_date=row.due_date.date(),
            amount=row.amount,
            currency=row.currency,
            disputed=optional(row.disputed),
        )
        assert row.amount.as_tuple().exponent == -minor_units(row.currency)
        assert row.issue_date <= cutoff
    currency_of = dict(zip(invoices["invoice_id"], invoices["currency"], strict=True))
    for row in portfolio.payments.itertuples(index=False):
        Payment(
            payment_id=row.payment_id,
            invoice_id=row.invoice_id,
            payment_date=row.payment_date.date(),
            amount=row.amount,
            currency=row.currency,
        )
        assert row.amount > Decimal(0)
        assert currency_of[row.invoice_id] == row.currency
        assert row.payment_date <= cutoff
    for row in portfolio.promises.itertuples(index=False):
        PaymentPromise(
            promise_id=row.promise_id,
            invoice_id=row.invoice_id,
            promised_on=row.promised_on.date(),
            promised_by=row.promised_by.date(),
            amount=row.amount,
            currency=optional(row.currency),
        )
        assert row.invoice_id in currency_of
        assert row.promised_on <= cutoff
        if row.amount is not None:
            assert currency_of[row.invoice_id] == row.currency
    for row in portfolio.history.itertuples(index=False):
        DunningEvent(
            invoice_id=row.invoice_id,
            level=int(row.level),
            issued_on=row.issued_on.date(),
            channel=row.channel,
        )
        assert row.invoice_id in currency_of
    assert set(invoices["customer_id"]) <= set(portfolio.customers["customer_id"])
    for table in ("customers", "invoices", "payments", "promises"):
        frame = portfolio.tables()[table]
        assert frame[SCHEMAS[table][0].name].is_unique


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=cases())
def test_every_row_is_accepted_or_rejected_and_accepted_rows_are_valid(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """rows_in == accepted + rejected per table, known-bad rows are rejected, the rest valid."""
    result = load(case, tmp_path_factory.mktemp("case"))
    rejected_rows = result.rejects.groupby("table")["row"].agg(set)
    for table in TABLES:
        rejected = rejected_rows.get(table, set())
        assert result.rows_in[table] == len(case.tables[table])
        assert result.rows_in[table] == result.rows_accepted[table] + len(rejected)
        for bad_table, position in case.must_reject:
            if bad_table == table:
                assert position + 2 in rejected, (table, position, result.rejects)
    check_accepted_rows_are_valid(result)
