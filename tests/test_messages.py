"""Messages: the letter as a real MIME e-mail (.eml) and as an SMS with GSM-7 / UCS-2 counts."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import hashlib
import math
import re
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from babel.numbers import format_currency

from dunning.datasets import make_portfolio
from dunning.errors import RenderError
from dunning.ledger import open_items
from dunning.letters import Creditor, render_html, render_letters
from dunning.messages import (
    EMAIL_MANIFEST_COLUMNS,
    SMS_COLUMNS,
    TEXT_WIDTH,
    measure_sms,
    render_email,
    render_sms,
    write_emails,
    write_sms,
)
from dunning.workflow import Scores, propose

AS_OF = date(2026, 11, 23)
CREDITOR = Creditor.demo()
DE_ID, EN_ID = "C20261123-aaaaaaaaaa", "C20261123-bbbbbbbbbb"


def _cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [DE_ID, EN_ID],
            "customer_id": ["K-1", "K-2"],
            "name": ["Erika Mustermann", "Acme Trading Ltd"],
            "street": ["Hauptstraße 5", "1 High Street"],
            "postal_code": ["80331", "EC1A 1BB"],
            "city": ["München", "London"],
            "country": ["DE", "GB"],
            "email": ["erika@example.com", "accounts@acme.example"],
            "language": ["de", "en"],
            "currency": ["EUR", "EUR"],
            "total": [Decimal("1234.56"), Decimal("100.00")],
            "level": [3, 2],
            "n_invoices": [2, 1],
            "offer": ["installment_plan", "none"],
            "installments": [3, 3],
        }
    )


def _decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [DE_ID, DE_ID, EN_ID],
            "invoice_id": ["RE-2026-0815", "RE-2026-0904", "INV-77"],
            "issue_date": pd.to_datetime(["2026-09-01", "2026-09-20", "2026-10-01"]),
            "due_date": pd.to_datetime(["2026-09-15", "2026-10-04", "2026-10-15"]),
            "days_overdue": [69, 50, 39],
            "open_amount": [Decimal("1200.00"), Decimal("34.56"), Decimal("100.00")],
            "currency": ["EUR", "EUR", "EUR"],
        }
    )


def _reasons() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["RE-2026-0815", "INV-77", "RE-2026-0904"],
            "lang": ["de", "en", "en"],
            "code": ["LATE_12M", "LATE_12M", "LATE_12M"],
            "contribution": [0.8, 0.6, 0.9],
            "text": [
                "Sie haben in den letzten 12 Monaten 4 Rechnungen verspätet bezahlt.",
                "You paid 4 invoices late in the last 12 months.",
                "Wrong language: must not appear in the German e-mail.",
            ],
        }
    )


def _case(case_id: str, **columns: Any) -> dict[str, Any]:
    cases = _cases().set_index("case_id", drop=False)
    return {**cases.loc[case_id].to_dict(), **columns}


def _email(case_id: str = DE_ID, **columns: Any) -> EmailMessage:
    case = _case(case_id, **columns)
    return render_email(
        case,
        _decisions(),
        _reasons(),
        creditor=CREDITOR,
        as_of=AS_OF,
        lang=str(case["language"]),
    )


def _parsed(msg: EmailMessage) -> EmailMessage:
    raw = msg.as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # CRLF as sent over SMTP


def _html(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


# ----------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("case_id", "headers"),
    [
        (
            DE_ID,
            {
                "From": "Musterfirma GmbH <forderungen@musterfirma.example>",
                "To": "Erika Mustermann <erika@example.com>",
                "Subject": "2. Mahnung: Zahlung überfällig – Vorgang C20261123-aaaaaaaaaa",
                "Date": "Mon, 23 Nov 2026 08:00:00 +0100",
                "Message-ID": "<dunning.C20261123-aaaaaaaaaa.20261123@musterfirma.example>",
                "Content-Language": "de-DE",
                "Auto-Submitted": "auto-generated",
                "MIME-Version": "1.0",
            },
        ),
        (
            EN_ID,
            {
                "From": "Musterfirma GmbH <forderungen@musterfirma.example>",
                "To": "Acme Trading Ltd <accounts@acme.example>",
                "Subject": "First reminder: Payment overdue – Case C20261123-bbbbbbbbbb",
                "Date": "Mon, 23 Nov 2026 08:00:00 +0100",
                "Message-ID": "<dunning.C20261123-bbbbbbbbbb.20261123@musterfirma.example>",
                "Content-Language": "en-GB",
                "Auto-Submitted": "auto-generated",
                "MIME-Version": "1.0",
            },
        ),
    ],
)
def test_headers_and_structure_parse_back_exactly(case_id: str, headers: dict[str, str]) -> None:
    """The .eml parses back with the exact headers and alternative → text, related → html+png."""
    msg = _parsed(_email(case_id))
    assert {name: str(msg[name]) for name in headers} == headers
    assert sorted(msg.keys()) == sorted([*headers, "Content-Type"])
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"


def test_summer_date_is_cest() -> None:
    """08:00 in Europe/Berlin is +0200 in summer."""
    case = _case(DE_ID)
    msg = render_email(
        case, _decisions(), _reasons(), creditor=CREDITOR, as_of=date(2026, 7, 1), lang="de"
    )
    assert msg["Date"] == "Wed, 01 Jul 2026 08:00:00 +0200"


def test_german_text_part_has_the_letters_content() -> None:
    """Exact de_DE amounts, dates, invoices, charges-free total, payment data, offer, reasons."""
    text = _text(_parsed(_email(DE_ID)))
    prose = re.sub(r"[ \n]+", " ", text)  # paragraphs are word-wrapped
    assert (
        "Bitte überweisen Sie den Gesamtbetrag von 1.234,56\xa0€ bis zum 30. November 2026."
        in prose
    )
    for expected in [
        "2. Mahnung: Zahlung überfällig\n==============================",
        "Guten Tag Erika Mustermann,",
        "Rechnungsnummer  Rechnungsdatum  Fällig am   Tage überfällig  Offener Betrag",
        "RE-2026-0815     01.09.2026      15.09.2026               69      1.200,00\xa0€",
        "RE-2026-0904     20.09.2026      04.10.2026               50         34,56\xa0€",
        "Gesamtbetrag                                                      1.234,56\xa0€",
        "Empfänger:        Musterfirma GmbH\n"
        "IBAN:             DE89 3704 0044 0532 0130 00\n"
        "BIC:              COBADEFFXXX\n"
        "Betrag:           1.234,56\xa0€\n"
        "Verwendungszweck: C20261123-aaaaaaaaaa\n"
        "Zahlen bis:       30. November 2026",
        "   1  30. November 2026  411,52\xa0€",
        "- Sie haben in den letzten 12 Monaten 4 Rechnungen verspätet bezahlt.",
        "Sie brauchen Hilfe?",
        "Mit freundlichen Grüßen\nMusterfirma GmbH",
    ]:
        assert expected in text
    assert "Wrong language" not in text
    assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH


def test_english_text_part_itemizes_charges_and_amount_due() -> None:
    """en_GB amounts; fee, interest and flat fee lines add up to the amount due."""
    case = _case(EN_ID, segment="B2B", amount_due=Decimal("153.66"), tone="firm")
    decisions = (
        _decisions()
        .iloc[[2]]
        .assign(
            level=[2],
            fee=[Decimal("1.00")],
            interest=[Decimal("12.66")],
            flat_fee=[Decimal("40.00")],
            interest_from=[date(2026, 4, 2)],
            interest_days=[45],
            interest_rate=["10.27"],
        )
    )
    msg = render_email(case, decisions, _reasons(), creditor=CREDITOR, as_of=AS_OF, lang="en")
    text = _text(_parsed(msg))
    prose = re.sub(r"[ \n]+", " ", text)
    assert "Please pay the total of €153.66 no later than 3 December 2026." in prose
    assert "we will send you our second reminder" in prose  # firm: the next step
    lines = text.split("Charges and interest\n--------------------\n", 1)[1].split("\n\n", 1)[0]
    amounts = re.findall(r"  (€[\d,.]+)$", lines, flags=re.MULTILINE)
    assert amounts == ["€100.00", "€1.00", "€12.66", "€40.00", "€153.66"]
    assert sum(Decimal(a[1:].replace(",", "")) for a in amounts[:-1]) == Decimal("153.66")
    assert lines.splitlines()[-1] == "Amount due".ljust(TEXT_WIDTH - 7) + "€153.66"
    assert "Default interest (§ 288 Abs. 2 BGB) on €100.00, invoice INV-77: 10.27 %" in prose
    assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH


class _Visible(HTMLParser):
    """The visible text of an HTML document (no style, no title)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "title")
        if tag == "br":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


