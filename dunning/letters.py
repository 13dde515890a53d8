"""Letters: one accessible HTML and PDF letter per case.

The letter is the Jinja2 template ``templates/letters/letter.html.j2`` and its partials
(address zone, invoice table, payment instructions with QR code, offer, reasons, help).
Everything the template shows arrives already formatted for the letter's locale by
Babel (``de`` → ``de_DE``: ``1.234,56 €``, ``23. November 2026``; ``en`` → ``en_GB``:
``€1,234.56``, ``23 November 2026``).

Safety
------
* Jinja2 autoescaping is on for every template and ``StrictUndefined`` makes a missing
  value an error, so customer data (names, addresses, reason texts) always appears as
  text, never as markup.
* Every template renders in Jinja2's ``ImmutableSandboxedEnvironment`` (no Python
  internals, no mutating methods), from a snapshot of the package's ``letters/`` files
  and, with ``templates=``, a user's folder whose files replace the package's files of
  the same name (docs/custom-templates.md). Nothing outside that snapshot can be loaded.
* WeasyPrint fetches only through :class:`dunning._assets.AssetURLFetcher`: files in the
  package's templates folder and ``data:image/png`` / ``data:image/svg+xml`` URIs.
* Every ERROR record of the ``weasyprint`` logger during a render (an unloadable
  resource, a missing ``alt`` or ``lang`` under PDF/UA) fails the letter with
  :class:`~dunning.errors.RenderError` naming the case.

Content besides the amounts: under an offer, why the customer receives it and which data
were used (``OFFER_WHY`` in ``_i18n.html.j2``); after the sign-off, the legal texts of the
policy's jurisdiction for the letter's level, language and segment
(``templates/letters/legal.toml``; a missing one is a :class:`~dunning.errors.RenderError`).

PDFs are PDF/UA-1 (tagged, ``/Lang`` from ``<html lang>``, title from ``<title>``).
Files are written atomically: to a temporary file in the target folder, then
``os.replace``, so a crash never leaves a half-written letter under its final name.

Batches
-------
:func:`render_letters` renders in ``workers`` processes (``forkserver`` or ``spawn``,
never ``fork``), each with one font configuration and the stylesheet parsed once; the
files are byte-identical whatever the number of workers. :func:`print_stream` puts the
PDFs into one file for a print and mail house (duplex: every letter on a new sheet) with
the page range of each letter; that file is not PDF/UA. The manifest records per letter the
template set's id and sha256 (:func:`template_fingerprint`) and the sha256 of the data it
was made from.

Tone
----
The case's ``tone`` (from :func:`dunning.communication.choose_tone_and_channel`; without
the column, the tone of the case's level in the policy) chooses the subject line, the
opening, the request to pay, the closing paragraph and the sign-off. All of this wording
is in ``templates/letters/_i18n.html.j2`` (``TONE_TEXT``, ``NEXT_STEP``, ``HELP_TEXT``);
plain language, short sentences, no blame, never a word about vulnerability:

friendly
    Assumes an oversight: "sicher ist Ihnen entgangen, dass die folgende Rechnung noch
    offen ist." / "Perhaps this has slipped your attention: the invoice below is still
    open." The request to pay ends with thanks.
neutral
    States the facts: "für die folgende Rechnung haben wir noch keine Zahlung erhalten." /
    "We have not yet received payment for the invoice below."
firm
    A clear deadline ("spätestens bis zum …" / "no later than …") and the next step if
    nobody pays: the next level's letter and its fee, the UK Letter of Claim, or, when
    the next level is the last one (or this letter is), the hand-over to a collection
    agency or the court procedure ("… prüfen wir, die Forderung an ein
    Inkassounternehmen zu übergeben oder ein gerichtliches Mahnverfahren zu beantragen.").

A case with ``escalation_blocked`` (or ``vulnerable``) never gets next-step wording, even
with a firm tone.

Help line
---------
With ``help_line`` (or ``vulnerable``) true the letter carries, right after the request to
pay, a framed section "Hilfe bei Zahlungsschwierigkeiten" / "Help if you find it hard to
pay": the policy's help-line paragraph (``tone_and_channel.help_line_de`` /
``help_line_en``: talk to us, free independent debt advice) and the creditor's phone and
e-mail. Otherwise a short standard help paragraph closes the letter.

Charges
-------
Besides the open invoices the charges table lists "Mahngebühren aus früheren Schreiben" /
"Fees from earlier letters" (``case_earlier_fees``, else the sum of the invoices'
``earlier_fees``), then per invoice this letter's fee, the interest claim and the flat
fee. The items add up exactly to the amount the letter, the payment data, the QR code and
any offer ask for: the case's ``amount_due`` (a case whose ``amount_due`` differs is a
:class:`~dunning.errors.RenderError`), or the sum of the items when it has none.

Examples
--------
>>> from datetime import date
>>> from decimal import Decimal
>>> import pandas as pd
>>> case = {"case_id": "C20261123-0123456789", "customer_id": "K-1", "name": "Erika Muster",
...     "street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE",
...     "currency": "EUR", "total": Decimal("1234.56"), "level": 2, "n_invoices": 1,
...     "max_days_overdue": 20, "offer": "none"}
>>> invoices = pd.DataFrame({"invoice_id": ["R-1"], "issue_date": pd.to_datetime(["2026-10-01"]),
...     "due_date": pd.to_datetime(["2026-11-03"]), "days_overdue": [20],
...     "open_amount": [Decimal("1234.56")], "currency": ["EUR"]})
>>> html = render_html(case, invoices, pd.DataFrame(), creditor=Creditor.demo(),
...                    as_of=date(2026, 11, 23), lang="de")
>>> "1.234,56\\xa0€" in html and "3. Dezember 2026" in html
True
>>> "haben wir trotz" in html, "für die folgende Rechnung haben wir noch keine" in html
(False, True)

The level's tone by default (level 2: neutral); a firm letter names the next step, unless
the case's escalation is blocked:

>>> def letter(**columns):
...     return render_html({**case, **columns}, invoices, pd.DataFrame(),
...                        creditor=Creditor.demo(), as_of=date(2026, 11, 23), lang="en")
>>> "we will send you our second reminder" in letter(tone="firm")
True
>>> "we will send you" in letter(tone="firm", escalation_blocked=True)
False
>>> "slipped your attention" in letter(tone="friendly")
True
>>> "Help if you find it hard to pay" in letter(help_line=True)
True
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import multiprocessing
import multiprocessing.context
import os
import re
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Protocol, cast

import jinja2
import jinja2.exceptions
import jinja2.sandbox
import numpy as np
import pandas as pd
import segno.helpers
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from pydantic import BaseModel, ConfigDict, Field, field_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from dunning._assets import AssetURLFetcher, templates_dir
from dunning._files import write_atomic as _write_atomic
from dunning.communication import TONES
from dunning.errors import RenderError
from dunning.levels import LEVEL_NAMES
from dunning.models import CountryCode, IbanText
from dunning.offers import DEFAULT_INSTALLMENTS, installment_plan
from dunning.policy import Policy, Tone

__all__ = [
    "FORMATS",
    "LOCALES",
    "MANIFEST_COLUMNS",
    "PAYMENT_DAYS",
    "PRINT_STREAM_COLUMNS",
    "TEMPLATE",
    "Creditor",
    "print_stream",
    "render_html",
    "render_letters",
    "render_pdf",
    "template_fingerprint",
]

logger = logging.getLogger(__name__)
progress = logging.getLogger("dunning.progress")

#: The letter template, relative to the templates folder.
TEMPLATE = "letters/letter.html.j2"
_STYLESHEET = "letters/letter.css"
#: Babel locale of each letter language.
LOCALES: Mapping[str, str] = {"de": "de_DE", "en": "en_GB"}
#: Days from the run date to the payment deadline of a level the policy does not know (a
#: level's own ``deadline_days`` applies otherwise).
PAYMENT_DAYS = 14
#: Output formats :func:`render_letters` can write.
FORMATS: tuple[str, ...] = ("html", "pdf")
#: Columns of the manifest returned by :func:`render_letters`: the file, its sha256 and page
#: count, then which template set made it (``template`` id, ``template_sha256`` of the
#: effective set, see :func:`template_fingerprint`) and from which data (``data_sha256``:
#: sha256 of the letter's render context as canonical JSON).
MANIFEST_COLUMNS: tuple[str, ...] = (
    "case_id",
    "format",
    "path",
    "sha256",
    "pages",
    "template",
    "template_sha256",
    "data_sha256",
)
#: Columns of the page ranges returned by :func:`print_stream`.
PRINT_STREAM_COLUMNS: tuple[str, ...] = ("case_id", "first_page", "last_page", "pages", "sheets")

_PDF_VARIANT = "pdf/ua-1"
_EPC_MAX = Decimal("999999999.99")
#: Most cases in one task sent to a worker process.
_MAX_CHUNK = 10
#: Fewer cases render in the calling process (starting a pool takes about a second).
_MIN_POOL = 20


class Creditor(BaseModel):
    """The company that sends the letters and receives the payments.

    Parameters
    ----------
    name : str
        Payee name as printed and in the QR code (at most 70 characters, EPC069-12).
    street, postal_code, city : str
        Postal address for the sender line and footer.
    country : str
        ISO 3166-1 alpha-2 code.
    iban : str
        Account for payments, validated with schwifty and kept in compact form.
    bic : str or None
        BIC of the account (optional within SEPA), validated with schwifty.
    email, phone : str
        Contact for questions and for customers in difficulty.

    Examples
    --------
    The documented demo creditor (the well-known example IBAN of a German bank;
    never use it for real payments):

    >>> c = Creditor.demo()
    >>> c.name, c.iban, c.iban_formatted
    ('Musterfirma GmbH', 'DE89370400440532013000', 'DE89 3704 0044 0532 0130 00')
    >>> from pydantic import ValidationError
    >>> try:
    ...     Creditor(**{**c.model_dump(), "iban": "DE00370400440532013000"})
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, invalid IBAN 'DE00370400440532013000': Invalid checksum digits
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=70)]
    street: Annotated[str, Field(min_length=1)]
    postal_code: Annotated[str, Field(min_length=1)]
    city: Annotated[str, Field(min_length=1)]
    country: CountryCode
    iban: IbanText
    bic: str | None = None
    email: Annotated[str, Field(min_length=3)]
    phone: Annotated[str, Field(min_length=3)]

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(BIC(value).compact)
        except SchwiftyException as exc:
            msg = f"invalid BIC {value!r}: {exc}"
            raise ValueError(msg) from exc

    @property
    def iban_formatted(self) -> str:
        """The IBAN in groups of four, as printed on the letter."""
        return str(IBAN(self.iban).formatted)

    @classmethod
    def demo(cls) -> Creditor:
        """The demo creditor used by ``dunning demo`` (fictitious company, example IBAN).

        Examples
        --------
        >>> Creditor.demo().city
        'Berlin'
        """
        return cls(
            name="Musterfirma GmbH",
            street="Musterstraße 1",
            postal_code="10115",
            city="Berlin",
            country="DE",
            iban="DE89370400440532013000",
            bic="COBADEFFXXX",
            email="forderungen@musterfirma.example",
            phone="+49 30 1234567-0",
        )


