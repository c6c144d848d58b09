"""Types of the native module (the Rust core's bindings)."""

from os import PathLike
from typing import Any, Literal, Mapping, Optional, Sequence, TypedDict, TypeVar, Union

__version__: str

class _Detail(TypedDict):
    row: Optional[int]
    field: Optional[str]
    message: str

class InputError(ValueError):
    """A record (or a table's row) the model cannot score."""

    row: Optional[int]
    field: Optional[str]
    message: str
    details: list[_Detail]

class ModelFileError(ValueError):
    """Bytes that are not a valid churn model file."""

class Prediction(TypedDict):
    churn_probability: float
    churn_prediction: Literal["Yes", "No"]
    risk_level: Literal["HIGH", "MEDIUM", "LOW"]
    model_version: str

class Factor(TypedDict):
    field: str
    value: Any
    contribution: float

class Explanation(Prediction):
    churn_probability_raw: float
    base_value: float
    top_factors: list[Factor]

class BatchError(TypedDict):
    row: int
    error: str
    details: list[_Detail]

Customer = Mapping[str, Union[str, int, float, bool, None]]
_Table = TypeVar("_Table")

class Model:
    """A loaded churn model: ``Model.load(path)`` or ``Model.from_bytes(data)``."""

    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> Model: ...
    @staticmethod
    def from_bytes(data: bytes) -> Model: ...
    def predict(self, record: Customer) -> Prediction: ...
    def probability(self, record: Customer) -> float: ...
    def predict_batch(self, records: Sequence[Customer]) -> list[Union[Prediction, BatchError]]: ...
    def explain(self, record: Customer, top: Optional[int] = None) -> Explanation: ...
    @property
    def schema(self) -> dict[str, Any]: ...
    @property
    def info(self) -> dict[str, Any]: ...
    @property
    def model_version(self) -> str: ...
    @staticmethod
    def scored_column_names(raw: bool = False, explain: int = 0) -> list[str]: ...
    def score(
        self,
        table: _Table,
        raw: bool = False,
        explain: int = 0,
        id_column: Optional[str] = None,
        threads: int = 0,
    ) -> _Table: ...
    def evaluate(self, table: Any, target: Optional[str] = None, threads: int = 0) -> dict[str, Any]: ...
