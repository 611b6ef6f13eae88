"""A virtual clock shared by the instrumentation, the fake tools, the fake LLMs and the mock server.

``agentprof.configure(clock=clock.now_ns)`` makes every span start/end, TTFT and serialization
measurement read this clock; simulated work advances it instead of sleeping, so a 47-second
agent run is generated in milliseconds and the timestamps are the same on every machine.
"""

from __future__ import annotations

import datetime as _dt
import threading

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

EPOCH_NS = int(_dt.datetime(2026, 3, 2, 9, 0, tzinfo=_dt.timezone.utc).timestamp()) * NS_PER_S
"""Every sample starts at 2026-03-02 09:00:00 UTC (a Monday morning)."""


class VirtualClock:
    """Monotonic virtual time in ns since the Unix epoch.

    ``now_ns`` is what instrumentation reads; ``advance_*`` is what simulated work calls.
    Reads are counted so the mock server can wait until the client has observed a chunk
    (see ``wait_for_read``) before moving time on: that keeps streamed TTFT measurements
    deterministic although the server runs in another thread.
    """

    def __init__(self, start_ns: int = EPOCH_NS) -> None:
        self._now_ns = start_ns
        self._reads = 0
        self._cond = threading.Condition()

    def now_ns(self) -> int:
        with self._cond:
            self._reads += 1
            self._cond.notify_all()
            return self._now_ns

    __call__ = now_ns

    def peek_ns(self) -> int:
        """Current time without counting a read (for the simulation itself)."""
        with self._cond:
            return self._now_ns

    @property
    def reads(self) -> int:
        with self._cond:
            return self._reads

    def advance_ns(self, ns: int) -> None:
        if ns < 0:
            raise ValueError(f"virtual time cannot go back ({ns} ns)")
        with self._cond:
            self._now_ns += int(ns)

    def advance_ms(self, ms: float) -> None:
        self.advance_ns(round(ms * NS_PER_MS))

    def advance_s(self, s: float) -> None:
        self.advance_ns(round(s * NS_PER_S))

    def set_ns(self, ns: int) -> None:
        """Jump forward to ``ns`` (between runs of a fleet)."""
        with self._cond:
            if ns < self._now_ns:
                raise ValueError("virtual time cannot go back")
            self._now_ns = ns

    def wait_for_read(self, after: int, timeout_s: float = 5.0) -> bool:
        """Block until more than ``after`` reads happened (True) or the timeout passed."""
        with self._cond:
            return self._cond.wait_for(lambda: self._reads > after, timeout=timeout_s)
