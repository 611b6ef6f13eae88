"""``agentprof.instrument()``: patch provider SDKs so every LLM call is a span.

    agentprof.configure()
    agentprof.instrument()                      # every supported SDK that is installed
    agentprof.instrument("openai", "anthropic") # or name them
    agentprof.uninstrument()                    # put the original methods back

Patches replace methods on the SDK *classes* (``functools.wraps`` keeps names, docstrings and
``__wrapped__``), so clients created before or after ``instrument()`` are covered, and
``client.chat.completions.with_raw_response.create`` (and ``with_streaming_response``, whose
span ends when the caller reads the response) goes through the patch too. A patched
method checks the on/off flag first: with instrumentation shut down it calls straight through.
"""

from __future__ import annotations

import importlib
from typing import Any

from agentprof.instrumentation import _state

_PROVIDERS = ("openai", "anthropic")
_patches: list[tuple[type, str, Any]] = []  # (class, attribute, original)
_active: set[str] = set()


def patch(cls: type, attr: str, make: Any) -> None:
    """Replace ``cls.attr`` with ``make(original)`` and remember how to undo it."""
    original = cls.__dict__[attr]
    wrapper = make(original)
    try:
        wrapper.__agentprof_original__ = original
    except AttributeError:  # a property: nothing to mark
        pass
    setattr(cls, attr, wrapper)
    _patches.append((cls, attr, original))


def instrument(*providers: str) -> list[str]:
    """Patch the named SDKs (default: every supported one that is installed).

    Returns the providers now instrumented. Unknown names raise ValueError; a named SDK that
    is not installed is skipped with a warning.
    """
    unknown = [p for p in providers if p not in _PROVIDERS]
    if unknown:
        raise ValueError(f"instrument({', '.join(map(repr, unknown))}): supported providers are {', '.join(_PROVIDERS)}")
    for name in providers or _PROVIDERS:
        if name in _active:
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            if providers:
                _state.warn_once(f"missing-{name}", "agentprof.instrument(%r): the %s package is not installed", name, name)
            continue
        try:
            module = importlib.import_module(f"agentprof.instrumentation.auto.{name}")
            module.install(patch)
            _active.add(name)
        except Exception as exc:  # an SDK version we do not understand: never break the program
            _state.note_error(f"instrument-{name}", exc)
    return sorted(_active)


def uninstrument() -> None:
    """Restore every patched SDK method."""
    while _patches:
        cls, attr, original = _patches.pop()
        setattr(cls, attr, original)
    _active.clear()


def instrumented() -> list[str]:
    """Providers currently patched."""
    return sorted(_active)
