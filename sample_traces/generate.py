"""Regenerate agentprof's bundled sample traces.

    python sample_traces/generate.py            # rewrites sample_traces/*.json, .jsonl, .jsonl.gz, .pb
    python sample_traces/generate.py --out DIR  # writes them into DIR instead
    python sample_traces/generate.py --only healthy_three_step

Every sample is produced by running a simulated agent through agentprof's own
instrumentation (decorators, the LangChain callback handler, the automatic OpenAI and
Anthropic SDK layer against a local mock server) on a virtual clock with seeded ids, so the
output is byte-for-byte the same on every run and machine. See sample_traces/README.md for
what each scenario shows and what agentprof should find in it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import importlib  # noqa: E402

from _sim.clock import VirtualClock  # noqa: E402
from _sim.collect import Collector, write_jsonl, write_otlp_json, write_otlp_proto  # noqa: E402
from _sim.harness import Sim, instrumented  # noqa: E402
from _sim.mock_llm import MockLLMServer  # noqa: E402

SCENARIO_MODULES = (
    "sc_research",
    "sc_support_loop",
    "sc_coding",
    "sc_crm",
    "sc_healthy",
    "sc_tool_schemas",
    "sc_handoff",
    "sc_routing",
    "sc_fleet",
)
"""In README order. Each module of ``_sim`` defines NAME, FILE (the extension picks the format),
SERVICE and run(sim, server); the index in this tuple seeds it, so keep the order."""


def scenarios() -> list:
    return [importlib.import_module(f"_sim.{name}") for name in SCENARIO_MODULES]

SEED = 20260302


def generate_one(module, out_dir: Path, index: int) -> Path:
    """Run one scenario on a fresh virtual clock and write its sample file."""
    clock = VirtualClock()
    collector = Collector()
    seed = SEED + 1000 * index
    sim = Sim(clock, seed + 1)
    with MockLLMServer(clock) as server, instrumented(clock, collector, seed=seed, service_name=module.SERVICE):
        if getattr(module, "NEEDS_COLLECTOR", False):  # runs part of its agent "in another service"
            module.run(sim, server, collector)
        else:
            module.run(sim, server)
        if server.sync_timeouts:
            raise RuntimeError(f"{module.NAME}: {server.sync_timeouts} streamed replies were not timed by the client")
        if server.pending():
            raise RuntimeError(f"{module.NAME}: {server.pending()} scripted LLM replies were never requested")
    spans = collector.take(module.SERVICE)
    path = out_dir / module.FILE
    if module.FILE.endswith(".jsonl.gz"):
        write_jsonl(path, spans, compress=True)
    elif module.FILE.endswith(".jsonl"):
        write_jsonl(path, spans)
    elif module.FILE.endswith(".pb"):
        write_otlp_proto(path, spans)
    else:
        write_otlp_json(path, spans)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write into (default: sample_traces/)")
    parser.add_argument("--only", action="append", default=[], help="scenario NAME to generate (repeatable)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    modules = scenarios()
    unknown = set(args.only) - {m.NAME for m in modules}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    for index, module in enumerate(modules):
        if args.only and module.NAME not in args.only:
            continue
        t0 = time.perf_counter()
        path = generate_one(module, args.out, index)
        if not args.quiet:
            print(f"{path.name:<48} {path.stat().st_size:>9,} bytes  {time.perf_counter() - t0:5.2f} s")
    if not args.quiet:
        print(f"{'total':<48} {'':>15}  {time.perf_counter() - t_all:5.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