# ----------------------------------------------------------------------------- templates

_LETTERS = "letters"
_LEGAL = "letters/legal.toml"
#: A user's templates folder may hold at most this many files and bytes (a guard against
#: pointing ``templates`` at a home folder by mistake).
_MAX_USER_FILES = 200
_MAX_USER_BYTES = 5 * 1024 * 1024
_SEGMENTS = ("B2C", "B2B")
#: Placeholders a legal text may use (filled per letter).
_LEGAL_FIELDS = frozenset({"deadline"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class _LegalTexts:
    """The legal texts of ``letters/legal.toml``: jurisdiction → level → language.

    ``table[jurisdiction][level]`` maps a language to its paragraphs and may hold an
    ``escalation`` table (language → paragraphs printed only when the case's escalation is
    not blocked) and a segment table (``"B2B"`` / ``"B2C"``) with the same keys, which
    replaces the level's own entries for cases of that segment.
    """

    source: str
    table: Mapping[str, Mapping[str, Mapping[str, Any]]]

    @classmethod
    def parse(cls, text: str, source: str) -> _LegalTexts:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = f"legal texts {source}: not valid TOML: {exc}"
            raise RenderError(msg, template=_LEGAL) from exc
        table: dict[str, dict[str, dict[str, Any]]] = {}
        for jurisdiction, levels in data.items():
            if not isinstance(levels, dict):
                continue  # metadata such as checked = "2026-11"
            if not re.fullmatch(r"[A-Z]{2}", jurisdiction):
                cls._fail(source, jurisdiction, "is not an ISO 3166-1 alpha-2 jurisdiction code")
            table[jurisdiction] = {}
            for level, entry in levels.items():
                where = f"{jurisdiction}.{level}"
                if not (level.isdigit() and isinstance(entry, dict)):
                    cls._fail(source, where, "must be a table named by a level number")
                table[jurisdiction][level] = cls._entry(source, where, entry, segments=True)
        return cls(source, table)

    @classmethod
    def _entry(
        cls, source: str, where: str, entry: Mapping[str, Any], *, segments: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in entry.items():
            at = f"{where}.{key}"
            if key in LOCALES:
                out[key] = cls._paragraphs(source, at, value)
            elif key == "escalation" and isinstance(value, dict):
                unknown = sorted(set(value) - set(LOCALES))
                if unknown:
                    cls._fail(source, at, f"has unknown languages {unknown}")
                out[key] = {
                    lang: cls._paragraphs(source, f"{at}.{lang}", text)
                    for lang, text in value.items()
                }
            elif segments and key in _SEGMENTS and isinstance(value, dict):
                out[key] = cls._entry(source, at, value, segments=False)
            else:
                expected = [*LOCALES, "escalation", *(_SEGMENTS if segments else ())]
                cls._fail(source, at, f"is not a known key; expected one of {expected}")
        return out

    @staticmethod
    def _paragraphs(source: str, where: str, value: Any) -> tuple[str, ...]:
        paragraphs = [value] if isinstance(value, str) else value
        if (
            not isinstance(paragraphs, list)
            or not paragraphs
            or not all(isinstance(p, str) and p.strip() for p in paragraphs)
        ):
            _LegalTexts._fail(source, where, "must be a non-empty text or list of texts")
        for text in paragraphs:
            unknown = sorted(set(_PLACEHOLDER.findall(text)) - _LEGAL_FIELDS)
            if unknown:
                _LegalTexts._fail(
                    source, where, f"uses unknown placeholders {unknown}; allowed: "
                    f"{sorted(_LEGAL_FIELDS)}"
                )  # fmt: skip
        return tuple(" ".join(p.split()) for p in paragraphs)

    @staticmethod
    def _fail(source: str, where: str, problem: str) -> None:
        msg = f"legal texts {source}: [{where}] {problem}."
        raise RenderError(msg, template=_LEGAL)

    def paragraphs(
        self,
        jurisdiction: str,
        level: int,
        lang: str,
        *,
        segment: str,
        escalation: bool,
        values: Mapping[str, str],
        case_id: str | None,
    ) -> list[str]:
        """The paragraphs for one letter; a missing entry is a :class:`RenderError`."""
        entry = self.table.get(jurisdiction, {}).get(str(level))
        own = (entry or {}).get(segment, {})
        text = own.get(lang, (entry or {}).get(lang))
        if text is None:
            msg = (
                f"case {case_id}: no legal text for jurisdiction {jurisdiction}, level "
                f"{level}, language {lang} (segment {segment}) in {self.source}; add "
                f'[{jurisdiction}.{level}] {lang} = ["..."].'
            )
            raise RenderError(msg, template=_LEGAL, case_id=case_id)
        out = list(text)
        more = own.get("escalation", (entry or {}).get("escalation"))
        if escalation and more is not None:
            if lang not in more:
                msg = (
                    f"case {case_id}: no escalation text for jurisdiction {jurisdiction}, "
                    f"level {level}, language {lang} (segment {segment}) in {self.source}; "
                    f'add [{jurisdiction}.{level}.escalation] {lang} = ["..."].'
                )
                raise RenderError(msg, template=_LEGAL, case_id=case_id)
            out.extend(more[lang])
        return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], p) for p in out]


@functools.lru_cache(maxsize=8)
def _parse_legal(text: str, source: str) -> _LegalTexts:
    """:meth:`_LegalTexts.parse`, cached by content (parsing takes about 4 ms)."""
    return _LegalTexts.parse(text, source)


class _SnapshotLoader(jinja2.BaseLoader):
    """Templates from an in-memory snapshot: nothing outside it can ever be loaded.

    ``sources`` maps a template name (``letters/...``) to its text and the file name shown
    in errors and tracebacks (the package name, or the user's file path).
    """

    def __init__(self, sources: Mapping[str, tuple[str | None, str]]) -> None:
        self.sources = sources

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        try:
            text, filename = self.sources[template]
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None
        if text is None:
            msg = f"{filename} is not UTF-8 text and cannot be used as a template"
            raise jinja2.TemplateError(msg)
        return text, filename, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.sources)


