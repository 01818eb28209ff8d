"""Metaorder traders: split large parent orders of power-law size into small child orders."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent, Uniforms, horizon_activity
from abmm.schema import Duration, GroupBase, WakeCfg


class MetaorderGroup(GroupBase):
    """Institutional flow as Lillo, Mike & Farmer (2005) model it: each trader works one parent
    order (a metaorder) at a time, split into child market orders of ``child_qty`` lots, one per
    wake. A new parent's length in child orders is power-law distributed,
    ``P(L >= x) = (min_children / x) ** size_alpha`` (capped at ``max_children``), so the signs
    of the market's taker flow get long memory: their ACF decays as ``k ** -(size_alpha - 1)``
    (0.5 for ``size_alpha: 1.5``, as measured on the LSE and NYSE).

    A parent's side is a coin flip; with probability ``p_informed`` it is instead the side of
    the trader's noisy view of the fundamental (Gaussian ``obs_noise``, price units) against the
    mid it sees -- the portfolio decisions behind metaorders are partly informed, which is what
    makes part of their impact permanent. Between two parents the trader pauses for one wake
    (it draws the next parent at the following wake). Position capped at ``max_position`` (a
    parent that would breach it stops early)."""

    kind: Literal["metaorder"] = "metaorder"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=30_000_000_000)
    child_qty: PositiveInt = 5
    size_alpha: float = Field(1.5, gt=1, le=5)
    min_children: PositiveInt = 1
    max_children: PositiveInt = 2000
    p_informed: float = Field(0.0, ge=0, le=1)
    obs_noise: float = Field(0.0, ge=0)
    max_position: PositiveInt = 1_000_000
    #: bounds of the attention multiplier of the wake rate, ``[1/attention_clip,
    #: attention_clip]`` (other kinds: 5). A fast metaorder trader whose rate follows volatility
    #: feeds its own impact back into its speed; a narrow clip keeps that loop bounded.
    attention_clip: float = Field(5.0, ge=1, le=5)
    #: EWMA half-lives of the volatility the traders watch (trader ``i`` watches
    #: ``attention_horizons[i % len]``, against ``activity_reference``), as the noise crowd's;
    #: without it ``attention`` follows the market's own activity
    attention_horizons: list[Duration] | None = Field(None, min_length=1)
    activity_reference: Duration = 86_400_000_000_000

    @model_validator(mode="after")
    def _check(self):
        if self.max_children < self.min_children:
            raise ValueError(f"max_children ({self.max_children}) must be >= min_children "
                             f"({self.min_children})")
        return self


class MetaorderAgent(TraderAgent):
    """Works power-law sized parent orders with child market orders (see ``MetaorderGroup``)."""

    kind = "metaorder"

    def setup(self) -> None:
        """No parent order yet."""
        self.left = 0  # child orders left in the current parent
        self.side = BUY
        self.parents = 0
        self._u = Uniforms(self.prng)  # three uniforms a wake, straight from this agent's stream
        self.watch_horizons()

    def watch_horizons(self) -> None:
        """Set up the volatility this trader watches: its horizon's tracker
        (``attention_horizons[index % len]`` against ``activity_reference``), or none (the
        market's own activity)."""
        p = self.params
        self._tracker = None
        self._h = 0
        if p.attention_horizons:
            self._tracker = horizon_activity(self.venue, tuple(p.attention_horizons),
                                             p.activity_reference)
            self._h = self.index % len(p.attention_horizons)

    def activity(self) -> float:
        """The activity this trader reacts to: its horizon's ratio, else the market's."""
        if self._tracker is not None:
            return self._tracker.update(self.venue)[self._h]
        return self.venue.activity()

    def next_wake(self, now: int) -> int | None:
        """The wake schedule, sped up or slowed down by ``activity() ** attention`` within
        ``[1/attention_clip, attention_clip]``."""
        t = self.wake.next(self._gaps, now)
        a = self._attention
        if a and t is not None:
            hi = self.params.attention_clip
            rate = min(hi, max(1.0 / hi, self.activity() ** a))
            t = now + 1 + int((t - now) / rate)
        return t

    def new_parent(self) -> None:
        """Draw the next parent: its length (Pareto) and its side."""
        p = self.params
        u, s, w = self._u.take3()
        self.left = min(p.max_children, int(p.min_children * (1.0 - u) ** (-1.0 / p.size_alpha)))
        if w < p.p_informed:
            model = self.venue
            view = model.fundamental.value(self.now) + (
                p.obs_noise / model.tick_size) * self.prng.standard_normal()
            self.side = BUY if view > self.mid() else SELL
        else:
            self.side = BUY if s < 0.5 else SELL
        self.parents += 1

    def on_wake(self) -> None:
        """Send the next child order, or (when idle) start a new parent."""
        if self.left <= 0:
            self.new_parent()
            return
        p = self.params
        inv = self.inventory
        if (self.side == BUY and inv + p.child_qty > p.max_position) or (
                self.side == SELL and inv - p.child_qty < -p.max_position):
            self.left = 0
            return
        self.left -= 1
        self.market_order(self.side, p.child_qty)
