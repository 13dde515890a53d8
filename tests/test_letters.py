"""Letters: exact amounts, both languages, tagged PDF/UA, escaping and restricted fetching."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pikepdf
import pypdf
import pytest
import segno
import segno.helpers
from babel.numbers import parse_decimal
from weasyprint.text.fonts import FontConfiguration

from dunning import letters
from dunning._assets import AssetURLFetcher, templates_dir
from dunning.errors import RenderError
from dunning.letters import (
    FORMATS,
    PRINT_STREAM_COLUMNS,
    Creditor,
    print_stream,
    render_html,
    render_letters,
    render_pdf,
)
from dunning.policy import Policy

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
    assert list(manifest.columns) == [
        "case_id",
        "format",
        "path",
        "sha256",
        "pages",
        "template",
        "template_sha256",
        "data_sha256",
    ]
    assert set(manifest["template"]) == {"letters/letter.html.j2"}
    assert set(manifest["template_sha256"]) == {letters.template_fingerprint()[1]}
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
    assert "30. November 2026" in html  # level 3: 7 days after 2026-11-23
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
    # Level 2: 10 days, 2026-12-03; 3 January 2027 is a Sunday: due on Monday the 4th.
    assert "3 December 2026" in en and "4 January 2027" in en and "3 February 2027" in en


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


# --- Tone, help line and earlier fees --------------------------------------------------

GERMAN_DEADLINE = "3. Dezember 2026"
ENGLISH_DEADLINE = "3 December 2026"

#: The wording each tone must show for the two-invoice level-2 case (1.234,56 €).
TONE_WORDING = {
    ("de", "friendly"): [
        "<h1>1. Mahnung: Bitte denken Sie an die Zahlung</h1>",
        "<p>sicher ist Ihnen entgangen, dass die folgenden Rechnungen noch offen sind. "
        "Wir haben Sie schon einmal daran erinnert.</p>",
        "<p>Bitte überweisen Sie den Gesamtbetrag von <strong>1.234,56\xa0€</strong> bis zum "
        "<strong>3. Dezember 2026</strong>. Vielen Dank!</p>",
        "<p>Haben Sie die Zahlung schon veranlasst? Dann betrachten Sie diesen Brief bitte als "
        "erledigt.</p>",
        '<p class="closing">Freundliche Grüße<br>',
    ],
    ("de", "neutral"): [
        "<h1>1. Mahnung: Zahlung überfällig</h1>",
        "<p>für die folgenden Rechnungen haben wir noch keine Zahlung erhalten. "
        "Wir haben Sie bereits schriftlich daran erinnert.</p>",
        "<p>Bitte überweisen Sie den Gesamtbetrag von <strong>1.234,56\xa0€</strong> bis zum "
        "<strong>3. Dezember 2026</strong>.</p>",
        "<p>Haben Sie inzwischen bezahlt? Dann ist dieser Brief für Sie erledigt.</p>",
        '<p class="closing">Mit freundlichen Grüßen<br>',
    ],
    ("de", "firm"): [
        "<h1>1. Mahnung: Bitte zahlen Sie bis zum 3. Dezember 2026</h1>",
        "<p>die folgenden Rechnungen sind überfällig. Wir haben bis heute keine Zahlung "
        "erhalten. Dies ist nicht unser erstes Schreiben dazu.</p>",
        "<p>Bitte überweisen Sie den Gesamtbetrag von <strong>1.234,56\xa0€</strong> "
        "spätestens bis zum <strong>3. Dezember 2026</strong>.</p>",
        '<p class="next-step">Wenn bis dahin keine Zahlung eingeht, folgt als nächster '
        "Schritt: 2. Mahnung. Dafür berechnen wir eine Mahngebühr von 1,00\xa0€.</p>",
        "Halten Sie die Forderung für falsch? Dann melden Sie sich bitte vor dem "
        "3. Dezember 2026 bei uns.</p>",
        '<p class="closing">Mit freundlichen Grüßen<br>',
    ],
    ("en", "friendly"): [
        "<h1>First reminder: A reminder about your payment</h1>",
        "<p>Perhaps this has slipped your attention: the invoices below are still open. "
        "We have reminded you about it once before.</p>",
        "<p>Please pay the total of <strong>€1,234.56</strong> by "
        "<strong>3 December 2026</strong>. Thank you!</p>",
        "<p>If you have already paid, thank you. Please ignore this letter.</p>",
        '<p class="closing">Best wishes<br>',
    ],
    ("en", "neutral"): [
        "<h1>First reminder: Payment overdue</h1>",
        "<p>We have not yet received payment for the invoices below. "
        "We have already reminded you in writing.</p>",
        "<p>Please pay the total of <strong>€1,234.56</strong> by "
        "<strong>3 December 2026</strong>.</p>",
        "<p>If you have already paid, please ignore this letter.</p>",
        '<p class="closing">Kind regards<br>',
    ],
    ("en", "firm"): [
        "<h1>First reminder: Please pay by 3 December 2026</h1>",
        "<p>The invoices below are overdue. We have still not received payment. "
        "This is not our first letter about it.</p>",
        "<p>Please pay the total of <strong>€1,234.56</strong> no later than "
        "<strong>3 December 2026</strong>.</p>",
        '<p class="next-step">If we do not receive payment by then, we will send you our '
        "second reminder. For this letter we charge a fee of €1.00.</p>",
        "If you think this claim is wrong, please contact us before 3 December 2026.</p>",
        '<p class="closing">Yours sincerely<br>',
    ],
}
#: Words that must never appear in a letter (no letter talks about vulnerability).
NEVER = ("vulnerab", "schutzbedürftig", "verletzlich", "hilfsbedürftig")
#: Words of an escalation (next step, hand-over, court) that a blocked case must never get.
ESCALATION_WORDS = (
    "Inkassounternehmen",
    "Mahnverfahren",
    "Klage",
    "collection agency",
    "court",
    "nächster Schritt",
    "we will send you",
    "we may send you",
)
#: Every consequence sentence starts with one of these.
CONSEQUENCE_START = ("Wenn bis dahin keine Zahlung eingeht", "If we do not receive payment by then")


def _letter(lang: str, policy: Policy | None = None, **columns: object) -> str:
    """The first test case (two invoices, level 2, 1.234,56 €) with ``columns`` changed."""
    case = _cases().iloc[0].to_dict() | {"level": 2, "language": lang, "offer": "none"}
    return render_html(
        case | columns,
        _decisions().iloc[:2],
        pd.DataFrame(),
        creditor=Creditor.demo(),
        as_of=AS_OF,
        lang=lang,
        policy=policy,
    )


@pytest.mark.parametrize(("lang", "tone"), list(TONE_WORDING))
def test_each_tone_has_its_own_wording(lang: str, tone: str) -> None:
    """Subject, opening, request, closing and sign-off follow the tone; no other tone's."""
    html = _letter(lang, tone=tone)
    for sentence in TONE_WORDING[(lang, tone)]:
        assert sentence in html, sentence
    for (other_lang, other_tone), sentences in TONE_WORDING.items():
        if other_lang == lang and other_tone != tone:
            assert sentences[0] not in html and sentences[1] not in html
    assert ('class="next-step"' in html) is (tone == "firm")
    assert not any(word in html.lower() for word in NEVER)


