"""The Dask backend on a real LocalCluster: results identical to the local stages."""

from __future__ import annotations

import hashlib
import pickle
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from dunning.cluster import DaskBackend, local_cluster, partition_portfolio
from dunning.datasets import make_portfolio
from dunning.errors import PolicyError, RenderError
from dunning.letters import Creditor, render_letters
from dunning.models import Portfolio
from dunning.pipeline import _explain, _score, _train, score_portfolio
from dunning.policy import Policy
from dunning.proposal import Proposal
from dunning.workflow import propose
from explain.attributions import explain
from scoring.features import build_features, customer_values
from scoring.risk import RiskModel

AS_OF = date(2026, 11, 23)


@dataclass(frozen=True)
class Demo:
    portfolio: Portfolio
    model: RiskModel
    features: pd.DataFrame
    risk: pd.Series
    proposal: Proposal
    reasons: pd.DataFrame
    policy: Policy


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_cluster(workers=2, threads_per_worker=1) as c:
        yield c


@pytest.fixture(scope="module")
def demo() -> Demo:
    portfolio = make_portfolio(200, seed=11, as_of=AS_OF)
    model = _train(portfolio, AS_OF, 0)
    features, risk = _score(model, portfolio, AS_OF)
    policy = Policy.default("DE")
    scores = score_portfolio(portfolio, AS_OF, model=model)
    proposal = propose(portfolio, scores, policy, AS_OF)
    reasons, _ = _explain(model, features, proposal, portfolio.customers)
    return Demo(portfolio, model, features, risk, proposal, reasons, policy)


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_partition_covers_every_customer_once_and_is_stable(demo: Demo) -> None:
    p = demo.portfolio
    parts = partition_portfolio(p, 3)
    assert len(parts) == 3
    seen = [c for part in parts for c in part.customers["customer_id"]]
    assert sorted(seen) == sorted(p.customers["customer_id"])  # every customer exactly once
    for table in ("invoices", "payments", "history", "promises"):
        assert sum(len(getattr(part, table)) for part in parts) == len(getattr(p, table))
    for part in parts:
        owners = set(part.customers["customer_id"])
        assert set(part.invoices["customer_id"]) <= owners
        invoices = set(part.invoices["invoice_id"])
        assert set(part.payments["invoice_id"]) <= invoices
        assert set(part.history["invoice_id"]) <= invoices
        assert set(part.promises["invoice_id"]) <= invoices
        assert part.truth is not None and set(part.truth["customer_id"]) <= owners
        # Rows keep the portfolio's order.
        position = pd.Index(p.invoices["invoice_id"]).get_indexer(part.invoices["invoice_id"])
        assert (np.diff(position) > 0).all()
    # crc32 of the id, not Python's salted hash: the same bucket in every process.
    again = partition_portfolio(p, 3)
    assert [part.customers["customer_id"].tolist() for part in again] == [
        part.customers["customer_id"].tolist() for part in parts
    ]
    first = str(p.customers["customer_id"].iloc[0])
    bucket = zlib.crc32(first.encode()) % 3
    assert first in set(parts[bucket].customers["customer_id"])


def test_partition_features_differ_only_in_clv(demo: Demo) -> None:
    """Why the coordinator computes the CLV: every other feature is per customer."""
    differs = 0
    clv = customer_values(demo.portfolio, AS_OF)
    for part in partition_portfolio(demo.portfolio, 2):
        own = build_features(part, AS_OF)
        whole = demo.features.loc[own.index]
        rest = [c for c in own.columns if c not in ("clv", "clv_isna")]
        pd.testing.assert_frame_equal(own[rest], whole[rest], check_exact=True)
        differs += int(not own["clv"].equals(whole["clv"]))
        # With the whole portfolio's values, the partition's rows are the whole's exactly.
        given = build_features(part, AS_OF, clv=clv)
        pd.testing.assert_frame_equal(given, whole, check_exact=True)
    assert differs > 0


def test_default_partitions_and_arguments(client: Client) -> None:
    assert DaskBackend(client).partitions == 4  # 2 x (2 workers x 1 thread)
    assert DaskBackend(client, partitions=7).partitions == 7
    with pytest.raises(PolicyError, match="partitions"):
        DaskBackend(client, partitions=0)


def test_score_identical_to_local(client: Client, demo: Demo) -> None:
    backend = DaskBackend(client, partitions=3)
    features, risk = backend.score(demo.model, demo.portfolio, AS_OF)
    pd.testing.assert_frame_equal(features, demo.features, check_exact=True)
    pd.testing.assert_series_equal(risk, demo.risk, check_exact=True)
    # The model went to both workers once, and is reused by the next stage.
    assert backend._model is not None
    model_future = backend._model[1]
    assert len(client.who_has([model_future])[model_future.key]) == 2
    backend.explain(demo.model, features)
    assert backend._model[1] is model_future


def test_explain_identical_to_local(client: Client, demo: Demo) -> None:
    expected = explain(demo.model, demo.features)
    found = DaskBackend(client, partitions=5).explain(demo.model, demo.features)
    assert np.array_equal(found.values, expected.values)
    assert np.array_equal(found.base_values, expected.base_values)
    assert found.values.flags.c_contiguous
    pd.testing.assert_frame_equal(found.data, expected.data, check_exact=True)
    assert found.feature_names == expected.feature_names
    assert found.calibrator is demo.model.calibrator_


def test_policy_and_creditor_pickle(demo: Demo) -> None:
    policy = pickle.loads(pickle.dumps(demo.policy))
    assert policy == demo.policy and policy.version_id == demo.policy.version_id
    assert pickle.loads(pickle.dumps(Creditor.demo())) == Creditor.demo()


