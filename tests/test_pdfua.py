"""The PDF/UA-1 checker: a good tagged PDF passes, and every check fails when it should.

Each negative fixture is a small WeasyPrint document rendered with one problem, or the
good document changed with pikepdf in exactly one place; the test asserts the exact
findings, so a check that never fires (or fires on the wrong thing) is caught.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf
import pytest
from weasyprint import HTML

from dunning._pdfua import CHECKPOINTS, STANDARD_TYPES, Finding, check_pdf
from dunning.errors import DataError

#: 1×1 black PNG.
DOT = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
STYLE = "<style>td, th { border: 1px solid #000 }</style>"


def _html(body: str, *, lang: str = ' lang="de"', title: str = "<title>Mahnung</title>") -> str:
    return f"<!DOCTYPE html><html{lang}><head>{title}{STYLE}</head><body>{body}</body></html>"


GOOD_BODY = f"""
<h1>Zahlungserinnerung</h1>
<p>Bitte zahlen Sie <strong>120,00 €</strong> bis zum 3. Dezember 2026.</p>
<h2>Offene Rechnungen</h2>
<table>
  <thead><tr><th>Rechnung</th><th>Betrag</th></tr></thead>
  <tbody><tr><td>RE-1</td><td>100,00 €</td></tr><tr><td>RE-2</td><td>20,00 €</td></tr></tbody>
</table>
<h3>Zahlung</h3>
<p><img src="{DOT}" alt="QR-Code für die Überweisung"></p>
<h2>Hilfe</h2>
<ul><li>Telefon</li><li>E-Mail</li></ul>
"""


def _render(html: str, variant: str | None = "pdf/ua-1") -> bytes:
    return bytes(HTML(string=html).write_pdf(pdf_variant=variant))


@pytest.fixture(scope="module")
def good() -> bytes:
    return _render(_html(GOOD_BODY))


def _elements(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """The structure elements in document order."""
    stack = [pdf.Root.StructTreeRoot]
    while stack:
        node = stack.pop()
        kids = node.get("/K")
        items = list(kids) if isinstance(kids, pikepdf.Array) else [kids]
        children = [kid for kid in items if isinstance(kid, pikepdf.Dictionary) and "/S" in kid]
        if node.get("/Type") == "/StructElem":
            yield node
        stack.extend(reversed(children))


def _first(pdf: pikepdf.Pdf, struct_type: str) -> pikepdf.Dictionary:
    return next(e for e in _elements(pdf) if str(e.S) == f"/{struct_type}")


def _mutated(good: bytes, change: Callable[[pikepdf.Pdf], None]) -> bytes:
    """``good`` with ``change`` applied, saved and read back."""
    with pikepdf.open(io.BytesIO(good)) as pdf:
        change(pdf)
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def _append_content(pdf: pikepdf.Pdf, content: bytes) -> None:
    page = pdf.pages[0]
    page.contents_add(pikepdf.Stream(pdf, content), prepend=False)


def test_good_document_passes_and_is_not_vacuous(good: bytes) -> None:
    """No findings; the document has what the checks look at (tree, table, figure, fonts)."""
    assert check_pdf(good) == []
    with pikepdf.open(io.BytesIO(good)) as pdf:
        types = [str(e.S)[1:] for e in _elements(pdf)]
        assert {"H1", "H2", "H3", "Table", "TH", "TD", "Figure", "L"} <= set(types)
        assert set(types) <= STANDARD_TYPES
        fonts = pdf.pages[0].Resources.Font
        assert len(fonts) >= 1
        assert all("/ToUnicode" in font for _, font in fonts.items())


def test_accepts_bytes_path_and_open_pdf(good: bytes, tmp_path: Path) -> None:
    """Bytes, a path (str or Path) and an open pikepdf.Pdf give the same result."""
    path = tmp_path / "good.pdf"
    path.write_bytes(good)
    assert check_pdf(path) == check_pdf(str(path)) == []
    with pikepdf.open(path) as pdf:
        assert check_pdf(pdf) == []


def test_unreadable_pdf_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^<bytes> is not a readable PDF"):
        check_pdf(b"%PDF-1.7 nothing else")
    missing = tmp_path / "missing.pdf"
    with pytest.raises(DataError, match=r"missing\.pdf is not a readable PDF"):
        check_pdf(missing)


def test_finding_names_page_when_known() -> None:
    assert str(Finding("01-005", "x")) == "01-005: x"
    assert str(Finding("01-005", "x", page=2)) == "01-005: x (page 2)"


# --- negative fixtures: rendered -------------------------------------------------------------


def test_untagged_pdf() -> None:
    """A plain (not PDF/UA) WeasyPrint PDF: untagged, no XMP, no DisplayDocTitle."""
    findings = check_pdf(_render(_html(GOOD_BODY), variant=None))
    assert [str(f) for f in findings] == [
        "01-005: not a tagged PDF: the catalog's /MarkInfo /Marked is not true",
        "07-001: /ViewerPreferences has no /DisplayDocTitle",
        "06-001: the catalog has no XMP /Metadata stream",
        "01-005: the catalog has no /StructTreeRoot: no content is tagged",
        "01-005: content outside marked content and artifacts: 1 image, 6 path, 17 text (page 1)",
    ]


def test_text_in_page_margin_box_is_not_in_the_tree() -> None:
    """WeasyPrint's known defect (Kozea/WeasyPrint#1836): margin-box text is orphaned."""
    style = '<style>@page { @bottom-center { content: "Seite " counter(page) } }</style>'
    findings = check_pdf(_render(_html(style + GOOD_BODY)))
    assert len(findings) == 1
    assert findings[0].checkpoint == "01-005"
    assert findings[0].page == 1
    assert findings[0].message.endswith("of the page is not reachable from the structure tree")


