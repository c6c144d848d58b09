#!/usr/bin/env python3
"""Large synthetic Telco-like churn CSVs, resampled from data/telco_churn.csv.

Each output row is a source row drawn uniformly with replacement (numpy default_rng(seed)),
with:
  customerID       unique, "S" + 7-digit zero-padded row number (S0000001, S0000002, ...;
                   more digits past 9,999,999 rows)
  tenure           source tenure + an integer uniform in [-2, 2], clipped to [0, 72]
  MonthlyCharges   source value * (1 + N(0, 0.03)), rounded to 2 decimals
  TotalCharges     tenure * MonthlyCharges * U(0.9, 1.1) (the new tenure and charges), rounded
                   to 2 decimals; a single blank " " when the new tenure is 0, as in the source
  Churn and every other column: copied from the source row.
Numbers are written the way the source writes them (shortest form: 1889.5, 20.05, 0 / 1).
The random draws are made in this order, each vectorized over all rows: source row index,
tenure offset, MonthlyCharges factor, TotalCharges factor; so a seed gives one file for a
given ROWS, whatever the chunking of the output.

Usage: python3 bench/gen_churn.py ROWS OUT.csv [--seed N] [--source data/telco_churn.csv]
Needs numpy (build/bench-venv has it). 10^6 rows take a few seconds; the file is written
to OUT.csv.tmp and renamed, so an interrupted run leaves no partial OUT.csv.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = ["customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
          "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
          "TechSupport", "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod",
          "MonthlyCharges", "TotalCharges", "Churn"]
CHUNK = 200_000  # rows formatted per write


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != HEADER:
        sys.exit(f"{path}: unexpected header {rows[0]}")
    body = [r for r in rows[1:] if r]
    for i, r in enumerate(body):
        if len(r) != len(HEADER):
            sys.exit(f"{path}: line {i + 2} has {len(r)} fields, expected {len(HEADER)}")
        for cell in r:
            if any(ch in cell for ch in ',"\r\n'):
                sys.exit(f"{path}: line {i + 2}: quoted fields are not supported by this generator")
    return body


def fmt(v):
    """A float as the source writes it: shortest repr, no trailing ".0"."""
    s = repr(v)
    return s[:-2] if s.endswith(".0") else s


def generate(rows, out, seed, source):
    body = load(source)
    col = {name: i for i, name in enumerate(HEADER)}
    i_ten, i_mc, i_tc = col["tenure"], col["MonthlyCharges"], col["TotalCharges"]
    # The fixed text around the three jittered columns, per source row (customerID replaced).
    pre = np.array([",".join(r[1:i_ten]) for r in body], dtype=object)             # gender..Dependents
    mid = np.array([",".join(r[i_ten + 1:i_mc]) for r in body], dtype=object)      # PhoneService..PaymentMethod
    post = np.array([",".join(r[i_tc + 1:]) for r in body], dtype=object)          # Churn
    tenure0 = np.array([int(r[i_ten]) for r in body], dtype=np.int64)
    mc0 = np.array([float(r[i_mc]) for r in body], dtype=np.float64)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(body), size=rows)
    tenure = np.clip(tenure0[idx] + rng.integers(-2, 3, size=rows), 0, 72)
    mc = np.round(mc0[idx] * (1.0 + rng.normal(0.0, 0.03, size=rows)), 2)
    tc = np.round(tenure * mc * rng.uniform(0.9, 1.1, size=rows), 2)

    width = max(7, len(str(rows)))
    tmp = out + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for start in range(0, rows, CHUNK):
            stop = min(rows, start + CHUNK)
            ix = idx[start:stop]
            t = tenure[start:stop].tolist()
            m = [fmt(v) for v in mc[start:stop].tolist()]
            c = [" " if tv == 0 else fmt(v) for tv, v in zip(t, tc[start:stop].tolist())]
            lines = [
                f"S{n:0{width}d},{p},{tv},{md},{mv},{cv},{po}\n"
                for n, p, tv, md, mv, cv, po in zip(range(start + 1, stop + 1), pre[ix], t, mid[ix], m, c, post[ix])
            ]
            f.write("".join(lines))
    os.replace(tmp, out)
    return {"rows": rows, "seed": seed, "source": source, "source_rows": len(body),
            "churn_rate": float(np.mean(np.array([r[-1] == "Yes" for r in body])[idx])),
            "blank_total_charges": int(np.sum(tenure == 0))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", default=os.path.join(ROOT, "data", "telco_churn.csv"))
    a = ap.parse_args()
    if a.rows < 1:
        sys.exit("ROWS must be >= 1")
    t = time.perf_counter()
    info = generate(a.rows, a.out, a.seed, a.source)
    print(f"gen_churn: wrote {a.out}: {info['rows']} rows (seed {a.seed}, churn rate {info['churn_rate']:.4f}, "
          f"{info['blank_total_charges']} blank TotalCharges) in {time.perf_counter() - t:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
