"""The trader agent every kind derives from.

A ``TraderAgent`` is a ``mesa.Agent`` with an account (cash and inventory, kept by the market at
the exchange's time), its open orders, a latency, a wake-up schedule and its own random stream.
The market calls ``on_wake()`` at the agent's wake times and ``on_fill()`` when a fill notice
reaches it (after its latency). Agents see public market data only, as of ``now - latency``
(``quote()``, ``mid()``), plus what their kind may know (the fundamental for
value and informed traders).

Units: prices in ticks, sizes in lots, times in ns, cash in tick·lots (an exact integer).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from abmm.engine import PURE_PYTHON
from abmm.engine.types import OrderType, SelfTrade, Side
from abmm.market._mesa import mesa

if TYPE_CHECKING:  # pragma: no cover
    from abmm.market.model import MarketModel

BUY, SELL = int(Side.BUY), int(Side.SELL)
# plain ints of the enums the order methods send at every call (an enum member's attribute
# lookup and int() cost more than the rest of the call)
_LIMIT, _MARKET, _POST_ONLY = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.POST_ONLY)
_CANCEL_RESTING = int(SelfTrade.CANCEL_RESTING)


_BLOCK = 256  # random draws are taken in blocks: one numpy call per 256 uses


class _Draws:
    """Buffered standard exponential draws from a generator (Poisson wake gaps)."""

    __slots__ = ("fn", "buf", "i")

    def __init__(self, rng: np.random.Generator):
        self.fn = rng.standard_exponential
        self.buf: list = []
        self.i = 0

    def next(self) -> float:
        i = self.i
        if i == len(self.buf):
            self.buf = self.fn(_BLOCK).tolist()
            i = 0
        self.i = i + 1
        return self.buf[i]


class Latency:
    """A latency distribution in ns: ``constant`` (value), ``uniform`` (low, high),
    ``exponential`` (mean, plus ``low``), ``lognormal`` (median, sigma, plus ``low``).

    Exponential and lognormal latencies are drawn in blocks of ``_BLOCK`` standard draws and
    transformed when drawn into the block (the same arithmetic, value for value, as one draw at
    a time): :meth:`draw` is then one list read."""

    __slots__ = ("kind", "a", "b", "low", "rng", "_buf", "_i")

    def __init__(self, kind: str, a: float, b: float, low: int, rng: np.random.Generator):
        self.kind, self.a, self.b, self.low, self.rng = kind, a, b, low, rng
        self._buf: list = []
        self._i = 0

    def _refill(self) -> None:
        low, a, b = self.low, self.a, self.b
        if self.kind == "exponential":
            self._buf = [low + int(a * x) for x in self.rng.standard_exponential(_BLOCK).tolist()]
        else:
            exp = math.exp
            self._buf = [low + int(a * exp(b * x))
                         for x in self.rng.standard_normal(_BLOCK).tolist()]

    def draw(self) -> int:
        """Draw one latency (ns)."""
        i = self._i
        buf = self._buf
        if i < len(buf):
            self._i = i + 1
            return buf[i]
        k = self.kind
        if k == "constant":
            return self.a
        if k == "uniform":
            return int(self.rng.integers(int(self.a), int(self.b) + 1))
        self._refill()
        self._i = 1
        return self._buf[0]


class Uniforms:
    """Uniform draws in [0, 1) as Python floats: ``generator.random(n).tolist()`` (the C
    version reads the same doubles from the bit generator without the array)."""

    __slots__ = ("generator",)

    def __init__(self, generator: np.random.Generator):
        self.generator = generator

    def take3(self) -> list:
        """Three uniforms."""
        return self.generator.random(3).tolist()

    def take4(self) -> list:
        """Four uniforms."""
        return self.generator.random(4).tolist()


class Wake:
    """Wake-up schedule: ``fixed`` (every ``interval``, random phase), ``poisson`` (exponential
    gaps of mean ``interval``), or ``once`` (a single wake at a uniform random time)."""

    __slots__ = ("kind", "interval")

    def __init__(self, kind: str, interval: int):
        self.kind, self.interval = kind, interval

    def first(self, rng: np.random.Generator, start: int, end: int) -> int | None:
        """The first wake time (ns): uniform in ``[start, end)`` for ``once``, a random phase
        in the first ``interval`` for ``fixed``, an exponential gap after ``start`` for
        ``poisson``."""
        if self.kind == "once":
            return start + int(rng.integers(0, max(end - start, 1)))
        if self.kind == "fixed":
            return start + int(rng.integers(0, max(self.interval, 1)))
        return start + int(rng.exponential(self.interval))

    def next(self, draws: _Draws, now: int) -> int | None:
        """The wake time (ns) after ``now``: ``now + interval`` (fixed), ``now + 1 +`` an
        exponential gap (poisson), or None (``once``: no further wake)."""
        if self.kind == "once":
            return None
        if self.kind == "fixed":
            return now + self.interval
        return now + 1 + int(self.interval * draws.next())


class OrderMethods:
    """What an account that trades on one venue can do: see its market (as of ``now -
    latency``) and send orders and cancels there. Shared by :class:`TraderAgent` and the legs of
    multi-symbol agents (:class:`abmm.agents.legs.Leg`); needs ``model``, ``venue``,
    ``latency``, ``open_orders``, ``n_orders`` and ``n_cancels``."""

    def quote(self):
        """``(bid, bid_qty, ask, ask_qty)`` as seen now, i.e. as of ``now - latency``."""
        return self.venue.top_at(self.model.now - self.latency.draw())

    def mid(self) -> float:
        """Mid price as seen now, i.e. as of ``now - latency`` (with a one-sided book: the last
        trade then, or the reference price before any trade)."""
        (bid, _, ask, _), last = self.venue.view_at(self.model.now - self.latency.draw())
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return last

    # ------------------------------------------------------------------ orders
    def limit(self, side: int, price: int, qty: int, order_type: int = _LIMIT,
              display: int = 0, stp: int = _CANCEL_RESTING) -> int | None:
        """Send a limit (or IOC/FOK/post-only) order; it reaches the exchange after the latency.
        Returns its arrival time (ns; None: nothing sent, ``qty`` <= 0)."""
        if qty <= 0:
            return None
        self.n_orders += 1
        return self.model.send(self, (0, side, max(int(price), 1), int(qty), int(order_type),
                                      int(display), int(stp)))

    def market_order(self, side: int, qty: int,
                     stp: int = _CANCEL_RESTING) -> int | None:
        """Send a market order of ``qty`` lots; it reaches the exchange after the latency.
        Returns its arrival time (ns; None: nothing sent)."""
        if qty <= 0:
            return None
        self.n_orders += 1
        return self.model.send(self, (0, side, 0, int(qty), _MARKET, 0, int(stp)))

    def cancel(self, order_id: int) -> int:
        """Cancel one of this agent's orders (a no-op if it has finished by the time it arrives).
        Returns the cancel's arrival time (ns)."""
        self.n_cancels += 1
        return self.model.send(self, (1, order_id))

    def cancel_all(self) -> None:
        """Cancel every open order of this agent."""
        for oid in list(self.open_orders):
            self.cancel(oid)

    def requote_ladder(self, bid: int | None, ask: int | None, levels: int, spacing: int,
                       size: int) -> None:
        """Hold a post-only ladder: ``levels`` bids from ``bid`` down and asks from ``ask`` up,
        ``spacing`` ticks apart, ``size`` lots each (``None``: that side not quoted). An open
        order already at a wanted (side, price) is kept, so it keeps its queue position; every
        other open order is cancelled and the missing prices are sent (sorted: bids first)."""
        cancels, sends = ladder_plan(self.open_orders, bid, ask, levels, spacing)
        for oid in cancels:
            self.cancel(oid)
        for side, price in sends:
            self.limit(side, price, size, _POST_ONLY)

    def open_qty(self, side: int) -> int:
        """Open quantity (lots) of this agent's orders on ``side``."""
        return sum(o[2] for o in self.open_orders.values() if o[0] == side)