def test_missing_lang(caplog: pytest.LogCaptureFixture) -> None:
    """Without <html lang> the catalog has no /Lang (WeasyPrint only logs it)."""
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        findings = check_pdf(_render(_html(GOOD_BODY, lang="")))
    assert [str(f) for f in findings] == ["11-001: the catalog has no /Lang (set <html lang>)"]


def test_missing_title() -> None:
    """Without <title> the XMP metadata has no dc:title."""
    findings = check_pdf(_render(_html(GOOD_BODY, title="")))
    assert [str(f) for f in findings] == [
        "06-003: the XMP metadata has no non-empty dc:title (set <title>)"
    ]


def test_figure_without_alt(caplog: pytest.LogCaptureFixture) -> None:
    """An <img> without alt becomes a Figure without /Alt (WeasyPrint only logs it)."""
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        findings = check_pdf(
            _render(_html(GOOD_BODY.replace(' alt="QR-Code für die Überweisung"', "")))
        )
    assert [str(f) for f in findings] == [
        "13-004: Figure has no /Alt text (at Document > P > Figure)"
    ]


@pytest.mark.parametrize(
    ("headings", "expected"),
    [
        ("<h1>a</h1><h2>b</h2><h3>c</h3><h2>d</h2><h1>e</h1><h2>f</h2>", []),
        (
            "<h2>a</h2><h3>b</h3>",
            ["14-002: the first numbered heading is H2, not H1 (at Document > H2)"],
        ),
        (
            "<h1>a</h1><h3>b</h3><h2>c</h2><h4>d</h4>",
            [
                "14-003: heading H3 follows H1, skipping a level (at Document > H3)",
                "14-003: heading H4 follows H2, skipping a level (at Document > H4)",
            ],
        ),
    ],
    ids=["in-order", "starts-at-h2", "skips"],
)
def test_heading_levels(headings: str, expected: list[str]) -> None:
    assert [str(f) for f in check_pdf(_render(_html(headings + "<p>x</p>")))] == expected


def test_table_without_header_cells() -> None:
    table = "<h1>a</h1><table><tr><td>RE-1</td><td>100,00 €</td></tr></table>"
    assert [str(f) for f in check_pdf(_render(_html(table)))] == [
        "15-005: table has data cells but no TH cell (at Document > Table)"
    ]


# --- negative fixtures: one change to the good PDF --------------------------------------------


def _set_marked_false(pdf: pikepdf.Pdf) -> None:
    pdf.Root.MarkInfo.Marked = False


def _set_suspects(pdf: pikepdf.Pdf) -> None:
    pdf.Root.MarkInfo.Suspects = True


def _drop_display_doc_title(pdf: pikepdf.Pdf) -> None:
    del pdf.Root.ViewerPreferences["/DisplayDocTitle"]


def _display_doc_title_false(pdf: pikepdf.Pdf) -> None:
    pdf.Root.ViewerPreferences.DisplayDocTitle = False