def test_render_letters_identical_files_and_manifest(
    client: Client, demo: Demo, tmp_path: Path
) -> None:
    cases = demo.proposal.cases.head(12)
    decisions, reasons = demo.proposal.decisions, demo.reasons
    kwargs = {"creditor": Creditor.demo(), "as_of": AS_OF, "formats": ("html", "pdf")}
    out = tmp_path / "letters"
    local = render_letters(cases, decisions, reasons, out, policy=demo.policy, **kwargs)
    local_files = _files(out)
    for path in out.iterdir():
        path.unlink()
    chunks: list[pd.DataFrame] = []
    backend = DaskBackend(client, partitions=2, letters_per_task=4)
    found = backend.render_letters(
        cases, decisions, reasons, out, policy=demo.policy, on_chunk=chunks.append, **kwargs
    )
    pd.testing.assert_frame_equal(found, local, check_exact=True)
    assert _files(out) == local_files
    assert len(local_files) == 2 * len(cases)
    assert len(chunks) >= 3  # 12 cases, at most about 4 per task


def test_on_chunk_gets_every_case_once(client: Client, demo: Demo, tmp_path: Path) -> None:
    cases = demo.proposal.cases
    chunks: list[pd.DataFrame] = []
    backend = DaskBackend(client, letters_per_task=8)
    manifest = backend.render_letters(
        cases, demo.proposal.decisions, demo.reasons, tmp_path,
        creditor=Creditor.demo(), as_of=AS_OF, formats=("html",), policy=demo.policy,
        on_chunk=chunks.append,
    )  # fmt: skip
    seen = pd.concat(chunks)["case_id"]
    assert not seen.duplicated().any()
    assert sorted(seen) == sorted(cases["case_id"]) == manifest["case_id"].tolist()
    assert len(chunks) >= len(cases) // 8
    # Each chunk holds the cases of whole customers only.
    owner = dict(zip(cases["case_id"], cases["customer_id"], strict=True))
    customers = [set(chunk["case_id"].map(owner)) for chunk in chunks]
    assert sum(len(c) for c in customers) == len(set().union(*customers))


def test_render_error_names_the_case(client: Client, demo: Demo, tmp_path: Path) -> None:
    cases = demo.proposal.cases.head(10).copy()
    bad = str(cases["case_id"].iloc[6])
    cases.loc[cases.index[6], "language"] = "fr"
    with pytest.raises(RenderError, match="unknown letter language 'fr'") as caught:
        DaskBackend(client, letters_per_task=3).render_letters(
            cases, demo.proposal.decisions, demo.reasons, tmp_path,
            creditor=Creditor.demo(), as_of=AS_OF, formats=("html",), policy=demo.policy,
        )  # fmt: skip
    assert caught.value.case_id == bad
    assert not (tmp_path / f"{bad}.html").exists()


def test_render_letters_with_user_templates(client: Client, demo: Demo, tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    package = Path(__file__).parents[1] / "templates" / "letters" / "_help.html.j2"
    (own / "_help.html.j2").write_text(package.read_text() + "<p>Custom help line.</p>\n")
    cases = demo.proposal.cases.head(4)
    kwargs = {"creditor": Creditor.demo(), "as_of": AS_OF, "formats": ("html",)}
    out = tmp_path / "letters"
    local = render_letters(
        cases, demo.proposal.decisions, demo.reasons, out, policy=demo.policy, templates=own,
        **kwargs,
    )  # fmt: skip
    local_files = _files(out)
    for path in out.iterdir():
        path.unlink()
    found = DaskBackend(client, letters_per_task=2).render_letters(
        cases, demo.proposal.decisions, demo.reasons, out, policy=demo.policy, templates=own,
        **kwargs,
    )  # fmt: skip
    pd.testing.assert_frame_equal(found, local, check_exact=True)
    assert _files(out) == local_files
    assert all("Custom help line." in p.read_text() for p in out.iterdir())


def test_run_on_dask_equals_the_local_run(client: Client, tmp_path: Path) -> None:
    """dunning.run(backend="dask") writes and records exactly what the local run does."""
    from dunning.pipeline import run
    from dunning.store import DecisionStore, sqlite_url

    portfolio = make_portfolio(300, seed=3, as_of=AS_OF)
    model = _train(portfolio, AS_OF, 0)
    common = {"as_of": AS_OF, "model": model, "formats": ("html",), "reports": False}
    local = run(portfolio, out=tmp_path / "local", **common)  # type: ignore[arg-type]
    dask = run(
        portfolio,
        out=tmp_path / "dask",
        backend="dask",
        client=client,
        **common,  # type: ignore[arg-type]
    )
    assert dask.run_id == local.run_id
    assert local.counts["issued_cases"] > 0
    assert dict(dask.counts) == dict(local.counts)
    for name in ("decisions.csv", "review_queue.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert _files(tmp_path / "dask" / "letters") == _files(tmp_path / "local" / "letters")
    assert _files(tmp_path / "dask" / "messages") == _files(tmp_path / "local" / "messages")
    columns = ["invoice_id", "level", "case_id", "fee", "interest", "open_amount"]
    with DecisionStore(sqlite_url(tmp_path / "local" / "dunning.sqlite")) as store:
        issued_local = store.issued()[columns]
        letters_local = store.letters(local.run_id)[["case_id", "format", "sha256"]]
    with DecisionStore(sqlite_url(tmp_path / "dask" / "dunning.sqlite")) as store:
        issued_dask = store.issued()[columns]
        letters_dask = store.letters(dask.run_id)[["case_id", "format", "sha256"]]
        assert store.verify_audit().ok
    pd.testing.assert_frame_equal(issued_dask, issued_local)
    pd.testing.assert_frame_equal(letters_dask, letters_local)