@pytest.mark.parametrize(
    ("case_id", "columns"),
    [
        (DE_ID, {}),
        (EN_ID, {}),
        (DE_ID, {"help_line": True, "tone": "friendly"}),
        (EN_ID, {"offer": "deferral", "deferral_due": pd.Timestamp("2027-01-15")}),
        (DE_ID, {"tone": "firm", "level": 4}),
    ],
)
def test_every_sentence_of_the_text_part_is_in_the_letter(
    case_id: str, columns: dict[str, Any]
) -> None:
    """The text part says nothing the HTML letter does not (tables and fields aside)."""
    msg = _parsed(_email(case_id, **columns))
    parser = _Visible()
    parser.feed(_html(msg))
    visible = re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts))
    text_only = {
        "Den GiroCode für Ihre Banking-App finden Sie in der HTML-Ansicht dieser E-Mail.",
        "You will find the QR code for your banking app in the HTML view of this email.",
    }
    checked = 0
    for block in _text(msg).strip().split("\n\n"):
        lines = block.splitlines()
        if len(lines) == 2 and set(lines[1]) <= {"-", "="}:  # a heading
            assert lines[0] in visible
        elif any("  " in line.strip() or line.startswith("---") for line in lines):
            continue  # an aligned table or field list
        elif lines[0].startswith(f"{CREDITOR.name} · "):  # the footer, line by line
            assert all(line in visible for line in lines), lines
        elif lines[0].startswith("- "):
            for item in re.split(r"\n(?=- )", block):
                assert " ".join(item[2:].split()) in visible
        else:
            sentence = " ".join(lines)
            if sentence in text_only or sentence.startswith(("Telefon ", "Phone ", "IBAN ")):
                continue
            assert sentence in visible, sentence
        checked += 1
    assert checked >= 10


