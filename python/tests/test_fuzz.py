"""The Python entry points on the fuzzers' committed seeds and on damaged model files: every
input gives a result or a Python exception, never a crash of the interpreter."""

import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

import churn_edge

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"


def seeds(kind):
    files = sorted((CORPUS / kind).iterdir())
    assert len(files) > 100, f"the committed {kind} seeds are missing"
    return [f.read_bytes() for f in files]


def test_model_bytes_from_the_artifact_seeds_and_damage():
    inputs = seeds("artifact") + [p.read_bytes() for p in (ROOT / "fuzz" / "regressions" / "artifact").iterdir()]
    good = (FIXTURES / "golden.bin").read_bytes()
    rng = random.Random(7)
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        inputs.append(bytes(damaged))
        inputs.append(good[: rng.randrange(len(good))])
    loaded = refused = 0
    for data in inputs:
        try:
            m = churn_edge.Model.from_bytes(data)
        except churn_edge.ModelFileError as e:
            assert str(e)
            refused += 1
            continue
        loaded += 1
        m.info  # noqa: B018 - every view of a model that loaded must work
        m.schema  # noqa: B018
    assert refused > 300 and loaded >= 1


def test_records_from_the_record_seeds():
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    names = [f["name"] for f in model.schema["fields"]]
    outcomes = {"scored": 0, "refused": 0}
    for data in seeds("record"):
        text = data.decode("utf-8", errors="replace")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = dict(zip(names, text.split(",")))
        for call in (model.predict, model.probability, lambda r: model.explain(r, top=3)):
            try:
                call(value)
                outcomes["scored"] += 1
            except (churn_edge.InputError, TypeError):
                outcomes["refused"] += 1
        out = model.predict_batch(value if isinstance(value, list) else [value])
        assert isinstance(out, list)
        # The same cells as a one-row table of text.
        cells = text.split(",")
        table = pa.table({n: [cells[i] if i < len(cells) else None] for i, n in enumerate(names)})
        try:
            model.score(table, raw=True, explain=2)
        except churn_edge.InputError as e:
            assert e.row == 0
    assert outcomes["scored"] > 0 and outcomes["refused"] > 0


@pytest.mark.parametrize("bad", [None, 3, "text", b"bytes", [1], {"a": {"b": []}}])
def test_odd_python_values(bad):
    model = churn_edge.Model.load(FIXTURES / "golden.bin")
    with pytest.raises((churn_edge.InputError, TypeError)):
        model.predict(bad)
    rec = {f["name"]: bad for f in model.schema["fields"]}
    with pytest.raises(churn_edge.InputError) as info:
        model.predict(rec)
    assert info.value.details and all(d["message"] for d in info.value.details)
    with pytest.raises(churn_edge.InputError):
        model.explain(rec, top=2)
