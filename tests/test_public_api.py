"""The public API is small, sorted and importable; `import agentprof` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agentprof
from agentprof.errors import NoUsableSpansError

SAMPLE = Path(__file__).resolve().parents[1] / "sample_traces" / "research_agent_sequential_retrieval.json"


def test_all_is_sorted_and_complete():
    assert agentprof.__all__ == sorted(agentprof.__all__)
    for name in agentprof.__all__:
        assert getattr(agentprof, name) is not None, name
    import types

    public = {n for n in dir(agentprof) if not n.startswith("_") and n != "annotations"
              and not isinstance(getattr(agentprof, n), types.ModuleType)}
    assert public == set(agentprof.__all__) - {"__version__"}


def test_import_is_light():
    code = ("import sys, agentprof; heavy = [m for m in ('pandas', 'pyarrow', 'duckdb', 'plotly', 'genai_prices', "
            "'opentelemetry', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_analyze_traces_gives_the_same_profile_as_the_cli(tmp_path):
    import json

    profile = agentprof.analyze_traces([SAMPLE])
    assert isinstance(profile, agentprof.Profile)
    assert profile.findings and isinstance(profile.findings[0], agentprof.Finding)
    assert profile.findings[0].code == "AP101"
    cli = subprocess.run([sys.executable, "-m", "agentprof", "analyze", str(SAMPLE), "--json"],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    doc = json.loads(cli)
    assert [f["code"] for f in doc["findings"]] == [f.code for f in profile.findings]
    assert doc["aggregates"]["total_cost_usd"] == pytest.approx(profile.aggregates.total_cost_usd, rel=1e-12)


def test_analyze_traces_with_nothing_usable(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(NoUsableSpansError, match="empty.json"):
        agentprof.analyze_traces([empty])
