"""Reviewer reports: accessible HTML, exact waterfall numbers, masked data, PDF/UA, determinism."""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import pikepdf
import pypdf
import pytest
import tinycss2

from dunning._assets import templates_dir
from dunning.errors import DataError, PolicyError, RenderError
from dunning.policy import Policy
from explain.attributions import Explanations, explain
from explain.report import (
    LABELS_FILE,
    MANIFEST_COLUMNS,
    PALETTE,
    Contributions,
    case_report_html,
    labels,
    mask_iban,
    model_summary,
    portfolio_report_html,
    report_pdf,
    write_case_reports,
)
from scoring.metrics import calibration_table
from scoring.risk import RiskModel

AS_OF = date(2026, 11, 23)
IBAN = "DE89370400440532013000"
IBAN_MASKED = "DE89 •••• •••• •••• •••• 00"

# --------------------------------------------------------------------------- HTML tree

BLOCK = {"li", "p", "td", "th", "tr", "ul", "div", "section", "figure", "figcaption"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def iter(self, tag: str | None = None) -> Iterator[Node]:
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter(tag)

    def text(self) -> str:
        parts = [
            c if isinstance(c, str) else f" {c.text()} " if c.tag in BLOCK else c.text()
            for c in self.children
        ]
        return " ".join("".join(parts).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def table_by_caption(doc: Node, caption: str) -> list[list[str]]:
    """The rows (header row included) of the table with this caption, as cell texts."""
    for table in doc.iter("table"):
        found = next(table.iter("caption"), None)
        if found is not None and found.text() == caption:
            return [
                [cell.text() for cell in row.children if isinstance(cell, Node)]
                for row in table.iter("tr")
            ]
    raise AssertionError(f"no table captioned {caption!r}")


def assert_accessible(html: str, lang: str) -> Node:
    """The checks of the letters: lang, title, headings, table headers, alt texts."""
    doc = parse(html)
    (root,) = list(doc.iter("html"))
    assert root.attrs["lang"] == lang
    (title,) = list(doc.iter("title"))
    assert title.text()
    levels = [int(n.tag[1]) for n in doc.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    tables = list(doc.iter("table"))
    assert tables
    for table in tables:
        caption = next(table.iter("caption"), None)
        assert caption is not None and caption.text()
        headers = list(table.iter("th"))
        assert headers, caption.text()
        assert all(th.attrs.get("scope") in {"col", "row"} for th in headers), caption.text()
    for img in doc.iter("img"):
        assert len(img.attrs.get("alt", "")) > 40, img.attrs.get("alt")
    for figure in doc.iter("figure"):
        assert next(figure.iter("img"), None) is not None
        assert next(figure.iter("figcaption"), None) is not None
    return doc


# --------------------------------------------------------------------------- inputs


def _case(**extra: Any) -> dict[str, Any]:
    return {
        "case_id": "C20261123-aaaaaaaaaa",
        "customer_id": "K-1",
        "name": "Erika Mustermann",
        "street": "Hauptstraße 5",
        "postal_code": "80331",
        "city": "München",
        "email": "erika.mustermann@example.org",
        "phone": "+49 89 1234567",
        "segment": "B2C",
        "level": 2,
        "level_name_de": "1. Mahnung",
        "level_name_en": "first reminder",
        "amount_due": Decimal("1234.56"),
        "currency": "EUR",
        "risk": 0.62,
        "offer": "installment_plan",
        "offer_reason": "installment plan offered: CLV in the top fifth",
        "offer_reason_de": "Ratenzahlung angeboten: CLV im oberen Fünftel",
        "tone": "neutral",
        "channel": "letter",
        "needs_review": True,
        "review_reason": "HIGH_EXPOSURE|ANOMALY",
        **extra,
    }


def _decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C20261123-aaaaaaaaaa"] * 2,
            "invoice_id": ["RE-0815", "RE-0904"],
            "days_overdue": [47, 12],
            "open_amount": [Decimal("1200.00"), Decimal("29.56")],
            "fee": [Decimal("5.00"), Decimal("0.00")],
            "interest": [Decimal("0.00"), Decimal("0.00")],
            "flat_fee": [Decimal("0.00"), Decimal("0.00")],
            "currency": ["EUR", "EUR"],
            "risk": [0.64, 0.3],
            "level": [2, 1],
            "rule_trace": ["level 2: 47 days overdue", "level 1: 12 days overdue"],
            "rule_trace_de": ["Stufe 2: 47 Tage überfällig", "Stufe 1: 12 Tage überfällig"],
        }
    )


def _reasons() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["RE-0815", "RE-0815", "RE-0904", "RE-0815"],
            "rank": [1, 2, 1, 3],
            "code": ["DAYS_OVERDUE", "LATE_12M", "DAYS_OVERDUE", "SEGMENT"],
            "feature": ["days_overdue", "late_12m", "days_overdue", "segment"],
            "value": [47, 3, 12, "B2C"],
            "contribution": [0.9, 0.4, 0.2, -0.3],
            "text": [
                "The invoice is 47 days overdue.",
                "3 late payments in the last 12 months.",
                "The invoice is 12 days overdue.",
                "Customer group: consumer.",
            ],
            "source": ["model", "model", "model", "model"],
        }
    )


