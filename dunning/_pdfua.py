"""A PDF/UA-1 checker for the machine-checkable Matterhorn checkpoints a letter needs.

veraPDF, the reference validator, cannot be installed on the project's machines, so
letters and reports are checked here with pikepdf. :func:`check_pdf` returns one
:class:`Finding` per failure, each naming its Matterhorn Protocol 1.1 failure condition
(:data:`CHECKPOINTS`); an empty list means every check below passed:

* tagged PDF: ``/MarkInfo /Marked true``, a ``/StructTreeRoot``, no ``/Suspects``
  (01-005, 01-007);
* every text, image and path-painting operator of every page (and of the form XObjects
  it draws) is inside tagged marked content or an ``/Artifact``; no artifact inside
  tagged content or tagged content inside an artifact (01-005, 01-003, 01-004);
* every marked-content id (MCID) in the content is reachable from the structure tree
  (01-005: WeasyPrint's text in ``@page`` margin boxes fails here);
* only standard structure types, or types role-mapped to one; no circular mapping and no
  remapped standard type (02-001, 02-003, 02-004);
* XMP metadata with ``pdfuaid:part`` 1 and a non-empty ``dc:title`` (06-001 to 06-003);
* ``/ViewerPreferences /DisplayDocTitle true`` (07-001, 07-002);
* a document language ``/Lang`` in the catalog (11-001);
* every ``Figure`` has a non-empty ``/Alt`` or ``/ActualText`` (13-004);
* numbered headings start at ``H1`` and skip no level (14-002, 14-003);
* every table has header cells and every data cell's header can be determined: through
  ``/Headers`` naming ``TH`` cells of the same table by ``/ID``, or else every ``TH``
  has a ``/Scope`` (15-005, 15-003);
* every font used is embedded (31-009) and has a ``/ToUnicode`` map (10-001).

Reading order, the quality of alternative texts and the meaning of colour still need a
person. The checker takes about 5 ms for a one-page letter.

Examples
--------
>>> from weasyprint import HTML
>>> good = HTML(string='<html lang="en"><title>Reminder</title><h1>Reminder</h1>'
...             '<p>Please pay.</p>').write_pdf(pdf_variant="pdf/ua-1")
>>> check_pdf(good)
[]
>>> bad = HTML(string='<html lang="en"><title>Reminder</title><h2>Reminder</h2>'
...            '<p>Please pay.</p>').write_pdf(pdf_variant="pdf/ua-1")
>>> [str(finding) for finding in check_pdf(bad)]
['14-002: the first numbered heading is H2, not H1 (at Document > H2)']
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pikepdf

from dunning.errors import DataError

__all__ = ["CHECKPOINTS", "STANDARD_TYPES", "Finding", "check_pdf"]

#: The Matterhorn Protocol 1.1 failure conditions :func:`check_pdf` tests, by index.
CHECKPOINTS: Final[Mapping[str, str]] = {
    "01-003": "Content marked as Artifact is present inside tagged content.",
    "01-004": "Tagged content is present inside content marked as Artifact.",
    "01-005": "Content is neither marked as Artifact nor tagged as real content.",
    "01-007": "Suspects entry has a value of true.",
    "02-001": "One or more non-standard tag's mapping does not terminate with a standard type.",
    "02-003": "A circular mapping exists.",
    "02-004": "One or more standard types are remapped.",
    "06-001": "Document does not contain an XMP metadata stream.",
    "06-002": "The XMP metadata stream in the Catalog dictionary does not include the PDF/UA "
    "identifier.",
    "06-003": "XMP metadata stream does not contain dc:title.",
    "07-001": "ViewerPreferences dictionary of the Catalog dictionary does not contain a "
    "DisplayDocTitle entry.",
    "07-002": "ViewerPreferences dictionary of the Catalog dictionary contains a DisplayDocTitle "
    "entry with value of false.",
    "10-001": "Non-standard character mapping: a font has no ToUnicode map.",
    "11-001": "Natural language for text in page content cannot be determined.",
    "13-004": "Figure tag alternative or replacement text missing.",
    "14-002": "Does use numbered headings, but the first heading tag is not H1.",
    "14-003": "Numbered heading levels in descending sequence are skipped.",
    "15-003": "In a table not organized with Headers attributes and IDs, a TH cell does not "
    "contain a Scope attribute.",
    "15-005": "A given cell's header cannot be unambiguously determined.",
    "31-009": "A font program used for rendering is not embedded.",
}

#: The standard structure types of ISO 32000-1 (PDF 1.7), section 14.8.4.
STANDARD_TYPES: Final[frozenset[str]] = frozenset(
    {
        *("Document", "Part", "Art", "Sect", "Div", "BlockQuote", "Caption"),
        *("TOC", "TOCI", "Index", "NonStruct", "Private"),
        *("P", "H", "H1", "H2", "H3", "H4", "H5", "H6"),
        *("L", "LI", "Lbl", "LBody"),
        *("Table", "TR", "TH", "TD", "THead", "TBody", "TFoot"),
        *("Span", "Quote", "Note", "Reference", "BibEntry", "Code", "Link", "Annot"),
        *("Ruby", "RB", "RT", "RP", "Warichu", "WT", "WP"),
        *("Figure", "Formula", "Form"),
    }
)

_PDFUA_PART = "{http://www.aiim.org/pdfua/ns/id/}part"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_TEXT_OPS = frozenset({"Tj", "TJ", "'", '"'})
_PAINT_OPS = frozenset({"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh"})
_HEADING = re.compile(r"H([1-6])")
_LANG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed check.

    Parameters
    ----------
    checkpoint : str
        Matterhorn Protocol failure condition, a key of :data:`CHECKPOINTS`.
    message : str
        What is wrong, where.
    page : int or None
        1-based page number, when the failure is on a page.

    Examples
    --------
    >>> str(Finding("13-004", "Figure without /Alt", page=1))
    '13-004: Figure without /Alt (page 1)'
    """

    checkpoint: str
    message: str
    page: int | None = None

    def __str__(self) -> str:
        where = f" (page {self.page})" if self.page is not None else ""
        return f"{self.checkpoint}: {self.message}{where}"


