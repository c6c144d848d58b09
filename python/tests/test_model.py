"""churn_edge against the golden files and the CLI: the same core, so the same bits."""

import json
import math
import os
import struct
import subprocess
import warnings
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import churn_edge

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CHURN = Path(os.environ.get("CHURN", ROOT / "target" / "release" / "churn"))


def bits(x):
    return struct.pack("<d", x)


def read_text_csv(path):
    """Every cell as the text the CSV holds ("" for a blank), as the CLI reads it."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module", params=["golden", "golden_gbt"])
def golden(request):
    name = request.param
    model = churn_edge.Model.load(FIXTURES / f"{name}.bin")
    expected = read_text_csv(FIXTURES / f"{name}_expected.csv")
    return model, expected


def test_golden_cases_bit_for_bit(golden):
    model, expected = golden
    cases = read_text_csv(FIXTURES / "golden_cases.csv")
    scored = model.score(cases, raw=True, explain=3)
    assert list(scored.columns) == list(expected.columns)
    assert len(scored) == len(expected) == 1417
    for got, want in zip(scored["churn_probability_raw"], expected["churn_probability_raw"]):
        assert bits(got) == bits(float(want))
    for got, want in zip(scored["churn_probability"], expected["churn_probability"]):
        assert bits(got) == bits(float(want))
    for col in ["customerID", "churn_prediction", "risk_level", "why_1", "why_1_value", "why_2", "why_3_value"]:
        assert list(scored[col]) == list(expected[col]), col
    for k in (1, 2, 3):
        got = scored[f"why_{k}_contribution"]
        want = expected[f"why_{k}_contribution"]
        assert all(bits(g) == bits(float(w)) for g, w in zip(got, want))


def test_typed_columns_score_as_text_does(golden):
    """pandas' own types (ints, floats, NaN for blanks) give the same bits as the CSV's text."""
    model, expected = golden
    typed = pd.read_csv(FIXTURES / "golden_cases.csv")
    assert typed["tenure"].dtype.kind in "if"
    scored = model.score(typed, raw=True)
    assert [bits(x) for x in scored["churn_probability_raw"]] == [
        bits(float(w)) for w in expected["churn_probability_raw"]
    ]


def test_pandas_polars_pyarrow_agree(golden):
    model, _ = golden
    cases = pd.read_csv(FIXTURES / "golden_cases.csv")
    from_pandas = model.score(cases, raw=True, explain=2)
    from_polars = model.score(pl.read_csv(FIXTURES / "golden_cases.csv", infer_schema_length=0), raw=True, explain=2)
    table = pa.Table.from_pandas(cases, preserve_index=False)
    from_arrow = model.score(table, raw=True, explain=2)
    batch = model.score(table.combine_chunks().to_batches()[0], raw=True, explain=2)
    assert isinstance(from_pandas, pd.DataFrame)
    assert isinstance(from_polars, pl.DataFrame)
    assert isinstance(from_arrow, pa.Table)
    assert isinstance(batch, pa.RecordBatch)
    raw = [bits(x) for x in from_pandas["churn_probability_raw"]]
    assert [bits(x) for x in from_polars["churn_probability_raw"]] == raw
    assert [bits(x) for x in from_arrow.column("churn_probability_raw").to_pylist()] == raw
    assert [bits(x) for x in batch.column("churn_probability_raw").to_pylist()] == raw
    assert from_polars["why_1"].to_list() == list(from_pandas["why_1"])


def test_many_chunks_and_threads_keep_order():
    """A table in many record batches, scored on 1 and 4 threads: rows stay in order."""
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    cases = pa.Table.from_pandas(read_text_csv(FIXTURES / "golden_cases.csv"), preserve_index=False)
    big = pa.concat_tables([cases] * 8)  # 11,336 rows in 8 chunks
    one = model.score(big, raw=True, threads=1)
    four = model.score(big.combine_chunks(), raw=True, threads=4)
    assert one.column("churn_probability_raw").to_pylist() == four.column("churn_probability_raw").to_pylist()
    assert one.column("customerID").to_pylist() == big.column("customerID").to_pylist()


def test_row_numbers_without_an_id_column():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    cases = read_text_csv(FIXTURES / "golden_cases.csv").drop(columns=["customerID"])
    table = pa.concat_tables([pa.Table.from_pandas(cases, preserve_index=False)] * 2)
    scored = model.score(table)
    assert scored.column_names[0] == "row"
    assert scored.column("row").to_pylist() == list(range(1, 2 * len(cases) + 1))
    with_id = model.score(read_text_csv(FIXTURES / "golden_cases.csv"), id_column="gender")
    assert list(with_id.columns)[0] == "gender"


def test_equal_to_cli_score_and_evaluate(tmp_path):
    assert CHURN.exists(), f"{CHURN} is missing: build it (scripts/test-python.sh does)"
    model_path = FIXTURES / "golden_gbt.bin"
    data = ROOT / "data" / "telco_test.csv"
    out = tmp_path / "scores.csv"
    subprocess.run([CHURN, "score", "--model", model_path, "--data", data, "--out", out, "--raw", "--explain", "2"],
                   check=True, capture_output=True)
    cli = read_text_csv(out)
    model = churn_edge.Model.load(model_path)
    scored = model.score(pd.read_csv(data), raw=True, explain=2)
    assert [bits(x) for x in scored["churn_probability_raw"]] == [bits(float(x)) for x in cli["churn_probability_raw"]]
    assert list(scored["why_2"]) == list(cli["why_2"])
    cli_eval = json.loads(subprocess.run([CHURN, "evaluate", "--model", model_path, "--data", data, "--json"],
                                         check=True, capture_output=True, text=True).stdout)
    assert model.evaluate(pd.read_csv(data)) == cli_eval


def test_predict_explain_and_batch_agree_with_score():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    cases = read_text_csv(FIXTURES / "golden_cases.csv").head(50)
    scored = model.score(cases, raw=True)
    records = cases.to_dict("records")
    batch = model.predict_batch(records)
    for rec, out, (_, row) in zip(records, batch, scored.iterrows()):
        one = model.predict(rec)
        assert one == out
        assert one["churn_probability"] == row["churn_probability"]
        assert one["churn_prediction"] == row["churn_prediction"]
        assert one["model_version"] == "golden-1"
        assert bits(model.probability(rec)) == bits(row["churn_probability_raw"])
        e = model.explain(rec, top=100)
        assert bits(e["churn_probability_raw"]) == bits(row["churn_probability_raw"])
        total = e["base_value"] + sum(f["contribution"] for f in e["top_factors"])
        assert abs(total - e["churn_probability_raw"]) < 1e-12
        assert len(e["top_factors"]) == 19
        assert e["top_factors"][0]["value"] == rec[e["top_factors"][0]["field"]]
    assert len(model.explain(records[0])["top_factors"]) == 5


def test_input_errors_name_the_row_and_field():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    good = read_text_csv(FIXTURES / "golden_cases.csv").head(3).to_dict("records")[0]
    with pytest.raises(churn_edge.InputError) as info:
        model.predict({**good, "tenure": "abc"})
    e = info.value
    assert isinstance(e, ValueError)
    assert (e.row, e.field, e.message) == (None, "tenure", 'tenure: expected a number, got "abc"')
    assert e.details == [{"row": None, "field": "tenure", "message": 'expected a number, got "abc"'}]
    with pytest.raises(churn_edge.InputError, match="unknown category"):
        model.predict({**good, "Contract": "Ten years"})
    with pytest.raises(churn_edge.InputError, match="missing field: tenure"):
        model.predict({k: v for k, v in good.items() if k != "tenure"})
    with pytest.raises(churn_edge.InputError, match="expected a dict"):
        model.predict([1, 2])

    table = pd.concat([read_text_csv(FIXTURES / "golden_cases.csv")] * 4, ignore_index=True)
    table.loc[4321, "MonthlyCharges"] = "lots"
    table.loc[5000, "tenure"] = "x"  # a later bad row, scored by another thread
    with pytest.raises(churn_edge.InputError) as info:
        model.score(table, threads=3)
    assert info.value.row == 4321
    assert info.value.field == "MonthlyCharges"
    assert str(info.value).startswith("row 4321: MonthlyCharges: expected a number")

    batch = model.predict_batch([good, {**good, "tenure": None, "gender": 5}, "x"])
    assert batch[0]["churn_prediction"] in ("Yes", "No")
    assert batch[1]["row"] == 1 and [d["field"] for d in batch[1]["details"]] == ["gender"]
    assert batch[2]["details"] == [{"row": 2, "field": None, "message": "expected a dict with the customer's fields, got a str"}]


def test_table_errors():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    cases = read_text_csv(FIXTURES / "golden_cases.csv")
    with pytest.raises(ValueError, match="lacks column\\(s\\) the model needs: tenure, Contract"):
        model.score(cases.drop(columns=["tenure", "Contract"]))
    with pytest.raises(TypeError, match="expected a table"):
        model.score([{"a": 1}])
    with pytest.raises(ValueError, match="has Arrow type"):
        model.score(pa.table({**{c: cases[c] for c in cases.columns}, "tenure": pa.array([[1]] * len(cases))}))
    with pytest.raises(ValueError, match="no target column \"churned\""):
        model.evaluate(cases, target="churned")
    with pytest.raises(churn_edge.ModelFileError, match="golden_cases.csv"):
        churn_edge.Model.load(FIXTURES / "golden_cases.csv")
    with pytest.raises(FileNotFoundError):
        churn_edge.Model.load(FIXTURES / "nope.bin")


def test_evaluate_counts_unusable_labels():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    cases = read_text_csv(FIXTURES / "golden_cases.csv").head(400).copy()
    cases.loc[[3, 9], "Churn"] = "maybe"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = model.evaluate(cases)
    assert m["unusable_labels"] == 2 and m["rows"] == 398
    assert "2 row(s) have a Churn that is neither" in str(caught[0].message)
    assert 0.5 < m["roc_auc"] <= 1 and len(m["roc"]) > 2
    assert list(m)[:3] == ["rows", "unusable_labels", "roc_auc"]


def test_schema_info_and_types():
    model = churn_edge.Model.load(FIXTURES / "golden_gbt.bin")
    assert model.schema["id_column"] == "customerID"
    assert [f["name"] for f in model.schema["fields"]][:2] == ["gender", "SeniorCitizen"]
    info = model.info
    assert info["model_kind"] == "gbt"
    assert info["file_bytes"] == (FIXTURES / "golden_gbt.bin").stat().st_size
    cli = json.loads(subprocess.run([CHURN, "inspect", FIXTURES / "golden_gbt.bin", "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    assert cli == info
    assert churn_edge.Model.scored_column_names(raw=True, explain=1) == [
        "churn_probability", "churn_prediction", "risk_level", "churn_probability_raw",
        "why_1", "why_1_value", "why_1_contribution",
    ]
    assert "Scores a table" in churn_edge.Model.score.__doc__
    assert repr(model).startswith("<churn_edge.Model gbt")


def test_old_formats_load():
    for name in ("format_v1.bin", "format_v2.bin"):
        m = churn_edge.Model.load(FIXTURES / name)
        assert m.score(read_text_csv(FIXTURES / "golden_cases.csv").head(10)).shape[0] == 10


def test_nan_and_null_are_missing():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    rec = read_text_csv(FIXTURES / "golden_cases.csv").head(1).to_dict("records")[0]
    blank = model.probability({**rec, "TotalCharges": ""})
    assert bits(model.probability({**rec, "TotalCharges": None})) == bits(blank)
    df = pd.DataFrame([{**rec, "TotalCharges": math.nan}])
    assert bits(model.score(df, raw=True)["churn_probability_raw"][0]) == bits(blank)
    with pytest.raises(churn_edge.InputError, match="finite"):
        model.predict({**rec, "TotalCharges": math.inf})


def test_version_is_the_cli_version():
    """`churn train` logs MLmodels requiring churn-edge==<its own version>: they must be equal."""
    import re

    root = (ROOT / "Cargo.toml").read_text()
    workspace = re.search(r'\[workspace.package\][^\[]*?version = "([^"]+)"', root).group(1)
    assert churn_edge.__version__ == workspace
    import importlib.metadata

    assert importlib.metadata.version("churn-edge") == workspace
    out = subprocess.run([CHURN, "--version"], check=True, capture_output=True, text=True).stdout
    assert out.split()[-1] == workspace


def test_help_reads_well():
    import pydoc

    text = pydoc.render_doc(churn_edge.Model, renderer=pydoc.plaintext)
    for words in ["Model.load(path)", "score(self, /, table, raw=False, explain=0, id_column=None, threads=0)",
                  "InputError", "churn evaluate --json"]:
        assert words in text, words
