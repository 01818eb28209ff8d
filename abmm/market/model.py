"""``MarketModel``: the simulated market as a ``mesa.Model`` on an event-driven ns clock.

Agents wake at their own times (fixed, Poisson or once); their orders reach the exchange after
their latency; fills update accounts at the exchange's time and reach the agents' strategies
after their latency; market data is seen as of ``now - latency``. Events run in (time, sequence)
order from one heap. ``step()`` advances one decision interval (``market.step``), so Mesa tools
and the RL environment can drive the model; ``run_until(t)`` and ``run()`` go further.

Build one from a scenario: ``MarketModel.from_scenario("scenarios/default.yaml", seed=1)``.
"""

from __future__ import annotations

import bisect
import heapq
import json
import logging
import time
from pathlib import Path

import mesa

from abmm.engine import Exchange
from abmm.engine.types import EventKind, Side
from abmm.errors import AbmmError
from abmm.market import kernel as K
from abmm.market.eventlog import EventLog

log = logging.getLogger(__name__)

FILL = int(EventKind.FILL)
CANCELLED = int(EventKind.CANCELLED)
REFILL = int(EventKind.REFILL)
BUY = int(Side.BUY)


class _WarmupEnd:
    """Queue payload: snapshot every account when the warm-up ends (PnL is also reported from
    there, so the market's start-up transient does not count)."""

    def fire(self, model) -> None:
        model.warmup_price = model.mark_price()
        model.warmup_marks = {i: (a.cash, a.inventory) for i, a in model._by_id.items()}