def _open(pdf: bytes | str | os.PathLike[str] | pikepdf.Pdf) -> pikepdf.Pdf:
    if isinstance(pdf, pikepdf.Pdf):
        return pdf
    try:
        if isinstance(pdf, bytes):
            return pikepdf.open(io.BytesIO(pdf))
        return pikepdf.open(Path(pdf))
    except (pikepdf.PdfError, OSError) as exc:
        where = "<bytes>" if isinstance(pdf, bytes) else str(pdf)
        msg = f"{where} is not a readable PDF ({exc}); pass the bytes or path of a PDF file."
        raise DataError(msg, path=where) from exc


def _name(value: object) -> str | None:
    """A PDF name without its slash, else None."""
    return str(value)[1:] if isinstance(value, pikepdf.Name) else None


def _text(value: object) -> str:
    return str(value).strip() if isinstance(value, pikepdf.String) else ""


def _as_list(value: object) -> list[pikepdf.Object]:
    if isinstance(value, pikepdf.Array):
        return list(value)
    return [] if value is None else [value]  # type: ignore[list-item]


def _key(obj: pikepdf.Object) -> tuple[int, int]:
    return obj.objgen


def _resource(owner: pikepdf.Object, category: str) -> pikepdf.Dictionary | None:
    """``/Resources/<category>`` of a form or page (a page's may be inherited)."""
    node: pikepdf.Object | None = owner
    for _ in range(64):  # a page tree deeper than this is broken
        if not isinstance(node, pikepdf.Dictionary | pikepdf.Stream):
            return None
        resources = node.get("/Resources")
        if isinstance(resources, pikepdf.Dictionary):
            found = resources.get(category)
            return found if isinstance(found, pikepdf.Dictionary) else None
        node = node.get("/Parent")
    return None


