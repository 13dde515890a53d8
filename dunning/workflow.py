"""Propose, review, issue: the decision workflow over a portfolio and a decision store.

1. :func:`propose` decides, for every overdue open invoice on ``as_of``, the dunning level,
   fees, interest, offer, tone, channel and review routing under a
   :class:`~dunning.policy.Policy` (:func:`dunning.proposal.propose_items` does the
   vectorised work). It reads the store, if given, but writes nothing.
2. A clerk reviews the cases routed to review (``needs_review``) and records
   :class:`ReviewDecision` s; :func:`apply_reviews` applies them to the proposal.
3. :func:`issue` commits the approved cases to the store's dunning history (the
   ``issued`` table of :class:`~dunning.store.DecisionStore`) together with the review
   decisions, which are never lost: the store keeps them append-only, and a later
   :func:`propose` for the same day applies them again.

Idempotency
-----------
* The store keeps one row per invoice and level; :func:`issue` skips what is already
  there, so issuing the same proposal twice records nothing the second time.
* :func:`propose` with ``store=`` adds the issued letters to the portfolio's dunning
  history: an invoice dunned today gets no new level today (and its next level only after
  the policy's gap, counted from the issued letter), so a second run on the same day
  proposes nothing already issued.
* Paid invoices are not open items; disputed invoices and invoices a clerk put on hold
  (``hold``, until ``hold_until`` or indefinitely) are never dunned; part-payments lower
  the open amount, allocated by the policy's order (:mod:`dunning.accounts`).

Review actions
--------------
``approve``
    The case is issued as proposed.
``change_offer``
    The case is issued with the clerk's offer (``none``, ``deferral`` or
    ``installment_plan``); the offer reason names the clerk and the reason.
``hold``
    The case is not issued; its invoices are on hold until ``hold_until`` (inclusive) or,
    without a date, until a later review of the customer decides otherwise.
``escalate``
    The case is issued one level higher (at most the policy's last level, e.g. the
    hand-over to a collection agency, which is never reached automatically); the fees of
    the raised invoices follow the new level.

The latest decision per case counts (by ``decided_at``); earlier ones stay in
``Proposal.reviews`` and in the store.

Examples
--------
>>> from datetime import date, datetime, UTC
>>> from dunning.datasets import make_portfolio
>>> from dunning.store import DecisionStore
>>> as_of = date(2026, 11, 23)
>>> portfolio = make_portfolio(60, seed=3, as_of=as_of)
>>> items = portfolio.invoices["invoice_id"]
>>> scores = Scores(risk=pd.Series(0.3, index=items))
>>> with DecisionStore("sqlite://") as store:
...     first = propose(portfolio, scores, None, as_of, store=store)
...     case = first.cases.loc[first.cases["needs_review"]].iloc[0]
...     reviewed = apply_reviews(first, [ReviewDecision(case_id=case["case_id"],
...         action="approve", clerk_id="clerk-7", reason="checked the dispute file",
...         decided_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC))])
...     result = issue(reviewed, store)
...     again = propose(portfolio, scores, None, as_of, store=store)
>>> n_ready = int(reviewed.cases["approved"].sum())
>>> result.n_cases == n_ready, len(again.cases) == len(first.cases) - n_ready
(True, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dunning.accounts import claim_accounts, level_fees
from dunning.errors import DataError
from dunning.ledger import open_items
from dunning.levels import level_names
from dunning.models import Portfolio
from dunning.money import from_minor_array, to_minor_array
from dunning.policy import Policy
from dunning.proposal import Proposal, first_reminders, propose_items
from dunning.store import REVIEW_COLUMNS, DecisionStore

__all__ = [
    "RESIDUAL_DAYS",
    "IssueResult",
    "ReviewDecision",
    "Scores",
    "apply_reviews",
    "approved_cases",
    "issue",
    "propose",
]

logger = logging.getLogger(__name__)


#: Residual claims (``Proposal.residuals``) are looked for on invoices paid in the last
#: this many days; older settled invoices are left alone.
RESIDUAL_DAYS = 90

_HISTORY = ("invoice_id", "level", "issued_on", "channel")
_LANGS: tuple[Literal["de", "en"], ...] = ("de", "en")


@dataclass(frozen=True)
class Scores:
    """What the scoring stage knows about the overdue invoices.

    Parameters
    ----------
    risk : pandas.Series
        Calibrated probability that each invoice stays unpaid, indexed by ``invoice_id``;
        every overdue open invoice needs one.
    features : pandas.DataFrame
        The features of :func:`scoring.features.build_features` (index ``invoice_id``), for
        the data-gap review rule, broken promises, CLV and payment history; may be empty.
    anomalies : pandas.Series, optional
        ``|``-joined anomaly codes per invoice (``""``: none) that route a case to review.
    drift_alarm : bool
        Whether a drift alarm is raised (every case then goes to review).

    Examples
    --------
    >>> Scores(risk=pd.Series([0.2], index=["R-1"])).drift_alarm
    False
    """

    risk: pd.Series
    features: pd.DataFrame = field(default_factory=pd.DataFrame)
    anomalies: pd.Series | None = None
    drift_alarm: bool = False


class ReviewDecision(BaseModel):
    """A clerk's decision about one case of a proposal.

    Attributes
    ----------
    case_id : str
        The case reviewed.
    action : {"approve", "change_offer", "hold", "escalate"}
        See the module docstring (:data:`dunning.store.REVIEW_ACTIONS`).
    clerk_id : str
        Who decided (required: every decision is attributable).
    reason : str
        Why, in the clerk's words (required).
    offer : {"none", "deferral", "installment_plan"}, optional
        The new offer; required for ``change_offer`` and only allowed there.
    hold_until : datetime.date, optional
        Last day of a hold; only allowed for ``hold`` (none: until a later review).
    decided_at : datetime.datetime
        When (timezone-aware; default now, UTC).

    Examples
    --------
    >>> ReviewDecision(case_id="C20261123-78c7523daa", action="change_offer",
    ...     clerk_id="clerk-7", reason="customer called", offer="deferral").offer
    'deferral'
    >>> ReviewDecision(case_id="C1", action="hold", clerk_id="clerk-7", reason=" ")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ReviewDecision
    reason
      String should match pattern '\\S' ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: Annotated[str, Field(min_length=1)]
    action: Literal["approve", "change_offer", "hold", "escalate"]
    clerk_id: Annotated[str, Field(min_length=1, pattern=r"\S")]
    reason: Annotated[str, Field(min_length=1, pattern=r"\S")]
    offer: Literal["none", "deferral", "installment_plan"] | None = None
    hold_until: date | None = None
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @model_validator(mode="after")
    def _consistent(self) -> ReviewDecision:
        if (self.action == "change_offer") != (self.offer is not None):
            msg = "offer is required for change_offer and allowed only there"
            raise ValueError(msg)
        if self.hold_until is not None and self.action != "hold":
            msg = "hold_until is allowed only for hold"
            raise ValueError(msg)
        if self.decided_at.tzinfo is None:
            msg = "decided_at must be timezone-aware (e.g. UTC)"
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class IssueResult:
    """What :func:`issue` recorded.

    Parameters
    ----------
    issued : pandas.DataFrame
        The letters recorded now, one row per invoice and level (the store's ``issued``
        columns).
    skipped : pandas.DataFrame
        ``case_id, reason`` of the cases not issued: ``NEEDS_REVIEW`` (routed to review and
        not yet approved), ``ON_HOLD`` (a clerk put it on hold) or ``ALREADY_ISSUED`` (every
        letter of the case is in the store already).
    reviews_recorded : int
        Review decisions newly written to the store.

    Examples
    --------
    >>> r = IssueResult(pd.DataFrame({"case_id": ["C1"]}), pd.DataFrame(), 0)
    >>> r.n_cases
    1
    """

    issued: pd.DataFrame
    skipped: pd.DataFrame
    reviews_recorded: int

    @property
    def n_cases(self) -> int:
        """Number of cases with at least one letter recorded now."""
        return int(self.issued["case_id"].nunique()) if len(self.issued) else 0


