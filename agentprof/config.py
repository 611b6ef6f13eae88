"""User settings: ``[tool.agentprof]`` in pyproject.toml, a ``--prices`` file, CLI options.

    [tool.agentprof]
    select = ["AP1", "AP2"]          # rule code prefixes to run (default: all)
    ignore = ["AP204"]               # prefixes to skip; the more specific prefix wins
    token_budget = 15000             # per-run token budget (AP2xx budget rule); unset = no budget

    [tool.agentprof.thresholds]      # any rule/alert threshold by its key (see `agentprof rule --all`)
    marginal_cost_growth = 0.20

    [tool.agentprof.prices."my-finetune"]   # USD per million tokens; overrides genai-prices
    input_per_mtok = 3.0
    output_per_mtok = 15.0
    cache_read_per_mtok = 0.3        # optional
    cache_write_per_mtok = 3.75      # optional

    [tool.agentprof.routes]          # the cheaper model AP205 suggests, by request model
    "gpt-4o" = "gpt-4.1-nano"        # overrides the built-in suggestion
    "my-finetune" = "my-small-finetune"
    "claude-opus-4-1" = ""           # never suggest a route for this model

A ``--prices FILE`` (TOML or JSON) holds the same model tables, top level or under ``prices``.
CLI values win over the file values, which win over the defaults the rules declare.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentprof.errors import ConfigError

PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")


@dataclass(frozen=True)
class ModelPrice:
    """A user-given price, USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    source: str = "user"


@dataclass(frozen=True)
class Config:
    thresholds: dict[str, float] = field(default_factory=dict)
    """Overrides only; rules fall back to their declared defaults."""
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    prices: dict[str, ModelPrice] = field(default_factory=dict)
    token_budget: int | None = None
    routes: dict[str, str] = field(default_factory=dict)
    """Request model -> the cheaper model to suggest for its short steps ("" = none)."""
    source: str | None = None
    """Where the settings came from (for messages)."""

    def threshold(self, key: str, default: float) -> float:
        return self.thresholds.get(key, default)

    def selects(self, code: str) -> bool:
        """ruff semantics: the longest matching prefix decides; ignore beats select on a tie."""
        sel = max((len(p) for p in self.select if code.startswith(p)), default=-1) if self.select else 0
        ign = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return sel >= 0 and sel > ign


def load_config(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    prices_file: str | os.PathLike[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    set_values: list[str] | None = None,
    token_budget: int | None = None,
) -> Config:
    """Read pyproject.toml from ``project_dir`` (or the nearest parent of cwd), then apply overrides."""
    table, source = _find_tool_table(Path(project_dir) if project_dir else None)
    where = source or "[tool.agentprof]"

    thresholds = {}
    for key, value in (table.get("thresholds") or {}).items():
        thresholds[key] = _number(value, f"{where}: [tool.agentprof.thresholds] {key}")
    prices = _parse_prices(table.get("prices") or {}, f"{where}: [tool.agentprof.prices]")
    if prices_file is not None:
        prices.update(_read_prices_file(Path(prices_file)))
    for item in set_values or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE", hint="--set marginal_cost_growth=0.25")
        key, _, value = item.partition("=")
        thresholds[key.strip()] = _number(value.strip(), f"--set {key.strip()}")

    sel = tuple(select) if select else tuple(_str_list(table.get("select", []), f"{where}: select"))
    ign = tuple(ignore) if ignore else tuple(_str_list(table.get("ignore", []), f"{where}: ignore"))
    budget = token_budget if token_budget is not None else table.get("token_budget")
    if budget is not None and (not isinstance(budget, int) or budget <= 0):
        raise ConfigError(f"{where}: token_budget must be a positive whole number of tokens, got {budget!r}")
    routes = _parse_routes(table.get("routes") or {}, f"{where}: [tool.agentprof.routes]")
    return Config(thresholds=thresholds, select=sel, ignore=ign, prices=prices, token_budget=budget, routes=routes,
                  source=source)


def _find_tool_table(start: Path | None) -> tuple[dict[str, Any], str | None]:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        f = d / "pyproject.toml"
        if f.is_file():
            try:
                data = tomllib.loads(f.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{f}: not valid TOML ({exc})", hint="fix the file or run from another folder") from exc
            return data.get("tool", {}).get("agentprof", {}) or {}, str(f)
        if start is not None:
            break
    return {}, None


def _read_prices_file(path: Path) -> dict[str, ModelPrice]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--prices {path}: cannot read ({exc.strerror})") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--prices {path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("prices"), dict):
        data = data["prices"]
    if not isinstance(data, dict):
        raise ConfigError(f"--prices {path}: expected a table of models")
    return _parse_prices(data, f"--prices {path}", source=f"user ({path.name})")


def _parse_prices(data: dict[str, Any], where: str, source: str = "user (pyproject.toml)") -> dict[str, ModelPrice]:
    out = {}
    for model, spec in data.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: {model!r} must be a table with input_per_mtok and output_per_mtok")
        unknown = set(spec) - set(PRICE_KEYS)
        if unknown:
            raise ConfigError(f"{where}: {model!r} has unknown keys {sorted(unknown)}", hint=f"use {', '.join(PRICE_KEYS)}")
        for req in PRICE_KEYS[:2]:
            if req not in spec:
                raise ConfigError(f"{where}: {model!r} lacks {req} (USD per million tokens)")
        vals = {k: _number(v, f"{where}: {model}.{k}") for k, v in spec.items()}
        out[model] = ModelPrice(**vals, source=source)
    return out


def _parse_routes(data: Any, where: str) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(
            f"{where}: expected model names mapped to the cheaper model to suggest",
            hint='"gpt-4o" = "gpt-4o-mini" (an empty string: suggest none for that model)',
        )
    return {k: v.strip() for k, v in data.items()}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if f != f or f < 0:
        raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
    return f


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of rule code prefixes like [\"AP1\", \"AP204\"]")
    return [v.upper() for v in value]
