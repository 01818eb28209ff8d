"""The scenario schema (pydantic): ``Scenario`` and its sections ``market``, ``fundamental``,
``agents`` (each kind's group schema lives with its agent), ``shocks`` and ``logging``, with the
checks that span several sections. Documented key by key in ``scenarios/README.md``."""

from __future__ import annotations

import datetime
import logging
from typing import Annotated

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from abmm.agents import KINDS
from abmm.agents.cross import ArbitrageGroup, BasketGroup, HedgingMMGroup
from abmm.agents.executor import ExecutorGroup
from abmm.agents.inferred import InferredGroup
from abmm.agents.informed import InformedGroup
from abmm.agents.latent import LatentGroup
from abmm.agents.market_maker import MarketMakerGroup
from abmm.agents.metaorder import MetaorderGroup
from abmm.agents.momentum import MomentumGroup
from abmm.agents.noise import NoiseGroup
from abmm.agents.policy import PolicyGroup
from abmm.agents.value import ValueGroup
from abmm.market.shocks import Shock
from abmm.schema import HOUR, SECOND, Duration, Strict, format_ns
from abmm.schema.timing import DAY, sessions

__all__ = ["Scenario", "Market", "FundamentalCfg", "Jumps", "Regimes", "Logging", "AgentGroup",
           "cross_check", "fit_windows"]

log = logging.getLogger(__name__)


_SYMBOL = r"^[A-Za-z0-9_\-.]+$"


class SymbolCfg(Strict):
    """One entry of ``market.symbols``: a symbol and its own tick and lot sizes and reference
    price (each defaults to the ``market`` section's value)."""

    symbol: str = Field(min_length=1, pattern=_SYMBOL)
    tick_size: float | None = None  #: price units per tick
    lot_size: float | None = None  #: base units per lot
    reference_price: float | None = None  #: price units; the symbol's fundamental starts here

    @property
    def reference_price_ticks(self) -> int:
        """The reference price in ticks (at least 1)."""
        return max(1, round(self.reference_price / self.tick_size))


