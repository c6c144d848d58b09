#!/usr/bin/env python3
"""How `churn train` scales with training rows, against scikit-learn on the same rows.

For each size (default 10000 100000 1000000 rows) a synthetic Telco-like file is made by
bench/gen_churn.py (seed 0) as build/scale/telco_<ROWS>.csv (made once, reused when present),
and these commands are run back to back, each as its own process:

  a  churn rf     CHURN train --data F --out build/scale/m.bin --no-registry --test-fraction 0 --json
                        --model rf --trees 100 --max-depth 7 --min-samples-leaf 20 --mtry 4
  b  churn gbt    ... --model gbt --trees 100 --learning-rate 0.1 --max-leaves 8 --max-depth 3
                        --min-samples-leaf 20
                  (every setting given: no model selection, no early stopping)
  c  churn auto   ... with no model flags: --model auto, cross-validated model selection within
                  the default --time-budget 120 s, then the final fit. Only for ROWS <= --auto-max
                  (default 100000).
  d  sklearn RF   RandomForestClassifier(n_estimators=100, max_depth=7, min_samples_leaf=20,
                  max_features="sqrt", n_jobs=2, random_state=0)                    (like a)
  e  sklearn GB   GradientBoostingClassifier(n_estimators=100, learning_rate=0.1, max_depth=3,
                  min_samples_leaf=20, random_state=0)                              (like b)
                  Single-threaded: only for ROWS <= --gb-max (default 100000), and bounded by
                  --gb-timeout (default 900 s; reported as "timeout").
  f  sklearn HGB  HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                  max_leaf_nodes=8, max_depth=3, min_samples_leaf=20, early_stopping=False,
                  random_state=0)
  g  sklearn read only: the same process as d-f minus the fit (imports, CSV read, encoding),
                  the baseline that d-f's peak RSS includes.

scikit-learn runs in a separate process (this file with --sklearn-worker) so its peak RSS is its
own: the process reads the CSV with pandas (customerID not read; the 15 text columns parsed
straight into pandas categories; SeniorCitizen, tenure, MonthlyCharges, TotalCharges as float64,
TotalCharges' blank " " -> 0), ordinal-encodes the categories as integer codes of their sorted
levels into one float64 matrix, and fits. 19 features, like churn's. The worker reports its fit time (the .fit call only) and read time.

Measured per command: wall seconds and peak RSS (max resident set, KB) of the whole process, by
`/usr/bin/time -f "%e %M"` when it exists, else from os.wait4's rusage (both are recorded when
/usr/bin/time is used). Caveat of the wait4 fallback: Linux counts a forked child's memory
before exec in its peak, so there it is at least this Python process's RSS (~15 MB; this process
imports no numpy/pandas/sklearn for that reason); /usr/bin/time, a small C program, forks from
itself and has no such floor. For churn,
"fit s" is churn's own fit_seconds from its --json output (model selection, fit and the check of
the exported model; CSV read/parse, encoding and writing are outside it); CHURN_TIMINGS=1 is set
so churn's per-phase spans are kept in results.json. For scikit-learn "fit s" is the .fit call.

Every command has a timeout (--timeout, default 1800 s) and the whole run a budget
(--total-budget, default 5400 s): commands that would start after it are skipped.

Usage: python bench/scale.py [ROWS ...] [--auto-max N] [--gb-max N] [--gb-timeout S]
           [--timeout S] [--total-budget S] [--only a,b,...] [--merge] [--churn PATH]
  --only   run only these commands (letters above)
  --merge  keep the other (rows, command) results already in build/scale/results.json
Prints a markdown table per size; writes build/scale/results.json.
bench/scale.sh builds churn and the venv and runs this.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join("build", "scale")
GEN_SEED = 0
TIME = "/usr/bin/time"

CHURN_COMMON = ["--no-registry", "--test-fraction", "0", "--json"]
CHURN_FLAGS = {
    "a": ["--model", "rf", "--trees", "100", "--max-depth", "7", "--min-samples-leaf", "20", "--mtry", "4"],
    "b": ["--model", "gbt", "--trees", "100", "--learning-rate", "0.1", "--max-leaves", "8", "--max-depth", "3",
          "--min-samples-leaf", "20"],
    "c": [],
}
SKLEARN = {
    "d": ("rf", 'RandomForestClassifier(n_estimators=100, max_depth=7, min_samples_leaf=20, max_features="sqrt", '
                'n_jobs=2, random_state=0)'),
    "e": ("gb", "GradientBoostingClassifier(n_estimators=100, learning_rate=0.1, max_depth=3, min_samples_leaf=20, "
                "random_state=0)"),
    "f": ("hgb", "HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=8, max_depth=3, "
                 "min_samples_leaf=20, early_stopping=False, random_state=0)"),
    "g": ("none", "read + encode only, no fit (baseline of d-f)"),
}
LABEL = {"a": "churn rf", "b": "churn gbt", "c": "churn auto", "d": "sklearn RF", "e": "sklearn GB",
         "f": "sklearn HGB", "g": "sklearn read only"}
PAIRS = {"a": "d", "b": "e"}  # like-for-like: churn command -> scikit-learn command
ORDER = "abcdefg"


# ---------------------------------------------------------------- scikit-learn worker process

def worker(kind, path):
    """Runs in its own process: read, encode, fit; prints one JSON object."""
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    t_import = time.perf_counter() - t0

    t = time.perf_counter()
    # The Telco columns, read lean: categoricals straight into pandas categories (not a Python
    # string per cell), customerID not read at all, TotalCharges' blank " " as missing -> 0.
    numeric = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
    header = pd.read_csv(path, nrows=0).columns.tolist()
    features = [c for c in header if c not in ("customerID", "Churn")]
    dtypes = {c: (np.float64 if c in numeric else "category") for c in features}
    dtypes["Churn"] = "category"
    df = pd.read_csv(path, usecols=features + ["Churn"], dtype=dtypes, na_values={"TotalCharges": [" "]},
                     keep_default_na=False)
    y = (df.pop("Churn") == "Yes").to_numpy(dtype=np.int64)
    X = np.empty((len(df), len(features)), dtype=np.float64)
    for j, c in enumerate(features):
        if c in numeric:
            X[:, j] = df[c].fillna(0.0).to_numpy()
        else:  # integer codes of the sorted levels
            X[:, j] = df[c].cat.reorder_categories(sorted(df[c].cat.categories)).cat.codes.to_numpy()
    del df
    read_s = time.perf_counter() - t

    model = {
        "rf": lambda: RandomForestClassifier(n_estimators=100, max_depth=7, min_samples_leaf=20, max_features="sqrt",
                                             n_jobs=2, random_state=0),
        "gb": lambda: GradientBoostingClassifier(n_estimators=100, learning_rate=0.1, max_depth=3,
                                                 min_samples_leaf=20, random_state=0),
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=8, max_depth=3,
                                                      min_samples_leaf=20, early_stopping=False, random_state=0),
        "none": lambda: None,
    }[kind]()
    fit_s = None
    if model is not None:
        t = time.perf_counter()
        model.fit(X, y)
        fit_s = time.perf_counter() - t
    print(json.dumps({"kind": kind, "rows": int(X.shape[0]), "features": int(X.shape[1]),
                      "positive_rate": float(y.mean()), "import_s": t_import, "read_s": read_s, "fit_s": fit_s,
                      "sklearn": sklearn.__version__, "pandas": pd.__version__, "numpy": np.__version__}))


# ---------------------------------------------------------------- measuring one command

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def measure(cmd, timeout, env=None):
    """Runs cmd (stdout/stderr captured to files) with a timeout; wall seconds and peak RSS."""
    use_time = os.access(TIME, os.X_OK)
    with tempfile.TemporaryDirectory() as tmp:
        tfile = os.path.join(tmp, "time")
        full = [TIME, "-f", "%e %M", "-o", tfile, *cmd] if use_time else list(cmd)
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t = time.perf_counter()
            p = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=True)
            timed_out = threading.Event()

            def kill():
                timed_out.set()
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)
            finally:
                timer.cancel()
            wall = time.perf_counter() - t
            p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        with open(out_path, errors="replace") as f:
            stdout = f.read()
        with open(err_path, errors="replace") as f:
            stderr = f.read()
        r = {"wall_s_perf_counter": wall, "wait4_maxrss_kb": ru.ru_maxrss, "user_s": ru.ru_utime,
             "sys_s": ru.ru_stime, "timed_out": timed_out.is_set(), "rss_method": "wait4", "wall_s": wall,
             "max_rss_kb": ru.ru_maxrss}
        if use_time:
            try:
                with open(tfile) as f:
                    lines = [l for l in f.read().splitlines() if l.strip()]
                e, m = lines[-1].split()
                r.update(wall_s=float(e), max_rss_kb=int(m), rss_method="/usr/bin/time -f '%e %M'")
                if len(lines) > 1:  # "Command exited with non-zero status N" / "terminated by signal"
                    r["time_note"] = " ".join(lines[:-1])
                # GNU time exits with the child's status (or 128+signal when it was killed).
            except (OSError, ValueError, IndexError) as ex:
                why = "killed at the timeout" if timed_out.is_set() else f"could not read its output ({ex})"
                r["time_note"] = f"{TIME} {why}; wait4 values used"
        r["exit"] = p.returncode
        return r, stdout, stderr


# ---------------------------------------------------------------- the benchmark

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_data(rows):
    path = os.path.join(OUT, f"telco_{rows}.csv")
    info = {"file": path}
    if os.path.exists(path):
        info["generated"] = "reused"
    else:
        cmd = [sys.executable, os.path.join("bench", "gen_churn.py"), str(rows), path, "--seed", str(GEN_SEED)]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        info.update(generated=shlex.join(cmd), gen_s=round(time.perf_counter() - t, 2))
    info["bytes"] = os.path.getsize(path)
    return info


def churn_run(churn, key, path, timeout):
    model = os.path.join(OUT, "m.bin")
    if os.path.exists(model):
        os.remove(model)
    cmd = [churn, "train", "--data", path, "--out", model, *CHURN_COMMON, *CHURN_FLAGS[key]]
    env = dict(os.environ, CHURN_TIMINGS="1")
    binary = sha256(churn)  # per command: the binary may be rebuilt while the benchmark runs
    r, stdout, stderr = measure(cmd, timeout, env)
    row = {"command": shlex.join(cmd), "env": "CHURN_TIMINGS=1", "churn_sha256": binary, **r}
    if binary != sha256(churn):
        row["warning"] = f"{churn} changed while this command ran"
    spans, other = {}, []
    for line in stderr.splitlines():
        parts = line.split()
        if line.startswith("timing ") and "ms" in parts:
            # "timing <what...> <ms> ms  (at <ms> ms)"
            i = parts.index("ms")
            spans[" ".join(parts[1:i - 1])] = float(parts[i - 1]) / 1e3
        elif line.strip():
            other.append(line)
    row["spans_s"] = spans
    if other:
        row["stderr"] = "\n".join(other)[-4000:]
    if r["timed_out"]:
        row["error"] = f"timeout after {timeout:.0f} s"
        return row
    if r["exit"] != 0:
        row["error"] = f"exit {r['exit']}"
        return row
    try:
        out = json.loads(stdout)
    except json.JSONDecodeError as e:
        row["error"] = f"stdout is not JSON ({e}): {stdout[-500:]!r}"
        return row
    card = out.get("card", {})
    row.update(fit_s=out.get("fit_seconds"), churn_seconds=out.get("seconds"), params=card.get("params"),
               rows_train=card.get("rows_train"), selection_candidates=len(card.get("selection") or []),
               notes=out.get("notes"), nodes=out.get("nodes"), model_bytes=out.get("bytes"))
    if card.get("selection"):
        row["selection"] = card["selection"]
    return row


def sklearn_run(key, path, timeout):
    kind, settings = SKLEARN[key]
    cmd = [sys.executable, os.path.abspath(__file__), "--sklearn-worker", kind, path]
    r, stdout, stderr = measure(cmd, timeout)
    row = {"command": shlex.join(cmd), "settings": settings, **r}
    if stderr.strip():
        row["stderr"] = stderr.strip()[-4000:]
    if r["timed_out"]:
        row["error"] = f"timeout after {timeout:.0f} s"
        return row
    if r["exit"] != 0:
        row["error"] = f"exit {r['exit']}"
        return row
    try:
        out = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as e:
        row["error"] = f"worker output is not JSON ({e})"
        return row
    row.update(fit_s=out["fit_s"], read_s=out["read_s"], import_s=out["import_s"], features=out["features"],
               rows_train=out["rows"], positive_rate=out["positive_rate"])
    return row


def settings_of(key, row):
    if key in SKLEARN:
        return SKLEARN[key][1]
    flags = " ".join(CHURN_FLAGS[key]) or "(default --model auto, --time-budget 120)"
    if key == "c" and row.get("params"):
        p = dict(row["params"])
        for k in ("seed", "test_fraction"):
            p.pop(k, None)
        kind = p.pop("model_kind", "?")
        flags += f"; chose {kind}: " + ", ".join(f"{k}={v}" for k, v in p.items())
        flags += f"; {row.get('selection_candidates', 0)} candidates scored"
    return flags


def fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def table(rows, runs):
    by = {r["tool_key"]: r for r in runs if r["rows"] == rows}
    lines = [f"### {rows:,} training rows", "",
             "| | tool | settings | wall s | fit s | peak RSS MB | churn/sklearn wall | churn/sklearn fit | "
             "churn/sklearn RSS |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for key in ORDER:
        r = by.get(key)
        if r is None:
            continue
        if r.get("skipped"):
            lines.append(f"| {key} | {LABEL[key]} | {settings_of(key, r)} | skipped: {r['skipped']} | | | | | |")
            continue
        if r.get("error"):
            wall = "timeout" if r.get("timed_out") else f"error ({r['error']})"
            lines.append(f"| {key} | {LABEL[key]} | {settings_of(key, r)} | {wall} ({fmt(r['wall_s'], 1)} s) | | "
                         f"{fmt(r['max_rss_kb'] / 1024, 0)} | | | |")
            continue
        ratio = ["", "", ""]
        other = by.get(PAIRS.get(key))
        if other and not other.get("error") and not other.get("skipped"):
            ratio = [f"{r['wall_s'] / other['wall_s']:.2f} (vs {PAIRS[key]})",
                     f"{r['fit_s'] / other['fit_s']:.2f}" if r.get("fit_s") and other.get("fit_s") else "",
                     f"{r['max_rss_kb'] / other['max_rss_kb']:.2f}"]
        lines.append(f"| {key} | {LABEL[key]} | {settings_of(key, r)} | {fmt(r['wall_s'])} | {fmt(r.get('fit_s'))} | "
                     f"{fmt(r['max_rss_kb'] / 1024, 0)} | {' | '.join(ratio)} |")
    b, f = by.get("b"), by.get("f")
    ok = lambda x: x and not x.get("error") and not x.get("skipped")
    extra = []
    if ok(b) and ok(f):
        extra.append(f"churn gbt / sklearn HGB (b/f): wall {b['wall_s'] / f['wall_s']:.2f}, "
                     f"fit {b['fit_s'] / f['fit_s']:.2f}, RSS {b['max_rss_kb'] / f['max_rss_kb']:.2f}")
    notes = sorted({n for r in by.values() for n in (r.get("notes") or []) if "detected id column" not in n})
    extra += [f"churn note: {n}" for n in notes]
    shas = sorted({r["churn_sha256"][:12] for r in by.values() if r.get("churn_sha256")})
    if len(shas) > 1:
        extra.append(f"WARNING: churn binary changed between commands (sha256 {', '.join(shas)})")
    extra += [f"WARNING ({r['tool_key']}): {r['warning']}" for r in by.values() if r.get("warning")]
    if extra:
        lines += [""] + [f"- {e}" for e in extra]
    return "\n".join(lines)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--sklearn-worker":
        worker(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--auto-max", type=int, default=100_000, help="run c (churn auto) only up to this many rows")
    ap.add_argument("--gb-max", type=int, default=100_000, help="run e (sklearn GB) only up to this many rows")
    ap.add_argument("--gb-timeout", type=float, default=900, help="timeout of e, seconds")
    ap.add_argument("--timeout", type=float, default=1800, help="timeout of every other command, seconds")
    ap.add_argument("--total-budget", type=float, default=5400, help="no command starts after this many seconds")
    ap.add_argument("--only", default=ORDER, help="commands to run, e.g. a,b,d,f")
    ap.add_argument("--merge", action="store_true", help="keep other results already in results.json")
    ap.add_argument("--churn", default=os.environ.get("CHURN", os.path.join("target", "release", "churn")))
    a = ap.parse_args()
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    only = set(a.only.replace(",", ""))
    if not only <= set(ORDER):
        sys.exit(f"--only: unknown commands {sorted(only - set(ORDER))}; use letters from {ORDER}")
    churn = a.churn if os.path.isabs(a.churn) else os.path.join(".", a.churn) if os.sep in a.churn else a.churn
    if not os.path.exists(churn):
        sys.exit(f"{churn} does not exist (bench/scale.sh builds it)")

    started = time.time()
    load0 = loadavg()
    print(f"scale: load average at start {load0}, {os.cpu_count()} cores", file=sys.stderr, flush=True)
    # Versions for the record, without importing them: this process stays small, since a forked
    # child's rusage peak (the os.wait4 fallback) counts the parent's memory until exec.
    from importlib.metadata import version
    meta = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": load0, "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "sklearn": version("scikit-learn"), "pandas": version("pandas"),
        "numpy": version("numpy"), "churn": churn, "churn_sha256": sha256(churn),
        "churn_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(churn), datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        "argv": sys.argv[1:], "rss_method": "/usr/bin/time" if os.access(TIME, os.X_OK) else "os.wait4",
        "generator": f"bench/gen_churn.py ROWS build/scale/telco_ROWS.csv --seed {GEN_SEED}",
    }
    results_path = os.path.join(OUT, "results.json")
    runs, datasets = [], {}
    if a.merge and os.path.exists(results_path):
        with open(results_path) as f:
            old = json.load(f)
        runs, datasets = old.get("runs", []), old.get("datasets", {})
        meta["previous_runs_meta"] = old.get("meta_history", []) + [old.get("meta")]

    def record(row):
        runs[:] = [r for r in runs if (r["rows"], r["tool_key"]) != (row["rows"], row["tool_key"])] + [row]
        with open(results_path, "w") as f:
            json.dump({"meta": {k: v for k, v in meta.items() if k != "previous_runs_meta"},
                       "meta_history": meta.get("previous_runs_meta", []), "datasets": datasets,
                       "runs": runs}, f, indent=1)

    for rows in a.rows:
        datasets[str(rows)] = make_data(rows)
        path = datasets[str(rows)]["file"]
        for key in ORDER:
            if key not in only:
                continue
            row = {"rows": rows, "tool_key": key, "tool": LABEL[key], "file": path}
            elapsed = time.time() - started
            timeout = a.gb_timeout if key == "e" else a.timeout
            if key == "c" and rows > a.auto_max:
                row["skipped"] = f"rows > --auto-max {a.auto_max}"
            elif key == "e" and rows > a.gb_max:
                row["skipped"] = f"rows > --gb-max {a.gb_max}"
            elif elapsed >= a.total_budget:
                row["skipped"] = f"--total-budget {a.total_budget:.0f} s spent"
            if row.get("skipped"):
                print(f"scale: {rows} {key} {LABEL[key]}: skipped ({row['skipped']})", file=sys.stderr, flush=True)
                record(row)
                continue
            row["loadavg_before"] = loadavg()
            row["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            print(f"scale: {rows} {key} {LABEL[key]} (load {row['loadavg_before']}) ...", file=sys.stderr, flush=True)
            if key in CHURN_FLAGS:
                row.update(churn_run(churn, key, path, timeout))
            else:
                row.update(sklearn_run(key, path, timeout))
            row["loadavg_after"] = loadavg()
            print(f"scale: {rows} {key} {LABEL[key]}: wall {row['wall_s']:.2f} s, fit {fmt(row.get('fit_s'))} s, "
                  f"peak RSS {row['max_rss_kb'] / 1024:.0f} MB" + (f"  ERROR {row['error']}" if row.get("error") else ""),
                  file=sys.stderr, flush=True)
            record(row)
        print(table(rows, runs) + "\n", flush=True)
    meta["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    meta["total_s"] = round(time.time() - started, 1)
    meta["loadavg_end"] = loadavg()
    if runs:
        record(runs[-1])
    print(f"wrote {results_path} (load average at start {load0}, total {meta['total_s']} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
