#!/usr/bin/env python3
"""Chooses `churn train` defaults by cross-validation on the training split only.

Guards against: picking defaults by peeking at the held-out file. Reports, per setting, the
mean 5-fold ROC-AUC on data/telco_train.csv, the model size and the training time.

Usage: python3 bench/sweep.py [--churn target/release/churn] [--quick]
"""
import argparse, csv, itertools, json, os, random, statistics, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--churn", default="target/release/churn")
ap.add_argument("--data", default="data/telco_train.csv")
ap.add_argument("--folds", type=int, default=5)
ap.add_argument("--grid", default="trees=100,300;depth=6,8,10;leaf=1,3,5,10;mtry=3,4,5")
args = ap.parse_args()

with open(args.data, newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
ti = [h.lower() for h in header].index("churn")
rng = random.Random(7)
folds = [[] for _ in range(args.folds)]
for cls in sorted(set(r[ti] for r in body)):
    idx = [i for i, r in enumerate(body) if r[ti] == cls]
    rng.shuffle(idx)
    for k, i in enumerate(idx):
        folds[k % args.folds].append(i)

tmp = tempfile.mkdtemp(prefix="sweep-")
def write(path, idx):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in sorted(idx):
            w.writerow(body[i])
for k in range(args.folds):
    val = set(folds[k])
    write(f"{tmp}/train{k}.csv", [i for i in range(len(body)) if i not in val])
    write(f"{tmp}/val{k}.csv", folds[k])

grid = {}
for part in args.grid.split(";"):
    key, vals = part.split("=")
    grid[key] = [int(v) for v in vals.split(",")]
keys = list(grid)
print("trees depth leaf mtry   cv_auc   sd      bytes   train_s")
for combo in itertools.product(*(grid[k] for k in keys)):
    p = dict(zip(keys, combo))
    aucs, sizes, secs = [], [], []
    for k in range(args.folds):
        model = f"{tmp}/m.bin"
        t0 = time.perf_counter()
        out = subprocess.run([args.churn, "train", "--data", f"{tmp}/train{k}.csv", "--out", model,
                              "--test-fraction", "0", "--json", "--trees", str(p["trees"]),
                              "--max-depth", str(p["depth"]), "--min-samples-leaf", str(p["leaf"]),
                              "--mtry", str(p["mtry"])], check=True, capture_output=True, text=True)
        secs.append(time.perf_counter() - t0)
        sizes.append(json.loads(out.stdout)["bytes"])
        ev = subprocess.run([args.churn, "evaluate", "--model", model, "--data", f"{tmp}/val{k}.csv", "--json"],
                            check=True, capture_output=True, text=True)
        aucs.append(json.loads(ev.stdout)["roc_auc"])
    print(f"{p['trees']:5} {p['depth']:5} {p['leaf']:4} {p['mtry']:4}   {statistics.mean(aucs):.4f}  "
          f"{statistics.stdev(aucs):.4f}  {int(statistics.mean(sizes)):7}  {statistics.median(secs):.2f}", flush=True)