class Market(Strict):
    """The ``market`` section: symbol, tick and lot sizes, reference price and session times
    (``end`` is accepted as an alias of ``close``; giving both is an error). A multi-symbol
    market lists its symbols in ``symbols`` (the first is the primary; ``symbol``, ``tick_size``,
    ``lot_size`` and ``reference_price`` then default the entries and end up as the primary
    symbol's)."""

    symbol: str = Field("ABM", min_length=1, pattern=_SYMBOL)
    tick_size: PositiveFloat = 0.01  #: price units per tick
    lot_size: PositiveFloat = 1.0  #: base units per lot
    reference_price: PositiveFloat = 100.0  #: price units; the fundamental starts here
    open: Duration = 9 * HOUR + 30 * 60 * SECOND
    close: Duration = 16 * HOUR
    #: consecutive days: a 24/7 market (open 00:00, close 24:00) runs them as one session; a
    #: sessioned market opens and closes each day (positions and resting orders carry overnight,
    #: the fundamental moves overnight, agents sleep)
    days: PositiveInt = 1
    warmup: Duration = 0
    step: Duration = SECOND  #: decision interval of MarketModel.step()
    #: the (first) session's calendar date, UTC: ``ts`` counts ns from its midnight, the logs'
    #: ``time`` column and ``abmm bars`` are dated by it
    date: datetime.date = datetime.date(2024, 1, 2)
    #: several symbols, each with its own book: ``[{symbol, tick_size, lot_size,
    #: reference_price}, ...]``; none: one symbol, ``symbol``
    symbols: list[SymbolCfg] | None = Field(None, min_length=1)

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, v):
        if isinstance(v, datetime.datetime) or not isinstance(v, (str, datetime.date)):
            raise ValueError(f"expected an ISO date such as 2024-01-02, got {v!r}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _end_alias(cls, data):
        """``end`` is another name for ``close``: one of the two, not both."""
        if isinstance(data, dict) and "end" in data:
            if "close" in data:
                raise ValueError(f"give market.close or its alias market.end, not both (got "
                                 f"close={data['close']!r}, end={data['end']!r})")
            data = {("close" if k == "end" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _check(self):
        if self.days > 1 and self.close > DAY:
            raise ValueError(f"a market open several days must close by 24:00 (got close "
                             f"{format_ns(self.close)})")
        if self.close <= self.open:
            raise ValueError(f"close ({format_ns(self.close)}) must be after open "
                             f"({format_ns(self.open)})")
        if self.step <= 0:
            raise ValueError("step must be positive")
        if self.warmup >= self.end_ns - self.start_ns:
            raise ValueError("warmup must be shorter than the session")
        if self.symbols:
            self._resolve_symbols()
        return self

    def _resolve_symbols(self) -> None:
        """Fill each ``symbols`` entry's missing values from the section's, check them (every
        message names its symbol), and make the section's own values the primary symbol's."""
        names = [e.symbol for e in self.symbols]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"symbols: {n!r} is listed {names.count(n)} times")
        if "symbol" in self.model_fields_set and self.symbol != names[0]:
            raise ValueError(f"symbol {self.symbol!r} is not the first of symbols "
                             f"({', '.join(names)}): with symbols, the first entry is the "
                             "primary symbol; drop market.symbol or make it the first")
        full = []
        for e in self.symbols:
            vals = {"tick_size": self.tick_size if e.tick_size is None else e.tick_size,
                    "lot_size": self.lot_size if e.lot_size is None else e.lot_size,
                    "reference_price": (self.reference_price if e.reference_price is None
                                        else e.reference_price)}
            for k, v in vals.items():
                if not v > 0:
                    raise ValueError(f"symbols: {e.symbol}: {k} must be > 0 (got {v})")
            full.append(e.model_copy(update=vals))
        first = full[0]
        # the model is frozen: set the resolved values once, before anyone sees them
        object.__setattr__(self, "symbols", full)
        for k in ("symbol", "tick_size", "lot_size", "reference_price"):
            object.__setattr__(self, k, getattr(first, k))

    @property
    def symbol_names(self) -> list[str]:
        """Every symbol, the primary first (``[symbol]`` for a one-symbol market)."""
        return [e.symbol for e in self.symbols] if self.symbols else [self.symbol]

    @property
    def start_ns(self) -> int:
        """Session start (ns since midnight)."""
        return self.open

    @property
    def end_ns(self) -> int:
        """End of the last session (ns since midnight of the first day)."""
        return self.sessions[-1][1]

    @property
    def sessions(self) -> list[tuple[int, int]]:
        """The trading sessions ``[(open, close), ...]`` (``abmm.schema.timing.sessions``)."""
        return sessions(self.open, self.close, self.days)

    @property
    def warmup_ns(self) -> int:
        """Warm-up length (ns)."""
        return self.warmup

    @property
    def step_ns(self) -> int:
        """Decision interval of ``MarketModel.step()`` (ns)."""
        return self.step

    @property
    def reference_price_ticks(self) -> int:
        """The reference price in ticks (at least 1)."""
        return max(1, round(self.reference_price / self.tick_size))


class Jumps(Strict):
    """The ``fundamental.jumps`` section: Poisson jump rate per hour and jump size distribution."""

    rate_per_hour: NonNegativeFloat = 0.0
    mean: float = 0.0  #: price units
    std: NonNegativeFloat = 0.0  #: price units


class Regimes(Strict):
    """The ``fundamental.regimes`` section: volatility multipliers and mean durations per regime."""

    multipliers: list[PositiveFloat] = Field(min_length=1)  #: of sigma_1h, per regime
    mean_durations: list[Duration] = Field(min_length=1)  #: expected time in each regime

    @model_validator(mode="after")
    def _check(self):
        if len(self.multipliers) != len(self.mean_durations):
            raise ValueError("regimes.multipliers and regimes.mean_durations need the same length")
        return self


class SymbolFundamental(Strict):
    """One symbol's entry in ``fundamental.symbols``: the values that differ from the section's
    (price units of that symbol), or ``index_of``: the symbol's fundamental is a weighted sum
    of other symbols' (an index future on its constituents: ``{A: 0.5, B: 0.5}``)."""

    initial: PositiveFloat | None = None
    mean: PositiveFloat | None = None
    half_life: Duration | None = None
    sigma_1h: NonNegativeFloat | None = None
    jumps: Jumps | None = None
    index_of: dict[str, float] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if self.index_of is not None:
            other = [k for k in ("initial", "mean", "half_life", "sigma_1h", "jumps")
                     if getattr(self, k) is not None]
            if other:
                raise ValueError(f"an index_of fundamental is its constituents' weighted sum: "
                                 f"drop {', '.join(other)}")
        return self


class FundamentalCfg(Strict):
    """The ``fundamental`` section: initial value, mean reversion, volatility, jumps, regimes
    and grid of the fundamental path. In a multi-symbol market every symbol has its own path:
    ``symbols`` overrides values per symbol (or makes one an index of others), and
    ``correlation`` correlates the paths' diffusive moves (a matrix over the symbols that are not
    an index, in ``market.symbols`` order; default: independent)."""

    initial: PositiveFloat | None = None  #: price units; default market.reference_price
    mean: PositiveFloat | None = None  #: long-run mean; default the initial value
    half_life: Duration | None = None  #: mean-reversion half-life; none = random walk
    sigma_1h: NonNegativeFloat = 0.5  #: std of the diffusive change over one hour, price units
    jumps: Jumps = Jumps()
    regimes: Regimes | None = None
    grid: Duration = SECOND  #: time step of the drawn path (1 ms ... 1 h)
    #: per-symbol values or ``index_of`` (multi-symbol markets): ``{SYMBOL: {...}}``
    symbols: dict[str, SymbolFundamental] | None = None
    #: correlation matrix of the diffusive moves of the symbols that are not an index
    correlation: list[list[float]] | None = None

    @model_validator(mode="after")
    def _check(self):
        if not 1_000_000 <= self.grid <= HOUR:
            raise ValueError(f"grid must be between 1ms and 1h (got {self.grid} ns)")
        return self


#: The discriminated union of every kind's group schema (one entry per ``abmm.agents.KINDS``).
AgentGroup = Annotated[
    NoiseGroup | ValueGroup | InformedGroup | MomentumGroup | ExecutorGroup | MarketMakerGroup
    | MetaorderGroup | PolicyGroup | InferredGroup | LatentGroup | ArbitrageGroup
    | HedgingMMGroup | BasketGroup,
    Field(discriminator="kind"),
]
assert {g.model_fields["kind"].default for g in AgentGroup.__origin__.__args__} == set(KINDS)


class Logging(Strict):
    """The ``logging`` section: Parquet part size and whether to log the top of book."""

    chunk_rows: PositiveInt = 250_000  #: rows per Parquet part
    top_of_book: bool = True


class Scenario(Strict):
    """A whole scenario: name, seed, and the ``market``, ``fundamental``, ``agents``,
    ``shocks`` and ``logging`` sections."""

    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    market: Market = Market()
    fundamental: FundamentalCfg = FundamentalCfg()
    agents: list[AgentGroup] = Field(min_length=1)
    shocks: list[Shock] = []
    logging: Logging = Logging()
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _check(self):
        problems = cross_check(self)
        if problems:
            raise _Problems(problems)
        agents, notes = fit_windows(self)
        if notes:
            # the model is frozen: replace the validated list once, before anyone sees it
            object.__setattr__(self, "agents", agents)
            for note in notes:
                log.warning("%s", note)
        self._notes = notes
        return self

    def __iter__(self):
        """Not iterable: a ``Scenario`` is one value (``mesa.batch_run`` then passes it whole
        instead of iterating its fields); use :meth:`resolved` for its keys and values."""
        raise TypeError("a Scenario is not iterable; use .resolved() for its keys and values")

    @property
    def notes(self) -> list[str]:
        """What validation adjusted, one line per agent group or shock: agent windows clipped
        to the session (or the group dropped), shocks after ``--until`` dropped."""
        return list(self._notes)

    def resolved(self) -> dict:
        """The scenario with every default filled in (what a run directory records)."""
        return self.model_dump(mode="json")


class _Problems(ValueError):
    """Several whole-scenario problems, each with its key path (expanded by the loader)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


def cross_check(sc: Scenario) -> list[tuple[str, str]]:
    """Checks that span several sections: unique group names, shocks inside the session, shock
    groups that exist. (Agent windows outside the session are not errors: ``fit_windows``.)"""
    out = []
    names = [g.group_name for g in sc.agents]
    for i, g in enumerate(sc.agents):
        n = g.group_name
        if n == "shocks":
            out.append((f"agents.{i}.name", "'shocks' is reserved for the shock pseudo-agent"))
        elif names.index(n) != i:
            out.append((f"agents.{i}.name", f"group name {n!r} is already used by agents."
                        f"{names.index(n)} (give each group a distinct 'name')"))
    out += _check_symbols(sc)
    start, end = sc.market.start_ns, sc.market.end_ns
    session = f"[{format_ns(start)}, {format_ns(end)}]"
    for i, s in enumerate(sc.shocks):
        if not start <= s.at <= end:
            out.append((f"shocks.{i}.at", f"{format_ns(s.at)} is outside the session {session}"))
        for g in getattr(s, "groups", None) or []:
            if g not in names:
                out.append((f"shocks.{i}.groups", f"no agent group named {g!r}; groups: {names}"))
    return out


def index_symbols(sc: Scenario) -> list[str]:
    """The symbols whose fundamental is an index of others (``fundamental.symbols.S.index_of``)."""
    per = sc.fundamental.symbols or {}
    return [n for n in sc.market.symbol_names if per.get(n) is not None
            and per[n].index_of is not None]


def _check_symbols(sc: Scenario) -> list[tuple[str, str]]:
    """Every symbol named by ``fundamental`` and the agent groups is one of ``market.symbols``;
    ``index_of`` weights name plain symbols; ``correlation`` is a correlation matrix of the right
    size."""
    import numpy as np

    out = []
    names = sc.market.symbol_names
    listed = ", ".join(names)
    f = sc.fundamental
    if len(names) == 1 and (f.symbols or f.correlation):
        key = "fundamental.symbols" if f.symbols else "fundamental.correlation"
        out.append((key, "needs a multi-symbol market (market.symbols lists several)"))
        return out
    idx = index_symbols(sc)
    for sym, cfg in (f.symbols or {}).items():
        if sym not in names:
            out.append((f"fundamental.symbols.{sym}", f"no symbol {sym!r} in market.symbols "
                        f"({listed})"))
        for c in (cfg.index_of or {}):
            if c not in names:
                out.append((f"fundamental.symbols.{sym}.index_of",
                            f"no symbol {c!r} in market.symbols ({listed})"))
            elif c == sym or c in idx:
                out.append((f"fundamental.symbols.{sym}.index_of",
                            f"{c!r} is an index itself: an index is made of plain symbols"))
    refs = {e.symbol: e.reference_price for e in (sc.market.symbols or [])}
    for sym in idx:
        w = f.symbols[sym].index_of
        if all(c in refs for c in w) and sym in refs:
            implied = sum(wt * refs[c] for c, wt in w.items())
            if abs(implied - refs[sym]) > 1e-6 * max(abs(implied), 1.0):
                out.append((f"market.symbols.{sym}.reference_price",
                            f"{sym} is an index of {', '.join(w)}: its reference price "
                            f"{refs[sym]:g} must be their weighted sum, {implied:g}"))
    plain = [n for n in names if n not in idx]
    if f.correlation is not None:
        c = np.asarray(f.correlation, dtype=float) if all(
            isinstance(r, list) and len(r) == len(f.correlation) for r in f.correlation) else None
        where = "fundamental.correlation"
        if c is None or c.shape != (len(plain), len(plain)):
            out.append((where, f"expected a {len(plain)}x{len(plain)} matrix, one row per "
                        f"symbol that is not an index ({', '.join(plain)})"))
        elif not np.allclose(c, c.T):
            out.append((where, "the matrix must be symmetric"))
        elif not np.allclose(np.diag(c), 1.0):
            out.append((where, "the diagonal must be 1"))
        elif np.abs(c).max() > 1:
            out.append((where, "correlations must lie in [-1, 1]"))
        elif np.linalg.eigvalsh(c).min() < -1e-9:
            out.append((where, "the matrix is not positive semi-definite (not a correlation "
                        "matrix)"))
    for i, s in enumerate(sc.shocks):
        if s.symbol is None:
            continue
        if s.symbol not in names:
            out.append((f"shocks.{i}.symbol", f"no symbol {s.symbol!r} in market.symbols "
                        f"({listed})"))
        elif s.kind == "news_jump" and s.symbol in idx:
            out.append((f"shocks.{i}.symbol", f"{s.symbol!r} is an index: its fundamental is "
                        f"its constituents' ({', '.join(f.symbols[s.symbol].index_of)}); "
                        "jump one of them"))
    for i, g in enumerate(sc.agents):
        for key in ("symbol", "legs", "signal_symbol", "quote_around"):
            want = getattr(g, key, None)
            if want is None:
                continue
            for sym in ([want] if isinstance(want, str) else list(want)):
                if sym not in names:
                    out.append((f"agents.{i}.{key}", f"no symbol {sym!r} in market.symbols "
                                f"({listed})"))
    return out


def fit_windows(sc: Scenario) -> tuple[list, list[str]]:
    """The agent groups with their trading windows (an executor's ``start`` to ``start +
    duration``) clipped to the sessions they overlap, and one note per group changed. A window
    that overlaps no session drops its group (``count: 0``, so names and indices stay). This is
    what makes a shortened session (``--set market.close=10:30``, ``abmm run --until``) work
    with a scenario whose executors trade later."""
    sessions = sc.market.sessions
    agents, notes = list(sc.agents), []
    for i, g in enumerate(agents):
        if g.kind != "executor" or g.count == 0:
            continue
        s, e = g.start, g.start + g.duration
        over = [(o, c) for o, c in sessions if o < max(e, s + 1) and c > s]
        window = f"{format_ns(s)}-{format_ns(e)}"
        where = f"agents.{i} ({g.group_name})"
        if not over:
            span = ", ".join(f"[{format_ns(o)}, {format_ns(c)}]" for o, c in sessions[:2])
            more = ", ..." if len(sessions) > 2 else ""
            agents[i] = g.model_copy(update={"count": 0})
            notes.append(f"{where}: window {window} lies outside the session ({span}{more}); "
                         f"group dropped ({g.count} agent{'s' * (g.count != 1)})")
            continue
        s2, e2 = max(s, over[0][0]), min(e, over[-1][1])
        if (s2, e2) != (s, e):
            agents[i] = g.model_copy(update={"start": s2, "duration": e2 - s2})
            notes.append(f"{where}: window {window} clipped to {format_ns(s2)}-{format_ns(e2)} "
                         f"(the session ends {format_ns(over[-1][1])})" if e2 != e else
                         f"{where}: window {window} clipped to {format_ns(s2)}-{format_ns(e2)} "
                         f"(the session opens {format_ns(over[0][0])})")
    return agents, notes
