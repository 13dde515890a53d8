"""Benchmark: the proposal (levels, fees, interest, cases, offers, tone) for 1M open items.

Run: ``.venv/bin/python benchmarks/bench_proposal.py [--n N] [--repeat R] [--profile]
[--claim-interest]``

Builds ``--n`` synthetic overdue open items (default 1,000,000) of about ``--n / 4``
customers, vectorised: mixed days overdue (1 to 240) and levels already issued (consistent
with the days, with a first and a last letter date), amounts from 1.00 to 20,000.00 (exact
``Decimal`` and int64 cents), 95 % EUR and the rest CHF or GBP (by customer), 3 % disputed,
70 % B2C, 2 % vulnerable, random risk in [0, 1] and a features frame with the
customer-level ``broken_promises_12m``, ``late_12m_share`` and ``clv`` (5 % of the CLVs
missing). Then times, in one run and on the same data:

1. ``dunning.proposal.propose_items`` (``Policy.default("DE")``, as of 2026-11-23). The
   default policy does not claim interest for periods after 2026-06-30, whose base rate
   is unconfirmed: interest is 0, with the reason in ``interest_rate_note``.
   ``--claim-interest`` sets ``allow_unconfirmed_base_rate`` so that interest is
   computed and claimed;
2. its components, each through its public function on the same data:
   ``assign_levels``; the fees and interest (the proposal's ``_charges``; there is no
   public vectorised entry point); one exact ``Decimal`` money column over all invoices
   (``propose_items`` builds 6 per invoice and 8 per case); the groupby into cases;
   ``choose_offers`` and ``choose_tone_and_channel`` on the proposal's cases;
3. bare baselines: a pandas ``groupby(...).agg`` of the int64 cents by customer over the
   same rows, and an ``np.searchsorted`` level lookup of the days overdue.

The ratio column is seconds / baseline seconds of the same run. Times are wall-clock
``time.perf_counter`` seconds, the best of ``--repeat`` runs (default 3), of 1 for the
whole ``propose_items`` and the Decimal column. ``--profile`` runs ``cProfile`` on one
``propose_items`` call instead and prints the 25 most expensive functions (cumulative and
own time); use it at ``--n 200000``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

# The shared report helpers; this script runs from benchmarks/.
from _report import Row, best_of, machine, peak_mib, print_rows

from dunning.communication import choose_tone_and_channel
from dunning.levels import assign_levels
from dunning.money import from_minor_array, quantize, to_minor
from dunning.offers import choose_offers
from dunning.policy import Policy
from dunning.proposal import Proposal, _charges, _segments, propose_items

AS_OF = date(2026, 11, 23)
GROUP_BASELINE = "pandas groupby-agg cents by customer"
LOOKUP_BASELINE = "np.searchsorted level lookup"


@dataclass(frozen=True)
class Data:
    """The inputs of ``propose_items``."""

    items: pd.DataFrame
    customers: pd.DataFrame
    risk: pd.Series
    features: pd.DataFrame
    customer_features: pd.DataFrame  # per customer: broken_promises, late_12m_share, clv


# --------------------------------------------------------------------------- data


def _ids(prefix: str, n: int, width: int) -> npt.NDArray[np.object_]:
    """``prefix`` + zero-padded numbers, without a Python loop per id."""
    digits = pd.Series(np.arange(n)).astype("str").str.zfill(width)
    return (prefix + digits).to_numpy(dtype=object)


def _decimals(cents: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """Exact two-decimal ``Decimal`` amounts, one object per distinct amount."""
    uniq, inverse = np.unique(cents, return_inverse=True)
    values = np.array([Decimal(int(c)).scaleb(-2) for c in uniq.tolist()], dtype=object)
    return values[inverse]


def synthetic(n: int, seed: int) -> Data:
    """``n`` overdue open items of about ``n / 4`` customers, built vectorised."""
    rng = np.random.default_rng(seed)
    n_cust = max(n // 4, 1)
    cust_ids = _ids("K", n_cust, 7)
    segment = rng.choice(["B2C", "B2B"], n_cust, p=[0.7, 0.3])
    language = rng.choice(["de", "en"], n_cust, p=[0.85, 0.15])
    has_mail = rng.random(n_cust) < 0.8
    email = np.where(has_mail, pd.Series(cust_ids).str.lower() + "@example.com", None)
    consent = rng.choice(["email|letter", "letter", "email", "email|letter|sms"], n_cust)
    no_street = rng.random(n_cust) < 0.01
    customers = pd.DataFrame(
        {
            "customer_id": pd.array(cust_ids, dtype="str"),
            "name": pd.array("Kunde " + pd.Series(cust_ids), dtype="str"),
            "street": pd.array(np.where(no_street, "", "Hauptstr. 1"), dtype="str"),
            "postal_code": pd.array(
                pd.Series(rng.integers(10000, 99999, n_cust)).astype("str"), dtype="str"
            ),
            "city": pd.array(rng.choice(["Berlin", "Köln", "Wien", "London"], n_cust), "str"),
            "country": pd.array(rng.choice(["DE", "AT", "GB"], n_cust, p=[0.8, 0.1, 0.1]), "str"),
            "language": pd.array(language, dtype="str"),
            "segment": pd.array(segment, dtype="str"),
            "email": pd.array(email, dtype="str"),
            "contact_consent": pd.array(consent, dtype="str"),
            "vulnerable": pd.array(rng.random(n_cust) < 0.02, dtype="boolean"),
        }
    )
    cust_currency = rng.choice(["EUR", "CHF", "GBP"], n_cust, p=[0.95, 0.03, 0.02])

    owner = rng.integers(0, n_cust, n)
    days = rng.integers(1, 241, n)
    due = np.datetime64(AS_OF, "D") - days.astype("timedelta64[D]")
    issue = due - rng.choice([14, 30], n).astype("timedelta64[D]")
    # The level already issued: at most what the days overdue allow (1/15/30/45 days).
    allowed = np.searchsorted(np.array([1, 15, 30, 45]), days, side="right")
    last_level = np.floor(rng.random(n) * (allowed + 1)).astype(np.int64).clip(0, allowed)
    since_last = rng.integers(1, 40, n)
    last = np.where(
        last_level > 0,
        np.maximum(due + 1, np.datetime64(AS_OF, "D") - since_last.astype("timedelta64[D]")),
        np.datetime64("NaT"),
    )
    first = np.where(
        last_level > 1,
        due + np.minimum(days - 1, 14 * (allowed - last_level + 1)).astype("timedelta64[D]"),
        last,
    )
    first = np.minimum(first, last)
    cents = np.round(np.exp(rng.uniform(np.log(100), np.log(2_000_000), n))).astype(np.int64)
    items = pd.DataFrame(
        {
            "invoice_id": pd.array(_ids("R", n, 9), dtype="str"),
            "customer_id": pd.array(cust_ids[owner], dtype="str"),
            "issue_date": issue.astype("datetime64[ns]"),
            "due_date": due.astype("datetime64[ns]"),
            "currency": pd.array(cust_currency[owner], dtype="str"),
            "open_amount": pd.Series(_decimals(cents), dtype=object),
            "open_minor": cents,
            "days_overdue": days.astype(np.int64),
            "disputed": pd.array(rng.random(n) < 0.03, dtype="boolean"),
            "last_level": last_level,
            "last_dunned_on": last.astype("datetime64[ns]"),
            "first_dunned_on": first.astype("datetime64[ns]"),
        }
    )
    index = pd.Index(items["invoice_id"], name="invoice_id")
    risk = pd.Series(rng.beta(2, 3, n), index=index, name="risk")
    # Customer-level features, repeated on each invoice of the customer; a few missing.
    per_customer = pd.DataFrame(
        {
            "broken_promises": rng.poisson(0.3, n_cust),
            "late_12m_share": np.where(rng.random(n_cust) < 0.4, 0.0, rng.beta(1, 3, n_cust)),
            "clv": rng.lognormal(6, 1.2, n_cust),
        },
        index=pd.Index(cust_ids, name="customer_id"),
    )
    clv = per_customer["clv"].to_numpy()[owner]
    clv[rng.random(n) < 0.05] = np.nan
    features = pd.DataFrame(
        {
            "broken_promises_12m": per_customer["broken_promises"].to_numpy(np.float64)[owner],
            "late_12m_share": per_customer["late_12m_share"].to_numpy()[owner],
            "clv": clv,
            "days_overdue": days.astype(np.float64),
        },
        index=index,
    )
    return Data(items, customers, risk, features, per_customer)


# --------------------------------------------------------------------------- timings


def component_rows(data: Data, proposal: Proposal, policy: Policy, repeat: int) -> list[Row]:
    """The parts of propose_items through their public functions, next to the baselines."""
    items = data.items
    n = len(items)
    days = items["days_overdue"].to_numpy(np.int64)
    last = items["last_level"].to_numpy(np.int64)
    since = (pd.Timestamp(AS_OF) - items["last_dunned_on"]).dt.days.to_numpy(np.float64)
    cents = items["open_minor"].to_numpy(np.int64)
    minimum = {
        c: to_minor(quantize(policy.min_open_amount, c), c) for c in pd.unique(items["currency"])
    }
    min_minor = items["currency"].map(minimum).to_numpy(np.int64)

    # Baselines: the bare library calls the proposal is built from.
    frame = pd.DataFrame({"customer_id": items["customer_id"], "cents": cents})
    group_s, _ = best_of(
        repeat, lambda: frame.groupby("customer_id", sort=True).agg(total=("cents", "sum"))
    )
    thresholds = np.array([1, 15, 30, 45])
    lookup_s, _ = best_of(repeat, lambda: np.searchsorted(thresholds, days, side="right"))
    group_name, lookup_name = GROUP_BASELINE, LOOKUP_BASELINE

    levels_s, level = best_of(
        repeat,
        lambda: assign_levels(
            days, last, since, policy=policy, open_minor=cents, min_open_minor=min_minor
        ),
    )
    level = np.where(items["disputed"].to_numpy(bool), 0, level)
    customers = data.customers.set_index("customer_id")
    segment = _segments(items, customers)
    charges_s, charges = best_of(repeat, lambda: _charges(items, segment, level, AS_OF, policy))
    fee_minor = charges["fee_minor"].to_numpy()
    claim = cents + fee_minor + charges["interest_minor"].to_numpy() + charges["flat_minor"]
    currency = items["currency"].tolist()

    money_s, _ = best_of(1, lambda: from_minor_array(claim.tolist(), currency))

    live = items.loc[~items["disputed"].to_numpy(bool)].assign(level=level[~items["disputed"]])
    cases_s, _ = best_of(
        repeat,
        lambda: live.groupby(["customer_id", "currency"], sort=True).agg(
            level=("level", "max"),
            n_invoices=("level", "size"),
            total_minor=("open_minor", "sum"),
            max_days_overdue=("days_overdue", "max"),
        ),
    )

    cases = proposal.cases
    offers_s, offers = best_of(repeat, lambda: choose_offers(cases, policy, as_of=AS_OF))
    # The case columns propose_items passes, and the customer's contact consent.
    who = cases["customer_id"].to_numpy()
    extra = data.customer_features[["broken_promises", "late_12m_share"]].reindex(who)
    tone_input = cases.assign(
        contact_consent=customers["contact_consent"].reindex(who).to_numpy(),
        broken_promises=extra["broken_promises"].to_numpy(),
        late_12m_share=extra["late_12m_share"].to_numpy(),
    ).drop(columns=["channel"])
    tone_s, _ = best_of(repeat, lambda: choose_tone_and_channel(tone_input, policy))
    n_cases = len(cases)
    plans = int((offers["offer"] == "installment_plan").sum())
    return [
        Row("  assign_levels", n, levels_s, lookup_name, lookup_s),
        Row(
            "  fees + interest (_charges)",
            n,
            charges_s,
            group_name,
            group_s,
            f"{int((charges['interest_minor'] > 0).sum()):,} with interest",
        ),
        Row(
            "  one Decimal column",
            n,
            money_s,
            group_name,
            group_s,
            "from_minor_array; propose_items makes 6 per invoice, 8 per case",
        ),
        Row("  groupby into cases", n, cases_s, group_name, group_s, "4 aggregates"),
        Row(
            "  choose_offers (cases)",
            n_cases,
            offers_s,
            group_name,
            group_s,
            f"{plans:,} plans",
        ),
        Row("  choose_tone_and_channel (cases)", n_cases, tone_s, group_name, group_s),
        Row("bare: pandas groupby-agg", n, group_s),
        Row("bare: np.searchsorted lookup", n, lookup_s),
    ]


def make_policy(claim_interest: bool) -> Policy:
    """The German default policy; with ``claim_interest``, unconfirmed base rates allowed."""
    policy = Policy.default("DE")
    if claim_interest:
        return policy.model_copy(update={"allow_unconfirmed_base_rate": True})
    return policy


def run(data: Data, policy: Policy) -> Proposal:
    """One propose_items call on the benchmark data."""
    return propose_items(data.items, data.features, data.risk, data.customers, AS_OF, policy=policy)


def main() -> None:
    """Parse the arguments, build the data, time or profile, print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="overdue open items")
    parser.add_argument("--repeat", type=int, default=3, help="runs per small timing")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile one propose_items")
    parser.add_argument(
        "--claim-interest", action="store_true", help="allow unconfirmed base rates"
    )
    args = parser.parse_args()
    policy = make_policy(args.claim_interest)

    started = time.perf_counter()
    data = synthetic(args.n, args.seed)
    built = time.perf_counter() - started
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, data, policy)
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(25)
        return

    total_s, proposal = best_of(1, lambda: run(data, policy))
    parts = component_rows(data, proposal, policy, args.repeat)
    group = parts[-2]
    rows = [
        Row(
            "propose_items",
            args.n,
            total_s,
            GROUP_BASELINE,
            group.seconds,
            f"{len(proposal.cases):,} cases, {len(data.customers):,} customers",
        ),
        *parts,
    ]

    print(machine())
    print(
        f"Data built in {built:.1f} s. Best of {args.repeat} runs, of 1 for propose_items "
        "and the Decimal columns."
    )
    print()
    print_rows(rows, step_width=36, baseline_width=38, ratio_digits=1)
    print()
    listed = sum(row.seconds for row in parts[:-2])
    print(
        f"ratio = seconds / baseline seconds. The parts above take {listed:.1f} s of "
        f"propose_items' {total_s:.1f} s; the rest is mostly the exact Decimal columns "
        "(6 per invoice, 8 per case), building str columns, reindexing and merging.\n"
        f"Peak memory {peak_mib():,.0f} MiB; whole run {time.perf_counter() - started:,.0f} s."
    )


if __name__ == "__main__":
    main()