def _contributions() -> Contributions:
    return Contributions(
        values=pd.Series(
            {"days_overdue": 0.9, "late_12m": 0.4, "segment": -0.3, "open_amount": 0.05}
        ),
        base_value=-1.0,
        data=pd.Series(
            {
                "days_overdue": 47,
                "late_12m": 3,
                "segment": "B2C",
                "open_amount": math.log1p(1234.56),
            },
            dtype=object,
        ),
        invoice_id="RE-0815",
    )


def _render(lang: str = "en", **kwargs: Any) -> str:
    arguments: dict[str, Any] = {
        "contributions": _contributions(),
        "counterfactual": "Paying 600.00 EUR would lower the level.",
        "data_quality": ["Industry is missing for this customer."],
        "drift_warning": "The score distribution shifted (PSI 0.31).",
        "model_info": {"version_id": "abc123", "calibration": "isotonic", "roc_auc": 0.8123},
        "policy_info": Policy.default("DE"),
        "iban": IBAN,
        "lang": lang,
        "as_of": AS_OF,
        **kwargs,
    }
    return case_report_html(_case(), _decisions(), _reasons(), **arguments)


# --------------------------------------------------------------------------- case report


@pytest.mark.parametrize(("lang", "html_lang"), [("de", "de-DE"), ("en", "en-GB")])
def test_case_report_is_accessible(lang: str, html_lang: str) -> None:
    """lang, one h1, no skipped heading, captions and scoped headers, alt text on the chart."""
    doc = assert_accessible(_render(lang), html_lang)
    assert len(list(doc.iter("img"))) == 1
    assert not list(doc.iter("script"))


def test_case_report_labels_in_both_languages() -> None:
    """German and English headings, labels, level names and number formats."""
    de, en = parse(_render("de")), parse(_render("en"))
    assert [h.text() for h in de.iter("h2")] == [
        "Überblick",
        "Score und Kalibrierung",
        "Gründe",
        "Beiträge der Merkmale (Wasserfall)",
        "Rechnungen und Regeln",
        "Datenqualität",
        "Was die Einschätzung ändern würde",
        "Modell und Richtlinie",
    ]
    assert [h.text() for h in en.iter("h2")] == [
        "Summary",
        "Score and calibration",
        "Reasons",
        "Feature contributions (waterfall)",
        "Invoices and rules",
        "Data quality",
        "What would change the assessment",
        "Model and policy",
    ]
    summary_de = dict(table_by_caption(de, "Vorgang und Entscheidung"))
    assert summary_de["Mahnstufe"] == "2 – 1. Mahnung"
    assert summary_de["Geforderter Betrag"] == "1.234,56 €"
    assert summary_de["Angebot"] == "Ratenzahlung angeboten: CLV im oberen Fünftel"
    assert summary_de["Prüfung"] == "ja: hoher Betrag, Auffälligkeit"
    summary_en = dict(table_by_caption(en, "Case and decision"))
    assert summary_en["Dunning level"] == "2 – first reminder"
    assert summary_en["Amount due"] == "€1,234.56"
    assert summary_en["Review"] == "yes: high exposure, anomaly"
    assert summary_en["Tone"] == "neutral" and summary_en["Channel"] == "letter"
    score = dict(table_by_caption(en, "Score of the case"))
    assert score == {
        "Risk of the case (calibrated, weighted by open amount)": "62.0%",
        "Risk of invoice RE-0815 (calibrated)": "64.0%",
        "Raw model probability (before calibration)": "51.2%",
        "Model log-odds": "0.050",
        "Model base value": "-1.000 log-odds (26.9%)",
    }


def test_waterfall_table_has_exactly_the_contributions() -> None:
    """Base value, contributions by size, running total and odds factor, formatted per language."""
    en = table_by_caption(
        parse(_render("en")), "Contributions to the score (the numbers of the chart)"
    )
    assert en == [
        ["Feature", "Value", "Contribution (log-odds)", "Running total (log-odds)", "Odds factor"],
        ["Model base value", "–", "–", "-1.000", "–"],
        ["Days overdue", "47", "+0.900", "-0.100", "×2.46"],
        ["Late payments (12 months)", "3", "+0.400", "0.300", "×1.49"],
        ["Customer segment", "B2C", "-0.300", "0.000", "×0.74"],
        ["Open amount", "1,234.56", "+0.050", "0.050", "×1.05"],
        ["Score (log-odds)", "–", "–", "0.050", "–"],
    ]
    de = table_by_caption(
        parse(_render("de")), "Beiträge zum Score (dieselben Zahlen wie im Diagramm)"
    )
    assert de[2] == ["Tage überfällig", "47", "+0,900", "-0,100", "×2,46"]
    assert de[5] == ["Offener Betrag", "1.234,56", "+0,050", "0,050", "×1,05"]
    alt = next(parse(_render("en")).iter("img")).attrs["alt"]
    assert alt.startswith("Waterfall chart: base value -1.000 log-odds; largest contributions: ")
    assert "Days overdue +0.900, Late payments (12 months) +0.400, Customer segment -0.300" in alt
    assert "score 0.050 log-odds (raw probability 51.2%)" in alt