@pytest.mark.parametrize(
    ("jurisdiction", "level", "lang", "sentence"),
    [
        (
            "DE",
            4,
            "de",
            "Wenn bis dahin keine Zahlung eingeht, prüfen wir, die Forderung an ein "
            "Inkassounternehmen zu übergeben oder ein gerichtliches Mahnverfahren zu beantragen. "
            "Dadurch können Ihnen weitere Kosten entstehen.",
        ),
        (
            "DE",
            4,
            "en",
            "If we do not receive payment by then, we will consider passing the debt "
            "to a collection agency or applying for a court payment order. This may cause you "
            "further costs.",
        ),
        ("DE", 5, "de", "Inkassounternehmen zu übergeben oder ein gerichtliches Mahnverfahren"),
        (
            "DE",
            3,
            "de",
            "folgt als nächster Schritt: Letzte Mahnung. Dafür berechnen wir eine "
            "Mahngebühr von 1,00\xa0€.",
        ),
        (
            "GB",
            3,
            "en",
            "If we do not receive payment by then, we may send you a Letter of "
            "Claim. This is the formal step before a court claim.",
        ),
        (
            "GB",
            3,
            "de",
            "kann als nächster Schritt folgen: Forderungsschreiben vor "
            "Klageerhebung (Letter of Claim). Das ist der förmliche Schritt vor einer Klage.",
        ),
        (
            "GB",
            4,
            "en",
            "If we do not receive payment by then, we will consider making a court "
            "claim or passing the debt to a debt collection agency.",
        ),
        (
            "GB",
            1,
            "en",
            "If we do not receive payment by then, we will send you our overdue notice.</p>",
        ),
    ],
)
def test_firm_letter_names_the_next_step(
    jurisdiction: str, level: int, lang: str, sentence: str
) -> None:
    """Without a tone column the level's tone is used; firm names the level's next step."""
    policy = Policy.default(jurisdiction)
    html = _letter(lang, policy, level=level, currency=policy.currency, tone="firm")
    assert sentence in html
    # The policy's own tone for the level is the fallback when the case has no tone.
    fallback = _letter(lang, policy, level=level, currency=policy.currency)
    assert ('class="next-step"' in fallback) is (policy.level_rule(level).tone == "firm")


@pytest.mark.parametrize("jurisdiction", ["DE", "GB"])
@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("level", [2, 3, 4, 5])
@pytest.mark.parametrize(
    "columns",
    [
        {"escalation_blocked": True},
        {"escalation_blocked": "ja", "vulnerable": False},
        {"escalation_blocked": False, "vulnerable": True},
        {"vulnerable": True},
    ],
    ids=["blocked", "blocked-text", "vulnerable-overrides", "vulnerable-fallback"],
)
def test_blocked_escalation_never_gets_consequence_wording(
    jurisdiction: str, lang: str, level: int, columns: dict[str, object]
) -> None:
    """A firm letter with escalation blocked keeps the deadline but names no next step."""
    policy = Policy.default(jurisdiction)
    html = _letter(lang, policy, level=level, currency=policy.currency, tone="firm", **columns)
    body = html.split("</h1>", 1)[1]  # the title may carry the level's own name
    assert 'class="next-step"' not in body
    for words in (*CONSEQUENCE_START, *ESCALATION_WORDS):
        assert words not in body, words
    assert ("spätestens bis zum" if lang == "de" else "no later than") in body
    unblocked = _letter(lang, policy, level=level, currency=policy.currency, tone="firm")
    assert any(start in unblocked for start in CONSEQUENCE_START)


HELP_SECTION = {
    "de": [
        '<section aria-labelledby="h-help" class="help-line">',
        '<h2 id="h-help">Hilfe bei Zahlungsschwierigkeiten</h2>',
        "<p>Sie können gerade nicht zahlen? Dann sprechen Sie bitte mit uns. Wir suchen "
        "gemeinsam eine Lösung, zum Beispiel eine Ratenzahlung. Kostenlose und unabhängige "
        "Hilfe gibt es auch bei einer Schuldnerberatung, etwa bei der Verbraucherzentrale "
        "oder bei Ihrer Stadt.</p>",
        "<p>Sie erreichen uns unter Telefon +49 30 1234567-0 und per E-Mail an "
        "forderungen@musterfirma.example.</p>",
    ],
    "en": [
        '<section aria-labelledby="h-help" class="help-line">',
        '<h2 id="h-help">Help if you find it hard to pay</h2>',
        "<p>If you cannot pay at the moment, please talk to us: we will look for a solution "
        "together, for example a payment plan. Free, independent debt advice is also "
        "available from public debt advice services.</p>",
        "<p>You can reach us by phone on +49 30 1234567-0 or by email at "
        "forderungen@musterfirma.example.</p>",
    ],
}
STANDARD_HELP = {
    "de": '<h2 id="h-help">Sie brauchen Hilfe?</h2>',
    "en": '<h2 id="h-help">Do you need help?</h2>',
}


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"help_line": True}, True),
        ({"help_line": False}, False),
        ({"help_line": "nein"}, False),
        ({}, False),
        ({"vulnerable": True}, True),
        ({"vulnerable": pd.NA}, False),
        ({"help_line": None, "vulnerable": False}, False),
    ],
)
def test_help_line_section_iff_help_line(
    lang: str, columns: dict[str, object], expected: bool
) -> None:
    """The help-line section (policy text + contact) appears iff help_line (or vulnerable)."""
    html = _letter(lang, tone="friendly", **columns)
    for part in HELP_SECTION[lang]:
        assert (part in html) is expected, part
    # One help section, never both: the standard paragraph stands in for the help line.
    assert html.count('id="h-help"') == 1
    assert (STANDARD_HELP[lang] in html) is not expected
    if expected:  # visible early: right after the request to pay, before the invoices
        assert html.index('class="help-line"') < html.index('id="h-invoices"')
    assert not any(word in html.lower() for word in NEVER)


