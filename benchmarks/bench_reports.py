"""Time to render one reviewer case report (HTML and PDF/UA), next to bare WeasyPrint.

Usage: python benchmarks/bench_reports.py [--customers 300] [--repeat 5]

Builds a demo portfolio, scores and proposes it as a run does, explains the invoices, and
renders the case report of the first case routed to review: the HTML (``case_report_html``:
tables, waterfall chart as SVG) and the PDF (``report_pdf``: PDF/UA-1 with the restricted
fetcher). The baseline is bare WeasyPrint (``HTML(string=...).write_pdf`` with the same PDF
variant) on the same HTML, measured in the same run.
"""

from __future__ import annotations

import argparse
from datetime import date

import weasyprint
from _report import Row, best_of, machine, print_rows

from dunning.datasets import make_portfolio
from dunning.pipeline import score_portfolio
from dunning.policy import Policy
from dunning.workflow import propose
from explain import explain
from explain.report import case_report_html, report_pdf
from scoring.risk import RiskModel
from scoring.training import build_training_set

AS_OF = date(2026, 11, 23)


def main() -> None:
    """Prepare one routed case, time HTML and PDF rendering, print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=300, help="demo customers")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best counts")
    args = parser.parse_args()

    portfolio = make_portfolio(args.customers, seed=3, as_of=AS_OF)
    model = RiskModel(n_estimators=300, random_state=0, n_jobs=1)
    model.fit_time_aware(
        build_training_set(portfolio, AS_OF), validation_snapshots=2, calibration="isotonic"
    )
    scores = score_portfolio(portfolio, AS_OF, model=model)
    policy = Policy.default("DE")
    proposal = propose(portfolio, scores, policy, AS_OF)
    routed = proposal.cases.loc[proposal.cases["needs_review"]]
    case = routed.iloc[0].to_dict() if len(routed) else proposal.cases.iloc[0].to_dict()
    decisions = proposal.decisions.loc[proposal.decisions["case_id"] == case["case_id"]]
    explanations = explain(model, scores.features)
    reasons = explanations.reasons(k=4, lang="de")

    def html() -> str:
        return case_report_html(
            case,
            decisions,
            reasons,
            contributions=explanations,
            policy_info=policy,
            lang="de",
            as_of=AS_OF,
        )

    html_seconds, page = best_of(args.repeat, html)
    pdf_seconds, pdf = best_of(args.repeat, lambda: report_pdf(page))
    bare_seconds, _ = best_of(
        args.repeat, lambda: weasyprint.HTML(string=page).write_pdf(pdf_variant="pdf/ua-1")
    )
    print(machine())
    print()
    print_rows(
        [
            Row("case_report_html", 1, html_seconds, note=f"{len(page):,} characters"),
            Row(
                "report_pdf (PDF/UA-1)",
                1,
                pdf_seconds,
                "bare weasyprint write_pdf, same HTML",
                bare_seconds,
                f"{len(pdf):,} bytes",
            ),
        ]
    )


if __name__ == "__main__":
    main()