def _is_true(value: object) -> bool:
    """Whether a PDF value is the boolean true (pikepdf gives PDF booleans as bool)."""
    return value is True


@dataclass
class _Element:
    """A structure element in document order, with its depth-first index."""

    index: int
    obj: pikepdf.Dictionary
    type: str | None
    parent: _Element | None


class _Checker:
    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.root = pdf.Root
        self.findings: list[Finding] = []
        self.page_numbers = {_key(page.obj): n for n, page in enumerate(pdf.pages, start=1)}
        self.role_map: dict[str, str] = {}
        #: (page or form stream objgen, MCID) pairs the structure tree reaches.
        self.tree_mcids: set[tuple[tuple[int, int], int]] = set()
        self.elements: list[_Element] = []
        #: Whether there is a structure tree (without one, MCIDs are not checked one by one).
        self.has_tree = False

    def add(self, checkpoint: str, message: str, page: int | None = None) -> None:
        self.findings.append(Finding(checkpoint, message, page))

    # -- document level ------------------------------------------------------------------
    def catalog(self) -> None:
        mark_info = self.root.get("/MarkInfo")
        if not isinstance(mark_info, pikepdf.Dictionary) or not _is_true(mark_info.get("/Marked")):
            self.add("01-005", "not a tagged PDF: the catalog's /MarkInfo /Marked is not true")
        elif _is_true(mark_info.get("/Suspects")):
            self.add("01-007", "the catalog's /MarkInfo /Suspects is true")
        viewer = self.root.get("/ViewerPreferences")
        display = viewer.get("/DisplayDocTitle") if isinstance(viewer, pikepdf.Dictionary) else None
        if display is None:
            self.add("07-001", "/ViewerPreferences has no /DisplayDocTitle")
        elif not _is_true(display):
            self.add("07-002", "/ViewerPreferences /DisplayDocTitle is false")
        lang = _text(self.root.get("/Lang"))
        if not lang:
            self.add("11-001", "the catalog has no /Lang (set <html lang>)")
        elif not _LANG.fullmatch(lang):
            self.add("11-001", f"the catalog's /Lang {lang!r} is not a language tag")

    def metadata(self) -> None:
        stream = self.root.get("/Metadata")
        if not isinstance(stream, pikepdf.Stream):
            self.add("06-001", "the catalog has no XMP /Metadata stream")
            return
        try:
            xmp = dict(self.pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False))
        except Exception as exc:  # pikepdf raises several types for broken XMP
            self.add("06-001", f"the XMP metadata cannot be parsed: {exc}")
            return
        part = str(xmp.get(_PDFUA_PART, "")).strip()
        if part != "1":
            found = f"pdfuaid:part is {part!r}" if part else "no pdfuaid:part"
            self.add("06-002", f"the XMP metadata has {found}, expected '1'")
        if not str(xmp.get(_DC_TITLE, "")).strip():
            self.add("06-003", "the XMP metadata has no non-empty dc:title (set <title>)")

    # -- structure tree ------------------------------------------------------------------
    def structure(self) -> None:
        tree = self.root.get("/StructTreeRoot")
        if not isinstance(tree, pikepdf.Dictionary):
            self.add("01-005", "the catalog has no /StructTreeRoot: no content is tagged")
            return
        self.has_tree = True
        role_map = tree.get("/RoleMap")
        if isinstance(role_map, pikepdf.Dictionary):
            for source, target in role_map.items():
                name = _name(target)
                if name is not None:
                    self.role_map[source[1:]] = name
        self.roles()
        self.walk(tree)

    def roles(self) -> None:
        for source in sorted(self.role_map):
            if source in STANDARD_TYPES:
                self.add("02-004", f"the RoleMap remaps the standard type {source}")

    def resolve(self, type_: str) -> str | None:
        """The standard type ``type_`` maps to; None (with a finding) when there is none."""
        seen = [type_]
        current = type_
        while current not in STANDARD_TYPES:
            target = self.role_map.get(current)
            if target is None:
                chain = " -> ".join(seen)
                self.add("02-001", f"structure type {chain} is not standard and not role-mapped")
                return None
            if target in seen:
                chain = " -> ".join([*seen, target])
                self.add("02-003", f"circular role mapping {chain}")
                return None
            seen.append(target)
            current = target
        return current

    def walk(self, tree: pikepdf.Dictionary) -> None:
        resolved: dict[str, str | None] = {}
        visited: set[tuple[int, int]] = set()
        stack: list[tuple[pikepdf.Object, _Element | None, tuple[int, int] | None]] = [
            (kid, None, None) for kid in reversed(_as_list(tree.get("/K")))
        ]
        while stack:
            kid, parent, page = stack.pop()
            if isinstance(kid, int):
                if page is not None:
                    self.tree_mcids.add((page, int(kid)))
                continue
            if not isinstance(kid, pikepdf.Dictionary):
                continue
            kind = _name(kid.get("/Type"))
            if kind == "MCR":
                owner = kid.get("/Stm") or kid.get("/Pg")
                key = _key(owner) if owner is not None else page
                mcid = kid.get("/MCID")
                if key is not None and isinstance(mcid, int):
                    self.tree_mcids.add((key, int(mcid)))
                continue
            if kind == "OBJR" or (kid.is_indirect and _key(kid) in visited):
                continue
            if kid.is_indirect:
                visited.add(_key(kid))
            raw = _name(kid.get("/S"))
            if raw is not None and raw not in resolved:
                resolved[raw] = self.resolve(raw)
            element = _Element(len(self.elements), kid, resolved.get(raw or ""), parent)
            self.elements.append(element)
            own_page = kid.get("/Pg")
            child_page = _key(own_page) if own_page is not None else page
            stack.extend(
                (child, element, child_page) for child in reversed(_as_list(kid.get("/K")))
            )

    def figures(self) -> None:
        for element in self.elements:
            if element.type != "Figure":
                continue
            if not _text(element.obj.get("/Alt")) and not _text(element.obj.get("/ActualText")):
                self.add("13-004", self.describe(element, "Figure has no /Alt text"))

    def headings(self) -> None:
        previous: int | None = None
        for element in self.elements:
            match = _HEADING.fullmatch(element.type or "")
            if match is None:
                continue
            level = int(match.group(1))
            if previous is None and level != 1:
                self.add(
                    "14-002",
                    self.describe(element, f"the first numbered heading is H{level}, not H1"),
                )
            elif previous is not None and level > previous + 1:
                self.add(
                    "14-003",
                    self.describe(
                        element, f"heading H{level} follows H{previous}, skipping a level"
                    ),
                )
            previous = level

    def tables(self) -> None:
        for table in (e for e in self.elements if e.type == "Table"):
            cells = [
                e for e in self.elements if e.type in ("TH", "TD") and self.table_of(e) is table
            ]
            headers = [cell for cell in cells if cell.type == "TH"]
            data = [cell for cell in cells if cell.type == "TD"]
            if data and not headers:
                self.add("15-005", self.describe(table, "table has data cells but no TH cell"))
                continue
            ids = {_text(cell.obj.get("/ID")) for cell in headers} - {""}
            unscoped = [cell for cell in headers if not self.attribute(cell, "/Scope")]
            for cell in data:
                refs = self.attribute(cell, "/Headers")
                names = [_text(ref) for ref in _as_list(refs)] if refs is not None else []
                if not names:
                    if unscoped:
                        self.add(
                            "15-003",
                            self.describe(
                                cell, "TD has no /Headers and the table has TH cells without /Scope"
                            ),
                        )
                        break
                    continue
                unknown = [name for name in names if name not in ids]
                if unknown:
                    self.add(
                        "15-005",
                        self.describe(cell, f"TD /Headers name no TH of its table: {unknown}"),
                    )

    def table_of(self, element: _Element) -> _Element | None:
        parent = element.parent
        while parent is not None and parent.type != "Table":
            parent = parent.parent
        return parent

    @staticmethod
    def attribute(element: _Element, key: str) -> pikepdf.Object | None:
        """A table attribute from the element's /A (a dictionary or an array of them)."""
        for attributes in _as_list(element.obj.get("/A")):
            if isinstance(attributes, pikepdf.Dictionary) and key in attributes:
                return attributes[key]
        return None

    def describe(self, element: _Element, message: str) -> str:
        """``message`` with the element's path in the structure tree."""
        path: list[str] = []
        current: _Element | None = element
        while current is not None:
            path.append(_name(current.obj.get("/S")) or "?")
            current = current.parent
        return f"{message} (at {' > '.join(reversed(path))})"

    # -- content streams -----------------------------------------------------------------
    def content(self) -> None:
        for number, page in enumerate(self.pdf.pages, start=1):
            unmarked: dict[str, int] = {}
            self.stream(page.obj, number, [], unmarked, set())
            if unmarked:
                ops = ", ".join(f"{count} {kind}" for kind, count in sorted(unmarked.items()))
                self.add("01-005", f"content outside marked content and artifacts: {ops}", number)

    def stream(
        self,
        owner: pikepdf.Object,
        page: int,
        context: list[str],
        unmarked: dict[str, int],
        forms: set[tuple[int, int]],
    ) -> None:
        """Walk a page's or form's content; ``context``: the marked content around it."""
        xobjects = _resource(owner, "/XObject")
        stack = list(context)
        is_page = _name(owner.get("/Type")) == "Page"
        for instruction in pikepdf.parse_content_stream(pikepdf.Page(owner) if is_page else owner):
            op = str(instruction.operator)
            operands = instruction.operands
            if op in ("BMC", "BDC"):
                stack.append(self.begin(owner, page, stack, op, list(operands)))
            elif op == "EMC":
                if stack:
                    stack.pop()
            elif op in _TEXT_OPS:
                self.paint(stack, "text", unmarked)
            elif op in _PAINT_OPS:
                self.paint(stack, "path", unmarked)
            elif op == "INLINE IMAGE":
                self.paint(stack, "image", unmarked)
            elif op == "Do" and operands and xobjects is not None:
                name = operands[0]
                xobject = xobjects.get(name) if isinstance(name, pikepdf.Name) else None
                if not isinstance(xobject, pikepdf.Stream):
                    continue
                subtype = _name(xobject.get("/Subtype"))
                if subtype == "Image":
                    self.paint(stack, "image", unmarked)
                elif subtype == "Form" and _key(xobject) not in forms:
                    self.stream(xobject, page, stack, unmarked, {*forms, _key(xobject)})

    def begin(
        self, owner: pikepdf.Object, page: int, stack: list[str], op: str, operands: list[Any]
    ) -> str:
        """The kind of marked content a BMC/BDC opens: artifact, tagged or other."""
        tag = _name(operands[0]) if operands else None
        props = operands[1] if op == "BDC" and len(operands) > 1 else None
        mcid = props.get("/MCID") if isinstance(props, pikepdf.Dictionary) else None
        if tag == "Artifact":
            if "tagged" in stack:
                self.add("01-003", "an /Artifact sequence inside tagged content", page)
            return "artifact"
        if isinstance(mcid, int):
            if "artifact" in stack:
                self.add("01-004", f"tagged content (MCID {mcid}) inside an /Artifact", page)
            if self.has_tree and (_key(owner), int(mcid)) not in self.tree_mcids:
                where = "page" if _name(owner.get("/Type")) == "Page" else "form XObject"
                self.add(
                    "01-005",
                    f"MCID {mcid} of the {where} is not reachable from the structure tree",
                    page,
                )
            return "tagged"
        return "other"

    @staticmethod
    def paint(stack: list[str], kind: str, unmarked: dict[str, int]) -> None:
        if "tagged" not in stack and "artifact" not in stack:
            unmarked[kind] = unmarked.get(kind, 0) + 1

    # -- fonts ---------------------------------------------------------------------------
    def fonts(self) -> None:
        seen: set[tuple[int, int]] = set()
        for number, page in enumerate(self.pdf.pages, start=1):
            for font in self.page_fonts(page.obj, set()):
                if font.is_indirect:
                    if _key(font) in seen:
                        continue
                    seen.add(_key(font))
                self.font(font, number)

    def page_fonts(
        self, owner: pikepdf.Object, forms: set[tuple[int, int]]
    ) -> Iterator[pikepdf.Dictionary]:
        """The fonts of a page or form and of the forms it draws."""
        fonts = _resource(owner, "/Font")
        if fonts is not None:
            yield from (font for _, font in fonts.items() if isinstance(font, pikepdf.Dictionary))
        xobjects = _resource(owner, "/XObject")
        for _, xobject in xobjects.items() if xobjects is not None else ():
            if (
                isinstance(xobject, pikepdf.Stream)
                and _name(xobject.get("/Subtype")) == "Form"
                and _key(xobject) not in forms
            ):
                yield from self.page_fonts(xobject, {*forms, _key(xobject)})

    def font(self, font: pikepdf.Dictionary, page: int) -> None:
        name = _name(font.get("/BaseFont")) or _name(font.get("/Name")) or "(unnamed)"
        subtype = _name(font.get("/Subtype"))
        if "/ToUnicode" not in font:
            self.add("10-001", f"font {name} has no /ToUnicode map", page)
        if subtype == "Type3":
            return  # glyphs are content streams inside the font dictionary
        described = font
        if subtype == "Type0":
            descendants = _as_list(font.get("/DescendantFonts"))
            first = descendants[0] if descendants else None
            described = first if isinstance(first, pikepdf.Dictionary) else font
        descriptor = described.get("/FontDescriptor")
        embedded = isinstance(descriptor, pikepdf.Dictionary) and any(
            key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
        )
        if not embedded:
            self.add("31-009", f"font {name} is not embedded", page)