def ladder_plan(open_orders: dict, bid, ask, levels: int, spacing: int) -> tuple:
    """``(cancels, sends)`` to hold a ladder (``OrderMethods.requote_ladder``): the ids of the
    open orders not at a wanted (side, price) -- or repeating one -- in the dict's order, and
    the wanted ``(side, price)`` no open order holds, sorted (bids first), prices >= 1."""
    want = set()
    if bid is not None:
        for j in range(levels):
            want.add((BUY, bid - j * spacing))
    if ask is not None:
        for j in range(levels):
            want.add((SELL, ask + j * spacing))
    have = set()
    cancels = []
    for oid, o in open_orders.items():
        key = (o[0], o[1])
        if key in want and key not in have:
            have.add(key)
        else:
            cancels.append(oid)
    return cancels, [(side, price) for side, price in sorted(want - have) if price >= 1]


class TraderAgent(OrderMethods, mesa.Agent):
    """Base class of abmm's agents. Subclasses implement ``on_wake`` (and may override
    ``on_fill``, ``setup``)."""

    kind = "trader"
    model: MarketModel
    # what the market and the strategies read at every wake and order, held in the object
    # itself (an attribute lookup then skips the instance-dict probe: about 10 % of a large
    # crowd's run, measured); every other attribute goes to the instance dict as usual
    __slots__ = ("model", "unique_id", "venue", "latency", "wake", "_gaps", "prng", "cash",
                 "inventory", "open_orders", "n_orders", "n_cancels", "n_fills", "traded",
                 "fees", "suspended_until", "fill_log", "detached", "_attention", "group",
                 "index", "name", "learnable")
    #: True when the class overrides ``on_fill`` (the market only schedules notices for those).
    wants_fills = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.wants_fills = cls.on_fill is not TraderAgent.on_fill

    def __init__(self, model: MarketModel, group: str, index: int, params, prng: np.random.Generator,
                 latency: Latency, wake: Wake, learnable: bool = False, venue=None):
        super().__init__(model)
        #: the symbol's market this agent trades on (``model.venues``; default the primary):
        #: its market data and its book
        self.venue = model.venue if venue is None else venue
        self.group = group
        self.index = index
        self.name = f"{group}/{index}"
        self.params = params
        self.prng = prng  # this agent's own stream (Mesa's self.rng is the model's)
        self._gaps = _Draws(prng)  # Poisson wake gaps, drawn in blocks
        self.latency = latency
        self.wake = wake
        self.learnable = learnable
        self.cash = 0  # tick·lots
        self.inventory = 0  # lots
        # order id -> [side, price, open qty, placed ns], in arrival order (the market adds an
        # order when it arrives, so placed ns never decreases along the dict)
        self.open_orders: dict[int, list] = {}
        self.n_orders = 0
        self.n_cancels = 0
        self.n_fills = 0
        self.traded = 0  # lots
        self.fees = 0
        self.suspended_until = -1  # shocks can silence an agent (liquidity withdrawal)
        #: set to a list to record every fill at the exchange as ``(ts, signed qty, price,
        #: mark just before the fill, maker?)`` (the RL environment's reward uses it)
        self.fill_log: list | None = None
        #: True when an outside controller (the RL environment, a policy) drives this agent:
        #: the market no longer wakes its own strategy
        self.detached = False
        self._attention = getattr(params, "attention", 0.0)
        self.setup()

    # ------------------------------------------------------------------ hooks
    def setup(self) -> None:
        """Called at the end of ``__init__``: read ``self.params`` into attributes."""

    def on_wake(self) -> None:
        """The strategy: runs at each wake time."""

    def on_fill(self, order_id: int, side: int, price: int, qty: int, maker: bool) -> None:
        """A fill notice (after the agent's latency). The account is already updated."""

    def first_wake(self, start: int, end: int) -> int | None:
        """When to wake first (default: the wake schedule, from the session start)."""
        return self.wake.first(self.prng, start, end)

    def next_wake(self, now: int) -> int | None:
        """When to wake next (default: the wake schedule, sped up or slowed down by the market's
        recent activity when the group has ``attention``)."""
        t = self.wake.next(self._gaps, now)
        a = self._attention
        if a and t is not None:
            rate = min(5.0, max(0.2, self.venue.activity() ** a))
            t = now + 1 + int((t - now) / rate)
        return t

    # ------------------------------------------------------------------ market data
    @property
    def now(self) -> int:
        """The market's current time (ns)."""
        return self.model.now

    def mark_price(self) -> float:
        """Price used to value inventory: the current mid, else the last trade."""
        return self.venue.mark_price()

    def pnl(self) -> float:
        """Mark-to-market PnL in tick·lots (initial endowment zero)."""
        return self.cash + self.inventory * self.venue.mark_price() - self.fees

    # ------------------------------------------------------------------ reporting
    def summary(self) -> dict:
        """Account and activity counters of this agent, PnL marked at the current mark price."""
        mark = self.venue.mark_price()
        return {
            "agent_id": self.unique_id, "name": self.name, "group": self.group, "kind": self.kind,
            "symbol": self.venue.symbol,
            "cash": self.cash, "inventory": self.inventory,
            "pnl_ticks": self.cash + self.inventory * mark - self.fees,
            "orders": self.n_orders, "cancels": self.n_cancels, "fills": self.n_fills,
            "traded": self.traded, "open_orders": len(self.open_orders),
        }


