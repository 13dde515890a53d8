"""Render the sample pictures in docs/img/ from a real run on a demo portfolio.

Run from the repository root (needs poppler's ``pdftoppm``):

    .venv/bin/python docs/examples/render_samples.py

It runs ``dunning.run`` on a 300-customer demo portfolio in a temporary folder, picks a
German and an English letter with charges, and a German case report, and converts the
first page of each PDF to a PNG (``pdftoppm``, 70 dpi).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from dunning.datasets import make_portfolio
from dunning.pipeline import run
from explain.report import report_pdf

AS_OF = date(2026, 11, 23)
IMG = Path(__file__).resolve().parents[1] / "img"


def _png(pdf: Path, target: Path) -> None:
    stem = target.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
    )
    sys.stdout.write(f"{target.relative_to(IMG.parents[1])} from {pdf.name}\n")


def main() -> None:
    """Run the demo and write docs/img/letter-de.png, letter-en.png, case-report-de.png."""
    if shutil.which("pdftoppm") is None:
        msg = "pdftoppm not found: apt-get install -y poppler-utils"
        raise SystemExit(msg)
    IMG.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(make_portfolio(300, seed=3, as_of=AS_OF), as_of=AS_OF, out=tmp)
        cases = result.cases.sort_values(["level", "n_invoices", "case_id"], ascending=False)
        charged = cases.loc[cases["case_fees"] + cases["case_interest"] > 0]
        for lang in ("de", "en"):
            pick = charged.loc[charged["language"] == lang]
            pick = pick if len(pick) else cases.loc[cases["language"] == lang]
            case_id = pick["case_id"].iloc[0]
            _png(result.paths["letters"] / f"{case_id}.pdf", IMG / f"letter-{lang}.png")
        # The run writes HTML case reports; the PDF is rendered from the same HTML.
        report = sorted(Path(result.paths["case_reports"]).glob("case-*.html"))[0]
        pdf = Path(tmp) / f"{report.stem}.pdf"
        pdf.write_bytes(report_pdf(report.read_text(encoding="utf-8")))
        _png(pdf, IMG / "case-report-de.png")


if __name__ == "__main__":
    main()
