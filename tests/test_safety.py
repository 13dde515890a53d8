"""Hostile customer data through the whole run: shown literally, never fetched, never sent.

A Python audit hook (PEP 578) watches the real process while ``dunning.run`` renders the
letters: it records every attempt to open ``/etc/passwd`` and every DNS lookup or socket
connection. The hook stays installed for the rest of the test session (audit hooks cannot
be removed) but records only while ``_WATCH`` is set.
"""

from __future__ import annotations

import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pypdf
import pytest

from dunning.datasets import make_portfolio
from dunning.models import Portfolio
from dunning.pipeline import RunResult, run

AS_OF = date(2026, 11, 23)

PAYLOADS = {
    "name": '<img src="file:///etc/passwd"><script>alert(1)</script>',
    "street": "</style><style>@import url(http://evil.example/x.css);</style>",
    "city": 'Köln" style="background:url(file:///etc/passwd)',
}

_WATCH: list[bool] = []
_SEEN: list[tuple[str, str]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCH:
        return
    if event == "open" and args and "passwd" in str(args[0]):
        _SEEN.append((event, str(args[0])))
    elif event in {"socket.getaddrinfo", "socket.connect", "urllib.Request"}:
        _SEEN.append((event, repr(args[:2])))


sys.addaudithook(_hook)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, set[str]]:
    p = make_portfolio(60, seed=4, as_of=AS_OF)
    customers = p.customers.copy()
    # Every customer carries the payloads, so whoever gets a letter shows them.
    for column, payload in PAYLOADS.items():
        customers[column] = payload
    hostile = Portfolio(customers, p.invoices, p.payments, p.history, p.truth, p.promises)
    out = tmp_path_factory.mktemp("hostile")
    _WATCH.append(True)
    try:
        result = run(hostile, as_of=AS_OF, out=out)
    finally:
        _WATCH.clear()
    return result, set(result.cases["case_id"])


def test_no_file_or_network_access_happened(hostile_run: tuple[RunResult, set[str]]) -> None:
    _, cases = hostile_run
    assert cases, "the hostile portfolio must produce letters to be a test"
    assert _SEEN == []


class _Page(HTMLParser):
    """Tags with their attributes, and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_letters_show_the_payloads_as_text(hostile_run: tuple[RunResult, set[str]]) -> None:
    result, cases = hostile_run
    for case in sorted(cases)[:5]:
        page = _Page()
        page.feed((result.paths["letters"] / f"{case}.html").read_text(encoding="utf-8"))
        assert not [t for t, _ in page.tags if t == "script"]
        sources = [a.get("src") or "" for t, a in page.tags if t == "img"]
        assert all(src.startswith("data:image/png;base64,") for src in sources), sources
        styles = [a.get("style") for _, a in page.tags if a.get("style")]
        assert not [s for s in styles if "passwd" in str(s)]
        text = "".join(page.text)
        for payload in PAYLOADS.values():
            assert payload in text


def test_pdf_letters_show_the_payloads_literally(hostile_run: tuple[RunResult, set[str]]) -> None:
    result, cases = hostile_run
    case = sorted(cases)[0]
    reader = pypdf.PdfReader(Path(result.paths["letters"]) / f"{case}.pdf")
    text = "".join((page.extract_text() or "") for page in reader.pages)
    squeezed = "".join(text.split())  # line breaks may fall inside a long payload
    for payload in PAYLOADS.values():
        assert "".join(payload.split()) in squeezed


def test_the_watch_sees_file_and_network_access() -> None:
    """Control: the audit hook does record what the run must not do."""
    import socket

    before = len(_SEEN)
    _WATCH.append(True)
    try:
        Path("/etc/passwd").read_bytes()
        socket.getaddrinfo("localhost", 80)
    finally:
        _WATCH.clear()
    seen = _SEEN[before:]
    del _SEEN[before:]
    assert [event for event, _ in seen] == ["open", "socket.getaddrinfo"]