class HorizonActivity:
    """The market's activity seen over several horizons: for each half-life ``h`` the ratio
    ``sqrt(EWMA_h / EWMA_ref)`` of squared mid moves per second (bias-corrected EWMAs, as
    ``abmm.market.activity``), against a reference half-life ``ref_ns`` (a day by default).

    One tracker is shared by every agent of a model (``horizon_activity(model, ...)``); it is
    updated lazily, at most once per ``min_dt_ns`` of market time, from the current mid, when an
    agent asks -- O(number of horizons) per update, one comparison otherwise."""

    __slots__ = ("vols", "ref", "min_dt", "t_last", "values")

    def __init__(self, horizons_ns: tuple, ref_ns: int, min_dt_ns: int = 1_000_000_000):
        from abmm.signals.volatility import MidVolatility

        self.vols = [MidVolatility(h, halflife_unit="ns", bias_correct=True) for h in horizons_ns]
        self.ref = MidVolatility(ref_ns, halflife_unit="ns", bias_correct=True)
        self.min_dt = min_dt_ns
        self.t_last = -(1 << 62)
        self.values = [1.0] * len(horizons_ns)

    def update(self, model) -> list:
        """The ratios per horizon (updated first when ``min_dt_ns`` has passed)."""
        now = model.now
        if now - self.t_last >= self.min_dt:
            self.t_last = now
            mid = model.mid()
            if mid is not None:
                self.ref.update(mid, now)
                ref = self.ref.variance
                for i, v in enumerate(self.vols):
                    v.update(mid, now)
                    self.values[i] = 1.0 if ref <= 0 else (v.variance / ref) ** 0.5
        return self.values