def test_waterfall_collapses_small_contributions_into_one_row() -> None:
    """Beyond ten features, the smallest are summed in "Other features (n)"; the total holds."""
    values = pd.Series({f"feature_{i:02d}": 0.1 * (i + 1) for i in range(12)})
    html = case_report_html(
        {"case_id": "C1"},
        pd.DataFrame(),
        pd.DataFrame(),
        lang="en",
        contributions=Contributions(values, 0.25),
    )
    rows = table_by_caption(parse(html), "Contributions to the score (the numbers of the chart)")
    assert [r[0] for r in rows[2:5]] == ["feature_11", "feature_10", "feature_09"]
    assert rows[-2] == ["Other features (2)", "–", "+0.300", "8.050", "×1.35"]
    assert rows[-1] == ["Score (log-odds)", "–", "–", "8.050", "–"]


def test_reasons_are_grouped_by_code_with_mitigating_ones_apart() -> None:
    """One row per code (strongest text first, all its invoices); negative ones listed apart."""
    doc = parse(_render("en"))
    raising = table_by_caption(doc, "Reasons that raise the risk (largest contribution first)")
    assert raising[1:] == [
        ["The invoice is 47 days overdue.", "DAYS_OVERDUE", "RE-0815, RE-0904", "model", "+0.900"],
        ["3 late payments in the last 12 months.", "LATE_12M", "RE-0815", "model", "+0.400"],
    ]
    lowering = table_by_caption(doc, "Reasons that lower the risk")
    assert lowering[1:] == [["Customer group: consumer.", "SEGMENT", "RE-0815", "model", "-0.300"]]


def test_invoices_rules_notes_and_versions_are_shown() -> None:
    """Invoices with exact amounts, rule traces in the language, notes, hint, versions."""
    doc = parse(_render("de"))
    invoices = table_by_caption(doc, "Rechnungen des Vorgangs")
    assert invoices[1] == [
        "RE-0815",
        "47",
        "1.200,00 €",
        "5,00 €",
        "0,00 €",
        "0,00 €",
        "64,0 %",
        "2",
    ]
    rules = table_by_caption(
        doc, "Regeln hinter Mahnstufe, Angebot, Ton und Versandweg je Rechnung"
    )
    assert rules[1:] == [
        ["RE-0815", "Stufe 2: 47 Tage überfällig"],
        ["RE-0904", "Stufe 1: 12 Tage überfällig"],
    ]
    text = doc.text()
    assert "Industry is missing for this customer." in text
    assert "Paying 600.00 EUR would lower the level." in text
    assert "Drift-Warnung: The score distribution shifted (PSI 0.31)." in text
    versions = dict(table_by_caption(doc, "Modell- und Richtlinienversion"))
    assert versions["Modellversion"] == "abc123"
    assert versions["ROC AUC (Validierung)"] == "0,812"
    assert versions["Richtlinie"] == "Standard Deutschland"
    assert versions["Inhalts-Hash der Richtlinie"] == Policy.default("DE").version_id


def test_calibration_context_names_the_validation_bin() -> None:
    """The explained invoice's calibrated risk is placed in its bin of the validation table."""
    table = calibration_table([0, 1, 1, 0, 1], [0.61, 0.62, 0.68, 0.2, 0.9]).to_dict("records")
    html = _render("en", model_info={"version_id": "v1", "calibration_table": table})
    assert (
        "In context: in the validation data, 3 invoices were scored between 60.0% and 70.0%; "
        "66.7% of them stayed unpaid (mean prediction 63.7%)."
    ) in parse(html).text()
    assert "calibration_table" not in html


def test_personal_data_is_minimised() -> None:
    """The IBAN is masked; address, e-mail and phone never appear, in HTML or PDF."""
    html = _render("en")
    pdf_text = _pdf_text(report_pdf(html))
    for text in (html, pdf_text):
        assert IBAN_MASKED in text
        for secret in (
            IBAN,
            "DE89 3704 0044 0532 0130 00",
            "3704",
            "0532 0130",
            "Hauptstraße",
            "80331",
            "München",
            "erika.mustermann",
            "1234567",
        ):
            assert secret not in text, secret
        # Any e-mail address (charts and CSS, which hold no personal data, left out).
        visible = re.sub(r"data:[^\"]*|<style>.*?</style>", "", text, flags=re.S)
        assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", visible)
    assert "Erika Mustermann" in html and "K-1" in html


def test_wording_is_complete_in_both_languages() -> None:
    """German and English have the same texts, placeholders and words for every code."""
    import string
    import tomllib

    from dunning.proposal import REVIEW_CODES
    from scoring.drift import DRIFT_STATUSES

    data = tomllib.loads((templates_dir() / LABELS_FILE).read_text(encoding="utf-8"))
    assert sorted(data) == ["de", "en"]
    codes = {lang: data[lang].pop("codes") for lang in ("de", "en")}
    assert data["de"].keys() == data["en"].keys()
    for key, text in data["de"].items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(data["en"][key]) if f}, key
        assert text.strip() and data["en"][key].strip(), key
    assert labels("de") == data["de"] and labels("en") == data["en"]
    assert codes["de"].keys() == codes["en"].keys()
    for table in codes["de"]:
        assert codes["de"][table].keys() == codes["en"][table].keys(), table
    assert list(codes["en"]["review"]) == list(REVIEW_CODES)
    assert list(codes["en"]["drift_status"]) == list(DRIFT_STATUSES)
    assert set(codes["en"]["offer"]) == {"none", "installment_plan", "deferral"}
    with pytest.raises(PolicyError, match="'fr'"):
        labels("fr")