def test_html_part_is_the_letter_with_the_qr_as_inline_part() -> None:
    """HTML = render_html output with the data: URI replaced by cid:; the PNG is that image."""
    msg = _parsed(_email(DE_ID))
    letter = render_html(
        _case(DE_ID),
        _decisions().iloc[:2],
        _reasons().iloc[[0]],
        creditor=CREDITOR,
        as_of=AS_OF,
        lang="de",
    )
    uri = re.search(r'src="(data:image/png;base64,[^"]+)"', letter)
    assert uri is not None
    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    cid = "girocode.C20261123-aaaaaaaaaa.20261123@musterfirma.example"
    assert image["Content-ID"] == f"<{cid}>"
    assert image.get_content_disposition() == "inline"
    assert _html(msg) == letter.replace(uri.group(1), f"cid:{cid}")
    assert image.get_content() == base64.b64decode(uri.group(1).split(",", 1)[1])
    assert "data:" not in _html(msg)


def test_hostile_name_cannot_inject_headers_or_lines() -> None:
    """CR/LF, bidi and other controls in a name never add a header, a line or a recipient."""
    hostile = "Eve\r\nBcc: spy@evil.example\u202e\x07"
    raw = _email(EN_ID, name=hostile).as_bytes(policy=email.policy.SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert not re.search(r"^Bcc:", head, flags=re.MULTILINE | re.IGNORECASE)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        ("Eve Bcc: spy@evil.example", "accounts@acme.example")
    ]
    text = _text(msg)
    assert "Dear Eve Bcc: spy@evil.example,\n" in text
    assert "\u202e" not in text and "\x07" not in text and "\r" not in text


