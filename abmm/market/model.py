"""``MarketModel``: the simulated market as a ``mesa.Model`` on an event-driven ns clock.

Agents wake at their own times (fixed, Poisson or once); their orders reach the exchange after
their latency; fills update accounts at the exchange's time (:mod:`abmm.market.accounts`) and
reach the agents' strategies after their latency; market data is seen as of ``now - latency``
(:mod:`abmm.market.marketdata`). Events run in (time, sequence) order from one heap
(:mod:`abmm.market.kernel`). ``step()`` advances one decision interval, so Mesa tools and the RL
environment can drive the model; ``run_until(t)`` and ``run()`` go further.

The model is given its parts -- a :class:`~abmm.market.spec.MarketSpec`, a fundamental path --
and then its agents and shocks; it reads no scenario file. Build one from a scenario with
``abmm.scenario.build_model("scenarios/default.yaml", seed=1)`` (or ``abmm.build_model``).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

from abmm.engine import Exchange
from abmm.errors import AbmmError
from abmm.market import kernel as K
from abmm.market._mesa import mesa
from abmm.market.accounts import apply_events
from abmm.market.activity import Activity
from abmm.market.eventlog import EventLog
from abmm.market.gcpolicy import sparse_gc
from abmm.market.marketdata import TopHistory
from abmm.market.results import (
    heartbeat,
    start_run_dir,
    summarize,
    write_final_summary,
    write_run_dir,
)
from abmm.market.spec import MarketSpec
from abmm.market.venue import Venue

log = logging.getLogger(__name__)

__all__ = ["MarketModel", "HEARTBEAT_S", "LEG_ID_BASE"]

#: Account ids of multi-symbol agents' legs start here (agents' own ids count from 1).
LEG_ID_BASE = 1_000_000_000
_WAKE, _ARRIVE, _NOTIFY = K.WAKE, K.ARRIVE, K.NOTIFY  # the hot loop's event kinds

#: Seconds of wall time between two heartbeats in a running run's ``summary.json``.
HEARTBEAT_S = 5.0


def _call(method: str, obj):
    return getattr(obj, method)()


def _fundamental_now(model):
    return model.fundamental.value(model.now)


def _agent_pnl(agent):
    return agent.pnl() if hasattr(agent, "pnl") else None


class _WarmupEnd:
    """Queue payload: snapshot every account when the warm-up ends (PnL is also reported from
    there, so the market's start-up transient does not count)."""

    def fire(self, model) -> None:
        for v in model.venues:
            v.warmup_price = v.mark_price()
        model.warmup_price = model.venue.warmup_price
        model.warmup_marks = {i: (a.cash, a.inventory) for i, a in model._owners.items()}


class _SessionBreak:
    """Queue payload at a session's close: the market is closed until ``reopen``. Every
    pending event due before the next open (wake-ups, orders and fill notices in flight, a
    shock's later slices) moves by the length of the night, so time passes for the agents only
    while the market is open ("trading time"); events declared at or after the next open
    (shocks of later days, the next close) keep their times. Positions and resting orders carry
    over; the fundamental keeps moving overnight (it is a function of clock time)."""

    __slots__ = ("at", "reopen")

    def __init__(self, at: int, reopen: int):
        self.at, self.reopen = at, reopen

    def fire(self, model) -> None:
        gap, reopen = self.reopen - self.at, self.reopen
        model.queue.shift(reopen, gap)
        model._resume_at = reopen
        model.n_sessions_closed += 1


class MarketModel(mesa.Model):
    """The market: one order book per symbol (a :class:`~abmm.market.venue.Venue` each; one
    symbol unless ``spec.symbols`` lists several), their fundamental values, agents, shocks,
    one event log. The primary symbol's book and market data keep their one-symbol names
    (``book``, ``mid()``, ``top_at``, ``volume``, ...); ``venues`` holds every symbol's.

    Construction takes built parts: ``spec`` (the market's parameters), ``fundamental`` (a
    path with ``value(t)``, or a list of them, one per symbol), ``seed``, and optionally
    ``out_dir`` (a run directory for the log) and ``record`` (the resolved scenario, written to
    ``scenario.yaml``). Agents register with
    :meth:`add_agent` as they are created (``mesa.Agent(model)``), shocks with
    :meth:`add_shock`; :meth:`begin` then schedules the first wake-ups and opens the run
    directory. ``abmm.scenario.build_model`` does all of it from a scenario file.
    """

    #: How far back market data is kept for latency look-ups (a longer latency sees the oldest).
    TOP_HISTORY_NS = TopHistory.KEEP_NS
    #: half-lives (ns) of the short- and long-term volatility behind ``activity()``
    ACTIVITY_SHORT_NS = Activity.SHORT_NS
    ACTIVITY_LONG_NS = Activity.LONG_NS

    def __init__(self, spec: MarketSpec, fundamental, seed: int = 0,
                 out_dir: str | Path | None = None, record: dict | None = None,
                 scenario=None):
        self.spec = spec
        #: what built the model (a ``Scenario``, when built from one); the model never reads it
        self.scenario = scenario
        self.record = record
        self.seed_value = int(seed)
        super().__init__(seed=self.seed_value)
        self.start, self.end = spec.start_ns, spec.end_ns
        self.warmup_end = self.start + spec.warmup_ns
        self.step_ns = spec.step_ns
        self.now = self.start
        self.queue = K.EventQueue()
        #: account id -> the agent (or a multi-symbol agent's leg) that owns orders under it
        self._owners: dict[int, object] = {}
        specs = spec.symbol_specs
        funds = list(fundamental) if isinstance(fundamental, (list, tuple)) else [fundamental]
        if len(funds) != len(specs):
            raise ValueError(f"{len(specs)} symbols need {len(specs)} fundamental paths, "
                             f"got {len(funds)}")
        self.exchange = Exchange([s.symbol for s in specs], level_events=False)
        #: one ``Venue`` per symbol, the primary first (``market.symbols`` order)
        self.venues = [Venue(self, i, s.symbol, s.tick_size, s.lot_size, s.reference_price_ticks,
                             f, self.exchange.book(s.symbol))
                       for i, (s, f) in enumerate(zip(specs, funds, strict=True))]
        self.venue = v = self.venues[0]
        self.symbols = [x.symbol for x in self.venues]
        # the primary symbol's market, under the names a one-symbol market has always had
        self.symbol = v.symbol
        self.tick = 1  # prices are in ticks; tick_size converts to price units
        self.tick_size = v.tick_size
        self.lot_size = v.lot_size
        self.book = v.book
        self.fundamental = v.fundamental
        self.reference_price = v.reference_price
        self.history = v.history
        self.top_at = v.top_at  # bound once: agents call these at every wake
        self.view_at = v.view_at
        self._top_t, self._top_v = self.history.times, self.history.tops  # transitional aliases
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.log = EventLog(None, spec.chunk_rows, spec.top_of_book)  # opened by begin()
        self._attach_log()
        self._watching = False  # some agent keeps a fill_log (see watch_fills)
        self.n_requests = 0
        self.n_invalid = 0
        self.late_cancels = 0
        self.n_suppressed = 0  # orders dropped because their agent was silenced by a shock
        self.n_kernel_events = 0  # wake-ups, arrivals, notices and shocks processed
        self.sessions = tuple(spec.sessions) or ((self.start, self.end),)
        self.n_sessions_closed = 0
        self._resume_at: int | None = None  # set at a session's close: the next open
        self.finished = False
        self.started = False
        self._by_id: dict[int, object] = {}
        self.groups: dict[str, list] = {}
        self._shocks: list = []
        self._next_leg_id = LEG_ID_BASE
        self.warmup_marks: dict[int, tuple] = {}  # agent id -> (cash, inventory) at warm-up end
        self.warmup_price: float | None = None
        # reporters that take the model (or agent) are partials: Mesa passes the model only to
        # lambdas and partials, and a compiled module's lambda is not a Python lambda to it
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "time": "now", "mid": partial(_call, "mid"), "spread": partial(_call, "spread"),
                "fundamental": partial(_fundamental_now),
                "last_price": "last_price", "volume": "volume", "trades": "n_trades",
            },
            agent_reporters={"cash": "cash", "inventory": "inventory",
                             "pnl": partial(_agent_pnl)},
        )
        self.collect_data = False
        #: set (to a reason string) to stop ``run()`` cleanly between two steps (signal handlers)
        self.stop_requested: str | None = None
        self._wall0 = time.perf_counter()

    # ------------------------------------------------------------------ construction
    def add_agent(self, agent) -> None:
        """Register an agent (created with this model) under its id and group."""
        self._by_id[agent.unique_id] = agent
        self._owners[agent.unique_id] = agent
        self.groups.setdefault(agent.group, []).append(agent)

    def add_leg(self, leg) -> int:
        """Register a multi-symbol agent's leg (an account on one venue): returns its account
        id, the owner of its orders in the book and the event log."""
        i = self._next_leg_id
        self._next_leg_id += 1
        self._owners[i] = leg
        return i

    def venue_of(self, symbol: str) -> Venue:
        """The venue of ``symbol`` (``KeyError`` listing the symbols when there is none)."""
        for v in self.venues:
            if v.symbol == symbol:
                return v
        raise KeyError(f"no symbol {symbol!r} in this market; symbols: {self.symbols}")

    def add_shock(self, shock) -> None:
        """Schedule a shock: an object with ``at`` (ns) and ``fire(model)``."""
        self._shocks.append(shock)

    def begin(self) -> MarketModel:
        """Schedule the shocks, the warm-up snapshot and every agent's first wake-up, and open
        the run directory (``summary.json`` says "running" until :meth:`finish`)."""
        if self.started:
            return self
        self.started = True
        for (_, close), (reopen, _) in zip(self.sessions, self.sessions[1:], strict=False):
            self.queue.push(close, K.SHOCK, _SessionBreak(close, reopen))
        for shock in self._shocks:
            self.queue.push(shock.at, K.SHOCK, shock)
        if self.warmup_end > self.start:
            self.queue.push(self.warmup_end, K.SHOCK, _WarmupEnd())
        for agent in self._by_id.values():
            t = agent.first_wake(self.start, self.end)
            if t is not None and t <= self.end:
                self.queue.push(t, K.WAKE, agent)
        if self.out_dir is not None:  # until finish() says otherwise, the run is incomplete
            start_run_dir(self.out_dir, self.record, self)
            self.log = EventLog(self.out_dir, self.spec.chunk_rows, self.spec.top_of_book,
                                self.file_meta_args())
            self._attach_log()
        self._wall0 = time.perf_counter()
        return self

    def _attach_log(self) -> None:
        """Every venue's book appends its requests' events to ``self.log`` (in C)."""
        for v in self.venues:
            self.log.attach(v.book, v.index)

    def file_meta_args(self) -> dict:
        """What the run's Parquet files record in their ``abmm.*`` metadata (the keyword
        arguments of :func:`abmm.rundir.layout.file_meta` but ``file`` and ``columns``)."""
        return {"tick_size": self.tick_size, "lot_size": self.lot_size,
                "scenario": self.spec.name, "seed": self.seed_value, "symbol": self.symbol,
                "date": self.spec.date, "symbols": self.symbols}

    def release(self) -> None:
        """Drop what keeps a finished model alive: Mesa's registry of its agents (mesa#3179)
        and ``mesa.Agent._ids``, the class-level id counter keyed by model, which holds every
        model ever created. Call it when a loop (env resets, evaluation seeds) is done with a
        model; the model must not create agents afterwards."""
        self.remove_all_agents()
        mesa.Agent._ids.pop(self, None)

    def agent(self, agent_id: int):
        """The agent with id ``agent_id``."""
        return self._by_id[agent_id]

    def by_name(self, name: str):
        """The agent called ``name`` (``"group/index"``)."""
        for a in self.groups.get(name.rsplit("/", 1)[0], ()):
            if a.name == name:
                return a
        raise KeyError(f"no agent named {name!r}; groups: {sorted(self.groups)}")

    def watch_fills(self, agent) -> list:
        """Record the agent's fills at the exchange from now on: returns its ``fill_log``, a
        list of ``(ts, signed qty, price, mark just before the request, maker?)``."""
        if agent.fill_log is None:
            agent.fill_log = []
        self._watching = True
        return agent.fill_log

    def keep_trades(self, n: int):
        """Keep the last ``n`` trade prices (ticks) of the primary symbol from now on in
        ``trade_prices``."""
        return self.venue.keep_trades(n)

    def detach(self, agent) -> None:
        """Hand an agent to an outside controller (the RL environment, a policy): its own
        strategy no longer wakes; orders, fills, latency and accounts work as before."""
        agent.detached = True
        self.queue.remove(lambda kind, payload: kind == K.WAKE and payload is agent)

    # ------------------------------------------------------------------ market data
    # The primary symbol's market data (every symbol's: ``model.venues``).
    @property
    def top(self) -> tuple:
        """The current top of book ``(bid, bid_qty, ask, ask_qty)`` (``None`` for an empty
        side's price)."""
        return self.venue._top

    @property
    def _top(self) -> tuple:
        return self.venue._top

    @property
    def last_price(self) -> float:
        """The last trade price (ticks; the reference price before any trade)."""
        return self.venue.last_price

    @property
    def volume(self) -> int:
        """Lots traded so far."""
        return self.venue.volume

    @property
    def signed_volume(self) -> int:
        """Taker buys minus taker sells so far, lots."""
        return self.venue.signed_volume

    @property
    def n_trades(self) -> int:
        """Trades so far (every symbol's)."""
        return sum(v.n_trades for v in self.venues)

    @property
    def trade_prices(self):
        """The last trade prices kept by ``keep_trades`` (None until then)."""
        return self.venue.trade_prices

    @property
    def _activity(self) -> Activity:
        return self.venue._activity

    def mid(self) -> float | None:
        """The current mid (ticks), or None with a one-sided book."""
        return self.venue.mid()

    def spread(self) -> int | None:
        """The current spread (ticks), or None with a one-sided book."""
        return self.venue.spread()

    def to_price(self, ticks: float) -> float:
        """Ticks to price units (rounded to a tenth of a tick's decimals, so 9974 -> 99.74)."""
        return round(ticks * self.tick_size, 12)

    def mark_price(self) -> float:
        """The price that values inventory: the mid, else the last trade."""
        return self.venue.mark_price()

    def activity(self) -> float:
        """Short-term over long-term volatility of the mid (1 = usual; > 1 = the market is
        moving more than usual; see :mod:`abmm.market.activity`). Updated at each
        ``step()``."""
        return self.venue._activity.value

    # ------------------------------------------------------------------ orders
    def send(self, agent, request: tuple) -> int:
        """An agent's request leaves now and reaches the exchange after the agent's latency;
        returns its arrival time (ns)."""
        lat = agent.latency.draw()
        if lat <= 0:
            self._arrive(agent, request, self.now)
            return self.now
        t = self.now + lat
        self.queue.push(t, _ARRIVE, (agent, request))
        return t

    def _arrive(self, agent, req: tuple, t: int) -> None:
        v = agent.venue
        book = v.book
        self.n_requests += 1
        if self._watching:
            v._mark_before = v.mark_price()
        if req[0] == 0:
            if agent.suspended_until > t:  # silenced by a shock: orders still in flight are dropped
                self.n_suppressed += 1
                return
            _, side, price, qty, otype, display, stp = req
            try:
                oid, rows, rem, top = book.submit_effects(side, price, qty, agent.unique_id, t,
                                                         otype, display, stp)
            except AbmmError as exc:
                self.n_invalid += 1
                log.debug("%s: order refused: %s", agent.name, exc)
                return
            if rows:  # fills or cancels (most orders only rest)
                n = self.n_requests
                apply_events(v, rows, t)
                if self.n_requests != n:  # a fill notice without latency sent requests meanwhile
                    rem, top = book.remaining(oid), book.top()
            if rem:
                agent.open_orders[oid] = [side, price, rem, t]
        else:
            oid = req[1]
            if oid not in agent.open_orders:  # filled or cancelled while the request travelled
                self.late_cancels += 1
                return
            rows, top = book.cancel_effects(oid, t)
            n = self.n_requests
            apply_events(v, rows, t)
            if self.n_requests != n:
                top = book.top()
        if top is not v._top and top != v._top:  # (the book hands back the same tuple while
            v._top = top                            # its top is unchanged)
            v.history.record(t, top, v.last_price)
            self.log.add_top(t, *top, v.index)

    # ------------------------------------------------------------------ running
    def run_until(self, t_end: int) -> None:
        """Process every event up to and including time ``t_end`` (capped at the session end)."""
        if not self.started:
            self.begin()
        t_end = int(min(t_end, self.end))  # the clock stays integer ns (run_until(t + 60e9))
        q = self.queue
        pop, push = q.pop_due, q.push
        WAKE, ARRIVE, NOTIFY = _WAKE, _ARRIVE, _NOTIFY  # locals: no lookups in the loop
        end = self.end
        n = 0
        while True:
            e = pop(t_end)
            if e is None:
                break
            t, kind, payload = e
            n += 1
            self.now = t
            if kind == WAKE:
                agent = payload
                if agent.detached:
                    continue
                if agent.suspended_until <= t:
                    agent.on_wake()
                nxt = agent.next_wake(t)
                if nxt is not None and nxt <= end:
                    push(nxt, WAKE, agent)
            elif kind == ARRIVE:
                self._arrive(payload[0], payload[1], t)
            elif kind == NOTIFY:
                payload[0].on_fill(*payload[1])
            else:
                payload.fire(self)
        self.n_kernel_events += n
        self.now = max(self.now, t_end)
        if self._resume_at is not None:  # a session closed: the clock jumps to the next open
            if self.now < self._resume_at:
                self.now = self._resume_at
            self._resume_at = None
        if self.now >= self.end:
            self.running = False

    def step(self) -> None:
        """Advance one decision interval (``market.step`` of the scenario)."""
        self.run_until(self.now + self.step_ns)
        now = self.now
        for v in self.venues:
            v._activity.update(now, v.mid())
        if self.collect_data:
            self.datacollector.collect(self)

    def run(self, progress=None) -> dict:
        """Run to the session end; ``progress(now)`` is called after each step. Returns the
        summary (also written to the run directory, with the event log, when there is one)."""
        beat = time.monotonic() + HEARTBEAT_S
        # what Mesa's step wrapper does (count the step), without formatting its debug-log line
        # at every step: tens of thousands of steps a day
        user_step = getattr(self, "_user_step", None) or self.step
        try:
            with sparse_gc():  # the collector walks the day's objects less often (gcpolicy)
                while self.now < self.end and not self.stop_requested:
                    self.steps += 1
                    user_step()
                    if progress is not None:
                        progress(self.now)
                    if self.out_dir is not None and time.monotonic() > beat:
                        heartbeat(self.out_dir, self)
                        beat = time.monotonic() + HEARTBEAT_S
        except BaseException as exc:
            self.finish(status="incomplete", error=repr(exc))
            raise
        if self.stop_requested:
            return self.finish(status="incomplete", error=self.stop_requested)
        return self.finish()

    # ------------------------------------------------------------------ results
    def summary(self, status: str = "complete", error: str | None = None) -> dict:
        """The run's summary (see :func:`abmm.market.results.summarize`)."""
        return summarize(self, status, error)

    def finish(self, status: str = "complete", error: str | None = None) -> dict:
        """Flush the log and write ``summary.json`` and ``agents.parquet``; idempotent."""
        summary = self.summary(status, error)
        if self.out_dir is not None and self.started and not self.finished:
            try:
                write_run_dir(self, self.out_dir, summary)
            except OSError as exc:  # a full disk, a vanished directory: record the truth
                before = summary["error"] or "writing the run directory failed"
                summary = self.summary("incomplete", f"{before}; then: {exc!r}")
                write_final_summary(self.out_dir, summary)  # best effort: a few hundred bytes
                raise
        self.finished = status == "complete" or self.finished
        return summary