def test_mask_iban() -> None:
    """Country code, check digits and the last two characters stay; grouped in fours."""
    assert mask_iban(IBAN) == IBAN_MASKED
    assert mask_iban("GB29 NWBK 6016 1331 9268 19") == "GB29 •••• •••• •••• •••• 19"
    assert mask_iban("NO9386011117947") == "NO93 •••• •••• •47"
    with pytest.raises(DataError, match="mask_iban needs an IBAN"):
        mask_iban("not an iban")


def test_case_report_pdf_is_tagged_with_title_language_and_reasons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PDF/UA-1: structure tree, /Lang, title, the chart as a Figure with /Alt, reason texts."""
    html = _render("de")
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = report_pdf(html, title="C20261123-aaaaaaaaaa")
    assert [r.getMessage() for r in caplog.records if r.name == "weasyprint"] == []
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == "Prüfbericht zum Vorgang C20261123-aaaaaaaaaa"
    text = _pdf_text(pdf)
    for reason in (
        "The invoice is 47 days overdue.",
        "3 late payments in the last 12 months.",
        "Customer group: consumer.",
    ):
        assert reason in text
    assert "1.234,56 €" in text
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert str(doc.Root.Lang) == "de-DE"
        assert bool(doc.Root.MarkInfo.Marked) is True
        assert bool(doc.Root.ViewerPreferences.DisplayDocTitle) is True
        assert "pdfuaid:part" in doc.open_metadata()
        elements = list(_structure(doc.Root.StructTreeRoot))
    kinds = [kind for kind, _ in elements]
    figures = [alt for kind, alt in elements if kind == "/Figure"]
    assert kinds.count("/H1") == 1 and "/H2" in kinds and "/TH" in kinds and "/TD" in kinds
    assert len(figures) == 1 and figures[0].startswith("Wasserfalldiagramm: Ausgangswert -1,000")


def _structure(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, pikepdf.Array):
        for item in node:
            yield from _structure(item)
        return
    if not isinstance(node, pikepdf.Dictionary):
        return
    if "/S" in node:
        yield str(node.S), str(node.get("/Alt", ""))
    if "/K" in node:
        yield from _structure(node.K)


def _pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_output_is_deterministic() -> None:
    """The same inputs give byte-identical HTML (charts included) and PDF."""
    assert _render("en") == _render("en")
    html = _render("de")
    assert report_pdf(html) == report_pdf(html)


def test_rendering_leaves_matplotlib_state_alone() -> None:
    """Charts use a local figure in an rc_context: rcParams and backend are unchanged."""
    before, backend = dict(mpl.rcParams), mpl.get_backend()
    _render("en")
    portfolio_report_html(_portfolio_cases(), _portfolio_decisions(), explanations=_explanations())
    assert dict(mpl.rcParams) == before and mpl.get_backend() == backend


def test_case_report_takes_explanations_and_picks_the_main_invoice() -> None:
    """With Explanations, the main invoice (largest risk × open amount) is explained, grouped."""
    exp = _explanations()
    decisions = pd.DataFrame(
        {
            "invoice_id": ["R1", "R2"],
            "open_amount": [Decimal("10.00"), Decimal("500.00")],
            "risk": [0.9, 0.5],
        }
    )
    html = case_report_html(
        {"case_id": "C1"}, decisions, pd.DataFrame(), contributions=exp, lang="en"
    )
    rows = table_by_caption(parse(html), "Contributions to the score (the numbers of the chart)")
    grouped = exp.grouped()
    expected = grouped.values[2]  # R2
    assert "main invoice R2" in html
    late = rows[[r[0] for r in rows].index("Late payments (12 months)")]
    assert late[2] == f"{expected[1]:+.3f}"
    assert rows[-1][3] == f"{grouped.log_odds[2]:.3f}"
    chosen = Contributions.from_explanations(exp, 0)
    assert chosen.invoice_id == "R0" and chosen.values.index.tolist() == list(grouped.feature_names)
    with pytest.raises(DataError, match="say which row"):
        case_report_html({"case_id": "C1"}, pd.DataFrame(), pd.DataFrame(), contributions=exp)
    with pytest.raises(DataError, match="neither an invoice id nor a position"):
        Contributions.from_explanations(exp, "R999")


def test_bad_inputs_are_refused() -> None:
    """Unknown language, missing case id and non-finite contributions are typed errors."""
    with pytest.raises(PolicyError, match="'fr'") as info:
        case_report_html({"case_id": "C1"}, pd.DataFrame(), pd.DataFrame(), lang="fr")
    assert info.value.field == "lang"
    with pytest.raises(DataError, match="no case_id"):
        case_report_html({}, pd.DataFrame(), pd.DataFrame())
    with pytest.raises(DataError, match="finite log-odds"):
        Contributions(pd.Series({"a": float("nan")}), 0.0)
    with pytest.raises(DataError, match="duplicate features"):
        Contributions(pd.Series([0.1, 0.2], index=["a", "a"]), 0.0)


def test_pdf_fails_on_weasyprint_errors() -> None:
    """A missing alt text (PDF/UA) or a foreign URL fails the render instead of being logged."""
    svg = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/%3E"
    with pytest.raises(RenderError, match="report C1: WeasyPrint reported an error"):
        report_pdf(f'<html lang="en"><title>t</title><img src="{svg}"></html>', title="C1")
    with pytest.raises(RenderError, match="refused to fetch"):
        report_pdf(
            '<html lang="en"><title>t</title><link rel="stylesheet" '
            'href="https://example.com/x.css"></html>'
        )


# --------------------------------------------------------------------------- CSS contrast


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _css_colours() -> tuple[set[str], set[str]]:
    """Text colours and background colours declared in report.css (every rule, any media)."""
    css = (templates_dir() / "reports" / "report.css").read_text(encoding="utf-8")
    text: set[str] = set()
    background = {"#ffffff"}

    def walk(rules: list[Any]) -> None:
        for rule in rules:
            if rule.type == "qualified-rule" or (rule.type == "at-rule" and rule.content):
                content = rule.content
                if rule.type == "at-rule" and rule.lower_at_keyword == "media":
                    walk(
                        tinycss2.parse_rule_list(content, skip_whitespace=True, skip_comments=True)
                    )
                    continue
                for decl in tinycss2.parse_declaration_list(
                    content, skip_whitespace=True, skip_comments=True
                ):
                    if decl.type != "declaration":
                        continue
                    colours = {f"#{t.value.lower()}" for t in decl.value if t.type == "hash"}
                    if decl.lower_name == "color":
                        text.update(colours)
                    elif decl.lower_name in ("background", "background-color"):
                        background.update(colours)

    walk(tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True))
    return text, background


def test_css_text_colours_meet_wcag_aa_on_every_background() -> None:
    """Every text colour in report.css has a contrast of at least 4.5:1 on every background."""
    text, background = _css_colours()
    assert {"#111111", "#404040", "#1f4e79"} <= text
    assert {"#ececec", "#fff1cc", "#eaf1f8"} <= background
    worst = min((contrast(t, b), t, b) for t in text for b in background)
    assert worst[0] >= 4.5, worst


def test_chart_palette_contrast() -> None:
    """Chart text is 4.5:1 on white; bars and markers at least 3:1 (non-text contrast)."""
    assert contrast(PALETTE["text"], PALETTE["background"]) >= 4.5
    for name in ("raise", "lower", "accent", "reference"):
        assert contrast(PALETTE[name], PALETTE["background"]) >= 3.0, name
    assert PALETTE["raise"] != PALETTE["lower"]


def test_contrast_formula_matches_wcag_reference_values() -> None:
    """The checker itself: black on white is 21:1, #767676 on white about 4.54:1."""
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast("#777777", "#ffffff") < 4.5


