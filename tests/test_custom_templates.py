"""User-supplied letter templates: overrides, the sandbox, the restricted fetcher, hashes.

A user's templates folder holds files named as in the package's ``templates/letters/``;
they replace the package's files of the same name, the others still come from the
package. Every template runs in Jinja2's immutable sandbox; whatever a template does, the
PDF renderer fetches only the package's own assets. A Python audit hook (PEP 578) records
every attempt to open ``/etc/passwd`` while a letter renders (the hook stays installed for
the rest of the session but records only while ``_WATCH`` is set).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pypdf
import pytest
from weasyprint.text.fonts import FontConfiguration

from dunning import letters
from dunning._assets import AssetURLFetcher, templates_dir
from dunning.errors import RenderError
from dunning.letters import (
    TEMPLATE,
    Creditor,
    render_html,
    render_letters,
    template_fingerprint,
)

AS_OF = date(2026, 11, 23)
CASE_ID = "C20261123-cccccccccc"
PACKAGE = templates_dir() / "letters"

_WATCH: list[bool] = []
_SEEN: list[str] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH and event == "open" and args and "passwd" in str(args[0]):
        _SEEN.append(str(args[0]))


sys.addaudithook(_hook)


@pytest.fixture
def watch() -> Iterator[list[str]]:
    """Record the paths containing "passwd" opened inside the test."""
    _SEEN.clear()
    _WATCH.append(True)
    try:
        yield _SEEN
    finally:
        _WATCH.clear()


def test_the_watch_sees_an_open(watch: list[str]) -> None:
    """Positive control: the audit hook does record opening the file."""
    Path("/etc/passwd").read_bytes()
    assert watch == ["/etc/passwd"]


def _case(**columns: object) -> dict[str, object]:
    return {
        "case_id": CASE_ID,
        "customer_id": "K-9",
        "name": "Erika Mustermann",
        "street": "Hauptstraße 5",
        "postal_code": "80331",
        "city": "München",
        "country": "DE",
        "language": "de",
        "currency": "EUR",
        "total": Decimal("1234.56"),
        "level": 2,
        "n_invoices": 1,
        "offer": "installment_plan",
        "installments": 3,
        **columns,
    }


def _invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [CASE_ID],
            "invoice_id": ["RE-2026-0815"],
            "issue_date": pd.to_datetime(["2026-09-01"]),
            "due_date": pd.to_datetime(["2026-09-15"]),
            "days_overdue": [69],
            "open_amount": [Decimal("1234.56")],
            "currency": ["EUR"],
        }
    )


def _html(folder: Path | None, **columns: object) -> str:
    return render_html(
        _case(**columns),
        _invoices(),
        pd.DataFrame(),
        creditor=Creditor.demo(),
        as_of=AS_OF,
        lang="de",
        templates=folder,
    )


def _letters(folder: Path | None, out: Path, **kwargs: Any) -> pd.DataFrame:
    return render_letters(
        pd.DataFrame([_case()]),
        _invoices(),
        pd.DataFrame(),
        out,
        creditor=Creditor.demo(),
        as_of=AS_OF,
        templates=folder,
        **kwargs,
    )


def _folder(tmp_path: Path, files: dict[str, str], name: str = "house-style") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text(text, encoding="utf-8")
    return folder


#: A whole letter of one's own: a base layout of the user's folder, the package's payment
#: partial, the package's i18n labels, the user's own CSS inlined like the package's.
BASE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head><meta charset="utf-8"><title>{{ title }}</title>
<style>
{% include "letters/letter.css" %}
</style></head>
<body><main>
{% block body %}{% endblock %}
</main></body>
</html>
"""
LETTER = """{% extends "letters/_base.html.j2" %}
{% from "letters/_i18n.html.j2" import LABELS %}
{% set t = LABELS[lang] %}
{% block body %}
<h1>Hausbrief {{ case_id }}</h1>
<p>Guten Tag {{ recipient.name }}, bitte zahlen Sie {{ total }} bis zum {{ deadline_long }}.</p>
{% include "letters/_payment.html.j2" %}
{% endblock %}
"""


# --- overrides -----------------------------------------------------------------------------


