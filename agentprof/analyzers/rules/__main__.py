"""Print docs/rules.md from the registry: ``python -m agentprof.analyzers.rules > docs/rules.md``."""

from agentprof.analyzers.rules import render_rules_markdown

print(render_rules_markdown(), end="")
