"""Noise (zero-intelligence) traders: random side, size and price around the mid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent, Uniforms, flow_imbalance, horizon_activity
from abmm.schema import Duration, GroupBase, WakeCfg


class NoiseGroup(GroupBase):
    """Zero-intelligence traders (Gode & Sunder 1993, constrained to a band around the mid).

    At each wake: cancel own orders older than ``order_ttl``; then with probability ``p_market``
    send a market order, else a limit order priced ``k`` ticks behind the mid on its side, ``k``
    uniform in ``[-cross_ticks, offset_ticks]`` (negative ``k`` crosses the mid).

    Sizes are uniform in ``[min_qty, max_qty]``, or, with ``size_alpha``, power-law distributed
    as the sizes of real orders are (Gopikrishnan et al. 2000; Gabaix et al. 2003):
    ``P(qty >= x) = (min_qty / x) ** size_alpha``, capped at ``max_qty``.

    With ``offset_feedback`` the placement band widens when the market is moving: ``k`` is
    scaled by ``activity() ** offset_feedback`` (clipped to [0.2, 5]; ``activity()`` is the
    short- over long-term volatility of the mid), so liquidity near the touch thins out in
    turbulent times, as in real books.

    With ``attention_horizons`` (a list of EWMA half-lives) the traders have heterogeneous
    horizons, as in the heterogeneous market hypothesis (Muller et al. 1997) and Chiarella, Iori
    & Perello (2009): trader ``i`` watches horizon ``attention_horizons[i % len]`` and its
    activity is ``sqrt(EWMA_h / EWMA_ref)`` of the squared mid moves (half-life ``h`` against the
    long ``activity_reference``) instead of the market's single 2-minute/2-hour ratio. Both
    ``attention`` and ``offset_feedback`` then use it. A crowd watching time scales from minutes
    to hours feeds volatility back over all of them: the memory of volatility becomes a sum of
    exponentials over a geometric range of scales, close to a power law (long memory).
    ``feedback_clip`` bounds both multipliers to ``[1/feedback_clip, feedback_clip]``.

    A short ``order_ttl`` (below the wake interval) makes a trader cancel its previous orders at
    each wake: with fast wakes the book is *reactive* -- its liquidity is re-placed around the
    current price within seconds instead of remembering where the price was minutes ago, so
    the book exerts no restoring force (Toth et al. 2011's latent book; see
    docs/stylized_facts.md).

    With ``flow_lean`` the crowd's *limit* orders lean toward the side the taker flow is
    consuming: a limit order is a sell with probability ``(1 + clip(flow_lean * I)) / 2``, ``I``
    in [-1, 1] the imbalance of taker volume over the last ``flow_halflife``
    (``FlowImbalance``). Persistent buying (split metaorders) is met by replenished asks, so
    its impact per child order falls -- the asymmetric liquidity of Lillo & Farmer (2004) and
    Bouchaud et al. (2004) that keeps prices diffusive although order signs have long memory.
    Market orders keep a fair coin.

    ``flow_depth`` leans the *placement depth* instead of the side: a limit order on the side
    the taker flow consumes is placed closer to the mid and one on the other side deeper,
    ``k * (1 -/+ flow_depth * I)`` (clipped to [0.2, 3]), so both sides stay populated. A run
    of buys then meets a deeper ask near the touch (each child moves the price less) while the
    bid retreats: the price moves by the *surprise* in the flow rather than by the flow
    (Lillo & Farmer 2004's efficiency condition). With ``flow_horizons`` (a list of
    half-lives) each trader measures ``I`` over its own horizon (crossed with
    ``attention_horizons``), so liquidity adapts to persistent flow at every time scale
    (docs/stylized_facts.md)."""

    kind: Literal["noise"] = "noise"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=300_000_000_000)
    p_market: float = Field(0.1, ge=0, le=1)
    offset_ticks: PositiveInt = 20
    cross_ticks: int = Field(2, ge=0)
    min_qty: PositiveInt = 1
    max_qty: PositiveInt = 10
    order_ttl: Duration = 600_000_000_000
    size_alpha: float | None = Field(None, gt=0, le=10)
    offset_feedback: float = Field(0.0, ge=0, le=5)
    attention_horizons: list[Duration] | None = Field(None, min_length=1)
    activity_reference: Duration = 86_400_000_000_000
    feedback_clip: float = Field(5.0, ge=1)
    flow_lean: float = Field(0.0, ge=0, le=10)
    flow_halflife: Duration = 60_000_000_000
    flow_depth: float = Field(0.0, ge=0, le=10)
    flow_horizons: list[Duration] | None = Field(None, min_length=1)
    #: a multi-symbol market: place limit orders around the weighted sum of these symbols'
    #: mids (price units: ``{A: 0.5, B: 0.5}``) instead of the trader's own mid -- the crowd
    #: of an index future prices it off its constituents (default: its own mid)
    quote_around: dict[str, float] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if self.max_qty < self.min_qty:
            raise ValueError(f"max_qty ({self.max_qty}) must be >= min_qty ({self.min_qty})")
        return self


class NoiseAgent(TraderAgent):
    """Zero-intelligence trader (see ``NoiseGroup``)."""

    kind = "noise"

    @property
    def params(self):
        """The group's parameters (``NoiseGroup``)."""
        return self._params

    @params.setter
    def params(self, p) -> None:
        self._params = p
        # what on_wake reads at every wake, read once (and again whenever params is replaced)
        self._c = (p.order_ttl, p.size_alpha, p.min_qty, p.max_qty, p.p_market, p.flow_lean,
                   p.cross_ticks, p.offset_ticks, p.flow_depth, p.offset_feedback)

    def setup(self) -> None:
        """Pick this trader's horizon (``attention_horizons``) and its activity tracker."""
        p = self.params
        self._u = Uniforms(self.prng)  # four uniforms a wake, straight from this agent's stream
        self._tracker = None
        self._h = 0
        self._hi = p.feedback_clip
        self._lo = 1.0 / p.feedback_clip
        if p.attention_horizons:
            hs = tuple(p.attention_horizons)
            self._tracker = horizon_activity(self.venue, hs, p.activity_reference)
            self._h = self.index % len(hs)
        self._flow = None
        if p.flow_lean or p.flow_depth:
            hl = p.flow_halflife
            if p.flow_horizons:  # crossed with attention_horizons: every pair occurs
                j = self.index // len(p.attention_horizons or [0])
                hl = p.flow_horizons[j % len(p.flow_horizons)]
            self._flow = flow_imbalance(self.venue, hl)
        self._around = None
        if p.quote_around:  # (venue, weight in this symbol's ticks per tick of that one)
            tick = self.venue.tick_size
            self._around = [(self.model.venue_of(s), w * self.model.venue_of(s).tick_size / tick)
                            for s, w in p.quote_around.items()]

    def reference(self) -> float | None:
        """Where this trader's limit orders are placed around (ticks): its mid as seen now,
        or with ``quote_around`` the weighted sum of those symbols' mids (None while one of
        them has no price)."""
        if self._around is None:
            return self.mid()
        t = self.model.now - self.latency.draw()
        out = 0.0
        for venue, w in self._around:
            (bid, _, ask, _), last = venue.view_at(t)
            m = (bid + ask) / 2 if bid is not None and ask is not None else last
            if m is None:
                return None
            out += w * m
        return out

    def activity(self) -> float:
        """The activity this trader reacts to: its horizon's ratio, else the market's."""
        if self._tracker is not None:
            return self._tracker.update(self.venue)[self._h]
        return self.venue.activity()

    def next_wake(self, now: int) -> int | None:
        """The wake schedule, sped up or slowed down by ``activity() ** attention``."""
        t = self.wake.next(self._gaps, now)
        a = self._attention
        if a and t is not None:
            rate = min(self._hi, max(self._lo, self.activity() ** a))
            t = now + 1 + int((t - now) / rate)
        return t

    def on_wake(self) -> None:
        """Cancel orders older than ``order_ttl``, then send one random market or limit order."""
        (ttl, size_alpha, min_qty, max_qty, p_market, flow_lean, cross_ticks, offset_ticks,
         flow_depth, offset_feedback) = self._c
        now = self.model.now
        oo = self.open_orders
        if oo:
            # open orders are held in arrival order (placed times never decrease), so the
            # expired ones are a prefix: stop at the first that is still young
            expired = []
            for oid, o in oo.items():
                if now - o[3] < ttl:
                    break
                expired.append(oid)
            for oid in expired:  # (a zero-latency cancel changes oo at once)
                self.cancel(oid)
        u = self._u.take4()  # Python floats: cheaper to index and compare
        side = BUY if u[0] < 0.5 else SELL
        if size_alpha is None:
            qty = min_qty + int(u[1] * (max_qty - min_qty + 1))
        else:  # inverse CDF of the Pareto law; 1 - u is in (0, 1]
            qty = min(max_qty, int(min_qty * (1.0 - u[1]) ** (-1.0 / size_alpha)))
        if u[2] < p_market:
            self.market_order(side, qty)
            return
        imb = 0.0
        if self._flow is not None:  # lean toward the side being consumed (see NoiseGroup)
            imb = self._flow.update(self.venue)
            if flow_lean:
                lean = min(1.0, max(-1.0, flow_lean * imb))
                side = SELL if u[0] < 0.5 * (1.0 + lean) else BUY
        mid = self.mid() if self._around is None else self.reference()
        if mid is None:
            return
        k = -cross_ticks + int(u[3] * (offset_ticks + cross_ticks + 1))
        if flow_depth and k > 0:  # the consumed side closer, the other side deeper
            f = 1.0 + flow_depth * (imb if side == BUY else -imb)
            k = max(1, round(k * min(3.0, max(0.2, f))))
        if offset_feedback and k > 0:
            k = max(1, round(k * min(self._hi, max(self._lo, self.activity() ** offset_feedback))))
        price = int(mid) - k if side == BUY else int(-(-mid // 1)) + k
        self.limit(side, price, qty)