def _history(portfolio: Portfolio, store: DecisionStore | None, as_of: date) -> pd.DataFrame:
    """The portfolio's dunning history plus the letters issued through the store."""
    own = portfolio.history.loc[:, list(_HISTORY)]
    if store is None:
        return own
    issued = store.issued(until=as_of)
    if issued.empty:
        return own
    ours = issued.loc[:, [*_HISTORY, "fee"]]
    merged = pd.concat([ours, own.assign(fee=None)], ignore_index=True)
    merged = merged.drop_duplicates(["invoice_id", "level"], keep="first")
    merged["level"] = merged["level"].astype(np.int64)
    merged["issued_on"] = pd.to_datetime(merged["issued_on"]).astype("datetime64[ns]")
    return merged.sort_values(["invoice_id", "level"], kind="stable").reset_index(drop=True)


def _holds(store: DecisionStore | None, as_of: date) -> set[str]:
    """Invoices whose latest review is a hold that still runs on ``as_of``."""
    if store is None:
        return set()
    log = store.reviews()
    if log.empty:
        return set()
    log = log.loc[pd.to_datetime(log["as_of"]) <= pd.Timestamp(as_of)]
    rows = log.assign(invoice_id=log["invoice_ids"].astype("str").str.split("|")).explode(
        "invoice_id"
    )
    latest = (
        rows.sort_values(["decided_at", "review_id"], kind="stable").groupby("invoice_id").last()
    )
    until = pd.to_datetime(latest["hold_until"])
    running = (latest["action"] == "hold") & (until.isna() | (until >= pd.Timestamp(as_of)))
    return set(latest.index[running.to_numpy(bool)].astype("str"))


