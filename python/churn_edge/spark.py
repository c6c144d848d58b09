"""Scoring a Spark DataFrame with the same core, through ``mapInArrow`` (Spark 3.3+).

The model's bytes are broadcast once; each Python worker loads them once and scores whole Arrow
record batches, with no Python object per row. Spark runs the partitions side by side, so each
batch is scored on one thread.
"""

from __future__ import annotations

import hashlib
import os

from ._native import Model

_loaded: dict = {}


def _model(key: str, broadcast) -> Model:
    """The model of this broadcast, loaded once per Python worker."""
    model = _loaded.get(key)
    if model is None:
        model = _loaded[key] = Model.from_bytes(broadcast.value)
    return model


def _bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    with open(os.fspath(model), "rb") as f:
        return f.read()


def output_schema(df, model: Model, raw: bool = False, explain: int = 0, id_column: str | None = None):
    """The Spark schema :func:`score` returns for ``df``."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    id_field = df.schema[id_column]
    fields = [id_field]
    for k, name in enumerate(Model.scored_column_names(raw=raw, explain=explain)):
        double = name in ("churn_probability", "churn_probability_raw") or name.endswith("_contribution")
        fields.append(StructField(name, DoubleType() if double else StringType(), nullable=k >= 3))
    return StructType(fields)


def score(df, model, raw: bool = False, explain: int = 0, id_column: str | None = None):
    """Scores a Spark DataFrame. ``model`` is a model file's path or its bytes.

    Returns a DataFrame with the id column (the model's, or ``id_column``) and the columns
    ``churn score`` writes: ``churn_probability``, ``churn_prediction``, ``risk_level``, with
    ``raw=True`` ``churn_probability_raw``, with ``explain=k`` ``why_i``, ``why_i_value``,
    ``why_i_contribution``. A row the model refuses fails the job with the model's message
    (``churn_edge.InputError``).
    """
    data = _bytes(model)
    m = Model.from_bytes(data)  # checked on the driver, before any task starts
    schema = m.schema
    id_column = id_column or schema["id_column"]
    if id_column is None:
        raise ValueError("the model has no id column: name one with id_column= (a Spark DataFrame has no row order)")
    fields = [f["name"] for f in schema["fields"]]
    missing = [c for c in [id_column, *fields] if c not in df.columns]
    if missing:
        raise ValueError(f"the DataFrame lacks column(s) the model needs: {', '.join(missing)}")
    out = output_schema(df, m, raw=raw, explain=explain, id_column=id_column)
    broadcast = df.sparkSession.sparkContext.broadcast(data)
    key = hashlib.sha256(data).hexdigest()
    columns = list(dict.fromkeys([id_column, *fields]))

    def run(batches):
        model = _model(key, broadcast)
        for batch in batches:
            yield model.score(batch, raw=raw, explain=explain, id_column=id_column, threads=1)

    return df.select(*columns).mapInArrow(run, out)
