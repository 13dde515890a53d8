"""Letters: exact amounts, both languages, tagged PDF/UA, escaping and restricted fetching."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pikepdf
import pypdf
import pytest
import segno

from dunning._assets import AssetURLFetcher, templates_dir
from dunning.errors import RenderError
from dunning.letters import Creditor, render_html, render_letters, render_pdf

AS_OF = date(2026, 11, 23)
HOSTILE = '<img src="file:///etc/passwd"><script>alert(1)</script>'


def _cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C20261123-aaaaaaaaaa", "C20261123-bbbbbbbbbb"],
            "customer_id": ["K-1", "K-2"],
            "name": ["Erika Mustermann", "Acme Trading Ltd"],
            "street": ["Hauptstraße 5", "1 High Street"],
            "postal_code": ["80331", "EC1A 1BB"],
            "city": ["München", "London"],
            "country": ["DE", "GB"],
            "language": ["de", "en"],
            "currency": ["EUR", "EUR"],
            "total": [Decimal("1234.56"), Decimal("100.00")],
            "level": [3, 2],
            "n_invoices": [2, 1],
            "offer": ["installment_plan", "installment_plan"],
            "installments": [3, 3],
        }
    )


def _decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C20261123-aaaaaaaaaa", "C20261123-aaaaaaaaaa", "C20261123-bbbbbbbbbb"],
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
            "invoice_id": ["RE-2026-0815", "RE-2026-0815", "INV-77", "RE-2026-0904"],
            "lang": ["de", "de", "en", "en"],
            "rank": [1, 2, 1, 1],
            "code": ["LATE_12M", "AMOUNT_UNUSUAL", "LATE_12M", "LATE_12M"],
            "contribution": [0.8, 0.3, 0.6, 0.9],
            "text": [
                "Sie haben in den letzten 12 Monaten 4 Rechnungen verspätet bezahlt.",
                "Der Betrag ist höher als bei Ihnen üblich.",
                "You paid 4 invoices late in the last 12 months.",
                "Wrong language: must not appear in the German letter.",
            ],
        }
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("letters")
    manifest = render_letters(
        _cases(), _decisions(), _reasons(), out, creditor=Creditor.demo(), as_of=AS_OF
    )
    return out, manifest


def _pdf_text(path: Path) -> str:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    return text.replace("\xa0", " ")


def test_manifest_lists_every_file_with_its_hash(rendered: tuple[Path, pd.DataFrame]) -> None:
    """One HTML and one PDF per case; sha256 and page counts match the files; no temp files."""
    out, manifest = rendered
    assert list(manifest.columns) == ["case_id", "format", "path", "sha256", "pages"]
    assert manifest[["case_id", "format"]].values.tolist() == [
        ["C20261123-aaaaaaaaaa", "html"],
        ["C20261123-aaaaaaaaaa", "pdf"],
        ["C20261123-bbbbbbbbbb", "html"],
        ["C20261123-bbbbbbbbbb", "pdf"],
    ]
    for row in manifest.itertuples():
        path = Path(row.path)
        assert path.parent == out
        assert path.name == f"{row.case_id}.{row.format}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
    for row in manifest.loc[manifest["format"] == "pdf"].itertuples():
        assert len(pypdf.PdfReader(row.path).pages) == row.pages
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in manifest["path"])


def test_german_letter_html_has_exact_amounts_and_qr(rendered: tuple[Path, pd.DataFrame]) -> None:
    """German HTML: de_DE amounts and dates, deadline, reasons in German only, QR with alt text."""
    out, _ = rendered
    html = (out / "C20261123-aaaaaaaaaa.html").read_text(encoding="utf-8")
    assert '<html lang="de-DE">' in html
    assert "<title>2. Mahnung – Vorgang C20261123-aaaaaaaaaa</title>" in html
    for amount in ["1.234,56\xa0€", "1.200,00\xa0€", "34,56\xa0€"]:
        assert amount in html
    assert "7. Dezember 2026" in html  # as_of + 14 days
    assert "15.09.2026" in html
    assert '<th scope="col">Rechnungsnummer</th>' in html
    assert "4 Rechnungen verspätet bezahlt" in html
    assert "Wrong language" not in html
    alt = re.search(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)">', html)
    assert alt is not None
    assert alt.group(1) == (
        "GiroCode (QR-Code für die Überweisung): Betrag 1.234,56\xa0€, Empfänger "
        "Musterfirma GmbH, IBAN DE89 3704 0044 0532 0130 00, "
        "Verwendungszweck C20261123-aaaaaaaaaa"
    )


def test_installment_amounts_are_exact(rendered: tuple[Path, pd.DataFrame]) -> None:
    """1.234,56 € in 3 is 411,52 € each; £-free EUR 100.00 in 3 is €33.34, €33.33, €33.33."""
    out, _ = rendered
    de = (out / "C20261123-aaaaaaaaaa.html").read_text(encoding="utf-8")
    assert de.count("411,52\xa0€") == 4  # three rows + the first-instalment sentence
    en = (out / "C20261123-bbbbbbbbbb.html").read_text(encoding="utf-8")
    rows = re.findall(r'<td class="num">(€[\d.,]+)</td>', en.split('class="schedule"')[1])
    assert rows == ["€33.34", "€33.33", "€33.33"]
    # 7 February 2027 is a Sunday: the third instalment falls due on Monday the 8th.
    assert "7 December 2026" in en and "7 January 2027" in en and "8 February 2027" in en


def test_pdfs_parse_back_with_text_and_tags(rendered: tuple[Path, pd.DataFrame]) -> None:
    """Both PDFs show the exact total, the invoice numbers and the IBAN; tagged, with /Lang."""
    out, _ = rendered
    expected = {
        "C20261123-aaaaaaaaaa": ("1.234,56 €", ["RE-2026-0815", "RE-2026-0904"], "de-DE"),
        "C20261123-bbbbbbbbbb": ("€100.00", ["INV-77"], "en-GB"),
    }
    for cid, (total, numbers, lang) in expected.items():
        path = out / f"{cid}.pdf"
        text = _pdf_text(path)
        assert total in text
        for number in numbers:
            assert number in text
        assert "DE89 3704 0044 0532 0130 00" in text
        with pikepdf.open(path) as pdf:
            assert "/StructTreeRoot" in pdf.Root
            assert str(pdf.Root.Lang) == lang
            assert bool(pdf.Root.MarkInfo.Marked) is True
            assert str(pdf.docinfo["/Title"]).endswith(cid)


def test_hostile_customer_name_is_escaped(tmp_path: Path) -> None:
    """Markup in a customer name appears as text in the HTML and the PDF, never as markup."""
    cases = _cases().iloc[[0]].assign(name=HOSTILE, street="<b>x</b>')")
    manifest = render_letters(
        cases, _decisions(), _reasons(), tmp_path, creditor=Creditor.demo(), as_of=AS_OF
    )
    html = Path(manifest.loc[0, "path"]).read_text(encoding="utf-8")
    escaped = "&lt;img src=&#34;file:///etc/passwd&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in html
    assert "<script" not in html
    assert 'src="file:' not in html
    pdf_text = _pdf_text(Path(manifest.loc[1, "path"]))
    assert "<script>alert(1)</script>" in pdf_text.replace("\n", "")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://example.com/x.css",
        "https://example.com/logo.png",
        "data:text/html,<script>alert(1)</script>",
        "file://evil.example/share/x.css",
    ],
)
def test_fetcher_refuses_foreign_urls(url: str) -> None:
    """Only the package's own assets and data:image URIs may be fetched."""
    with pytest.raises(RenderError, match="refused to fetch"):
        AssetURLFetcher().fetch(url)