# --------------------------------------------------------------------------- portfolio


def _explanations(n: int = 40) -> Explanations:
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 100, n),
            "late_12m_count": rng.integers(0, 5, n),
            "late_12m_share_isna": rng.integers(0, 2, n),
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
        },
        index=pd.Index([f"R{i}" for i in range(n)], name="invoice_id"),
    )
    values = np.column_stack(
        [
            data["days_overdue"] / 50 - 1,
            rng.normal(0, 0.3, n),
            rng.normal(0, 0.1, n),
            np.where(data["segment"] == "B2B", 0.2, -0.2),
        ]
    )
    return Explanations(
        values=values, base_values=np.full(n, -0.5), data=data, feature_names=tuple(data.columns)
    )


def _portfolio_cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4"],
            "customer_id": ["K-1", "K-2", "K-3", "K-4"],
            "name": ["Ann Lee", "Bo Chan", "Cy Doe", "Di Roe"],
            "email": ["ann@example.org", "", "", ""],
            "street": ["1 High Street", "", "", ""],
            "level": [1, 2, 2, 3],
            "level_name_en": [
                "payment reminder",
                "first reminder",
                "first reminder",
                "second reminder",
            ],
            "amount_due": [
                Decimal("80.00"),
                Decimal("1200.00"),
                Decimal("99.99"),
                Decimal("5000.01"),
            ],
            "currency": ["EUR", "EUR", "GBP", "EUR"],
            "risk": [0.2, 0.7, 0.5, 0.9],
            "offer": ["none", "deferral", "none", "installment_plan"],
            "needs_review": [False, True, True, True],
            "review_reason": ["", "HIGH_EXPOSURE", "DISPUTE|ANOMALY", "HIGH_EXPOSURE"],
        }
    )


def _portfolio_decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4", "C4"],
            "invoice_id": ["R1", "R2", "R3", "R4", "R5"],
            "risk": [0.2, 0.7, 0.5, 0.95, 0.05],
        }
    )


