"""Helpers for ``sample_traces/generate.py``: a virtual clock, seeded ids, a mock LLM server,
span collection and the file writers, plus one module per group of scenarios.

Everything here exists so that the bundled samples are produced by running simulated agents
through agentprof's own instrumentation, deterministically and in well under a second of
real time per simulated minute.
"""
