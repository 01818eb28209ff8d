"""Scenario schema pieces shared by every agent group: latency, wake schedule, common fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from abmm.schema.base import Duration, Strict

__all__ = ["LatencyCfg", "Latency", "WakeCfg", "GroupBase"]


class LatencyCfg(Strict):
    """Latency of every message to and from the agent (orders out, fills and market data in)."""

    kind: Literal["constant", "uniform", "exponential", "lognormal"] = "constant"
    value: Duration = 0  #: constant
    low: Duration = 0  #: uniform lower bound; floor added to exponential/lognormal draws
    high: Duration = 0  #: uniform upper bound
    mean: Duration = 0  #: exponential mean (above ``low``)
    median: Duration = 0  #: lognormal median (above ``low``)
    sigma: float = Field(0.5, ge=0)  #: lognormal shape

    @model_validator(mode="after")
    def _check(self):
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError(f"uniform latency needs high >= low (got low={self.low}, high={self.high})")
        return self


def _latency(v):
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return {"kind": "constant", "value": v}
    if isinstance(v, float):
        raise ValueError(f"give a latency with its unit, e.g. '500us' or '1ms' (got {v!r})")
    return v


Latency = Annotated[LatencyCfg, BeforeValidator(_latency)]


class WakeCfg(Strict):
    """When the agent acts: every ``interval`` (``fixed``, random phase), at exponential gaps of
    mean ``interval`` (``poisson``), or once at a uniform random time (``once``)."""

    kind: Literal["fixed", "poisson", "once"] = "poisson"
    interval: Duration = Field(default=60_000_000_000)

    @model_validator(mode="after")
    def _check(self):
        if self.kind != "once" and self.interval <= 0:
            raise ValueError(f"a {self.kind} wake schedule needs interval > 0")
        return self


class GroupBase(Strict):
    """Fields every agent group has."""

    count: int = Field(1, ge=0, strict=True)  # strict: ``count: true`` is an error, not 1
    name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    latency: Latency = LatencyCfg(kind="constant", value=1_000_000)
    wake: WakeCfg = WakeCfg()
    learnable: bool = False
    #: activity feedback: the wake rate is multiplied by (short-term / long-term volatility of
    #: the mid) ** attention, clipped to [0.2, 5] -- traders watch the market more when it moves
    #: (0: a fixed rate). Applies to poisson and fixed wake schedules.
    attention: float = Field(0.0, ge=0, le=5)
    #: the symbol(s) the group trades, in a multi-symbol market (default: the primary symbol):
    #: one symbol, or several -- each listed symbol gets ``count`` agents of its own
    symbol: str | list[str] | None = None

    @field_validator("symbol")
    @classmethod
    def _symbols(cls, v):
        if isinstance(v, list):
            if not v:
                raise ValueError("give at least one symbol")
            dup = sorted({x for x in v if v.count(x) > 1})
            if dup:
                raise ValueError(f"symbol {dup[0]!r} is listed twice")
        return v

    @property
    def symbol_list(self) -> list[str] | None:
        """The symbols as a list (None: the primary symbol)."""
        return None if self.symbol is None else (
            [self.symbol] if isinstance(self.symbol, str) else list(self.symbol))

    @model_validator(mode="before")
    @classmethod
    def _merge_wake(cls, data):
        """A partial ``wake`` mapping keeps the kind's own defaults for the keys it omits
        (``wake: {interval: 30s}`` on a fixed-interval kind stays fixed)."""
        if isinstance(data, dict) and isinstance(data.get("wake"), dict):
            default = cls.model_fields["wake"].default
            data = {**data, "wake": {"kind": default.kind, "interval": default.interval,
                                     **data["wake"]}}
        return data

    @property
    def group_name(self) -> str:
        """The group's name: ``name`` if given, else its ``kind``."""
        return self.name or self.kind  # type: ignore[attr-defined]
