"""The domain models validate one record each with field-named messages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from dunning.models import (
    SCHEMAS,
    Customer,
    DunningEvent,
    Invoice,
    Payment,
    Portfolio,
    is_valid_country,
    is_valid_iban,
)

INVOICE = {
    "invoice_id": "R-1",
    "customer_id": "K-1",
    "issue_date": date(2026, 10, 1),
    "due_date": date(2026, 10, 15),
    "amount": Decimal("119.00"),
    "currency": "EUR",
}


def _error(model: type, **fields: object) -> str:
    with pytest.raises(ValidationError) as info:
        model(**fields)
    return str(info.value)


def test_invoice_accepts_a_valid_record_and_is_frozen() -> None:
    """A valid invoice validates and cannot be changed afterwards."""
    invoice = Invoice(**INVOICE)
    assert invoice.amount == Decimal("119.00")
    with pytest.raises(ValidationError):
        invoice.amount = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": Decimal("1.234")}, "more decimals than EUR allows"),
        ({"amount": Decimal("-5")}, "greater than 0"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"currency": "XYZ"}, "unknown currency 'XYZ'"),
        ({"due_date": date(2026, 9, 1)}, "due date 2026-09-01 is before issue date 2026-10-01"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invoice_rejects_bad_values_with_a_reason(change: dict[str, object], expected: str) -> None:
    """Each broken rule is named in the validation message."""
    assert expected in _error(Invoice, **{**INVOICE, **change})


def test_customer_validates_country_iban_and_consent() -> None:
    """Countries are ISO alpha-2, IBANs pass schwifty, consent names known channels."""
    base = {
        "customer_id": "K-1",
        "name": "Erika Mustermann",
        "country": "DE",
        "language": "de",
        "segment": "B2C",
    }
    customer = Customer(**base, iban="DE89 3704 0044 0532 0130 00")
    assert customer.iban == "DE89370400440532013000"
    assert customer.street is None
    assert "invalid IBAN" in _error(Customer, **base | {"iban": "DE00370400440532013000"})
    assert "ISO 3166-1" in _error(Customer, **base | {"country": "Germany"})
    assert "contact_consent" in _error(Customer, **base | {"contact_consent": {"fax"}})


def test_payment_and_history_records() -> None:
    """Payments need positive exact amounts; history levels are 1 to 5."""
    payment = Payment(
        payment_id="P-1",
        invoice_id="R-1",
        payment_date=date(2026, 11, 1),
        amount=Decimal("50.00"),
        currency="EUR",
    )
    assert payment.amount == Decimal("50.00")
    assert "less than or equal to 5" in _error(
        DunningEvent, invoice_id="R-1", level=6, issued_on=date(2026, 11, 1), channel="letter"
    )


def test_empty_portfolio_has_the_canonical_columns_and_dtypes() -> None:
    """Every table of an empty portfolio has exactly the schema's columns and dtypes."""
    portfolio = Portfolio.empty()
    for table, frame in portfolio.tables().items():
        assert list(frame.columns) == [spec.name for spec in SCHEMAS[table]]
    assert str(portfolio.invoices["issue_date"].dtype) == "datetime64[ns]"
    assert str(portfolio.invoices["disputed"].dtype) == "boolean"
    assert str(portfolio.history["level"].dtype) == "int64"


def test_value_checks_for_vectorised_filters() -> None:
    """The boolean checkers never raise, whatever they get."""
    assert [is_valid_country(v) for v in ("AT", "at", None, 49)] == [True, False, False, False]
    assert [is_valid_iban(v) for v in ("GB82WEST12345698765432", "", None)] == [True, False, False]


def test_payment_promise_checks_dates_and_money() -> None:
    """A promise must be paid-by on or after it was made, with both amount and currency or none."""
    from dunning.models import PaymentPromise

    made, by = date(2026, 11, 2), date(2026, 11, 16)
    promise = PaymentPromise(
        promise_id="V-1", invoice_id="R-1", promised_on=made, promised_by=by,
        amount=Decimal("10.50"), currency="EUR",
    )  # fmt: skip
    assert promise.amount == Decimal("10.50")
    with pytest.raises(ValidationError, match="promised_by 2026-11-01 is before promised_on"):
        PaymentPromise(
            promise_id="V-2", invoice_id="R-1", promised_on=made, promised_by=date(2026, 11, 1)
        )
    with pytest.raises(ValidationError, match="both amount and currency"):
        PaymentPromise(
            promise_id="V-3",
            invoice_id="R-1",
            promised_on=made,
            promised_by=by,
            amount=Decimal("1"),
        )
    with pytest.raises(ValidationError, match="more decimals than EUR"):
        PaymentPromise(
            promise_id="V-4", invoice_id="R-1", promised_on=made, promised_by=by,
            amount=Decimal("1.005"), currency="EUR",
        )  # fmt: skip