def test_fetcher_serves_own_assets_and_images() -> None:
    """Files inside the templates folder and data:image/png URIs are served."""
    fetcher = AssetURLFetcher()
    css = (templates_dir() / "letters" / "letter.css").as_uri()
    assert b"@page" in fetcher.fetch(css).read()
    png = fetcher.fetch("data:image/png;base64,iVBORw0KGgo=")
    assert png.read() == b"\x89PNG\r\n\x1a\n"
    assert png.content_type == "image/png"
    outside = (templates_dir() / ".." / "pyproject.toml").resolve().as_uri()
    with pytest.raises(RenderError):
        fetcher.fetch(outside)


def test_render_fails_on_refused_resource_and_weasyprint_errors() -> None:
    """A refused stylesheet or a missing alt (PDF/UA) is a RenderError naming the case."""
    page = '<html lang="en"><head><title>t</title>{}</head><body>{}</body></html>'
    css = page.format('<link rel="stylesheet" href="http://example.com/x.css">', "<p>x</p>")
    with pytest.raises(RenderError, match="case C-9") as info:
        render_pdf(css, case_id="C-9")
    assert info.value.case_id == "C-9"
    png = segno.make("x").png_data_uri()
    render_pdf(page.format("", f'<img src="{png}" alt="QR">'), case_id="C-9")
    with pytest.raises(RenderError, match=r"WeasyPrint reported an error: .*[Aa]lt"):
        render_pdf(page.format("", f'<img src="{png}">'), case_id="C-9")


def test_render_html_unknown_language() -> None:
    """A letter language other than de/en is refused."""
    case = _cases().iloc[0].to_dict()
    with pytest.raises(RenderError, match="unknown letter language 'fr'"):
        render_html(case, _decisions().iloc[:2], pd.DataFrame(), creditor=Creditor.demo(),
                    as_of=AS_OF, lang="fr")  # fmt: skip


