#!/usr/bin/env python3
"""Model quality of `churn train` against scikit-learn, on two churn data sets.

For each data set every model is fit on the training part and scored on the held-out part,
reporting ROC-AUC and Brier score of the churn probability, and the fit time.

Data sets (see data/SOURCES.md):
  telco  data/telco_train.csv -> data/telco_test.csv (the repo's fixed split). Target Churn
         (Yes/No), id customerID; TotalCharges' 11 blanks (" ") are missing values.
  bank   data/bank_churners.csv, target Attrition_Flag (positive "Attrited Customer");
         CLIENTNUM and the two Naive_Bayes_Classifier_* columns (another model's output: they
         leak the target) are left out. Split like Telco's: its data lines through
         train_test_split(lines, test_size=0.2, stratify=<target>, random_state=42), copied
         byte for byte under the same header into build/quality/bank_{train,test}.csv, which
         both scikit-learn and churn read.

scikit-learn models (all fit on the same parsed columns: a column is numeric when every
non-blank cell parses as a number, otherwise categorical):
  RandomForestClassifier(300, n_jobs=2, random_state=42)   ordinal categoricals, median-imputed
  GradientBoostingClassifier(random_state=42)              ordinal categoricals, median-imputed
  HistGradientBoostingClassifier(random_state=42)          missing left as NaN; tried twice,
      categoricals as ordinal codes and with HGB's native categorical splits; the table shows
      the one with the higher test ROC-AUC (named in the row; both are in results.json). That
      choice is made on the test set, so the HGB row is slightly optimistic.
  LogisticRegression(max_iter=2000)                        standardized median-imputed numerics
                                                           + one-hot categoricals
"fit s" is the time of Pipeline.fit (preprocessing + model) in this process. For churn it is
the wall time of the whole `churn train` command (process start to exit: CSV read, fit,
verification and model write); churn's own fit_seconds is in results.json.

churn (skipped with a note when the binary does not exist):
  $CHURN train --data TRAIN --out build/quality/<set>.bin --test-fraction 0 --no-registry --json
        [bank: --target Attrition_Flag --positive "Attrited Customer" --drop CLIENTNUM,<NB cols>]
        $CHURN_FLAGS (split with shlex)
  $CHURN evaluate --model build/quality/<set>.bin --data TEST --json   -> roc_auc, brier

Usage: python bench/quality.py [CHURN]   (CHURN: argv, else env CHURN, else target/release/churn)
       env CHURN_FLAGS="--trees 300"     extra flags for `churn train`
       env QUALITY_EXTRA="FILE:TARGET:POSITIVE[:DROP,DROP] ..."   more churn files, each split
           80/20 like the bank file (stratified, seed 42) into build/quality/<file name>_*.csv
Writes build/quality/results.json; prints one markdown table per data set.
bench/quality.sh builds churn and the venv (scikit-learn pinned) and runs this.
"""
import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join("build", "quality")
SEED = 42
CHURN_TIMEOUT_S = 120  # per churn command; keeps the whole run bounded

BANK_SRC = os.path.join("data", "bank_churners.csv")
BANK_TARGET, BANK_POSITIVE = "Attrition_Flag", "Attrited Customer"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def split(src, target, name):
    """Writes build/quality/<name>_{train,test}.csv: the data lines of `src`, byte for byte,
    split as data/telco_{train,test}.csv were split from data/telco_churn.csv."""
    with open(src, "rb") as f:
        raw = f.read()
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    header, body = lines[0], [l for l in lines[1:] if l]
    # One record per line (no quoted newlines in these files): the target parsed from the lines.
    labels = pd.read_csv(src, dtype=str, keep_default_na=False)[target].tolist()
    if len(labels) != len(body):
        sys.exit(f"{src}: {len(body)} lines but {len(labels)} CSV records")
    train, test = train_test_split(body, test_size=0.2, stratify=labels, random_state=SEED)
    paths = {}
    for part_name, part in (("train", train), ("test", test)):
        path = os.path.join(OUT, f"{name}_{part_name}.csv")
        with open(path, "wb") as f:
            f.write(header + b"\n" + b"\n".join(part) + b"\n")
        paths[part_name] = path
    return paths["train"], paths["test"]


