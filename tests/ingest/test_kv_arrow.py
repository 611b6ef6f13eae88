"""kv_arrow computes in Arrow the texts DuckDB's SQL would: DuckDB itself is the oracle."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentprof.ingest import kv_arrow
from agentprof.ingest.fastpath import _otlp_schema

TRICKY = ["", "plain", 'say "hi"', "back\\slash", "tab\there", "new\nline", "\r\b\f", "\x00\x01\x1f\x7f",
          "é ü 😀", "\u2028", "/slash/", '\\"\\', "x" * 300]


def _duckdb_json(values: list[str | None]) -> list[str | None]:
    con = duckdb.connect()
    con.register("v", pa.table({"i": list(range(len(values))), "s": pa.array(values, pa.string())}))
    return [t for _, t in con.execute("SELECT i, CAST(to_json(s) AS VARCHAR) FROM v ORDER BY i").fetchall()]


def _duckdb_double(values: list[float | None]) -> list[str | None]:
    con = duckdb.connect()
    con.register("v", pa.table({"i": list(range(len(values))), "d": pa.array(values, pa.float64())}))
    return [t for _, t in con.execute("SELECT i, CAST(d AS VARCHAR) FROM v ORDER BY i").fetchall()]


def test_strings_are_escaped_as_duckdb_to_json_escapes_them():
    values = TRICKY + [None] + [chr(c) for c in range(32)]
    got = kv_arrow.json_strings(pa.array(values, pa.string())).to_pylist()
    assert got == _duckdb_json(values)
    assert got[2] == '"say \\"hi\\""' and got[14 + 31] == '"\\u001F"'


def test_a_sliced_array_checks_only_its_own_bytes():
    values = pa.array(['a"b', "plain", "text"], pa.string()).slice(1)  # the quote is outside the slice
    assert kv_arrow.json_strings(values).to_pylist() == ['"plain"', '"text"']
    assert kv_arrow.json_strings(pa.array(['a"b', "c\n"]).slice(1)).to_pylist() == ['"c\\n"']


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=20))
@settings(max_examples=150, deadline=None)
def test_any_strings_match_duckdb(values):
    assert kv_arrow.json_strings(pa.array(values, pa.string())).to_pylist() == _duckdb_json(values)


def test_doubles_are_formatted_by_duckdb_and_minus_zero_stays_apart():
    values = [1.0, 0.7, -0.0, 0.0, 1e20, 1e16, 1e15, 1e-7, 0.1 + 0.2, 5e-324, None, 123456.0, 0.7, -0.0]
    got = kv_arrow.double_texts(pa.array(values, pa.float64())).to_pylist()
    assert got == _duckdb_double(values)
    assert got[:4] == ["1.0", "0.7", "-0.0", "0.0"] and got[10] is None


def _kv_lists(rows: list[list[dict] | None]) -> pa.Array:
    """OTLP KeyValue lists (JSON form) read by Arrow's JSON parser with the OTLP schema."""
    import io

    import pyarrow.json as pj

    attrs_type = _otlp_schema().field("resourceSpans").type.value_type.field("resource").type.field("attributes").type
    lines = "\n".join(json.dumps({"a": r}) for r in rows).encode()
    table = pj.read_json(io.BytesIO(lines), parse_options=pj.ParseOptions(explicit_schema=pa.schema([("a", attrs_type)])))
    return table.column("a").combine_chunks()


ROWS = [
    [
        {"key": "s", "value": {"stringValue": 'a "q"\n'}},
        {"key": "i", "value": {"intValue": "007"}},
        {"key": "d", "value": {"doubleValue": 1.0}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "2"}, {}]}}},
        {"key": "empty", "value": {"arrayValue": {}}},
        {"key": "none", "value": {}},
        {"key": 'we"ird', "value": {"stringValue": "k"}},
    ],
    [],
    None,
    [{"key": "arr", "value": {"arrayValue": {"values": []}}}, {"key": "s", "value": {"stringValue": "second"}}],
]


def test_objects_are_the_json_text_of_each_list():
    objects = kv_arrow.KeyValues(_kv_lists(ROWS)).objects().to_pylist()
    assert objects[0] == (
        '{"s":"a \\"q\\"\\n","i":7,"d":1.0,"b":false,"arr":["stop",2,null],"empty":[],"none":null,"we\\"ird":"k"}'
    )
    assert objects[1:] == ["{}", "{}", '{"arr":[],"s":"second"}']
    assert json.loads(objects[0])["s"] == 'a "q"\n'


