"""JSON report: deterministic bytes, documented fields, exact round trip."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from agentprof.profile import PROFILE_SCHEMA_VERSION, Profile
from agentprof.reports import json_report

from . import profiles as P

DOC = Path(__file__).parents[2] / "docs" / "json-report.md"


@pytest.mark.parametrize("build", [P.three_run_profile, P.injection_profile,
                                   P.single_run_profile])
def test_round_trip(build):
    profile = build()
    text = json_report.render(profile)
    data = json.loads(text)
    assert data["schema_version"] == PROFILE_SCHEMA_VERSION
    assert data["kind"] == "agentprof.profile"
    assert Profile.from_dict(data) == profile
    # Same Profile, same bytes; keys sorted.
    assert json_report.render(build()) == text
    assert list(data) == sorted(data)


def test_numbers_are_exact():
    data = json.loads(json_report.render(P.three_run_profile()))
    assert data["aggregates"]["total_cost_usd"] == 0.048295
    assert data["aggregates"]["total_input_tokens"] == 21550
    assert data["runs"][0]["critical_path"][2]["on_path_ns"] == 2_040_000_000
    assert data["runs"][2]["cost_usd"] is None  # unknown, not zero
    assert [f["code"] for f in data["findings"]] == ["AP101", "AP202", "AP301", "AP203"]


def test_nan_and_huge_ints_do_not_break_the_document():
    text = json_report.dumps({"a": math.nan, "b": 2**80, "c": [math.inf]})
    assert json.loads(text) == {"a": None, "b": 2**80, "c": [None]}
    assert json.loads(json_report.dumps({"x": math.nan})) == {"x": None}


def test_every_field_is_documented():
    doc = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_0-9]+)`", doc))
    data = json.loads(json_report.render(P.three_run_profile()))

    def keys(value, out):
        if isinstance(value, dict):
            for k, v in value.items():
                if k != "attributes" and k != "cost_sources" and k != "thresholds":
                    keys(v, out)
                out.add(k)
        elif isinstance(value, list):
            for v in value:
                keys(v, out)
        return out

    missing = keys(data, set()) - documented
    assert missing == set()
