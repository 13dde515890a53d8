"""Loading real-world data without losing a row: dunning.io.load_portfolio."""

from __future__ import annotations

import io
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dunning.errors import DataError
from dunning.io import CsvFormat, LoadResult, load_portfolio, reject_rules
from dunning.models import SCHEMAS

FIXTURES = Path(__file__).parent / "fixtures" / "io"
BASE = FIXTURES / "base"
AS_OF = date(2026, 11, 23)
TABLES = ("customers", "invoices", "payments", "history", "promises")

#: German ERP export (tests/fixtures/io/erp_de): column names per table.
ERP_MAPPING = {
    "customers": {
        "Kundennummer": "customer_id",
        "Name": "name",
        "Straße": "street",
        "PLZ": "postal_code",
        "Ort": "city",
        "Land": "country",
        "Sprache": "language",
        "Segment": "segment",
        "Branche": "industry",
        "E-Mail": "email",
        "Telefon": "phone",
        "IBAN": "iban",
        "Schutzbedürftig": "vulnerable",
        "Einwilligung": "contact_consent",
    },
    "invoices": {
        "Rechnungsnummer": "invoice_id",
        "Kundennummer": "customer_id",
        "Rechnungsdatum": "issue_date",
        "Fälligkeitsdatum": "due_date",
        "Betrag": "amount",
        "Währung": "currency",
        "Strittig": "disputed",
    },
    "payments": {
        "Zahlungsnummer": "payment_id",
        "Rechnungsnummer": "invoice_id",
        "Zahlungsdatum": "payment_date",
        "Betrag": "amount",
        "Währung": "currency",
    },
}

#: One fixture per reject rule: file → the rejects expected in its table, as
#: (row, column, value, reason code). Each file is the base table plus the bad row(s).
REJECT_FIXTURES: dict[str, list[tuple[int, str, str, str]]] = {
    "customers__malformed_row": [(3, "<row>", "K-9,Broken Line,DE", "malformed_row")],
    "customers__empty_row": [(4, "<row>", "", "empty_row")],
    "invoices__missing_required": [(3, "amount", "", "missing_required")],
    "customers__invalid_id": [(5, "customer_id", "K-" + "9" * 63, "invalid_id")],
    "invoices__unparsable_number": [(2, "amount", "12.50 EUR", "unparsable_number")],
    "invoices__ambiguous_number": [(4, "amount", "1.234", "ambiguous_number")],
    "invoices__unparsable_date": [(4, "issue_date", "2026-02-30", "unparsable_date")],
    "invoices__ambiguous_date": [(5, "issue_date", "03/04/2026", "ambiguous_date")],
    "invoices__unknown_currency": [(3, "currency", "XYZ", "unknown_currency")],
    "invoices__invalid_boolean": [(5, "disputed", "maybe", "invalid_boolean")],
    "customers__invalid_country": [(2, "country", "XX", "invalid_country")],
    "customers__invalid_language": [(5, "language", "fr", "invalid_language")],
    "customers__invalid_segment": [(3, "segment", "B2G", "invalid_segment")],
    "customers__invalid_industry": [(4, "industry", "Z", "invalid_industry")],
    "customers__invalid_channel": [(5, "contact_consent", "letter;fax", "invalid_channel")],
    "history__invalid_channel": [(3, "channel", "pigeon", "invalid_channel")],
    "customers__invalid_iban": [(3, "iban", "DE00370400440532013000", "invalid_iban")],
    "history__invalid_level": [(4, "level", "7", "invalid_level")],
    "invoices__non_positive_amount": [(3, "amount", "0.00", "non_positive_amount")],
    "payments__non_positive_amount": [(4, "amount", "-45.90", "non_positive_amount")],
    "invoices__too_many_decimals": [(5, "amount", "10.005", "too_many_decimals")],
    "invoices__due_before_issue": [(2, "due_date", "2026-10-01", "due_before_issue")],
    "invoices__after_as_of": [(4, "issue_date", "2026-12-01", "after_as_of")],
    "payments__after_as_of": [(3, "payment_date", "2026-11-24", "after_as_of")],
    "history__after_as_of": [(4, "issued_on", "2026-11-30", "after_as_of")],
    "invoices__duplicate_id": [
        (3, "invoice_id", "R-2", "duplicate_id"),
        (5, "invoice_id", "R-2", "duplicate_id"),
    ],
    "invoices__unknown_customer": [(3, "customer_id", "K-99", "unknown_customer")],
    "payments__unknown_invoice": [(2, "invoice_id", "R-99", "unknown_invoice")],
    "history__unknown_invoice": [(3, "invoice_id", "R-99", "unknown_invoice")],
    "payments__currency_mismatch": [(4, "currency", "USD", "currency_mismatch")],
    "promises__promise_before_made": [(4, "promised_by", "2026-10-19", "promise_before_made")],
    "promises__after_as_of": [(3, "promised_on", "2026-11-24", "after_as_of")],
    "promises__unknown_invoice": [(2, "invoice_id", "R-99", "unknown_invoice")],
    "promises__duplicate_id": [
        (2, "promise_id", "V-1", "duplicate_id"),
        (4, "promise_id", "V-1", "duplicate_id"),
    ],
    "promises__currency_mismatch": [(3, "currency", "GBP", "currency_mismatch")],
    "promises__missing_required": [(3, "currency", "", "missing_required")],
}