class MarketModel(mesa.Model):
    """The market: one order book (symbol), a fundamental value, agents, shocks, an event log.

    Use :meth:`from_scenario`; the constructor takes an already validated ``Scenario``.
    """

    def __init__(self, scenario, seed: int | None = None, out_dir: str | Path | None = None):
        from abmm.scenario import build_market

        self.scenario = scenario
        self.seed_value = int(scenario.seed if seed is None else seed)
        super().__init__(seed=self.seed_value)
        m = scenario.market
        self.symbol = m.symbol
        self.tick = 1  # prices are in ticks; tick_size converts to price units
        self.tick_size = m.tick_size
        self.lot_size = m.lot_size
        self.start, self.end = m.start_ns, m.end_ns
        self.warmup_end = self.start + m.warmup_ns
        self.step_ns = m.step_ns
        self.now = self.start
        self.exchange = Exchange([m.symbol], level_events=False)
        self.book = self.exchange.book(m.symbol)
        self.queue = K.EventQueue()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.log = EventLog(self.out_dir, scenario.logging.chunk_rows,
                            scenario.logging.top_of_book)
        self._top = (None, 0, None, 0)
        self._top_t: list[int] = [self.start]
        self._top_v: list[tuple] = [self._top]
        self.reference_price = m.reference_price_ticks
        self.last_price: float = float(self.reference_price)
        self._last_v: list[float] = [self.last_price]  # last trade price, beside _top_v
        self.volume = 0
        self.signed_volume = 0  # taker buys minus taker sells, lots
        self._watching = False  # some agent keeps a fill_log (see watch_fills)
        self.trade_prices = None  # a bounded deque of the last trade prices (keep_trades)
        self._mark_before = 0.0
        self.n_trades = 0
        self.n_requests = 0
        self.n_invalid = 0
        self.late_cancels = 0
        self.n_suppressed = 0  # orders dropped because their agent was silenced by a shock
        self.n_kernel_events = 0  # wake-ups, arrivals, notices and shocks processed
        self._act_prev: tuple = (None, 0)  # (mid, time) at the last activity update
        self._act_var = [0.0, 0.0]  # short- and long-term EWMA of squared mid moves per second
        self._act_decay = [1.0, 1.0]  # weight not yet gathered by each EWMA (bias correction)
        self._activity = 1.0
        self.finished = False
        self._by_id: dict[int, object] = {}
        self.groups: dict[str, list] = {}
        self.fundamental, shocks = build_market(self, scenario, self.seed_value)
        for shock in shocks:
            self.queue.push(shock.at, K.SHOCK, shock)
        self.warmup_marks: dict[int, tuple] = {}  # agent id -> (cash, inventory) at warm-up end
        self.warmup_price: float | None = None
        if self.warmup_end > self.start:
            self.queue.push(self.warmup_end, K.SHOCK, _WarmupEnd())
        for agent in self._by_id.values():
            t = agent.first_wake(self.start, self.end)
            if t is not None and t <= self.end:
                self.queue.push(t, K.WAKE, agent)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "time": "now", "mid": lambda mm: mm.mid(), "spread": lambda mm: mm.spread(),
                "fundamental": lambda mm: mm.fundamental.value(mm.now),
                "last_price": "last_price", "volume": "volume", "trades": "n_trades",
            },
            agent_reporters={"cash": "cash", "inventory": "inventory",
                             "pnl": lambda a: a.pnl() if hasattr(a, "pnl") else None},
        )
        self.collect_data = False
        #: set (to a reason string) to stop ``run()`` cleanly between two steps (signal handlers)
        self.stop_requested: str | None = None
        self._wall0 = time.perf_counter()
        if self.out_dir is not None:  # until finish() says otherwise, the run is incomplete
            import yaml

            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "summary.json").write_text(json.dumps({"status": "running"}))
            resolved = scenario.resolved()
            resolved["seed"] = self.seed_value
            (self.out_dir / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_scenario(cls, scenario, seed: int | None = None, out: str | Path | None = None,
                      overrides: list[str] | None = None) -> MarketModel:
        """A model from a scenario file path, a dict, or a ``Scenario``; ``overrides`` are
        ``"key.path=value"`` strings (values parsed as YAML)."""
        from abmm.scenario import Scenario, load_scenario

        if isinstance(scenario, Scenario):
            if overrides:
                scenario = load_scenario(scenario.resolved(), overrides=overrides)
        else:
            scenario = load_scenario(scenario, overrides=overrides)
        return cls(scenario, seed=seed, out_dir=out)

    def release(self) -> None:
        """Drop what keeps a finished model alive: Mesa's registry of its agents (mesa#3179)
        and ``mesa.Agent._ids``, the class-level id counter keyed by model, which holds every
        model ever created. Call it when a loop (env resets, evaluation seeds) is done with a
        model; the model must not create agents afterwards."""
        self.remove_all_agents()
        mesa.Agent._ids.pop(self, None)

    def add_agent(self, agent) -> None:
        self._by_id[agent.unique_id] = agent
        self.groups.setdefault(agent.group, []).append(agent)

    def agent(self, agent_id: int):
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
        """Keep the last ``n`` trade prices (ticks) from now on in ``trade_prices``."""
        from collections import deque

        if self.trade_prices is None or self.trade_prices.maxlen != n:
            self.trade_prices = deque(self.trade_prices or (), maxlen=n)
        return self.trade_prices

    def detach(self, agent) -> None:
        """Hand an agent to an outside controller (the RL environment, a policy): its own
        strategy no longer wakes; orders, fills, latency and accounts work as before."""
        agent.detached = True
        heap = self.queue._heap
        kept = [e for e in heap if not (e[2] == K.WAKE and e[3] is agent)]
        if len(kept) != len(heap):
            heap[:] = kept
            heapq.heapify(heap)

    # ------------------------------------------------------------------ market data
    def _index_at(self, t: int) -> int:
        if t >= self._top_t[-1]:
            return len(self._top_t) - 1
        return max(bisect.bisect_right(self._top_t, t) - 1, 0)

    def top_at(self, t: int) -> tuple:
        """Top of book ``(bid, bid_qty, ask, ask_qty)`` as it was at time ``t``."""
        return self._top_v[self._index_at(t)]

    def view_at(self, t: int) -> tuple:
        """``(top of book, last trade price)`` as they were at time ``t``."""
        i = self._index_at(t)
        return self._top_v[i], self._last_v[i]

    #: How far back market data is kept for latency look-ups (a longer latency sees the oldest).
    TOP_HISTORY_NS = 10_000_000_000

    def _trim_top_history(self, now: int) -> None:
        i = bisect.bisect_right(self._top_t, now - self.TOP_HISTORY_NS) - 1
        if i > 0:
            del self._top_t[:i]
            del self._top_v[:i]
            del self._last_v[:i]

    def mid(self) -> float | None:
        bid, _, ask, _ = self._top
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def spread(self) -> int | None:
        bid, _, ask, _ = self._top
        return None if bid is None or ask is None else ask - bid

    def to_price(self, ticks: float) -> float:
        """Ticks to price units (rounded to a tenth of a tick's decimals, so 9974 -> 99.74)."""
        return round(ticks * self.tick_size, 12)

    def mark_price(self) -> float:
        m = self.mid()
        return self.last_price if m is None else m

    # ------------------------------------------------------------------ orders
    def send(self, agent, request: tuple) -> None:
        """An agent's request leaves now and reaches the exchange after the agent's latency."""
        lat = agent.latency.draw()
        if lat <= 0:
            self._arrive(agent, request, self.now)
        else:
            self.queue.push(self.now + lat, K.ARRIVE, (agent, request))

    def _arrive(self, agent, req: tuple, t: int) -> None:
        book = self.book
        self.n_requests += 1
        self._mark_before = self.mark_price() if self._watching else 0.0
        if req[0] == 0:
            if agent.suspended_until > t:  # silenced by a shock: orders still in flight are dropped
                self.n_suppressed += 1
                return
            _, side, price, qty, otype, display, stp = req
            try:
                oid = book.submit(side, price, qty, agent.unique_id, t, otype, display, stp)
            except AbmmError as exc:
                self.n_invalid += 1
                log.debug("%s: order refused: %s", agent.name, exc)
                return
            rows = book.last_event_tuples()
            self.log.add_events(rows, otype)
            self._apply(rows, t)
            rem = book.remaining(oid)
            if rem:
                agent.open_orders[oid] = [side, price, rem, t]
        else:
            oid = req[1]
            if oid not in agent.open_orders:  # filled or cancelled while the request travelled
                self.late_cancels += 1
                return
            book.cancel(oid, 0, t)
            rows = book.last_event_tuples()
            self.log.add_events(rows, -1)
            self._apply(rows, t)
        top = book.top()
        if top != self._top:
            self._top = top
            self._top_t.append(t)
            self._top_v.append(top)
            self._last_v.append(self.last_price)
            self.log.add_top(t, *top)
            if len(self._top_t) > 8192:
                self._trim_top_history(t)

    def _apply(self, rows: list, t: int) -> None:
        """Update accounts and open orders from one request's events."""
        agents = self._by_id
        mark0 = None  # the mark before this request, computed when a fill log needs it
        for r in rows:
            kind = r[8]
            if kind == FILL:
                _, moid, mown, toid, town, price, qty, rem, _, side, _ = r
                maker, taker = agents[mown], agents[town]
                signed = qty if side == BUY else -qty
                taker.inventory += signed
                taker.cash -= signed * price
                maker.inventory -= signed
                maker.cash += signed * price
                maker.n_fills += 1
                taker.n_fills += 1
                maker.traded += qty
                taker.traded += qty
                o = maker.open_orders.get(moid)
                if o is not None:
                    if rem:
                        o[2] = rem
                    else:
                        del maker.open_orders[moid]
                if maker.fill_log is not None or taker.fill_log is not None:
                    if mark0 is None:  # self._top is still the book before this request;
                        mark0 = self._mark_before  # last_price too, until the first fill
                    if maker.fill_log is not None:
                        maker.fill_log.append((t, -signed, price, mark0, True))
                    if taker.fill_log is not None:
                        taker.fill_log.append((t, signed, price, mark0, False))
                self.last_price = price
                if self.trade_prices is not None:
                    self.trade_prices.append(price)
                self.volume += qty
                self.signed_volume += signed
                self.n_trades += 1
                self._notify(maker, (moid, 1 - side, price, qty, True), t)
                self._notify(taker, (toid, side, price, qty, False), t)
            elif kind == CANCELLED or kind == REFILL:
                owner = agents.get(r[2])
                if owner is not None and r[1] in owner.open_orders:
                    if r[7]:
                        owner.open_orders[r[1]][2] = r[7]
                    else:
                        del owner.open_orders[r[1]]

    def _notify(self, agent, fill: tuple, t: int) -> None:
        if not agent.wants_fills:
            return
        lat = agent.latency.draw()
        if lat <= 0:
            agent.on_fill(*fill)
        else:
            self.queue.push(t + lat, K.NOTIFY, (agent, fill))

    # ------------------------------------------------------------------ running
    def run_until(self, t_end: int) -> None:
        """Process every event up to and including time ``t_end`` (capped at the session end)."""
        t_end = min(t_end, self.end)
        q = self.queue
        heap = q._heap
        pop = heapq.heappop
        end = self.end
        n = 0
        while heap and heap[0][0] <= t_end:
            t, _, kind, payload = pop(heap)
            n += 1
            self.now = t
            if kind == K.WAKE:
                agent = payload
                if agent.detached:
                    continue
                if agent.suspended_until <= t:
                    agent.on_wake()
                nxt = agent.next_wake(t)
                if nxt is not None and nxt <= end:
                    q.push(nxt, K.WAKE, agent)
            elif kind == K.ARRIVE:
                self._arrive(payload[0], payload[1], t)
            elif kind == K.NOTIFY:
                payload[0].on_fill(*payload[1])
            else:
                payload.fire(self)
        self.n_kernel_events += n
        self.now = max(self.now, t_end)
        if self.now >= self.end:
            self.running = False

    def step(self) -> None:
        """Advance one decision interval (``market.step`` of the scenario)."""
        self.run_until(self.now + self.step_ns)
        self._update_activity()
        if self.collect_data:
            self.datacollector.collect(self)

    #: half-lives (ns) of the short- and long-term volatility behind ``activity()``
    ACTIVITY_SHORT_NS = 120_000_000_000
    ACTIVITY_LONG_NS = 7_200_000_000_000

    def _update_activity(self) -> None:
        """EWMAs of the squared mid change per second, short and long term (public data)."""
        m = self.mid()
        if m is None:
            return
        prev, t_prev = self._act_prev
        self._act_prev = (m, self.now)
        if prev is None or self.now <= t_prev:
            return
        dt = self.now - t_prev
        r2 = (m - prev) ** 2 * (1e9 / dt)
        var, decay = self._act_var, self._act_decay
        for i, hl in ((0, self.ACTIVITY_SHORT_NS), (1, self.ACTIVITY_LONG_NS)):
            w = 1 - 0.5 ** (dt / hl)
            var[i] += w * (r2 - var[i])
            decay[i] *= 1 - w
        # bias-corrected (as Adam's moments): an EWMA started at 0 divided by the weight it
        # has gathered, so the ratio is about 1 from the first minutes, not inflated until the
        # long EWMA has filled up
        short, long = var[0] / (1 - decay[0]), var[1] / (1 - decay[1])
        self._activity = 1.0 if long <= 0 else (short / long) ** 0.5

    def activity(self) -> float:
        """Short-term over long-term volatility of the mid (1 = usual; > 1 = the market is
        moving more than usual): the bias-corrected EWMAs of squared mid changes with
        half-lives ``ACTIVITY_SHORT_NS`` and ``ACTIVITY_LONG_NS``. Updated at each
        ``step()``."""
        return self._activity

    def run(self, progress=None) -> dict:
        """Run to the session end; ``progress(now)`` is called after each step. Returns the
        summary (also written to the run directory, with the event log, when there is one)."""
        try:
            while self.now < self.end and not self.stop_requested:
                self.step()
                if progress is not None:
                    progress(self.now)
        except BaseException as exc:
            self.finish(status="incomplete", error=repr(exc))
            raise
        if self.stop_requested:
            return self.finish(status="incomplete", error=self.stop_requested)
        return self.finish()

    # ------------------------------------------------------------------ results
    def summary(self, status: str = "complete", error: str | None = None) -> dict:
        groups = {}
        mark = self.mark_price()
        unit = self.tick_size * self.lot_size
        for name, members in self.groups.items():
            pnl = [a.cash + a.inventory * mark - a.fees for a in members]
            since = pnl
            if self.warmup_price is not None:
                w = self.warmup_marks
                since = [p - (w[a.unique_id][0] + w[a.unique_id][1] * self.warmup_price)
                         for p, a in zip(pnl, members, strict=True)]
            groups[name] = {
                "kind": members[0].kind, "agents": len(members),
                "pnl_total": sum(pnl) * unit,
                "pnl_mean": sum(pnl) / len(pnl) * unit,
                "pnl_after_warmup_total": sum(since) * unit,
                "inventory_total": sum(a.inventory for a in members),
                "orders": sum(a.n_orders for a in members),
                "fills": sum(a.n_fills for a in members),
            }
        stats = self.book.stats()
        bid, _, ask, _ = self._top
        return {
            "status": status, "error": error, "scenario": self.scenario.name,
            "seed": self.seed_value, "symbol": self.symbol,
            "start_ns": self.start, "end_ns": self.end, "now_ns": self.now,
            "wall_seconds": round(time.perf_counter() - self._wall0, 3),
            "orders": stats["next_id"] - 1, "cancels": sum(a.n_cancels for a in self._by_id.values()),
            "trades": self.n_trades, "volume_lots": self.volume, "requests": self.n_requests,
            "kernel_events": self.n_kernel_events,
            "invalid_requests": self.n_invalid, "late_cancels": self.late_cancels,
            "suppressed_orders": self.n_suppressed,
            "events_logged": self.log.n_events, "top_of_book_changes": self.log.n_top,
            "final_bid": None if bid is None else self.to_price(bid),
            "final_ask": None if ask is None else self.to_price(ask),
            "final_price": self.to_price(self.mark_price()),
            "final_fundamental": self.to_price(self.fundamental.value(self.now)),
            "live_orders": stats["live_orders"], "groups": groups,
        }

    def finish(self, status: str = "complete", error: str | None = None) -> dict:
        """Flush the log and write ``summary.json`` and ``agents.parquet``; idempotent."""
        summary = self.summary(status, error)
        if self.out_dir is not None and not self.finished:
            self.log.flush()
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = [a.summary() for a in self._by_id.values()]
            keys = list(dict.fromkeys(k for r in rows for k in r))  # kinds add their own columns
            table = pa.table({k: [r.get(k) for r in rows] for k in keys})
            pq.write_table(table, self.out_dir / "agents.parquet")
            times = self.fundamental.times()
            keep = times <= self.now
            pq.write_table(pa.table({"ts": times[keep], "value": self.fundamental.path[keep]
                                     * self.tick_size}), self.out_dir / "fundamental.parquet")
            tmp = self.out_dir / "summary.json.tmp"
            tmp.write_text(json.dumps(summary, indent=1))
            tmp.replace(self.out_dir / "summary.json")
        self.finished = status == "complete" or self.finished
        return summary