def test_one_partial_overrides_the_package_partial(tmp_path: Path) -> None:
    """A user's _offer.html.j2 replaces only the offer; the rest is the package's letter."""
    offer = (
        '<section aria-labelledby="h-offer"><h2 id="h-offer">Sonderangebot</h2>'
        "<p>Zahlen Sie in {{ offer.n }} Raten, die erste über {{ offer.rows[0].amount }}.</p>"
        "</section>\n"
    )
    folder = _folder(tmp_path, {"_offer.html.j2": offer})
    html = _html(folder)
    assert '<h2 id="h-offer">Sonderangebot</h2>' in html
    assert "Zahlen Sie in 3 Raten, die erste über 411,52\xa0€." in html
    assert "Unser Angebot: Ratenzahlung" not in html
    # Everything else still comes from the package.
    assert '<h2 id="h-pay">So bezahlen Sie</h2>' in html
    assert '<h2 id="h-legal">Rechtliche Hinweise</h2>' in html
    assert "Unser Angebot: Ratenzahlung" in _html(None)


def test_whole_letter_with_extends_and_package_partials(tmp_path: Path) -> None:
    """A user's letter.html.j2 extends the user's base and includes a package partial."""
    folder = _folder(tmp_path, {"letter.html.j2": LETTER, "_base.html.j2": BASE})
    manifest = _letters(folder, tmp_path / "out")
    html = Path(manifest.loc[0, "path"]).read_text(encoding="utf-8")
    assert f"<h1>Hausbrief {CASE_ID}</h1>" in html
    assert "bitte zahlen Sie 1.234,56\xa0€ bis zum 3. Dezember 2026." in html
    assert "DE89 3704 0044 0532 0130 00" in html  # the package's _payment partial
    assert "Rechtliche Hinweise" not in html  # the user's letter leaves out what it wants
    pdf = pypdf.PdfReader(manifest.loc[1, "path"])
    text = pdf.pages[0].extract_text().replace("\xa0", " ")
    assert f"Hausbrief {CASE_ID}" in text
    assert "1.234,56 €" in text
    assert manifest["template"].tolist() == ["custom:house-style"] * 2


def test_missing_variable_names_template_line_and_case(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"_help.html.j2": "<p>Hilfe</p>\n<p>{{ hotline }}</p>\n"})
    with pytest.raises(RenderError) as info:
        _html(folder)
    message = str(info.value)
    assert message == (
        f"case {CASE_ID}: template {folder / '_help.html.j2'}, line 2 failed: "
        "UndefinedError: 'hotline' is undefined"
    )
    assert info.value.case_id == CASE_ID
    assert info.value.template == str(folder / "_help.html.j2")


def test_missing_template_names_the_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"_help.html.j2": '{% include "letters/_hotline.html.j2" %}\n'})
    with pytest.raises(RenderError, match=r"template 'letters/_hotline\.html\.j2' not found"):
        _html(folder)


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"_reasons.html.j2": "<p>ok</p>\n{% if %}\n"})
    with pytest.raises(RenderError) as info:
        _html(folder)
    assert str(info.value).startswith(
        f"case {CASE_ID}: template {folder / '_reasons.html.j2'}, line 2 failed: "
        "TemplateSyntaxError:"
    )


# --- the sandbox ---------------------------------------------------------------------------

ESCAPES = {
    "mro": "{{ ''.__class__.__mro__ }}",
    "class": "{{ case_id.__class__ }}",
    "globals": "{{ cycler.__init__.__globals__.os }}",
    "lipsum": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "self-dict": "{{ self.__dict__ }}",
    "format": '{{ "{0.__class__.__init__.__globals__}".format(case_id) }}',
    "mutate": "{{ recipient.lines.append('x') }}",
    "dict-update": "{{ creditor.update({'iban': 'x'}) }}",
    "range": "{{ range(10 ** 9) | list }}",
}


@pytest.mark.parametrize("payload", list(ESCAPES.values()), ids=list(ESCAPES))
def test_sandbox_refuses_escape_attempts(payload: str, tmp_path: Path) -> None:
    """Python internals, mutating methods, format tricks: a RenderError naming file and case."""
    folder = _folder(tmp_path, {"_offer.html.j2": f"<p>Angebot</p>\n{payload}\n"})
    with pytest.raises(RenderError) as info:
        _html(folder)
    message = str(info.value)
    assert message.startswith(
        f"case {CASE_ID}: template {folder / '_offer.html.j2'}, line 2 failed: "
    )
    assert "unsafe" in message or "Range too big" in message
    assert info.value.case_id == CASE_ID


def test_package_letters_render_in_the_sandbox_too() -> None:
    """The sandbox is always on: no environment can read Python internals."""
    env = letters._environment()
    assert env.sandboxed
    with pytest.raises(Exception, match="unsafe"):
        env.from_string("{{ x.__class__ }}").render(x="")


