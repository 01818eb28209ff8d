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
from abmm.market.spec import MarketSpec, SymbolSpec
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
    symbols = tuple(SymbolSpec(e.symbol, e.tick_size, e.lot_size, e.reference_price_ticks)
                    for e in m.symbols or ())
    return MarketSpec(symbols=symbols,
        name=scenario.name, symbol=m.symbol, tick_size=m.tick_size, lot_size=m.lot_size,
        reference_price_ticks=m.reference_price_ticks, start_ns=m.start_ns, end_ns=m.end_ns,
        warmup_ns=m.warmup_ns, step_ns=m.step_ns, chunk_rows=scenario.logging.chunk_rows,
        top_of_book=scenario.logging.top_of_book, sessions=tuple(m.sessions),
        date=m.date.isoformat())


def build_fundamental(scenario: Scenario, seed: int) -> Fundamental | list[Fundamental]:
    """The fundamental value path (ticks) of a scenario, news jumps included; a multi-symbol
    market's: one path per symbol (:func:`build_fundamentals`)."""
    if scenario.market.symbols and len(scenario.market.symbols) > 1:
        return build_fundamentals(scenario, seed)
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


def _symbol_spec(f, over, tick: float, reference_price: float) -> FundamentalSpec:
    """A symbol's ``FundamentalSpec`` (ticks): the section's values with ``over``'s (a
    ``fundamental.symbols`` entry or None) in their place."""
    def get(k):
        v = None if over is None else getattr(over, k)
        return getattr(f, k) if v is None else v

    jumps = get("jumps")
    initial, mean = get("initial"), get("mean")
    if over is None or over.initial is None:
        initial = reference_price  # the symbol's own reference price, not the primary's
    return FundamentalSpec(
        initial=initial / tick, mean=None if mean is None else mean / tick,
        half_life_ns=get("half_life"), sigma_1h=get("sigma_1h") / tick,
        jump_rate_1h=jumps.rate_per_hour, jump_mean=jumps.mean / tick,
        jump_std=jumps.std / tick,
        regime_multipliers=list(f.regimes.multipliers) if f.regimes else [1.0],
        regime_mean_durations_ns=list(f.regimes.mean_durations) if f.regimes else [0],
        grid_ns=f.grid)


def build_fundamentals(scenario: Scenario, seed: int) -> list[Fundamental]:
    """One fundamental path (ticks) per symbol of a multi-symbol market, in ``market.symbols``
    order. The diffusive shocks of the plain symbols are correlated by
    ``fundamental.correlation`` (drawn together from the stream ``(seed, "fundamental",
    "shocks")``); each symbol's regimes and jumps come from its own stream ``(seed,
    "fundamental", SYMBOL)``; an ``index_of`` symbol's path is the weighted sum of its
    constituents' paths in price units. A news jump moves its ``symbol``'s path (default the
    primary's), and so every index made of it."""
    import numpy as np

    from abmm.scenario.schema import index_symbols

    m, f = scenario.market, scenario.fundamental
    per = f.symbols or {}
    idx = set(index_symbols(scenario))
    plain = [e for e in m.symbols if e.symbol not in idx]
    n = Fundamental.n_points(m.start_ns, m.end_ns, f.grid)
    z = stream(seed, "fundamental", "shocks").standard_normal((n, len(plain)))
    if f.correlation is not None:
        c = np.asarray(f.correlation, float)
        w, v = np.linalg.eigh(c)  # a PSD square root (Cholesky fails on singular matrices)
        z = z @ (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    paths: dict = {}
    for j, e in enumerate(plain):
        spec = _symbol_spec(f, per.get(e.symbol), e.tick_size, e.reference_price)
        paths[e.symbol] = Fundamental(spec, m.start_ns, m.end_ns,
                                      stream(seed, "fundamental", e.symbol), z=z[:, j])
    ticks = {e.symbol: e.tick_size for e in m.symbols}
    for s in scenario.shocks:
        if isinstance(s, NewsJump):
            sym = s.symbol or m.symbols[0].symbol
            if sym in paths:  # (an index cannot jump: the schema refuses it)
                paths[sym].add_jump(s.at, s.size / ticks[sym])
    for e in m.symbols:
        if e.symbol in idx:
            weights = per[e.symbol].index_of
            names = list(weights)
            paths[e.symbol] = Fundamental.index(
                [paths[c] for c in names], [weights[c] * ticks[c] / e.tick_size for c in names])
    return [paths[e.symbol] for e in m.symbols]


def build_agents(model: MarketModel, scenario: Scenario, seed: int) -> list:
    """Create the scenario's agents (and the shock pseudo-agent, last) in ``model``, register
    them, and schedule the shocks. Returns the agents."""
    out = []
    for group in scenario.agents:
        cls = KINDS[group.kind][1]
        gname = group.group_name
        wake = Wake(group.wake.kind, group.wake.interval)
        symbols = getattr(group, "symbol_list", None) or [None]
        for j, sym in enumerate(symbols):  # each listed symbol gets `count` agents
            venue = None if sym is None else model.venue_of(sym)
            for k in range(group.count):
                i = j * group.count + k
                agent = cls(model, gname, i, group, stream(seed, "agent", gname, i),
                            _latency(group.latency, stream(seed, "latency", gname, i)), wake,
                            learnable=group.learnable, venue=venue)
                model.add_agent(agent)
                out.append(agent)
    shooter = ShockAgent(model, "shocks", 0, ShockGroup(latency=0), stream(seed, "shocks"),
                         Latency("constant", 0, 0, 0, None), Wake("once", 0))
    model.add_agent(shooter)
    out.append(shooter)
    shooters = {None: shooter, model.venue.symbol: shooter}
    for s in scenario.shocks:  # a shock on another symbol trades through a shooter there
        if s.symbol not in shooters:
            extra = ShockAgent(model, "shocks", len(shooters) - 1,
                               ShockGroup(latency=0), stream(seed, "shocks", s.symbol),
                               Latency("constant", 0, 0, 0, None), Wake("once", 0),
                               venue=model.venue_of(s.symbol))
            model.add_agent(extra)
            out.append(extra)
            shooters[s.symbol] = extra
        model.add_shock(bind_shock(s, shooters[s.symbol]))
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
