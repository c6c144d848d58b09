"""Tables in and out of the core: any supported table becomes an Arrow stream, and the scored
stream becomes the same kind of table again. No per-row Python objects either way."""

import pyarrow as pa


def _kind(table):
    return type(table).__module__.split(".")[0]


def to_arrow(table):
    """An object with ``__arrow_c_stream__`` holding ``table``'s rows."""
    kind = _kind(table)
    if kind == "pandas":
        # pandas' NaN and None become nulls; the index is not a column.
        try:
            return pa.Table.from_pandas(table, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return _mixed_pandas(table)
    if isinstance(table, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return table
    if kind == "polars":
        return table.to_arrow()
    if hasattr(table, "__arrow_c_stream__"):
        return table
    raise TypeError(
        "expected a table (pyarrow Table or RecordBatch, pandas or polars DataFrame), got "
        f"{type(table).__module__}.{type(table).__qualname__}"
    )


def _text(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    return str(v)


def _mixed_pandas(df):
    """A pandas frame with a column Arrow cannot type (numbers and text mixed in one object
    column): such columns go as text, which the core reads as a CSV cell (str() of a float is
    its shortest round-trip form, so numbers keep their exact value)."""
    columns = {}
    for name in df.columns:
        try:
            columns[str(name)] = pa.array(df[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[str(name)] = pa.array([_text(v) for v in df[name]], type=pa.string())
    return pa.table(columns)


class _Stream:
    """A PyCapsule of an Arrow C stream, offered through the PyCapsule interface."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema=None):
        return self._capsule


def like(original, capsule):
    """The scored stream as the same kind of table as ``original``."""
    table = pa.RecordBatchReader.from_stream(_Stream(capsule)).read_all()
    kind = _kind(original)
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table, rechunk=False)
    if isinstance(original, pa.RecordBatch):
        return table.combine_chunks().to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], table.schema)
    return table