@pytest.mark.parametrize(
    "target",
    ["../../../../etc/passwd", "/etc/passwd", "letters/../../etc/passwd", "reports/report.css"],
)
def test_templates_cannot_load_files_outside_the_set(target: str, tmp_path: Path) -> None:
    """Includes reach only the package's letters/ and the user's folder."""
    folder = _folder(tmp_path, {"_help.html.j2": f'{{% include "{target}" %}}\n'})
    with pytest.raises(RenderError, match="not found"):
        _html(folder)


def test_link_out_of_the_folder_is_refused(tmp_path: Path, watch: list[str]) -> None:
    folder = _folder(tmp_path, {"_help.html.j2": "<p>Hilfe</p>\n"})
    (folder / "_offer.html.j2").symlink_to("/etc/passwd")
    with pytest.raises(RenderError, match=r"_offer\.html\.j2 links to a file outside the folder"):
        _html(folder)
    assert watch == []


@pytest.mark.parametrize(
    "files",
    [
        {"_help.html.j2": '<img src="file:///etc/passwd" alt="x">\n'},
        {"_help.html.j2": '<img src="../../../../../../etc/passwd" alt="x">\n'},
        {"_help.html.j2": '<link rel="stylesheet" href="file:///etc/passwd">\n'},
        {"_help.html.j2": "<p style=\"background: url('file:///etc/passwd')\">x</p>\n"},
        {"_help.html.j2": '<img src="http://evil.example/x.png" alt="x">\n'},
        {"letter.css": "@import url(file:///etc/passwd);\nh1 { color: #111; }\n"},
    ],
    ids=["img", "relative", "link", "style", "http", "css-import"],
)
def test_user_template_cannot_make_weasyprint_read_files(
    files: dict[str, str], tmp_path: Path, watch: list[str]
) -> None:
    """The fetcher serves only the package's assets: the render fails, nothing is opened."""
    folder = _folder(tmp_path, files)
    out = tmp_path / "out"
    with pytest.raises(RenderError, match="refused to fetch"):
        _letters(folder, out, formats=["pdf"])
    assert watch == []
    assert not out.exists() or not list(out.glob("*.pdf"))


# --- the stylesheet ------------------------------------------------------------------------


def test_overridden_stylesheet_is_parsed_once_and_gives_the_inline_pdf(tmp_path: Path) -> None:
    """A user's letter.css is the one pre-parsed; the PDF equals the inline rendering."""
    css = (PACKAGE / "letter.css").read_text(encoding="utf-8")
    own = css.replace("font-size: 9pt;", "font-size: 11pt;", 1)
    assert own != css
    folder = _folder(tmp_path, {"letter.css": own})
    template_set = letters._TemplateSet.load(folder)
    renderer = letters._Renderer.create(template_set)
    assert renderer.stylesheet is not None
    assert renderer.stylesheet[0] == own.strip()
    html = _html(folder)
    assert "font-size: 11pt;" in html
    stripped, sheets = renderer._without_own_style(html)
    assert len(sheets) == 1
    assert "<style>" not in stripped
    inline = letters._Renderer(
        letters._environment(template_set), AssetURLFetcher(), FontConfiguration(), None,
        template_set,
    )  # fmt: skip
    assert inline._without_own_style(html) == (html, [])
    assert renderer.pdf(html, CASE_ID) == inline.pdf(html, CASE_ID)
    # The package's sheet does not match this HTML: it is rendered as it is.
    package = letters._Renderer.create()
    assert package._without_own_style(html) == (html, [])
    assert package.pdf(html, CASE_ID) == inline.pdf(html, CASE_ID)
    assert package.pdf(_html(None), CASE_ID) != inline.pdf(html, CASE_ID)


def test_letter_with_another_stylesheet_is_rendered_inline(tmp_path: Path) -> None:
    """A user letter that inlines other CSS than letter.css never gets the parsed sheet."""
    base = BASE.replace('{% include "letters/letter.css" %}', "h1 { font-size: 20pt; }")
    folder = _folder(tmp_path, {"letter.html.j2": LETTER, "_base.html.j2": base})
    renderer = letters._Renderer.create(letters._TemplateSet.load(folder))
    html = _html(folder)
    assert renderer._without_own_style(html) == (html, [])
    pdf, pages = renderer.pdf(html, CASE_ID)
    assert pdf[:5] == b"%PDF-" and pages == 1


