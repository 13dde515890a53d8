"""Where the report templates live, found without importing the letters layer.

In an installed wheel the repository's ``templates/`` folder is shipped as
``dunning/templates/`` (``[tool.hatch.build.targets.wheel.force-include]``); the
``scoring`` package sits beside ``dunning``. In a source checkout it is the repository
root's ``templates/``. :func:`templates_dir` tries the installed location first, like
``dunning._assets.templates_dir`` (which lives in a higher layer and cannot be imported
from here).

Examples
--------
>>> (templates_dir() / "reports" / "model_card.html.j2").is_file()
True
>>> report_environment(html=True).autoescape
True
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from dunning.errors import RenderError


def templates_dir() -> Path:
    """The folder holding ``letters/`` and ``reports/`` templates.

    Raises
    ------
    RenderError
        If neither the installed nor the checkout folder exists.
    """
    package = Path(__file__).resolve().parent
    installed = package.parent / "dunning" / "templates"
    checkout = package.parent / "templates"
    for candidate in (installed, checkout):
        if (candidate / "reports").is_dir():
            return candidate
    msg = (
        f"report templates not found: neither {installed} (installed wheel) nor {checkout} "
        "(source checkout) has a reports/ folder; reinstall the dunning package."
    )
    raise RenderError(msg)


def report_environment(*, html: bool) -> jinja2.Environment:
    """A Jinja2 environment over ``templates/reports``; HTML output is autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "reports"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
