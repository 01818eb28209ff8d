"""Scenario files: the pydantic schema, the loader (with ``--set`` overrides) and the builder.

A scenario is a YAML (or JSON, or a dict) with keys ``name, description, seed, market,
fundamental, agents, shocks, logging`` -- documented key by key in ``scenarios/README.md``.
Every problem in a file is reported at once, each with its key path and what was expected
(``ScenarioError``); unknown keys are errors.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from abmm.agents import KINDS, Latency, ShockAgent, ShockGroup, Wake
from abmm.agents.executor import ExecutorGroup
from abmm.agents.groups import Duration, Strict
from abmm.agents.informed import InformedGroup
from abmm.agents.market_maker import MarketMakerGroup
from abmm.agents.momentum import MomentumGroup
from abmm.agents.noise import NoiseGroup
from abmm.agents.policy import PolicyGroup
from abmm.agents.value import ValueGroup
from abmm.errors import AbmmError
from abmm.market.fundamental import Fundamental, FundamentalSpec
from abmm.market.rng import stream
from abmm.market.shocks import NewsJump, Shock, _Bound
from abmm.market.timeutil import DAY, HOUR, SECOND, format_ns

__all__ = ["Scenario", "ScenarioError", "load_scenario", "apply_overrides", "build_market"]


class ScenarioError(AbmmError, ValueError):
    """A scenario file that cannot be used; ``problems`` lists ``(key path, message)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path or '(top level)'}: {msg}" for path, msg in problems)
        n = len(problems)
        super().__init__(f"{source}: {n} problem{'s' * (n != 1)}:\n{lines}")


class Market(Strict):
    symbol: str = Field("ABM", min_length=1, pattern=r"^[A-Za-z0-9_\-.]+$")
    tick_size: PositiveFloat = 0.01  #: price units per tick
    lot_size: PositiveFloat = 1.0  #: base units per lot
    reference_price: PositiveFloat = 100.0  #: price units; the fundamental starts here
    open: Duration = 9 * HOUR + 30 * 60 * SECOND
    close: Duration = 16 * HOUR
    days: PositiveInt = 1  #: consecutive days (needs a 24/7 market: open 00:00, close 24:00)
    warmup: Duration = 0
    step: Duration = SECOND  #: decision interval of MarketModel.step()

    @model_validator(mode="after")
    def _check(self):
        if self.close <= self.open:
            raise ValueError(f"close ({format_ns(self.close)}) must be after open "
                             f"({format_ns(self.open)})")
        if self.days > 1 and (self.open != 0 or self.close != DAY):
            raise ValueError("days > 1 needs a 24/7 market: open '00:00' and close '24:00'")
        if self.step <= 0:
            raise ValueError("step must be positive")
        if self.warmup >= self.end_ns - self.start_ns:
            raise ValueError("warmup must be shorter than the session")
        return self

    @property
    def start_ns(self) -> int:
        return self.open

    @property
    def end_ns(self) -> int:
        return self.open + self.days * (self.close - self.open)

    @property
    def warmup_ns(self) -> int:
        return self.warmup

    @property
    def step_ns(self) -> int:
        return self.step

    @property
    def reference_price_ticks(self) -> int:
        return max(1, round(self.reference_price / self.tick_size))


class Jumps(Strict):
    rate_per_hour: NonNegativeFloat = 0.0
    mean: float = 0.0  #: price units
    std: NonNegativeFloat = 0.0  #: price units


class Regimes(Strict):
    multipliers: list[PositiveFloat] = Field(min_length=1)  #: of sigma_1h, per regime
    mean_durations: list[Duration] = Field(min_length=1)  #: expected time in each regime

    @model_validator(mode="after")
    def _check(self):
        if len(self.multipliers) != len(self.mean_durations):
            raise ValueError("regimes.multipliers and regimes.mean_durations need the same length")
        return self