@pytest.mark.parametrize(
    "address",
    [
        None,
        "",
        "   ",
        "no-at-sign.example",
        "eve@localhost",
        "eve@exa mple.com",
        "eve@example.com\r\nBcc: spy@evil.example",
        "eve@example.com, spy@evil.example",
        "Eve <eve@example.com>",
        "jürgen@example.de",
        "x" * 250 + "@example.com",
    ],
)
def test_missing_or_invalid_address_is_refused(address: str | None) -> None:
    """No e-mail without exactly one valid recipient address; the error names the case."""
    with pytest.raises(
        RenderError, match=rf"case {DE_ID}: the customer has (no|an invalid) e-mail"
    ):
        _email(DE_ID, email=address)


def test_invalid_creditor_address_is_refused() -> None:
    creditor = Creditor(**{**CREDITOR.model_dump(), "email": "forderungen at musterfirma"})
    with pytest.raises(RenderError, match="the creditor has an invalid e-mail address"):
        render_email(
            _case(DE_ID), _decisions(), _reasons(), creditor=creditor, as_of=AS_OF, lang="de"
        )


def test_identical_input_gives_identical_bytes() -> None:
    """No clock, no randomness: boundaries derive from the content and start with '=_'."""
    first = _email(DE_ID).as_bytes(policy=email.policy.SMTP)
    assert _email(DE_ID).as_bytes(policy=email.policy.SMTP) == first
    boundaries = re.findall(rb'boundary="([^"]+)"', first)
    assert len(boundaries) == 2
    assert all(b.startswith(b"=_") for b in boundaries)
    other = _email(DE_ID, total=Decimal("1234.57"), offer="none")
    assert re.findall(rb'boundary="([^"]+)"', other.as_bytes()) != boundaries
    assert b"\r\n" in first and b"\n" not in first.replace(b"\r\n", b"")


def test_given_html_is_used_as_is() -> None:
    """Passing the letter's HTML (as render_html returns it) gives the same message bytes."""
    case = _case(EN_ID)
    letter = render_html(
        case, _decisions().iloc[[2]], _reasons().iloc[[1]], creditor=CREDITOR, as_of=AS_OF,
        lang="en",
    )  # fmt: skip
    given = render_email(
        case, _decisions(), _reasons(), creditor=CREDITOR, as_of=AS_OF, lang="en", html=letter
    )
    assert given.as_bytes() == _email(EN_ID).as_bytes()
    marked = letter.replace("Kind regards", "Kind regards (given)")
    other = render_email(
        case, _decisions(), _reasons(), creditor=CREDITOR, as_of=AS_OF, lang="en", html=marked
    )
    assert "Kind regards (given)" in _html(_parsed(other))


def test_too_wide_invoice_table_becomes_field_blocks() -> None:
    """A 60-character invoice number: one block of fields per invoice, no line over 78."""
    long_id = "INV-" + "9" * 56
    decisions = _decisions().assign(invoice_id=["RE-1", long_id, "INV-77"])
    msg = render_email(
        _case(DE_ID), decisions, _reasons(), creditor=CREDITOR, as_of=AS_OF, lang="de"
    )
    text = _text(_parsed(msg))
    assert f"Rechnungsnummer: {long_id}\nRechnungsdatum:  20.09.2026\n" in text
    assert "Tage überfällig: 50\nOffener Betrag:  34,56\xa0€" in text
    assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH


def test_non_eur_letter_has_no_qr_part() -> None:
    """No EPC QR code for GBP: plain multipart/alternative with text and HTML."""
    msg = _parsed(_email(EN_ID, currency="GBP"))
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert "£100.00" in _text(msg)
    assert "QR code" not in _text(msg)


def test_write_emails_writes_eml_files_with_manifest_and_pdf(tmp_path: Path) -> None:
    """One .eml per case with an address, atomically, sha256 in the manifest, PDF attached."""
    cases = _cases()
    cases.loc[1, "email"] = pd.NA
    letters = render_letters(
        cases.iloc[[0]], _decisions(), _reasons(), tmp_path / "letters",
        creditor=CREDITOR, as_of=AS_OF, formats=("pdf",),
    )  # fmt: skip
    manifest = write_emails(
        cases, _decisions(), _reasons(), tmp_path / "messages",
        creditor=CREDITOR, as_of=AS_OF, letters_dir=tmp_path / "letters",
    )  # fmt: skip
    assert list(manifest.columns) == list(EMAIL_MANIFEST_COLUMNS)
    assert manifest[["case_id", "format"]].values.tolist() == [[DE_ID, "eml"]]
    path = Path(manifest.loc[0, "path"])
    assert path == tmp_path / "messages" / f"{DE_ID}.eml"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == manifest.loc[0, "sha256"]
    assert sorted(p.name for p in (tmp_path / "messages").iterdir()) == [f"{DE_ID}.eml"]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert [p.get_content_type() for p in msg.walk()][:2] == [
        "multipart/mixed",
        "multipart/alternative",
    ]
    attachment = next(msg.iter_attachments())
    assert attachment.get_filename() == f"{DE_ID}.pdf"
    assert attachment.get_content() == Path(letters.loc[0, "path"]).read_bytes()
    assert str(msg["Content-Language"]) == "de-DE"
    with pytest.raises(RenderError, match=rf"case {EN_ID}: the customer has no e-mail"):
        write_emails(
            cases, _decisions(), _reasons(), tmp_path / "strict",
            creditor=CREDITOR, as_of=AS_OF, skip_missing=False,
        )  # fmt: skip


def test_write_emails_channel_filter(tmp_path: Path) -> None:
    cases = _cases().assign(channel=["letter", "email"])
    manifest = write_emails(
        cases, _decisions(), _reasons(), tmp_path, creditor=CREDITOR, as_of=AS_OF, channel="email"
    )
    assert manifest["case_id"].tolist() == [EN_ID]


# ----------------------------------------------------------------------------- SMS

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def test_gsm_alphabet_counts() -> None:
    """The 127 basic characters (all but ESC) count 1, the extension table 2, others → UCS-2."""
    assert len(GSM_BASIC) == 127
    basic = measure_sms(GSM_BASIC)
    assert (basic.encoding, basic.length, basic.segments) == ("GSM-7", 127, 1)
    extension = measure_sms("^{}\\[~]|€\f")
    assert (extension.encoding, extension.length) == ("GSM-7", 20)
    for char in ["`", "ç", "á", "ł", "–", "„", "\xa0", "\x1b", "😀"]:
        assert measure_sms(f"a{char}").encoding == "UCS-2", repr(char)