def base_tables(**replace: object) -> dict[str, object]:
    """The five base fixture files, with some tables replaced."""
    tables: dict[str, object] = {t: BASE / f"{t}.csv" for t in TABLES}
    tables.update(replace)
    return tables


def codes(rejects: pd.DataFrame) -> list[str]:
    """The rule code of each reject."""
    return [reason.split(":", 1)[0] for reason in rejects["reason"]]


def assert_invariant(result: LoadResult) -> None:
    """Every row read is accepted or rejected, per table."""
    rejected = result.rejects.groupby("table")["row"].nunique()
    for table in TABLES:
        n_rejected = int(rejected.get(table, 0))
        assert result.rows_in[table] == result.rows_accepted[table] + n_rejected, table
        assert result.rows_rejected[table] == n_rejected
        assert len(getattr(result.portfolio, table)) == result.rows_accepted[table]


def assert_canonical(frame: pd.DataFrame, table: str) -> None:
    """Columns, order and dtypes are those of dunning.models.SCHEMAS."""
    specs = SCHEMAS[table]
    assert frame.columns.tolist() == [s.name for s in specs]
    for spec in specs:
        dtype = str(frame[spec.name].dtype)
        expected = {
            "date": "datetime64[ns]",
            "money": "object",
            "bool": "boolean",
            "int": "int64",
        }.get(spec.kind, "str")
        assert dtype == expected, (table, spec.name, dtype)


# --------------------------------------------------------------------------- base


