"""Fixtures for rule tests (helpers live in kit.py, traces in traces.py)."""

from __future__ import annotations

import pytest
from spanbuilder import TraceBuilder


@pytest.fixture
def builder() -> TraceBuilder:
    return TraceBuilder()
