"""Per-file problem bookkeeping: what was skipped or repaired, where, and how to fix it.

A trace file is untrusted input, so readers and repairs never raise for bad content.
They call :meth:`FileReport.note` instead; notes of one kind are counted and the first
few places are kept, so a file with a million bad lines gives one readable message,
not a million.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_EXAMPLES = 3
"""Places kept per kind of problem (the count covers all of them)."""


@dataclass
class _Kind:
    what: str
    fix: str
    count: int = 0
    places: list[str] = field(default_factory=list)


@dataclass
class FileReport:
    """What ingest did with one file; turned into a ``profile.SourceFile`` at the end."""

    path: str
    format: str = "unknown"
    spans_read: int = 0
    spans_skipped: int = 0
    fatal: str | None = None
    """Set when the file could not be read at all (wrong format, unreadable)."""
    _kinds: dict[str, _Kind] = field(default_factory=dict)

    def note(self, kind: str, place: str | None, what: str, fix: str, *, count: int = 1, skipped: int = 0) -> None:
        """Record ``count`` occurrences of a problem ``kind`` at ``place``.

        Args:
            kind: Stable key grouping occurrences (e.g. ``"bad-json-line"``).
            place: ``line N``, ``byte offset N`` or ``span <id>``; None when not local.
            what: What is wrong, as a phrase ("line is not valid JSON").
            fix: How to fix it, as an imperative ("re-export the file").
            count: Occurrences this call stands for.
            skipped: Spans lost because of it (added to ``spans_skipped``).
        """
        k = self._kinds.get(kind)
        if k is None:
            k = self._kinds[kind] = _Kind(what, fix)
        k.count += count
        if place and len(k.places) < _EXAMPLES:
            k.places.append(place)
        self.spans_skipped += skipped

    def count(self, kind: str) -> int:
        k = self._kinds.get(kind)
        return k.count if k else 0

    def messages(self) -> tuple[str, ...]:
        """One message per kind: file, count, first places, what is wrong, how to fix it."""
        out = []
        if self.fatal:
            out.append(self.fatal)
        for k in self._kinds.values():
            where = ""
            if k.places:
                more = ", ..." if k.count > len(k.places) else ""
                where = f" ({', '.join(k.places)}{more})"
            times = f"{k.count} × " if k.count > 1 else ""
            out.append(f"{self.path}{where}: {times}{k.what}; {k.fix}")
        return tuple(out)

    def to_source_file(self):  # -> agentprof.profile.SourceFile
        from agentprof.profile import SourceFile

        return SourceFile(
            path=self.path,
            format=self.format,
            spans_read=self.spans_read,
            spans_skipped=self.spans_skipped,
            problems=self.messages(),
        )
