"""Codes and record layouts shared by both engines.

Everything the engine knows is an integer: prices in ticks, quantities in lots, times in
nanoseconds, owners (agent ids) and order ids. The enums below are the codes that travel in
messages (``MSG_DTYPE``) and events (``EVENT_DTYPE``); both engines use exactly these values and
the compiled engine checks at import time that its C structs match these numpy layouts.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = [
    "Side",
    "OrderType",
    "Action",
    "SelfTrade",
    "EventKind",
    "Reason",
    "OrderStatus",
    "MSG_DTYPE",
    "EVENT_DTYPE",
    "LOG_DTYPE",
    "ORDER_DTYPE",
    "MAX_PRICE",
    "MAX_QTY",
    "MAX_OWNER",
    "make_messages",
]

#: Largest accepted price, in ticks. Keeps every sum the engine forms far from int64 overflow.
MAX_PRICE = 10**15
#: Largest accepted order quantity, in lots (sums of up to ~9 million such orders fit in int64).
MAX_QTY = 10**12
#: Largest accepted owner id (owners are non-negative 32-bit integers, e.g. Mesa agent ids).
MAX_OWNER = 2**31 - 1


class Side(enum.IntEnum):
    """Side of an order: ``BUY`` rests on the bid side, ``SELL`` on the ask side."""

    BUY = 0
    SELL = 1


class OrderType(enum.IntEnum):
    """How a new order executes.

    ``LIMIT`` good-till-cancelled; ``MARKET`` any price, remainder expires; ``IOC`` limit price,
    remainder expires; ``FOK`` all at once within the limit or nothing; ``POST_ONLY`` rests or is
    rejected, never takes. An iceberg is a ``LIMIT`` or ``POST_ONLY`` order with ``display > 0``.
    """

    LIMIT = 0
    MARKET = 1
    IOC = 2
    FOK = 3
    POST_ONLY = 4


class Action(enum.IntEnum):
    """What a batch message asks for."""

    SUBMIT = 0
    CANCEL = 1
    MODIFY = 2


class SelfTrade(enum.IntEnum):
    """Self-trade prevention mode carried by an incoming order (applies when it meets a resting
    order of the same owner)."""

    NONE = 0  #: trade with yourself
    CANCEL_RESTING = 1  #: cancel the resting order, keep matching
    CANCEL_INCOMING = 2  #: cancel what is left of the incoming order
    CANCEL_BOTH = 3  #: cancel both


class EventKind(enum.IntEnum):
    """Kind of an event record (see ``docs/matching.md`` for the fields each kind fills)."""

    ACCEPTED = 0  #: a new order passed validation and got its id
    FILL = 1  #: one maker/taker match
    CANCELLED = 2  #: an order (or part of it) was cancelled
    EXPIRED = 3  #: an IOC/market/FOK remainder that could not execute
    REJECTED = 4  #: a request refused by the book's state (post-only cross, unknown id in a batch)
    MODIFIED = 5  #: a resting order's price and/or size changed
    REFILL = 6  #: an iceberg showed a new slice (and went to the back of its level)
    LEVEL = 7  #: a price level's displayed quantity changed (L2 update; qty 0 = level removed)


class Reason(enum.IntEnum):
    """Why an order left the book or a request was refused."""

    NONE = 0
    USER = 1  #: cancelled or reduced on request
    NO_LIQUIDITY = 2  #: market/IOC remainder, nothing left to match
    FOK_UNFILLED = 3  #: fill-or-kill could not fill completely
    POST_ONLY_CROSS = 4  #: post-only order (or modify) would have taken liquidity
    SELF_TRADE = 5  #: self-trade prevention
    UNKNOWN_ORDER = 6  #: cancel/modify of an id never issued (batch API)
    ORDER_NOT_LIVE = 7  #: cancel/modify of an order already finished (batch API)


class OrderStatus(enum.IntEnum):
    """State of an order id. An id is ``RESTING`` or in exactly one terminal state."""

    RESTING = 0
    FILLED = 1
    CANCELLED = 2
    EXPIRED = 3
    REJECTED = 4


#: One batch message. ``oid`` names the target of a CANCEL/MODIFY (ignored for SUBMIT: the book
#: assigns ids 1, 2, 3, ... in submission order). For CANCEL, ``qty`` 0 cancels everything and
#: ``qty > 0`` reduces by that much. For MODIFY, ``price``/``qty`` are the new price and new open
#: quantity.
MSG_DTYPE = np.dtype(
    {
        "names": ["ts", "oid", "owner", "price", "qty", "display", "action", "side", "order_type",
                  "stp"],
        "formats": ["<i8", "<i8", "<i8", "<i8", "<i8", "<i8", "u1", "u1", "u1", "u1"],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 49, 50, 51],
        "itemsize": 56,
    }
)

#: One event. Fields by kind (0 where not listed):
#:  ACCEPTED  order_id, owner, side, price (0 for market), qty (order size), remaining (= qty)
#:  FILL      order_id/owner = maker, other_id/other_owner = taker, side = taker side,
#:            price = maker's price, qty = traded lots, remaining = maker's open qty after
#:  CANCELLED order_id, owner, side, price, qty = lots cancelled, remaining = open qty after
#:  EXPIRED   order_id, owner, side, price, qty = lots expired, remaining = 0
#:  REJECTED  order_id, owner, side, price, qty; reason says why
#:  MODIFIED  order_id, owner, side, price = new price, qty = new open qty, remaining = open qty
#:  REFILL    order_id, owner, side, price, qty = new displayed slice, remaining = open qty
#:  LEVEL     side, price, qty = displayed lots at the level after the call, remaining = orders
EVENT_DTYPE = np.dtype(
    {
        "names": ["ts", "order_id", "owner", "other_id", "other_owner", "price", "qty",
                  "remaining", "kind", "side", "reason"],
        "formats": ["<i8", "<i8", "<i4", "<i8", "<i4", "<i8", "<i8", "<i8", "u1", "u1", "u1"],
        "offsets": [0, 8, 48, 16, 52, 24, 32, 40, 56, 57, 58],
        "itemsize": 64,
    }
)

#: One logged event: the ``EVENT_DTYPE`` fields packed in name order (60 bytes with the last
#: one), then ``order_type``, the order type of an ``ACCEPTED`` row (-1 on every other row). The
#: rows ``OrderBook.log_events`` writes, and the run's ``events/`` buffer
#: (``abmm.rundir.layout.EVENT_LOG_DTYPE``).
LOG_DTYPE = np.dtype(
    [(name, EVENT_DTYPE.fields[name][0]) for name in EVENT_DTYPE.names] + [("order_type", "i1")]
)

#: One live order, as returned by ``OrderBook.live_orders()`` (priority order: bids best to
#: worst, then asks best to worst; within a level, queue order). ``qty`` is the displayed part,
#: ``hidden`` an iceberg's reserve, ``peak`` its display size (0 for a plain order), ``ts`` the
#: time its priority was set; ``order_type`` (LIMIT or POST_ONLY) and ``stp`` apply to modifies.
ORDER_DTYPE = np.dtype(
    [
        ("order_id", "<i8"),
        ("side", "u1"),
        ("price", "<i8"),
        ("qty", "<i8"),
        ("hidden", "<i8"),
        ("peak", "<i8"),
        ("owner", "<i8"),
        ("ts", "<i8"),
        ("order_type", "u1"),
        ("stp", "u1"),
    ]
)


def make_messages(n: int = 0, **columns) -> np.ndarray:
    """Return a zeroed ``MSG_DTYPE`` array of length ``n`` (or of the columns' length) with the
    given columns filled, e.g. ``make_messages(side=[0, 1], price=[99, 101], qty=[5, 5])``."""
    if columns and not n:
        n = len(next(iter(columns.values())))
    msgs = np.zeros(n, MSG_DTYPE)
    for name, values in columns.items():
        if name not in MSG_DTYPE.names:
            raise KeyError(f"unknown message column {name!r}; expected one of {MSG_DTYPE.names}")
        msgs[name] = values
    return msgs
