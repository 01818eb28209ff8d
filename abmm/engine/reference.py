"""The pure-Python reference order book: the oracle for the compiled engine.

Same public API and exactly the same semantics as the compiled ``OrderBook`` (see
``docs/matching.md``); the differential tests feed both the same message streams and demand
identical events, errors and books. It is also the fallback engine when the extension did not
build (or ``ABMM_PURE_PYTHON=1``).

Layout: each side is a ``sortedcontainers.SortedDict`` mapping price -> ``_Level``; a level holds
its orders in an insertion-ordered ``dict`` (order id -> ``_Order``), so the queue head is the
first key, appending is O(1) and a cancel anywhere in the queue is O(1). Finding a level is
O(log L) in the number of levels; the best level is ``peekitem`` at one end.
"""

from __future__ import annotations

import numpy as np
from sortedcontainers import SortedDict

from abmm.engine import _validate as V
from abmm.engine.types import EVENT_DTYPE, LOG_DTYPE, MSG_DTYPE, ORDER_DTYPE, OrderStatus
from abmm.errors import InvalidTypeError, InvalidValueError, OrderNotLiveError, UnknownOrderError

__all__ = ["OrderBook", "EventSink"]

# Codes, bound as module constants for speed (values of the enums in types.py).
BUY, SELL = 0, 1
LIMIT, MARKET, IOC, FOK, POST_ONLY = 0, 1, 2, 3, 4
STP_NONE, STP_RESTING, STP_INCOMING, STP_BOTH = 0, 1, 2, 3
EV_ACCEPTED, EV_FILL, EV_CANCELLED, EV_EXPIRED, EV_REJECTED, EV_MODIFIED, EV_REFILL, EV_LEVEL = (
    range(8)
)
#: the events that change accounts and open orders (``submit_effects``)
_EFFECTS = frozenset((EV_FILL, EV_CANCELLED, EV_REFILL))
R_NONE, R_USER, R_NO_LIQ, R_FOK, R_POST_ONLY, R_STP, R_UNKNOWN, R_NOT_LIVE = range(8)
S_RESTING, S_FILLED, S_CANCELLED, S_EXPIRED, S_REJECTED = range(5)
MARKET_BUY_LIMIT = V.INT64_MAX


class EventSink:
    """The run's event log buffer: the books attached to it (``OrderBook.attach_log``) append
    the events of every ``submit_events`` / ``cancel_events`` call as they happen, but ``LEVEL``
    updates, as ``LOG_DTYPE`` rows (``ACCEPTED`` rows carry the order type, the others -1) with
    the index of the book's symbol. When ``chunk_rows`` rows are buffered, ``on_full()`` is
    called (it takes them with :meth:`take`). ``store=False`` only counts the rows. The
    compiled engine's ``EventSink`` does the same in C."""

    def __init__(self, chunk_rows: int = 250_000, on_full=None, store: bool = True):
        self.chunk_rows = chunk_rows
        self.on_full = on_full
        self.store = store
        self.total = 0  # rows appended since the sink was made
        self._rows: list = []
        self._syms: list = []

    def __len__(self) -> int:
        """Rows buffered (not yet taken)."""
        return len(self._rows)

    def add_tuples(self, rows, order_type: int, sym: int = 0) -> None:
        """Append event tuples (``EVENT_DTYPE.names`` order; ``LEVEL`` ones skipped)."""
        new = [(*r, order_type if r[8] == EV_ACCEPTED else -1) for r in rows if r[8] != EV_LEVEL]
        if not new:
            return
        self.total += len(new)
        if not self.store:
            return
        self._rows.extend(new)
        self._syms.extend([sym] * len(new))
        if len(self._rows) >= self.chunk_rows and self.on_full is not None:
            self.on_full()

    def take(self) -> tuple:
        """``(rows, symbols)``: the buffered rows (a ``LOG_DTYPE`` array) and their symbol
        indices (int32); the buffer is then empty."""
        rows = np.array(self._rows, LOG_DTYPE) if self._rows else np.empty(0, LOG_DTYPE)
        syms = np.array(self._syms, np.int32)
        self._rows, self._syms = [], []
        return rows, syms