def _folder_files(root: Path, *, limit: bool) -> dict[str, Path]:
    """The regular, non-hidden files under ``root`` by ``/``-separated relative name.

    Links are followed only when they stay inside ``root``; one that leads outside is a
    :class:`RenderError` (a template set is only what is in its folder).
    """
    real_root = root.resolve()
    files: dict[str, Path] = {}
    size = 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if not path.resolve().is_relative_to(real_root):
            msg = (
                f"templates folder {root}: {relative.as_posix()} links to a file outside "
                "the folder; copy the file into the folder instead."
            )
            raise RenderError(msg, template=str(path))
        files[relative.as_posix()] = path
        size += path.stat().st_size
        if limit and (len(files) > _MAX_USER_FILES or size > _MAX_USER_BYTES):
            msg = (
                f"templates folder {root} holds more than {_MAX_USER_FILES} files or "
                f"{_MAX_USER_BYTES // 2**20} MiB; name a folder with only the letter templates."
            )
            raise RenderError(msg, template=str(root))
    return files


@dataclass(frozen=True)
class _TemplateSet:
    """The effective letter templates of a render: package files, user overrides on top.

    A snapshot: every file is read once, when the set is made; environments built from it
    (in this process or a worker) load only these bytes, so ``sha256`` is exactly the
    template set the letters were rendered with.
    """

    user: Path | None
    files: Mapping[str, bytes]
    filenames: Mapping[str, str]
    id: str
    sha256: str
    legal: _LegalTexts

    @classmethod
    def load(cls, templates: str | os.PathLike[str] | None = None) -> _TemplateSet:
        """Read the package's ``letters/`` files and the user's folder over them."""
        package = templates_dir() / _LETTERS
        paths = {f"{_LETTERS}/{name}": p for name, p in _folder_files(package, limit=False).items()}
        filenames = {name: name for name in paths}
        user = None
        if templates is not None:
            user = Path(templates).expanduser().absolute()
            if not user.is_dir():
                msg = f"templates folder {user} does not exist or is not a folder."
                raise RenderError(msg, template=str(user))
            own = _folder_files(user, limit=True)
            if not own:
                msg = (
                    f"templates folder {user} holds no files; put the templates to override "
                    "there (e.g. _offer.html.j2 or letter.html.j2), named as in the package's "
                    "templates/letters/."
                )
                raise RenderError(msg, template=str(user))
            if all(name.startswith(f"{_LETTERS}/") for name in own):
                msg = (
                    f"templates folder {user}: put the files directly in the folder, not in "
                    f"a {_LETTERS}/ subfolder (its files replace those of templates/letters/)."
                )
                raise RenderError(msg, template=str(user))
            for name, path in own.items():
                paths[f"{_LETTERS}/{name}"] = path
                filenames[f"{_LETTERS}/{name}"] = str(path)
        files = {name: paths[name].read_bytes() for name in sorted(paths)}
        digest = hashlib.sha256()
        for name, data in files.items():
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
        legal_source = filenames.get(_LEGAL, _LEGAL)
        if _LEGAL not in files:  # pragma: no cover - shipped with the package
            msg = f"legal texts {_LEGAL} are missing from the package; reinstall dunning."
            raise RenderError(msg, template=_LEGAL)
        try:
            legal_text = files[_LEGAL].decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"legal texts {legal_source}: not UTF-8 text: {exc}"
            raise RenderError(msg, template=_LEGAL) from exc
        return cls(
            user=user,
            files=files,
            filenames=filenames,
            id=TEMPLATE if user is None else f"custom:{user.name}",
            sha256=digest.hexdigest(),
            legal=_parse_legal(legal_text, legal_source),
        )

    def loader(self) -> jinja2.BaseLoader:
        sources: dict[str, tuple[str | None, str]] = {}
        for name, data in self.files.items():
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            sources[name] = (text, self.filenames[name])
        return _SnapshotLoader(sources)

    def where(self, exc: BaseException, default: str) -> tuple[str, str]:
        """The template file where a rendering error happened, and the file with its line.

        The file is the package name (``letters/_offer.html.j2``) or the path of the
        user's file; ``default`` when the traceback names no template.
        """
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.name is not None:
            filename = self.filenames.get(exc.name, exc.name)
            return filename, f"{filename}, line {exc.lineno}"
        shown = set(self.filenames.values())
        found = None
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename in shown:
                found = (filename, f"{filename}, line {tb.tb_lineno}")
            tb = tb.tb_next
        if found is None:
            filename = self.filenames.get(default, default)
            return filename, filename
        return found


