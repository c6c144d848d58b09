"""churn models as MLflow Models (the ``python_function`` flavor).

``churn train --tracking-uri URL`` logs this flavor by itself; MLflow then loads a registered
version with ``mlflow.pyfunc.load_model("models:/NAME@production")`` (and
``mlflow.pyfunc.spark_udf``) through this module. From Python, :func:`log_model` logs a model
file in the active run the same way.

``predict(df)`` returns one row per input row: ``churn_probability`` (rounded by the model's
policy), ``churn_prediction``, ``risk_level`` and ``churn_probability_raw``, computed by the
same core as every other surface, bit for bit. ``predict(df, params={"explain": N})`` adds
the top ``N`` factors of every row (``why_1``, ``why_1_value``, ``why_1_contribution``, ...), the
columns of ``churn score --explain N``.
"""

from __future__ import annotations

import operator
import os

from ._native import Model, __version__

#: The model file's name inside the MLflow Model (the flavor's ``data``).
DATA_FILE = "model.bin"


class ChurnPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: a :class:`churn_edge.Model` with MLflow's
    ``predict(model_input, params=None)``."""

    def __init__(self, model: Model):
        self.model = model

    def predict(self, model_input, params=None):
        """The scored columns of ``churn score --raw``; ``params={"explain": N}`` adds the top
        ``N`` factors' columns, as ``churn score --explain N`` does."""
        import pandas as pd

        explain = (params or {}).get("explain", 0)
        try:
            # Any integer (MLflow may hand over a numpy one), not a bool, not a float.
            top = -1 if isinstance(explain, bool) else operator.index(explain)
        except TypeError:
            top = -1
        if top < 0:
            raise ValueError(f"params: explain must be a whole number >= 0, got {explain!r}")
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        scored = self.model.score(model_input, raw=True, explain=top)
        # Drop the id (or row number): MLflow lines results up with the input by position.
        out = scored.iloc[:, 1:]
        out.index = model_input.index
        return out

    def unwrap_python_model(self):
        return self.model


def _load_pyfunc(path: str) -> ChurnPyfunc:
    """MLflow's loader hook: ``path`` is the flavor's ``data``, the model file."""
    if os.path.isdir(path):
        path = os.path.join(path, DATA_FILE)
    return ChurnPyfunc(Model.load(path))


def signature(model: Model):
    """The MLflow ``ModelSignature`` of a model (the one ``churn train`` logs)."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ParamSchema, Schema

    inputs, outputs, params = model.mlflow_signature()
    return ModelSignature(
        inputs=Schema.from_json(inputs), outputs=Schema.from_json(outputs), params=ParamSchema.from_json(params)
    )


def _requirements():
    return [f"churn-edge=={__version__}"]


def save_model(model_path, path, **kwargs):
    """Writes an MLflow Model of the model file ``model_path`` to the folder ``path``."""
    import mlflow.pyfunc

    model = Model.load(model_path)
    return mlflow.pyfunc.save_model(
        path,
        loader_module=__name__,
        data_path=os.fspath(model_path),
        pip_requirements=kwargs.pop("pip_requirements", _requirements()),
        signature=kwargs.pop("signature", signature(model)),
        **kwargs,
    )


def log_model(model_path, name: str = "model", registered_model_name: str | None = None, **kwargs):
    """Logs the model file ``model_path`` as an MLflow Model in the active run (one is started
    if none is active), optionally registering it. Returns MLflow's ``ModelInfo``."""
    import mlflow.pyfunc

    model = Model.load(model_path)
    return mlflow.pyfunc.log_model(
        name=name,
        loader_module=__name__,
        data_path=os.fspath(model_path),
        pip_requirements=kwargs.pop("pip_requirements", _requirements()),
        signature=kwargs.pop("signature", signature(model)),
        registered_model_name=registered_model_name,
        **kwargs,
    )
