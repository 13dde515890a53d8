"""Scale-out on Dask: the per-customer stages of a dunning run as Dask tasks.

:class:`DaskBackend` runs the stages whose work grows with the portfolio on the workers
of a Dask cluster (``distributed``): features and scores
(:func:`scoring.features.build_features`, :meth:`scoring.risk.RiskModel.predict_proba`),
TreeSHAP explanations (:func:`explain.attributions.explain`) and the letters
(:func:`dunning.letters.render_letters`). Training, anomaly flags, the drift check, the
decisions and the decision store stay in the coordinating process, which alone writes the
store. Every result is identical to the local stage's: the same rows in the same order,
the same dtypes and bit-for-bit the same numbers, byte-identical letter files and manifest.

How the work is split
---------------------
* :func:`partition_portfolio` splits a portfolio by customer: a customer's bucket is
  ``crc32(customer_id) mod n`` (stable across processes and machines, unlike Python's
  salted ``hash``); invoices follow their customer, payments, dunning history and
  promises their invoice.
* Every feature is a function of the customer's own records, except the customer
  lifetime value (``clv``, ``clv_isna``): its BG/NBD and Gamma-Gamma models are fitted per
  segment on *all* the portfolio's customers, and a partition's own fit would give other
  values. So the workers first report their customers with an overdue invoice (the
  open items are per customer; computing them for the whole portfolio in the coordinator
  would cost more than the rest of its share), the coordinator computes those customers'
  values once on the whole portfolio (``scoring.features.customer_values(portfolio,
  as_of, customers=...)``), sends each partition the values of its customers, and the
  workers build their features with them (``build_features(part, as_of, clv=...)``,
  which then fits no model).
* Explanations are per row: the feature rows go to the workers in contiguous blocks.
* Letters are per case: each task renders the cases of some customers with
  ``render_letters(..., workers=1)`` into the shared output folder.

The model is sent to every worker once per backend (``Client.scatter(...,
broadcast=True)``), in memory through Dask's own serialisation (pickle). It is never
written to disk: the model bundle stays the only stored form (``docs/adr/0002-no-pickle.md``).
Dask's messages between scheduler, workers and client are pickles too, so the cluster
must be one you trust (see ``docs/scale-out.md``).

Examples
--------
>>> from datetime import date
>>> from dunning.datasets import make_portfolio
>>> p = make_portfolio(40, seed=1, as_of=date(2026, 11, 23))
>>> parts = partition_portfolio(p, 3)
>>> sum(len(part.customers) for part in parts) == len(p.customers)
True

Pointing a run at an existing cluster (the coordinator's ``dunning.run(...,
backend="dask", client=...)`` does this):

>>> from distributed import Client
>>> client = Client("tcp://scheduler:8786")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import PolicyError, RenderError
from dunning.ledger import open_items
from dunning.letters import TEMPLATE, Creditor, render_letters
from dunning.models import Portfolio
from dunning.policy import Policy
from explain.attributions import Explanations, explain
from scoring.features import build_features, customer_values
from scoring.risk import RiskModel

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["LETTERS_PER_TASK", "DaskBackend", "local_cluster", "partition_portfolio"]

logger = logging.getLogger(__name__)
progress = logging.getLogger("dunning.progress")

#: Default most cases per letter task: small enough that the caller can commit letters
#: while the others render, large enough that the per-task set-up (templates, fonts) is
#: a small share.
LETTERS_PER_TASK = 100


# --- partitioning ---------------------------------------------------------------------


def _buckets(ids: pd.Series, partitions: int) -> npt.NDArray[np.int64]:
    """``crc32(utf-8 id) mod partitions`` of every id (each distinct id hashed once)."""
    codes, uniques = pd.factorize(ids.astype("str"))
    per_unique = np.fromiter(
        (zlib.crc32(str(u).encode("utf-8")) % partitions for u in uniques),
        dtype=np.int64,
        count=len(uniques),
    )
    # Missing ids (factorize code -1) go to bucket 0.
    return np.where(codes >= 0, per_unique[codes] if len(uniques) else 0, 0).astype(np.int64)


def _rows(table: pd.DataFrame, bucket: npt.NDArray[np.int64], b: int) -> pd.DataFrame:
    """The rows of bucket ``b``, in table order, with a fresh RangeIndex."""
    return table.iloc[np.flatnonzero(bucket == b)].reset_index(drop=True)


def partition_portfolio(portfolio: Portfolio, partitions: int) -> list[Portfolio]:
    """Split a portfolio by customer into ``partitions`` portfolios.

    A customer goes to partition ``crc32(customer_id) mod partitions`` (UTF-8 bytes of the
    id): the same on every run, process and machine. Invoices go with their
    ``customer_id``; payments, dunning history and promises with their invoice; the
    ground truth of a generated portfolio with its customer. Rows keep their order. Rows
    of payments, history or promises whose invoice is not in ``invoices`` are left out:
    no stage reads them.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables.
    partitions : int
        Number of partitions (at least 1). Some may be empty when there are few customers.

    Returns
    -------
    list of Portfolio
        Partition ``i`` holds the customers of bucket ``i``.

    Raises
    ------
    PolicyError
        If ``partitions`` is not a whole number of at least 1.

    Examples
    --------
    >>> from datetime import date
    >>> from dunning.datasets import make_portfolio
    >>> p = make_portfolio(40, seed=1, as_of=date(2026, 11, 23))
    >>> parts = partition_portfolio(p, 4)
    >>> [len(part.customers) for part in parts]
    [10, 10, 10, 10]
    >>> sorted(c for part in parts for c in part.customers["customer_id"]) == sorted(
    ...     p.customers["customer_id"])
    True
    >>> sum(len(part.payments) for part in parts) == len(p.payments)
    True
    """
    _check_count("partitions", partitions)
    return [part for _, part in _partitions(portfolio, partitions, truth=True)]


def _partitions(
    portfolio: Portfolio, partitions: int, *, truth: bool
) -> Iterator[tuple[int, Portfolio]]:
    """The partitions one by one (so the first can be sent while the next is cut)."""
    invoice_bucket = _buckets(portfolio.invoices["customer_id"], partitions)
    invoice_ids = pd.Index(portfolio.invoices["invoice_id"])
    first = ~invoice_ids.duplicated()  # build_features rejects repeated ids itself
    known_ids, known_bucket = invoice_ids[first], np.append(invoice_bucket[first], -1)

    def by_invoice(table: pd.DataFrame) -> npt.NDArray[np.int64]:
        # Rows of an unknown invoice (position -1) get the appended -1: no partition.
        return np.asarray(known_bucket[known_ids.get_indexer(table["invoice_id"])], np.int64)

    buckets = {
        "customers": _buckets(portfolio.customers["customer_id"], partitions),
        "invoices": invoice_bucket,
        "payments": by_invoice(portfolio.payments),
        "history": by_invoice(portfolio.history),
        "promises": by_invoice(portfolio.promises),
    }
    tables = portfolio.tables()
    facts = portfolio.truth if truth else None
    if facts is not None and "customer_id" in facts.columns:
        buckets["truth"] = _buckets(facts["customer_id"], partitions)
        tables["truth"] = facts
    for b in range(partitions):
        cut = {name: _rows(tables[name], buckets[name], b) for name in buckets}
        yield (
            b,
            Portfolio(
                customers=cut["customers"],
                invoices=cut["invoices"],
                payments=cut["payments"],
                history=cut["history"],
                truth=cut.get("truth"),
                promises=cut["promises"],
            ),
        )


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"DaskBackend: {name} must be a whole number of at least 1; got {value!r}."
        raise PolicyError(msg, field=name)


# --- worker tasks (module level: the workers import them by name) ----------------------


def _overdue_task(part: Portfolio, as_of: date) -> npt.NDArray[Any]:
    """The customers of a partition with an overdue open invoice on ``as_of``."""
    items = open_items(part, as_of)
    return np.asarray(pd.unique(items["customer_id"].loc[items["days_overdue"] > 0]))


def _score_task(
    part: Portfolio, as_of: date, clv: pd.Series, model: RiskModel
) -> tuple[pd.DataFrame, pd.Series, npt.NDArray[np.intp]]:
    """A partition's features (with the given CLV) and risk; the rows' invoice positions."""
    features = build_features(part, as_of, clv=clv)
    row = pd.Index(part.invoices["invoice_id"]).get_indexer(features.index)
    if features.empty:
        risk = pd.Series(dtype="float64", index=features.index, name="risk")
        return features, risk, row
    risk = pd.Series(model.predict_proba(features)[:, 1], index=features.index, name="risk")
    return features, risk, row


def _explain_task(
    model: RiskModel, block: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    found = explain(model, block)
    return found.values, found.base_values


def _render_task(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: pd.DataFrame,
    out_dir: str,
    job: tuple[Creditor, date, tuple[str, ...], Policy | None, str | None],
) -> pd.DataFrame:
    creditor, as_of, formats, policy, templates = job
    return render_letters(
        cases,
        decisions,
        reasons,
        out_dir,
        creditor=creditor,
        as_of=as_of,
        formats=formats,
        policy=policy,
        workers=1,
        templates=templates,
    )


# --- the backend ----------------------------------------------------------------------


class DaskBackend:
    """Runs the per-customer stages of a dunning run as Dask tasks.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster to use: ``Client("tcp://scheduler:8786")`` for an existing
        one, :func:`local_cluster` for one on this machine. The workers need this package
        (the same version) and its dependencies installed.
    partitions : int, optional
        Customer partitions (and explanation blocks); default twice the cluster's worker
        threads at the time of each call, at least 1.
    letters_per_task : int
        Most cases per letter task (default 100); the cases are split into
        ``max(partitions, ceil(cases / letters_per_task))`` customer buckets.

    Raises
    ------
    PolicyError
        If ``partitions`` or ``letters_per_task`` is not a whole number of at least 1.

    Examples
    --------
    A cluster of threads in this process, for a quick example (a run uses processes):

    >>> from datetime import date
    >>> from dunning.datasets import make_portfolio
    >>> from explain.attributions import explain
    >>> from scoring.features import build_features
    >>> as_of = date(2026, 11, 23)
    >>> p = make_portfolio(60, seed=2, as_of=as_of)
    >>> X = build_features(p, as_of)  # a toy model: is the invoice over 30 days late?
    >>> model = RiskModel(n_estimators=20, min_child_samples=5).fit(X, X["days_overdue"] > 30)
    >>> with local_cluster(1, processes=False) as client:
    ...     backend = DaskBackend(client, partitions=3)
    ...     features, risk = backend.score(model, p, as_of)
    ...     explained = backend.explain(model, features)
    ...     DaskBackend(client).partitions
    2
    >>> features.equals(build_features(p, as_of))
    True
    >>> bool((risk.to_numpy() == model.predict_proba(features)[:, 1]).all())
    True
    >>> bool((explained.values == explain(model, features).values).all())
    True
    """

    def __init__(
        self,
        client: Client,
        *,
        partitions: int | None = None,
        letters_per_task: int = LETTERS_PER_TASK,
    ) -> None:
        if partitions is not None:
            _check_count("partitions", partitions)
        _check_count("letters_per_task", letters_per_task)
        self.client = client
        self._partitions = partitions
        self.letters_per_task = letters_per_task
        self._model: tuple[RiskModel, Future[Any]] | None = None

    @property
    def partitions(self) -> int:
        """The number of partitions: as given, else 2 × the cluster's worker threads."""
        if self._partitions is not None:
            return self._partitions
        client: Any = self.client
        return max(1, 2 * int(sum(client.nthreads().values())))

    def partition(self, portfolio: Portfolio) -> list[Portfolio]:
        """:func:`partition_portfolio` into :attr:`partitions` parts.

        Examples
        --------
        See :func:`partition_portfolio`.
        """
        return partition_portfolio(portfolio, self.partitions)

    def _model_future(self, model: RiskModel) -> Future[Any]:
        """The model on every worker: scattered once (broadcast), kept while it is in use."""
        if self._model is None or self._model[0] is not model:
            client: Any = self.client  # distributed's methods are not fully annotated
            future = client.scatter(model, broadcast=True, hash=False)
            self._model = (model, future)
        return self._model[1]

    def score(
        self, model: RiskModel, portfolio: Portfolio, as_of: date
    ) -> tuple[pd.DataFrame, pd.Series]:
        """Features and risk of every overdue open invoice, computed on the workers.

        Identical (index order, dtypes, values) to ``build_features(portfolio, as_of)`` and
        ``model.predict_proba(features)[:, 1]`` on the whole portfolio: the workers report
        their customers with an overdue invoice, the coordinator computes their customer
        lifetime values on the whole portfolio (:func:`scoring.features.customer_values`,
        see the module notes), and each worker builds and scores the features of its
        partition with its customers' values.

        Parameters
        ----------
        model : RiskModel
            A fitted model.
        portfolio : Portfolio
            Validated tables.
        as_of : datetime.date
            The run date.

        Returns
        -------
        features : pandas.DataFrame
            As :func:`scoring.features.build_features`.
        risk : pandas.Series
            ``risk`` (float64) per invoice, index as ``features``.

        Examples
        --------
        See :class:`DaskBackend`; ``tests/test_cluster.py`` compares it with the local stage
        on a cluster of two worker processes.
        """
        n = self.partitions
        invoices = portfolio.invoices
        bucket = _buckets(invoices["customer_id"], n)
        # Each partition's invoices as positions in the whole.
        positions = [np.flatnonzero(bucket == b) for b in range(n)]
        if not any(len(mine) for mine in positions):
            features = build_features(portfolio, as_of)
            return features, pd.Series(dtype="float64", index=features.index, name="risk")
        client: Any = self.client
        model_future = self._model_future(model)
        # Each partition goes to the cluster as soon as it is cut (the ground truth of a
        # generated portfolio stays here: no stage reads it); its workers report the
        # customers with an overdue invoice.
        numbered: list[int] = []
        sent: list[Any] = []
        overdue = []
        for b, part in _partitions(portfolio, n, truth=False):
            if len(positions[b]) == 0:
                continue
            [future] = client.scatter([part], hash=False)
            numbered.append(b)
            sent.append(future)
            key = _key("overdue", b)
            overdue.append(client.submit(_overdue_task, future, as_of, pure=False, key=key))
        # The one portfolio-wide feature, once, here, for exactly the customers the local
        # build_features estimates (whether a segment is fitted depends on them); each
        # partition gets its customers' values.
        wanted = pd.Index(np.concatenate(client.gather(overdue)))
        clv = customer_values(portfolio, as_of, customers=wanted)
        clv_bucket = _buckets(clv.index.to_series(), n)
        scored = [
            client.submit(
                _score_task,
                future,
                as_of,
                clv.iloc[np.flatnonzero(clv_bucket == b)],
                model_future,
                pure=False,
                key=_key("score", b),
            )
            for b, future in zip(numbered, sent, strict=True)
        ]
        results = client.gather(scored)
        frames = [f for f, _, _ in results if len(f)] or [results[0][0]]
        risks = [r for _, r, _ in results if len(r)] or [results[0][1]]
        # The local order: open items keep the order of portfolio.invoices.
        position = np.concatenate(
            [positions[b][row] for b, (_, _, row) in zip(numbered, results, strict=True)]
        )
        order = np.argsort(position, kind="stable")
        features = pd.concat(frames).iloc[order]
        risk = pd.concat(risks).iloc[order].rename("risk")
        return features, risk

    def explain(self, model: RiskModel, features: pd.DataFrame) -> Explanations:
        """TreeSHAP contributions of every row, computed on the workers in row blocks.

        Identical to :func:`explain.attributions.explain` on the whole frame: the same
        ``values``, ``base_values``, ``data``, ``feature_names`` and the model's own
        ``calibrator``.

        Parameters
        ----------
        model : RiskModel
            A fitted model.
        features : pandas.DataFrame
            Rows to explain (from :meth:`score`).

        Returns
        -------
        Explanations

        Examples
        --------
        See :class:`DaskBackend`.
        """
        shape = explain(model, features.iloc[:0])
        if features.empty:
            return shape
        data = model.check_features(features)
        n = min(self.partitions, len(features))
        bounds = np.linspace(0, len(features), n + 1).round().astype(np.int64)
        blocks = [features.iloc[a:b] for a, b in itertools.pairwise(bounds)]
        client: Any = self.client
        model_future = self._model_future(model)
        scattered = client.scatter(blocks, hash=False)
        futures = [
            client.submit(_explain_task, model_future, block, pure=False, key=_key("explain", i))
            for i, block in enumerate(scattered)
        ]
        results = client.gather(futures)
        return replace(
            shape,
            values=np.ascontiguousarray(np.concatenate([v for v, _ in results])),
            base_values=np.ascontiguousarray(np.concatenate([b for _, b in results])),
            data=data
            if isinstance(data, pd.DataFrame)
            else pd.DataFrame(data, columns=list(shape.feature_names)),
        )

    def render_letters(
        self,
        cases: pd.DataFrame,
        decisions: pd.DataFrame,
        reasons: pd.DataFrame,
        out_dir: str | os.PathLike[str],
        *,
        creditor: Creditor,
        as_of: date,
        formats: Sequence[str],
        policy: Policy | None,
        on_chunk: Callable[[pd.DataFrame], None] | None = None,
        templates: str | os.PathLike[str] | None = None,
    ) -> pd.DataFrame:
        """Render every case's letter on the workers into ``out_dir``.

        The cases are split by customer into tasks of at most about
        :attr:`letters_per_task` cases; each task calls
        :func:`dunning.letters.render_letters` (``workers=1``) for its cases and returns its
        manifest. ``out_dir`` must be one shared folder, at the same absolute path, for
        the coordinator and every worker (a relative path is resolved here first; the
        manifest keeps it as given, like the local call).

        Parameters
        ----------
        cases, decisions, reasons, creditor, as_of, formats, policy
            As for :func:`dunning.letters.render_letters`.
        out_dir : path
            The letters folder, on a file system shared with the workers.
        on_chunk : callable, optional
            Called in this process with the manifest of each task as soon as it completes
            (in completion order), e.g. to commit those letters to the decision store.
        templates : path, optional
            A folder of user templates, as for :func:`dunning.letters.render_letters`; like
            ``out_dir`` it must be readable by every worker at the same absolute path (each
            task reads it).

        Returns
        -------
        pandas.DataFrame
            The whole manifest, sorted as :func:`dunning.letters.render_letters` sorts
            it; files and manifest are byte-identical to the local call's.

        Raises
        ------
        RenderError
            If a letter cannot be rendered (naming the case; the remaining tasks are
            cancelled, letters already written stay), or a worker died while rendering
            (naming the task's first and last case).

        Examples
        --------
        >>> import tempfile
        >>> from decimal import Decimal
        >>> cases = pd.DataFrame({"case_id": ["C1", "C2"], "customer_id": ["K-1", "K-2"],
        ...     "name": ["Ann Lee", "Bo Ek"], "country": ["GB", "GB"], "language": ["en", "en"],
        ...     "currency": ["GBP", "GBP"], "total": [Decimal("80.00"), Decimal("12.50")],
        ...     "level": [1, 2], "offer": ["none", "none"]})
        >>> decisions = pd.DataFrame({"case_id": ["C1", "C2"], "invoice_id": ["R-1", "R-2"],
        ...     "issue_date": pd.to_datetime(["2026-10-01", "2026-09-01"]),
        ...     "due_date": pd.to_datetime(["2026-11-01", "2026-10-01"]),
        ...     "days_overdue": [22, 53], "open_amount": [Decimal("80.00"), Decimal("12.50")],
        ...     "currency": ["GBP", "GBP"]})
        >>> chunks = []
        >>> with tempfile.TemporaryDirectory() as tmp, local_cluster(
        ...         1, processes=False) as client:
        ...     manifest = DaskBackend(client).render_letters(
        ...         cases, decisions, pd.DataFrame(), tmp, creditor=Creditor.demo(),
        ...         as_of=date(2026, 11, 23), formats=("html",), policy=None,
        ...         on_chunk=chunks.append)
        >>> manifest[["case_id", "format"]].values.tolist()
        [['C1', 'html'], ['C2', 'html']]
        >>> sorted(c for chunk in chunks for c in chunk["case_id"])
        ['C1', 'C2']
        """
        formats = tuple(formats)
        ids = cases["case_id"].astype("str") if "case_id" in cases.columns else None
        if ids is None or len(cases) == 0 or ids.duplicated().any():
            # Nothing to distribute, or an input the local call rejects with its own error.
            manifest = render_letters(
                cases, decisions, reasons, out_dir,
                creditor=creditor, as_of=as_of, formats=formats, policy=policy,
                templates=templates,
            )  # fmt: skip
            if on_chunk is not None and len(manifest):
                on_chunk(manifest)
            return manifest
        n = max(self.partitions, math.ceil(len(cases) / self.letters_per_task))
        key = cases["customer_id"] if "customer_id" in cases.columns else cases["case_id"]
        bucket = _buckets(key, n)
        case_bucket = pd.Series(bucket, index=ids.to_numpy())
        in_case = decisions.loc[decisions["case_id"].notna()] if len(decisions) else decisions
        decision_bucket = (
            case_bucket.reindex(in_case["case_id"].astype("str").to_numpy())
            .fillna(-1)
            .to_numpy(np.int64)
        )
        reason_bucket = pd.Series(decision_bucket, index=in_case["invoice_id"].to_numpy())
        reason_bucket = reason_bucket[~reason_bucket.index.duplicated()]
        has_reasons = not reasons.empty and "invoice_id" in reasons.columns
        of_reason = (
            reason_bucket.reindex(reasons["invoice_id"].to_numpy()).fillna(-1).to_numpy(np.int64)
            if has_reasons
            else np.zeros(0, dtype=np.int64)
        )
        case_rows, decision_rows = _groups(bucket), _groups(decision_bucket)
        reason_rows = _groups(of_reason)
        none = np.zeros(0, dtype=np.intp)
        absolute = str(Path(out_dir).resolve())
        client: Any = self.client
        folder = None if templates is None else str(Path(templates).expanduser().absolute())
        job_args = (creditor, as_of, formats, policy, folder)
        [job] = client.scatter([job_args], broadcast=True, hash=False)
        tasks: dict[Future[Any], pd.Series] = {}
        for b, rows in case_rows.items():
            args = (
                cases.iloc[rows],
                in_case.iloc[decision_rows.get(b, none)],
                reasons.iloc[reason_rows.get(b, none)] if has_reasons else reasons,
                absolute,
                job,
            )
            future = client.submit(_render_task, *args, pure=False, key=_key("letters", b))
            tasks[future] = ids.iloc[rows]
        return self._collect_letters(tasks, out_dir, len(cases), on_chunk)

    def _collect_letters(
        self,
        tasks: dict[Future[Any], pd.Series],
        out_dir: str | os.PathLike[str],
        total: int,
        on_chunk: Callable[[pd.DataFrame], None] | None,
    ) -> pd.DataFrame:
        from distributed import as_completed as _as_completed
        from distributed.scheduler import KilledWorker

        manifests: list[pd.DataFrame] = []
        done = 0
        try:
            as_completed: Any = _as_completed
            for future in as_completed(list(tasks)):
                try:
                    manifest = future.result()
                except KilledWorker as exc:
                    ids = tasks[future]
                    msg = (
                        f"a Dask worker died while rendering the letters of cases "
                        f"{ids.iloc[0]} to {ids.iloc[-1]} ({exc}); see the worker's log, "
                        "or render these cases locally to see which letter fails."
                    )
                    raise RenderError(msg, template=TEMPLATE, case_id=str(ids.iloc[0])) from exc
                # The local call's paths: the folder as the caller gave it.
                manifest["path"] = [
                    str(Path(out_dir) / Path(p).name) for p in manifest["path"].tolist()
                ]
                manifest["path"] = manifest["path"].astype("str")
                if on_chunk is not None:
                    on_chunk(manifest)
                manifests.append(manifest)
                done += len(tasks[future])
                progress.info("letters: %d of %d cases rendered", done, total)
        except BaseException:
            client: Any = self.client
            client.cancel(list(tasks))
            raise
        whole = pd.concat([m for m in manifests if len(m)] or manifests[:1], ignore_index=True)
        return whole.sort_values(["case_id", "format"], kind="stable", ignore_index=True)


