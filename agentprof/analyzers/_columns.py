"""Arrow columns to Python lists, the fast ways (the analysis moves millions of values)."""

from __future__ import annotations

from typing import Any


def repeated_strings(column: Any) -> list[Any]:
    """A string column with few distinct values as a list sharing one str object per value
    (a third of ``to_pylist``'s time, and one object per distinct name, not per span)."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column.combine_chunks())
    values = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
    codes = encoded.indices.fill_null(len(values) - 1).to_numpy()
    return values[codes].tolist()


def pylist(column: Any) -> list[Any]:
    """Arrow column to a Python list; through numpy when there are no nulls (about twice as fast)."""
    import pyarrow as pa

    if column.null_count == 0 and (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return column.to_numpy().tolist()
    return column.to_pylist()


def lazy_values(column: Any) -> Any:
    """An Arrow column kept for reading one value at a time (``getter``): a numpy array when
    it is numeric with no nulls (8 bytes a value, no Python object until read), else a list."""
    import pyarrow as pa

    if column.null_count == 0 and (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type)
    ):
        return column.to_numpy(zero_copy_only=False)
    return column.to_pylist()


def getter(values: Any) -> Any:
    """``get(i)``: the i-th value as a Python object (``ndarray.item`` or ``list.__getitem__``)."""
    import numpy as np

    return values.item if isinstance(values, np.ndarray) else values.__getitem__
