"""Message streams for the engine: the standard benchmark stream format and a random generator.

* ``load_bench_stream`` reads a stream written by ``shared/bench/gen_stream.py`` (columns ``typ,
  side, price, qty, oid`` plus a JSON sidecar with the expected outcome) and converts it to
  ``MSG_DTYPE`` messages; ``outcome`` computes the same figures from a book, so a replay can be
  checked against the sidecar.
* ``random_messages`` draws a seeded stream that exercises every order type (limit, market, IOC,
  FOK, post-only, iceberg), cancels, partial reduces and modifies -- including requests for ids
  that are already finished, which the batch API reports as ``REJECTED`` events.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from abmm.engine.types import MSG_DTYPE, Action, OrderType

__all__ = ["bench_to_messages", "load_bench_stream", "outcome", "random_messages"]

_M61 = 1 << 61  # checksums are taken modulo 2**61


def bench_to_messages(typ, side, price, qty, oid) -> np.ndarray:
    """Convert gen_stream columns (typ 0 passive limit, 1 cancel, 2 market, 3 crossing limit)."""
    typ = np.asarray(typ)
    msgs = np.zeros(len(typ), MSG_DTYPE)
    msgs["action"] = np.where(typ == 1, Action.CANCEL, Action.SUBMIT)
    msgs["order_type"] = np.where(typ == 2, OrderType.MARKET, OrderType.LIMIT)
    msgs["side"] = side
    msgs["price"] = np.where(typ == 1, 0, price)
    msgs["qty"] = np.where(typ == 1, 0, qty)
    msgs["oid"] = np.where(typ == 1, oid, 0)
    return msgs


def load_bench_stream(path) -> tuple[tuple[np.ndarray, ...], dict]:
    """Columns ``(typ, side, price, qty, oid)`` of a gen_stream ``.npz`` and its expected outcome."""
    path = Path(path)
    with np.load(path) as d:
        cols = tuple(d[k] for k in ("typ", "side", "price", "qty", "oid"))
    meta = json.loads(path.with_suffix(".json").read_text())
    return cols, meta["expected"]


def outcome(book) -> dict:
    """The figures gen_stream's sidecar records, computed from a book (fills and volume are the
    book's counters; the rest is read off its live orders and levels)."""
    live = book.live_orders()
    oid = live["order_id"].astype(object)
    price = live["price"].astype(object)
    open_qty = (live["qty"] + live["hidden"]).astype(object)
    checksum = int(sum(oid * 1_000_003 + price * 101 + open_qty)) % _M61 if len(live) else 0
    digest = 0
    n_levels = []
    for side in (0, 1):
        p, q, c = book.depth(side)
        n_levels.append(len(p))
        terms = side * 7_919 + p.astype(object) * 1_000_003 + q.astype(object) * 101 + c
        digest += int(sum(terms)) if len(p) else 0
    return {
        "fills": int(book.n_fills),
        "volume": int(book.volume),
        "live_orders": len(book),
        "bid_levels": n_levels[0],
        "ask_levels": n_levels[1],
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
        "book_checksum": checksum,
        "resting_qty": int(sum(open_qty)) if len(live) else 0,
        "l2_digest": digest % _M61,
    }


def random_messages(n: int, seed: int = 0, p0: int = 10_000, owners: int = 20,
                    spread: int = 20) -> np.ndarray:
    """A seeded random stream of ``n`` messages around a random-walk mid-price.

    Mix: 48 % limit (5 % of them icebergs), 5 % post-only, 5 % market, 5 % IOC, 3 % FOK, 27 %
    cancels (a fifth of them partial reduces), 7 % modifies. Prices are the mid plus or minus a
    geometric offset (so some orders cross), sizes 1..100, owners ``0..owners-1`` (so self-trades
    occur; half the orders ask for some self-trade prevention). Cancels and modifies name a
    recent id, which may already be finished. Timestamps increase by 0..999 ns per message.
    """
    rng = np.random.default_rng(seed)
    msgs = np.zeros(n, MSG_DTYPE)
    u = rng.random(n)
    kinds = np.searchsorted(np.cumsum([0.48, 0.05, 0.05, 0.05, 0.03, 0.27, 0.07]), u, side="right")
    mid = p0 + np.cumsum(rng.integers(-1, 2, n))
    side = rng.integers(0, 2, n)
    offset = rng.geometric(0.25, n) - 1 - spread // 8  # a few ticks through the mid at times
    price = np.where(side == 0, mid - offset, mid + offset).clip(1)
    qty = rng.integers(1, 101, n)
    submit = kinds <= 4
    n_new = np.cumsum(submit)  # ids issued so far (ids are 1, 2, ... in submit order)
    back = rng.geometric(0.02, n)
    target = np.maximum(n_new - back + 1, 1)
    order_type = np.choose(np.minimum(kinds, 4), [OrderType.LIMIT, OrderType.POST_ONLY,
                                                  OrderType.MARKET, OrderType.IOC, OrderType.FOK])
    msgs["ts"] = np.cumsum(rng.integers(0, 1000, n))
    msgs["side"] = side
    msgs["owner"] = rng.integers(0, owners, n)
    msgs["stp"] = np.where(rng.random(n) < 0.5, rng.integers(1, 4, n), 0)
    msgs["action"] = np.where(submit, Action.SUBMIT, np.where(kinds == 5, Action.CANCEL,
                                                              Action.MODIFY))
    msgs["order_type"] = np.where(submit, order_type, 0)
    msgs["price"] = np.where(order_type == OrderType.MARKET, 0, price) * (kinds != 5)
    reduce = (kinds == 5) & (rng.random(n) < 0.2)
    msgs["qty"] = np.where(kinds == 5, np.where(reduce, rng.integers(1, 50, n), 0), qty)
    iceberg = (kinds == 0) & (rng.random(n) < 0.05)
    msgs["display"] = np.where(iceberg, rng.integers(1, 20, n), 0)
    msgs["oid"] = np.where(submit, 0, target)
    return msgs