def test_help_line_uses_the_policy_text() -> None:
    """A UK letter's help line names MoneyHelper, from the UK policy's help_line_en."""
    policy = Policy.default("GB")
    html = _letter("en", policy, currency="GBP", help_line=True)
    assert "Free, impartial debt advice is available from MoneyHelper" in html
    assert "You can reach us by phone on +49 30 1234567-0" in html


def test_unknown_tone_and_bad_flag_are_render_errors() -> None:
    """A tone outside friendly/neutral/firm or an unreadable flag names the case."""
    with pytest.raises(RenderError, match=r"case C20261123-aaaaaaaaaa: unknown tone 'rude'"):
        _letter("de", tone="rude")
    with pytest.raises(RenderError, match=r"column 'help_line' must be true or false"):
        _letter("de", help_line="vielleicht")


def _charge_rows(html: str) -> list[tuple[str, str]]:
    table = html.split('<table class="invoices charges">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>\s*<td class=\"num\">([^<]*)</td>", table)


def _earlier_fee_case() -> tuple[dict[str, object], pd.DataFrame]:
    """Level 3, 1.234,56 € open, 2,50 € fees of earlier letters, 1,00 € fee, 7,73 € interest."""
    case = _cases().iloc[0].to_dict() | {
        "level": 3,
        "offer": "none",
        "case_earlier_fees": Decimal("2.50"),
        "case_fees": Decimal("1.00"),
        "case_interest": Decimal("7.73"),
        "case_flat_fees": Decimal("0.00"),
        "amount_due": Decimal("1245.79"),
    }
    decisions = (
        _decisions()
        .iloc[:2]
        .assign(
            level=[3, 3],
            earlier_fees=[Decimal("1.50"), Decimal("1.00")],
            fee=[Decimal("1.00"), Decimal("0.00")],
            interest=[Decimal("7.73"), Decimal("0.00")],
            flat_fee=[Decimal("0.00"), Decimal("0.00")],
            interest_from=[date(2026, 9, 16), date(2026, 10, 5)],
            interest_days=[69, 0],
            interest_rate=["3.40", ""],
        )
    )
    return case, decisions


@pytest.mark.parametrize(
    ("lang", "rows", "due"),
    [
        (
            "de",
            [
                ("Summe der offenen Rechnungen", "1.234,56\xa0€"),
                ("Mahngebühren aus früheren Schreiben", "2,50\xa0€"),
                ("Mahngebühr (Porto und Material), 2. Mahnung, Rechnung RE-2026-0815", "1,00\xa0€"),
            ],
            "1.245,79\xa0€",
        ),
        (
            "en",
            [
                ("Total of open invoices", "€1,234.56"),
                ("Fees from earlier letters", "€2.50"),
                (
                    "Dunning fee (postage and materials), second reminder, invoice RE-2026-0815",
                    "€1.00",
                ),
            ],
            "€1,245.79",
        ),
    ],
)
def test_earlier_fees_are_itemized_and_add_up(
    lang: str, rows: list[tuple[str, str]], due: str
) -> None:
    """Earlier fees get their own line; the items add up to amount_due, as paid and in the QR."""
    case, decisions = _earlier_fee_case()
    html = render_html(
        case, decisions, pd.DataFrame(), creditor=Creditor.demo(), as_of=AS_OF, lang=lang
    )
    found = _charge_rows(html)
    assert found[:3] == rows
    assert found[3][1] == ("7,73\xa0€" if lang == "de" else "€7.73")  # the interest line
    assert found[-1] == ("Zu zahlender Betrag" if lang == "de" else "Amount due", due)
    locale = "de_DE" if lang == "de" else "en_GB"
    amounts = [parse_decimal(a.strip("€\xa0"), locale=locale, strict=True) for _, a in found]
    assert sum(amounts[:-1]) == amounts[-1] == case["amount_due"]
    amount_label = "Betrag" if lang == "de" else "Amount"
    assert f'<span class="label">{amount_label}:</span> {due}</p>' in html
    creditor = Creditor.demo()
    qr = segno.helpers.make_epc_qr(
        name=creditor.name,
        iban=creditor.iban,
        amount=Decimal("1245.79"),
        text=str(case["case_id"]),
        bic=creditor.bic,
    )
    assert f'<img src="{qr.png_data_uri(scale=4, border=4)}"' in html


def test_earlier_fees_fall_back_to_the_invoices_and_amount_due_to_the_items() -> None:
    """Without case columns: the invoices' earlier_fees are summed, the items are the total."""
    case, decisions = _earlier_fee_case()
    for column in ("case_earlier_fees", "amount_due"):
        del case[column]
    html = render_html(
        case, decisions, pd.DataFrame(), creditor=Creditor.demo(), as_of=AS_OF, lang="de"
    )
    rows = _charge_rows(html)
    assert rows[1] == ("Mahngebühren aus früheren Schreiben", "2,50\xa0€")
    assert rows[-1] == ("Zu zahlender Betrag", "1.245,79\xa0€")
    plain = render_html(
        case,
        decisions.drop(columns="earlier_fees"),
        pd.DataFrame(),
        creditor=Creditor.demo(),
        as_of=AS_OF,
        lang="de",
    )
    assert "früheren Schreiben" not in plain
    assert _charge_rows(plain)[-1] == ("Zu zahlender Betrag", "1.243,29\xa0€")


def test_amount_due_that_does_not_add_up_is_refused() -> None:
    """An amount_due that leaves out the earlier fees would print a wrong total: refused."""
    case, decisions = _earlier_fee_case()
    case["amount_due"] = Decimal("1243.29")
    with pytest.raises(
        RenderError, match=r"items add up to 1245\.79 EUR .* amount_due is 1243\.29"
    ):
        render_html(
            case, decisions, pd.DataFrame(), creditor=Creditor.demo(), as_of=AS_OF, lang="de"
        )


def test_pdf_shows_tone_sentence_and_help_line(tmp_path: Path) -> None:
    """Parsed back from the PDFs: the tone sentences, the help line and the earlier fees."""
    case, decisions = _earlier_fee_case()
    cases = pd.DataFrame(
        [
            case | {"tone": "friendly", "help_line": True, "escalation_blocked": True},
            _cases().iloc[1].to_dict() | {"level": 4, "tone": "firm", "offer": "none"},
        ]
    )
    decisions = pd.concat([decisions, _decisions().iloc[[2]]], ignore_index=True)
    manifest = render_letters(
        cases,
        decisions,
        pd.DataFrame(),
        tmp_path,
        creditor=Creditor.demo(),
        as_of=AS_OF,
        formats=("pdf",),
    )
    de = " ".join(_pdf_text(tmp_path / "C20261123-aaaaaaaaaa.pdf").split())
    for sentence in [
        "2. Mahnung: Bitte denken Sie an die Zahlung",
        "sicher ist Ihnen entgangen, dass die folgenden Rechnungen noch offen sind.",
        "Hilfe bei Zahlungsschwierigkeiten",
        "Kostenlose und unabhängige Hilfe gibt es auch bei einer Schuldnerberatung, etwa bei "
        "der Verbraucherzentrale oder bei Ihrer Stadt.",
        "Sie erreichen uns unter Telefon +49 30 1234567-0",
        "Mahngebühren aus früheren Schreiben 2,50 €",
        "Zu zahlender Betrag 1.245,79 €",
    ]:
        assert sentence in de, sentence
    assert "Wenn bis dahin" not in de
    en = " ".join(_pdf_text(tmp_path / "C20261123-bbbbbbbbbb.pdf").split())
    for sentence in [
        "Final notice: Please pay by 30 November 2026",
        "The invoice below is overdue. We have still not received payment.",
        "If we do not receive payment by then, we will consider passing the debt to a "
        "collection agency or applying for a court payment order.",
        "Do you need help?",
    ]:
        assert sentence in en, sentence
    assert "Help if you find it hard to pay" not in en
    assert manifest["format"].tolist() == ["pdf", "pdf"]


@pytest.mark.parametrize("help_line", [False, True])
@pytest.mark.parametrize("tone", ["friendly", "neutral", "firm"])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_tone_renders_a_clean_pdf(lang: str, tone: str, help_line: bool) -> None:
    """Each tone × language × help line gives a PDF/UA letter of at most two pages."""
    html = _letter(lang, level=4, tone=tone, help_line=help_line, offer="installment_plan")
    pdf, pages = render_pdf(html, case_id="C20261123-aaaaaaaaaa")
    assert pdf[:5] == b"%PDF-"
    assert 1 <= pages <= 2


# --------------------------------------------------------------------------- batches


def _batch(invoices_per_case: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases C20261123-000000000<i> with the given numbers of 1.00 € invoices each.

    One invoice gives a one-page letter, 20 a two-page and 60 a three-page letter.
    """
    cases, decisions = [], []
    for i, k in enumerate(invoices_per_case):
        cid = f"C20261123-{i:010d}"
        case = _cases().iloc[i % 2].to_dict()
        case.update(case_id=cid, customer_id=f"K-{i}", total=Decimal(k), n_invoices=k)
        case.update(level=1 + i % 4, offer="none")
        cases.append(case)
        decisions.extend(
            {
                "case_id": cid,
                "invoice_id": f"R-{i}-{j:03d}",
                "issue_date": pd.Timestamp("2026-10-01"),
                "due_date": pd.Timestamp("2026-11-01"),
                "days_overdue": 22,
                "open_amount": Decimal("1.00"),
                "currency": "EUR",
            }
            for j in range(k)
        )
    return pd.DataFrame(cases), pd.DataFrame(decisions)


def _batch_reasons(decisions: pd.DataFrame) -> pd.DataFrame:
    first = decisions.drop_duplicates("case_id")["invoice_id"]
    return pd.DataFrame(
        {
            "invoice_id": [*first, *first],
            "lang": ["de"] * len(first) + ["en"] * len(first),
            "code": "LATE_12M",
            "contribution": 0.5,
            "text": [
                *["Sie haben 3 Rechnungen verspätet bezahlt."] * len(first),
                *["You paid 3 invoices late."] * len(first),
            ],
        }
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """Six letters of 1 to 3 pages, rendered with 1, 2 and 3 workers (cases in any order)."""
    cases, decisions = _batch([1, 20, 1, 60, 1, 1])
    reasons = _batch_reasons(decisions)
    out = {}
    runs = [(1, [0, 1, 2, 3, 4, 5], None), (2, [5, 3, 1, 0, 2, 4], 1), (3, [4, 2, 0, 5, 1, 3], 2)]
    for workers, order, size in runs:
        folder = tmp_path_factory.mktemp(f"workers{workers}")
        out[f"workers{workers}"] = render_letters(
            cases.iloc[order],
            decisions,
            reasons,
            folder,
            creditor=Creditor.demo(),
            as_of=AS_OF,
            workers=workers,
            chunk_size=size,
        )
    return out


def test_workers_write_byte_identical_letters_and_manifests(
    batch: dict[str, pd.DataFrame],
) -> None:
    """1, 2 and 3 processes (cases shuffled) give the same files and the same sorted manifest.

    WeasyPrint's PDFs are deterministic here: creation and modification date come from the
    letter date (``dcterms.created``), PDF/UA-1 writes no file identifier and the font
    subset names are hashes of the fonts.
    """
    one = batch["workers1"]
    ids = [f"C20261123-{i:010d}" for i in range(6)]
    assert one[["case_id", "format"]].values.tolist() == [
        [cid, fmt] for cid in ids for fmt in ("html", "pdf")
    ]
    assert one["pages"].tolist() == [1, 1, 2, 2, 1, 1, 3, 3, 1, 1, 1, 1]
    for name in ("workers2", "workers3"):
        other = batch[name]
        assert other.drop(columns="path").equals(one.drop(columns="path"))
        assert [Path(p).name for p in other["path"]] == [Path(p).name for p in one["path"]]
        for mine, theirs in zip(one["path"], other["path"], strict=True):
            assert Path(mine).read_bytes() == Path(theirs).read_bytes()
            assert sorted(p.name for p in Path(theirs).parent.iterdir()) == sorted(
                Path(p).name for p in other["path"]
            )
    with pikepdf.open(one.loc[1, "path"]) as pdf:
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20261123")
        assert str(pdf.docinfo["/ModDate"]).startswith("D:20261123")
        assert "/ID" not in pdf.trailer


def test_each_worker_letter_has_its_own_reasons_and_invoices(
    batch: dict[str, pd.DataFrame],
) -> None:
    """Chunks carry the right invoices and reasons: the 3-page letter lists its 60 invoices."""
    manifest = batch["workers3"].set_index(["case_id", "format"])
    en = Path(manifest.loc[("C20261123-0000000003", "html"), "path"]).read_text("utf-8")
    assert en.count("<td>R-3-") == 60
    assert "R-1-" not in en
    assert "You paid 3 invoices late." in en
    assert "verspätet" not in en
    de = Path(manifest.loc[("C20261123-0000000002", "html"), "path"]).read_text("utf-8")
    assert de.count("<td>R-2-") == 1
    assert "Sie haben 3 Rechnungen verspätet bezahlt." in de
    assert "You paid" not in de


def test_pre_parsed_stylesheet_gives_the_same_pdf(batch: dict[str, pd.DataFrame]) -> None:
    """The renderer parses letter.css once and drops the inline copy: same bytes as inline."""
    html = Path(batch["workers1"].loc[6, "path"]).read_text(encoding="utf-8")
    renderer = letters._Renderer.create()
    stripped, sheets = renderer._without_own_style(html)
    assert len(sheets) == 1
    assert "<style>" not in stripped
    assert "@page" in html
    assert "@page" not in stripped
    inline = letters._Renderer(letters._environment(), AssetURLFetcher(), FontConfiguration())
    assert inline._without_own_style(html) == (html, [])
    assert renderer.pdf(html, "C1") == inline.pdf(html, "C1")
    assert renderer.pdf(html, "C1")[1] == 3


def _unstructured_content(path: Path) -> list[tuple[int, str]]:
    """Text, images and shadings outside marked content, and MCIDs the structure tree misses.

    The check for WeasyPrint's margin-box defect (Kozea/WeasyPrint#1836): text in ``@page``
    margin boxes gets an MCID whose structure element hangs below the document element
    without being one of its kids, so no reader reaches it from the StructTreeRoot.
    """
    problems: list[tuple[int, str]] = []
    with pikepdf.open(path) as pdf:
        tree = pdf.Root.StructTreeRoot
        reachable, todo = set(), [tree]
        while todo:
            kids = todo.pop().get("/K")
            for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
                new = isinstance(kid, pikepdf.Dictionary) and "/S" in kid
                if new and kid.objgen not in reachable:
                    reachable.add(kid.objgen)
                    todo.append(kid)
        nums = tree.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        for number, page in enumerate(pdf.pages, start=1):
            stack: list[bool] = []
            mcids = set()
            for operands, operator in pikepdf.parse_content_stream(page):
                op = str(operator)
                if op in {"BDC", "BMC"}:
                    props = operands[1] if op == "BDC" else None
                    has_mcid = isinstance(props, pikepdf.Dictionary) and "/MCID" in props
                    if has_mcid:
                        mcids.add(int(props["/MCID"]))
                    stack.append(has_mcid or str(operands[0]) == "/Artifact")
                elif op == "EMC":
                    stack.pop()
                elif op in {"Tj", "TJ", "'", '"', "Do", "sh"} and not any(stack):
                    problems.append((number, op))
            elements = parents.get(int(page.obj.get("/StructParents", -1)), pikepdf.Array())
            problems.extend(
                (number, f"MCID {mcid}")
                for mcid in sorted(mcids)
                if mcid >= len(elements) or elements[mcid].objgen not in reachable
            )
    return problems


def test_letters_have_no_content_outside_the_structure_tree(
    batch: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Every page of every letter (also pages 2 and 3) is fully tagged: no margin-box text.

    The same check finds WeasyPrint's defect in a page number printed in a margin box.
    """
    for path in batch["workers2"].loc[lambda m: m["format"] == "pdf", "path"]:
        assert _unstructured_content(Path(path)) == [], path
    margin = (
        '<html lang="de"><head><title>t</title><style>@page { @bottom-center '
        '{ content: "Seite " counter(page) } }</style></head><body><p>Hallo</p></body></html>'
    )
    pdf, _ = render_pdf(margin)
    (tmp_path / "margin.pdf").write_bytes(pdf)
    assert _unstructured_content(tmp_path / "margin.pdf") == [(1, "MCID 1")]


def test_failing_letter_in_a_worker_is_a_render_error_naming_the_case(tmp_path: Path) -> None:
    """A letter whose amount_due does not add up fails the batch in a pool process too."""
    cases, decisions = _batch([1, 1, 1, 1])
    cases.loc[0, "amount_due"] = Decimal("5.00")
    with pytest.raises(RenderError, match="case C20261123-0000000000: the letter's items") as info:
        render_letters(cases, decisions, pd.DataFrame(), tmp_path, creditor=Creditor.demo(),
                       as_of=AS_OF, workers=2, chunk_size=1)  # fmt: skip
    assert info.value.case_id == "C20261123-0000000000"
    assert not (tmp_path / "C20261123-0000000000.html").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_stopped_chunk_writes_nothing(tmp_path: Path) -> None:
    """Once another worker has failed (the stop event is set), a chunk renders no letter."""
    cases, decisions = _batch([1, 1])
    job = letters._Job(tmp_path, Creditor.demo(), AS_OF, FORMATS, None)
    stop = multiprocessing.get_context("spawn").Event()
    stop.set()
    rows = letters._render_chunk(
        letters._Renderer.create(), job, cases, decisions, pd.DataFrame(), stop=stop
    )
    assert rows == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("workers", "chunk_size", "message"),
    [
        (0, None, "workers must be a whole number of at least 1; got 0"),
        (1.5, None, "workers must be a whole number of at least 1; got 1.5"),
        (2, 0, "chunk_size must be at least 1 or None; got 0"),
    ],
)
def test_bad_workers_or_chunk_size_are_refused(
    tmp_path: Path, workers: object, chunk_size: object, message: str
) -> None:
    """workers must be a whole number >= 1 and chunk_size one >= 1 (or None)."""
    cases, decisions = _batch([1])
    with pytest.raises(RenderError, match=re.escape(message)):
        render_letters(
            cases,
            decisions,
            pd.DataFrame(),
            tmp_path,
            creditor=Creditor.demo(),
            as_of=AS_OF,
            workers=workers,
            chunk_size=chunk_size,
        )


def test_repeated_case_ids_are_refused(tmp_path: Path) -> None:
    """Two cases with one id would overwrite each other's files."""
    cases, decisions = _batch([1, 1])
    cases.loc[1, "case_id"] = cases.loc[0, "case_id"]
    with pytest.raises(RenderError, match=r"case ids must be unique .*C20261123-0000000000"):
        render_letters(cases, decisions, pd.DataFrame(), tmp_path, creditor=Creditor.demo(),
                       as_of=AS_OF)  # fmt: skip


# --------------------------------------------------------------------------- print stream


def _page_text(pdf: pypdf.PdfReader, number: int) -> str:
    return " ".join(pdf.pages[number - 1].extract_text().split())


def test_print_stream_starts_every_letter_on_an_odd_page(
    batch: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Duplex: letters of 1, 2, 1, 3, 1, 1 pages at 1, 3-4, 5, 7-9, 11, 13; blanks after odd."""
    manifest = batch["workers1"]
    ranges = print_stream(manifest, tmp_path / "stream.pdf")
    assert list(ranges.columns) == list(PRINT_STREAM_COLUMNS)
    assert ranges.values.tolist() == [
        ["C20261123-0000000000", 1, 1, 1, 1],
        ["C20261123-0000000001", 3, 4, 2, 1],
        ["C20261123-0000000002", 5, 5, 1, 1],
        ["C20261123-0000000003", 7, 9, 3, 2],
        ["C20261123-0000000004", 11, 11, 1, 1],
        ["C20261123-0000000005", 13, 13, 1, 1],
    ]
    reader = pypdf.PdfReader(tmp_path / "stream.pdf")
    assert len(reader.pages) == 14 == 2 * ranges["sheets"].sum()
    for blank in (2, 6, 10, 12, 14):
        assert _page_text(reader, blank) == ""
        assert [float(v) for v in reader.pages[blank - 1].mediabox] == pytest.approx(
            [0, 0, 595.28, 841.89], abs=0.01
        )
    for row in ranges.itertuples():
        letter = pypdf.PdfReader(manifest.set_index(["case_id", "format"]).loc[
            (row.case_id, "pdf"), "path"])  # fmt: skip
        for page in range(row.pages):
            assert _page_text(reader, row.first_page + page) == _page_text(letter, page + 1)
    with pikepdf.open(tmp_path / "stream.pdf") as stream:
        assert "/StructTreeRoot" not in stream.Root
        assert "/Metadata" not in stream.Root  # claims no PDF/UA conformance
        assert not any("/StructParents" in page.obj for page in stream.pages)


def test_print_stream_simplex_paths_and_determinism(
    batch: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Simplex: no blank pages; paths work like the manifest; the same input, the same bytes."""
    paths = batch["workers2"].loc[lambda m: m["format"] == "pdf", "path"].tolist()
    ranges = print_stream(paths[:4], tmp_path / "a.pdf", duplex=False)
    assert ranges[["first_page", "last_page", "pages", "sheets"]].values.tolist() == [
        [1, 1, 1, 1], [2, 3, 2, 2], [4, 4, 1, 1], [5, 7, 3, 3],
    ]  # fmt: skip
    assert ranges["case_id"].tolist() == [Path(p).stem for p in paths[:4]]
    print_stream(paths[:4], tmp_path / "b.pdf", duplex=False)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert len(pypdf.PdfReader(tmp_path / "a.pdf").pages) == 7


def test_print_stream_refuses_changed_letters_and_empty_input(
    batch: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """A letter whose sha256 differs from the manifest, or no PDF at all, is a RenderError."""
    manifest = batch["workers1"].copy()
    manifest.loc[3, "sha256"] = "0" * 64
    with pytest.raises(RenderError, match=r"case C20261123-0000000001: .* differs from the "):
        print_stream(manifest, tmp_path / "s.pdf")
    assert not (tmp_path / "s.pdf").exists()
    with pytest.raises(RenderError, match="no PDF letters given"):
        print_stream(batch["workers1"].loc[lambda m: m["format"] == "html"], tmp_path / "s.pdf")
    assert list(tmp_path.iterdir()) == []


# --- template id, template hash, data hash ---------------------------------------------------


def test_manifest_hashes_are_stable_across_workers_and_distinct_per_case(
    batch: dict[str, pd.DataFrame],
) -> None:
    """The package's id and set hash on every row; one data hash per case, same for any run."""
    one = batch["workers1"]
    template, digest = letters.template_fingerprint()
    assert set(one["template"]) == {template} == {"letters/letter.html.j2"}
    assert set(one["template_sha256"]) == {digest}
    assert (one.groupby("case_id")["data_sha256"].nunique() == 1).all()
    assert one.drop_duplicates("case_id")["data_sha256"].is_unique
    columns = ["case_id", "format", "template", "template_sha256", "data_sha256"]
    for name in ("workers2", "workers3"):
        assert batch[name][columns].equals(one[columns])


def test_data_hash_changes_with_the_case_data_only(tmp_path: Path) -> None:
    cases = _cases()
    first = render_letters(cases, _decisions(), _reasons(), tmp_path / "a",
                           creditor=Creditor.demo(), as_of=AS_OF, formats=["html"])  # fmt: skip
    again = render_letters(cases, _decisions(), _reasons(), tmp_path / "b",
                           creditor=Creditor.demo(), as_of=AS_OF, formats=["html"])  # fmt: skip
    assert first["data_sha256"].tolist() == again["data_sha256"].tolist()
    changed = cases.assign(name=["Erika Musterfrau", "Acme Trading Ltd"])
    other = render_letters(changed, _decisions(), _reasons(), tmp_path / "c",
                           creditor=Creditor.demo(), as_of=AS_OF, formats=["html"])  # fmt: skip
    assert other.loc[0, "data_sha256"] != first.loc[0, "data_sha256"]
    assert other.loc[1, "data_sha256"] == first.loc[1, "data_sha256"]
    assert other["template_sha256"].equals(first["template_sha256"])


def test_canonical_json_of_the_context() -> None:
    """Sorted keys, no whitespace, UTF-8, Decimal and dates as strings, numpy as numbers."""
    import numpy as np

    context = {"z": [Decimal("1.10"), date(2026, 1, 2)], "a": {"ü": np.int64(3)}, "m": None}
    canonical = '{"a":{"ü":3},"m":null,"z":["1.10","2026-01-02"]}'
    assert letters._data_sha256(context) == hashlib.sha256(canonical.encode()).hexdigest()
    with pytest.raises(TypeError, match="cannot encode"):
        letters._data_sha256({"x": object()})


# --- legal texts -----------------------------------------------------------------------------


@pytest.mark.parametrize("jurisdiction", ["DE", "GB"])
def test_every_level_and_language_of_the_shipped_policies_has_legal_text(
    jurisdiction: str,
) -> None:
    policy = Policy.default(jurisdiction)
    legal = letters._TemplateSet.load().legal
    for level in range(1, policy.max_level + 1):
        for lang in letters.LOCALES:
            for segment in ("B2C", "B2B"):
                for escalation in (True, False):
                    paragraphs = legal.paragraphs(
                        jurisdiction, level, lang, segment=segment, escalation=escalation,
                        values={"deadline": "1. Januar 2027"}, case_id="C1",
                    )  # fmt: skip
                    assert paragraphs and all(p.strip() for p in paragraphs)
                    assert not any("{" in p for p in paragraphs)
            html = _letter(lang, policy, level=level, currency=policy.currency)
            assert '<section aria-labelledby="h-legal" class="legal">' in html


LEGAL_DE_1 = (
    "<p>Zahlen Sie nicht bis zum 3. Dezember 2026, sind Sie spätestens dann mit der Zahlung "
    "im Verzug (§ 286 BGB). Im Verzug können wir Zinsen verlangen. Sie betragen im Jahr 5 "
    "Prozentpunkte mehr als der Basiszinssatz (§ 288 Abs. 1 BGB).</p>"
)
LEGAL_DE_1_B2B = (
    "<p>Zahlen Sie nicht bis zum 3. Dezember 2026, sind Sie spätestens dann mit der Zahlung "
    "im Verzug (§ 286 BGB). Im Verzug können wir Zinsen verlangen. Sie betragen im Jahr 9 "
    "Prozentpunkte mehr als der Basiszinssatz (§ 288 Abs. 2 BGB). Dazu kommt eine Pauschale "
    "von 40 Euro (§ 288 Abs. 5 BGB). Haben wir später Kosten, um die Forderung einzutreiben, "
    "rechnen wir die Pauschale darauf an.</p>"
)
LEGAL_DE_4 = [
    "<p>Wir haben Sie bereits an die Zahlung erinnert. Deshalb sind Sie mit der Zahlung im "
    "Verzug (§ 286 BGB). Für die Zeit des Verzugs können wir Zinsen verlangen. Sie betragen "
    "im Jahr 5 Prozentpunkte mehr als der Basiszinssatz (§ 288 Abs. 1 BGB).</p>",
    "<p>Zahlen Sie nicht bis zum 30. November 2026, können wir ein Inkassounternehmen "
    "beauftragen. Wir können auch beim Amtsgericht einen Mahnbescheid beantragen. Das ist das "
    "gerichtliche Mahnverfahren (§§ 688 ff. ZPO). Dadurch können Ihnen weitere Kosten "
    "entstehen. Wie hoch die Kosten für ein Inkasso sein dürfen, ist gesetzlich begrenzt.</p>",
]
LEGAL_GB_4 = [
    "<p>This letter is a Letter of Claim under the Pre-Action Protocol for Debt Claims. You "
    "have 30 days to reply.</p>",
    "<p>With this letter you should get an information sheet, a reply form and a financial "
    "statement form. If one of them is missing, please tell us. Please use the reply form to "
    "tell us if you agree that you owe the debt. You can also use it to tell us if you want "
    "to get debt advice first.</p>",
    "<p>If we do not hear from you within 30 days, we may start court proceedings.</p>",
]


def _legal_section(html: str) -> list[str]:
    """The paragraphs of the legal section, after its heading."""
    section = html.split('<section aria-labelledby="h-legal" class="legal">', 1)[1]
    section = section.split("</section>", 1)[0]
    return re.findall(r"<p>.*?</p>", section)


def test_legal_text_of_a_german_payment_reminder() -> None:
    """Level 1: default at the latest after the deadline, consumer or business interest."""
    html = _letter("de", Policy.default("DE"), level=1)
    assert '<h2 id="h-legal">Rechtliche Hinweise</h2>' in html
    assert _legal_section(html) == [LEGAL_DE_1]
    assert _legal_section(_letter("de", Policy.default("DE"), level=1, segment="B2B")) == [
        LEGAL_DE_1_B2B
    ]


def test_legal_text_of_a_german_final_notice() -> None:
    """The last level names collection and the court procedure, unless escalation is blocked."""
    assert _legal_section(_letter("de", Policy.default("DE"), level=4)) == LEGAL_DE_4
    blocked = _letter("de", Policy.default("DE"), level=4, escalation_blocked=True)
    assert _legal_section(blocked) == LEGAL_DE_4[:1]


def test_legal_text_of_a_uk_letter_of_claim() -> None:
    """Pre-Action Protocol for Debt Claims for individuals; the 1998 Act for businesses."""
    policy = Policy.default("GB")
    assert policy.level_rule(4).letter_of_claim
    html = _letter("en", policy, level=4, currency="GBP")
    assert '<h2 id="h-legal">Legal information</h2>' in html
    assert _legal_section(html) == LEGAL_GB_4
    b2b = _legal_section(_letter("en", policy, level=4, currency="GBP", segment="B2B"))
    assert b2b[0].startswith("<p>This letter is our Letter of Claim. You have 30 days to reply. "
                             "The Late Payment of Commercial Debts (Interest) Act 1998 lets us "
                             "claim interest on this business debt.")  # fmt: skip
    assert "£40 for a debt under £1,000, £70 for £1,000 to £9,999.99 and £100" in b2b[0]
    assert b2b[1] == LEGAL_GB_4[2]


def test_missing_legal_text_is_a_render_error_naming_it() -> None:
    legal = letters._LegalTexts.parse('[DE.1]\nde = "Text."\n', "legal.toml")
    with pytest.raises(RenderError) as info:
        legal.paragraphs("DE", 1, "en", segment="B2C", escalation=True, values={}, case_id="C7")
    assert str(info.value) == (
        "case C7: no legal text for jurisdiction DE, level 1, language en (segment B2C) in "
        'legal.toml; add [DE.1] en = ["..."].'
    )
    assert info.value.case_id == "C7"
    with pytest.raises(RenderError, match="jurisdiction GB, level 1, language de"):
        legal.paragraphs("GB", 1, "de", segment="B2C", escalation=True, values={}, case_id="C7")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[DE.1]\nfr = "Texte."\n', r"\[DE\.1\.fr\] is not a known key"),
        ('[DE.x]\nde = "Text."\n', r"\[DE\.x\] must be a table named by a level number"),
        ('[DE.1]\nde = "Bis {frist} zahlen."\n', r"unknown placeholders \['frist'\]"),
        ("[DE.1]\nde = []\n", r"must be a non-empty text or list of texts"),
        ('[DE.1.escalation]\nfr = "x"\n', r"has unknown languages \['fr'\]"),
        ('[DE.1.B2B.B2C]\nde = "x"\n', r"\[DE\.1\.B2B\.B2C\] is not a known key"),
        ("[DE.1\n", "not valid TOML"),
    ],
)
def test_invalid_legal_texts_are_refused(text: str, problem: str) -> None:
    with pytest.raises(RenderError, match=problem):
        letters._LegalTexts.parse(text, "legal.toml")


# --- why you receive this offer ----------------------------------------------------------------


def _why(html: str) -> tuple[list[str], list[str]]:
    """Paragraphs and list items after the "why this offer" heading, in its section."""
    part = html.split('<h3 id="h-offer-why">', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<p>(.*?)</p>", part), re.findall(r"<li>(.*?)</li>", part)


CLERK_DE = (
    "Das Angebot haben wir nach festen Regeln ausgewählt. Sie müssen es nicht annehmen. Auf "
    "Wunsch prüft eine Mitarbeiterin oder ein Mitarbeiter die Auswahl. Sie können ihr auch "
    "widersprechen. Sie erreichen uns unter Telefon +49 30 1234567-0 und per E-Mail an "
    "forderungen@musterfirma.example."
)


def test_offer_chosen_by_the_rules_explains_its_data_in_german() -> None:
    html = _letter("de", offer="installment_plan", installments=3, offer_code="ELIGIBLE",
                   risk=0.34)  # fmt: skip
    assert '<h3 id="h-offer-why">Warum wir Ihnen dieses Angebot machen</h3>' in html
    paragraphs, items = _why(html)
    assert paragraphs == [
        "Wir bieten eine Ratenzahlung an, wenn wir erwarten, dass Sie den Betrag in Raten gut "
        "zahlen können. Das ist ab einer Summe von 500,00\xa0€ möglich. Dafür haben wir diese "
        "Daten aus Ihrem Kundenkonto bei uns genutzt:",
        CLERK_DE,
    ]
    assert items == [
        "die Summe Ihrer offenen Rechnungen",
        "die Stufe dieses Schreibens: 1. Mahnung",
        "wie Sie Rechnungen bisher bezahlt haben. Daraus schätzen wir, wie wahrscheinlich eine "
        "Zahlung ist. Ergebnis: mittel",
        "ob Sie Ihre Zahlungszusagen der letzten 12 Monate eingehalten haben",
    ]


def test_offer_below_the_risk_range_names_the_purchases_in_english() -> None:
    """A low-risk customer gets an offer only for a high CLV: the purchases are named."""
    html = _letter("en", offer="deferral", deferral_due=pd.Timestamp("2027-01-15"),
                   offer_code="DEFERRAL", risk=0.1)  # fmt: skip
    paragraphs, items = _why(html)
    assert paragraphs == [
        "We offer a later payment date when we expect that a little more time will help you "
        "pay. For this we used these data from your account with us:",
        "We chose this offer by fixed rules. You do not have to accept it. If you wish, a "
        "member of our staff will check the choice. You can also object to it. You can reach "
        "us by phone on +49 30 1234567-0 or by email at forderungen@musterfirma.example.",
    ]
    assert items == [
        "the total of your open invoices",
        "the stage of this letter: first reminder",
        "how you have paid invoices so far. From this we estimate how likely a payment is. "
        "Result: high",
        "how often and how much you have bought from us so far",
        "whether you have kept your payment promises in the last 12 months",
    ]


def test_offer_without_rule_data_names_only_what_the_case_holds() -> None:
    """No offer_code, no risk: only the amount and the level; no minimum, no promises."""
    paragraphs, items = _why(_letter("de", offer="installment_plan", installments=3))
    assert "ab einer Summe" not in paragraphs[0]
    assert items == [
        "die Summe Ihrer offenen Rechnungen",
        "die Stufe dieses Schreibens: 1. Mahnung",
    ]
    assert paragraphs[1] == CLERK_DE
    assert "h-offer-why" not in _letter("de")


def test_offer_paragraph_never_mentions_vulnerability() -> None:
    html = _letter("de", offer="installment_plan", installments=3, offer_code="ELIGIBLE",
                   risk=0.5, vulnerable=True, help_line=True)  # fmt: skip
    why = " ".join(" ".join(part) for part in _why(html)).lower()
    assert "widersprechen" in why and "mitarbeiter" in why
    for word in (*NEVER, "schwierigkeit", "hilfe"):
        assert word not in why, word
