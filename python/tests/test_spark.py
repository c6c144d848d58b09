"""Scoring on a real Spark session (local[2], pyspark from PyPI on Java 17): the same bits as
the CLI's golden output, whatever the partitioning; and the MLflow Model as a Spark UDF."""

import os
import struct
import sys
from pathlib import Path

import pandas as pd
import pytest

import mlflow.pyfunc
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import churn_edge
import churn_edge.mlflow
import churn_edge.spark

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def bits(x):
    return struct.pack("<d", x)


@pytest.fixture(scope="module")
def spark():
    # The executors' Python must be this one (it has churn_edge), not whatever python3 is first on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("churn-edge-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def cases():
    return pd.read_csv(FIXTURES / "golden_cases.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", ["golden", "golden_gbt"])
def test_scores_equal_the_cli_for_any_partitioning(spark, cases, name):
    expected = pd.read_csv(FIXTURES / f"{name}_expected.csv", dtype=str, keep_default_na=False)
    want = {i: bits(float(p)) for i, p in zip(expected["customerID"], expected["churn_probability_raw"])}
    df = spark.createDataFrame(cases)
    model = FIXTURES / f"{name}.bin"
    seen = []
    for parts in (1, 2, 8):
        scored = churn_edge.spark.score(df.repartition(parts), model, raw=True, explain=3).toPandas()
        assert list(scored.columns) == list(expected.columns)
        assert len(scored) == len(expected)
        got = {i: bits(p) for i, p in zip(scored["customerID"], scored["churn_probability_raw"])}
        assert got == want
        by_id = scored.set_index("customerID").loc[expected["customerID"]]
        assert list(by_id["why_1"]) == list(expected["why_1"])
        assert list(by_id["why_3_value"]) == list(expected["why_3_value"])
        assert list(by_id["risk_level"]) == list(expected["risk_level"])
        seen.append(got)
    assert seen[0] == seen[1] == seen[2]


def test_typed_spark_columns_and_bytes(spark, cases):
    """Spark's own types (inferred from the CSV) and the model given as bytes."""
    df = spark.read.csv(str(FIXTURES / "golden_cases.csv"), header=True, inferSchema=True)
    assert dict(df.dtypes)["MonthlyCharges"] == "double"
    data = (FIXTURES / "golden.bin").read_bytes()
    scored = churn_edge.spark.score(df, data, raw=True).toPandas()
    expected = pd.read_csv(FIXTURES / "golden_expected.csv", dtype=str, keep_default_na=False)
    want = dict(zip(expected["customerID"], expected["churn_probability_raw"]))
    assert all(bits(p) == bits(float(want[i])) for i, p in zip(scored["customerID"], scored["churn_probability_raw"]))


def test_clear_errors(spark, cases):
    df = spark.createDataFrame(cases)
    with pytest.raises(ValueError, match="lacks column\\(s\\) the model needs: tenure"):
        churn_edge.spark.score(df.drop("tenure"), FIXTURES / "golden.bin")
    with pytest.raises(churn_edge.ModelFileError):
        churn_edge.spark.score(df, b"not a model")
    bad = cases.copy()
    bad.loc[7, "tenure"] = "abc"
    with pytest.raises(Exception, match='tenure: expected a number, got \\\\?"abc\\\\?"'):
        churn_edge.spark.score(spark.createDataFrame(bad), FIXTURES / "golden.bin").collect()


def test_mlflow_pyfunc_explain_param(cases, tmp_path):
    churn_edge.mlflow.save_model(FIXTURES / "golden.bin", tmp_path / "m")
    m = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    spec = m.metadata.get_params_schema().params
    assert [(p.name, p.dtype.name, p.default) for p in spec] == [("explain", "long", 0)]
    plain = m.predict(cases)
    assert list(plain.columns) == churn_edge.Model.scored_column_names(raw=True)
    explained = m.predict(cases, params={"explain": 3})
    want = churn_edge.Model.load(FIXTURES / "golden.bin").score(cases, raw=True, explain=3).iloc[:, 1:]
    want.index = cases.index
    assert list(explained.columns) == churn_edge.Model.scored_column_names(raw=True, explain=3)
    pd.testing.assert_frame_equal(explained, want, check_exact=True)
    assert all(bits(a) == bits(b) for a, b in zip(explained["churn_probability_raw"], plain["churn_probability_raw"]))
    with pytest.raises(ValueError, match="explain must be a whole number >= 0, got -1"):
        m.predict(cases, params={"explain": -1})


def test_mlflow_model_as_a_spark_udf(spark, cases, tmp_path):
    churn_edge.mlflow.save_model(FIXTURES / "golden_gbt.bin", tmp_path / "m")
    udf = mlflow.pyfunc.spark_udf(
        spark,
        str(tmp_path / "m"),
        result_type="churn_probability double, churn_prediction string, risk_level string, churn_probability_raw double",
        env_manager="local",
    )
    fields = [f["name"] for f in churn_edge.Model.load(FIXTURES / "golden_gbt.bin").schema["fields"]]
    df = spark.createDataFrame(cases).repartition(3)
    scored = df.select("customerID", udf(*[F.col(c) for c in fields]).alias("s")).select("customerID", "s.*").toPandas()
    expected = pd.read_csv(FIXTURES / "golden_gbt_expected.csv", dtype=str, keep_default_na=False)
    want = dict(zip(expected["customerID"], expected["churn_probability_raw"]))
    assert len(scored) == len(expected)
    assert all(bits(p) == bits(float(want[i])) for i, p in zip(scored["customerID"], scored["churn_probability_raw"]))