class _Order:
    __slots__ = ("oid", "side", "price", "qty", "hidden", "peak", "owner", "ts", "stp", "otype")

    def __init__(self, oid, side, price, qty, hidden, peak, owner, ts, stp, otype):
        self.oid = oid
        self.side = side
        self.price = price
        self.qty = qty  # displayed open quantity
        self.hidden = hidden  # iceberg reserve
        self.peak = peak  # iceberg display size, 0 for a plain order
        self.owner = owner
        self.ts = ts  # time priority was last set
        self.stp = stp
        self.otype = otype


class _Level:
    __slots__ = ("price", "qty", "orders")

    def __init__(self, price):
        self.price = price
        self.qty = 0  # displayed lots at this level
        self.orders = {}  # oid -> _Order, in queue (time-priority) order


class OrderBook:
    """Price-time priority limit order book for one symbol (pure Python).

    Parameters
    ----------
    tick : int
        Prices must be multiples of this many ticks' units (default 1: every positive integer).
    level_events : bool
        Emit a ``LEVEL`` event whenever a price level's displayed quantity changes.
    """

    engine = "python"

    def __init__(self, tick: int = 1, level_events: bool = True):
        if type(tick) is not int or isinstance(tick, bool):
            raise InvalidTypeError("tick", tick, V.EXPECT_INT)
        if not 1 <= tick <= 10**9:
            raise InvalidValueError("tick", tick, "a positive integer <= 10**9")
        self.tick = tick
        self.level_events = bool(level_events)
        self._bids = SortedDict()  # price -> _Level; best = last
        self._asks = SortedDict()  # best = first
        self._live = {}  # oid -> _Order
        self._status = [S_REJECTED]  # status by order id (index 0 unused)
        self._log_sink = None  # attach_log
        self._log_sym = 0
        self._events = []
        self.clock = 0
        self.n_fills = 0
        self.volume = 0
        self.accepted_qty = 0
        self.cancelled_qty = 0
        self.expired_qty = 0
        self.rejected_qty = 0

    def __getstate__(self) -> dict:
        """Pickle support: everything but the attached log (as the compiled book)."""
        state = self.__dict__.copy()
        state["_log_sink"] = None
        return state

    # ------------------------------------------------------------------ queries
    @property
    def next_id(self) -> int:
        """The id the next new order will get (ids are 1, 2, 3, ... and never reused)."""
        return len(self._status)

    def __len__(self) -> int:
        """Number of live (resting) orders."""
        return len(self._live)

    def best_bid(self):
        """Highest bid price, or None if the bid side is empty. O(1)."""
        return self._bids.peekitem(-1)[0] if self._bids else None

    def best_ask(self):
        """Lowest ask price, or None if the ask side is empty. O(1)."""
        return self._asks.peekitem(0)[0] if self._asks else None

    def top(self):
        """``(best_bid, bid_qty, best_ask, ask_qty)``: displayed lots at the touch; a missing side
        is ``(None, 0)``. O(1)."""
        bid = self._bids.peekitem(-1)[1] if self._bids else None
        ask = self._asks.peekitem(0)[1] if self._asks else None
        return (None if bid is None else bid.price, 0 if bid is None else bid.qty,
                None if ask is None else ask.price, 0 if ask is None else ask.qty)

    def depth_qty(self, side, n):
        """Displayed lots in the top ``n`` levels of ``side``: ``int(depth(side, n)[1].sum())``."""
        return int(self.depth(side, n)[1].sum())

    def depth(self, side, n=None):
        """Top ``n`` levels of ``side`` (all if None), best first: ``(prices, qtys, counts)``,
        three int64 arrays of displayed lots and order counts. O(n)."""
        side = V.as_int(side, "side")
        if side != 0 and side != 1:
            raise V.InvalidSideError("side", side, V.EXPECT_SIDE)
        book = self._bids if side == BUY else self._asks
        total = len(book)
        if n is not None:
            n = V.as_int(n, "n")
            if n < 0:
                raise InvalidValueError("n", n, "a non-negative number of levels")
            total = min(total, n)
        keys = book.keys()
        levels = [book[keys[-1 - i] if side == BUY else keys[i]] for i in range(total)]
        return (
            np.array([lv.price for lv in levels], np.int64),
            np.array([lv.qty for lv in levels], np.int64),
            np.array([len(lv.orders) for lv in levels], np.int64),
        )

    def _lookup(self, oid):
        oid = V.as_int(oid, "order_id")
        if not 1 <= oid < len(self._status):
            raise UnknownOrderError(oid)
        return oid

    def status(self, oid) -> OrderStatus:
        """Status of an order id (RESTING or its terminal state). O(1)."""
        return OrderStatus(self._status[self._lookup(oid)])

    def remaining(self, oid) -> int:
        """Open quantity (displayed + hidden) of an order; 0 once it is finished. O(1)."""
        o = self._live.get(self._lookup(oid))
        return 0 if o is None else o.qty + o.hidden

    def queue_position(self, oid) -> int:
        """Displayed lots ahead of a resting order at its price level. O(orders ahead)."""
        oid = self._lookup(oid)
        o = self._live.get(oid)
        if o is None:
            raise OrderNotLiveError(oid, OrderStatus(self._status[oid]))
        level = (self._bids if o.side == BUY else self._asks)[o.price]
        ahead = 0
        for k, other in level.orders.items():
            if k == oid:
                return ahead
            ahead += other.qty
        raise AssertionError("order missing from its level")  # pragma: no cover

    def live_orders(self) -> np.ndarray:
        """Every live order as an ``ORDER_DTYPE`` array, in priority order (bids best to worst,
        then asks best to worst; queue order within a level). O(live orders)."""
        rows = []
        for book, prices in ((self._bids, reversed(self._bids.keys())), (self._asks, self._asks.keys())):
            for p in prices:
                for o in book[p].orders.values():
                    rows.append((o.oid, o.side, o.price, o.qty, o.hidden, o.peak, o.owner, o.ts,
                                 o.otype, o.stp))
        return np.array(rows, ORDER_DTYPE)

    def stats(self) -> dict:
        """Counters since creation: fills, traded volume and where every accepted lot went."""
        return {
            "fills": self.n_fills,
            "volume": self.volume,
            "live_orders": len(self._live),
            "next_id": self.next_id,
            "accepted_qty": self.accepted_qty,
            "cancelled_qty": self.cancelled_qty,
            "expired_qty": self.expired_qty,
            "rejected_qty": self.rejected_qty,
            "resting_qty": sum(o.qty + o.hidden for o in self._live.values()),
        }

    def last_events(self) -> np.ndarray:
        """Events of the last call (per-call API) or the last batch, as an ``EVENT_DTYPE`` array."""
        return np.array(self._events, EVENT_DTYPE)

    def last_event_tuples(self) -> list:
        """The same events as a list of tuples in ``EVENT_DTYPE.names`` order (cheaper than an
        array for the few events of one call)."""
        return list(self._events)

    # ------------------------------------------------------------------ per-call API
    def submit(self, side, price, qty, owner=0, ts=None, order_type=LIMIT, display=0, stp=STP_NONE):
        """Submit a new order; returns its id. Raises an ``abmm.errors.OrderError`` (book
        unchanged) if any field is invalid. What happened is in ``last_events()``."""
        as_int = V.as_int
        otype = as_int(order_type, "order_type")
        if price is None and otype == MARKET:
            price = 0
        side = as_int(side, "side")
        price = as_int(price, "price")
        qty = as_int(qty, "qty")
        display = as_int(display, "display")
        owner = as_int(owner, "owner")
        stp = as_int(stp, "stp")
        ts = self.clock if ts is None else as_int(ts, "ts")
        V.check_submit(self.tick, self.clock, otype, side, price, qty, display, owner, stp, ts)
        self._events = []
        self.clock = ts
        return self._submit(side, price, qty, owner, ts, otype, display, stp)

    def limit(self, side, price, qty, owner=0, ts=None, display=0, stp=STP_NONE):
        """Good-till-cancelled limit order (an iceberg if ``display > 0``); returns its id."""
        return self.submit(side, price, qty, owner, ts, LIMIT, display, stp)

    def market(self, side, qty, owner=0, ts=None, stp=STP_NONE):
        """Market order: takes liquidity at any price, the remainder expires; returns its id."""
        return self.submit(side, 0, qty, owner, ts, MARKET, 0, stp)

    def cancel(self, order_id, qty=0, ts=None):
        """Cancel an order (``qty=0``) or reduce it by ``qty`` lots keeping its priority (a
        reduction >= its open quantity cancels it). Returns the lots cancelled."""
        oid = V.as_int(order_id, "order_id")
        qty = V.as_int(qty, "qty")
        ts = self.clock if ts is None else V.as_int(ts, "ts")
        V.check_cancel(self.clock, qty, ts)
        self._check_live(oid)
        self._events = []
        self.clock = ts
        return self._cancel(oid, qty, ts)

    def submit_events(self, side, price, qty, owner, ts, order_type, display, stp):
        """``submit(...)`` and then ``(order id, last_event_tuples(), remaining(order id),
        top())`` in one call (the events also go to the attached log, if any)."""
        oid = self.submit(side, price, qty, owner, ts, order_type, display, stp)
        if self._log_sink is not None:
            self._log_sink.add_tuples(self._events, order_type, self._log_sym)
        return oid, self.last_event_tuples(), self.remaining(oid), self.top()

    def cancel_events(self, order_id, ts):
        """``cancel(order_id, 0, ts)`` and then ``(last_event_tuples(), top())``."""
        self.cancel(order_id, 0, ts)
        if self._log_sink is not None:
            self._log_sink.add_tuples(self._events, -1, self._log_sym)
        return self.last_event_tuples(), self.top()

    def submit_effects(self, side, price, qty, owner, ts, order_type, display, stp):
        """``submit_events(...)`` with only the events that change accounts and open orders
        (FILL, CANCELLED, REFILL) in place of all of them: the market's per-request path."""
        oid, rows, rem, top = self.submit_events(side, price, qty, owner, ts, order_type,
                                                 display, stp)
        return oid, [r for r in rows if r[8] in _EFFECTS], rem, top

    def cancel_effects(self, order_id, ts):
        """``cancel_events(...)`` with only the events that change accounts and open orders."""
        rows, top = self.cancel_events(order_id, ts)
        return [r for r in rows if r[8] in _EFFECTS], top

    def attach_log(self, sink, sym: int = 0) -> None:
        """From now on, ``submit_events`` / ``submit_effects`` and ``cancel_events`` /
        ``cancel_effects`` append their events to ``sink`` (an :class:`EventSink`) as symbol
        ``sym``'s; ``None`` detaches it."""
        if sink is not None and not isinstance(sink, EventSink):
            raise TypeError(f"attach_log: expected an EventSink, got {type(sink).__name__}")
        self._log_sink = sink
        self._log_sym = sym

    def modify(self, order_id, price, qty, ts=None):
        """Change a resting order's price and/or open quantity. Size down at the same price
        keeps time priority; a price change or size up loses it (and may trade if the new price
        crosses). Returns the order's open quantity afterwards."""
        oid = V.as_int(order_id, "order_id")
        price = V.as_int(price, "price")
        qty = V.as_int(qty, "qty")
        ts = self.clock if ts is None else V.as_int(ts, "ts")
        V.check_modify(self.tick, self.clock, price, qty, ts)
        self._check_live(oid)
        self._events = []
        self.clock = ts
        self._modify(oid, price, qty, ts)
        o = self._live.get(oid)
        return 0 if o is None else o.qty + o.hidden

    def _check_live(self, oid):
        if not 1 <= oid < len(self._status):
            raise UnknownOrderError(oid)
        st = self._status[oid]
        if st != S_RESTING:
            raise OrderNotLiveError(oid, OrderStatus(st))

    # ------------------------------------------------------------------ batch API
    def process(self, msgs) -> np.ndarray:
        """Process an array of ``MSG_DTYPE`` messages in order; returns all their events.

        Every message is checked before any is applied: an invalid one raises an
        ``OrderError`` carrying its ``index`` and the book is unchanged. A cancel or modify whose
        target is unknown or finished is not an error here (it races with fills in any real
        feed): it yields a ``REJECTED`` event with reason ``UNKNOWN_ORDER`` or ``ORDER_NOT_LIVE``.
        """
        V.check_batch_array(msgs, MSG_DTYPE)
        rows = msgs[list(MSG_DTYPE.names)].tolist()
        clock = self.clock
        for i, m in enumerate(rows):
            V.check_message(self.tick, clock, m, i)
            clock = m[0]
        self._events = []
        status = self._status
        for ts, oid, owner, price, qty, display, action, side, otype, stp in rows:
            self.clock = ts
            if action == 0:
                self._submit(side, price, qty, owner, ts, otype, display, stp)
                continue
            if not 1 <= oid < len(status):
                reason = R_UNKNOWN
            elif status[oid] != S_RESTING:
                reason = R_NOT_LIVE
            else:
                if action == 1:
                    self._cancel(oid, qty, ts)
                else:
                    self._modify(oid, price, qty, ts)
                continue
            self._events.append((ts, oid, owner, 0, 0, price, qty, 0, EV_REJECTED, side, reason))
        return self.last_events()

    # ------------------------------------------------------------------ matching
    def _emit_level(self, side, lv, ts):
        if self.level_events:
            self._events.append((ts, 0, 0, 0, 0, lv.price, lv.qty, len(lv.orders), EV_LEVEL, side, 0))

    def _submit(self, side, price, qty, owner, ts, otype, display, stp):
        oid = len(self._status)
        self._status.append(S_RESTING)
        self.accepted_qty += qty
        ev = self._events
        ev.append((ts, oid, owner, 0, 0, price, qty, qty, EV_ACCEPTED, side, 0))
        if otype == POST_ONLY:
            if self._crosses(side, price):
                self._status[oid] = S_REJECTED
                self.rejected_qty += qty
                ev.append((ts, oid, owner, 0, 0, price, qty, 0, EV_REJECTED, side, R_POST_ONLY))
                return oid
        elif otype == FOK:
            if not self._fok_fillable(side, price, qty, owner, stp):
                self._status[oid] = S_EXPIRED
                self.expired_qty += qty
                ev.append((ts, oid, owner, 0, 0, price, qty, 0, EV_EXPIRED, side, R_FOK))
                return oid
        if otype == MARKET:
            limit = MARKET_BUY_LIMIT if side == BUY else 0
        else:
            limit = price
        rem, stopped = self._match(oid, side, limit, qty, owner, stp, ts)
        self._finish(oid, side, price, rem, stopped, owner, ts, otype, display, stp)
        return oid

    def _finish(self, oid, side, price, rem, stopped, owner, ts, otype, peak, stp):
        """After matching: rest, fill, expire or STP-cancel the remainder of ``oid``."""
        if rem == 0:
            self._status[oid] = S_FILLED
        elif stopped:
            self._status[oid] = S_CANCELLED
            self.cancelled_qty += rem
            self._events.append((ts, oid, owner, 0, 0, price, rem, 0, EV_CANCELLED, side, R_STP))
        elif otype == LIMIT or otype == POST_ONLY:
            shown = min(peak, rem) if peak else rem
            o = _Order(oid, side, price, shown, rem - shown, peak, owner, ts, stp, otype)
            book = self._bids if side == BUY else self._asks
            lv = book.get(price)
            if lv is None:
                lv = book[price] = _Level(price)
            lv.orders[oid] = o
            lv.qty += shown
            self._live[oid] = o
            self._emit_level(side, lv, ts)
        else:
            self._status[oid] = S_EXPIRED
            self.expired_qty += rem
            self._events.append((ts, oid, owner, 0, 0, price, rem, 0, EV_EXPIRED, side, R_NO_LIQ))

    def _crosses(self, side, price):
        if side == BUY:
            return bool(self._asks) and price >= self._asks.peekitem(0)[0]
        return bool(self._bids) and price <= self._bids.peekitem(-1)[0]

    def _fok_fillable(self, side, limit, qty, owner, stp):
        """Can a FOK order fill completely, given self-trade prevention? Walks the crossed
        levels in priority order and stops as soon as enough is found."""
        if side == BUY:
            book, keys = self._asks, self._asks.keys()
        else:
            book, keys = self._bids, reversed(self._bids.keys())
        avail = 0
        for p in keys:
            if (side == BUY and p > limit) or (side == SELL and p < limit):
                break
            level_total = 0
            ahead = 0  # displayed lots ahead of the first own order at this level
            for o in book[p].orders.values():
                if stp != STP_NONE and o.owner == owner:
                    if stp == STP_RESTING:
                        continue
                    return avail + ahead >= qty  # matching stops at this own order
                level_total += o.qty + o.hidden
                ahead += o.qty
                if avail + ahead >= qty:
                    return True
            avail += level_total
            if avail >= qty:
                return True
        return False

    def _match(self, oid, side, limit, qty, owner, stp, ts):
        """Match an incoming order against the opposite side; returns (unfilled, stopped)."""
        ev = self._events
        live = self._live
        status = self._status
        if side == BUY:
            book, best = self._asks, 0
        else:
            book, best = self._bids, -1
        opp = 1 - side
        stopped = False
        while qty and book:
            price, lv = book.peekitem(best)
            if (side == BUY and price > limit) or (side == SELL and price < limit):
                break
            orders = lv.orders
            touched = False
            while qty and orders:
                moid = next(iter(orders))
                o = orders[moid]
                if stp != STP_NONE and o.owner == owner:
                    if stp == STP_INCOMING:
                        stopped = True
                        break
                    # cancel the resting order
                    open_qty = o.qty + o.hidden
                    del orders[moid]
                    del live[moid]
                    lv.qty -= o.qty
                    status[moid] = S_CANCELLED
                    self.cancelled_qty += open_qty
                    touched = True
                    ev.append((ts, moid, o.owner, 0, 0, price, open_qty, 0, EV_CANCELLED, opp, R_STP))
                    if stp == STP_BOTH:
                        stopped = True
                        break
                    continue
                fill = qty if qty < o.qty else o.qty
                o.qty -= fill
                lv.qty -= fill
                qty -= fill
                self.volume += fill
                self.n_fills += 1
                touched = True
                ev.append((ts, moid, o.owner, oid, owner, price, fill, o.qty + o.hidden, EV_FILL, side, 0))
                if o.qty == 0:
                    del orders[moid]
                    if o.hidden:
                        shown = o.peak if o.peak < o.hidden else o.hidden
                        o.hidden -= shown
                        o.qty = shown
                        o.ts = ts
                        orders[moid] = o  # back of the queue
                        lv.qty += shown
                        ev.append((ts, moid, o.owner, 0, 0, price, shown, shown + o.hidden, EV_REFILL, opp, 0))
                    else:
                        del live[moid]
                        status[moid] = S_FILLED
            if touched:
                self._emit_level(opp, lv, ts)
            if not orders:
                del book[price]
            if stopped:
                break
        return qty, stopped

    def _remove(self, o, ts):
        """Take a live order out of its level (emits the level change)."""
        book = self._bids if o.side == BUY else self._asks
        lv = book[o.price]
        del lv.orders[o.oid]
        lv.qty -= o.qty
        del self._live[o.oid]
        self._emit_level(o.side, lv, ts)
        if not lv.orders:
            del book[o.price]

    def _reduce(self, o, by, ts):
        """Reduce a live order's open quantity by ``by`` < open, hidden part first; keeps its
        priority (emits the level change if the displayed part shrank)."""
        h = by if by < o.hidden else o.hidden
        o.hidden -= h
        d = by - h
        if d:
            o.qty -= d
            lv = (self._bids if o.side == BUY else self._asks)[o.price]
            lv.qty -= d
            self._emit_level(o.side, lv, ts)

    def _cancel(self, oid, qty, ts):
        o = self._live[oid]
        open_qty = o.qty + o.hidden
        ev = self._events
        if qty == 0 or qty >= open_qty:
            self._status[oid] = S_CANCELLED
            self.cancelled_qty += open_qty
            ev.append((ts, oid, o.owner, 0, 0, o.price, open_qty, 0, EV_CANCELLED, o.side, R_USER))
            self._remove(o, ts)
            return open_qty
        self.cancelled_qty += qty
        ev.append((ts, oid, o.owner, 0, 0, o.price, qty, open_qty - qty, EV_CANCELLED, o.side, R_USER))
        self._reduce(o, qty, ts)
        return qty

    def _modify(self, oid, price, qty, ts):
        o = self._live[oid]
        open_qty = o.qty + o.hidden
        ev = self._events
        if price == o.price and qty <= open_qty:  # size down (or same): keeps priority
            self.cancelled_qty += open_qty - qty
            ev.append((ts, oid, o.owner, 0, 0, price, qty, qty, EV_MODIFIED, o.side, 0))
            if qty < open_qty:
                self._reduce(o, open_qty - qty, ts)
            return
        if o.otype == POST_ONLY and self._crosses(o.side, price):
            ev.append((ts, oid, o.owner, 0, 0, price, qty, open_qty, EV_REJECTED, o.side, R_POST_ONLY))
            return
        if qty > open_qty:
            self.accepted_qty += qty - open_qty
        else:
            self.cancelled_qty += open_qty - qty
        ev.append((ts, oid, o.owner, 0, 0, price, qty, qty, EV_MODIFIED, o.side, 0))
        self._remove(o, ts)
        rem, stopped = self._match(oid, o.side, price, qty, o.owner, o.stp, ts)
        self._finish(oid, o.side, price, rem, stopped, o.owner, ts, o.otype, o.peak, o.stp)

    # ------------------------------------------------------------------ invariants
    def _check(self) -> None:
        """Assert every invariant (O(n); for tests): levels sorted and non-empty, book not
        crossed, level totals equal their orders, statuses consistent, quantity conserved."""
        bb, ba = self.best_bid(), self.best_ask()
        assert bb is None or ba is None or bb < ba, f"crossed book: bid {bb} >= ask {ba}"
        n = 0
        resting = 0
        for side, book in ((BUY, self._bids), (SELL, self._asks)):
            for p, lv in book.items():
                assert lv.price == p and lv.orders, f"bad or empty level {p}"
                assert lv.qty == sum(o.qty for o in lv.orders.values()), f"level {p} total"
                for oid, o in lv.orders.items():
                    assert o.oid == oid and o.side == side and o.price == p
                    assert o.qty > 0 and o.hidden >= 0
                    assert o.hidden == 0 or o.peak > 0
                    assert self._live.get(oid) is o and self._status[oid] == S_RESTING
                    n += 1
                    resting += o.qty + o.hidden
        assert n == len(self._live), "live map and levels disagree"
        assert sum(1 for s in self._status[1:] if s == S_RESTING) == n, "status of live orders"
        total = 2 * self.volume + self.cancelled_qty + self.expired_qty + self.rejected_qty + resting
        assert self.accepted_qty == total, f"quantity not conserved: {self.accepted_qty} != {total}"
