"""JSON text and attribute values of OTLP KeyValue lists, computed with Arrow compute.

The one-pass reader gives DuckDB flat columns only: the span's attributes and events as the
JSON text the span table keeps, and one text column per alias key the mapping reads. Handing
DuckDB the nested KeyValue structs instead made it convert them and run a lambda per
attribute, and that INSERT was the bottleneck of reading a file.

Every text here is byte for byte what DuckDB's SQL wrote from the same structs before:
strings escaped as its ``to_json`` escapes them, integers normalized through int64, doubles
formatted by DuckDB itself (``CAST(d AS VARCHAR)``), booleans as ``true``/``false``, arrays as
compact JSON (tests use DuckDB as the oracle). The caller turns ``pyarrow.ArrowInvalid`` (an
intValue that is not a decimal int64) into "needs the lenient reader".
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
"""Control characters ``to_json`` writes short; the others as ``\\u00XX`` (upper-case hex)."""

_local = threading.local()


def value_bytes(strings: pa.Array):
    """The bytes of all the strings' values, as a numpy array (no copy)."""
    import numpy as np

    offsets = np.frombuffer(strings.buffers()[1], np.int32, len(strings) + 1, strings.offset * 4)
    data = strings.buffers()[2]
    if data is None:
        return np.empty(0, np.uint8)
    return np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]]


def json_strings(strings: pa.Array) -> pa.Array:
    """Each string as a JSON string literal (null stays null), escaped as DuckDB's ``to_json``
    escapes: backslash, double quote and control characters; everything else as is."""
    import pyarrow.compute as pc

    # Whole-buffer checks first: most texts hold nothing to escape, and a pass of Arrow's
    # replace or regex kernels costs ~10x a vectorized byte test.
    data = value_bytes(strings)
    s = strings
    if (data == 0x5C).any():
        s = pc.replace_substring(s, "\\", "\\\\")
    if (data == 0x22).any():
        s = pc.replace_substring(s, '"', '\\"')
    if (data < 0x20).any():  # rare: escape only the strings that hold one
        control = pc.fill_null(pc.match_substring_regex(s, "[\\x00-\\x1f]"), False)
        few = pc.filter(s, control)
        for code in range(32):
            char = chr(code)
            few = pc.replace_substring(few, char, _ESCAPES.get(char, f"\\u{code:04X}"))
        s = pc.replace_with_mask(s, control, few)
    return pc.binary_join_element_wise('"', s, '"', "")


def double_texts(doubles: pa.Array) -> pa.Array:
    """``CAST(d AS VARCHAR)`` of each double, as DuckDB writes it (shortest round trip): DuckDB
    formats each distinct value once (by bit pattern, so -0.0 is not 0.0) per thread."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = pc.dictionary_encode(doubles.view(pa.int64()))
    cache = getattr(_local, "doubles", None)
    if cache is None or len(cache) > 100_000:  # bounded: a file of ever-new values
        cache = _local.doubles = {}
    bits = codes.dictionary.to_pylist()
    new = [b for b in bits if b not in cache]
    if new:
        con = getattr(_local, "con", None)
        if con is None:
            con = _local.con = duckdb.connect(config={"threads": 1})
        con.register("_doubles", pa.table({"b": pa.array(new, pa.int64()).view(pa.float64())}))
        try:
            texts = con.execute("SELECT CAST(b AS VARCHAR) FROM _doubles").fetchall()
        finally:
            con.unregister("_doubles")
        cache.update(zip(new, (t for (t,) in texts)))
    return pc.take(pa.array([cache[b] for b in bits], pa.string()), codes.indices)


def scalar_texts(values: pa.Array) -> tuple[pa.Array, list[pa.Array]]:
    """(stringValue, [text of intValue, doubleValue, boolValue where any is set]) of an
    array of AnyValue structs; members of a null struct are null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    others = []
    ints = pc.struct_field(values, "intValue")
    if ints.null_count < len(ints):
        others.append(pc.cast(pc.cast(ints, pa.int64()), pa.string()))
    doubles = pc.struct_field(values, "doubleValue")
    if doubles.null_count < len(doubles):
        others.append(double_texts(doubles))
    bools = pc.struct_field(values, "boolValue")
    if bools.null_count < len(bools):
        others.append(pc.cast(bools, pa.string()))
    if values.type.get_field_index("jsonValue") >= 0:  # structured values, already JSON (protowire)
        others.append(pc.struct_field(values, "jsonValue"))
    return pc.struct_field(values, "stringValue"), others