def check_pdf(pdf: bytes | str | os.PathLike[str] | pikepdf.Pdf) -> list[Finding]:
    """Check a PDF against the machine-checkable PDF/UA-1 checkpoints a letter needs.

    Parameters
    ----------
    pdf : bytes, path or pikepdf.Pdf
        The document.

    Returns
    -------
    list of Finding
        One finding per failure, in the order catalog, metadata, structure (role map,
        figures, headings, tables), content (per page), fonts; empty when every check
        passes.

    Raises
    ------
    DataError
        If ``pdf`` is not a readable PDF.

    Examples
    --------
    >>> from weasyprint import HTML
    >>> html = '<html lang="de"><title>Mahnung</title><h1>Mahnung</h1><img src="{}">'
    >>> dot = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
    ...        "2mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    >>> pdf = HTML(string=html.format(dot)).write_pdf(pdf_variant="pdf/ua-1")
    >>> [finding.checkpoint for finding in check_pdf(pdf)]
    ['13-004']
    >>> check_pdf(b"not a pdf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.DataError: <bytes> is not a readable PDF (...); pass the bytes or path of ...
    """
    checker = _Checker(_open(pdf))
    checker.catalog()
    checker.metadata()
    checker.structure()
    checker.figures()
    checker.headings()
    checker.tables()
    checker.content()
    checker.fonts()
    return checker.findings
