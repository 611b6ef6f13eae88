"""Number, duration, money and text formatting shared by every report.

One place decides how a duration or a dollar amount reads, so the terminal, Markdown and
HTML reports of one Profile print the same figures. Nothing here imports anything heavy.
"""

from __future__ import annotations

from typing import Final

NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000

MISSING: Final = "—"
"""Shown where a value is unknown (never a silent zero)."""


def fmt_duration_ns(duration_ns: int | float | None) -> str:
    """A duration for people: ``850 µs``, ``12.3 ms``, ``1.24 s``, ``2 m 05 s``."""
    if duration_ns is None:
        return MISSING
    ns = float(duration_ns)
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns:.0f} ns"
    if ns < NS_PER_MS:
        return f"{sign}{ns / 1_000:.0f} µs"
    if ns < NS_PER_S:
        ms = ns / NS_PER_MS
        return f"{sign}{ms:.1f} ms" if ms < 100 else f"{sign}{ms:.0f} ms"
    s = ns / NS_PER_S
    if s < 60:
        return f"{sign}{s:.2f} s" if s < 10 else f"{sign}{s:.1f} s"
    minutes, seconds = divmod(round(s), 60)
    if minutes < 60:
        return f"{sign}{minutes} m {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours} h {minutes:02d} m"


def fmt_seconds(seconds: float | None) -> str:
    """A duration given in seconds (distributions, savings)."""
    if seconds is None:
        return MISSING
    return fmt_duration_ns(seconds * NS_PER_S)


def fmt_usd(usd: float | None) -> str:
    """Dollars with enough digits for per-call LLM costs: ``$0.0042``, ``$1.23``, ``$1,234``."""
    if usd is None:
        return MISSING
    sign = "-" if usd < 0 else ""
    a = abs(usd)
    if a == 0:
        return "$0"
    if a < 0.0001:
        return f"{sign}${a:.6f}"
    if a < 1:
        return f"{sign}${a:.4f}"
    if a < 1_000:
        return f"{sign}${a:.2f}"
    return f"{sign}${a:,.0f}"


def fmt_signed_usd(usd: float | None) -> str:
    """A change in dollars, always signed: ``+$0.0012``."""
    if usd is None:
        return MISSING
    return fmt_usd(usd) if usd < 0 else "+" + fmt_usd(usd)


def fmt_tokens(tokens: int | float | None) -> str:
    """Token counts with thousands separators; fractional estimates are rounded."""
    if tokens is None:
        return MISSING
    return f"{round(tokens):,}"


def fmt_compact(value: float | None) -> str:
    """A count in little space: ``950``, ``12.4k``, ``3.1M``."""
    if value is None:
        return MISSING
    a = abs(value)
    if a < 1_000:
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if a < 1_000_000:
        return f"{value / 1_000:.1f}k"
    return f"{value / 1_000_000:.1f}M"


def fmt_share(share: float | None) -> str:
    """A fraction 0..1 as a percentage: ``42.0%``."""
    if share is None:
        return MISSING
    return f"{share * 100:.1f}%"


def fmt_growth(growth: float | None) -> str:
    """Step-over-step growth, signed: ``+18.0%``."""
    if growth is None:
        return MISSING
    return f"{growth * 100:+.1f}%"


def fmt_metric(value: float | None, unit: str) -> str:
    """A distribution value in its unit (s, usd, tokens, steps, ms, or a plain number)."""
    if value is None:
        return MISSING
    if unit == "s":
        return fmt_seconds(value)
    if unit == "ms":
        return fmt_duration_ns(value * NS_PER_MS)
    if unit == "usd":
        return fmt_usd(value)
    if unit in ("tokens", "spans"):
        return fmt_tokens(value)
    if unit in ("steps", "calls"):
        return f"{value:,.1f}" if value < 100 else fmt_tokens(value)
    if unit in ("share", "ratio"):
        return fmt_share(value)
    return f"{value:,.3g}"


def fmt_savings(seconds: float | None, usd: float | None) -> str:
    """A finding's estimated saving: ``~3.20 s, ~$0.0120`` (or — when none is estimated)."""
    parts = []
    if seconds is not None:
        parts.append("~" + fmt_seconds(seconds))
    if usd is not None:
        parts.append("~" + fmt_usd(usd))
    return ", ".join(parts) if parts else MISSING


def one_line(text: object, max_chars: int = 80) -> str:
    """Untrusted text on one line and at most ``max_chars`` long (ends with … when cut).

    Control characters (newlines, escapes, NULs) become spaces so a trace string can never
    move the cursor, start a new table row or inject a terminal escape sequence.
    """
    s = "" if text is None else str(text)
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    if len(s) > max_chars:
        s = s[: max(max_chars - 1, 0)] + "…"
    return s


def short_id(run_id: str, n_chars: int = 8) -> str:
    """The first characters of a trace/span id, as shown in tables (``--run`` accepts a prefix)."""
    return run_id[:n_chars]


def plural(count: int, word: str) -> str:
    """``1 step``, ``3 steps``, ``1,200 LLM calls`` (regular plurals only)."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
