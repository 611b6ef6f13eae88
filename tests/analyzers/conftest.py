"""Fixtures for analyzer tests: hand-made traces (tests/spanbuilder.py) analyzed end to end."""

from __future__ import annotations

import pytest
from spanbuilder import TraceBuilder


@pytest.fixture
def builder() -> TraceBuilder:
    return TraceBuilder()
