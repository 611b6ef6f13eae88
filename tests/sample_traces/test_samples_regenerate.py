"""The bundled samples are reproducible: regenerating them gives the same bytes.

``python sample_traces/generate.py --out DIR`` runs every simulated agent again through
agentprof's instrumentation (virtual clock, seeded ids, mock LLM server) in a fresh process;
every file must equal the committed one byte for byte. A difference means either the
instrumentation changed what it records (regenerate the samples and review the diff and the
known answers in test_samples.py) or something in the generator stopped being deterministic.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_traces"
SAMPLE_SUFFIXES = (".json", ".jsonl", ".gz", ".pb")


def _samples(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.suffix in SAMPLE_SUFFIXES}


@pytest.fixture(scope="session")
def regenerated(regeneration) -> tuple[Path, float]:
    """The regenerated samples' directory and how long generation took (see conftest.py)."""
    code, stdout, stderr, elapsed = regeneration.wait()
    assert code == 0, f"generate.py failed:\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    return regeneration.out, elapsed


def test_regeneration_gives_the_same_bytes(regenerated: tuple[Path, float]) -> None:
    out, _ = regenerated
    committed, fresh = _samples(SAMPLES_DIR), _samples(out)
    assert sorted(fresh) == sorted(committed)
    assert len(committed) == 9
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"regenerated samples differ from the committed ones: {changed}"


def test_regeneration_is_quick(regenerated: tuple[Path, float]) -> None:
    # About 20 s on a loaded 2-core machine (overlapping the analyses), most of it importing
    # the SDKs; the simulated runs themselves (hours of agent time) take a few seconds.
    _, elapsed = regenerated
    assert elapsed < 60


def test_generator_refuses_unknown_scenario() -> None:
    proc = subprocess.run([sys.executable, str(SAMPLES_DIR / "generate.py"), "--only", "nope", "--out", "/nonexistent"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown scenario(s): nope" in proc.stderr