def _with_accounts(
    items: pd.DataFrame, accounts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open items with the claim account's columns, and the residual claims."""
    items = items.copy()
    if accounts.empty:
        return items, accounts
    acc = accounts.set_index("invoice_id")
    cur = acc["currency"].astype("str").tolist()

    def minor(column: str) -> pd.Series:
        values = acc[column]
        known = values.notna().to_numpy(bool)
        out = pd.Series(pd.NA, index=acc.index, dtype="Int64")
        if known.any():
            picked = [c for c, k in zip(cur, known, strict=True) if k]
            out[known] = to_minor_array(values[known], picked)
        return out

    ids = items["invoice_id"].to_numpy()
    allocated = acc["allocated"].reindex(ids).fillna(False).to_numpy(bool)
    items["earlier_fees_minor"] = (
        minor("earlier_fees_open").reindex(ids).fillna(0).to_numpy(np.int64)
    )
    charges = (minor("paid_to_costs") + minor("paid_to_interest")).reindex(ids)
    items["paid_to_charges_minor"] = charges.fillna(0).to_numpy(np.int64)
    principal = minor("principal_open").reindex(ids)
    items.loc[allocated, "open_minor"] = principal[allocated].to_numpy(np.int64)
    if allocated.any():
        items.loc[allocated, "open_amount"] = pd.Series(
            acc["principal_open"].reindex(ids)[allocated].to_numpy(), dtype=object
        ).to_numpy()
    for column in ("interest_open", "flat_fee_open"):
        values = minor(column).reindex(ids)
        items[f"{column}_minor"] = values.where(allocated, pd.NA).astype("Int64").to_numpy()
    remaining = (
        minor("principal_open")
        + minor("earlier_fees_open")
        + minor("flat_fee_open").fillna(0)
        + minor("interest_open").fillna(0)
    )
    paid_off = ~acc.index.isin(items["invoice_id"])
    residual = acc.loc[paid_off & acc["allocated"].to_numpy(bool) & (remaining > 0).to_numpy(bool)]
    return items, residual.reset_index()


def propose(
    portfolio: Portfolio,
    scores: Scores,
    policy: Policy | None,
    as_of: date,
    *,
    per_invoice: bool | None = None,
    store: DecisionStore | None = None,
) -> Proposal:
    """Propose what happens next for every overdue open invoice on ``as_of``.

    No side effects: nothing is written, not even to ``store``.

    Parameters
    ----------
    portfolio : Portfolio
        Validated tables (:func:`dunning.load_portfolio`,
        :func:`dunning.datasets.make_portfolio`).
    scores : Scores
        Risk per overdue invoice, and optionally features, anomalies and the drift alarm.
    policy : Policy or None
        ``None``: ``Policy.default("DE")``.
    as_of : datetime.date
        The run date.
    per_invoice : bool, optional
        One case per invoice instead of per customer (default: the policy's
        ``case_grouping``).
    store : DecisionStore, optional
        Adds the letters already issued to the dunning history (so nothing is proposed
        twice, and fees charged are restated as earlier fees), keeps held invoices out, and
        applies the review decisions recorded for this ``as_of`` again.

    Returns
    -------
    Proposal
        ``decisions`` and ``cases`` (see :mod:`dunning.proposal`), ``residuals`` (claims left
        on invoices whose principal is paid; not dunned automatically) and ``reviews``.

    Raises
    ------
    DataError
        If an overdue invoice has no risk score or no customer.

    Examples
    --------
    See the module docstring.
    """
    policy = Policy.default("DE") if policy is None else policy
    history = _history(portfolio, store, as_of)
    merged = dataclasses.replace(portfolio, history=history.loc[:, list(_HISTORY)])
    items = open_items(merged, as_of)
    first = first_reminders(history, as_of)
    items["first_dunned_on"] = first.reindex(items["invoice_id"].to_numpy()).to_numpy(
        "datetime64[ns]"
    )
    accounts = claim_accounts(
        merged, as_of, policy, history=history, paid_since=as_of - timedelta(days=RESIDUAL_DAYS)
    )
    items, residuals = _with_accounts(items, accounts)
    held = _holds(store, as_of)
    items["on_hold"] = items["invoice_id"].astype("str").isin(held).to_numpy(bool)
    proposal = propose_items(
        items,
        scores.features,
        scores.risk,
        portfolio.customers,
        as_of,
        policy=policy,
        per_invoice=per_invoice,
        anomalies=scores.anomalies,
        drift_alarm=scores.drift_alarm,
    )
    proposal = dataclasses.replace(proposal, residuals=residuals)
    if store is not None:
        log = store.reviews()
        if not log.empty:
            log = log.loc[
                (pd.to_datetime(log["as_of"]) == pd.Timestamp(as_of))
                & log["case_id"].isin(proposal.cases["case_id"])
            ]
            if not log.empty:
                proposal = apply_reviews(proposal, log, policy=policy)
    return proposal


def _review_frame(reviews: Sequence[ReviewDecision] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(reviews, pd.DataFrame):
        records = reviews.to_dict("records")
        try:
            decisions = [
                ReviewDecision(
                    case_id=str(r["case_id"]),
                    action=r["action"],
                    clerk_id=str(r["clerk_id"]),
                    reason=str(r["reason"]),
                    offer=None if pd.isna(r.get("offer")) else r.get("offer"),
                    hold_until=None
                    if pd.isna(r.get("hold_until"))
                    else pd.Timestamp(r["hold_until"]).date(),
                    decided_at=pd.Timestamp(r["decided_at"]).to_pydatetime(),
                )
                for r in records
            ]
        except ValidationError as exc:
            msg = f"apply_reviews: invalid review decision: {exc}"
            raise DataError(msg, path="<reviews>") from exc
    else:
        decisions = list(reviews)
    return pd.DataFrame(
        {
            "case_id": [d.case_id for d in decisions],
            "action": [d.action for d in decisions],
            "clerk_id": [d.clerk_id for d in decisions],
            "reason": [d.reason for d in decisions],
            "offer": [d.offer for d in decisions],
            "hold_until": [d.hold_until for d in decisions],
            "decided_at": [d.decided_at.astimezone(UTC) for d in decisions],
        }
    )


def _review_id(row: pd.Series) -> str:
    text = f"{row['case_id']}|{row['action']}|{row['clerk_id']}|{row['decided_at'].isoformat()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def apply_reviews(
    proposal: Proposal,
    reviews: Sequence[ReviewDecision] | pd.DataFrame,
    *,
    policy: Policy | None = None,
) -> Proposal:
    """Apply clerks' review decisions to a proposal.

    Parameters
    ----------
    proposal : Proposal
        From :func:`propose` (possibly with reviews applied already; they are kept).
    reviews : sequence of ReviewDecision, or DataFrame
        The decisions; a DataFrame has the columns of :class:`ReviewDecision` (as
        ``DecisionStore.reviews()`` returns them).
    policy : Policy, optional
        The policy the proposal was made with (fees of an escalated level, installments,
        the deferral date); default ``Policy.default("DE")``.

    Returns
    -------
    Proposal
        A new proposal whose cases have ``review_action`` (``""`` if not reviewed),
        ``reviewed_by``, ``review_note`` and ``approved`` (bool: ready to issue; unreviewed
        cases are approved unless they need review), with offers and levels changed as
        decided; ``reviews`` lists every decision applied (the log, oldest first).

    Raises
    ------
    DataError
        If a decision names a case that is not in the proposal, or is invalid.

    Examples
    --------
    See the module docstring.
    """
    policy = Policy.default("DE") if policy is None else policy
    new = _review_frame(reviews)
    cases = proposal.cases.copy()
    decisions = proposal.decisions.copy()
    unknown = sorted(set(new["case_id"]) - set(cases["case_id"]))
    if unknown:
        msg = (
            f"apply_reviews: {len(unknown)} review decision(s) name cases not in the proposal "
            f"of {proposal.as_of}, e.g. {unknown[:3]}; review the current proposal's cases."
        )
        raise DataError(msg, path="<reviews>")
    members = (
        decisions.dropna(subset=["case_id"])
        .groupby("case_id")["invoice_id"]
        .agg(lambda ids: "|".join(sorted(map(str, ids))))
    )
    customer = cases.set_index("case_id")["customer_id"]
    new["customer_id"] = new["case_id"].map(customer).astype("str")
    new["invoice_ids"] = new["case_id"].map(members).fillna("").astype("str")
    new["as_of"] = proposal.as_of
    new["review_id"] = new.apply(_review_id, axis=1) if len(new) else pd.Series(dtype="str")
    previous = proposal.reviews
    log = pd.concat([previous, new.loc[:, list(REVIEW_COLUMNS)]], ignore_index=True)
    log = log.drop_duplicates("review_id", keep="first")
    log = log.sort_values(["decided_at", "review_id"], kind="stable").reset_index(drop=True)
    latest = log.groupby("case_id").last()

    if "review_action" not in cases.columns:
        cases["review_action"] = ""
        cases["reviewed_by"] = ""
        cases["review_note"] = ""
    pick = latest.reindex(cases["case_id"].to_numpy())
    reviewed = pick["action"].notna().to_numpy(bool)
    cases.loc[reviewed, "review_action"] = pick["action"][reviewed].to_numpy()
    cases.loc[reviewed, "reviewed_by"] = pick["clerk_id"][reviewed].to_numpy()
    cases.loc[reviewed, "review_note"] = pick["reason"][reviewed].to_numpy()
    action = cases["review_action"].astype("str").to_numpy()
    cases["approved"] = np.where(
        action == "", ~cases["needs_review"].to_numpy(bool), action != "hold"
    )

    for i in np.flatnonzero(action == "change_offer"):
        offer = str(pick["offer"].iloc[i])
        clerk, note = str(pick["clerk_id"].iloc[i]), str(pick["reason"].iloc[i])
        label = cases.index[int(i)]
        cases.loc[label, "offer"] = offer
        cases.loc[label, "offer_code"] = "CLERK"
        cases.loc[label, "offer_reason"] = f"offer {offer} chosen by {clerk}: {note}"
        cases.loc[label, "offer_reason_de"] = f"Angebot {offer} gewählt von {clerk}: {note}"
        cases.loc[label, "installments"] = (
            policy.offers.installments if offer == "installment_plan" else 0
        )
        cases.loc[label, "deferral_due"] = (
            pd.Timestamp(
                policy.business_calendar().deadline(proposal.as_of, policy.offers.deferral_days)
            )
            if offer == "deferral"
            else pd.NaT
        )
    escalate = action == "escalate"
    if escalate.any():
        cases, decisions = _escalate(cases, decisions, escalate, policy)
    decisions["offer"] = (
        decisions["case_id"].map(cases.set_index("case_id")["offer"]).fillna("none").astype("str")
    )
    return dataclasses.replace(proposal, cases=cases, decisions=decisions, reviews=log)


def _escalate(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    escalate: np.ndarray,
    policy: Policy,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raise escalated cases one level; their top invoices follow, with the new level's fee."""
    raised = np.minimum(cases["level"].to_numpy(np.int64) + 1, policy.max_level)
    new_level = np.where(escalate, raised, cases["level"].to_numpy(np.int64))
    old_level = cases.set_index("case_id")["level"]
    cases["level"] = new_level
    for lang in _LANGS:
        cases[f"level_name_{lang}"] = level_names(new_level, lang, policy)
    target = cases.set_index("case_id")["level"]
    in_case = decisions["case_id"].isin(cases.loc[escalate, "case_id"]).to_numpy(bool)
    was_top = decisions["level"].to_numpy(np.int64) == decisions["case_id"].map(old_level).fillna(
        -1
    ).to_numpy(np.int64)
    moved = in_case & was_top & (decisions["level"].to_numpy(np.int64) > 0)
    level = np.where(
        moved,
        decisions["case_id"].map(target).fillna(0).to_numpy(np.int64),
        decisions["level"].to_numpy(np.int64),
    )
    decisions["level"] = level
    for lang in _LANGS:
        decisions[f"level_name_{lang}"] = level_names(level, lang, policy)
    # The fee follows the level (policy currency only, as in propose_items).
    segment = decisions["customer_id"].map(
        cases.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    )
    table = level_fees(policy)
    fee = np.where(
        segment.astype("str").to_numpy() == "B2B", table["B2B"][level], table["B2C"][level]
    )
    currency = decisions["currency"].astype("str")
    home = (currency == policy.currency).to_numpy(bool)
    old_fee = to_minor_array(decisions["fee"], currency.tolist())
    fee_minor = np.where(moved & home, fee, old_fee).astype(np.int64)
    delta = fee_minor - old_fee
    decisions["fee"] = pd.Series(
        from_minor_array(fee_minor, currency.tolist()), dtype=object
    ).to_numpy()
    claim = to_minor_array(decisions["claim_total"], currency.tolist()) + delta
    decisions["claim_total"] = pd.Series(
        from_minor_array(claim, currency.tolist()), dtype=object
    ).to_numpy()
    by_case = pd.Series(delta, index=decisions.index).groupby(decisions["case_id"]).sum()
    case_delta = cases["case_id"].map(by_case).fillna(0).to_numpy(np.int64)
    case_cur = cases["currency"].astype("str").tolist()
    fees = to_minor_array(cases["case_fees"], case_cur) + case_delta
    due = cases["amount_due_minor"].to_numpy(np.int64) + case_delta
    cases["case_fees"] = pd.Series(from_minor_array(fees, case_cur), dtype=object).to_numpy()
    cases["amount_due_minor"] = due
    cases["amount_due"] = pd.Series(from_minor_array(due, case_cur), dtype=object).to_numpy()
    return cases, decisions


def approved_cases(cases: pd.DataFrame) -> np.ndarray:
    """Which cases may be issued: approved by a clerk, or not routed to review at all.

    With review decisions applied (:func:`apply_reviews` adds ``approved``) that column
    decides; otherwise every case that does not need review is approved.

    Examples
    --------
    >>> approved_cases(pd.DataFrame({"needs_review": [True, False]})).tolist()
    [False, True]
    >>> approved_cases(pd.DataFrame({"needs_review": [True, False],
    ...                              "approved": [True, False]})).tolist()
    [True, False]
    """
    column = cases["approved"] if "approved" in cases.columns else ~cases["needs_review"]
    return np.asarray(column.to_numpy(bool))


def issue(
    proposal: Proposal,
    store: DecisionStore,
    *,
    issued_at: datetime | None = None,
    case_ids: Iterable[str] | None = None,
    documents: pd.DataFrame | None = None,
    run_id: str | None = None,
) -> IssueResult:
    """Commit the approved cases of a proposal to the store's dunning history.

    A case is issued when it is approved: reviewed with ``approve``, ``change_offer`` or
    ``escalate``, or not routed to review at all. Every invoice of an issued case with a new
    level becomes one ``issued`` row (letter date = ``proposal.as_of``). The review
    decisions of the proposal are recorded too. Idempotent: what the store has already is
    skipped.

    Parameters
    ----------
    proposal : Proposal
        From :func:`propose`, with :func:`apply_reviews` applied where cases needed review.
    store : DecisionStore
        Where the letters and reviews are recorded.
    issued_at : datetime.datetime, optional
        Recording time (default now, UTC).
    case_ids : iterable of str, optional
        Issue only these cases of the proposal (e.g. the ones whose letters were just
        written); default all. The other cases are not listed in ``skipped``.
    documents : pandas.DataFrame, optional
        The documents sent (a :func:`dunning.letters.render_letters` manifest): recorded in
        the store's ``letters`` table, with their sha256 in the ``letter_issued`` audit
        events, in the same transaction as the issued rows.
    run_id : str, optional
        The run that issues the letters, recorded with each issued row and letter.

    Returns
    -------
    IssueResult

    Examples
    --------
    See the module docstring.
    """
    cases = proposal.cases
    if case_ids is not None:
        cases = cases.loc[cases["case_id"].isin(set(case_ids))]
    reviews_recorded = store.record_reviews(proposal.reviews) if len(proposal.reviews) else 0
    approved = approved_cases(cases)
    if "review_action" in cases.columns:
        action = cases["review_action"].astype("str").to_numpy()
    else:
        action = np.full(len(cases), "", dtype=object)
    reason = np.where(action == "hold", "ON_HOLD", "NEEDS_REVIEW")
    ready = cases.loc[approved]
    d = proposal.decisions
    letters = d.loc[d["case_id"].isin(ready["case_id"]) & (d["level"].to_numpy() > 0)]
    by_case = ready.set_index("case_id")
    reviewed_by = (
        by_case["reviewed_by"].astype("str").replace("", None)
        if "reviewed_by" in by_case.columns
        else pd.Series(None, index=by_case.index, dtype=object)
    )
    events = pd.DataFrame(
        {
            "invoice_id": letters["invoice_id"].astype("str").to_numpy(),
            "level": letters["level"].to_numpy(np.int64),
            "case_id": letters["case_id"].astype("str").to_numpy(),
            "customer_id": letters["customer_id"].astype("str").to_numpy(),
            "issued_on": pd.Timestamp(proposal.as_of),
            "channel": letters["case_id"].map(by_case["channel"]).astype("str").to_numpy(),
            "currency": letters["currency"].astype("str").to_numpy(),
            "fee": letters["fee"].to_numpy(),
            "interest": letters["interest"].to_numpy(),
            "flat_fee": letters["flat_fee"].to_numpy(),
            "earlier_fees": letters["earlier_fees"].to_numpy(),
            "open_amount": letters["open_amount"].to_numpy(),
            "run_id": run_id,
            "approved_by": letters["case_id"].map(reviewed_by).to_numpy(),
        }
    )
    before = store.issued(until=proposal.as_of, invoice_ids=events["invoice_id"])
    sent = None
    if documents is not None:
        sent = documents.loc[documents["case_id"].isin(set(events["case_id"]))]
        if run_id is not None and "run_id" not in sent.columns:
            sent = sent.assign(run_id=run_id)
    inserted = store.record_issued(events, issued_at=issued_at, letters=sent)
    known = set(zip(before["invoice_id"], before["level"], strict=True)) if len(before) else set()
    is_new = [
        (i, int(lv)) not in known
        for i, lv in zip(events["invoice_id"], events["level"], strict=True)
    ]
    recorded = events.loc[is_new].reset_index(drop=True)
    if len(recorded) != inserted:
        logger.warning("issue: %d rows expected, %d recorded", len(recorded), inserted)
    already = sorted(set(ready["case_id"]) - set(recorded["case_id"]))
    skipped = pd.concat(
        [
            pd.DataFrame(
                {"case_id": cases.loc[~approved, "case_id"].to_numpy(), "reason": reason[~approved]}
            ),
            pd.DataFrame({"case_id": already, "reason": "ALREADY_ISSUED"}),
        ],
        ignore_index=True,
    ).astype("str")
    logger.info(
        "issued %d letters in %d cases on %s; %d cases skipped",
        len(recorded),
        recorded["case_id"].nunique(),
        proposal.as_of,
        len(skipped),
    )
    return IssueResult(issued=recorded, skipped=skipped, reviews_recorded=reviews_recorded)
