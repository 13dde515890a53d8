"""Where the letter templates and assets live, and the only URL fetcher letters may use.

Templates
---------
In an installed wheel the repository's ``templates/`` folder is shipped as
``dunning/templates/`` (``[tool.hatch.build.targets.wheel.force-include]`` in
``pyproject.toml``); in a source checkout it is the repository root's ``templates/``.
:func:`templates_dir` tries the package location first, then the checkout.

Restricted fetching
-------------------
WeasyPrint fetches every stylesheet, image and font a letter references through a URL
fetcher. :class:`AssetURLFetcher` serves only

* ``file:`` URLs of regular files inside :func:`templates_dir` (symbolic links and
  ``..`` are resolved first, so they cannot point outside), and
* ``data:image/png`` and ``data:image/svg+xml`` URIs (the payment QR code),

and raises :class:`~dunning.errors.RenderError` for anything else (``http(s):``,
``file:`` outside the folder, other ``data:`` types). WeasyPrint turns that exception
into an ERROR log record, which the letter renderer turns into a failed letter: a
letter never silently loads something it should not.

Examples
--------
>>> (templates_dir() / "letters" / "letter.html.j2").is_file()
True
>>> fetcher = AssetURLFetcher()
>>> fetcher.fetch("data:image/svg+xml,%3Csvg/%3E").read()
b'<svg/>'
>>> fetcher.fetch("http://example.com/x.css")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
dunning.errors.RenderError: refused to fetch 'http://example.com/x.css': letters may load only ...
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

from dunning.errors import RenderError

__all__ = ["ALLOWED_DATA_TYPES", "AssetURLFetcher", "templates_dir"]

#: Media types allowed in ``data:`` URIs.
ALLOWED_DATA_TYPES: frozenset[str] = frozenset({"image/png", "image/svg+xml"})


def templates_dir() -> Path:
    """The folder holding the letter templates and their assets.

    Returns
    -------
    pathlib.Path
        ``<package>/templates`` in an installed wheel, else ``<checkout>/templates``.

    Raises
    ------
    RenderError
        If neither folder exists (a broken installation).

    Examples
    --------
    >>> templates_dir().name
    'templates'
    """
    package = Path(__file__).resolve().parent
    installed, checkout = package / "templates", package.parent / "templates"
    for candidate in (installed, checkout):
        if candidate.is_dir():
            return candidate
    msg = (
        f"letter templates not found: neither {installed} (installed wheel) nor "
        f"{checkout} (source checkout) exists; reinstall the dunning package."
    )
    raise RenderError(msg)


def _refuse(url: str) -> RenderError:
    shown = url if len(url) <= 80 else url[:77] + "..."
    msg = (
        f"refused to fetch {shown!r}: letters may load only the package's own template "
        "assets and data:image/png or data:image/svg+xml URIs."
    )
    return RenderError(msg)


class AssetURLFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint ships no type hints
    """A WeasyPrint URL fetcher that serves only the package's own assets.

    Parameters
    ----------
    root : pathlib.Path, optional
        Folder whose files may be served; :func:`templates_dir` by default.

    Examples
    --------
    >>> AssetURLFetcher().fetch("file:///etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.errors.RenderError: refused to fetch 'file:///etc/passwd': letters may load only ...
    """

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.root = (root if root is not None else templates_dir()).resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Return the resource at ``url`` if it is allowed, else raise ``RenderError``."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data(url)
        if scheme == "file":
            return self._file(url)
        raise _refuse(url)

    def _data(self, url: str) -> URLFetcherResponse:
        header, sep, payload = url[len("data:") :].partition(",")
        params = [p.strip().lower() for p in header.split(";")]
        media_type = params[0]
        if not sep or media_type not in ALLOWED_DATA_TYPES:
            raise _refuse(url)
        try:
            body = (
                base64.b64decode(unquote(payload), validate=True)
                if "base64" in params[1:]
                else unquote_to_bytes(payload)
            )
        except (binascii.Error, ValueError) as exc:
            raise _refuse(url) from exc
        return URLFetcherResponse(url, body, {"Content-Type": media_type})

    def _file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise _refuse(url)
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not (path.is_relative_to(self.root) and path.is_file()):
            raise _refuse(url)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": media_type})