def _portfolio(lang: str = "en", **kwargs: Any) -> str:
    reasons = pd.DataFrame(
        {
            "invoice_id": ["R2", "R2", "R4", "R4", "R5"],
            "code": ["DAYS_OVERDUE", "LATE_12M", "EXPOSURE", "DAYS_OVERDUE", "DAYS_OVERDUE"],
            "contribution": [0.8, 0.3, 0.5, 1.2, 0.1],
            "text": [
                "47 days overdue.",
                "2 late payments.",
                "3 open invoices.",
                "90 days overdue.",
                "5 days overdue.",
            ],
        }
    )
    drift = pd.DataFrame(
        {
            "feature": ["days_overdue", "segment", "score"],
            "role": ["feature", "feature", "score"],
            "kind": ["numeric", "categorical", "numeric"],
            "psi": [0.31, 0.05, 0.12],
            "status": ["significant", "stable", "moderate"],
            "n_reference": [1000, 1000, 1000],
            "n_new": [40, 40, 40],
        }
    )
    fairness = pd.DataFrame(
        {"group": ["B2B", "B2C"], "cases": [10, 30], "review_rate": [0.3, 0.2667]}
    )
    arguments: dict[str, Any] = {
        "explanations": _explanations(),
        "reasons": reasons,
        "drift": drift,
        "fairness": fairness,
        "fairness_warnings": ["Review rate differs by more than 5 points between segments."],
        "y_true": [0, 1, 1, 0, 1, 0],
        "y_prob": [0.1, 0.8, 0.65, 0.3, 0.95, 0.12],
        "case_links": {"C2": "cases/case-C2.html", "C4": "cases/case-C4.html"},
        "model_info": {"version_id": "abc123"},
        "policy_info": {"name": "Standard", "version": "2026.1", "version_id": "ffee"},
        "lang": lang,
        "as_of": AS_OF,
        **kwargs,
    }
    return portfolio_report_html(_portfolio_cases(), _portfolio_decisions(), **arguments)


@pytest.mark.parametrize(("lang", "html_lang"), [("de", "de-DE"), ("en", "en-GB")])
def test_portfolio_report_is_accessible(lang: str, html_lang: str) -> None:
    """Same checks as the case report; four charts, each with a table next to it."""
    doc = assert_accessible(_portfolio(lang), html_lang)
    figures = list(doc.iter("figure"))
    assert len(figures) == 4
    h2 = [h.text() for h in doc.iter("h2")]
    assert h2[:3] == (
        ["Vorgänge", "Verteilung der Scores", "Wichtigkeit der Merkmale"]
        if lang == "de"
        else ["Cases", "Score distribution", "Feature importance"]
    )


def test_portfolio_counts_and_score_distribution() -> None:
    """Counts by level (with amounts per currency), offer and review reason; score histogram."""
    doc = parse(_portfolio("en"))
    assert table_by_caption(doc, "Cases by dunning level")[1:] == [
        ["1", "payment reminder", "1", "25.0%", "€80.00"],
        ["2", "first reminder", "2", "50.0%", "€1,200.00; £99.99"],
        ["3", "second reminder", "1", "25.0%", "€5,000.01"],
    ]
    assert table_by_caption(doc, "Cases by offer")[1:] == [
        ["no offer", "2", "50.0%"],
        ["payment deferral", "1", "25.0%"],
        ["instalment plan", "1", "25.0%"],
    ]
    assert table_by_caption(doc, "Cases by review status and review reason")[1:] == [
        ["routed to review", "3", "75.0%"],
        ["no review", "1", "25.0%"],
        ["of which review reason: high exposure", "2", "50.0%"],
        ["of which review reason: disputed invoice", "1", "25.0%"],
        ["of which review reason: anomaly", "1", "25.0%"],
    ]
    histogram = table_by_caption(doc, "Invoices per score range (calibrated risk)")
    counts = {row[0]: row[1] for row in histogram[1:]}
    assert counts == {
        "0.0–0.1": "1",
        "0.1–0.2": "0",
        "0.2–0.3": "1",
        "0.3–0.4": "0",
        "0.4–0.5": "0",
        "0.5–0.6": "1",
        "0.6–0.7": "0",
        "0.7–0.8": "1",
        "0.8–0.9": "0",
        "0.9–1.0": "1",
    }


def test_portfolio_importance_beeswarm_and_calibration_match_their_inputs() -> None:
    """Mean |contribution| of the grouped features; calibration table from y_true, y_prob."""
    exp = _explanations()
    grouped = exp.grouped()
    doc = parse(_portfolio("en"))
    importance = table_by_caption(doc, "Mean absolute contribution per feature")
    means = np.abs(grouped.values).mean(axis=0)
    expected = sorted(zip(grouped.feature_names, means, strict=True), key=lambda x: -x[1])
    assert [(r[1], r[2]) for r in importance[1:]] == [(n, f"{m:.3f}") for n, m in expected]
    beeswarm = table_by_caption(doc, "Distribution of the contributions per feature")
    days = beeswarm[1]
    assert days[0] == "Days overdue"
    assert days[2:5] == [
        f"{v:+.3f}"
        for v in (
            grouped.values[:, 0].min(),
            np.median(grouped.values[:, 0]),
            grouped.values[:, 0].max(),
        )
    ]
    assert days[5] == "higher values raise the risk"
    assert [r[5] for r in beeswarm[1:] if r[0] == "Customer segment"] == ["category (no direction)"]
    calibration = table_by_caption(doc, "Calibration table")
    reference = calibration_table([0, 1, 1, 0, 1, 0], [0.1, 0.8, 0.65, 0.3, 0.95, 0.12])
    assert [int(r[1]) for r in calibration[1:]] == reference["count"].tolist()
    assert calibration[2] == ["0.1–0.2", "2", "0.110", "0.000"]