def test_base_fixture_loads_every_row_with_canonical_values() -> None:
    """A clean export loads completely, with exact Decimals, dates and canonical dtypes."""
    result = load_portfolio(**base_tables(), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rejects.empty
    assert dict(result.rows_in) == {
        "customers": 3,
        "invoices": 3,
        "payments": 2,
        "history": 2,
        "promises": 2,
    }
    assert dict(result.rows_accepted) == dict(result.rows_in)
    for table, frame in result.portfolio.tables().items():
        assert_canonical(frame, table)
    invoices = result.portfolio.invoices
    assert invoices["amount"].tolist() == [Decimal("119.00"), Decimal("2500.50"), Decimal("45.90")]
    assert [a.as_tuple().exponent for a in invoices["amount"]] == [-2, -2, -2]
    assert invoices["issue_date"].tolist() == [
        pd.Timestamp("2026-09-01"),
        pd.Timestamp("2026-09-10"),
        pd.Timestamp("2026-10-01"),
    ]
    assert invoices["disputed"].tolist() == [False, pd.NA, True]
    customers = result.portfolio.customers
    assert customers["vulnerable"].tolist() == [False, False, True]
    assert customers["contact_consent"].tolist() == ["email|letter", "email", "letter"]
    assert customers["industry"].isna().tolist() == [True, False, True]
    assert customers["city"].tolist() == ["Berlin", "London", "München"]
    assert result.portfolio.history["level"].tolist() == [1, 1]


# --------------------------------------------------------------------------- rejects


@pytest.mark.parametrize("fixture", sorted(REJECT_FIXTURES))
def test_reject_fixture_names_row_column_value_and_rule(fixture: str) -> None:
    """Each rule rejects exactly its bad row, at its source line, column and value."""
    table = fixture.split("__")[0]
    result = load_portfolio(
        **base_tables(**{table: FIXTURES / "rejects" / f"{fixture}.csv"}),  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    rejects = result.rejects.loc[result.rejects["table"] == table]
    found = list(
        zip(rejects["row"], rejects["column"], rejects["value"], codes(rejects), strict=True)
    )
    assert found == REJECT_FIXTURES[fixture]
    assert (rejects["source"] == str(FIXTURES / "rejects" / f"{fixture}.csv")).all()
    assert_invariant(result)


def test_every_reject_rule_has_a_fixture() -> None:
    """The fixture table covers every documented rule code."""
    covered = {expected[3] for rows in REJECT_FIXTURES.values() for expected in rows}
    assert covered == set(reject_rules())


def test_reject_reasons_have_stable_wording() -> None:
    """Reasons start with the rule code and say what is wrong in plain words."""
    tables = base_tables(
        invoices=FIXTURES / "rejects" / "invoices__due_before_issue.csv",
        payments=FIXTURES / "rejects" / "payments__currency_mismatch.csv",
    )
    result = load_portfolio(**tables, as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rejects["reason"].tolist() == [
        "due_before_issue: due date 2026-10-01 is before issue date 2026-10-15",
        "currency_mismatch: the payment is in USD but invoice 'R-3' is in EUR",
    ]


def test_duplicate_ids_reject_all_rows_and_their_dependants() -> None:
    """Both rows of a duplicated id are rejected, and so are payments for that id."""
    result = load_portfolio(
        **base_tables(invoices=FIXTURES / "rejects" / "invoices__duplicate_id.csv"),  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    assert result.rejects["reason"].tolist() == [
        "duplicate_id: 'R-2' is on 2 rows (lines 3, 5); all of them are rejected",
        "duplicate_id: 'R-2' is on 2 rows (lines 3, 5); all of them are rejected",
        "unknown_invoice: invoice 'R-2' was rejected (see the invoices rejects)",
    ]
    assert result.portfolio.invoices["invoice_id"].tolist() == ["R-1", "R-3"]
    assert result.portfolio.payments["payment_id"].tolist() == ["Z-1"]


def test_rejected_customer_rejects_its_invoices_payments_and_history() -> None:
    """A rejected customer cascades down: invoices, then payments, history and promises."""
    customers = FIXTURES / "rejects" / "customers__invalid_iban.csv"
    text = customers.read_text().replace("K-4,Bad Bank", "K-1,Bad Bank")
    result = load_portfolio(
        **base_tables(customers=pd.read_csv(io.StringIO(text), dtype=str)),  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    assert list(zip(result.rejects["table"], codes(result.rejects), strict=True)) == [
        ("customers", "duplicate_id"),
        ("customers", "invalid_iban"),
        ("customers", "duplicate_id"),
        ("invoices", "unknown_customer"),
        ("payments", "unknown_invoice"),
        ("history", "unknown_invoice"),
        ("promises", "unknown_invoice"),
    ]
    assert_invariant(result)


def test_row_with_several_problems_has_one_reject_per_problem_but_counts_once() -> None:
    """Two problems on one line give two reject lines and one rejected row."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R-1", "R-2"],
            "customer_id": ["K-1", "K-404"],
            "issue_date": ["2026-09-01", "2026-12-24"],
            "due_date": ["2026-09-15", "2026-12-01"],
            "amount": ["119.00", "-1.00"],
            "currency": ["EUR", "EURO"],
        }
    )
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert codes(rejects) == [
        "unknown_currency",
        "due_before_issue",
        "non_positive_amount",
        "after_as_of",
        "unknown_customer",
    ]
    assert set(rejects["row"]) == {3}
    assert result.rows_rejected["invoices"] == 1
    assert_invariant(result)


# --------------------------------------------------------------------------- formats


def test_german_erp_export_loads_with_exact_amounts_dates_and_umlauts() -> None:
    """A ;-separated, decimal-comma, dd.mm.yyyy, Windows-1252 export loads as it is."""
    erp = FIXTURES / "erp_de"
    result = load_portfolio(
        erp / "kunden.csv",
        erp / "rechnungen.csv",
        erp / "zahlungen.csv",
        as_of=AS_OF,
        mapping=ERP_MAPPING,
    )
    assert result.rejects.empty
    invoices = result.portfolio.invoices
    assert invoices["invoice_id"].tolist() == ["2026-0001", "2026-0002", "2026-0003", "2026-0004"]
    assert invoices["customer_id"].tolist() == ["10001", "10002", "10003", "10002"]
    assert invoices["amount"].tolist() == [
        Decimal("1234.56"),
        Decimal("12345.00"),
        Decimal("99.50"),
        Decimal("1000.00"),
    ]
    assert invoices["issue_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-09-01",
        "2026-09-05",
        "2026-10-07",
        "2026-10-15",
    ]
    assert invoices["disputed"].tolist() == [False, True, pd.NA, False]
    assert result.portfolio.payments["amount"].tolist() == [Decimal("234.56"), Decimal("12345.00")]
    customers = result.portfolio.customers
    assert customers["name"].tolist() == ["Jürgen Müller", "Bäckerei Größe GmbH", "Zoë Weiß"]
    assert customers["street"].tolist()[1] == "Schloßstraße 3"
    assert customers["iban"].tolist()[0] == "DE89370400440532013000"
    assert customers["contact_consent"].tolist()[:2] == ["letter", "email|letter"]
    assert customers["vulnerable"].tolist() == [False, True, pd.NA]
    for table, frame in result.portfolio.tables().items():
        assert_canonical(frame, table)


def test_german_erp_export_loads_with_one_flat_mapping() -> None:
    """A flat mapping applies to every table; the same ERP name maps the same way."""
    flat = {k: v for renames in ERP_MAPPING.values() for k, v in renames.items()}
    erp = FIXTURES / "erp_de"
    result = load_portfolio(
        erp / "kunden.csv", erp / "rechnungen.csv", erp / "zahlungen.csv", as_of=AS_OF, mapping=flat
    )
    assert dict(result.rows_accepted) == {
        "customers": 3,
        "invoices": 4,
        "payments": 2,
        "history": 0,
        "promises": 0,
    }


def test_german_column_rejects_point_decimal_with_suggestion(tmp_path: Path) -> None:
    """'30.00' in a decimal-comma column is neither 30 nor 3000: it is rejected."""
    text = (FIXTURES / "erp_de" / "rechnungen.csv").read_bytes().replace(b"99,5", b"30.00")
    (tmp_path / "rechnungen.csv").write_bytes(text)
    result = load_portfolio(
        FIXTURES / "erp_de" / "kunden.csv",
        tmp_path / "rechnungen.csv",
        FIXTURES / "erp_de" / "zahlungen.csv",
        as_of=AS_OF,
        mapping=ERP_MAPPING,
    )
    assert result.rejects[["row", "column", "value"]].values.tolist() == [[4, "amount", "30.00"]]
    assert result.rejects["reason"].iloc[0] == (
        "unparsable_number: '30.00' is not a number in this column's format (decimal ',', "
        "e.g. '1.234,56'); did you mean '30,00'?"
    )


def test_wrong_explicit_encoding_is_a_data_error() -> None:
    """A Windows-1252 file read as UTF-8 stops with the line and a hint, not mojibake."""
    erp = FIXTURES / "erp_de"
    with pytest.raises(
        DataError, match=r"kunden\.csv: line 1 cannot be decoded \(it is not utf-8; byte 0xdf\)"
    ) as info:
        load_portfolio(
            erp / "kunden.csv",
            erp / "rechnungen.csv",
            erp / "zahlungen.csv",
            as_of=AS_OF,
            mapping=ERP_MAPPING,
            csv=CsvFormat(encoding="utf-8"),
        )
    assert info.value.path == str(erp / "kunden.csv")


def test_utf8_bom_file_loads() -> None:
    """A UTF-8 file with a byte-order mark loads; the BOM is not part of the first name."""
    result = load_portfolio(**base_tables(invoices=FIXTURES / "bom" / "invoices.csv"), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rejects.empty
    assert result.portfolio.invoices["invoice_id"].tolist() == ["R-1", "R-2", "R-3"]


def test_ambiguous_slash_dates_are_rejected_with_the_option_to_pass() -> None:
    """Slash dates no value disambiguates are rejected, naming CsvFormat(date_format=...)."""
    result = load_portfolio(
        **base_tables(invoices=FIXTURES / "slash_dates" / "invoices.csv"),  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert rejects[["row", "column", "value"]].values.tolist() == [
        [2, "issue_date", "09/01/2026"],
        [3, "issue_date", "09/10/2026"],
        [4, "issue_date", "10/01/2026"],
    ]
    assert rejects["reason"].iloc[0] == (
        "ambiguous_date: '09/01/2026' could be 2026-01-09 (dd/mm/yyyy) or 2026-09-01 "
        "(mm/dd/yyyy) and no date in the column decides; pass "
        "CsvFormat(date_format='%d/%m/%Y') or CsvFormat(date_format='%m/%d/%Y')"
    )
    assert result.rows_accepted["invoices"] == 0


def test_slash_dates_load_with_a_date_format() -> None:
    """The same file loads exactly once the format is given."""
    result = load_portfolio(
        **base_tables(invoices=FIXTURES / "slash_dates" / "invoices.csv"),  # type: ignore[arg-type]
        as_of=AS_OF,
        csv=CsvFormat(date_format="%m/%d/%Y"),
    )
    assert result.rejects.empty
    invoices = result.portfolio.invoices
    assert invoices["issue_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-09-01",
        "2026-09-10",
        "2026-10-01",
    ]
    assert invoices["due_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-09-15",
        "2026-10-10",
        "2026-10-05",
    ]


def test_slash_dates_decided_by_a_value_in_the_column() -> None:
    """One day above 12 in the column decides the order for the whole column."""
    invoices = pd.read_csv(FIXTURES / "base" / "invoices.csv", dtype=str)
    invoices["issue_date"] = ["01/09/2026", "10/09/2026", "30/09/2026"]
    invoices["due_date"] = ["03/10/2026", "03/10/2026", "03/10/2026"]
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert codes(rejects) == ["ambiguous_date"] * 3  # due dates: nothing decides
    assert rejects["column"].tolist() == ["due_date"] * 3
    decided = invoices.assign(due_date=["03/10/2026", "03/10/2026", "31/10/2026"])
    issue = load_portfolio(**base_tables(invoices=decided), as_of=AS_OF).portfolio.invoices[  # type: ignore[arg-type]
        "issue_date"
    ]
    assert issue.dt.strftime("%Y-%m-%d").tolist() == ["2026-09-01", "2026-09-10", "2026-09-30"]


def test_explicit_decimal_and_thousands_read_swiss_amounts() -> None:
    """CsvFormat(decimal='.', thousands="'") reads 1'234.50 exactly."""
    invoices = pd.read_csv(FIXTURES / "base" / "invoices.csv", dtype=str)
    invoices["amount"] = ["1'234.50", "2'500.5", "45"]
    result = load_portfolio(
        **base_tables(invoices=invoices),  # type: ignore[arg-type]
        as_of=AS_OF,
        csv=CsvFormat(decimal=".", thousands="'"),
    )
    assert result.portfolio.invoices["amount"].tolist() == [
        Decimal("1234.50"),
        Decimal("2500.50"),
        Decimal("45.00"),
    ]


def test_amount_rules_follow_the_currency_minor_unit() -> None:
    """JPY has no decimals, trailing zeros are not decimals, SAP's trailing minus is negative."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R-1", "R-2", "R-3", "R-4", "R-5"],
            "customer_id": "K-1",
            "issue_date": "2026-09-01",
            "due_date": "2026-09-30",
            "amount": ["1000", "10.5", "12.300", "12.50-", "12345678901234"],
            "currency": ["JPY", "JPY", "EUR", "EUR", "EUR"],
        }
    )
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.portfolio.invoices["amount"].tolist() == [Decimal("1000"), Decimal("12.30")]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert rejects["reason"].tolist() == [
        "too_many_decimals: '10.5' has 1 decimals; JPY allows 0",
        "non_positive_amount: the amount must be greater than zero, got '12.50-'",
        "unparsable_number: '12345678901234' has 16 digits with its decimals; amounts have "
        "at most 15",
    ]


def test_booleans_channels_and_codes_are_normalised() -> None:
    """Yes/no spellings, channel lists and code case are stored canonically."""
    customers = pd.DataFrame(
        {
            "customer_id": ["K-1", "K-2", "K-3", "K-4"],
            "name": ["A", "B", "C", "D"],
            "country": ["de", "GB", "at", "CH"],
            "language": ["DE", "en", "de", "de"],
            "segment": ["b2c", "B2B", "B2C", "b2b"],
            "industry": [None, "j", "", "C"],
            "vulnerable": ["Ja", "NEIN", "1", "0"],
            "contact_consent": ["sms letter", "EMAIL;letter", "email|email", ""],
        }
    )
    result = load_portfolio(
        **base_tables(customers=customers, invoices=BASE / "invoices.csv"), as_of=AS_OF
    )  # type: ignore[arg-type]
    out = result.portfolio.customers
    assert out["country"].tolist() == ["DE", "GB", "AT", "CH"]
    assert out["language"].tolist() == ["de", "en", "de", "de"]
    assert out["segment"].tolist() == ["B2C", "B2B", "B2C", "B2B"]
    assert out["industry"].tolist()[1] == "J"
    assert out["vulnerable"].tolist() == [True, False, True, False]
    assert out["contact_consent"].tolist()[:3] == ["letter|sms", "email|letter", "email"]
    assert pd.isna(out["contact_consent"].iloc[3])


def test_optional_columns_absent_are_created_as_missing() -> None:
    """Absent optional columns become NA columns; their missing rate is 1."""
    customers = pd.DataFrame(
        {
            "customer_id": ["K-1", "K-2", "K-3"],
            "name": ["A", "B", "C"],
            "country": "DE",
            "language": "de",
            "segment": "B2C",
        }
    )
    result = load_portfolio(**base_tables(customers=customers), as_of=AS_OF)  # type: ignore[arg-type]
    out = result.portfolio.customers
    assert_canonical(out, "customers")
    assert out["iban"].isna().all()
    assert out["vulnerable"].isna().all()
    quality = result.quality.set_index(["table", "column", "check"])
    assert quality.loc[("customers", "iban", "missing"), "rate"] == 1.0
    assert quality.loc[("customers", "name", "missing"), "rate"] == 0.0


# --------------------------------------------------------------------------- inputs


def test_mapping_renames_foreign_columns_per_table() -> None:
    """A per-table mapping renames only that table's columns."""
    invoices = pd.read_csv(BASE / "invoices.csv", dtype=str).rename(
        columns={"invoice_id": "Rechnungsnummer", "amount": "Betrag"}
    )
    result = load_portfolio(
        **base_tables(invoices=invoices),  # type: ignore[arg-type]
        as_of=AS_OF,
        mapping={"invoices": {"Rechnungsnummer": "invoice_id", "Betrag": "amount"}},
    )
    assert result.rejects.empty
    assert result.portfolio.invoices["invoice_id"].tolist() == ["R-1", "R-2", "R-3"]


def test_mapping_errors_name_the_problem() -> None:
    """Unknown targets and tables are DataErrors; mixing both forms is a TypeError."""
    with pytest.raises(DataError, match=r"'invoice_number' is not a canonical column"):
        load_portfolio(**base_tables(), as_of=AS_OF, mapping={"Nr": "invoice_number"})  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"unknown table\(s\) 'rechnungen'"):
        load_portfolio(**base_tables(), as_of=AS_OF, mapping={"rechnungen": {"Nr": "invoice_id"}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not mix both"):
        load_portfolio(
            **base_tables(),  # type: ignore[arg-type]
            as_of=AS_OF,
            mapping={"Nr": "invoice_id", "invoices": {"Nr": "invoice_id"}},  # type: ignore[dict-item]
        )


def test_two_columns_mapped_to_one_name_is_a_data_error() -> None:
    """Two source columns giving the same canonical column are refused, not merged."""
    invoices = pd.read_csv(BASE / "invoices.csv", dtype=str).assign(Betrag="1,00")
    with pytest.raises(
        DataError, match=r"columns 'amount' and 'Betrag'.* both give column 'amount'"
    ):
        load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF, mapping={"Betrag": "amount"})  # type: ignore[arg-type]


def test_dataframe_rows_are_numbered_as_if_written_to_csv() -> None:
    """DataFrame row i (0-based position, any index) is line i + 2."""
    invoices = pd.read_csv(BASE / "invoices.csv", dtype=str)
    invoices.index = [10, 20, 30]
    invoices.loc[20, "amount"] = "zero"
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert rejects[["source", "row", "column", "value"]].values.tolist() == [
        ["<DataFrame>", 3, "amount", "zero"]
    ]


def test_dataframe_with_typed_columns_loads() -> None:
    """Decimal, datetime, bool and integer columns are read as their exact text."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["R-1", "R-2", "R-3"],
            "customer_id": ["K-1", "K-2", "K-3"],
            "issue_date": pd.to_datetime(["2026-09-01", "2026-09-10", "2026-10-01"]),
            "due_date": [date(2026, 9, 15), date(2026, 10, 10), date(2026, 10, 15)],
            "amount": [Decimal("119.00"), Decimal("2500.5"), Decimal("45.900")],
            "currency": ["EUR", "GBP", "EUR"],
            "disputed": [False, None, True],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": [1, 2],
            "invoice_id": ["R-1", "R-2"],
            "payment_date": pd.to_datetime(["2026-09-20", "2026-10-12 00:00"], format="mixed"),
            "amount": [50.0, 2500.5],
            "currency": ["EUR", "GBP"],
        }
    )
    result = load_portfolio(**base_tables(invoices=invoices, payments=payments), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rejects.empty
    assert result.portfolio.invoices["amount"].tolist() == [
        Decimal("119.00"),
        Decimal("2500.50"),
        Decimal("45.90"),
    ]
    assert result.portfolio.invoices["disputed"].tolist() == [False, pd.NA, True]
    assert result.portfolio.payments["payment_id"].tolist() == ["1", "2"]
    assert result.portfolio.payments["amount"].tolist() == [Decimal("50.00"), Decimal("2500.50")]


def test_dataframe_datetime_with_time_of_day_is_rejected() -> None:
    """A timestamp that is not midnight is not silently cut to a day."""
    history = pd.DataFrame(
        {
            "invoice_id": ["R-1"],
            "level": [1],
            "issued_on": pd.to_datetime(["2026-09-16 14:30"]),
            "channel": ["letter"],
        }
    )
    result = load_portfolio(**base_tables(history=history), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rejects["reason"].tolist() == [
        "unparsable_date: '2026-09-16 14:30:00.000000' has a time of day; dates must be days"
    ]


def test_parquet_input_loads_with_csv_row_numbers(tmp_path: Path) -> None:
    """A .parquet file loads like a CSV; rows are numbered from 2."""
    invoices = pd.read_csv(BASE / "invoices.csv", dtype=str)
    invoices["amount"] = [Decimal("119.00"), Decimal("-2500.50"), Decimal("45.90")]
    invoices["issue_date"] = pd.to_datetime(invoices["issue_date"])
    path = tmp_path / "invoices.parquet"
    invoices.to_parquet(path)
    result = load_portfolio(**base_tables(invoices=path), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert rejects[["source", "row", "column", "value"]].values.tolist() == [
        [str(path), 3, "amount", "-2500.50"]
    ]
    assert result.portfolio.invoices["amount"].tolist() == [Decimal("119.00"), Decimal("45.90")]
    assert result.portfolio.invoices["issue_date"].tolist() == [
        pd.Timestamp("2026-09-01"),
        pd.Timestamp("2026-10-01"),
    ]


def test_history_none_is_an_empty_table() -> None:
    """Without a history, the history table is empty and canonical."""
    result = load_portfolio(
        BASE / "customers.csv", BASE / "invoices.csv", BASE / "payments.csv", as_of=AS_OF
    )
    assert result.rows_in["history"] == 0
    assert_canonical(result.portfolio.history, "history")


# --------------------------------------------------------------------------- CSV lines


def test_malformed_lines_are_rejected_and_reading_resumes(tmp_path: Path) -> None:
    """Wrong field counts and an unclosed quote cost one line each; line numbers stay exact."""
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_id,customer_id,issue_date,due_date,amount,currency\n"
        'R-1,K-1,2026-09-01,2026-09-15,"119.00",EUR\n'
        'R-2,K-2,2026-09-10,2026-10-10,"2500.50,GBP\n'
        "R-3,K-3,2026-10-01\n"
        "\n"
        "R-4,K-3,2026-10-01,2026-10-15,45.90,EUR,,\n"
    )
    result = load_portfolio(**base_tables(invoices=path), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "invoices"]
    assert rejects[["row", "column"]].values.tolist() == [
        [3, "<row>"],
        [4, "<row>"],
        [5, "<row>"],
    ]
    assert codes(rejects) == ["malformed_row", "malformed_row", "empty_row"]
    assert rejects["reason"].iloc[1] == "malformed_row: line 4 has 3 fields, the header has 6"
    assert result.portfolio.invoices["invoice_id"].tolist() == ["R-1", "R-4"]
    assert_invariant(result)


def test_quoted_newlines_keep_line_numbers_exact(tmp_path: Path) -> None:
    """A value spanning two lines moves the next record's line number by two."""
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id;name;street;country;language;segment\n"
        'K-1;"Erika\nMustermann";"Hauptstr. 1";DE;de;B2C\n'
        "K-2;Ada;;XX;en;B2B\n"
        "K-3;Max;;DE;de;B2C\n"
    )
    result = load_portfolio(**base_tables(customers=path), as_of=AS_OF)  # type: ignore[arg-type]
    rejects = result.rejects.loc[result.rejects["table"] == "customers"]
    assert rejects[["row", "column", "value"]].values.tolist() == [[4, "country", "XX"]]
    assert result.portfolio.customers["name"].tolist() == ["Erika\nMustermann", "Max"]


def test_header_only_and_classic_mac_line_ends(tmp_path: Path) -> None:
    """A header without rows is an empty table; '\\r' line ends are lines too."""
    header_only = tmp_path / "payments.csv"
    header_only.write_text("payment_id,invoice_id,payment_date,amount,currency")
    mac = tmp_path / "invoices.csv"
    mac.write_bytes((BASE / "invoices.csv").read_bytes().replace(b"\n", b"\r"))
    mac.write_bytes(mac.read_bytes().replace(b"45.90", b"45.9x"))
    result = load_portfolio(**base_tables(payments=header_only, invoices=mac), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rows_in["payments"] == 0
    assert_canonical(result.portfolio.payments, "payments")
    assert result.rejects[["table", "row", "value"]].values.tolist() == [
        ["invoices", 4, "45.9x"],
        ["history", 3, "R-3"],
        ["promises", 3, "R-3"],
    ]


# --------------------------------------------------------------------------- DataError


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    """A file that does not exist stops the load, naming the file."""
    missing = tmp_path / "rechnungen.csv"
    with pytest.raises(DataError, match=r"rechnungen\.csv: file not found") as info:
        load_portfolio(**base_tables(invoices=missing), as_of=AS_OF)  # type: ignore[arg-type]
    assert info.value.path == str(missing)


@pytest.mark.parametrize("name", ["invoices.xlsx", "invoices.txt", "invoices"])
def test_unsupported_extension_is_a_data_error(tmp_path: Path, name: str) -> None:
    """Only .csv and .parquet files are read."""
    path = tmp_path / name
    path.write_text("invoice_id\n")
    with pytest.raises(DataError, match=r"unsupported file type .*expected a \.csv or \.parquet"):
        load_portfolio(**base_tables(invoices=path), as_of=AS_OF)  # type: ignore[arg-type]


def test_directory_empty_file_and_broken_parquet_are_data_errors(tmp_path: Path) -> None:
    """Unreadable inputs stop the load with the file's name."""
    folder = tmp_path / "invoices.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="is a directory"):
        load_portfolio(**base_tables(invoices=folder), as_of=AS_OF)  # type: ignore[arg-type]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf \r\n")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load_portfolio(**base_tables(invoices=empty), as_of=AS_OF)  # type: ignore[arg-type]
    broken = tmp_path / "invoices.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"invoices\.parquet: cannot be read as Parquet") as info:
        load_portfolio(**base_tables(invoices=broken), as_of=AS_OF)  # type: ignore[arg-type]
    assert info.value.path == str(broken)


def test_missing_required_columns_name_file_all_columns_and_columns_found(tmp_path: Path) -> None:
    """The error lists every absent required column and the columns that were found."""
    path = tmp_path / "rechnungen.csv"
    path.write_text("Rechnungsnummer;customer_id;issue_date;due_date;Betrag\nR-1;K-1;;;1,00\n")
    with pytest.raises(DataError) as info:
        load_portfolio(**base_tables(invoices=path), as_of=AS_OF)  # type: ignore[arg-type]
    assert info.value.missing == ("invoice_id", "amount", "currency")
    assert info.value.path == str(path)
    assert str(info.value) == (
        f"{path}: the invoices table lacks the required column(s) 'invoice_id', 'amount', "
        "'currency' (after mapping). Columns found: 'Rechnungsnummer', 'customer_id', "
        "'issue_date', 'due_date', 'Betrag'. Rename columns with "
        "mapping={'<column found>': '<required column>'} or add them."
    )


def test_missing_required_column_in_dataframe_names_the_table() -> None:
    """DataFrames are named '<DataFrame>' in errors, with the table they were given as."""
    payments = pd.DataFrame({"payment_id": ["Z-1"], "invoice_id": ["R-1"]})
    with pytest.raises(DataError, match=r"<DataFrame>: the payments table lacks") as info:
        load_portfolio(**base_tables(payments=payments), as_of=AS_OF)  # type: ignore[arg-type]
    assert info.value.missing == ("payment_date", "amount", "currency")
    assert info.value.path == "<DataFrame>"


def test_bad_arguments_are_refused() -> None:
    """Wrong argument types and impossible CsvFormat values fail early."""
    with pytest.raises(TypeError, match=r"as_of must be a datetime\.date"):
        load_portfolio(**base_tables(), as_of="2026-11-23")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="invoices must be the path"):
        load_portfolio(**base_tables(invoices=42), as_of=AS_OF)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"decimal must be ',' or '\.'"):
        CsvFormat(decimal=";")
    with pytest.raises(DataError, match="sep must be one character"):
        CsvFormat(sep=";;")
    with pytest.raises(DataError, match="does not read back"):
        CsvFormat(date_format="%d.%m.")
    with pytest.raises(DataError, match="unknown encoding"):
        CsvFormat(encoding="klingon")


# --------------------------------------------------------------------------- robustness

HOSTILE = [None, "", "€", "30.00", "\ufeff", " ", "NULL", "-0", "1e5", "١٢", "ÄÖÜß", "'", '"', ";"]


def german_invoices(column: str, values: list[object]) -> pd.DataFrame:
    """Three valid German invoices, then one more per value with it in ``column``."""
    valid = pd.DataFrame(
        {
            "invoice_id": ["R-1", "R-2", "R-3"],
            "customer_id": ["K-1", "K-2", "K-3"],
            "issue_date": ["01.09.2026", "10.09.2026", "01.10.2026"],
            "due_date": ["15.09.2026", "10.10.2026", "15.10.2026"],
            "amount": ["1.234,56", "12,50", "99,00"],
            "currency": ["EUR", "GBP", "EUR"],
            "disputed": ["nein", "", "ja"],
        },
        dtype=object,
    )
    extra = pd.DataFrame(
        {
            "invoice_id": [f"X-{n}" for n in range(len(values))],
            "customer_id": "K-1",
            "issue_date": "02.10.2026",
            "due_date": "16.10.2026",
            "amount": "7,00",
            "currency": "EUR",
            "disputed": "nein",
        },
        dtype=object,
    )
    extra[column] = pd.Series(values, dtype=object)
    return pd.concat([valid, extra], ignore_index=True)


@pytest.mark.parametrize("column", [s.name for s in SCHEMAS["invoices"]])
def test_hostile_input_corpus_never_crashes_or_loses_a_row(tmp_path: Path, column: str) -> None:
    """None, '', '€', '30.00' in a German column, BOM, Windows-1252: all accounted for."""
    frame = german_invoices(column, HOSTILE)
    result = load_portfolio(**base_tables(invoices=frame), as_of=AS_OF)  # type: ignore[arg-type]
    assert_invariant(result)
    assert result.rows_in["invoices"] == 3 + len(HOSTILE)
    assert result.portfolio.invoices["invoice_id"].tolist()[:3] == ["R-1", "R-2", "R-3"]
    for encoding, prefix in (("utf-8", ""), ("utf-8", "\ufeff"), ("cp1252", "")):
        values = HOSTILE if encoding == "utf-8" else [v for v in HOSTILE if v != "١٢"]
        values = [v for v in values if v != "\ufeff"] if encoding == "cp1252" else values
        text = prefix + german_invoices(column, values).to_csv(sep=";", index=False)
        path = tmp_path / f"{encoding}-{len(prefix)}.csv"
        path.write_bytes(text.encode(encoding))
        result = load_portfolio(**base_tables(invoices=path), as_of=AS_OF)  # type: ignore[arg-type]
        assert_invariant(result)
        assert result.rows_in["invoices"] == 3 + len(values)
        accepted = result.portfolio.invoices["invoice_id"].tolist()
        assert accepted[:3] == ["R-1", "R-2", "R-3"], encoding


def test_point_decimal_in_german_amount_column_is_never_read_as_a_number() -> None:
    """'30.00' among decimal-comma amounts is rejected, not read as 30 or 3000."""
    invoices = german_invoices("amount", ["30.00"])
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.portfolio.invoices["amount"].tolist() == [
        Decimal("1234.56"),
        Decimal("12.50"),
        Decimal("99.00"),
    ]
    assert result.rejects[["row", "value"]].values.tolist() == [[5, "30.00"]]
    assert codes(result.rejects) == ["unparsable_number"]


# --------------------------------------------------------------------------- reporting


def test_quality_is_tidy_with_missing_rates_and_reject_counts() -> None:
    """One line per table, column and check; rates are shares of the rows read."""
    invoices = pd.read_csv(FIXTURES / "rejects" / "invoices__missing_required.csv", dtype=str)
    result = load_portfolio(**base_tables(invoices=invoices), as_of=AS_OF)  # type: ignore[arg-type]
    quality = result.quality
    assert quality.columns.tolist() == ["table", "column", "check", "count", "rate"]
    lines = quality.loc[quality["table"] == "invoices"]
    assert lines.loc[lines["column"] == "amount", ["check", "count"]].values.tolist() == [
        ["missing", 1],
        ["missing_required", 1],
    ]
    assert lines.loc[lines["column"] == "disputed", "rate"].tolist() == [0.5]
    n_lines = sum(len(SCHEMAS[t]) for t in TABLES)
    assert (quality["check"] == "missing").sum() == n_lines
    assert not quality.duplicated(["table", "column", "check"]).any()


def test_summary_and_warning_log_count_rejects(caplog: pytest.LogCaptureFixture) -> None:
    """The summary and one WARNING line per table report the rejects."""
    with caplog.at_level(logging.WARNING, logger="dunning.io"):
        result = load_portfolio(
            **base_tables(invoices=FIXTURES / "rejects" / "invoices__duplicate_id.csv"),  # type: ignore[arg-type]
            as_of=AS_OF,
        )
    assert [r.getMessage() for r in caplog.records] == [
        "invoices: 2 of 4 rows rejected (duplicate_id 2)",
        "payments: 1 of 2 rows rejected (unknown_invoice 1)",
    ]
    assert result.summary() == (
        "table      rows_in  accepted  rejected\n"
        "customers        3         3         0\n"
        "invoices         4         2         2\n"
        "payments         2         1         1\n"
        "history          2         2         0\n"
        "promises         2         2         0\n"
        "Rejects by column and rule:\n"
        "  invoices.invoice_id  duplicate_id     2\n"
        "  payments.invoice_id  unknown_invoice  1"
    )


def test_load_is_deterministic() -> None:
    """Loading the same input twice gives identical results."""
    tables = base_tables(invoices=FIXTURES / "rejects" / "invoices__duplicate_id.csv")
    first = load_portfolio(**tables, as_of=AS_OF)  # type: ignore[arg-type]
    second = load_portfolio(**tables, as_of=AS_OF)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(first.rejects, second.rejects)
    pd.testing.assert_frame_equal(first.quality, second.quality)
    for table in TABLES:
        pd.testing.assert_frame_equal(
            getattr(first.portfolio, table), getattr(second.portfolio, table)
        )
    assert np.array_equal(
        first.portfolio.invoices["due_date"].to_numpy(),
        second.portfolio.invoices["due_date"].to_numpy(),
    )


# --------------------------------------------------------------------------- promises


def test_promises_load_with_optional_amount_and_exact_reasons() -> None:
    """Promises load with Decimal or None amounts; an early promised_by names both dates."""
    result = load_portfolio(**base_tables(), as_of=AS_OF)  # type: ignore[arg-type]
    promises = result.portfolio.promises
    assert_canonical(promises, "promises")
    assert promises["promise_id"].tolist() == ["V-1", "V-2"]
    assert promises["amount"].tolist() == [Decimal("69.00"), None]
    assert promises["promised_by"].dt.strftime("%Y-%m-%d").tolist() == ["2026-09-30", "2026-10-31"]
    bad = load_portfolio(
        **base_tables(promises=FIXTURES / "rejects" / "promises__promise_before_made.csv"),  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    assert bad.rejects["reason"].tolist() == [
        "promise_before_made: promised_by 2026-10-19 is before promised_on 2026-10-20"
    ]


def test_promises_default_to_an_empty_canonical_table() -> None:
    """Without a promises table the portfolio has an empty, canonical one."""
    tables = base_tables()
    del tables["promises"]
    result = load_portfolio(**tables, as_of=AS_OF)  # type: ignore[arg-type]
    assert result.rows_in["promises"] == 0
    assert len(result.portfolio.promises) == 0
    assert_canonical(result.portfolio.promises, "promises")