@pytest.mark.parametrize(
    ("text", "encoding", "length", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair moves to part 2
        ("ł" * 70, "UCS-2", 70, 1),
        ("ł" * 71, "UCS-2", 71, 2),
        ("ł" * 134, "UCS-2", 134, 2),
        ("ł" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # a surrogate pair is not split
    ],
)
def test_segment_counts(text: str, encoding: str, length: int, segments: int) -> None:
    sms = measure_sms(text)
    assert (sms.encoding, sms.length, sms.segments) == (encoding, length, segments)


def _sms_case(case_id: str, **columns: Any) -> dict[str, Any]:
    due = {DE_ID: Decimal("1245.79"), EN_ID: Decimal("100.00")}[case_id]
    return _case(case_id, amount_due=due, **columns)


def test_german_sms_exact() -> None:
    """A firm German SMS: exact text, € counts two septets, two segments."""
    sms = render_sms(_sms_case(DE_ID, tone="firm"), creditor=CREDITOR, as_of=AS_OF, lang="de")
    assert sms.text == (
        "Guten Tag Erika Mustermann, Ihre Zahlung von 1.245,79 € an Musterfirma GmbH ist "
        "überfällig. Bitte zahlen Sie spätestens bis zum 30.11.2026. IBAN DE89 3704 0044 0532 "
        "0130 00, Verwendungszweck C20261123-aaaaaaaaaa. Schon bezahlt? Dann ist diese SMS "
        "erledigt. Fragen? Tel. +49 30 1234567-0"
    )
    assert (sms.encoding, sms.length, sms.segments) == ("GSM-7", 287, 2)
    assert sms.length == len(sms.text) + sms.text.count("€")


def test_english_sms_exact() -> None:
    """A friendly English SMS: exact text and counts."""
    sms = render_sms(_sms_case(EN_ID, tone="friendly"), creditor=CREDITOR, as_of=AS_OF, lang="en")
    assert sms.text == (
        "Hello Acme Trading Ltd, perhaps you missed it: €100.00 is still open with Musterfirma "
        "GmbH. Please pay by 3 Dec 2026. Thank you! IBAN DE89 3704 0044 0532 0130 00, "
        "reference C20261123-bbbbbbbbbb. Already paid? Then please ignore this message. "
        "Questions? Call +49 30 1234567-0"
    )
    assert (sms.encoding, sms.length, sms.segments) == ("GSM-7", 275, 2)
    assert sms.length == len(sms.text) + 1


def test_name_outside_gsm_makes_ucs2_and_help_line_replaces_contact() -> None:
    """One 'ł' in the name: UCS-2, 328 code units, 5 segments of 67; help line wording."""
    case = _sms_case(DE_ID, name="Paweł Nowak", tone="neutral", vulnerable=True)
    sms = render_sms(case, creditor=CREDITOR, as_of=AS_OF, lang="de")
    assert sms.text.startswith("Guten Tag Paweł Nowak, Ihre Zahlung von 1.245,79 € an ")
    assert sms.text.endswith(
        "Fällt Ihnen die Zahlung schwer? Wir finden gemeinsam eine Lösung: Tel. +49 30 1234567-0"
    )
    assert "Fragen?" not in sms.text
    assert (sms.encoding, sms.length, sms.segments) == ("UCS-2", 328, 5)
    assert sms.segments == math.ceil(sms.length / 67)


def test_sms_deadline_and_amount_are_the_letters() -> None:
    """Level 3: 7 days → 30 November 2026 in letter and SMS; amount due as in the letter."""
    case = _case(DE_ID)
    letter = render_html(
        case, _decisions().iloc[:2], _reasons(), creditor=CREDITOR, as_of=AS_OF, lang="de"
    )
    sms = render_sms(case, creditor=CREDITOR, as_of=AS_OF, lang="de")
    assert "bis zum <strong>30. November 2026</strong>" in letter
    assert "bis zum 30.11.2026." in sms.text
    assert "1.234,56\xa0€" in letter and "1.234,56 €" in sms.text  # no-break space → space


def test_sms_strips_controls_and_has_no_invoice_data() -> None:
    case = _sms_case(EN_ID, name="Ann\r\nLee\x00\u202e")
    sms = render_sms(case, creditor=CREDITOR, as_of=AS_OF, lang="en")
    assert sms.text.startswith("Hello Ann Lee, your payment of €100.00")
    assert sms.encoding == "GSM-7"
    assert "INV-77" not in sms.text and "London" not in sms.text
    anonymous = render_sms(_sms_case(EN_ID, name=None), creditor=CREDITOR, as_of=AS_OF, lang="en")
    assert anonymous.text.startswith("Hello, your payment of €100.00 to Musterfirma GmbH")


def test_sms_unknown_language_or_tone_fails() -> None:
    with pytest.raises(RenderError, match="unknown message language 'fr'"):
        render_sms(_sms_case(DE_ID), creditor=CREDITOR, as_of=AS_OF, lang="fr")
    with pytest.raises(RenderError, match="unknown tone 'rude'"):
        render_sms(_sms_case(DE_ID, tone="rude"), creditor=CREDITOR, as_of=AS_OF, lang="de")


def test_write_sms_csv(tmp_path: Path) -> None:
    """sms.csv: one row per case with phone, encoding, length, segments and the exact text."""
    cases = _cases().assign(
        amount_due=[Decimal("1245.79"), Decimal("100.00")],
        phone=["+49 89 1234567", None],
        name=["Erika Mustermann", "Łódź Trading"],
    )
    table = write_sms(cases, tmp_path / "out" / "sms.csv", creditor=CREDITOR, as_of=AS_OF)
    assert list(table.columns) == list(SMS_COLUMNS)
    with (tmp_path / "out" / "sms.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case_id"] for r in rows] == [DE_ID, EN_ID]
    assert [r["phone"] for r in rows] == ["+49 89 1234567", ""]
    assert [r["encoding"] for r in rows] == ["GSM-7", "UCS-2"]
    for row, sms in zip(rows, table.itertuples(), strict=True):
        assert row["text"] == sms.text
        measured = measure_sms(row["text"])
        assert (int(row["length"]), int(row["segments"])) == (measured.length, measured.segments)