def test_stylesheet_template_error_is_a_render_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"letter.css": "h1 { color: {{ brand_colour }}; }\n"})
    with pytest.raises(RenderError) as info:
        _html(folder)  # the letter inlines letter.css
    assert "'brand_colour' is undefined" in str(info.value)
    with pytest.raises(RenderError, match=r"stylesheet .*letter\.css, line 1 failed"):
        letters._Renderer.create(letters._TemplateSet.load(folder))


# --- the folder ----------------------------------------------------------------------------


def test_unusable_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="does not exist or is not a folder"):
        _html(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RenderError, match="holds no files"):
        _html(tmp_path / "empty")
    nested = _folder(tmp_path, {"letters/_offer.html.j2": "<p>x</p>\n"}, name="nested")
    with pytest.raises(RenderError, match="directly in the folder, not in a letters/ subfolder"):
        _html(nested)


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    """Editor swap files and the like neither override nor enter the hash."""
    folder = _folder(tmp_path, {"_help.html.j2": "<p>Rufen Sie uns an.</p>\n"})
    before = template_fingerprint(folder)
    (folder / ".letter.html.j2.swp").write_bytes(b"\x00garbage")
    assert template_fingerprint(folder) == before
    assert "Rufen Sie uns an." in _html(folder)


# --- template id and hash ------------------------------------------------------------------


def test_fingerprint_is_the_hash_of_the_effective_set(tmp_path: Path) -> None:
    """Path-ordered name, length and bytes of every file; user overrides included."""
    template, digest = template_fingerprint()
    assert template == TEMPLATE
    expected = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            data = path.read_bytes()
            name = f"letters/{path.relative_to(PACKAGE).as_posix()}"
            expected.update(f"{name}\0{len(data)}\0".encode())
            expected.update(data)
    assert digest == expected.hexdigest()
    # A folder with a copy of every package file is the same set under a custom id.
    copy = tmp_path / "copy"
    shutil.copytree(PACKAGE, copy)
    assert template_fingerprint(copy) == ("custom:copy", digest)
    # One changed byte in one file changes the hash.
    css = copy / "letter.css"
    css.write_text(css.read_text(encoding="utf-8").replace("#111", "#000", 1), encoding="utf-8")
    assert template_fingerprint(copy)[1] != digest


def test_manifest_records_template_and_data_hashes(tmp_path: Path) -> None:
    """Both rows of a letter carry the set's id and hash and the render context's hash."""
    folder = _folder(tmp_path, {"_offer.html.j2": "<p>Raten: {{ offer.n }}</p>\n"})
    manifest = _letters(folder, tmp_path / "a")
    again = _letters(folder, tmp_path / "b")
    template, digest = template_fingerprint(folder)
    assert manifest["template"].tolist() == [template] * 2
    assert manifest["template_sha256"].tolist() == [digest] * 2
    assert manifest["data_sha256"].nunique() == 1
    columns = ["sha256", "template", "template_sha256", "data_sha256"]
    assert manifest[columns].equals(again[columns])
    # The data hash is the sha256 of the render context as canonical JSON.
    template_set = letters._TemplateSet.load(folder)
    context = letters._context(
        _case(), _invoices(), pd.DataFrame(), creditor=Creditor.demo(), as_of=AS_OF, lang="de",
        legal=template_set.legal,
    )  # fmt: skip
    assert manifest.loc[0, "data_sha256"] == letters._data_sha256(context)
    # Other template content: other template hash, same data hash.
    (folder / "_offer.html.j2").write_text("<p>Raten: {{ offer.n }}!</p>\n", encoding="utf-8")
    changed = _letters(folder, tmp_path / "c")
    assert changed.loc[0, "template_sha256"] != digest
    assert changed.loc[0, "data_sha256"] == manifest.loc[0, "data_sha256"]


def test_user_legal_texts_replace_the_package_texts(tmp_path: Path) -> None:
    """legal.toml in the folder is the letter's legal text, and a missing level is named."""
    legal = '[DE.2]\nde = "Es gilt unser Vertrag vom 1. März 2024."\nen = "Our contract applies."\n'
    folder = _folder(tmp_path, {"legal.toml": legal})
    html = _html(folder)
    assert "<p>Es gilt unser Vertrag vom 1. März 2024.</p>" in html
    with pytest.raises(RenderError) as info:
        _html(folder, level=3)
    assert str(info.value).startswith(
        f"case {CASE_ID}: no legal text for jurisdiction DE, level 3, language de "
        f"(segment B2C) in {folder / 'legal.toml'}"
    )
