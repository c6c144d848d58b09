"""churn_edge against scikit-learn on the same rows, in the same run (bench/python.sh).

1. In memory: `Model.score(pyarrow_table)` of N rows (default 1,000,000, resampled from Telco)
   against `predict_proba` of a fitted scikit-learn pipeline (one-hot + imputation +
   RandomForestClassifier(100) with scikit-learn's defaults, n_jobs=2; also with depth 7 and
   leaves of 20) on the same rows as a pandas DataFrame.
2. Spark local[2]: `churn_edge.spark.score` against the same scikit-learn pipeline logged as an
   MLflow pyfunc and applied with `mlflow.pyfunc.spark_udf`, both written to Spark's `noop` sink;
   and Spark's own floor: a `mapInArrow` that only hands the ids back.
3. `import churn_edge` + `Model.load`, in a fresh interpreter; the wheel's size.
Medians of --repeat alternating rounds; ratios are ours / theirs in rows per second.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import churn_edge
import churn_edge.spark

ROOT = Path(__file__).resolve().parents[1]


def alternating(fs, repeat):
    """Runs each function once per round, `repeat` rounds (so a burst of load hits every
    contender alike); returns each one's (median, times)."""
    times = [[] for _ in fs]
    for _ in range(repeat):
        for f, t in zip(fs, times):
            start = time.perf_counter()
            f()
            t.append(time.perf_counter() - start)
    return [(statistics.median(t), t) for t in times]


def sklearn_pipeline(model, **forest):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    fields = model.schema["fields"]
    cats = [f["name"] for f in fields if f["kind"] == "categorical"]
    nums = [f["name"] for f in fields if f["kind"] == "numeric"]
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ("num", SimpleImputer(), nums),
    ])
    pipe = make_pipeline(pre, RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0, **forest))
    train = pd.read_csv(ROOT / "data" / "telco_train.csv")
    train["TotalCharges"] = pd.to_numeric(train["TotalCharges"], errors="coerce")
    for c in cats:
        train[c] = train[c].astype(str)
    pipe.fit(train[cats + nums], train["Churn"] == "Yes")
    return pipe, cats, nums


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--skip-spark", action="store_true")
    a = ap.parse_args()
    out = {"rows": a.rows}

    model = churn_edge.Model.load(a.model)
    # scikit-learn's defaults (100 trees, grown until pure), and a shallow forest like churn's
    # random-forest candidates (depth 7, leaves of 20 or more).
    pipe, cats, nums = sklearn_pipeline(model)
    shallow, _, _ = sklearn_pipeline(model, max_depth=7, min_samples_leaf=20)
    src = pd.read_csv(ROOT / "data" / "telco_train.csv")
    src["TotalCharges"] = pd.to_numeric(src["TotalCharges"], errors="coerce")
    for c in cats:
        src[c] = src[c].astype(str)
    rng = np.random.default_rng(0)
    df = src.iloc[rng.integers(0, len(src), a.rows)].reset_index(drop=True)
    table = pa.Table.from_pandas(df, preserve_index=False).combine_chunks()

    (ours, ours_all), (theirs, theirs_all), (shallow_s, shallow_all) = alternating(
        [lambda: model.score(table, raw=True), lambda: pipe.predict_proba(df[cats + nums]),
         lambda: shallow.predict_proba(df[cats + nums])], a.repeat)
    out["memory"] = {
        "churn_edge_rows_per_s": a.rows / ours, "churn_edge_s": ours_all,
        "sklearn_rows_per_s": a.rows / theirs, "sklearn_s": theirs_all,
        "ratio": theirs / ours,
        "sklearn_depth7_rows_per_s": a.rows / shallow_s, "sklearn_depth7_s": shallow_all,
        "ratio_depth7": shallow_s / ours,
    }
    print(json.dumps(out["memory"]), file=sys.stderr)

    if not a.skip_spark:
        import mlflow.pyfunc
        import mlflow.sklearn
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
                 .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
                 .config("spark.driver.memory", "4g")
                 .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        sdf = spark.createDataFrame(df).repartition(2).cache()
        sdf.count()
        with tempfile.TemporaryDirectory() as tmp:
            from mlflow.models import infer_signature

            sample = df[cats + nums].head(100)
            mlflow.sklearn.save_model(pipe, os.path.join(tmp, "sk"), serialization_format="cloudpickle",
                                      pyfunc_predict_fn="predict_proba",
                                      signature=infer_signature(sample, pipe.predict_proba(sample)))
            udf = mlflow.pyfunc.spark_udf(spark, os.path.join(tmp, "sk"), result_type="array<double>",
                                          env_manager="local")

            def run_ours():
                churn_edge.spark.score(sdf, a.model, raw=True).write.format("noop").mode("overwrite").save()

            def run_theirs():
                sdf.select("customerID", udf(*[F.col(c) for c in cats + nums]).alias("p")) \
                    .write.format("noop").mode("overwrite").save()

            fields = ["customerID"] + cats + nums

            def identity(batches):
                for b in batches:
                    yield b.select([0])

            def run_floor():
                # What Spark alone costs: the same columns to Python and the ids back, no scoring.
                sdf.select(*fields).mapInArrow(identity, "customerID string") \
                    .write.format("noop").mode("overwrite").save()

            run_ours()  # the first job also starts the Python workers: not timed
            (ours, ours_all), (theirs, theirs_all), (floor, floor_all) = alternating(
                [run_ours, run_theirs, run_floor], a.repeat)
        spark.stop()
        out["spark"] = {
            "churn_edge_rows_per_s": a.rows / ours, "churn_edge_s": ours_all,
            "sklearn_udf_rows_per_s": a.rows / theirs, "sklearn_udf_s": theirs_all,
            "ratio": theirs / ours,
            "identity_map_in_arrow_s": floor_all, "ratio_ceiling": theirs / floor,
        }
        print(json.dumps(out["spark"]), file=sys.stderr)

    load = []
    for _ in range(5):
        code = ("import time; t=time.perf_counter(); import churn_edge; churn_edge.Model.load(%r); "
                "print(time.perf_counter()-t)") % a.model
        load.append(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True).stdout))
    out["import_and_load_ms"] = statistics.median(load) * 1000
    out["wheel_bytes"] = os.path.getsize(a.wheel)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