def test_no_qr_code_outside_euro(tmp_path: Path) -> None:
    """GBP letters carry payment text but no EPC QR code (it is defined for EUR only)."""
    case = _cases().iloc[1].to_dict() | {"currency": "GBP", "offer": "none"}
    invoices = _decisions().iloc[[2]].assign(currency="GBP")
    html = render_html(case, invoices, pd.DataFrame(), creditor=Creditor.demo(), as_of=AS_OF,
                       lang="en")  # fmt: skip
    assert "£100.00" in html
    assert "<img" not in html
    assert "Our offer" not in html


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_every_level_and_language_renders(level: int, lang: str) -> None:
    """Each level renders in each language with its own title; only level 4 mentions collection."""
    case = _cases().iloc[0].to_dict() | {"level": level, "language": lang, "offer": "none"}
    html = render_html(case, _decisions().iloc[:2], pd.DataFrame(), creditor=Creditor.demo(),
                       as_of=AS_OF, lang=lang)  # fmt: skip
    title = {
        ("de", 1): "Zahlungserinnerung",
        ("de", 2): "1. Mahnung",
        ("de", 3): "2. Mahnung",
        ("de", 4): "Letzte Mahnung",
        ("en", 1): "Payment reminder",
        ("en", 2): "First reminder",
        ("en", 3): "Second reminder",
        ("en", 4): "Final notice",
    }[(lang, level)]
    assert f"<title>{title} – " in html
    collection = "Inkassounternehmen" if lang == "de" else "collection agency"
    assert (collection in html) is (level == 4)


def test_letter_itemizes_fees_interest_flat_fee_and_amount_due(tmp_path: Path) -> None:
    """The PDF lists fee, interest (rate, dates, days, day count), flat fee and amount due."""
    case = (
        _cases()
        .iloc[[0]]
        .assign(
            segment="B2B",
            level=2,
            amount_due=Decimal("1288.22"),
            offer="none",
        )
    )
    decisions = (
        _decisions()
        .iloc[:2]
        .assign(
            level=[2, 0],
            fee=[Decimal("1.00"), Decimal("0.00")],
            interest=[Decimal("12.66"), Decimal("0.00")],
            flat_fee=[Decimal("40.00"), Decimal("0.00")],
            interest_from=[date(2026, 4, 2), date(2026, 5, 4)],
            interest_days=[45, 0],
            interest_rate=["10.27", ""],
        )
    )
    for lang, expected in (
        (
            "de",
            [
                "Mahngebühr (Porto und Material), 1. Mahnung, Rechnung RE-2026-0815 1,00 €",
                "Verzugszinsen (§ 288 Abs. 2 BGB) auf 1.200,00 €, Rechnung RE-2026-0815: "
                "10,27 % p. a. vom 2. April 2026 bis 23. November 2026, 45 Tage, Zinstage "
                "act/365 12,66 €",
                "Verzugspauschale nach § 288 Abs. 5 BGB (Zahlungsverzugsrichtlinie "
                "2011/7/EU), Rechnung RE-2026-0815 40,00 €",
                "Zu zahlender Betrag 1.288,22 €",
                "Gesamtbetrag von 1.288,22 €",
            ],
        ),
        (
            "en",
            [
                "Dunning fee (postage and materials), first reminder, invoice RE-2026-0815 €1.00",
                "Default interest (§ 288 Abs. 2 BGB) on €1,200.00, invoice RE-2026-0815: "
                "10.27 % a year from 2 April 2026 to 23 November 2026, 45 days, day count "
                "act/365 €12.66",
                "Flat-rate compensation for recovery costs under § 288 (5) BGB (Late Payment "
                "Directive 2011/7/EU), invoice RE-2026-0815 €40.00",
                "Amount due €1,288.22",
                "total of €1,288.22",
            ],
        ),
    ):
        manifest = render_letters(
            case.assign(language=lang),
            decisions,
            pd.DataFrame(),
            tmp_path / lang,
            creditor=Creditor.demo(),
            as_of=AS_OF,
        )
        pdf = manifest.loc[manifest["format"] == "pdf", "path"].iloc[0]
        text = " ".join(_pdf_text(Path(pdf)).split())
        for line in expected:
            assert line in text, line
        html = (tmp_path / lang / "C20261123-aaaaaaaaaa.html").read_text(encoding="utf-8")
        alt = re.search(r'alt="([^"]*GiroCode[^"]*|[^"]*EPC[^"]*)"', html)
        assert alt is not None
        assert ("1.288,22\xa0€" if lang == "de" else "€1,288.22") in alt.group(1)
