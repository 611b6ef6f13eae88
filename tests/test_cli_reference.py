"""docs/cli.md is the `--help` of every command; it fails when the CLI changes without it.

Regenerate with ``pytest tests/test_cli_reference.py --update-golden``.
"""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from agentprof.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def render_reference() -> str:
    runner = CliRunner()
    parts = ["# agentprof command line", "",
             "Generated from `agentprof COMMAND --help` by `pytest tests/test_cli_reference.py --update-golden`.", ""]
    env = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    top = runner.invoke(app, ["--help"], env=env, prog_name="agentprof")
    parts += ["```", top.output.rstrip(), "```", ""]
    for name in sorted(get_command(app).commands):  # type: ignore[attr-defined]
        out = runner.invoke(app, [name, "--help"], env=env, prog_name="agentprof")
        assert out.exit_code == 0, out.output
        parts += [f"## agentprof {name}", "", "```", out.output.rstrip(), "```", ""]
    return "\n".join(line.rstrip() for line in "\n".join(parts).splitlines()) + "\n"


def test_cli_reference_is_current(update_golden):
    text = render_reference()
    if update_golden:
        DOC.write_text(text, encoding="utf-8")
    assert DOC.exists(), "docs/cli.md is missing: pytest tests/test_cli_reference.py --update-golden"
    assert DOC.read_text(encoding="utf-8") == text, "docs/cli.md is stale: pytest tests/test_cli_reference.py --update-golden"


def test_every_command_has_an_example():
    for name, cmd in get_command(app).commands.items():  # type: ignore[attr-defined]
        if name in ("schema", "version"):
            continue
        assert "Example:" in (cmd.help or ""), f"`agentprof {name}` has no Example: in its help"