def join_lists(lists: pa.Array, texts: pa.Array, open_: str, close: str) -> pa.Array:
    """Per list of ``lists``: ``open_`` + its elements' ``texts`` joined by ',' + ``close``
    (a null list gives ``open_ + close``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Offsets from the lengths (a null list counts 0), matching what list_flatten kept.
    lengths = pc.fill_null(pc.list_value_length(lists), 0)
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths).cast(pa.int32())])
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, texts), ",")
    return pc.binary_join_element_wise(open_, joined, close, "")


class KeyValues:
    """The flattened KeyValue rows of one list column (``lists``: list<KeyValue>): their
    keys, and (computed on first use) their values as JSON text and as
    ``json_extract_string`` reads them from the decoded object."""

    def __init__(self, lists: pa.Array) -> None:
        import pyarrow.compute as pc

        self.lists = lists
        self._kv = pc.list_flatten(lists)
        self.keys = pc.struct_field(self._kv, "key")
        self._codes = pc.dictionary_encode(self.keys)  # keys repeat: work on each distinct one once

    def distinct_keys(self) -> list[str]:
        return self._codes.dictionary.to_pylist()

    def repeats_a_key(self) -> bool:
        """Does one list hold a key twice? (The lenient reader keeps the last value.)"""
        import pyarrow.compute as pc

        import numpy as np

        if len(self.keys) < 2:
            return False
        lists, distinct = len(self.lists), len(self._codes.dictionary)
        if lists * distinct <= 16 * len(self.keys):  # a flag per (list, key): no hashing
            flags = np.zeros(lists * distinct, np.bool_)
            flags[pc.list_parent_indices(self.lists).to_numpy() * distinct + self._codes.indices.to_numpy(zero_copy_only=False)] = True
            return int(np.count_nonzero(flags)) < len(self.keys)
        pairs = pc.add(pc.multiply(pc.list_parent_indices(self.lists).cast("int64"), len(self._codes.dictionary)),
                       self._codes.indices.cast("int64"))
        return pc.count_distinct(pairs).as_py() < len(pairs)

    @functools.cached_property
    def _texts(self) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """Per row: (the value as JSON text, the value as ``json_extract_string`` gives it: a
        string as is, other scalars and arrays as JSON text, null when unset; the value of
        its array's first element, None when no row has an element)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        value = pc.struct_field(self._kv, "value")
        strings, others = scalar_texts(value)
        array = pc.struct_field(value, "arrayValue")
        first = None
        if array.null_count < len(array):
            elements = pc.struct_field(array, "values")
            e_strings, e_others = scalar_texts(pc.list_flatten(elements))
            e_json = pc.coalesce(json_strings(e_strings), *e_others, pa.scalar("null"))
            others.append(pc.if_else(array.is_null(), pa.scalar(None, pa.string()), join_lists(elements, e_json, "[", "]")))
            if len(e_strings):  # the first element: at its list's offset, where the list has one
                lengths = pc.fill_null(pc.list_value_length(elements), 0)
                starts = pc.subtract(pc.cumulative_sum(lengths), lengths)
                first = pc.take(pc.coalesce(e_strings, *e_others), pc.if_else(pc.greater(lengths, 0), starts, pa.scalar(None, pa.int64())))
        as_json = pc.coalesce(json_strings(strings), *others, pa.scalar("null"))
        return as_json, pc.coalesce(strings, *others) if others else strings, first

    @functools.cached_property
    def _structured(self) -> pa.Array | None:
        """Per row: is the value structured JSON text (``jsonValue``: kvlists, bytes, nested
        arrays, which only protowire gives)? None when no row can be."""
        import pyarrow.compute as pc

        value = pc.struct_field(self._kv, "value")
        if value.type.get_field_index("jsonValue") < 0:
            return None
        return pc.is_valid(pc.struct_field(value, "jsonValue"))

    def objects(self) -> pa.Array:
        """Per list: its JSON object text (``{}`` for an empty or null list)."""
        import pyarrow.compute as pc

        keys = pc.take(json_strings(self._codes.dictionary), self._codes.indices)
        return join_lists(self.lists, pc.binary_join_element_wise(keys, self._texts[0], ":"), "{", "}")

    def lookup(self, wanted: list[str]) -> dict[str, pa.Array]:
        """Per wanted key (``name[0]``: the first element of its array), the value of that key
        in each list, null where absent. No list may hold a key twice (see :meth:`repeats_a_key`)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(self.lists)
        owner = pc.list_parent_indices(self.lists).to_numpy()
        code_of = {k: i for i, k in enumerate(self.distinct_keys())}
        indices = self._codes.indices.to_numpy(zero_copy_only=False)
        _, values, first = self._texts
        out = {}
        for key in wanted:
            is_first = key.endswith("[0]")
            code = code_of.get(key[:-3] if is_first else key)
            source = first if is_first else values
            rows = np.flatnonzero(indices == code) if code is not None else None
            if is_first and rows is not None and self._structured is not None \
                    and pc.any(pc.take(self._structured, rows)).as_py():
                raise pa.ArrowInvalid(f"the first element of a structured {key[:-3]!r} value")
            if code is None or source is None:
                out[key] = pa.nulls(n, pa.string())
                continue
            at = np.full(n, -1, np.int64)
            at[owner[rows]] = rows
            out[key] = pc.take(source, pa.array(at, mask=at < 0))
        return out


def events(lists: pa.Array) -> tuple[pa.Array, KeyValues]:
    """Per list of OTLP events: the JSON array text the span table keeps
    (``[{"name":…,"time_ns":…,"attributes":{…}},…]``, ``[]`` for none); and the events'
    attributes (one list per event, in order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ev = pc.list_flatten(lists)
    attrs = KeyValues(pc.struct_field(ev, "attributes"))
    time_ns = pc.fill_null(pc.cast(pc.cast(pc.struct_field(ev, "timeUnixNano"), pa.int64()), pa.string()), "null")
    name = pc.fill_null(json_strings(pc.struct_field(ev, "name")), "null")
    text = pc.binary_join_element_wise('{"name":', name, ',"time_ns":', time_ns, ',"attributes":', attrs.objects(), "}", "")
    return join_lists(lists, text, "[", "]"), attrs
