"""The scenario schema (pydantic): ``Scenario`` and its sections ``market``, ``fundamental``,
``agents`` (each kind's group schema lives with its agent), ``shocks`` and ``logging``, with the
checks that span several sections. Documented key by key in ``scenarios/README.md``."""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from abmm.agents import KINDS
from abmm.agents.executor import ExecutorGroup
from abmm.agents.informed import InformedGroup
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
           "cross_check"]


class Market(Strict):
    """The ``market`` section: symbol, tick and lot sizes, reference price and session times."""

    symbol: str = Field("ABM", min_length=1, pattern=r"^[A-Za-z0-9_\-.]+$")
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

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, v):
        if isinstance(v, datetime.datetime) or not isinstance(v, (str, datetime.date)):
            raise ValueError(f"expected an ISO date such as 2024-01-02, got {v!r}")
        return v

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
        return self

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


class FundamentalCfg(Strict):
    """The ``fundamental`` section: initial value, mean reversion, volatility, jumps, regimes
    and grid of the fundamental path."""

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
    | MetaorderGroup | PolicyGroup,
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
