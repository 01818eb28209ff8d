"""Building a market from a scenario: the fundamental path, the agents (each on its own random
stream), the shocks, and the :class:`~abmm.market.model.MarketModel` that hosts them.

Random streams: the fundamental draws from ``(seed, "fundamental")``; agent ``i`` of group
``g`` from ``(seed, "agent", g, i)`` for its strategy and ``(seed, "latency", g, i)`` for its
latencies -- so a group's draws never depend on the other groups.
"""

from __future__ import annotations

from pathlib import Path

from abmm.agents import KINDS, Latency, ShockAgent, ShockGroup, Wake
from abmm.market.fundamental import Fundamental, FundamentalSpec
from abmm.market.model import MarketModel
from abmm.market.rng import stream
from abmm.market.shocks import NewsJump, bind_shock
from abmm.market.spec import MarketSpec
from abmm.scenario.budget import check_budget
from abmm.scenario.loader import ScenarioError, load_scenario
from abmm.scenario.schema import Scenario

__all__ = ["build_model", "market_spec", "build_fundamental", "build_agents", "prepare"]


def _latency(cfg, rng) -> Latency:
    if cfg.kind == "constant":
        return Latency("constant", int(cfg.value), 0, 0, rng)
    if cfg.kind == "uniform":
        return Latency("uniform", cfg.low, cfg.high, 0, rng)
    if cfg.kind == "exponential":
        return Latency("exponential", cfg.mean, 0, cfg.low, rng)
    return Latency("lognormal", cfg.median, cfg.sigma, cfg.low, rng)


def market_spec(scenario: Scenario) -> MarketSpec:
    """The market's parameters from a scenario's ``market`` and ``logging`` sections."""
    m = scenario.market
    return MarketSpec(
        name=scenario.name, symbol=m.symbol, tick_size=m.tick_size, lot_size=m.lot_size,
        reference_price_ticks=m.reference_price_ticks, start_ns=m.start_ns, end_ns=m.end_ns,
        warmup_ns=m.warmup_ns, step_ns=m.step_ns, chunk_rows=scenario.logging.chunk_rows,
        top_of_book=scenario.logging.top_of_book, sessions=tuple(m.sessions),
        date=m.date.isoformat())


def build_fundamental(scenario: Scenario, seed: int) -> Fundamental:
    """The fundamental value path (ticks) of a scenario, news jumps included."""
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
    return fundamental


def build_agents(model: MarketModel, scenario: Scenario, seed: int) -> list:
    """Create the scenario's agents (and the shock pseudo-agent, last) in ``model``, register
    them, and schedule the shocks. Returns the agents."""
    out = []
    for group in scenario.agents:
        cls = KINDS[group.kind][1]
        gname = group.group_name
        wake = Wake(group.wake.kind, group.wake.interval)
        for i in range(group.count):
            agent = cls(model, gname, i, group, stream(seed, "agent", gname, i),
                        _latency(group.latency, stream(seed, "latency", gname, i)), wake,
                        learnable=group.learnable)
            model.add_agent(agent)
            out.append(agent)
    shooter = ShockAgent(model, "shocks", 0, ShockGroup(latency=0), stream(seed, "shocks"),
                         Latency("constant", 0, 0, 0, None), Wake("once", 0))
    model.add_agent(shooter)
    out.append(shooter)
    for s in scenario.shocks:
        model.add_shock(bind_shock(s, shooter))
    return out


def prepare(scenario, seed: int | None = None, overrides: list[str] | None = None,
            allow_large: bool = False, until=None) -> tuple[Scenario, int, dict]:
    """The validated ``Scenario``, the seed and the record (the resolved scenario with its
    seed) that :func:`build_model` and :class:`~abmm.scenario.mesa_model.ScenarioModel` build
    from; see :func:`build_model` for the arguments."""
    if isinstance(scenario, Scenario):
        if overrides or until is not None:
            notes = scenario.notes
            scenario = load_scenario(scenario.resolved(), overrides=overrides, until=until)
            scenario._notes = notes + scenario._notes
    else:
        scenario = load_scenario(scenario, overrides=overrides, until=until)
    try:
        check_budget(scenario, allow_large)
    except ValueError as exc:
        raise ScenarioError(scenario.name, [("", str(exc))]) from None
    seed = int(scenario.seed if seed is None else seed)
    record = scenario.resolved()
    record["seed"] = seed
    return scenario, seed, record


def build_model(scenario, seed: int | None = None, out: str | Path | None = None,
                overrides: list[str] | None = None, allow_large: bool = False,
                until=None) -> MarketModel:
    """A started :class:`MarketModel` from a scenario file path (or a shipped scenario's name),
    a dict, or a ``Scenario``; ``overrides`` are ``"key.path=value"`` strings (values parsed as
    YAML); ``seed`` replaces the scenario's; ``out`` is a run directory for the event log;
    ``until`` (a clock time) stops the run at that time of the first day. A scenario that would
    not fit in the available memory is refused up front (:mod:`abmm.scenario.budget`) unless
    ``allow_large``."""
    scenario, seed, record = prepare(scenario, seed, overrides, allow_large, until)
    model = MarketModel(market_spec(scenario), build_fundamental(scenario, seed), seed=seed,
                        out_dir=out, record=record, scenario=scenario)
    build_agents(model, scenario, seed)
    return model.begin()