def test_portfolio_without_calibration_data_says_so() -> None:
    """No outcomes and no model table: the plot is left out with a note; a model table works."""
    html = _portfolio("en", y_true=None, y_prob=None)
    assert "No calibration data given" in html and len(list(parse(html).iter("figure"))) == 3
    table = calibration_table([0, 1], [0.2, 0.7]).to_dict("records")
    html = _portfolio(
        "en", y_true=None, y_prob=None, model_info={"version_id": "v", "calibration_table": table}
    )
    assert len(list(parse(html).iter("figure"))) == 4


def test_portfolio_drift_and_fairness_tables() -> None:
    """PSI rows translated with labels; fairness as given with its warnings; a drift warning."""
    doc = parse(_portfolio("de"))
    drift = table_by_caption(doc, "Drift je Merkmal und für den Score")
    assert drift[0] == [
        "Merkmal",
        "Code",
        "Rolle",
        "Art",
        "PSI",
        "Status",
        "Referenz (n)",
        "Aktuell (n)",
    ]
    assert drift[1] == [
        "Tage überfällig",
        "days_overdue",
        "Merkmal",
        "numerisch",
        "0,310",
        "deutlich",
        "1.000",
        "40",
    ]
    assert drift[3][0] == "Score (vorhergesagtes Risiko)"
    assert table_by_caption(doc, "Kennzahlen je Gruppe") == [
        ["group", "cases", "review_rate"],
        ["B2B", "10", "0,300"],
        ["B2C", "30", "0,267"],
    ]
    text = doc.text()
    assert "Fairness-Hinweis: Review rate differs by more than 5 points" in text
    assert "Drift-Warnung: Mindestens ein Merkmal oder der Score" in text


def test_review_list_is_sorted_by_amount_and_sortable() -> None:
    """Review cases only, largest amount first, links, top reasons, aria-sort and the script."""
    html = _portfolio("en")
    doc = parse(html)
    (table,) = [t for t in doc.iter("table") if t.attrs.get("id") == "review-cases"]
    rows = table_by_caption(doc, "Cases reviewed before anything is sent")
    assert rows[0] == [
        "Case",
        "Customer id",
        "Dunning level",
        "Amount due ▼",
        "Risk",
        "Review reasons",
        "Top reasons",
    ]
    assert [r[0] for r in rows[1:]] == ["C4", "C2", "C3"]
    assert rows[1][3:6] == ["€5,000.01", "90.0%", "high exposure"]
    assert rows[1][6] == "90 days overdue. 3 open invoices."
    assert rows[3][5] == "disputed invoice, anomaly" and rows[3][6] == "–"
    headers = list(table.iter("th"))[:7]
    assert [th.attrs.get("aria-sort") for th in headers] == [
        None,
        None,
        None,
        "descending",
        None,
        None,
        None,
    ]
    assert [th.attrs.get("data-type") for th in headers][2:5] == ["number"] * 3
    links = {a.text(): a.attrs["href"] for a in table.iter("a")}
    assert links == {"C4": "cases/case-C4.html", "C2": "cases/case-C2.html"}
    amounts = [td.attrs["data-sort"] for td in table.iter("td") if "data-sort" in td.attrs]
    assert amounts[1::3] == ["5000.01", "1200.00", "99.99"]
    (script,) = list(doc.iter("script"))
    assert 'getElementById("review-cases")' in script.text() and "aria-sort" in script.text()
    assert 'aria-live="polite"' in html
    for secret in ("Ann Lee", "Bo Chan", "ann@example.org", "High Street"):
        assert secret not in html


def test_review_list_refuses_links_with_a_scheme() -> None:
    """Case links are relative paths; javascript:, http: or //host links are refused."""
    for href in ("javascript:alert(1)", "https://evil.example/x", "//evil.example/x"):
        with pytest.raises(RenderError, match="must be a relative path"):
            _portfolio("en", case_links={"C2": href})


def test_portfolio_is_deterministic() -> None:
    """Identical inputs give identical bytes, beeswarm and all."""
    assert _portfolio("de") == _portfolio("de")


# --------------------------------------------------------------------------- batch