class FundamentalCfg(Strict):
    initial: PositiveFloat | None = None  #: price units; default market.reference_price
    mean: PositiveFloat | None = None  #: long-run mean; default the initial value
    half_life: Duration | None = None  #: mean-reversion half-life; none = random walk
    sigma_1h: NonNegativeFloat = 0.5  #: std of the diffusive change over one hour, price units
    jumps: Jumps = Jumps()
    regimes: Regimes | None = None
    grid: Duration = SECOND  #: time step of the drawn path (1 ms ... 1 h)

    @model_validator(mode="after")
    def _check(self):
        if not 1_000_000 <= self.grid <= HOUR:
            raise ValueError(f"grid must be between 1ms and 1h (got {self.grid} ns)")
        return self


#: The discriminated union of every kind's group schema (one entry per ``abmm.agents.KINDS``).
AgentGroup = Annotated[
    NoiseGroup | ValueGroup | InformedGroup | MomentumGroup | ExecutorGroup | MarketMakerGroup
    | PolicyGroup,
    Field(discriminator="kind"),
]
assert {g.model_fields["kind"].default for g in AgentGroup.__origin__.__args__} == set(KINDS)


class Logging(Strict):
    chunk_rows: PositiveInt = 250_000  #: rows per Parquet part
    top_of_book: bool = True


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    market: Market = Market()
    fundamental: FundamentalCfg = FundamentalCfg()
    agents: list[AgentGroup] = Field(min_length=1)
    shocks: list[Shock] = []
    logging: Logging = Logging()

    @model_validator(mode="after")
    def _check(self):
        problems = cross_check(self)
        if problems:
            raise _Problems(problems)
        return self

    def resolved(self) -> dict:
        """The scenario with every default filled in (what a run directory records)."""
        return self.model_dump(mode="json")


class _Problems(ValueError):
    """Several whole-scenario problems, each with its key path (expanded by the loader)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


def cross_check(sc: Scenario) -> list[tuple[str, str]]:
    """Checks that span several sections: unique group names, shocks and executors inside the
    session, shock groups that exist."""
    out = []
    names = [g.group_name for g in sc.agents]
    for i, g in enumerate(sc.agents):
        n = g.group_name
        if n == "shocks":
            out.append((f"agents.{i}.name", "'shocks' is reserved for the shock pseudo-agent"))
        elif names.index(n) != i:
            out.append((f"agents.{i}.name", f"group name {n!r} is already used by agents."
                        f"{names.index(n)} (give each group a distinct 'name')"))
    start, end = sc.market.start_ns, sc.market.end_ns
    session = f"[{format_ns(start)}, {format_ns(end)}]"
    for i, g in enumerate(sc.agents):
        if g.kind == "executor" and not start <= g.start < end:
            out.append((f"agents.{i}.start", f"{format_ns(g.start)} is outside the session "
                        f"{session}"))
    for i, s in enumerate(sc.shocks):
        if not start <= s.at <= end:
            out.append((f"shocks.{i}.at", f"{format_ns(s.at)} is outside the session {session}"))
        for g in getattr(s, "groups", None) or []:
            if g not in names:
                out.append((f"shocks.{i}.groups", f"no agent group named {g!r}; groups: {names}"))
    return out


# ---------------------------------------------------------------------- loading
class _Loader(yaml.SafeLoader):
    """YAML without YAML 1.1's base-60 numbers: ``close: 10:30`` stays the clock time "10:30"
    (PyYAML would read the integer 630)."""


def _no_sexagesimal(kind):
    base = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

    def construct(loader, node):
        if ":" in str(node.value):
            return loader.construct_scalar(node)
        return base(loader, node)

    return construct


_Loader.add_constructor("tag:yaml.org,2002:int", _no_sexagesimal("int"))
_Loader.add_constructor("tag:yaml.org,2002:float", _no_sexagesimal("float"))


def yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


_SHOCK_KINDS = ("flash_crash", "liquidity_withdrawal", "news_jump", "fat_finger")


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            out.extend(cause.problems)
            continue
        loc = [str(p) for p in err["loc"]]
        # drop the union tag pydantic puts in the path: agents.0.noise.count -> agents.0.count
        if len(loc) >= 3 and loc[0] in ("agents", "shocks") and loc[2] in (*KINDS, *_SHOCK_KINDS):
            del loc[2]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            got = err["input"]
            if not isinstance(got, (dict, list)) and repr(got) not in msg:
                msg += f" (got {got!r})"
        if err["type"] == "union_tag_invalid":
            msg += f"; known kinds: {sorted(KINDS)}" if loc and loc[0] == "agents" else ""
        out.append((".".join(loc), msg))
    return out


def _set_path(data: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if key.isdigit():
                idx = int(key)
            else:  # a group by name: agents.noise.count
                idx = next((j for j, g in enumerate(node)
                            if isinstance(g, dict) and (g.get("name") or g.get("kind")) == key), None)
            if idx is None or idx >= len(node):
                raise KeyError(f"{'.'.join(keys[:i + 1])}: no such list item")
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise KeyError(f"{'.'.join(keys[:i])} is not a mapping or list")


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to a scenario dict (a copy)."""
    data = copy.deepcopy(data)
    problems = []
    for item in overrides or []:
        if "=" not in item:
            problems.append((item, "an override must look like key.path=value"))
            continue
        path, raw = item.split("=", 1)
        try:
            _set_path(data, path.strip(), yaml_load(raw))
        except (KeyError, yaml.YAMLError) as exc:
            problems.append((path, str(exc).strip("'\"")))
    if problems:
        raise ScenarioError("--set", problems)
    return data


