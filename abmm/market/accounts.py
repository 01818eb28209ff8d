"""Fill accounting: the engine's events of one request applied to the agents' accounts and open
orders, at the exchange's time (agents hear of their fills later, after their latency)."""

from __future__ import annotations

from abmm.engine.types import EventKind, Side
from abmm.market import kernel as K

__all__ = ["apply_events"]

FILL = int(EventKind.FILL)
CANCELLED = int(EventKind.CANCELLED)
REFILL = int(EventKind.REFILL)
BUY = int(Side.BUY)
NOTIFY = K.NOTIFY


def apply_events(model, rows: list, t: int) -> None:
    """Update accounts, open orders, the last price and volume counters from one request's
    engine event tuples, and schedule the fill notices. ``model`` is the venue of the book the
    request reached (:class:`~abmm.market.venue.Venue`: its ``owners`` map account ids to the
    agents, or multi-symbol agents' legs, whose accounts change)."""
    agents = model.owners
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
                if mark0 is None:  # the model's top is still the book before this request;
                    mark0 = model._mark_before  # last_price too, until the first fill
                if maker.fill_log is not None:
                    maker.fill_log.append((t, -signed, price, mark0, True))
                if taker.fill_log is not None:
                    taker.fill_log.append((t, signed, price, mark0, False))
            model.last_price = price
            if model.trade_prices is not None:
                model.trade_prices.append(price)
            model.volume += qty
            model.signed_volume += signed
            model.n_trades += 1
            _notify(model, maker, (moid, 1 - side, price, qty, True), t)
            _notify(model, taker, (toid, side, price, qty, False), t)
        elif kind == CANCELLED or kind == REFILL:
            owner = agents.get(r[2])
            if owner is not None and r[1] in owner.open_orders:
                if r[7]:
                    owner.open_orders[r[1]][2] = r[7]
                else:
                    del owner.open_orders[r[1]]


def _notify(model, agent, fill: tuple, t: int) -> None:
    """A fill notice reaches ``agent`` after its latency (only agents that listen)."""
    if not agent.wants_fills:
        return
    lat = agent.latency.draw()
    if lat <= 0:
        agent.on_fill(*fill)
    else:
        model.queue.push(t + lat, NOTIFY, (agent, fill))
