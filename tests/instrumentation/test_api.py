"""The public surface: sorted __all__, lazy names, a cheap ``import agentprof``."""

from __future__ import annotations

import subprocess
import sys

import agentprof

PUBLIC = ["agent", "configure", "flush", "instrument", "llm", "retrieval", "shutdown", "span", "step", "tool",
          "uninstrument"]


def test_all_is_sorted_and_every_name_resolves():
    assert agentprof.__all__ == sorted(agentprof.__all__)
    assert set(PUBLIC) <= set(agentprof.__all__)
    for name in agentprof.__all__:
        assert getattr(agentprof, name) is not None
    assert set(PUBLIC) <= set(dir(agentprof))


def test_import_agentprof_is_cheap():
    code = ("import sys, agentprof; heavy = [m for m in ('pandas', 'pyarrow', 'duckdb', 'plotly', 'opentelemetry', "
            "'opentelemetry.sdk', 'orjson') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_using_a_decorator_does_not_import_the_sdk_or_data_stack():
    code = ("import sys, agentprof\n@agentprof.tool\ndef f(x): return x\nf(1)\n"
            "print(','.join(m for m in ('pandas', 'pyarrow', 'duckdb', 'plotly', 'opentelemetry.sdk') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_configure_rejects_bad_arguments():
    import pytest

    with pytest.raises(ValueError, match="exporter"):
        agentprof.configure(exporter="carrier-pigeon")
    with pytest.raises(ValueError, match="max_queue_size"):
        agentprof.configure(max_queue_size=0)
