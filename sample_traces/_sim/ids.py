"""Seeded OpenTelemetry id generator: the same program run gives the same trace and span ids."""

from __future__ import annotations

import random

from opentelemetry.sdk.trace.id_generator import IdGenerator


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from one ``random.Random(seed)`` stream (never zero)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1