def test_lookup_gives_values_as_json_extract_string_reads_them():
    kvs = kv_arrow.KeyValues(_kv_lists(ROWS))
    got = {k: v.to_pylist() for k, v in kvs.lookup(["s", "i", "d", "b", "arr", "arr[0]", "empty", "none", "missing"]).items()}
    assert got == {
        "s": ['a "q"\n', None, None, "second"],
        "i": ["7", None, None, None],
        "d": ["1.0", None, None, None],
        "b": ["false", None, None, None],
        "arr": ['["stop",2,null]', None, None, "[]"],
        "arr[0]": ["stop", None, None, None],
        "empty": ["[]", None, None, None],
        "none": [None, None, None, None],
        "missing": [None, None, None, None],
    }
    # The oracle: json_extract_string over the object text DuckDB reads.
    con = duckdb.connect()
    texts = kvs.objects().to_pylist()
    for key in ("s", "i", "d", "b", "arr", "empty", "none"):
        expected = [con.execute(f"SELECT json_extract_string(?::JSON, '$.\"{key}\"')", [t]).fetchall()[0][0] for t in texts]
        assert got[key] == expected, key


def test_a_repeated_key_in_one_list_is_seen_but_not_across_lists():
    assert kv_arrow.KeyValues(_kv_lists([[{"key": "a", "value": {}}, {"key": "a", "value": {}}]])).repeats_a_key()
    assert not kv_arrow.KeyValues(_kv_lists([[{"key": "a", "value": {}}], [{"key": "a", "value": {}}]])).repeats_a_key()
    many = [[{"key": f"k{i}", "value": {}}] for i in range(200)]  # sparse: the hashing branch
    assert not kv_arrow.KeyValues(_kv_lists(many)).repeats_a_key()
    assert kv_arrow.KeyValues(_kv_lists(many + [[{"key": "k3", "value": {}}, {"key": "k3", "value": {}}]])).repeats_a_key()


def test_an_int_value_that_is_not_an_int64_raises_for_the_caller():
    with pytest.raises(pa.ArrowInvalid):
        kv_arrow.KeyValues(_kv_lists([[{"key": "i", "value": {"intValue": "1e3"}}]])).objects()


def test_each_value_type_is_written_as_duckdb_writes_it():
    kvs = [
        {"key": 'a"b', "value": {"stringValue": "x\ny"}},
        {"key": "i", "value": {"intValue": "-0042"}},
        {"key": "d", "value": {"doubleValue": 2.5e-7}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"doubleValue": 1.0}, {"boolValue": False}, {}]}}},
        {"key": "none", "value": None},
    ]
    assert kv_arrow.KeyValues(_kv_lists([kvs])).objects().to_pylist() == [
        '{"a\\"b":"x\\ny","i":-42,"d":2.5e-07,"b":true,"arr":[1.0,false,null],"none":null}'
    ]


def test_events_are_a_json_array_per_span():
    import io

    import pyarrow.json as pj

    events_type = _otlp_schema().field("resourceSpans").type.value_type.field("scopeSpans").type.value_type.field(
        "spans").type.value_type.field("events").type
    rows = [
        {"e": [{"name": "exception", "timeUnixNano": "0017",
                "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}}]}, {}]},
        {"e": []},
        {},
    ]
    lines = "\n".join(json.dumps(r) for r in rows).encode()
    table = pj.read_json(io.BytesIO(lines), parse_options=pj.ParseOptions(explicit_schema=pa.schema([("e", events_type)])))
    texts, attrs = kv_arrow.events(table.column("e").combine_chunks())
    assert texts.to_pylist() == [
        '[{"name":"exception","time_ns":17,"attributes":{"exception.type":"ValueError"}},'
        '{"name":null,"time_ns":null,"attributes":{}}]',
        "[]",
        "[]",
    ]
    assert attrs.lookup(["exception.type"])["exception.type"].to_pylist() == ["ValueError", None]


def test_the_double_cache_stays_bounded_and_right():
    kv_arrow._local.doubles = {i: "stale" for i in range(100_001)}  # over the bound: started afresh
    values = [0.5, 2.0, 0.5]
    assert kv_arrow.double_texts(pa.array(values, pa.float64())).to_pylist() == ["0.5", "2.0", "0.5"]
    assert len(kv_arrow._local.doubles) == 2
    assert kv_arrow.double_texts(pa.array([2.0, 3.5], pa.float64())).to_pylist() == ["2.0", "3.5"]