def read(path, target, positive, drop):
    """Features (numeric columns as float with NaN for blanks, the rest as str) and 0/1 labels."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    y = (df[target].str.strip() == positive).astype(np.int64).to_numpy()
    X = df.drop(columns=[target, *drop])
    numeric, categorical = [], []
    for c in X.columns:
        cells = X[c].str.strip()
        blank = cells == ""
        values = pd.to_numeric(cells.where(~blank), errors="coerce")
        if values[~blank].notna().all():
            X[c] = values.astype(np.float64)
            numeric.append(c)
        else:
            X[c] = X[c].astype(object)
            categorical.append(c)
    return X, y, numeric, categorical


def models(numeric, categorical):
    """(label, pipeline) for each scikit-learn configuration."""
    def trees(model):
        pre = ColumnTransformer([
            ("num", SimpleImputer(strategy="median"), numeric),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), categorical),
        ])
        return Pipeline([("pre", pre), ("model", model)])

    def hgb(native):
        # NaN stays NaN (HGB's own missing-value branch); unseen categories become NaN too.
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
        pre = ColumnTransformer([("num", "passthrough", numeric), ("cat", enc, categorical)])
        cats = [False] * len(numeric) + [True] * len(categorical) if native and categorical else None
        return Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(
            random_state=SEED, categorical_features=cats))])

    lr_pre = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])
    return [
        ("RandomForest(300)", trees(RandomForestClassifier(n_estimators=300, n_jobs=2, random_state=SEED))),
        ("GradientBoosting", trees(GradientBoostingClassifier(random_state=SEED))),
        ("HistGradientBoosting (ordinal categoricals)", hgb(native=False)),
        ("HistGradientBoosting (native categoricals)", hgb(native=True)),
        ("LogisticRegression (one-hot, standardized)", Pipeline([("pre", lr_pre),
                                                                 ("model", LogisticRegression(max_iter=2000))])),
    ]


def run_sklearn(spec):
    Xtr, ytr, numeric, categorical = read(spec["train"], spec["target"], spec["positive"], spec["drop"])
    Xte, yte, _, _ = read(spec["test"], spec["target"], spec["positive"], spec["drop"])
    info = {"train_rows": len(ytr), "test_rows": len(yte), "train_positive_rate": round(float(ytr.mean()), 4),
            "test_positive_rate": round(float(yte.mean()), 4), "numeric": numeric, "categorical": categorical}
    rows = []
    for label, pipe in models(numeric, categorical):
        t = time.perf_counter()
        pipe.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t
        p = pipe.predict_proba(Xte)[:, 1]
        rows.append({"model": "sklearn " + label, "roc_auc": float(roc_auc_score(yte, p)),
                     "brier": float(brier_score_loss(yte, p)), "fit_s": fit_s})
        print(f"  {spec['name']}: {rows[-1]['model']} done ({fit_s:.2f} s)", file=sys.stderr, flush=True)
    # The two HGB variants: the better (test ROC-AUC) is shown; both stay in the JSON.
    hgb = [r for r in rows if "HistGradientBoosting" in r["model"]]
    best = max(hgb, key=lambda r: r["roc_auc"])
    for r in hgb:
        r["shown"] = r is best
    return info, rows


def run_churn(churn, spec, extra):
    """Train and evaluate with the churn CLI; returns a result row, or one with an "error"."""
    model = os.path.join(OUT, f"{spec['name']}.bin")
    if os.path.exists(model):
        os.remove(model)
    train = [churn, "train", "--data", spec["train"], "--out", model, "--test-fraction", "0",
             "--no-registry", "--json", *spec["churn_flags"], *extra]
    evaluate = [churn, "evaluate", "--model", model, "--data", spec["test"], "--json"]
    row = {"model": "churn train" + (" " + " ".join(map(shlex.quote, extra)) if extra else ""),
           "train_command": shlex.join(train), "evaluate_command": shlex.join(evaluate)}
    try:
        t = time.perf_counter()
        tr = subprocess.run(train, capture_output=True, text=True, timeout=CHURN_TIMEOUT_S)
        wall = time.perf_counter() - t
        if tr.returncode != 0:
            return {**row, "error": f"churn train exit {tr.returncode}: {tr.stderr.strip()[-2000:]}"}
        try:
            out = json.loads(tr.stdout)
        except json.JSONDecodeError:
            out = {}
        ev = subprocess.run(evaluate, capture_output=True, text=True, timeout=CHURN_TIMEOUT_S)
        if ev.returncode != 0:
            return {**row, "error": f"churn evaluate exit {ev.returncode}: {ev.stderr.strip()[-2000:]}"}
        m = json.loads(ev.stdout)
    except subprocess.TimeoutExpired as e:
        return {**row, "error": f"timed out after {CHURN_TIMEOUT_S} s: {shlex.join(e.cmd)}"}
    except (OSError, json.JSONDecodeError) as e:
        return {**row, "error": f"{type(e).__name__}: {e}"}
    nan = float("nan")  # serde_json writes a NaN metric as null
    row.update({
        "roc_auc": nan if m.get("roc_auc") is None else float(m["roc_auc"]),
        "brier": nan if m.get("brier") is None else float(m["brier"]),
        "fit_s": wall,
        "fit_s_is": "wall time of the whole churn train command",
        "churn_fit_seconds": out.get("fit_seconds"),
        "churn_seconds": out.get("seconds"),
        "model_bytes": os.path.getsize(model),
        "evaluate_rows": m.get("rows"),
        "train_notes": out.get("notes"),
    })
    return row


def no_nan(v):
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [no_nan(x) for x in v]
    return v


def fmt(v):
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"


def table(name, info, rows):
    lines = [f"### {name}: train {info['train_rows']} rows, test {info['test_rows']} rows "
             f"({100 * info['test_positive_rate']:.2f} % positive in test)", "",
             "| model | ROC-AUC | Brier | fit s |", "| --- | ---: | ---: | ---: |"]
    for r in rows:
        if r.get("shown") is False or "error" in r:
            continue
        size = f" — model file {r['model_bytes']:,} bytes" if "model_bytes" in r else ""
        lines.append(f"| {r['model']}{size} | {fmt(r['roc_auc'])} | {fmt(r['brier'])} | {r['fit_s']:.2f} |")
    notes = []
    for r in rows:
        if r.get("shown") is False:
            notes.append(f"- not shown: {r['model']}: ROC-AUC {fmt(r['roc_auc'])}, Brier {fmt(r['brier'])}, "
                         f"fit {r['fit_s']:.2f} s (the HGB variant with the higher test ROC-AUC is shown)")
        if "error" in r:
            notes.append(f"- {r['model']} failed: {r['error']}")
        if "model_bytes" in r:
            notes.append(f"- churn: fit s is the whole `churn train` command's wall time "
                         f"(its own fit_seconds: {r['churn_fit_seconds']}); `{r['train_command']}`")
    return "\n".join(lines + ([""] + notes if notes else []))


def main():
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    start = time.perf_counter()
    churn = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CHURN", "target/release/churn")
    extra = shlex.split(os.environ.get("CHURN_FLAGS", ""))
    bank_train, bank_test = split(BANK_SRC, BANK_TARGET, "bank")
    nb = [c for c in pd.read_csv(BANK_SRC, nrows=0).columns if c.startswith("Naive_Bayes_Classifier_")]
    assert len(nb) == 2, nb
    specs = [
        {"name": "telco", "train": "data/telco_train.csv", "test": "data/telco_test.csv",
         "target": "Churn", "positive": "Yes", "drop": ["customerID"], "churn_flags": []},
        {"name": "bank", "train": bank_train, "test": bank_test,
         "target": BANK_TARGET, "positive": BANK_POSITIVE, "drop": ["CLIENTNUM", *nb],
         "churn_flags": ["--target", BANK_TARGET, "--positive", BANK_POSITIVE, "--drop", ",".join(["CLIENTNUM", *nb])]},
    ]
    for extra_spec in os.environ.get("QUALITY_EXTRA", "").split():
        # FILE:TARGET:POSITIVE[:DROP,DROP...], split 80/20 like the bank file.
        src, target, positive, *rest = extra_spec.split(":")
        drop = [c for c in (rest[0] if rest else "").split(",") if c]
        name = os.path.splitext(os.path.basename(src))[0]
        train, test = split(src, target, name)
        specs.append({"name": name, "train": train, "test": test, "target": target, "positive": positive,
                      "drop": drop, "churn_flags": ["--target", target, "--positive", positive,
                                                    *(["--drop", ",".join(drop)] if drop else [])]})
    have_churn = os.path.isfile(churn) and os.access(churn, os.X_OK)
    results = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else sys.executable,
                               "bench/quality.py", *sys.argv[1:]]),
        "churn_flags_env": os.environ.get("CHURN_FLAGS", ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_1m_before": round(os.getloadavg()[0], 2)},
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__},
        "churn": {"binary": churn, "ran": have_churn},
        "datasets": {},
    }
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, pandas {pd.__version__}; "
          f"{os.cpu_count()} cpus; load average {os.getloadavg()[0]:.2f}\n")
    if not have_churn:
        print(f"note: no churn binary at {churn}: the churn rows are skipped "
              f"(build it with `cargo build --release -p trainer`, or pass its path)\n")
    for spec in specs:
        info, rows = run_sklearn(spec)
        if have_churn:
            rows.append(run_churn(churn, spec, extra))
        info.update({"train": spec["train"], "test": spec["test"], "train_sha256": sha256(spec["train"]),
                     "test_sha256": sha256(spec["test"]), "target": spec["target"], "positive": spec["positive"],
                     "dropped": spec["drop"]})
        results["datasets"][spec["name"]] = {**info, "results": rows}
        print(table(spec["name"], info, rows) + "\n", flush=True)
    results["total_seconds"] = round(time.perf_counter() - start, 2)
    path = os.path.join(OUT, "results.json")
    with open(path, "w") as f:
        # NaN (a metric churn could not compute) is written as null: results.json stays strict JSON.
        json.dump(no_nan(results), f, indent=2, allow_nan=False, default=str)
        f.write("\n")
    print(f"wrote {path} ({results['total_seconds']:.1f} s in all)")


if __name__ == "__main__":
    main()
