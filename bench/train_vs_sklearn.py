#!/usr/bin/env python3
"""`churn train` against scikit-learn's RandomForestClassifier, same machine, same minutes.

Called by bench/train.sh (which builds churn and makes the venv); see there for why.
Each round runs the whole `churn train` command (wall time, measured from here: process start
to exit, CSV read and model write included), then fits each scikit-learn configuration once
on the same file in this process (fit only: the time the target compares against). Rounds
alternate, so a slow minute on this shared 2-vCPU machine slows both sides alike, and the
ratio of medians is what the target is about.

scikit-learn gets the same 19 features as churn (categoricals as integer codes, which is
the fastest input for it; one-hot columns would make it slower) and TotalCharges' blanks as
0 (as NaN they would take its slower missing-value path: 10-20 % slower fits, measured).

Usage: python bench/train_vs_sklearn.py CHURN DATA OUT_DIR TREES ROUNDS
"""
import csv, json, os, statistics, subprocess, sys, time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier

churn, data, out_dir, trees, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def load(path):
    """Feature matrix and 0/1 labels, as churn reads them: the id and target columns out,
    numeric columns as numbers (blank -> 0), other columns as integer codes."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    target = [h.lower() for h in header].index("churn")
    ident = header.index("customerID")
    y = np.array([r[target] == "Yes" for r in body], dtype=np.int64)
    columns = []
    for j in range(len(header)):
        if j in (target, ident):
            continue
        cells = [r[j].strip() for r in body]
        try:
            columns.append([float(c) if c else 0.0 for c in cells])
        except ValueError:
            codes = {}
            columns.append([float(codes.setdefault(c, len(codes))) for c in cells])
    return np.array(columns).T, y


X, y = load(data)
# (label, parameters): the comparison (defaults: unlimited depth, leaf size 1), and
# the like-for-like one with churn's defaults for depth and leaf size.
configs = [
    ("sklearn RF(300, n_jobs=2), its defaults", dict()),
    ("sklearn RF(300, n_jobs=2), max_depth=7, min_samples_leaf=20", dict(max_depth=7, min_samples_leaf=20)),
]
cmd = [churn, "train", "--no-registry", "--data", data, "--out", os.path.join(out_dir, "train.bin"),
       "--trees", str(trees), "--test-fraction", "0", "--json"]
print(f"X {X.shape[0]} rows x {X.shape[1]} features; scikit-learn {sklearn.__version__}; "
      f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
ours, cpu, theirs = [], [], [[] for _ in configs]
for r in range(rounds):
    before = os.times()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ours.append(time.perf_counter() - t)
    after = os.times()
    cpu.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    line = f"round {r + 1}: churn train {ours[-1]:.3f} s wall ({cpu[-1]:.2f} s cpu)"
    for k, (_, params) in enumerate(configs):
        model = RandomForestClassifier(n_estimators=trees, n_jobs=2, random_state=r, **params)
        t = time.perf_counter()
        model.fit(X, y)
        theirs[k].append(time.perf_counter() - t)
        line += f"; sklearn #{k + 1} {theirs[k][-1]:.3f} s"
    print(line, flush=True)

med = statistics.median(ours)
print(f"\nmedians of {rounds} rounds, {trees} trees:")
print(f"  churn train (whole command)  {med:.3f} s wall, {statistics.median(cpu):.2f} s cpu")
summary = {"trees": trees, "rounds": rounds, "churn_train_s": round(med, 4), "sklearn": []}
for (label, params), times in zip(configs, theirs):
    m = statistics.median(times)
    print(f"  {label:<60} {m:.3f} s fit -> churn / sklearn = {med / m:.2f}")
    summary["sklearn"].append({"params": params, "fit_s": round(m, 4), "ratio": round(med / m, 3)})
print(json.dumps(summary))