def load_scenario(source, overrides: list[str] | None = None) -> Scenario:
    """A validated ``Scenario`` from a path (YAML/JSON), a dict, or a YAML string."""
    name = "scenario"
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        name = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ScenarioError(name, [("", f"cannot read the file: {exc.strerror}")]) from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ScenarioError(name, [("", f"not valid YAML/JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError(name, [("", f"expected a mapping at the top level, got "
                                        f"{type(data).__name__}")])
    data = apply_overrides(data, overrides)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(name, _format_errors(exc)) from None


# ---------------------------------------------------------------------- building
def _latency(cfg, rng) -> Latency:
    if cfg.kind == "constant":
        return Latency("constant", int(cfg.value), 0, 0, rng)
    if cfg.kind == "uniform":
        return Latency("uniform", cfg.low, cfg.high, 0, rng)
    if cfg.kind == "exponential":
        return Latency("exponential", cfg.mean, 0, cfg.low, rng)
    return Latency("lognormal", cfg.median, cfg.sigma, cfg.low, rng)


def build_market(model, scenario: Scenario, seed: int):
    """Create the fundamental, the agents (added to ``model``) and the shocks of a scenario.

    Random streams: the fundamental draws from ``(seed, "fundamental")``; agent ``i`` of group
    ``g`` from ``(seed, "agent", g, i)`` for its strategy and ``(seed, "latency", g, i)`` for its
    latencies -- so a group's draws never depend on the other groups."""
    m = scenario.market
    f = scenario.fundamental
    tick = m.tick_size
    initial = (f.initial or m.reference_price) / tick
    spec = FundamentalSpec(
        initial=initial, mean=None if f.mean is None else f.mean / tick,
        half_life_ns=f.half_life, sigma_1h=f.sigma_1h / tick, jump_rate_1h=f.jumps.rate_per_hour,
        jump_mean=f.jumps.mean / tick, jump_std=f.jumps.std / tick,
        regime_multipliers=list(f.regimes.multipliers) if f.regimes else [1.0],
        regime_mean_durations_ns=list(f.regimes.mean_durations) if f.regimes else [0],
        grid_ns=f.grid,
    )
    fundamental = Fundamental(spec, m.start_ns, m.end_ns, stream(seed, "fundamental"))
    for s in scenario.shocks:
        if isinstance(s, NewsJump):
            fundamental.add_jump(s.at, s.size / tick)
    for group in scenario.agents:
        cls = KINDS[group.kind][1]
        gname = group.group_name
        wake = Wake(group.wake.kind, group.wake.interval)
        for i in range(group.count):
            agent = cls(model, gname, i, group, stream(seed, "agent", gname, i),
                        _latency(group.latency, stream(seed, "latency", gname, i)), wake,
                        learnable=group.learnable)
            model.add_agent(agent)
    shooter = ShockAgent(model, "shocks", 0, ShockGroup(latency=0), stream(seed, "shocks"),
                         Latency("constant", 0, 0, 0, None), Wake("once", 0))
    model.add_agent(shooter)
    model.fundamental = fundamental
    return fundamental, [_Bound(s, shooter) for s in scenario.shocks]
