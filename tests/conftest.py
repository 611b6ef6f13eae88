"""Root test configuration: the ``--update-golden`` option and the ``golden`` fixture.

Golden files live in tests/golden/. ``golden.check(name, text)`` compares ``text`` with the
file exactly (trailing spaces on each line are dropped on both sides, since rich pads lines
to the console width); ``pytest --update-golden`` rewrites the files instead, for review.
"""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current output instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with ``--update-golden``."""
    return bool(request.config.getoption("--update-golden"))


class Golden:
    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, name: str, text: str) -> None:
        """Assert ``text`` equals tests/golden/<name> (or rewrite it with --update-golden)."""
        path = GOLDEN_DIR / name
        actual = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden and review it")
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{name} differs from its golden file (pytest --update-golden)"


@pytest.fixture
def golden(update_golden: bool) -> Golden:
    """Compare output with a golden file: ``golden.check("x.terminal.w100.txt", text)``."""
    return Golden(update_golden)
