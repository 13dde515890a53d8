"""The model card: generated from the bundle, complete, accessible, deterministic."""

from __future__ import annotations

import base64
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from dunning.datasets import make_portfolio
from dunning.errors import PolicyError
from dunning.pipeline import run
from scoring.features import build_features
from scoring.model_card import BACKGROUND_COLOUR, MODEL_COLOUR, TEXT_COLOUR, model_card
from scoring.risk import RiskModel
from scoring.training import TrainingSet

SECTIONS = [
    "Model details",
    "Intended use",
    "Out-of-scope uses",
    "Training data",
    "Metrics",
    "Calibration",
    "Feature importance",
    "Limitations",
    "Reference distributions for drift checks",
    "Library versions",
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    n = 1000
    step = np.repeat(np.arange(5), n // 5)
    X = pd.DataFrame(
        {
            "days_overdue": rng.integers(1, 120, n),
            "late_12m_share": rng.random(n),
            "segment": pd.Categorical(rng.choice(["B2B", "B2C"], n), categories=["B2B", "B2C"]),
            "unknown_extra": rng.normal(size=n),
        }
    )
    logit = X["days_overdue"] / 30 - 2 + 2 * X["late_12m_share"]
    y = pd.Series((rng.random(n) < expit(logit)).astype(np.int64))
    snapshot = pd.Series(pd.Timestamp("2026-04-01") + pd.to_timedelta(step * 30, unit="D"))
    model = RiskModel(n_estimators=200, n_jobs=1).fit_time_aware(
        TrainingSet(X, y, snapshot), n_bootstrap=50, source="unit-test portfolio"
    )
    return model.save(tmp_path_factory.mktemp("bundle"), created_at=date(2026, 11, 23))


class _Page(HTMLParser):
    """Collects what the accessibility checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[int] = []
        self.th_scopes: list[str | None] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self.captions = 0
        self.in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "th":
            self.th_scopes.append(a.get("scope"))
        elif tag == "img":
            self.images.append(a)
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self.captions += 1
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_markdown_card_has_every_section_and_the_bundle_facts(bundle: Path) -> None:
    """The Markdown card shows all sections, the version id, window, metrics and versions."""
    card = model_card(bundle)
    headings = re.findall(r"^#{2,3} (.+)$", card, flags=re.MULTILINE)
    assert headings == SECTIONS
    meta = RiskModel.load(bundle).metadata()
    assert f"| Version id | {meta['version_id']} |" in card
    assert "| Created at | 2026-11-23 |" in card
    assert "| Source | unit-test portfolio |" in card
    assert "| Snapshot window | 2026-04-01 to 2026-07-30 (5 snapshot dates) |" in card
    assert "| ROC AUC |" in card and "| Expected calibration error |" in card
    assert "![Calibration plot: observed unpaid rate" in card
    assert "| `days_overdue` | Days overdue |" in card  # label from the feature dictionary
    assert "| `segment` | categorical | 2 | 0.0% | B2B" in card
    assert "| lightgbm |" in card


def test_html_card_is_accessible(bundle: Path) -> None:
    """lang, title, one h1, no skipped heading level, scoped headers, captions, alt, contrast."""
    html = model_card(bundle, format="html")
    page = _Page()
    page.feed(html)
    assert page.lang == "en"
    assert page.title.startswith("Model card: payment-risk model")
    assert page.headings.count(1) == 1 and page.headings[0] == 1
    assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    assert page.th_scopes and all(scope in ("col", "row") for scope in page.th_scopes)
    assert page.tables == page.captions == 7
    (image,) = page.images
    assert (image["alt"] or "").startswith("Calibration plot: observed unpaid rate")
    assert "percentage points" in (image["alt"] or "")
    assert _contrast(TEXT_COLOUR, BACKGROUND_COLOUR) >= 7
    assert _contrast(MODEL_COLOUR, BACKGROUND_COLOUR) >= 7
    assert f"color: {TEXT_COLOUR}" in html


def test_plot_is_a_self_contained_deterministic_svg(bundle: Path) -> None:
    """The embedded plot is SVG without scripts or dates; two renders are identical."""
    html = model_card(bundle, format="html")
    assert html == model_card(bundle, format="html")
    match = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert match is not None
    svg = base64.b64decode(match.group(1)).decode("utf-8")
    assert "<svg" in svg and "<script" not in svg and "<dc:date>" not in svg
    assert "mean predicted risk" in svg  # text stays text (svg.fonttype none)


def test_card_of_a_model_without_validation_says_so() -> None:
    """A plain fit has no metrics or calibration table, and the card explains why."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"days_overdue": rng.integers(1, 90, 200)})
    model = RiskModel(n_estimators=10, n_jobs=1).fit(X, X["days_overdue"] > 45)
    card = model_card(model)
    assert "No validation metrics were recorded" in card
    assert "No calibration table was recorded" in card
    assert "| Calibration | none (the trees' own probabilities) |" in card
    with pytest.raises(PolicyError, match="format must be 'markdown' or 'html'"):
        model_card(model, format="pdf")  # type: ignore[arg-type]


def test_feature_importance_is_sorted_by_gain(bundle: Path) -> None:
    """Importance rows are ranked by gain share, which adds up to 100 %."""
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| [^|]* \| ([\d.]+)% \| (\d+) \|$",
                      model_card(bundle), flags=re.MULTILINE)  # fmt: skip
    shares = [float(r[2]) for r in rows]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(100, abs=0.2)
    assert rows[0][1] == "days_overdue"


def test_the_run_saves_the_bundle_and_writes_the_card(tmp_path: Path) -> None:
    """dunning.run writes out/model/ (loadable) and out/reports/model_card.html."""
    as_of = date(2026, 11, 23)
    result = run(make_portfolio(60, seed=4, as_of=as_of), as_of=as_of, out=tmp_path,
                 formats=("html",))  # fmt: skip
    model = RiskModel.load(tmp_path / "model")
    assert model.calibrator_ is not None and model.training_["validation"]["snapshots"] == 2
    assert model.n_jobs == 1
    assert model.metadata()["training"]["source"].startswith("portfolio sha256 ")
    card = (tmp_path / "reports" / "model_card.html").read_text(encoding="utf-8")
    assert model.version_id() in card and '<th scope="row">Created at</th><td>2026-11-23' in card
    decisions = result.decisions.set_index("invoice_id")
    X = build_features(make_portfolio(60, seed=4, as_of=as_of), as_of)
    np.testing.assert_allclose(
        decisions.loc[X.index, "risk"].to_numpy(np.float64), model.predict_proba(X)[:, 1]
    )
