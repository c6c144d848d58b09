#!/usr/bin/env python3
"""The gradient-boosting route not taken: `perpetual` (Apache-2.0, a histogram GBM in Rust with a
single "budget" setting), measured against `churn train`'s own boosting (trainer/src/boost.rs)
on the same rows, in one run.

  quality   Telco's fixed split and the bank file's 80/20 split (as bench/quality.py makes them):
            held-out ROC-AUC and Brier score, fit seconds, trees and nodes, for perpetual 2.3.0 at
            budget 0.5 and 1.0 (2 threads; categoricals as pandas categories, its native
            handling), and for `churn train` with no flags (model selection included).
  time      fit seconds on bench/gen_churn.py's synthetic Telco-like files (build/scale/) at
            10,000 and 100,000 rows (and 1,000,000 when the 100,000-row fit took under 60 s):
            perpetual at budget 0.5, against `churn train --model gbt` at fixed settings (100
            trees, rate 0.1, 8 leaves, depth 3: no search) and with no flags (the whole search).

Usage: bash bench/routes.sh   (installs perpetual==2.3.0 into the venv of bench/venv.sh)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality  # noqa: E402  (the same splits and column parsing)

from perpetual import PerpetualBooster  # noqa: E402

CHURN = os.environ.get("CHURN", "target/release/churn")


def frame(path, target, positive, drop):
    X, y, numeric, categorical = quality.read(path, target, positive, drop)
    for c in categorical:
        X[c] = X[c].astype("category")
    return X, y


def perpetual_fit(Xtr, ytr, budget):
    m = PerpetualBooster(objective="LogLoss", budget=budget, num_threads=2)
    t = time.perf_counter()
    m.fit(Xtr, ytr)
    return m, time.perf_counter() - t


def shape(m):
    """(trees, nodes) of a fitted booster, from its JSON dump."""
    trees = json.loads(m.json_dump())["trees"]
    return len(trees), sum(len(t["nodes"]) for t in trees)


def churn_train(train, flags):
    out = "build/routes/m.bin"
    t = time.perf_counter()
    r = subprocess.run([CHURN, "train", "--data", train, "--out", out, "--test-fraction", "0", "--no-registry",
                        "--json", *flags], capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(r.stderr)
    return out, json.loads(r.stdout)["fit_seconds"], wall


def main():
    os.chdir(quality.ROOT)
    os.makedirs("build/routes", exist_ok=True)
    os.makedirs(quality.OUT, exist_ok=True)
    bank_train, bank_test = quality.split(quality.BANK_SRC, quality.BANK_TARGET, "bank")
    nb = [c for c in pd.read_csv(quality.BANK_SRC, nrows=0).columns if c.startswith("Naive_Bayes_Classifier_")]
    sets = [
        ("telco", "data/telco_train.csv", "data/telco_test.csv", "Churn", "Yes", ["customerID"], []),
        ("bank", bank_train, bank_test, quality.BANK_TARGET, quality.BANK_POSITIVE, ["CLIENTNUM", *nb],
         ["--target", quality.BANK_TARGET, "--positive", quality.BANK_POSITIVE, "--drop", ",".join(["CLIENTNUM", *nb])]),
    ]
    print("### Quality (held-out rows)\n\n| data | model | ROC-AUC | Brier | fit s | trees | nodes |\n|---|---|---:|---:|---:|---:|---:|")
    for name, train, test, target, positive, drop, flags in sets:
        Xtr, ytr = frame(train, target, positive, drop)
        Xte, yte = frame(test, target, positive, drop)
        for budget in (0.5, 1.0):
            m, s = perpetual_fit(Xtr, ytr, budget)
            p = m.predict_proba(Xte)[:, 1]
            trees, nodes = shape(m)
            print(f"| {name} | perpetual budget {budget} | {roc_auc_score(yte, p):.4f} | {brier_score_loss(yte, p):.4f} "
                  f"| {s:.2f} | {trees} | {nodes} |", flush=True)
        model, fit_s, wall = churn_train(train, flags)
        ev = json.loads(subprocess.run([CHURN, "evaluate", "--model", model, "--data", test, "--json"],
                                       capture_output=True, text=True, check=True).stdout)
        info = json.loads(subprocess.run([CHURN, "inspect", model, "--json"], capture_output=True, text=True,
                                         check=True).stdout)
        print(f"| {name} | churn train (no flags: search + final fit) | {ev['roc_auc']:.4f} | {ev['brier']:.4f} "
              f"| {fit_s:.2f} | {info['trees']} | {info['nodes']} |", flush=True)

    print("\n### Fit time on synthetic Telco-like rows (bench/gen_churn.py, seed 0)\n\n"
          "| rows | perpetual budget 0.5 | churn --model gbt, 100 trees fixed | churn, no flags (search) |\n|---:|---:|---:|---:|")
    fixed = ["--model", "gbt", "--trees", "100", "--learning-rate", "0.1", "--max-leaves", "8", "--max-depth", "3",
             "--min-samples-leaf", "20"]
    for rows in (10_000, 100_000, 1_000_000):
        path = f"build/scale/telco_{rows}.csv"
        if not os.path.exists(path):
            subprocess.run([sys.executable, "bench/gen_churn.py", str(rows), path], check=True)
        X, y = frame(path, "Churn", "Yes", ["customerID"])
        m, s = perpetual_fit(X, y, 0.5)
        trees, nodes = shape(m)
        _, fixed_s, _ = churn_train(path, fixed)
        auto_s = churn_train(path, [])[1] if rows <= 100_000 else float("nan")
        print(f"| {rows:,} | {s:.2f} s ({trees} trees, {nodes} nodes) | {fixed_s:.2f} s | {auto_s:.2f} s |", flush=True)
        if s > 60:
            break


if __name__ == "__main__":
    main()
