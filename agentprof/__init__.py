"""agentprof: profile LLM agents from their traces."""

from agentprof._version import __version__

__all__ = ["__version__"]
