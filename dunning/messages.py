"""Messages: the letter as a MIME e-mail (``.eml``) and a short text message (SMS).

E-mail
------
:func:`render_email` builds one :class:`email.message.EmailMessage` per case with the
standard library only::

    multipart/alternative
    ├── text/plain; charset=utf-8 (quoted-printable)   templates/letters/email.txt.j2
    └── multipart/related
        ├── text/html; charset=utf-8 (quoted-printable) the letter of render_html
        └── image/png (inline, Content-ID)               the payment QR code

With a PDF (``pdf=`` or ``write_emails(letters_dir=...)``) the whole is wrapped in a
``multipart/mixed`` with the tagged PDF letter as an attachment.

* The text part has the letter's content, as text: heading and subject, date, customer
  number and case, the request to pay with amount and deadline, the next step of a firm
  letter, the help line, the invoices as an aligned table, the charges with the amount due,
  the payment data (payee, IBAN, BIC, amount, reference, deadline), the offer, the reasons
  and the help paragraph. Lines are at most :data:`TEXT_WIDTH` (78) characters.
* The HTML part is the letter of :func:`dunning.letters.render_html` with one change: the
  QR code's ``data:`` URI becomes ``cid:`` and the PNG travels as an inline part of a
  ``multipart/related``. Gmail and Outlook do not show ``data:`` images in e-mails; every
  common client shows ``cid:`` images. The ``alt`` text (amount, payee, IBAN, reference)
  and the printed payment data stay, so the mail works without images too.
* Headers: ``From`` the creditor (name and e-mail), ``To`` the customer (``name`` and
  ``email`` of the case; a case without a valid address is a
  :class:`~dunning.errors.RenderError`), ``Subject`` the letter's heading and subject
  line and the case reference ("2. Mahnung: Zahlung überfällig – Vorgang C…"), ``Date``
  the letter date at :data:`SEND_TIME` (08:00) in :data:`SEND_ZONE` (Europe/Berlin),
  ``Message-ID`` ``<dunning.<case_id>.<yyyymmdd>@<creditor's domain>>``,
  ``Content-Language`` and ``Auto-Submitted: auto-generated`` (RFC 3834).
* Deterministic: no clock, no random numbers. MIME boundaries are derived from a hash of
  the content and start with ``=_``, which can never occur in a quoted-printable or base64
  body. The same case, date and creditor give the same bytes.

Safety
------
Autoescaping does not apply to ``text/plain``: nothing in it is markup, and no HTML is
produced from it. What can go wrong in plain text and in headers is different, and is
handled here:

* Every value that reaches the text part, the SMS or a header is cleaned first: control
  characters (CR and LF included), Unicode line and paragraph separators and bidi controls
  are removed or replaced by a space, so a name cannot start new lines, forge a "Bcc:"
  header or reorder the text.
* Addresses must be valid (the WHATWG "valid e-mail address" syntax with a dotted domain,
  at most 254 characters); display names are quoted or RFC 2047-encoded by
  :mod:`email.headerregistry`, never concatenated into a header.
* The HTML part comes from :func:`~dunning.letters.render_html` (autoescaped).

SMS
---
:func:`render_sms` writes one short, polite message per tone (``templates/letters/
sms.txt.j2``): greeting, amount due, deadline, IBAN and reference, "already paid?", and the
phone number (the help-line sentence when the case has the help line). :func:`measure_sms`
counts it as the network does: GSM 03.38 7-bit (the ``gsm0338`` codec; a character of the
extension table, such as ``€``, costs two septets) or, when any character is outside the
GSM alphabet, UCS-2 (UTF-16 code units). One segment holds 160 septets or 70 units; a
longer message is split into segments of 153 septets or 67 units (a user data header takes
the rest), and an escape pair or a surrogate pair is never split.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import email
>>> import email.policy
>>> import pandas as pd
>>> from dunning.letters import Creditor
>>> case = {"case_id": "C20261123-0123456789", "customer_id": "K-1", "name": "Erika Muster",
...     "email": "erika@example.com", "country": "DE", "currency": "EUR",
...     "total": Decimal("1234.56"), "level": 2, "offer": "none"}
>>> invoices = pd.DataFrame({"invoice_id": ["R-1"], "issue_date": pd.to_datetime(["2026-10-01"]),
...     "due_date": pd.to_datetime(["2026-11-03"]), "days_overdue": [20],
...     "open_amount": [Decimal("1234.56")], "currency": ["EUR"]})
>>> msg = render_email(case, invoices, pd.DataFrame(), creditor=Creditor.demo(),
...                    as_of=date(2026, 11, 23), lang="de")
>>> print(msg["Subject"])
1. Mahnung: Zahlung überfällig – Vorgang C20261123-0123456789
>>> print(msg["Date"], msg["Message-ID"], sep="\\n")
Mon, 23 Nov 2026 08:00:00 +0100
<dunning.C20261123-0123456789.20261123@musterfirma.example>
>>> text = msg.get_body(("plain",)).get_content()
>>> "Bitte überweisen Sie den Gesamtbetrag von 1.234,56\\xa0€ bis zum 3. Dezember" in text
True
>>> sms = render_sms(case, creditor=Creditor.demo(), as_of=date(2026, 11, 23), lang="de")
>>> sms.encoding, sms.length, sms.segments
('GSM-7', 272, 2)
>>> measure_sms("Price: 10 €")
SmsText(text='Price: 10 €', encoding='GSM-7', length=12, segments=1)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import re
import textwrap
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import gsm0338  # type: ignore[import-untyped]
import jinja2
import pandas as pd
from babel.dates import format_date
from babel.numbers import format_currency

from dunning._assets import templates_dir
from dunning._files import write_atomic as _write_atomic
from dunning.errors import RenderError
from dunning.letters import (
    LOCALES,
    PAYMENT_DAYS,
    TEMPLATE,
    Creditor,
    _context,
    _environment,
    _flag,
    _TemplateSet,
    _text,
    _tone,
)
from dunning.policy import Policy

__all__ = [
    "EMAIL_MANIFEST_COLUMNS",
    "SEND_TIME",
    "SEND_ZONE",
    "SMS_COLUMNS",
    "TEXT_WIDTH",
    "SmsText",
    "measure_sms",
    "render_email",
    "render_sms",
    "write_emails",
    "write_sms",
]

logger = logging.getLogger(__name__)
progress = logging.getLogger("dunning.progress")

#: The plain-text template of the e-mail, relative to the templates folder.
EMAIL_TEMPLATE = "letters/email.txt.j2"
#: The SMS template, relative to the templates folder.
SMS_TEMPLATE = "letters/sms.txt.j2"
#: Longest line of the text part (RFC 5322, section 2.1.1: 78 characters).
TEXT_WIDTH = 78
#: Time of day in the ``Date`` header (the letter date at 08:00, never earlier).
SEND_TIME = time(8, 0)
#: Time zone of the ``Date`` header.
SEND_ZONE = "Europe/Berlin"
#: Columns of the manifest returned by :func:`write_emails` (as for the letters).
EMAIL_MANIFEST_COLUMNS: tuple[str, ...] = ("case_id", "format", "path", "sha256")
#: Columns of the table returned (and written as CSV) by :func:`write_sms`.
SMS_COLUMNS: tuple[str, ...] = (
    "case_id",
    "customer_id",
    "phone",
    "language",
    "encoding",
    "length",
    "segments",
    "text",
)

# GSM 03.38 / 3GPP TS 23.038 message sizes: one segment, or each segment of a
# concatenated message (the 6-octet user data header takes 7 septets or 3 UCS-2 units).
_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67
_GSM_CODEC = gsm0338.Codec()

# WHATWG HTML "valid e-mail address", with at least one dot in the domain.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_EMAIL_MAX = 254
# Line breaks of any kind become a space; other control characters and the bidi controls
# (which can reorder displayed text) are removed.
_BREAKS = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(" {2,}")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_QR_SRC = re.compile(r'src="(data:image/png;base64,([A-Za-z0-9+/=]+))"')
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_GLUE = "\ue000"  # a private-use character holding words together while wrapping


def _clean(value: str) -> str:
    """``value`` without control characters, line breaks (→ space) and bidi controls."""
    text = _BREAKS.sub(" ", value)
    text = "".join(
        c for c in text if c not in _BIDI and c != _GLUE and unicodedata.category(c) != "Cc"
    )
    return _SPACES.sub(" ", text).strip()


def _clean_tree(value: Any) -> Any:
    """Every string inside nested dicts and lists cleaned with :func:`_clean`."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return {k: _clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_tree(v) for v in value]
    return value


