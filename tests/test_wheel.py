"""The built wheel works on its own: installed outside the checkout, it runs a dunning run."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from datetime import date
from pathlib import Path

import dunning
from dunning.datasets import make_portfolio

venv = Path(sys.argv[1]).resolve()
assert Path(dunning.__file__).resolve().is_relative_to(venv), dunning.__file__
as_of = date(2026, 11, 23)
result = dunning.run(make_portfolio(80, seed=3, as_of=as_of), as_of=as_of, out=sys.argv[2])
out = Path(sys.argv[2])
pdfs = sorted((out / "letters").glob("*.pdf"))
htmls = sorted((out / "letters").glob("*.html"))
print(len(pdfs), len(htmls), (out / "decisions.csv").exists(), (out / "dunning.sqlite").exists())
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("dunning-*.whl")
    return built


def test_wheel_ships_packages_templates_and_data(wheel: Path) -> None:
    """The wheel holds the three packages, the letter templates, the data and py.typed."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "dunning/__init__.py",
        "scoring/__init__.py",
        "explain/__init__.py",
        "dunning/py.typed",
        "dunning/templates/letters/letter.html.j2",
        "dunning/datasets/data/industry_outlook.csv",
        "explain/catalogues/de.toml",
        "explain/catalogues/en.toml",
        "dunning/templates/letters/email.txt.j2",
        "dunning/templates/letters/sms.txt.j2",
        "dunning/templates/reports/case.html.j2",
        "dunning/templates/reports/portfolio.html.j2",
        "dunning/templates/reports/report_labels.toml",
        "dunning/migrations/env.py",
        "dunning/migrations/versions/v0001_initial_schema.py",
    ]:
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv with only the wheel (dependencies borrowed) renders letters from anywhere."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    # Third-party dependencies come from this environment's site-packages, added as a plain
    # path: .pth files inside it (such as the editable install of the checkout) are not run.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [str(python), "-I", "-c", SCRIPT, str(venv), str(out)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    n_pdf, n_html, csv_written, db_written = done.stdout.split()
    assert int(n_pdf) > 0
    assert n_pdf == n_html
    assert (csv_written, db_written) == ("True", "True")