def _bad_lang(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Lang = pikepdf.String("deutsch!")


def _drop_metadata(pdf: pikepdf.Pdf) -> None:
    del pdf.Root["/Metadata"]


def _xmp_without(key: str) -> Callable[[pikepdf.Pdf], None]:
    def change(pdf: pikepdf.Pdf) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            del meta[key]

    return change


def _xmp_part_2(pdf: pikepdf.Pdf) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["pdfuaid:part"] = "2"


def _retype(struct_type: str, new: str) -> Callable[[pikepdf.Pdf], None]:
    def change(pdf: pikepdf.Pdf) -> None:
        _first(pdf, struct_type).S = pikepdf.Name(f"/{new}")

    return change


def _role_map(
    mapping: dict[str, str], retype: tuple[str, str] | None = None
) -> Callable[[pikepdf.Pdf], None]:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.StructTreeRoot.RoleMap = pikepdf.Dictionary(
            {f"/{k}": pikepdf.Name(f"/{v}") for k, v in mapping.items()}
        )
        if retype is not None:
            _first(pdf, retype[0]).S = pikepdf.Name(f"/{retype[1]}")

    return change


def _drop_alt(pdf: pikepdf.Pdf) -> None:
    del _first(pdf, "Figure")["/Alt"]


def _headers(value: list[str] | None) -> Callable[[pikepdf.Pdf], None]:
    def change(pdf: pikepdf.Pdf) -> None:
        attributes = _first(pdf, "TD").A
        if value is None:
            del attributes["/Headers"]
        else:
            attributes.Headers = pikepdf.Array([pikepdf.String(v) for v in value])

    return change


def _no_headers_but_scope(pdf: pikepdf.Pdf) -> None:
    for element in _elements(pdf):
        if str(element.S) == "/TD":
            del element.A["/Headers"]
        if str(element.S) == "/TH":
            element.A.Scope = pikepdf.Name("/Column")


def _fonts(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    return [font for _, font in pdf.pages[0].Resources.Font.items()]


def _drop_to_unicode(pdf: pikepdf.Pdf) -> None:
    del _fonts(pdf)[0]["/ToUnicode"]


def _unembed(pdf: pikepdf.Pdf) -> None:
    font = _fonts(pdf)[0]
    descriptor = font.DescendantFonts[0].FontDescriptor
    for key in ("/FontFile", "/FontFile2", "/FontFile3"):
        if key in descriptor:
            del descriptor[key]


def _drop_struct_tree(pdf: pikepdf.Pdf) -> None:
    del pdf.Root["/StructTreeRoot"]


def _content(data: bytes) -> Callable[[pikepdf.Pdf], None]:
    return lambda pdf: _append_content(pdf, data)


def _form(wrapper: bytes) -> Callable[[pikepdf.Pdf], None]:
    """Draw a form XObject holding text, inside ``wrapper % b'/Fx1 Do'``."""

    def change(pdf: pikepdf.Pdf) -> None:
        font_name = next(iter(pdf.pages[0].Resources.Font.keys()))
        form = pikepdf.Stream(pdf, f"BT {font_name} 9 Tf 10 10 Td <0001> Tj ET".encode())
        form.Type = pikepdf.Name.XObject
        form.Subtype = pikepdf.Name.Form
        form.BBox = [0, 0, 100, 100]
        form.Resources = pikepdf.Dictionary(Font=pdf.pages[0].Resources.Font)
        pdf.pages[0].Resources.XObject.Fx1 = pdf.make_indirect(form)
        _append_content(pdf, wrapper % b"/Fx1 Do")

    return change


MUTATIONS: list[tuple[str, Callable[[pikepdf.Pdf], None], list[str]]] = [
    (
        "not-marked",
        _set_marked_false,
        ["01-005: not a tagged PDF: the catalog's /MarkInfo /Marked is not true"],
    ),
    ("suspects", _set_suspects, ["01-007: the catalog's /MarkInfo /Suspects is true"]),
    (
        "text-outside",
        _content(b"BT 10 10 Td (x) Tj ET 0 0 5 5 re f"),
        ["01-005: content outside marked content and artifacts: 1 path, 1 text (page 1)"],
    ),
    (
        "artifact-in-tagged",
        _content(b"/P <</MCID 0>> BDC /Artifact BMC 0 0 5 5 re f EMC EMC"),
        ["01-003: an /Artifact sequence inside tagged content (page 1)"],
    ),
    (
        "tagged-in-artifact",
        _content(b"/Artifact BMC /P <</MCID 0>> BDC BT (x) Tj ET EMC EMC"),
        ["01-004: tagged content (MCID 0) inside an /Artifact (page 1)"],
    ),
    (
        "orphan-mcid",
        _content(b"/P <</MCID 99>> BDC BT (x) Tj ET EMC"),
        ["01-005: MCID 99 of the page is not reachable from the structure tree (page 1)"],
    ),
    ("artifact-ok", _content(b"/Artifact BMC BT (x) Tj ET 0 0 5 5 re f EMC"), []),
    (
        "form-outside",
        _form(b"%s"),
        ["01-005: content outside marked content and artifacts: 1 text (page 1)"],
    ),
    ("form-in-artifact", _form(b"/Artifact BMC %s EMC"), []),
    (
        "no-struct-tree",
        _drop_struct_tree,
        ["01-005: the catalog has no /StructTreeRoot: no content is tagged"],
    ),
    (
        "nonstandard-type",
        _retype("P", "Absatz"),
        ["02-001: structure type Absatz is not standard and not role-mapped"],
    ),
    ("role-mapped", _role_map({"Absatz": "Para", "Para": "P"}, ("P", "Absatz")), []),
    (
        "role-map-dead-end",
        _role_map({"Absatz": "Para"}, ("P", "Absatz")),
        ["02-001: structure type Absatz -> Para is not standard and not role-mapped"],
    ),
    (
        "role-map-circular",
        _role_map({"Absatz": "Para", "Para": "Absatz"}, ("P", "Absatz")),
        ["02-003: circular role mapping Absatz -> Para -> Absatz"],
    ),
    (
        "standard-remapped",
        _role_map({"Span": "P"}),
        ["02-004: the RoleMap remaps the standard type Span"],
    ),
    ("no-xmp", _drop_metadata, ["06-001: the catalog has no XMP /Metadata stream"]),
    (
        "xmp-no-ua-id",
        _xmp_without("pdfuaid:part"),
        ["06-002: the XMP metadata has no pdfuaid:part, expected '1'"],
    ),
    (
        "xmp-ua-2",
        _xmp_part_2,
        ["06-002: the XMP metadata has pdfuaid:part is '2', expected '1'"],
    ),
    (
        "xmp-no-title",
        _xmp_without("dc:title"),
        ["06-003: the XMP metadata has no non-empty dc:title (set <title>)"],
    ),
    (
        "no-display-doc-title",
        _drop_display_doc_title,
        ["07-001: /ViewerPreferences has no /DisplayDocTitle"],
    ),
    (
        "display-doc-title-false",
        _display_doc_title_false,
        ["07-002: /ViewerPreferences /DisplayDocTitle is false"],
    ),
    ("bad-lang", _bad_lang, ["11-001: the catalog's /Lang 'deutsch!' is not a language tag"]),
    (
        "figure-no-alt",
        _drop_alt,
        ["13-004: Figure has no /Alt text (at Document > P > Figure)"],
    ),
    (
        "headers-unknown-id",
        _headers(["nope"]),
        [
            "15-005: TD /Headers name no TH of its table: ['nope'] "
            "(at Document > Table > TBody > TR > TD)"
        ],
    ),
    (
        "no-headers-no-scope",
        _headers(None),
        [
            "15-003: TD has no /Headers and the table has TH cells without /Scope "
            "(at Document > Table > TBody > TR > TD)"
        ],
    ),
    ("no-headers-but-scope", _no_headers_but_scope, []),
    ("no-to-unicode", _drop_to_unicode, ["10-001: font {font} has no /ToUnicode map (page 1)"]),
    ("not-embedded", _unembed, ["31-009: font {font} is not embedded (page 1)"]),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [(change, expected) for _, change, expected in MUTATIONS],
    ids=[name for name, _, _ in MUTATIONS],
)
def test_each_check_fails_when_it_should(
    good: bytes, change: Callable[[pikepdf.Pdf], None], expected: list[str]
) -> None:
    """One change to the good PDF gives exactly the expected findings."""
    with pikepdf.open(io.BytesIO(good)) as pdf:
        font = str(_fonts(pdf)[0].BaseFont)[1:]
    findings = check_pdf(_mutated(good, change))
    assert [str(f) for f in findings] == [e.format(font=font) for e in expected]


def test_every_checkpoint_has_a_failing_fixture() -> None:
    """The fixtures above cover each Matterhorn failure condition the checker claims."""
    covered = {line[:6] for _, _, expected in MUTATIONS for line in expected}
    covered |= {"14-002", "14-003"}  # test_heading_levels
    assert covered == set(CHECKPOINTS)