def _fill(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``{key}`` replaced by ``values[key]``, in one pass."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)

    return _PLACEHOLDER.sub(one, text)


# ----------------------------------------------------------------------------- text layout


def _width(text: str) -> int:
    """Display width: wide East Asian characters count 2, combining marks 0."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _wrapped(text: str, width: int, indent: str = "", subsequent: str = "") -> list[str]:
    """Word-wrapped lines; never breaks inside "10.27 %" or "§ 288" (long words are cut)."""
    glued = text.replace(" %", _GLUE + "%").replace("§ ", "§" + _GLUE)
    lines = textwrap.wrap(
        glued,
        width=width,
        initial_indent=indent,
        subsequent_indent=subsequent,
        break_on_hyphens=False,
    )
    return [line.replace(_GLUE, " ") for line in lines]


def _wrap(text: Any, indent: str = "", subsequent: str | None = None) -> str:
    """A paragraph word-wrapped to :data:`TEXT_WIDTH`."""
    return "\n".join(
        _wrapped(str(text), TEXT_WIDTH, indent, indent if subsequent is None else subsequent)
    )


def _heading(text: Any, rule: str = "-") -> str:
    wrapped = _wrap(text)
    longest = max(_width(line) for line in wrapped.splitlines())
    return f"{wrapped}\n{rule * min(longest, TEXT_WIDTH)}"


def _fields(pairs: Sequence[Sequence[Any]]) -> str:
    """Aligned ``Label: value`` lines; pairs with an empty value are left out."""
    shown = [(f"{label}:", str(value)) for label, value in pairs if value not in (None, "")]
    if not shown:
        return ""
    column = max(_width(label) for label, _ in shown) + 1
    if column > TEXT_WIDTH // 2:
        return "\n".join(_wrap(f"{label} {value}", subsequent="  ") for label, value in shown)
    return "\n".join(
        _wrap(f"{_pad(label, column)}{value}", subsequent=" " * column) for label, value in shown
    )


def _grid(
    headers: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    right: Sequence[int] = (),
    footer: Sequence[Any] | None = None,
) -> str:
    """An aligned text table, or one block of fields per row when it would be too wide."""
    cells = [[str(row[key]) for key in keys] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > TEXT_WIDTH:
        blocks = [_fields(list(zip(headers, r, strict=True))) for r in cells]
        if footer is not None:
            blocks.append(_fields([footer]))
        return "\n\n".join(blocks)

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            _pad(v, w, right=i in right)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    if footer is not None:
        label, amount = str(footer[0]), str(footer[1])
        out.append("-" * total)
        if _width(label) + 2 + _width(amount) <= total:
            out.append(label + _pad(amount, total - _width(label), right=True))
        else:
            out += [_wrap(label), _pad(amount, total, right=True)]
    return "\n".join(out)


def _items(rows: Sequence[Any], total: Sequence[Any]) -> str:
    """``(text, amount)`` items with right-aligned amounts, a rule and the total.

    Long texts are wrapped; the amount stands on the item's last line.
    """
    pairs = [
        (str(r["text"]), str(r["amount"])) if isinstance(r, Mapping) else (str(r[0]), str(r[1]))
        for r in rows
    ]
    pairs.append((str(total[0]), str(total[1])))
    amount_width = max(_width(a) for _, a in pairs)
    text_width = TEXT_WIDTH - 2 - amount_width
    out: list[str] = []
    for i, (text, amount) in enumerate(pairs):
        if i == len(pairs) - 1:
            out.append("-" * TEXT_WIDTH)
        lines = _wrapped(text, text_width) or [""]
        out += lines[:-1]  # the amount stands on the item's last line
        out.append(f"{_pad(lines[-1], text_width)}  {_pad(amount, amount_width, right=True)}")
    return "\n".join(out)


def _tidy(text: str) -> str:
    """Trailing spaces removed, runs of blank lines collapsed, every line ≤ TEXT_WIDTH."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if len(line) > TEXT_WIDTH:  # a safety net: the helpers never produce such lines
            lines += _wrapped(line, TEXT_WIDTH)
        else:
            lines.append(line)
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy + "\n"


@functools.cache
def _text_environment() -> jinja2.Environment:
    """Jinja2 for plain text: no autoescaping (nothing is markup), StrictUndefined."""
    env = jinja2.Environment(  # autoescape off on purpose: text/plain and SMS only
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    helpers: dict[str, Callable[..., str]] = {
        "fields": _fields,
        "fill": _fill,
        "grid": _grid,
        "heading": _heading,
        "items": _items,
        "wrap": _wrap,
    }
    env.globals.update(helpers)
    return env


@functools.cache
def _html_environment(templates: str | None = None) -> jinja2.Environment:
    """The letters' own sandboxed Jinja2 environment over the package's templates or a user
    folder over them (see :func:`dunning.letters.render_letters`), made once per process."""
    return _environment(None if templates is None else _TemplateSet.load(templates))


def _letter_html(
    context: Mapping[str, Any], case_id: str | None, templates: str | None = None
) -> str:
    """The letter's HTML from its context: what :func:`~dunning.letters.render_html` returns."""
    try:
        return _html_environment(templates).get_template(TEMPLATE).render(context)
    except jinja2.TemplateError as exc:
        msg = f"case {case_id}: template {TEMPLATE} failed: {exc}"
        raise RenderError(msg, template=TEMPLATE, case_id=case_id) from exc


def _render_text(template: str, context: Mapping[str, Any], case_id: str | None) -> Any:
    try:
        return _text_environment().get_template(template).make_module(dict(context))
    except jinja2.TemplateError as exc:
        msg = f"case {case_id}: template {template} failed: {exc}"
        raise RenderError(msg, template=template, case_id=case_id) from exc


# ----------------------------------------------------------------------------- e-mail


def _address(value: Any, *, what: str, case_id: str | None, fix: str) -> str:
    """A valid e-mail address (stripped), else :class:`RenderError` naming the problem."""
    text = _text(value)
    if text is None:
        msg = f"case {case_id}: {what} has no e-mail address; {fix}"
        raise RenderError(msg, template=EMAIL_TEMPLATE, case_id=case_id)
    if len(text) > _EMAIL_MAX or not _EMAIL.fullmatch(text):
        msg = (
            f"case {case_id}: {what} has an invalid e-mail address {text!r} (expected "
            f"local@domain.tld, ASCII, at most {_EMAIL_MAX} characters); {fix}"
        )
        raise RenderError(msg, template=EMAIL_TEMPLATE, case_id=case_id)
    return text


def _local_id(case_id: str) -> str:
    """The case id if it is safe in a Message-ID, else a hash of it."""
    if _SAFE_ID.fullmatch(case_id):
        return case_id
    return hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:32]


def _boundary(kind: str, *parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return f"=_{kind}_{digest.hexdigest()[:40]}"


def _case_rows(frame: pd.DataFrame, column: str, values: set[str]) -> pd.DataFrame:
    if column in frame.columns:
        return frame.loc[frame[column].astype("str").isin(values)]
    return frame


def render_email(
    case: Mapping[str, Any],
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    creditor: Creditor,
    as_of: date,
    lang: str,
    policy: Policy | None = None,
    html: str | None = None,
    pdf: bytes | None = None,
    templates: str | os.PathLike[str] | None = None,
) -> EmailMessage:
    """Build one case's dunning e-mail: text and HTML alternatives of the letter.

    Parameters
    ----------
    case : Mapping
        One row of ``Proposal.cases``, as for :func:`dunning.letters.render_html`, with
        ``email`` (the recipient; required) and ``name`` (display name).
    decisions : pandas.DataFrame
        The case's invoice rows of ``Proposal.decisions``; when it has a ``case_id``
        column, the rows of other cases are ignored.
    reasons : pandas.DataFrame
        Reasons as for :func:`~dunning.letters.render_html`; rows of other invoices
        (``invoice_id``) and other languages (``lang``, when present) are ignored.
    creditor : Creditor
        Sender (``From``: name and e-mail) and payee.
    as_of : datetime.date
        Letter date; the ``Date`` header is this day at :data:`SEND_TIME` in
        :data:`SEND_ZONE`.
    lang : {"de", "en"}
        Language.
    policy : Policy, optional
        As for :func:`~dunning.letters.render_html`.
    html : str, optional
        The letter's HTML if already rendered (it must be the output of
        :func:`~dunning.letters.render_html` for the same arguments); rendered otherwise.
    pdf : bytes, optional
        The PDF letter, attached as ``<case_id>.pdf`` (the message becomes
        ``multipart/mixed``).
    templates : path, optional
        A folder of user letter templates, as for :func:`~dunning.letters.render_letters`
        (the HTML part is the letter made with them).

    Returns
    -------
    email.message.EmailMessage
        Serialise with ``msg.as_bytes(policy=email.policy.SMTP)`` (CRLF line ends), as
        :func:`write_emails` does.

    Raises
    ------
    RenderError
        If the case has no valid e-mail address, the creditor's address is invalid, or
        the letter cannot be rendered (see :func:`~dunning.letters.render_html`).

    Examples
    --------
    See the module docstring.
    """
    case_id = str(case["case_id"])
    to = _address(
        case.get("email"),
        what="the customer",
        case_id=case_id,
        fix="send a letter instead, or correct the customer's 'email'.",
    )
    sender = _address(
        creditor.email, what="the creditor", case_id=case_id, fix="correct Creditor.email."
    )
    domain = sender.rsplit("@", 1)[1].lower()
    invoices = _case_rows(decisions, "case_id", {case_id})
    if "invoice_id" in reasons.columns:
        reasons = _case_rows(reasons, "invoice_id", set(invoices["invoice_id"].astype("str")))
    if "lang" in reasons.columns:
        reasons = reasons.loc[reasons["lang"] == lang]
    context = _context(
        case, invoices, reasons, creditor=creditor, as_of=as_of, lang=lang, policy=policy
    )
    module = _render_text(EMAIL_TEMPLATE, _clean_tree(context), case_id)
    text = _tidy(str(module))
    subject = _clean(str(module.subject))
    if html is None:
        html = _letter_html(context, case_id, None if templates is None else str(templates))

    local = f"{_local_id(case_id)}.{as_of:%Y%m%d}"
    png: bytes | None = None
    cid = f"girocode.{local}@{domain}"
    found = _QR_SRC.findall(html)
    if len(found) == 1:
        uri, data = found[0]
        png = base64.b64decode(data, validate=True)
        html = html.replace(f'src="{uri}"', f'src="cid:{cid}"')

    msg = EmailMessage()
    msg["From"] = Address(display_name=_clean(creditor.name), addr_spec=sender)
    msg["To"] = Address(display_name=_clean(_text(case.get("name")) or ""), addr_spec=to)
    msg["Subject"] = subject
    sent = datetime.combine(as_of, SEND_TIME, tzinfo=ZoneInfo(SEND_ZONE))
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<dunning.{local}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    hashed = [text.encode("utf-8"), html.encode("utf-8"), png or b"", pdf or b""]
    if png is not None:
        html_part = cast("EmailMessage", msg.get_payload()[1])  # type: ignore[index]
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>", disposition="inline",
            filename="girocode.png",
        )  # fmt: skip
        html_part.set_boundary(_boundary("rel", *hashed))
    msg.set_boundary(_boundary("alt", *hashed))
    if pdf is not None:
        msg.make_mixed()
        msg.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=f"{_local_id(case_id)}.pdf"
        )
        msg.set_boundary(_boundary("mix", *hashed))
    # After the body: set_content and make_mixed move Content-* headers into a subpart.
    msg["Content-Language"] = str(context["html_lang"])
    return msg