def horizon_activity(model, horizons_ns: tuple, ref_ns: int) -> HorizonActivity:
    """The model's shared ``HorizonActivity`` for these horizons (created on first use)."""
    key = (tuple(horizons_ns), ref_ns)
    trackers = model.__dict__.setdefault("_horizon_activity", {})
    tr = trackers.get(key)
    if tr is None:
        tr = trackers[key] = HorizonActivity(key[0], ref_ns)
    return tr


class FlowImbalance:
    """The recent imbalance of the market's taker flow, in [-1, 1]: the EWMA of signed taker
    volume (buys minus sells, lots) over the EWMA of taker volume, half-life ``halflife_ns``
    (market time), from the model's cumulative ``signed_volume`` and ``volume``. > 0: buyers
    have been taking liquidity. Shared by the agents of a model (``flow_imbalance``) and updated
    lazily, at most once per ``min_dt_ns``: O(1) per call."""

    __slots__ = ("halflife", "min_dt", "t_last", "signed", "vol", "s", "v", "value")

    def __init__(self, halflife_ns: int, min_dt_ns: int = 1_000_000_000):
        self.halflife = halflife_ns
        self.min_dt = min_dt_ns
        self.t_last = None
        self.signed = 0
        self.vol = 0
        self.s = 0.0
        self.v = 0.0
        self.value = 0.0

    def update(self, model) -> float:
        """The imbalance (updated first when ``min_dt_ns`` has passed)."""
        now = model.now
        if self.t_last is None:
            self.t_last, self.signed, self.vol = now, model.signed_volume, model.volume
        elif now - self.t_last >= self.min_dt:
            decay = 0.5 ** ((now - self.t_last) / self.halflife)
            self.s = self.s * decay + (model.signed_volume - self.signed)
            self.v = self.v * decay + (model.volume - self.vol)
            self.t_last, self.signed, self.vol = now, model.signed_volume, model.volume
            self.value = self.s / self.v if self.v > 0 else 0.0
        return self.value


# the C versions of the helpers above (cython_ext/_crng.pyx): the same draws and the same
# arithmetic, faster; the Python ones stay reachable as the reference
# (tests/market/test_crng.py) and run under ABMM_PURE_PYTHON=1
PyLatency, PyDraws, PyUniforms, PyWake = Latency, _Draws, Uniforms, Wake
PyHorizonActivity, PyFlowImbalance = HorizonActivity, FlowImbalance
py_ladder_plan = ladder_plan
if not PURE_PYTHON:
    try:
        from abmm.agents._crng import (  # type: ignore[no-redef,assignment] # noqa: F811
            FlowImbalance,
            HorizonActivity,
            Latency,
            Uniforms,
            Wake,
            _Draws,
            ladder_plan,
        )
    except ImportError:  # not built: the Python ones (the engine's import already warned)
        pass


def flow_imbalance(model, halflife_ns: int) -> FlowImbalance:
    """The model's shared ``FlowImbalance`` for this half-life (created on first use)."""
    trackers = model.__dict__.setdefault("_flow_imbalance", {})
    tr = trackers.get(halflife_ns)
    if tr is None:
        tr = trackers[halflife_ns] = FlowImbalance(halflife_ns)
    return tr
