"""churn-edge: score the churn models that ``churn train`` writes, from Python.

The same Rust core as the ``churn`` CLI, the npm package and the Cloudflare Worker, so every
probability is bit-identical to theirs::

    import churn_edge
    model = churn_edge.Model.load("model.bin")
    model.predict({"tenure": 3, "Contract": "Month-to-month", ...})
    scored = model.score(df)                 # pandas, polars or pyarrow in, the same kind out
    model.evaluate(df)                       # the metrics `churn evaluate --json` prints

``churn_edge.mlflow`` makes the model an MLflow ``pyfunc``; ``churn_edge.spark`` scores a Spark
DataFrame through ``mapInArrow``.
"""

from ._native import InputError, Model, ModelFileError, __version__

__all__ = ["Model", "InputError", "ModelFileError", "__version__"]
