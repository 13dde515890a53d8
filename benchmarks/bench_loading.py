"""Time ``dunning.io.load_portfolio`` against a bare pandas read of the same files.

Writes a synthetic portfolio (``--rows`` invoices, a tenth as many customers, no payments)
into a temporary directory as an English CSV, a German ERP-style CSV (``;``, decimal
commas, ``dd.mm.yyyy``, Windows-1252) and Parquet, then reads each twice in the same run:

* **bare**: ``pandas.read_csv`` / ``pandas.read_parquet`` of the same three files, with only
  the arguments needed to split them (separator and encoding for the German CSV);
  columns are left as pandas infers them, nothing is validated;
* **load_portfolio**: the full load, every cell parsed and every rule checked.

Each timing is the best of ``--repeat`` runs. ``rows/s`` counts invoice rows; the ratio is
what counts. Usage::

    python benchmarks/bench_loading.py            # 1,000,000 invoices
    python benchmarks/bench_loading.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# The shared report helpers; this script runs from benchmarks/.
from _report import Column, best_of, print_table

from dunning.io import load_portfolio

AS_OF = date(2026, 11, 23)


def synthetic(n_invoices: int, seed: int) -> dict[str, pd.DataFrame]:
    """A clean portfolio as text columns (English formats), built vectorised."""
    rng = np.random.default_rng(seed)
    n_customers = max(n_invoices // 10, 1)
    customer_ids = pd.Series(np.arange(n_customers)).map("K{:07d}".format)
    customers = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "name": "Kunde " + customer_ids,
            "country": rng.choice(["DE", "AT", "CH", "GB"], n_customers),
            "language": rng.choice(["de", "en"], n_customers),
            "segment": rng.choice(["B2C", "B2B"], n_customers),
            "vulnerable": rng.choice(["true", "false", ""], n_customers),
        }
    )
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_invoices), "D")
    due = issue + pd.to_timedelta(rng.integers(7, 60, n_invoices), "D")
    cents = rng.integers(100, 10_000_000, n_invoices)
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.Series(np.arange(n_invoices)).map("R{:08d}".format),
            "customer_id": customer_ids.to_numpy()[rng.integers(0, n_customers, n_invoices)],
            "issue_date": issue.strftime("%Y-%m-%d"),
            "due_date": due.strftime("%Y-%m-%d"),
            "amount": pd.Series(cents // 100).astype(str)
            + "."
            + pd.Series(cents % 100).astype(str).str.zfill(2),
            "currency": rng.choice(["EUR", "EUR", "EUR", "CHF", "GBP"], n_invoices),
            "disputed": rng.choice(["false", "true", ""], n_invoices, p=[0.8, 0.05, 0.15]),
        }
    )
    payments = pd.DataFrame(
        {c: pd.Series(dtype="str") for c in ("payment_id", "invoice_id", "payment_date")}
        | {"amount": pd.Series(dtype="str"), "currency": pd.Series(dtype="str")}
    )
    return {"customers": customers, "invoices": invoices, "payments": payments}


def german(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table as a German ERP would write it."""
    out = frame.copy()
    for column in ("issue_date", "due_date"):
        if column in out:
            out[column] = pd.to_datetime(out[column]).dt.strftime("%d.%m.%Y")
    if "amount" in out and len(out):
        whole, cents = out["amount"].str.split(".", n=1, expand=True).T.to_numpy()
        grouped = pd.Series(whole).astype(int).map("{:,}".format).str.replace(",", ".")
        out["amount"] = (grouped + "," + pd.Series(cents)).to_numpy()
    for column in ("disputed", "vulnerable"):
        if column in out:
            out[column] = out[column].replace({"true": "ja", "false": "nein"})
    return out


def write(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, dict[str, Path]]:
    """Write every table in the three formats; return format → table → path."""
    paths: dict[str, dict[str, Path]] = {"csv": {}, "csv (de, cp1252)": {}, "parquet": {}}
    for name, frame in tables.items():
        paths["csv"][name] = folder / f"{name}.csv"
        frame.to_csv(paths["csv"][name], index=False)
        paths["csv (de, cp1252)"][name] = folder / f"{name}_de.csv"
        german(frame).to_csv(
            paths["csv (de, cp1252)"][name], sep=";", index=False, encoding="cp1252"
        )
        paths["parquet"][name] = folder / f"{name}.parquet"
        pq.write_table(_typed(frame), paths["parquet"][name])
    return paths


def _typed(frame: pd.DataFrame) -> pa.Table:
    """Parquet as a warehouse writes it: dates as date32, amounts as decimal(14, 2)."""
    columns = {}
    for name in frame.columns:
        values = pa.array(frame[name].to_numpy(dtype=object), type=pa.string())
        if name.endswith("_date"):
            values = pa.array(pd.to_datetime(frame[name]).dt.date, type=pa.date32())
        elif name == "amount":
            values = values.cast(pa.decimal128(14, 2))
        elif name in ("disputed", "vulnerable"):
            values = pa.array(frame[name].map({"true": True, "false": False}), type=pa.bool_())
        columns[name] = values
    return pa.table(columns)


def bare(kind: str, files: dict[str, Path]) -> Callable[[], object]:
    """A bare pandas read of the same files."""
    if kind == "parquet":
        return lambda: [pd.read_parquet(path) for path in files.values()]
    if kind == "csv":
        return lambda: [pd.read_csv(path) for path in files.values()]
    return lambda: [pd.read_csv(path, sep=";", encoding="cp1252") for path in files.values()]


def timings(
    paths: dict[str, dict[str, Path]], n_rows: int, repeat: int
) -> Iterator[tuple[object, ...]]:
    """Per format, one table row for the bare read and one for load_portfolio, as timed."""
    for kind, files in paths.items():
        size = files["invoices"].stat().st_size / 1e6
        base, _ = best_of(repeat, bare(kind, files))
        full, result = best_of(repeat, lambda files=files: load_portfolio(**files, as_of=AS_OF))  # type: ignore[misc]
        accepted = result.rows_accepted["invoices"] == n_rows
        note = "" if accepted else f"{len(result.rejects)} rejects in the {kind} files"
        yield kind, size, "pandas (bare)", n_rows, base, n_rows / base, 1.0
        yield kind, size, "load_portfolio", n_rows, full, n_rows / full, full / base, note


def main() -> None:
    """Write the files, time both readers, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="invoice rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the data")
    args = parser.parse_args()

    tables = synthetic(args.rows, args.seed)
    columns = [
        Column("format", 17, left=True),
        Column("MB", 6, ".1f", gap=1),
        Column("reader", 16, left=True, gap=1),
        Column("rows", 10, ",", gap=1),
        Column("seconds", 8, ".2f", gap=1),
        Column("rows/s", 11, ",.0f", gap=1),
        Column("ratio", 6, ".1f", gap=1),
        Column("note", left=True, gap=2),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write(tables, Path(tmp))
        print(
            f"{args.rows:,} invoices + {len(tables['customers']):,} customers; "
            f"best of {args.repeat}"
        )
        print_table(columns, timings(paths, args.rows, args.repeat))


if __name__ == "__main__":
    main()