# ----------------------------------------------------------------------------- a real proposal


@pytest.fixture(scope="module")
def proposal_cases() -> tuple[pd.DataFrame, pd.DataFrame]:
    portfolio = make_portfolio(200, seed=1, as_of=AS_OF)
    items = open_items(portfolio, AS_OF)
    overdue = items.loc[items["days_overdue"] > 0, "invoice_id"].to_numpy()
    proposal = propose(portfolio, Scores(risk=pd.Series(0.3, index=overdue)), None, AS_OF)
    return proposal.cases, proposal.decisions


def test_every_case_of_a_real_proposal(
    proposal_cases: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """Every case with an address gets an .eml whose text part asks for its amount due."""
    cases, decisions = proposal_cases
    manifest = write_emails(
        cases, decisions, pd.DataFrame(), tmp_path, creditor=CREDITOR, as_of=AS_OF
    )
    with_address = cases.loc[cases["email"].fillna("").str.contains("@"), "case_id"]
    assert manifest["case_id"].tolist() == with_address.tolist()
    assert len(manifest) < len(cases)  # the demo has customers without an address
    by_id = cases.set_index("case_id")
    assert set(by_id["currency"]) == {"EUR", "GBP"} and set(by_id["language"]) == {"de", "en"}
    for row in manifest.itertuples():
        msg = email.message_from_bytes(Path(row.path).read_bytes(), policy=email.policy.default)
        text = _text(msg)
        case = by_id.loc[row.case_id]
        locale = {"de": "de_DE", "en": "en_GB"}[case["language"]]
        shown = format_currency(case["amount_due"], case["currency"], locale=locale)
        label = {"de": "Betrag:", "en": "Amount:"}[case["language"]]
        assert re.search(rf"^{label} +{re.escape(shown)}$", text, flags=re.MULTILINE), shown
        assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH
    table = write_sms(cases, tmp_path / "sms.csv", creditor=CREDITOR, as_of=AS_OF)
    assert table["case_id"].tolist() == cases["case_id"].tolist()
    assert set(table["encoding"]) <= {"GSM-7", "UCS-2"}
    assert (table["segments"] >= 1).all()
