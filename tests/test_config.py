"""Settings from pyproject.toml, --prices files and CLI overrides."""

from __future__ import annotations

import pytest

from agentprof.config import Config, load_config
from agentprof.errors import ConfigError

PYPROJECT = """
[project]
name = "someone-elses-agent"

[tool.agentprof]
select = ["ap1", "AP2"]
ignore = ["AP204"]
token_budget = 15000

[tool.agentprof.thresholds]
marginal_cost_growth = 0.25

[tool.agentprof.prices."my-finetune"]
input_per_mtok = 3.0
output_per_mtok = 15.0
cache_read_per_mtok = 0.3

[tool.agentprof.routes]
"gpt-4o" = "gpt-4.1-nano"
"claude-opus-4-1" = ""
"""


def test_reads_tool_table_and_applies_cli_overrides(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    cfg = load_config(tmp_path, set_values=["compounding_ratio=12"])
    assert cfg.select == ("AP1", "AP2")
    assert cfg.ignore == ("AP204",)
    assert cfg.token_budget == 15000
    assert cfg.threshold("marginal_cost_growth", 0.15) == 0.25
    assert cfg.threshold("compounding_ratio", 10) == 12.0
    assert cfg.threshold("not_set", 7.5) == 7.5
    assert cfg.routes == {"gpt-4o": "gpt-4.1-nano", "claude-opus-4-1": ""}
    price = cfg.prices["my-finetune"]
    assert (price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok, price.cache_write_per_mtok) == (3.0, 15.0, 0.3, None)


def test_cli_select_replaces_file_select(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    cfg = load_config(tmp_path, select=["AP4"])
    assert cfg.select == ("AP4",)
    assert cfg.ignore == ("AP204",)


def test_prices_file_json_overrides_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    f = tmp_path / "prices.json"
    f.write_text('{"prices": {"my-finetune": {"input_per_mtok": 1, "output_per_mtok": 2}}}')
    cfg = load_config(tmp_path, prices_file=f)
    assert cfg.prices["my-finetune"].input_per_mtok == 1.0
    assert cfg.prices["my-finetune"].source == "user (prices.json)"


@pytest.mark.parametrize(
    ("select", "ignore", "code", "expected"),
    [
        ((), (), "AP101", True),
        (("AP1",), (), "AP101", True),
        (("AP1",), (), "AP201", False),
        (("AP",), ("AP2",), "AP201", False),
        (("AP",), ("AP2",), "AP101", True),
        (("AP201",), ("AP2",), "AP201", True),  # the more specific prefix wins
        (("AP2",), ("AP201",), "AP201", False),
        (("AP2",), ("AP2",), "AP202", False),  # ignore beats select on a tie
        ((), ("AP101",), "AP101", False),
    ],
)
def test_select_ignore_semantics(select, ignore, code, expected):
    assert Config(select=select, ignore=ignore).selects(code) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[tool.agentprof.thresholds]\nmarginal_cost_growth = 'lots'\n", "expected a number"),
        ("[tool.agentprof]\ntoken_budget = -5\n", "token_budget"),
        ("[tool.agentprof.prices.m]\ninput_per_mtok = 1\n", "lacks output_per_mtok"),
        ("[tool.agentprof.prices.m]\ninput_per_mtok = 1\noutput_per_mtok = 2\ninput_price = 3\n", "unknown keys"),
        ("[tool.agentprof\n", "not valid TOML"),
        ("[tool.agentprof]\nselect = 3\n", "rule code prefixes"),
        ("[tool.agentprof.routes]\n\"gpt-4o\" = 3\n", "[tool.agentprof.routes]: expected model names"),
    ],
)
def test_bad_settings_name_the_place(tmp_path, text, fragment):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert fragment in str(err.value)
    assert "pyproject.toml" in str(err.value)


def test_bad_set_value():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(set_values=["nonsense"])