def test_write_case_reports_writes_both_formats_atomically(tmp_path: Path) -> None:
    """case-<id>.html and .pdf per case, the manifest's hashes match, no temporary files."""
    cases = pd.DataFrame([_case(language="de", iban=IBAN)])
    manifest = write_case_reports(
        cases, _decisions(), _reasons(), tmp_path / "cases", explanations=None, as_of=AS_OF
    )
    assert list(manifest.columns) == list(MANIFEST_COLUMNS)
    assert manifest[["case_id", "format"]].values.tolist() == [
        ["C20261123-aaaaaaaaaa", "html"],
        ["C20261123-aaaaaaaaaa", "pdf"],
    ]
    assert sorted(p.name for p in (tmp_path / "cases").iterdir()) == [
        "case-C20261123-aaaaaaaaaa.html",
        "case-C20261123-aaaaaaaaaa.pdf",
    ]
    for row in manifest.itertuples():
        data = Path(str(row.path)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
    html = (tmp_path / "cases" / "case-C20261123-aaaaaaaaaa.html").read_text(encoding="utf-8")
    assert 'lang="de-DE"' in html and IBAN_MASKED in html and IBAN not in html
    assert int(manifest["pages"].iloc[1]) >= 1


def test_write_case_reports_refuses_bad_formats_and_case_ids(tmp_path: Path) -> None:
    """An unknown format or a case id that is no safe file name is a RenderError."""
    with pytest.raises(RenderError, match="formats must be a non-empty subset"):
        write_case_reports(pd.DataFrame(), _decisions(), _reasons(), tmp_path, formats=("doc",))
    with pytest.raises(RenderError, match="cannot be used in a file name") as info:
        write_case_reports(
            pd.DataFrame([_case(case_id="../x")]),
            _decisions(),
            _reasons(),
            tmp_path,
            formats=("html",),
        )
    assert info.value.case_id == "../x"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    """A small demo portfolio: fitted model, proposal, explanations and reasons."""
    from dunning.datasets import make_portfolio
    from dunning.workflow import Scores, propose
    from scoring.features import build_features
    from scoring.training import build_training_set

    portfolio = make_portfolio(300, seed=3, as_of=AS_OF)
    training = build_training_set(portfolio, AS_OF)
    model = RiskModel(n_estimators=120, random_state=0, n_jobs=1).fit_time_aware(
        training, validation_snapshots=2, calibration="isotonic", n_bootstrap=0
    )
    X = build_features(portfolio, AS_OF)
    risk = pd.Series(model.predict_proba(X)[:, 1], index=X.index)
    proposal = propose(portfolio, Scores(risk=risk, features=X), None, AS_OF)
    exp = explain(model, X)
    reasons = pd.concat(
        [exp.reasons(k=3, lang=lang).assign(lang=lang) for lang in ("de", "en")],
        ignore_index=True,
    )
    return {
        "model": model,
        "X": X,
        "risk": risk,
        "proposal": proposal,
        "exp": exp,
        "reasons": reasons,
    }


@pytest.mark.slow
def test_demo_portfolio_end_to_end(demo: dict[str, Any], tmp_path: Path) -> None:
    """Case reports of review cases and the portfolio report linking to them, from a real run."""
    proposal, exp, model = demo["proposal"], demo["exp"], demo["model"]
    review = proposal.cases.loc[proposal.cases["needs_review"]].head(2)
    assert len(review) == 2
    info = model_summary(model)
    assert info["calibration"] == "isotonic" and len(info["calibration_table"]) == 10
    manifest = write_case_reports(
        review,
        proposal.decisions,
        demo["reasons"],
        tmp_path,
        explanations=exp,
        model_info=info,
        policy_info=Policy.default("DE"),
        as_of=AS_OF,
        lang="en",
    )
    assert len(manifest) == 4
    for case in review.to_dict("records"):
        cid = case["case_id"]
        html = (tmp_path / f"case-{cid}.html").read_text(encoding="utf-8")
        doc = assert_accessible(html, "en-GB")
        invoices = proposal.decisions.loc[proposal.decisions["case_id"] == cid]
        main = max(
            invoices.to_dict("records"), key=lambda r: (r["risk"] * float(r["open_amount"]), "")
        )["invoice_id"]
        rows = table_by_caption(doc, "Contributions to the score (the numbers of the chart)")
        log_odds = float(model.decision_function(demo["X"].loc[[main]])[0])
        assert rows[-1][3] == f"{log_odds:.3f}".replace("-0.000", "0.000")
        assert f"main invoice {main}" in html
        assert f"not fully paid {info['horizon_days']} days after the decision date" in html
        score = dict(table_by_caption(doc, "Score of the case"))
        assert (
            "log-odds (" in score["Model base value"]
            and "; calibrated " in score["Model base value"]
        )
        assert score[f"Risk of invoice {main} (calibrated)"] == (
            f"{float(demo['risk'][main]) * 100:.1f}%"
        )
        # Per reason code, the text of the case's strongest row is in the PDF.
        text = _pdf_text((tmp_path / f"case-{cid}.pdf").read_bytes())
        ids = set(invoices["invoice_id"])  # noqa: F841 (used by query)
        rows_en = demo["reasons"].query("lang == 'en' and invoice_id in @ids")
        strongest = rows_en.sort_values("contribution", ascending=False).drop_duplicates("code")
        assert len(strongest) >= 1
        for reason in strongest["text"]:
            assert " ".join(reason.split()) in text
        for column in ("street", "email"):
            assert str(case[column]) not in html
    links = {cid: f"case-{cid}.html" for cid in review["case_id"]}
    page = portfolio_report_html(
        proposal.cases,
        proposal.decisions,
        explanations=exp,
        scores=demo["risk"],
        reasons=demo["reasons"],
        model_info=info,
        case_links=links,
        lang="en",
        as_of=AS_OF,
    )
    doc = assert_accessible(page, "en-GB")
    (table,) = [t for t in doc.iter("table") if t.attrs.get("id") == "review-cases"]
    assert {a.attrs["href"] for a in table.iter("a")} == set(links.values())
    assert all((tmp_path / href).is_file() for href in links.values())
    n_review = int(proposal.cases["needs_review"].sum())
    assert len(list(table.iter("tr"))) == n_review + 1
