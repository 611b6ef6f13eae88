"""Latency components: every nanosecond of a run's critical path, attributed to one component.

Each critical-path segment (see ``critical_path``) is owned by one span; the owner's category
and its neighbours on the path decide the component. The rules (docs/latency.md explains them
with examples):

* LLM span: ``[start, start+serialization_ns)`` is **serialization**, then up to
  ``start+ttft_ns`` (TTFT is measured from the span's start, so it includes serialization)
  is **ttft**, the rest **generation**. Without ``ttft_ns`` the part after serialization is
  **llm_unsplit** (never invented).
* tool, retrieval and embedding spans: **tool_execution**.
* handoff spans: **coordination**.
* agent, step and chain spans (their untraced self time): a gap whose nearest work on the
  path before it is a tool/retrieval/embedding span and after it an LLM span of the same
  agent is **context_injection**; a gap between work of two different (named) agents is
  **coordination**; any other gap is **framework_overhead**.
* ``other`` spans take the component of their nearest llm/tool/retrieval/embedding/handoff
  ancestor (an HTTP span inside an LLM call is LLM time); otherwise **unattributed**, as is
  time between the roots of a multi-root trace.

All arithmetic is integer ns, so the components of a run sum exactly to its wall time.
"""

from __future__ import annotations

from typing import Any

from agentprof.analyzers._tree import CATEGORY_CODES, VIRTUAL, SpanTree
from agentprof.analyzers.critical_path import PathResult
from agentprof.profile import COMPONENTS

_C = {name: i for i, name in enumerate(COMPONENTS)}
_LLM = CATEGORY_CODES["llm"]
_TOOL_LIKE = (CATEGORY_CODES["tool"], CATEGORY_CODES["retrieval"], CATEGORY_CODES["embedding"])
_HANDOFF = CATEGORY_CODES["handoff"]
_OTHER = CATEGORY_CODES["other"]
_CONTAINERS = (CATEGORY_CODES["agent"], CATEGORY_CODES["step"], CATEGORY_CODES["chain"])
_WORK = (_LLM, *_TOOL_LIKE, _HANDOFF, _OTHER)


def attribution_owner(tree: SpanTree):
    """Span whose category decides each span's component (``other`` spans inherit)."""
    import numpy as np

    cat = tree.category
    idx = np.arange(tree.n, dtype=np.int64)
    jump = np.where((cat == _OTHER) & (tree.parent >= 0), tree.parent, idx)
    for _ in range(64):
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    inherits = np.isin(cat[jump], (_LLM, *_TOOL_LIKE, _HANDOFF))
    return np.where(inherits, jump, idx)


def components_ns(tree: SpanTree, path: PathResult):
    """Matrix [run, component] of integer ns along each run's critical path (COMPONENTS order)."""
    import numpy as np

    n_seg = len(path.seg_owner)
    out = np.zeros((tree.n_traces, len(COMPONENTS)), dtype=np.int64)
    if n_seg == 0:
        return out
    owner = attribution_owner(tree)[path.seg_owner]
    cat = tree.category[owner]
    a, b, t = path.seg_from_ns, path.seg_to_ns, path.seg_trace
    length = b - a

    comp = np.full(n_seg, _C["unattributed"], dtype=np.int64)
    comp[np.isin(cat, _TOOL_LIKE)] = _C["tool_execution"]
    comp[cat == _HANDOFF] = _C["coordination"]

    # Container gaps: look at the nearest work segment on each side within the same run.
    is_work = np.isin(cat, _WORK)
    pos = np.arange(n_seg, dtype=np.int64)
    prev_w = np.maximum.accumulate(np.where(is_work, pos, -1))
    next_w = np.minimum.accumulate(np.where(is_work, pos, n_seg)[::-1])[::-1]
    has_prev = prev_w >= 0
    has_next = next_w < n_seg
    pw = np.where(has_prev, prev_w, 0)
    nw = np.where(has_next, next_w, 0)
    has_prev &= t[pw] == t
    has_next &= t[nw] == t
    agent = tree.agent[path.seg_owner]
    both = has_prev & has_next
    injection = both & np.isin(cat[pw], _TOOL_LIKE) & (cat[nw] == _LLM) & (agent[pw] == agent[nw])
    handover = both & (agent[pw] >= 0) & (agent[nw] >= 0) & (agent[pw] != agent[nw])
    gap = np.isin(cat, _CONTAINERS)
    comp[gap] = _C["framework_overhead"]
    comp[gap & handover] = _C["coordination"]
    comp[gap & injection] = _C["context_injection"]
    comp[cat == VIRTUAL] = _C["unattributed"]
    not_llm = cat != _LLM
    np.add.at(out, (t[not_llm], comp[not_llm]), length[not_llm])

    # LLM segments: split by the call's serialization and TTFT marks (integer ns).
    llm = np.flatnonzero(cat == _LLM)
    if len(llm):
        o = owner[llm]
        s = tree.cs[o]
        dur = tree.ce[o] - s
        ser = np.clip(tree.serialization_ns[o], 0, dur)
        ttft_known = tree.ttft_ns[o] >= 0
        ttft_mark = np.clip(tree.ttft_ns[o], ser, dur)
        la, lb = a[llm], b[llm]
        ser_part = _overlap(la, lb, s, s + ser)
        ttft_part = np.where(ttft_known, _overlap(la, lb, s + ser, s + ttft_mark), 0)
        rest = (lb - la) - ser_part - ttft_part
        lt = t[llm]
        np.add.at(out, (lt, _C["serialization"]), ser_part)
        np.add.at(out, (lt, _C["ttft"]), ttft_part)
        np.add.at(out, (lt, np.where(ttft_known, _C["generation"], _C["llm_unsplit"])), rest)
    return out


def _overlap(a: Any, b: Any, lo: Any, hi: Any):
    import numpy as np

    return np.maximum(0, np.minimum(b, hi) - np.maximum(a, lo))