def _selected(cases: pd.DataFrame, channel: str | None) -> list[dict[str, Any]]:
    records = cast("list[dict[str, Any]]", cases.to_dict("records"))
    if channel is None:
        return records
    return [r for r in records if _text(r.get("channel")) == channel]


def write_emails(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    creditor: Creditor,
    as_of: date,
    policy: Policy | None = None,
    channel: str | None = None,
    letters_dir: str | os.PathLike[str] | None = None,
    skip_missing: bool = True,
    templates: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Write every case's e-mail to ``<out_dir>/<case_id>.eml`` (RFC 5322, CRLF).

    Parameters
    ----------
    cases : pandas.DataFrame
        ``Proposal.cases``; each case's ``language`` chooses the language.
    decisions : pandas.DataFrame
        ``Proposal.decisions``; the rows with a case's ``case_id`` are its invoices.
    reasons : pandas.DataFrame
        ``invoice_id, code, contribution, text`` and optionally ``lang``.
    out_dir : path
        Folder for the ``.eml`` files; created if missing.
    creditor : Creditor
        Sender and payee.
    as_of : datetime.date
        Letter date.
    policy : Policy, optional
        As for :func:`~dunning.letters.render_html`.
    channel : str, optional
        Only the cases whose ``channel`` is this (e.g. ``"email"``: the cases the
        communication rules send by e-mail, with the customer's consent); default: every
        case with an address.
    letters_dir : path, optional
        Folder of the PDF letters (:func:`~dunning.letters.render_letters`): a case's
        ``<case_id>.pdf`` there is attached to its e-mail.
    skip_missing : bool
        Skip (and log) the cases without a valid e-mail address; ``False`` raises instead.
    templates : path, optional
        A folder of user letter templates, as for :func:`~dunning.letters.render_letters`.

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`EMAIL_MANIFEST_COLUMNS`): one row per file, format ``"eml"``,
        with the file's sha256.

    Raises
    ------
    RenderError
        If an e-mail cannot be rendered (or, with ``skip_missing=False``, a case has no
        valid address); the error names the case.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1", "C2"], "customer_id": ["K-1", "K-2"],
    ...     "name": ["Ann Lee", "Bo Ek"], "email": ["ann@example.com", None],
    ...     "country": ["GB", "GB"], "language": ["en", "en"], "currency": ["GBP", "GBP"],
    ...     "total": [Decimal("80.00"), Decimal("9.00")], "level": [1, 1],
    ...     "offer": ["none", "none"]})
    >>> decisions = pd.DataFrame({"case_id": ["C1", "C2"], "invoice_id": ["R-1", "R-2"],
    ...     "issue_date": pd.to_datetime(["2026-10-01"] * 2),
    ...     "due_date": pd.to_datetime(["2026-11-01"] * 2), "days_overdue": [22, 22],
    ...     "open_amount": [Decimal("80.00"), Decimal("9.00")], "currency": ["GBP", "GBP"]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = write_emails(cases, decisions, pd.DataFrame(), tmp,
    ...                             creditor=Creditor.demo(), as_of=date(2026, 11, 23))
    >>> manifest[["case_id", "format"]].values.tolist()
    [['C1', 'eml']]
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pdfs = Path(letters_dir) if letters_dir is not None else None
    invoices_by_case = dict(iter(decisions.groupby("case_id", sort=False, dropna=True)))
    reasons_by_case: dict[Any, pd.DataFrame] = {}
    if not reasons.empty:
        linked = reasons.merge(
            decisions[["invoice_id", "case_id"]].dropna(), on="invoice_id", how="inner"
        )
        reasons_by_case = dict(iter(linked.groupby("case_id", sort=False)))
    empty = pd.DataFrame(columns=["invoice_id", "code", "contribution", "text"])

    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    records = _selected(cases, channel)
    for done, case in enumerate(records, start=1):
        cid = str(case["case_id"])
        lang = str(case.get("language") or "de")
        try:
            _address(case.get("email"), what="the customer", case_id=cid, fix="")
        except RenderError:
            if not skip_missing:
                raise
            skipped.append(cid)
            continue
        pdf_path = pdfs / f"{cid}.pdf" if pdfs is not None else None
        pdf = pdf_path.read_bytes() if pdf_path is not None and pdf_path.is_file() else None
        msg = render_email(
            case, invoices_by_case.get(cid, empty), reasons_by_case.get(cid, empty),
            creditor=creditor, as_of=as_of, lang=lang, policy=policy, pdf=pdf,
            templates=templates,
        )  # fmt: skip
        data = msg.as_bytes(policy=SMTP)
        path = out / f"{cid}.eml"
        _write_atomic(path, data)
        rows.append(
            {
                "case_id": cid,
                "format": "eml",
                "path": str(path),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        if done % 100 == 0 or done == len(records):
            # A few cases at a time (the run writes each chunk's e-mails): DEBUG only.
            level = logging.INFO if done % 100 == 0 or len(records) >= 100 else logging.DEBUG
            progress.log(
                level, "e-mails: %d of %d cases rendered", done, len(records),
                extra={"stage": "e-mails", "done": done, "total": len(records)},
            )  # fmt: skip
    if skipped:
        logger.info(
            "e-mails: %d case(s) without a valid e-mail address skipped: %s",
            len(skipped),
            ", ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else ""),
        )
    manifest = pd.DataFrame(rows, columns=list(EMAIL_MANIFEST_COLUMNS))
    return manifest.astype(dict.fromkeys(EMAIL_MANIFEST_COLUMNS, "str"))


# ----------------------------------------------------------------------------- SMS


@dataclass(frozen=True)
class SmsText:
    """A text message and its size as the mobile network counts it.

    Parameters
    ----------
    text : str
        The message.
    encoding : {"GSM-7", "UCS-2"}
        ``"GSM-7"`` when every character is in the GSM 03.38 alphabet (basic or
        extension table), else ``"UCS-2"``.
    length : int
        Septets for GSM-7 (an extension-table character such as ``€`` counts 2), UTF-16
        code units for UCS-2.
    segments : int
        Number of SMS: 1 up to 160 septets / 70 units, else segments of 153 / 67.

    Examples
    --------
    >>> measure_sms("x" * 160).segments, measure_sms("x" * 161).segments
    (1, 2)
    >>> measure_sms("Zahlung: 12,00 € – danke").encoding
    'UCS-2'
    """

    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    length: int
    segments: int


@functools.cache
def _gsm_cost(char: str) -> int | None:
    """Septets of one character in GSM 03.38 (1 or 2), or None if it is not in it."""
    if char == "\x1b":  # the escape code itself is not a character
        return None
    try:
        encoded, _ = _GSM_CODEC.encode(char)
    except (KeyError, UnicodeEncodeError):
        return None
    return len(cast("bytes", encoded))


def _segments(costs: Sequence[int], single: int, part: int) -> int:
    """Segments needed: one if it fits, else greedy packing that never splits a character."""
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments


def measure_sms(text: str) -> SmsText:
    """Encoding, length and number of segments of a text message.

    Parameters
    ----------
    text : str
        The message.

    Returns
    -------
    SmsText

    Examples
    --------
    ``€``, ``[``, ``]``, ``{``, ``}``, ``\\``, ``^``, ``~`` and ``|`` are in the extension
    table and count two septets; German umlauts and ``ß`` are basic characters:

    >>> measure_sms("Grüße: 5 €")
    SmsText(text='Grüße: 5 €', encoding='GSM-7', length=11, segments=1)
    >>> m = measure_sms("Łukasz " * 10)
    >>> m.encoding, m.length, m.segments
    ('UCS-2', 70, 1)
    >>> measure_sms("€" * 80).segments  # 160 septets: one SMS
    1
    >>> m = measure_sms("€" * 153)  # 76 per segment of 153: an escape pair is never split
    >>> m.length, m.segments
    (306, 3)
    """
    gsm = [_gsm_cost(c) for c in text]
    if all(cost is not None for cost in gsm):
        septets = cast("list[int]", gsm)
        return SmsText(text, "GSM-7", sum(septets), _segments(septets, _GSM7_SINGLE, _GSM7_PART))
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsText(text, "UCS-2", sum(units), _segments(units, _UCS2_SINGLE, _UCS2_PART))


def _amount_due(case: Mapping[str, Any]) -> Decimal:
    """``amount_due``, else ``total`` plus the case's earlier fees, fees, interest, flat fees."""
    due = case.get("amount_due")
    if isinstance(due, Decimal):
        return due
    parts = ("total", "case_earlier_fees", "case_fees", "case_interest", "case_flat_fees")
    return sum((v for p in parts if isinstance(v := case.get(p), Decimal)), start=Decimal(0))


def _deadline(policy: Policy, level: int, as_of: date) -> date:
    """The payment deadline, exactly as the letter computes it."""
    days = (
        policy.levels[level - 1].deadline_days if 1 <= level <= policy.max_level else PAYMENT_DAYS
    )
    return policy.business_calendar().deadline(as_of, days)


def render_sms(
    case: Mapping[str, Any],
    *,
    creditor: Creditor,
    as_of: date,
    lang: str,
    policy: Policy | None = None,
) -> SmsText:
    """Write one case's text message and measure it.

    Parameters
    ----------
    case : Mapping
        One row of ``Proposal.cases``: ``case_id, currency, level`` and ``amount_due``
        (default: ``total`` plus ``case_earlier_fees, case_fees, case_interest,
        case_flat_fees``); optional ``name``, ``tone``, ``help_line``, ``vulnerable``
        (read as for the letter).
    creditor : Creditor
        Sender, account (IBAN) and phone number.
    as_of : datetime.date
        Letter date; the deadline is the letter's.
    lang : {"de", "en"}
        Language.
    policy : Policy, optional
        Level tones and deadlines; default ``Policy.default("DE")``.

    Returns
    -------
    SmsText

    Raises
    ------
    RenderError
        If the language or the tone is unknown, or the template fails.

    Examples
    --------
    >>> import textwrap
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> case = {"case_id": "C1", "name": "Ann Lee", "currency": "GBP", "level": 1,
    ...         "amount_due": Decimal("80.00")}
    >>> sms = render_sms(case, creditor=Creditor.demo(), as_of=date(2026, 11, 23), lang="en")
    >>> print(textwrap.fill(sms.text, 88))
    Hello Ann Lee, perhaps you missed it: £80.00 is still open with Musterfirma GmbH. Please
    pay by 3 Dec 2026. Thank you! IBAN DE89 3704 0044 0532 0130 00, reference C1. Already
    paid? Then please ignore this message. Questions? Call +49 30 1234567-0
    >>> sms.encoding, sms.length, sms.segments
    ('GSM-7', 246, 2)
    """
    policy = Policy.default("DE") if policy is None else policy
    case_id = _text(case.get("case_id"))
    if lang not in LOCALES:
        msg = f"unknown message language {lang!r}; expected one of {sorted(LOCALES)}."
        raise RenderError(msg, template=SMS_TEMPLATE, case_id=case_id)
    locale = LOCALES[lang]
    level = int(case["level"])
    money = str(format_currency(_amount_due(case), str(case["currency"]), locale=locale))
    context = {
        "lang": lang,
        "tone": _tone(case, policy, level),
        "help_line": _flag(case, "help_line") is True or _flag(case, "vulnerable") is True,
        "name": _text(case.get("name")) or "",
        "creditor": creditor.name,
        "amount": money.replace("\xa0", " ").replace("\u202f", " "),
        "deadline": str(format_date(_deadline(policy, level, as_of), "medium", locale=locale)),
        "iban": creditor.iban_formatted,
        "reference": case_id or "",
        "phone": creditor.phone,
    }
    module = _render_text(SMS_TEMPLATE, _clean_tree(context), case_id)
    return measure_sms(" ".join(str(module).split()))


def write_sms(
    cases: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    creditor: Creditor,
    as_of: date,
    policy: Policy | None = None,
    channel: str | None = None,
) -> pd.DataFrame:
    """Write every case's text message to one CSV file (UTF-8, ``,``-separated).

    Parameters
    ----------
    cases : pandas.DataFrame
        ``Proposal.cases``; ``language`` chooses the language, ``phone`` (when present)
        is copied to the output for the SMS gateway.
    path : path
        The CSV file (e.g. ``out/messages/sms.csv``); its folder is created if missing.
        Written atomically.
    creditor : Creditor
        Sender, account and phone number.
    as_of : datetime.date
        Letter date.
    policy : Policy, optional
        As for :func:`render_sms`.
    channel : str, optional
        Only the cases whose ``channel`` is this (e.g. ``"sms"``); default: every case.

    Returns
    -------
    pandas.DataFrame
        One row per case, columns :data:`SMS_COLUMNS` (``phone`` empty when unknown).

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1"], "customer_id": ["K-1"], "name": ["Ann Lee"],
    ...     "language": ["en"], "currency": ["GBP"], "level": [1],
    ...     "amount_due": [Decimal("80.00")]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     table = write_sms(cases, Path(tmp) / "sms.csv", creditor=Creditor.demo(),
    ...                       as_of=date(2026, 11, 23))
    ...     header = (Path(tmp) / "sms.csv").read_text(encoding="utf-8").splitlines()[0]
    >>> header
    'case_id,customer_id,phone,language,encoding,length,segments,text'
    >>> table[["encoding", "length", "segments"]].values.tolist()
    [['GSM-7', 246, 2]]
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for case in _selected(cases, channel):
        lang = str(case.get("language") or "de")
        sms = render_sms(case, creditor=creditor, as_of=as_of, lang=lang, policy=policy)
        rows.append(
            {
                "case_id": str(case["case_id"]),
                "customer_id": _text(case.get("customer_id")) or "",
                "phone": _clean(_text(case.get("phone")) or ""),
                "language": lang,
                "encoding": sms.encoding,
                "length": sms.length,
                "segments": sms.segments,
                "text": sms.text,
            }
        )
    table = pd.DataFrame(rows, columns=list(SMS_COLUMNS))
    table = table.astype(
        {c: ("int64" if c in ("length", "segments") else "str") for c in SMS_COLUMNS}
    )
    _write_atomic(target, table.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return table