def _groups(bucket: npt.NDArray[np.int64]) -> dict[int, npt.NDArray[np.intp]]:
    """The positions of each bucket's rows, in order (bucket -1: no bucket, left out)."""
    if len(bucket) == 0:
        return {}
    order = np.argsort(bucket, kind="stable")
    values, starts = np.unique(bucket[order], return_index=True)
    parts = np.split(order, starts[1:])
    return {int(v): rows for v, rows in zip(values, parts, strict=True) if v >= 0}


def _key(stage: str, i: int) -> str:
    """A unique, readable task key (shown in the Dask dashboard)."""
    return f"dunning-{stage}-{i}-{os.urandom(6).hex()}"


@contextmanager
def local_cluster(
    workers: int = 2, threads_per_worker: int = 1, *, processes: bool = True
) -> Iterator[Client]:
    """A Dask cluster on this machine, and a client connected to it.

    The workers are separate processes (WeasyPrint and LightGBM are not thread-friendly),
    listening on the loopback interface only, without a dashboard. Both are shut down when
    the ``with`` block ends. Scripts need the ``if __name__ == "__main__":`` guard: the
    worker processes are spawned and import the main module.

    Parameters
    ----------
    workers : int
        Worker processes.
    threads_per_worker : int
        Threads per worker (tasks running at once in each).
    processes : bool
        ``False`` runs the workers as threads of this process (quick to start; for
        examples and small tests only).

    Yields
    ------
    distributed.Client

    Examples
    --------
    >>> with local_cluster(1, processes=False) as client:
    ...     sum(client.nthreads().values())
    1
    """
    import distributed

    dask: Any = distributed  # its constructors are not annotated

    _check_count("workers", workers)
    _check_count("threads_per_worker", threads_per_worker)
    with (
        dask.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            # Loopback only (LocalCluster's default host), no dashboard; the scheduler's
            # small HTTP server (health, metrics) on a free loopback port, not on 8787.
            dashboard_address=None,
            worker_dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        dask.Client(cluster) as client,
    ):
        yield client
