"""The exceptions agentprof raises for problems a user can fix.

    AgentprofError                 base; ``str(err)`` is a complete, user-facing message
     ├── TraceFileError            a trace file could not be read at all (names file and place)
     │    └── NoUsableSpansError   every input was read, and nothing usable remained
     ├── ConfigError               bad [tool.agentprof] settings, --prices file or CLI option
     ├── StoreError                the DuckDB file could not be opened or has the wrong schema
     └── UnknownRuleError          ``agentprof rule CODE`` for a code that does not exist

Every message says what is wrong and how to fix it. Only ``agentprof.cli`` turns these
into one-line messages and exit code 2; library callers get the exception.
"""

from __future__ import annotations


class AgentprofError(Exception):
    """Base class: a problem with input or settings, explained for a user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  Try: {hint}")


class TraceFileError(AgentprofError):
    """A trace file could not be read (empty, wrong format, unreadable)."""

    def __init__(self, path: str, place: str | None, problem: str, *, hint: str | None = None) -> None:
        self.path = path
        self.place = place
        self.problem = problem
        where = f"{path}" if not place else f"{path}, {place}"
        super().__init__(f"{where}: {problem}", hint=hint)


class NoUsableSpansError(TraceFileError):
    """All inputs were read, but not one span could be used."""


class ConfigError(AgentprofError):
    """Invalid configuration: pyproject settings, a prices file or an option value."""


class StoreError(AgentprofError):
    """The DuckDB store could not be opened, or was written by an incompatible version."""


class UnknownRuleError(AgentprofError):
    """A rule code that is not registered."""