def template_fingerprint(templates: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """The id and content hash of the letter template set, as recorded in the manifest.

    Parameters
    ----------
    templates : path, optional
        A folder of user templates whose files replace the package's files of the same
        name in ``templates/letters/`` (as for :func:`render_letters`).

    Returns
    -------
    (str, str)
        The template id (:data:`TEMPLATE` for the package's own set, ``"custom:<folder
        name>"`` with a user folder) and the sha256 over every file of the effective set
        (name, length and bytes of each file, in name order; templates, partials, CSS and
        legal texts, user overrides included).

    Raises
    ------
    RenderError
        If the folder does not exist, is empty, links outside itself or holds an invalid
        ``legal.toml``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> template, digest = template_fingerprint()
    >>> template, len(digest)
    ('letters/letter.html.j2', 64)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "letter.css").write_text("h1 { font-size: 14pt; }")
    ...     custom, other = template_fingerprint(tmp)
    >>> custom.startswith("custom:"), other != digest
    (True, True)
    """
    templates_set = _TemplateSet.load(templates)
    return templates_set.id, templates_set.sha256


def _environment(templates: _TemplateSet | None = None) -> jinja2.Environment:
    """A sandboxed Jinja2 environment over a template set (the package's by default).

    Every letter renders in Jinja2's immutable sandbox: no access to attributes starting
    with ``_`` or to Python internals, no calls of methods that change data, ``str.format``
    checked as well. Autoescaping is on and ``StrictUndefined`` makes a missing value an
    error.
    """
    template_set = _TemplateSet.load() if templates is None else templates
    return jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=template_set.loader(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _json_value(value: Any) -> Any:
    """JSON form of the values a render context holds besides str, int, bool and None."""
    if isinstance(value, Decimal | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    msg = f"cannot encode {type(value).__name__} {value!r} in the letter data hash"
    raise TypeError(msg)


def _data_sha256(context: Mapping[str, Any]) -> str:
    """sha256 of the render context as canonical JSON.

    Sorted keys, no whitespace, UTF-8 (no ``\\u`` escapes), ``Decimal`` as its string,
    dates in ISO 8601, numpy scalars as Python numbers.

    >>> _data_sha256({"b": Decimal("1.50"), "a": date(2026, 1, 2)}) == hashlib.sha256(
    ...     b'{"a":"2026-01-02","b":"1.50"}').hexdigest()
    True
    """
    text = json.dumps(
        context,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_value,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str | None:
    """A cell as text, or None when it is missing (``NA``, ``NaN``, ``None``, blank)."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    text = str(value).strip()
    return text or None


def _as_date(value: Any) -> date:
    return pd.Timestamp(value).date()


def _top_reasons(reasons: pd.DataFrame, k: int = 3) -> list[str]:
    """The k most important distinct reasons of a case (largest positive contribution)."""
    if reasons.empty or "text" not in reasons.columns:
        return []
    frame = reasons
    if "contribution" in frame.columns:
        frame = frame.loc[frame["contribution"] > 0]
        frame = frame.sort_values(["contribution", "code"], ascending=[False, True], kind="stable")
    key = "code" if "code" in frame.columns else "text"
    frame = frame.drop_duplicates(key)
    return [str(t) for t in frame["text"].head(k)]


def _qr(creditor: Creditor, total: Decimal, currency: str, reference: str, lang: str,
        money: str) -> dict[str, str] | None:  # fmt: skip
    if currency != "EUR" or not (Decimal("0.01") <= total <= _EPC_MAX):
        return None
    src = _epc_png(creditor.name, creditor.iban, creditor.bic, str(total), reference)
    if lang == "de":
        alt = (
            f"GiroCode (QR-Code für die Überweisung): Betrag {money}, Empfänger "
            f"{creditor.name}, IBAN {creditor.iban_formatted}, Verwendungszweck {reference}"
        )
    else:
        alt = (
            f"Payment QR code (EPC GiroCode): amount {money}, payee {creditor.name}, "
            f"IBAN {creditor.iban_formatted}, reference {reference}"
        )
    return {"src": src, "alt": alt}


@functools.lru_cache(maxsize=64)
def _epc_png(name: str, iban: str, bic: str | None, amount: str, reference: str) -> str:
    """The EPC069-12 QR code as a PNG data URI.

    Encoding takes about 15 ms, so it is cached: the letter and the e-mail of a case,
    rendered one after the other, share it.
    """
    qr = segno.helpers.make_epc_qr(
        name=name, iban=iban, amount=Decimal(amount), text=reference, bic=bic
    )
    return str(qr.png_data_uri(scale=4, border=4))


_FEE_REASON = {
    "de": "Mahngebühr (Porto und Material)",
    "en": "Dunning fee (postage and materials)",
}
_EARLIER_FEES = {
    "de": "Mahngebühren aus früheren Schreiben",
    "en": "Fees from earlier letters",
}
_TRUE = frozenset({"true", "1", "yes", "y", "ja", "wahr"})
_FALSE = frozenset({"false", "0", "no", "n", "nein", "falsch"})
_FLAT_FEE_BASIS = {
    ("DE", "de"): "Verzugspauschale nach § 288 Abs. 5 BGB (Zahlungsverzugsrichtlinie 2011/7/EU)",
    ("DE", "en"): (
        "Flat-rate compensation for recovery costs under § 288 (5) BGB "
        "(Late Payment Directive 2011/7/EU)"
    ),
    ("GB", "de"): (
        "Pauschale nach dem Late Payment of Commercial Debts (Interest) Act 1998, s. 5A"
    ),
    ("GB", "en"): "Fixed sum under the Late Payment of Commercial Debts (Interest) Act 1998, s. 5A",
}
_INTEREST_BASIS = {
    ("DE", "B2C"): "§ 288 Abs. 1 BGB",
    ("DE", "B2B"): "§ 288 Abs. 2 BGB",
    ("GB", "B2C"): "Late Payment of Commercial Debts (Interest) Act 1998",
    ("GB", "B2B"): "Late Payment of Commercial Debts (Interest) Act 1998",
}


def _amount(row: Mapping[str, Any], column: str) -> Decimal:
    value = row.get(column)
    return value if isinstance(value, Decimal) else Decimal(0)


def _charges(
    case: Mapping[str, Any],
    invoices: pd.DataFrame,
    *,
    policy: Policy,
    as_of: date,
    lang: str,
    money: Callable[[Decimal], str],
) -> list[tuple[str, Decimal]]:
    """Text and amount of each charge besides the principal, in letter order.

    First the fees of earlier letters still owed (one line for the case), then per invoice
    this letter's fee, the interest claim and the flat fee.
    """
    locale = LOCALES[lang]
    segment = "B2B" if case.get("segment") == "B2B" else "B2C"
    level = int(case["level"])
    lines: list[tuple[str, Decimal]] = []
    earlier = _earlier_fees(case, invoices)
    if earlier > 0:
        lines.append((_EARLIER_FEES[lang], earlier))
    for row in cast("list[dict[str, Any]]", invoices.to_dict("records")):
        invoice = str(row["invoice_id"])
        fee = _amount(row, "fee")
        if fee > 0:
            level_name = policy.level_rule(int(row.get("level") or level)).name(
                "de" if lang == "de" else "en"
            )
            where = "Rechnung" if lang == "de" else "invoice"
            lines.append((f"{_FEE_REASON[lang]}, {level_name}, {where} {invoice}", fee))
        interest = _amount(row, "interest")
        if interest > 0:
            rates = " / ".join(
                f"{format_decimal(Decimal(r), format='0.00', locale=locale)} %"
                for r in str(row.get("interest_rate") or "").split(";")
                if r
            )
            start = format_date(_as_date(row["interest_from"]), format="long", locale=locale)
            end = format_date(as_of, format="long", locale=locale)
            days = format_decimal(int(row.get("interest_days") or 0), locale=locale)
            basis = _INTEREST_BASIS[(policy.jurisdiction, segment)]
            principal = money(row["open_amount"])
            if lang == "de":
                text = (
                    f"Verzugszinsen ({basis}) auf {principal}, Rechnung {invoice}: {rates} "
                    f"p. a. vom {start} bis {end}, {days} Tage, Zinstage "
                    f"{policy.interest_day_count}"
                )
            else:
                text = (
                    f"Default interest ({basis}) on {principal}, invoice {invoice}: {rates} "
                    f"a year from {start} to {end}, {days} days, day count "
                    f"{policy.interest_day_count}"
                )
            lines.append((text, interest))
        flat = _amount(row, "flat_fee")
        if flat > 0:
            where = "Rechnung" if lang == "de" else "invoice"
            basis = _FLAT_FEE_BASIS[(policy.jurisdiction, lang)]
            lines.append((f"{basis}, {where} {invoice}", flat))
    return lines


def _earlier_fees(case: Mapping[str, Any], invoices: pd.DataFrame) -> Decimal:
    """Fees of earlier letters still owed: ``case_earlier_fees``, else the invoices' sum."""
    value = case.get("case_earlier_fees")
    if isinstance(value, Decimal):
        return value
    if "earlier_fees" in invoices.columns:
        return sum(
            (v for v in invoices["earlier_fees"] if isinstance(v, Decimal)), start=Decimal(0)
        )
    return Decimal(0)


def _flag(case: Mapping[str, Any], column: str) -> bool | None:
    """A yes/no cell of the case, or None when the column is absent or the cell missing."""
    value = case.get(column)
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        msg = f"case {case.get('case_id')}: column {column!r} must be true or false; got {value!r}."
        raise RenderError(msg, template=TEMPLATE, case_id=_text(case.get("case_id")))
    return bool(value)


def _tone(case: Mapping[str, Any], policy: Policy, level: int) -> Tone:
    """The case's ``tone``; without one, the tone of its level in the policy."""
    value = _text(case.get("tone"))
    if value is None:
        return policy.level_rule(level).tone if 1 <= level <= policy.max_level else "neutral"
    for tone in TONES:
        if value == tone:
            return tone
    msg = (
        f"case {case.get('case_id')}: unknown tone {value!r}; expected one of "
        f"{list(TONES)} (as from dunning.communication.choose_tone_and_channel)."
    )
    raise RenderError(msg, template=TEMPLATE, case_id=_text(case.get("case_id")))


def _next_step(
    level: int, policy: Policy, *, segment: str, lang: str, money: Callable[[Decimal], str]
) -> dict[str, str]:
    """The step that follows this letter if nobody pays, for a firm letter's wording.

    ``kind`` is ``handover_DE`` / ``handover_GB`` when the next level is the last one (the
    hand-over to a collection agency or court) or this letter already is;
    ``letter_of_claim`` when the next level is a UK Letter of Claim; else ``next_letter``
    with the next level's name and its fee (empty when it costs nothing).
    """
    if level >= policy.max_level or level + 1 == policy.max_level:
        return {"kind": f"handover_{policy.jurisdiction}", "next": "", "fee": ""}
    rule = policy.level_rule(level + 1)
    name = rule.name("de" if lang == "de" else "en")
    if lang == "de":
        name = name[:1].upper() + name[1:]
    if rule.letter_of_claim:
        return {"kind": "letter_of_claim", "next": name, "fee": ""}
    fee = rule.fee("B2B" if segment == "B2B" else "B2C")
    return {"kind": "next_letter", "next": name, "fee": money(fee) if fee > 0 else ""}


def _context(
    case: Mapping[str, Any],
    invoices: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    creditor: Creditor,
    as_of: date,
    lang: str,
    policy: Policy | None = None,
    legal: _LegalTexts | None = None,
) -> dict[str, Any]:
    """Everything a letter template shows, formatted for the letter's locale.

    ``legal`` are the legal texts of the letter's template set (default: the package's
    ``letters/legal.toml``). docs/custom-templates.md lists the keys for template authors.
    """
    policy = Policy.default("DE") if policy is None else policy
    legal = _TemplateSet.load().legal if legal is None else legal
    if lang not in LOCALES:
        msg = f"unknown letter language {lang!r}; expected one of {sorted(LOCALES)}."
        raise RenderError(msg, template=TEMPLATE, case_id=_text(case.get("case_id")))
    locale = LOCALES[lang]
    currency = str(case["currency"])
    reference = str(case["case_id"])
    principal: Decimal = case["total"]
    level = int(case["level"])
    segment = "B2B" if case.get("segment") == "B2B" else "B2C"

    def money(amount: Decimal) -> str:
        return str(format_currency(amount, currency, locale=locale))

    charges = _charges(case, invoices, policy=policy, as_of=as_of, lang=lang, money=money)
    # The letter asks for the amount due: open principal plus the fees of earlier letters,
    # this letter's fees, interest and flat fees. Every item is printed, so they must add
    # up to the amount due exactly.
    itemized = principal + sum((amount for _, amount in charges), start=Decimal(0))
    due = case.get("amount_due")
    total: Decimal = due if isinstance(due, Decimal) else itemized
    if total != itemized:
        msg = (
            f"case {reference}: the letter's items add up to {itemized} {currency} (open "
            f"invoices {principal} + charges {itemized - principal}), but amount_due is "
            f"{total}; amount_due must be total + case_earlier_fees + case_fees + "
            "case_interest + case_flat_fees, with the same fees, interest and flat fees in "
            "the case's decision rows."
        )
        raise RenderError(msg, template=TEMPLATE, case_id=reference)
    tone = _tone(case, policy, level)
    vulnerable = _flag(case, "vulnerable") is True
    # A vulnerable customer always gets the help line and is never escalated, whatever the
    # case's own columns say (ToneChannelRules cannot switch this off).
    help_line = _flag(case, "help_line") is True or vulnerable
    blocked = _flag(case, "escalation_blocked") is True or vulnerable
    consequence = (
        _next_step(level, policy, segment=segment, lang=lang, money=money)
        if tone == "firm" and not blocked and level >= 1
        else None
    )

    def day(value: Any, fmt: str = "long") -> str:
        return str(format_date(_as_date(value), format=fmt, locale=locale))

    # The level's deadline_days after the letter date, moved to the next business day
    # (§§ 187, 188, 193 BGB) by the policy's calendar.
    days = (
        policy.levels[level - 1].deadline_days if 1 <= level <= policy.max_level else PAYMENT_DAYS
    )
    deadline = policy.business_calendar().deadline(as_of, days)
    territories = Locale.parse(locale).territories
    country = _text(case.get("country"))
    postal_line = " ".join(filter(None, [_text(case.get("postal_code")), _text(case.get("city"))]))
    lines = [_text(case.get("street")), postal_line]
    if country and country != creditor.country:
        lines.append(str(territories.get(country, country)).upper())

    offer = None
    if case.get("offer") == "installment_plan":
        n = int(case.get("installments") or DEFAULT_INSTALLMENTS)
        plan = installment_plan(
            total, n, deadline, currency=currency, calendar=policy.business_calendar()
        )
        rows = [
            {"number": str(i.number), "due": day(i.due_date), "amount": money(i.amount)}
            for i in plan.installments
        ]
        offer = {"kind": "installment_plan", "n": n, "rows": rows}
    elif case.get("offer") == "deferral" and not pd.isna(case.get("deferral_due")):
        offer = {"kind": "deferral", "due": day(case["deferral_due"]), "amount": money(total)}

    max_days = int(invoices["days_overdue"].max()) if len(invoices) else 0
    level_name = (
        policy.level_rule(level).name("de" if lang == "de" else "en")
        if 1 <= level <= policy.max_level
        else LEVEL_NAMES[level][lang]
    )
    if offer is not None:
        offer["why"] = _offer_why(
            case, policy, kind=str(offer["kind"]), principal=money(principal),
            level_name=level_name, money=money,
        )  # fmt: skip
    legal_paragraphs = legal.paragraphs(
        policy.jurisdiction,
        level,
        lang,
        segment=segment,
        escalation=not blocked,
        values={"deadline": day(deadline)},
        case_id=reference,
    )
    heading = f"{level_name[:1].upper()}{level_name[1:]}"
    title = f"{heading} – {'Vorgang' if lang == 'de' else 'case'} "
    rules = policy.tone_and_channel
    return {
        "lang": lang,
        "html_lang": locale.replace("_", "-"),
        "title": title + reference,
        "heading_level": heading,
        "level": level,
        "level_name": level_name,
        "tone": tone,
        "consequence": consequence,
        "help_line": help_line,
        "help_text": rules.help_line_de if lang == "de" else rules.help_line_en,
        "case_id": reference,
        "customer_id": str(case["customer_id"]),
        "created_iso": as_of.isoformat(),
        "date_long": day(as_of),
        "deadline_long": day(deadline),
        "creditor": {
            "name": creditor.name,
            "street": creditor.street,
            "postal_code": creditor.postal_code,
            "city": creditor.city,
            "country_name": str(territories.get(creditor.country, creditor.country)),
            "iban": creditor.iban_formatted,
            "bic": creditor.bic,
            "email": creditor.email,
            "phone": creditor.phone,
        },
        "recipient": {
            "name": _text(case.get("name")) or "",
            "lines": [line for line in lines if line],
        },
        "invoices": [
            {
                "invoice_id": str(row["invoice_id"]),
                "issue_date": day(row["issue_date"], "medium"),
                "due_date": day(row["due_date"], "medium"),
                "days_overdue": str(format_decimal(int(row["days_overdue"]), locale=locale)),
                "open_amount": money(row["open_amount"]),
            }
            for row in invoices.to_dict("records")
        ],
        "n_invoices": len(invoices),
        "max_days_overdue": str(format_decimal(max_days, locale=locale)),
        "total": money(total),
        "principal_total": money(principal),
        "charges": [{"text": text, "amount": money(amount)} for text, amount in charges],
        "qr": _qr(creditor, total, currency, reference, lang, money(total)),
        "offer": offer,
        "reasons": _top_reasons(reasons),
        "legal": {"jurisdiction": policy.jurisdiction, "paragraphs": legal_paragraphs},
    }


def _risk(case: Mapping[str, Any]) -> float | None:
    """The case's risk score as a float, or None when absent or missing."""
    value = case.get("risk")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | np.number):
        return None
    number = float(value)
    return None if np.isnan(number) else number


def _offer_why(
    case: Mapping[str, Any],
    policy: Policy,
    *,
    kind: str,
    principal: str,
    level_name: str,
    money: Callable[[Decimal], str],
) -> dict[str, Any]:
    """The data behind an offer, for the "why you receive this offer" paragraph.

    Only what the case holds: the open amount and the level always; the risk band when the
    case has a ``risk`` (``low`` / ``medium`` / ``high`` against the policy's
    ``offers.installment_risk_range``); when the offer rules of
    :func:`dunning.offers.choose_offers` chose the offer (``offer_code`` ``ELIGIBLE`` or
    ``DEFERRAL``), also the plan's minimum amount, kept payment promises, and, when the
    risk is below the range, the customer's purchases (such an offer goes only to the
    customers with the highest expected purchases, CLV).
    """
    risk = _risk(case)
    low, high = policy.offers.installment_risk_range
    band = "" if risk is None else "low" if risk < low else "high" if risk > high else "medium"
    by_rules = _text(case.get("offer_code")) in {"ELIGIBLE", "DEFERRAL"}
    plan = kind == "installment_plan"
    return {
        "principal": principal,  # also in the invoice table; for custom templates
        "min_total": money(policy.offers.installment_min_total) if by_rules and plan else "",
        "level": level_name,
        "band": band,
        "purchases": by_rules and band == "low",
        "promises": by_rules,
    }


@dataclass(frozen=True)
class _Renderer:
    """What a batch of letters shares: templates, fetcher, font configuration, stylesheet.

    ``stylesheet`` is the letter's CSS (``letters/letter.css`` of the template set, a
    user's override included, which the package's letter template inlines in
    ``<style>``) parsed once. For a letter whose ``<style>`` holds exactly that CSS,
    :meth:`pdf` hands WeasyPrint the HTML without it and the parsed sheet instead: the PDF
    is byte-identical and about 5 % faster. Other HTML is rendered as it is.
    """

    env: jinja2.Environment
    fetcher: AssetURLFetcher
    font_config: FontConfiguration
    stylesheet: tuple[str, CSS] | None = None
    templates: _TemplateSet = field(default_factory=_TemplateSet.load)

    @classmethod
    def create(cls, templates: _TemplateSet | None = None) -> _Renderer:
        template_set = _TemplateSet.load() if templates is None else templates
        env = _environment(template_set)
        fetcher, font_config = AssetURLFetcher(), FontConfiguration()
        try:
            text = env.get_template(_STYLESHEET).render()
        except Exception as exc:  # a user's CSS is a template too
            filename, where = template_set.where(exc, _STYLESHEET)
            msg = f"stylesheet {where} failed: {_template_problem(exc)}"
            raise RenderError(msg, template=filename) from exc
        with _weasyprint_errors(None) as errors:
            sheet = CSS(
                string=text,
                base_url=fetcher.root.as_uri() + "/",
                url_fetcher=fetcher,
                font_config=font_config,
            )
        if errors:
            where = template_set.filenames.get(_STYLESHEET, _STYLESHEET)
            msg = f"stylesheet {where}: WeasyPrint reported an error: {errors[0]}"
            raise RenderError(msg, template=_STYLESHEET)
        return cls(env, fetcher, font_config, (text.strip(), sheet), template_set)

    def html(self, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(TEMPLATE).render(context)
        except Exception as exc:  # a user template can raise anything (1/0, a huge range)
            case_id = context.get("case_id")
            filename, where = self.templates.where(exc, TEMPLATE)
            msg = f"case {case_id}: template {where} failed: {_template_problem(exc)}"
            raise RenderError(msg, template=filename, case_id=case_id) from exc

    def _without_own_style(self, html: str) -> tuple[str, list[CSS]]:
        """The HTML without its ``<style>`` and the parsed sheet, if that is the letter CSS."""
        if self.stylesheet is None:
            return html, []
        text, sheet = self.stylesheet
        start, end = html.find("<style>"), html.find("</style>")
        if start < 0 or end < start or html[start + 7 : end].strip() != text:
            return html, []
        return html[:start] + html[end + 8 :], [sheet]

    def pdf(self, html: str, case_id: str | None) -> tuple[bytes, int]:
        source, stylesheets = self._without_own_style(html)
        with _weasyprint_errors(case_id) as errors:
            try:
                document = HTML(
                    string=source,
                    base_url=self.fetcher.root.as_uri() + "/",
                    url_fetcher=self.fetcher,
                ).render(
                    font_config=self.font_config,
                    pdf_variant=_PDF_VARIANT,
                    stylesheets=stylesheets,
                )
                data = document.write_pdf(pdf_variant=_PDF_VARIANT)
            except RenderError:
                raise
            except Exception as exc:  # WeasyPrint raises many types; keep the case id.
                msg = f"case {case_id}: the PDF could not be rendered: {exc}"
                raise RenderError(msg, template=TEMPLATE, case_id=case_id) from exc
        if errors:
            msg = f"case {case_id}: WeasyPrint reported an error: {errors[0]}"
            raise RenderError(msg, template=TEMPLATE, case_id=case_id)
        return bytes(data), len(document.pages)


def _template_problem(exc: Exception) -> str:
    """A Jinja2 error in words; a missing template is named as such."""
    if isinstance(exc, jinja2.TemplateNotFound):
        return (
            f"template {exc.name!r} not found (a template loads only the package's "
            "letters/ files and the files of the user's templates folder)"
        )
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"refused by the template sandbox: {exc}"
    return f"{type(exc).__name__}: {exc}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _weasyprint_errors(case_id: str | None) -> Iterator[list[str]]:
    """Collect the ERROR records the ``weasyprint`` logger emits inside the block."""
    handler = _Collect()
    wp_logger = logging.getLogger("weasyprint")
    wp_logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        wp_logger.removeHandler(handler)
        if handler.messages:
            logger.debug("case %s: WeasyPrint errors: %s", case_id, handler.messages)


def render_html(
    case: Mapping[str, Any],
    invoices: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    creditor: Creditor,
    as_of: date,
    lang: str,
    policy: Policy | None = None,
    templates: str | os.PathLike[str] | None = None,
) -> str:
    """Render one case's letter as HTML.

    Parameters
    ----------
    case : Mapping
        One row of ``Proposal.cases`` (``case_id, customer_id, currency, total, level,
        offer, installments`` and the customer's ``name, street, postal_code, city,
        country``). Optional: ``amount_due`` (Decimal; default: the sum of the items),
        ``case_earlier_fees`` (Decimal; default: the invoices' ``earlier_fees``, else 0),
        ``tone`` (``"friendly"``, ``"neutral"``, ``"firm"``; default: the level's tone in
        the policy), ``help_line`` and ``escalation_blocked`` (bool; default: the
        ``vulnerable`` flag, which also forces both on), ``segment``.
    invoices : pandas.DataFrame
        The case's rows of ``Proposal.decisions`` (``invoice_id, issue_date, due_date,
        days_overdue, open_amount``; optional ``earlier_fees, fee, interest, flat_fee``
        with ``level, interest_from, interest_days, interest_rate``).
    reasons : pandas.DataFrame
        Reasons of the case's invoices in ``lang`` (``code, contribution, text``, as
        from ``Explanations.reasons``); the three largest positive contributions with
        distinct codes are listed. May be empty.
    creditor : Creditor
        Sender and payee.
    as_of : datetime.date
        Letter date; the payment deadline is the level's ``deadline_days`` later, moved to
        the next business day of the policy's calendar.
    lang : {"de", "en"}
        Letter language.
    policy : Policy, optional
        Level names, jurisdiction (legal basis of interest and flat fee, legal texts) and
        interest day count; default ``Policy.default("DE")``.
    templates : path, optional
        A folder of user templates: its files replace the package's files of the same
        name in ``templates/letters/`` (``letter.html.j2``, a partial such as
        ``_offer.html.j2``, ``letter.css``, ``legal.toml``); the others still come from
        the package. See docs/custom-templates.md. Every letter renders in Jinja2's
        sandbox, with or without user templates.

    Returns
    -------
    str
        A complete, self-contained HTML document (CSS inline, QR code as data URI).

    Raises
    ------
    RenderError
        If the language or the tone is unknown, ``amount_due`` differs from the sum of the
        printed items, a legal text is missing, the templates folder is unusable, or the
        template fails (the error names the template file, the line when known, and the
        case).

    Examples
    --------
    See the module docstring.
    """
    template_set = _TemplateSet.load(templates)
    context = _context(
        case, invoices, reasons, creditor=creditor, as_of=as_of, lang=lang, policy=policy,
        legal=template_set.legal,
    )  # fmt: skip
    env = _environment(template_set)
    return _Renderer(env, AssetURLFetcher(), FontConfiguration(), None, template_set).html(context)


def render_pdf(html: str, *, case_id: str | None = None) -> tuple[bytes, int]:
    """Render a letter's HTML to a PDF/UA-1 document with the restricted fetcher.

    Parameters
    ----------
    html : str
        From :func:`render_html`.
    case_id : str, optional
        Named in errors.

    Returns
    -------
    (bytes, int)
        The PDF and its number of pages.

    Raises
    ------
    RenderError
        If WeasyPrint fails or logs an ERROR (e.g. a refused URL, a missing ``alt``).

    Examples
    --------
    >>> pdf, pages = render_pdf('<html lang="en"><title>t</title><p>Hello</p></html>')
    >>> pdf[:5], pages
    (b'%PDF-', 1)
    >>> html = '<html lang="en"><title>t</title><img src="file:///etc/passwd" alt="x">'
    >>> render_pdf(html, case_id="C1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.RenderError: case C1: WeasyPrint reported an error: ... refused to fetch ...
    """
    return _Renderer.create().pdf(html, case_id)


@dataclass(frozen=True)
class _Job:
    """What every letter of one :func:`render_letters` call shares (sent once per worker)."""

    out: Path
    creditor: Creditor
    as_of: date
    formats: tuple[str, ...]
    policy: Policy | None
    #: The template set read once by the calling process (None: the package's own).
    templates: _TemplateSet | None = None


class _Stop(Protocol):
    """The part of ``multiprocessing.Event`` the workers use to stop one another."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


_EMPTY_REASONS = ("invoice_id", "code", "contribution", "text")


def _render_chunk(
    renderer: _Renderer,
    job: _Job,
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    stop: _Stop | None = None,
    on_case: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Render and write the letters of ``cases``; the manifest rows of the files written.

    ``decisions`` holds (at least) the invoices of these cases and ``reasons`` their
    reasons with a ``case_id`` column. Returns early, with the rows so far, once ``stop``
    is set (another worker failed).
    """
    template_set = renderer.templates
    invoices_by_case = dict(iter(decisions.groupby("case_id", sort=False, dropna=True)))
    reasons_by_case: dict[Any, pd.DataFrame] = (
        dict(iter(reasons.groupby("case_id", sort=False))) if len(reasons) else {}
    )
    empty = pd.DataFrame(columns=list(_EMPTY_REASONS))
    rows: list[dict[str, Any]] = []
    records = cast("list[dict[str, Any]]", cases.to_dict("records"))
    for done, case in enumerate(records, start=1):
        if stop is not None and stop.is_set():
            break
        cid = str(case["case_id"])
        lang = str(case.get("language") or "de")
        case_reasons = reasons_by_case.get(cid, empty)
        if "lang" in case_reasons.columns:
            case_reasons = case_reasons.loc[case_reasons["lang"] == lang]
        invoices = invoices_by_case.get(cid, empty)
        context = _context(
            case,
            invoices,
            case_reasons,
            creditor=job.creditor,
            as_of=job.as_of,
            lang=lang,
            policy=job.policy,
            legal=template_set.legal,
        )
        html = renderer.html(context)
        data_sha256 = _data_sha256(context)
        pages: int | None = None
        files: list[tuple[str, bytes]] = [("html", html.encode("utf-8"))]
        if "pdf" in job.formats:
            pdf, pages = renderer.pdf(html, cid)
            files.append(("pdf", pdf))
        for fmt, data in files:
            if fmt not in job.formats:
                continue
            path = job.out / f"{cid}.{fmt}"
            _write_atomic(path, data)
            rows.append(
                {
                    "case_id": cid,
                    "format": fmt,
                    "path": str(path),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "pages": pages,
                    "template": template_set.id,
                    "template_sha256": template_set.sha256,
                    "data_sha256": data_sha256,
                }
            )
        if on_case is not None:
            on_case(done)
    return rows


# One renderer per worker process, made by the pool's initializer and reused for every
# chunk the worker receives (templates compiled once, one FontConfiguration).
_worker: tuple[_Renderer, _Job, _Stop] | None = None


def _init_worker(job: _Job, stop: _Stop) -> None:
    global _worker  # the per-process state of a pool worker
    _worker = (_Renderer.create(job.templates), job, stop)


def _worker_chunk(
    cases: pd.DataFrame, decisions: pd.DataFrame, reasons: pd.DataFrame
) -> list[dict[str, Any]]:
    if _worker is None:  # pragma: no cover - the pool always runs the initializer first
        msg = "letter worker used without its initializer"
        raise RenderError(msg, template=TEMPLATE)
    renderer, job, stop = _worker
    try:
        return _render_chunk(renderer, job, cases, decisions, reasons, stop=stop)
    except BaseException:
        # Tell the other workers to stop after their current letter.
        stop.set()
        raise


def _chunk_size(n: int, workers: int) -> int:
    """Cases per task: about eight tasks per worker (even load), at most ten letters."""
    return max(1, min(_MAX_CHUNK, -(-n // (8 * workers))))


def _pool_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (Linux, macOS), else ``spawn``; never ``fork``.

    The caller may have threads running (LightGBM's OpenMP pool, pandas, a web server);
    forking a multi-threaded process can deadlock the child on a lock held by a thread
    that does not exist there. A forkserver is a fresh single-threaded process (it
    imports the main module once) that forks the workers from itself.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _render_parallel(
    job: _Job,
    chunks: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    workers: int,
    total: int,
    on_chunk: Callable[[pd.DataFrame], None] | None = None,
) -> list[dict[str, Any]]:
    """Render the chunks in this process and ``workers - 1`` pool processes.

    Every chunk is submitted to the pool. Meanwhile this process takes chunks from the
    back of the queue that no pool process has started yet (a pending future it can still
    cancel) and renders them itself, so that it works while the pool processes start
    (importing WeasyPrint and pandas takes about a second each).
    """
    ctx = _pool_context()
    stop = ctx.Event()
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    done = 0

    def count(cases: int) -> None:
        nonlocal done
        with lock:
            done += cases
            progress.info(
                "letters: %d of %d cases rendered", done, total,
                extra={"stage": "letters", "done": done, "total": total},
            )  # fmt: skip

    def counted(cases: int) -> Callable[[Future[list[dict[str, Any]]]], None]:
        def callback(future: Future[list[dict[str, Any]]]) -> None:
            if not future.cancelled() and future.exception() is None:
                count(cases)

        return callback

    pool = ProcessPoolExecutor(
        max_workers=workers - 1, mp_context=ctx, initializer=_init_worker, initargs=(job, stop)
    )
    try:
        futures = [pool.submit(_worker_chunk, *chunk) for chunk in chunks]
        for future, chunk in zip(futures, chunks, strict=True):
            future.add_done_callback(counted(len(chunk[0])))
        renderer = _Renderer.create(job.templates)
        for future, chunk in zip(reversed(futures), reversed(chunks), strict=True):
            if stop.is_set():
                break
            if future.cancel():
                done_rows = _render_chunk(renderer, job, *chunk, stop=stop)
                rows.extend(done_rows)
                count(len(chunk[0]))
                if on_chunk is not None and not stop.is_set():
                    on_chunk(_manifest_frame(done_rows))
        started = {f: chunk[0] for f, chunk in zip(futures, chunks, strict=True)}
        for future in as_completed([f for f in futures if not f.cancelled()]):
            try:
                done_rows = future.result()
                rows.extend(done_rows)
                if on_chunk is not None:
                    on_chunk(_manifest_frame(done_rows))
            except BrokenProcessPool as exc:
                ids = started[future]["case_id"].astype("str")
                msg = (
                    f"a letter worker process died while rendering cases {ids.iloc[0]} to "
                    f"{ids.iloc[-1]} ({exc}); rerun with workers=1 to see which letter "
                    "fails, or with fewer workers if memory ran out. A script must guard "
                    "its entry point with if __name__ == '__main__':."
                )
                raise RenderError(msg, template=TEMPLATE) from exc
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return rows


def _chunks(
    cases: pd.DataFrame, decisions: pd.DataFrame, reasons: pd.DataFrame, size: int
) -> list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """Split the cases into runs of ``size`` with their own decisions and reasons."""
    number = pd.Series(np.arange(len(cases)) // size, index=cases["case_id"].to_numpy())
    number = number[~number.index.duplicated()]
    decisions_of = dict(iter(decisions.groupby(decisions["case_id"].map(number), sort=False)))
    reasons_of = (
        dict(iter(reasons.groupby(reasons["case_id"].map(number), sort=False)))
        if len(reasons)
        else {}
    )
    out = []
    for start in range(0, len(cases), size):
        key = start // size
        out.append(
            (
                cases.iloc[start : start + size],
                decisions_of.get(key, decisions.iloc[:0]),
                reasons_of.get(key, reasons.iloc[:0]),
            )
        )
    return out


def render_letters(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    creditor: Creditor,
    as_of: date,
    formats: Sequence[str] = FORMATS,
    policy: Policy | None = None,
    workers: int = 1,
    chunk_size: int | None = None,
    on_chunk: Callable[[pd.DataFrame], None] | None = None,
    templates: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Render every case's letter to ``<out_dir>/<case_id>.html`` and ``.pdf``.

    Parameters
    ----------
    cases : pandas.DataFrame
        ``Proposal.cases``; each case's ``language`` chooses the letter language; the
        other columns are read as by :func:`render_html` (``tone``, ``help_line``,
        ``escalation_blocked``, ``case_earlier_fees``, ``amount_due`` ...). Case ids must
        be unique (they name the files).
    decisions : pandas.DataFrame
        ``Proposal.decisions``; the rows with a case's ``case_id`` are its invoices.
    reasons : pandas.DataFrame
        ``invoice_id, code, contribution, text`` and optionally ``lang``: when ``lang``
        is present, only rows in the case's language are used.
    out_dir : path
        Folder for the letters; created if missing.
    creditor : Creditor
        Sender and payee.
    as_of : datetime.date
        Letter date.
    formats : sequence of {"html", "pdf"}
        What to write; both by default.
    policy : Policy, optional
        As for :func:`render_html`.
    workers : int
        Processes that render in parallel: this one and ``workers - 1`` more (default 1:
        only this one). The cases go in chunks to a pool of fresh processes
        (``forkserver``, else ``spawn``; never ``fork``, which is unsafe once LightGBM or
        another library has started threads), and this process renders the chunks no
        pool process has started yet. Each process compiles the templates and makes one
        WeasyPrint ``FontConfiguration`` once, for all its letters. The files and the
        manifest are byte-identical whatever the number of workers. More workers than
        CPU cores only slow the run down; each pool process needs about 120 MiB. As
        always with ``spawn`` and ``forkserver``, a script that calls this with
        ``workers > 1`` must guard its entry point with ``if __name__ == "__main__":``
        (the pool processes import the main module).
    chunk_size : int, optional
        Cases per task sent to a pool process; default about an eighth of a worker's
        share, at most 10 (small tasks keep the workers evenly busy; the data sent per
        task is small either way). Without it, fewer than 20 cases render in this
        process only, because starting a pool process takes about a second.
    on_chunk : callable, optional
        Called in this process with the manifest of each chunk of cases as soon as its
        files are written (chunks of ``chunk_size`` cases, at most 10 by default), e.g. to
        record those letters as sent before the next ones are rendered. An exception it
        raises stops the rendering and propagates.
    templates : path, optional
        A folder of user templates, as for :func:`render_html`. It is read once, by this
        process, and the same snapshot goes to every worker.

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`MANIFEST_COLUMNS`): one row per file written, sorted by
        case id and format, with the file's sha256 and the PDF's page count (also on the
        HTML row; ``NA`` when no PDF was rendered); then ``template`` and
        ``template_sha256`` (:func:`template_fingerprint` of the set that rendered the
        letter) and ``data_sha256`` (sha256 of the letter's render context as canonical
        JSON: sorted keys, no whitespace, Decimal and dates as strings), the same on the
        HTML and the PDF row of a case.

    Raises
    ------
    RenderError
        If a letter cannot be rendered (the error names the case). With several workers
        the others stop after their current letter; letters already written stay (each
        file is complete: written to a temporary file, then renamed).

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1"], "customer_id": ["K-1"], "name": ["Ann Lee"],
    ...     "country": ["GB"], "language": ["en"], "currency": ["GBP"],
    ...     "total": [Decimal("80.00")], "level": [1], "offer": ["none"]})
    >>> decisions = pd.DataFrame({"case_id": ["C1"], "invoice_id": ["R-1"],
    ...     "issue_date": pd.to_datetime(["2026-10-01"]),
    ...     "due_date": pd.to_datetime(["2026-11-01"]), "days_overdue": [22],
    ...     "open_amount": [Decimal("80.00")], "currency": ["GBP"]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = render_letters(cases, decisions, pd.DataFrame(), tmp,
    ...                               creditor=Creditor.demo(), as_of=date(2026, 11, 23))
    >>> manifest[["case_id", "format", "pages"]].values.tolist()
    [['C1', 'html', 1], ['C1', 'pdf', 1]]
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        msg = f"render_letters: formats must be a non-empty subset of {FORMATS}; got {formats}."
        raise RenderError(msg)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"render_letters: workers must be a whole number of at least 1; got {workers!r}."
        raise RenderError(msg)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        msg = f"render_letters: chunk_size must be at least 1 or None; got {chunk_size!r}."
        raise RenderError(msg)
    ids = (
        cases["case_id"].astype("str") if "case_id" in cases.columns else pd.Series([], dtype="str")
    )
    repeated = sorted(set(ids[ids.duplicated()]))
    if repeated:
        msg = (
            f"render_letters: case ids must be unique (they name the files); repeated: "
            f"{repeated[:5]}."
        )
        raise RenderError(msg, template=TEMPLATE, case_id=repeated[0])
    template_set = _TemplateSet.load(templates)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job = _Job(out, creditor, as_of, tuple(formats), policy, template_set)

    linked = pd.DataFrame(columns=[*_EMPTY_REASONS, "case_id"])
    if not reasons.empty:
        linked = reasons.drop(columns=["case_id"], errors="ignore").merge(
            decisions[["invoice_id", "case_id"]].dropna(), on="invoice_id", how="inner"
        )
    size = chunk_size or _chunk_size(len(cases), workers)
    n_chunks = -(-len(cases) // size)
    small = chunk_size is None and len(cases) < _MIN_POOL
    if workers == 1 or n_chunks <= 1 or small:
        total = len(cases)

        def report(done: int) -> None:
            # Every hundredth case at INFO, the others at DEBUG (a progress bar or a test
            # may follow each one).
            level = logging.INFO if done % 100 == 0 or done == total else logging.DEBUG
            progress.log(
                level, "letters: %d of %d cases rendered", done, total,
                extra={"stage": "letters", "done": done, "total": total},
            )  # fmt: skip

        renderer = _Renderer.create(template_set)
        if on_chunk is None:
            rows = _render_chunk(renderer, job, cases, decisions, linked, on_case=report)
        else:
            rows = []
            done = 0
            for chunk in _chunks(cases, decisions, linked, chunk_size or _MAX_CHUNK):
                done_rows = _render_chunk(renderer, job, *chunk)
                rows.extend(done_rows)
                done += len(chunk[0])
                on_chunk(_manifest_frame(done_rows))
                report(done)  # rendered and handed on
    else:
        chunks = _chunks(cases, decisions, linked, size)
        rows = _render_parallel(job, chunks, min(workers, n_chunks), len(cases), on_chunk)
    return _manifest_frame(rows)


def _manifest_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Manifest rows as the typed frame :func:`render_letters` returns, by case and format."""
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest["case_id"] = manifest["case_id"].astype("str")
    manifest["format"] = manifest["format"].astype("str")
    manifest["path"] = manifest["path"].astype("str")
    manifest["sha256"] = manifest["sha256"].astype("str")
    manifest["pages"] = manifest["pages"].astype("Int64")
    for column in MANIFEST_COLUMNS[5:]:
        manifest[column] = manifest[column].astype("str")
    return manifest.sort_values(["case_id", "format"], kind="stable", ignore_index=True)


def _stream_entries(
    letters: pd.DataFrame | Sequence[str | os.PathLike[str]],
) -> list[tuple[str, Path, str | None]]:
    """(case id, path, expected sha256 or None) of each PDF, in stream order."""
    if isinstance(letters, pd.DataFrame):
        missing = sorted({"case_id", "path"} - set(letters.columns))
        if missing:
            msg = (
                f"print_stream: the manifest lacks the columns {missing}; pass the frame "
                "render_letters returned, or a list of PDF paths."
            )
            raise RenderError(msg)
        rows = letters
        if "format" in rows.columns:
            rows = rows.loc[rows["format"] == "pdf"]
        digests = rows["sha256"] if "sha256" in rows.columns else pd.Series(None, rows.index)
        return [
            (str(cid), Path(str(path)), None if _text(digest) is None else str(digest))
            for cid, path, digest in zip(rows["case_id"], rows["path"], digests, strict=True)
        ]
    return [(Path(p).stem, Path(p), None) for p in letters]


def print_stream(
    letters: pd.DataFrame | Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    duplex: bool = True,
) -> pd.DataFrame:
    """Concatenate letters into one PDF for a print and mail house, with page ranges.

    The print stream is for printing only: it is **not** PDF/UA (the letters' structure
    trees are not carried over, and the file claims no conformance). Send customers the
    single letters; keep the stream for the printer.

    Parameters
    ----------
    letters : pandas.DataFrame or sequence of paths
        The manifest of :func:`render_letters` (its ``pdf`` rows, in its order: by case
        id; each file's sha256 is checked against the manifest), or PDF paths (the file
        name without ``.pdf`` is the case id).
    out_path : path
        The PDF to write (atomically: a temporary file beside it, then renamed).
    duplex : bool
        Printing on both sides (default): every letter starts on an odd page, so on a
        new sheet; a blank page (the size of the letter's last page) follows each letter
        with an odd number of pages. With ``False`` the letters follow one another.

    Returns
    -------
    pandas.DataFrame
        :data:`PRINT_STREAM_COLUMNS`, one row per letter in stream order: ``first_page``
        and ``last_page`` of the letter in the stream (1-based, without the blank page),
        its ``pages`` and the ``sheets`` of paper it takes. The stream has ``2 * sheets``
        pages in all in duplex, ``sheets`` otherwise.

    Raises
    ------
    RenderError
        If there are no letters, a file cannot be read or is not a PDF, or its sha256
        differs from the manifest's (the error names the case).

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from decimal import Decimal
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["C1", "C2"], "customer_id": ["K-1", "K-2"],
    ...     "name": ["Ann Lee", "Bo Chan"], "country": ["GB", "GB"], "language": ["en", "en"],
    ...     "currency": ["GBP", "GBP"], "total": [Decimal("80.00"), Decimal("9.50")],
    ...     "level": [1, 1], "offer": ["none", "none"]})
    >>> decisions = pd.DataFrame({"case_id": ["C1", "C2"], "invoice_id": ["R-1", "R-2"],
    ...     "issue_date": pd.to_datetime(["2026-10-01"] * 2),
    ...     "due_date": pd.to_datetime(["2026-11-01"] * 2), "days_overdue": [22, 22],
    ...     "open_amount": [Decimal("80.00"), Decimal("9.50")], "currency": ["GBP"] * 2})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     manifest = render_letters(cases, decisions, pd.DataFrame(), tmp, formats=["pdf"],
    ...                               creditor=Creditor.demo(), as_of=date(2026, 11, 23))
    ...     ranges = print_stream(manifest, Path(tmp) / "stream.pdf")
    >>> ranges.values.tolist()
    [['C1', 1, 1, 1, 1], ['C2', 3, 3, 1, 1]]
    """
    try:
        import pikepdf  # only the print stream needs it
    except ImportError as exc:  # pragma: no cover - pikepdf is installed with dunning
        msg = "print_stream needs pikepdf; install it with: pip install pikepdf"
        raise RenderError(msg) from exc
    entries = _stream_entries(letters)
    if not entries:
        msg = "print_stream: no PDF letters given; render them with formats containing 'pdf'."
        raise RenderError(msg)
    target = Path(out_path)
    stream = pikepdf.new()
    sources: list[pikepdf.Pdf] = []
    rows: list[dict[str, Any]] = []
    try:
        for cid, path, digest in entries:
            try:
                data = path.read_bytes()
            except OSError as exc:
                msg = f"case {cid}: cannot read the letter {path}: {exc}"
                raise RenderError(msg, template=TEMPLATE, case_id=cid) from exc
            if digest is not None and hashlib.sha256(data).hexdigest() != digest:
                msg = (
                    f"case {cid}: {path} differs from the manifest (sha256); it changed "
                    "after rendering: render the letters again."
                )
                raise RenderError(msg, template=TEMPLATE, case_id=cid)
            try:
                source = pikepdf.open(io.BytesIO(data))
            except pikepdf.PdfError as exc:
                msg = f"case {cid}: {path} is not a readable PDF: {exc}"
                raise RenderError(msg, template=TEMPLATE, case_id=cid) from exc
            sources.append(source)  # pages are copied lazily: keep open until saved
            first = len(stream.pages) + 1
            n = len(source.pages)
            stream.pages.extend(source.pages)
            if duplex and n % 2:
                x0, y0, x1, y1 = (float(v) for v in source.pages[-1].mediabox)
                stream.add_blank_page(page_size=(x1 - x0, y1 - y0))
            rows.append(
                {
                    "case_id": cid,
                    "first_page": first,
                    "last_page": first + n - 1,
                    "pages": n,
                    "sheets": -(-n // 2) if duplex else n,
                }
            )
        # The letters' structure trees stay behind; drop the keys that point into them.
        for page in stream.pages:
            if "/StructParents" in page.obj:
                del page.obj["/StructParents"]
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            stream.save(tmp, deterministic_id=True)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        stream.close()
        for source in sources:
            source.close()
    table = pd.DataFrame(rows, columns=list(PRINT_STREAM_COLUMNS))
    table["case_id"] = table["case_id"].astype("str")
    for column in PRINT_STREAM_COLUMNS[1:]:
        table[column] = table[column].astype("int64")
    return table
