"""Tick-level comparison of a run with a real exchange feed (Binance USD-M websocket capture).

**The feed.** :func:`read_binance_feed` stream-parses a recorded Binance websocket feed: gzip
text (plain text is accepted too), one message a line -- the local receive time in ns since the
epoch, a space, then the exchange's JSON ``{"stream": ..., "data": {...}}``. It keeps
``@trade`` (``p`` price, ``q`` quantity, ``T`` trade time in ms, ``m`` buyer is maker, so
``m: true`` is a seller-initiated trade; only ``X == "MARKET"`` trades -- insurance-fund and ADL
trades are counted and left out) and ``@bookTicker`` (``b``/``B`` best bid and its quantity,
``a``/``A`` best ask; ``T``, else ``E``, in ms). Depth diffs (``@depth``) and REST snapshots
(``{"lastUpdateId": ...}``) are counted, not used: ``bookTicker`` is the top of book. A line
that does not parse is skipped and counted; a file none of whose first lines is such a message
-- or that holds no trade and no book ticker -- raises ``ValueError``. ``orjson`` is used when it
is installed, else the standard ``json``. The parsing itself is
:func:`abmm.data.binance.parse_binance_feed` (shared with the store's loaders).

**The statistics** (:func:`tick_stats`) are computed by one function from normalized frames, the
same way for the feed (:meth:`Feed.tick_frames`) and for a run (:func:`run_tick_frames`):

* ``top``: ``ts`` (ns), ``bid``, ``ask`` (integer ticks, 0 = no such side), ``bid_qty``,
  ``ask_qty`` (lots). The spread (``ask - bid``, ticks) and the top-of-book depth
  (``bid_qty + ask_qty``, lots) are **time-weighted**: each state holds from its ``ts`` to the
  next and weighs its time inside the windows (rows sharing a ``ts`` keep the last; one-sided
  states are left out and their share reported) -- :func:`abmm.analysis.run_facts.book_states`,
  the scorecard's book facts. Reported: the fraction of time at 1, 2, ..., 9 and >= 10 ticks,
  the mean and median spread; the mean, median, p5 and p95 depth.
* ``trades``: ``ts`` (ns), ``qty`` (lots), ``side`` (the taker's: 0 buy, 1 sell) and, when
  known, ``order`` (the taker order's id). One row is one **fill** against one resting order: a
  run's ``FILL`` event, a Binance ``@trade`` message. Trade sizes (lots per fill): mean, median,
  p90, p99 and the Hill tail exponent of the largest 5 %
  (:func:`abmm.analysis.estimators.hill_tail_index`).
* Times are first floored to ``resolution_ns`` (default 1 ms, Binance's trade time resolution),
  so a run's nanosecond clock is read as the exchange's millisecond one. **Inter-trade times**
  (seconds between consecutive fills, inside a window): mean, median, coefficient of variation
  (std / mean; 1 for a Poisson stream, > 1 for clustered, bursty trading) and the fraction of
  zero gaps (fills in the same millisecond, mostly the fills of one taker order sweeping several
  resting orders); the mean and CV of the gaps between **taker orders**.
* **Taker orders.** A run knows them (``order`` = the ``FILL``'s ``other_id``); the Binance trade
  stream has no order id, so there consecutive fills with the same millisecond and the same side
  are taken for one taker order (:func:`abmm.analysis.run_facts.order_starts`). Two market
  orders on the same side in the same millisecond merge, and one order whose fills straddle a
  millisecond boundary splits; ``orders_ms_rule`` applies the feed's rule to the run too, which
  shows how far the two counts differ there.
* **Trade-sign memory**: the ACF of the taker-order signs (+1 buy, -1 sell) at lags 1, 2, 5,
  10, 20, 50, 100 and its power-law decay exponent ``gamma`` (``rho(k) ~ k**-gamma`` over lags
  1..100 where ``rho > 0``; Lillo & Farmer 2004 find about 0.5) --
  :func:`abmm.analysis.run_facts.sign_memory`, the scorecard's order-sign fact.

A run is read through :func:`abmm.rundir.open_run` over its sessions after the warm-up (to
``now_ns``); the feed over its own span (first to last message, exchange time). Prices and
sizes are compared in ticks and lots, each market in its own (``tick_size``, ``lot_size``).
:func:`tick_comparison` puts the two side by side; :func:`format_tick_comparison` prints it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from abmm.analysis.estimators import hill_tail_index
from abmm.analysis.run_facts import book_states, order_starts, sign_memory, weighted_summary
from abmm.data.binance import HEAD_LINES, parse_binance_feed  # the parsing lives in abmm.data
from abmm.rundir import open_run

log = logging.getLogger(__name__)

__all__ = ["HEAD_LINES", "Feed", "TickSamples", "read_binance_feed", "run_tick_frames", "tick_samples",
           "tick_stats", "tick_comparison", "tick_comparison_records",
           "format_tick_comparison", "STAT_NAMES",
           "SIGN_LAGS", "BINANCE_BTCUSDT_TICK", "BINANCE_BTCUSDT_LOT"]

BINANCE_BTCUSDT_TICK = 0.1  # USD-M BTCUSDT price tick
BINANCE_BTCUSDT_LOT = 0.001  # and its quantity step (BTC)
SIGN_LAGS = (1, 2, 5, 10, 20, 50, 100)
SPREAD_BUCKETS = 10  # fractions of time at 1..9 ticks and >= 10
TIME_RESOLUTION_NS = 1_000_000  # Binance trade times are in ms

# ------------------------------------------------------------------------------- the feed
@dataclass(eq=False)
class Feed:
    """A parsed feed. ``trades``: ``ts`` (exchange trade time, ns since the epoch), ``recv_ns``
    (local receive time), ``price``, ``qty`` (price and base units), ``side`` (the taker's: 0
    buy, 1 sell), ``trade_id``; ``top``: ``ts``, ``recv_ns``, ``bid``, ``bid_qty``, ``ask``,
    ``ask_qty`` (price and base units), one row per ``bookTicker``. Both in exchange order.
    ``counts``: lines read, ``trades``, ``book_tickers``, ``depth_diffs``, ``snapshots``,
    ``other_streams``, ``non_market_trades``, ``malformed``, ``blank``, ``off_grid_prices``,
    ``truncated`` (1 when the gzip stream ended early: what was read is kept)."""

    path: Path | None
    trades: pd.DataFrame
    top: pd.DataFrame
    tick_size: float = BINANCE_BTCUSDT_TICK
    lot_size: float = BINANCE_BTCUSDT_LOT
    counts: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        """``Feed(path, N trades, M book tickers)``."""
        return (f"Feed({str(self.path)!r}, {len(self.trades)} trades, "
                f"{len(self.top)} book tickers)")

    @property
    def start_ns(self) -> int:
        """The first message's exchange time (ns since the epoch)."""
        return int(min(_first(self.trades["ts"]), _first(self.top["ts"])))

    @property
    def end_ns(self) -> int:
        """The last message's exchange time (ns since the epoch)."""
        return int(max(_last(self.trades["ts"]), _last(self.top["ts"])))

    def tick_frames(self) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[int, int]]]:
        """``(top, trades, windows)`` normalized for :func:`tick_stats`: prices in integer
        ticks, sizes in lots (rounded), the feed's span as the one window; the trades have no
        ``order`` column (the feed has no order ids)."""
        t = self.top
        top = pd.DataFrame({
            "ts": t["ts"].to_numpy(np.int64),
            "bid": np.rint(t["bid"].to_numpy(float) / self.tick_size).astype(np.int64),
            "bid_qty": np.rint(t["bid_qty"].to_numpy(float) / self.lot_size).astype(np.int64),
            "ask": np.rint(t["ask"].to_numpy(float) / self.tick_size).astype(np.int64),
            "ask_qty": np.rint(t["ask_qty"].to_numpy(float) / self.lot_size).astype(np.int64),
        })
        tr = self.trades
        trades = pd.DataFrame({
            "ts": tr["ts"].to_numpy(np.int64),
            "price": np.rint(tr["price"].to_numpy(float) / self.tick_size).astype(np.int64),
            "qty": np.rint(tr["qty"].to_numpy(float) / self.lot_size).astype(np.int64),
            "side": tr["side"].to_numpy(np.int8),
        })
        windows = [(self.start_ns, self.end_ns)] if len(top) or len(trades) else []
        return top, trades, windows


def _first(s: pd.Series) -> float:
    return float(s.iloc[0]) if len(s) else math.inf


def _last(s: pd.Series) -> float:
    return float(s.iloc[-1]) if len(s) else -math.inf


def read_binance_feed(path, tick_size: float = BINANCE_BTCUSDT_TICK,
                      lot_size: float = BINANCE_BTCUSDT_LOT) -> Feed:
    """Parse a recorded Binance websocket feed (see the module docstring) into a :class:`Feed`.

    ``tick_size`` and ``lot_size`` are the instrument's price tick and quantity step (BTCUSDT
    USD-M: 0.1 and 0.001 BTC), used to express the statistics in ticks and lots. Malformed
    lines are skipped and counted (``feed.counts["malformed"]``). ``ValueError`` (naming the
    file and what was expected) when the file is not such a feed: not text, no feed message
    among its first ``HEAD_LINES`` non-blank lines, or neither a trade nor a book ticker in all
    of it. ``FileNotFoundError`` when there is no file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no feed file at {path}")
    if not (tick_size > 0 and lot_size > 0):
        raise ValueError(f"tick_size and lot_size must be > 0, not {tick_size}, {lot_size}")
    parsed = parse_binance_feed(path)
    counts, tr = parsed.counts, parsed.trades
    top = parsed.top.drop(columns="u")
    prices = np.concatenate([tr["price"].to_numpy(), top["bid"].to_numpy(),
                             top["ask"].to_numpy()])
    off = np.abs(prices / tick_size - np.rint(prices / tick_size)) > 1e-6
    counts["off_grid_prices"] = int(off.sum())
    if off.any():
        log.warning("%s: %d prices are not multiples of tick_size=%g (rounded to ticks)",
                    path, int(off.sum()), tick_size)
    return Feed(path, tr, top, float(tick_size), float(lot_size), counts)


# ------------------------------------------------------------------------------- a run
def run_tick_frames(run_dir, after_warmup: bool = True):
    """``(top, trades, windows)`` of a run, normalized for :func:`tick_stats`: ``top/`` as it
    is (ticks, lots), the fills (``ts``, ``price``, ``qty``, ``side`` = the taker's, ``order`` =
    the taker order's id) and the run's sessions cut to ``[open + warm-up, now_ns]`` (without
    ``after_warmup``: from the open)."""
    run = open_run(run_dir)
    top = run.top(["ts", "bid", "bid_qty", "ask", "ask_qty"]).to_pandas()
    f = run.fills(["ts", "price", "qty", "side", "other_id"]).to_pandas()
    trades = pd.DataFrame({"ts": f["ts"].to_numpy(np.int64), "price": f["price"].to_numpy(),
                           "qty": f["qty"].to_numpy(), "side": f["side"].to_numpy(),
                           "order": f["other_id"].to_numpy()})
    start = run.start_ns + (run.warmup_ns if after_warmup else 0)
    windows = [(max(s, start), min(e, run.now_ns)) for s, e in run.sessions]
    return top, trades, [(s, e) for s, e in windows if e > s]


# ------------------------------------------------------------------------------- statistics
@dataclass
class TickSamples:
    """The samples behind :func:`tick_stats` (what the report draws): the two-sided book
    states' ``spread`` (ticks), ``depth`` (lots) and ``weight`` (ns held), ``one_sided_frac``;
    the fills' ``sizes`` (lots) and ``gaps`` (s between consecutive fills), the taker orders'
    ``order_gaps`` (s) and ``signs`` (+1/-1); ``acf`` of the signs (lags 0..max lag) and its
    decay exponent ``gamma``; ``orders_ms_rule`` (taker orders counted by the feed's
    same-millisecond-same-side rule); ``duration_s`` (the windows' total length);
    ``price_median`` (the median fill price in ticks, NaN without prices)."""

    spread: np.ndarray
    depth: np.ndarray
    weight: np.ndarray
    one_sided_frac: float
    sizes: np.ndarray
    gaps: np.ndarray
    order_gaps: np.ndarray
    signs: np.ndarray
    acf: np.ndarray
    gamma: float
    orders_ms_rule: int
    duration_s: float
    price_median: float = math.nan


def tick_samples(top: pd.DataFrame, trades: pd.DataFrame, windows=None,
                 resolution_ns: int = TIME_RESOLUTION_NS,
                 max_lag: int = max(SIGN_LAGS)) -> TickSamples:
    """The samples of the tick-level statistics from normalized frames (the module docstring:
    ``top`` in ticks and lots; ``trades`` with ``ts``, ``qty``, ``side`` and optionally
    ``order``, and ``price`` in ticks for the tick's size in bp); ``windows`` (``[(start, end)]`` ns, default the span of both frames) bound the
    time weights, the trades kept and the gaps (none across two windows)."""
    if windows is None:
        ts_all = np.concatenate([top["ts"].to_numpy(np.int64),
                                 trades["ts"].to_numpy(np.int64)])
        windows = [(int(ts_all.min()), int(ts_all.max()))] if len(ts_all) else []
    windows = sorted((int(s), int(e)) for s, e in windows)
    book = book_states(top, windows=windows) if len(top) and windows else \
        book_states(top.iloc[:0])
    ts = trades["ts"].to_numpy(np.int64)
    which = np.full(len(ts), -1)
    for i, (s, e) in enumerate(windows):
        which[(ts >= s) & (ts <= e)] = i
    keep = which >= 0
    tr = trades.loc[keep].reset_index(drop=True)
    which = which[keep]
    q = (tr["ts"].to_numpy(np.int64) // resolution_ns) * resolution_ns
    same_window = which[1:] == which[:-1]
    gaps = np.diff(q)[same_window] / 1e9
    ms_rule = pd.DataFrame({"timestamp": q, "side": tr["side"].to_numpy()})
    by_rule = order_starts(ms_rule)
    if "order" in tr.columns:
        starts = order_starts(pd.DataFrame({"taker_id": tr["order"].to_numpy(),
                                            "side": tr["side"].to_numpy()}))
    else:
        starts = by_rule.copy()
    starts[1:] |= which[1:] != which[:-1]  # an order never spans two windows
    oq, ow = q[starts], which[starts]
    order_gaps = np.diff(oq)[ow[1:] == ow[:-1]] / 1e9
    signs = np.where(tr["side"].to_numpy()[starts] == 0, 1.0, -1.0)
    if len(signs) >= 3:
        rho, gamma = sign_memory(signs, max_lag)
    else:
        rho, gamma = np.full(max_lag + 1, math.nan), math.nan
    return TickSamples(
        spread=book["spread"], depth=book["depth"], weight=book["weight"],
        one_sided_frac=book["one_sided_frac"], sizes=tr["qty"].to_numpy(float), gaps=gaps,
        order_gaps=order_gaps, signs=signs, acf=rho, gamma=gamma,
        orders_ms_rule=int(by_rule.sum()),
        duration_s=sum(e - s for s, e in windows) / 1e9,
        price_median=_q(tr["price"].to_numpy(float), 0.5) if "price" in tr.columns
        else math.nan)


def _cv(x: np.ndarray) -> float:
    m = float(np.mean(x)) if len(x) else math.nan
    return float(np.std(x) / m) if len(x) >= 2 and m > 0 else math.nan


def _q(x: np.ndarray, p: float) -> float:
    return float(np.quantile(x, p)) if len(x) else math.nan


def tick_stats(top: pd.DataFrame | TickSamples, trades: pd.DataFrame | None = None,
               windows=None, resolution_ns: int = TIME_RESOLUTION_NS,
               lags=SIGN_LAGS) -> dict:
    """The tick-level statistics (keys of :data:`STAT_NAMES`) from normalized frames -- or
    from the :class:`TickSamples` of :func:`tick_samples` -- the same way for a run and for a
    feed (the module docstring)."""
    if isinstance(top, TickSamples):
        s = top
    else:
        s = tick_samples(top, trades, windows, resolution_ns, max(lags))
    out: dict = {}
    w = s.weight
    total = w.sum()
    spread = np.rint(s.spread).astype(np.int64)
    for k in range(1, SPREAD_BUCKETS):
        out[f"spread_frac_{k}"] = float(w[spread == k].sum() / total) if total > 0 else math.nan
    out[f"spread_frac_{SPREAD_BUCKETS}plus"] = \
        float(w[spread >= SPREAD_BUCKETS].sum() / total) if total > 0 else math.nan
    sp = weighted_summary(s.spread, w)
    out["spread_mean"], out["spread_median"] = sp["mean"], sp["median"]
    out["one_sided_frac"] = s.one_sided_frac
    for k, v in weighted_summary(s.depth, w).items():
        out[f"depth_{k}"] = v
    n_fills, n_orders = len(s.sizes), len(s.signs)
    out["tick_bp"] = 1e4 / s.price_median if s.price_median > 0 else math.nan
    out["fills"] = n_fills
    out["fill_rate"] = n_fills / s.duration_s * 60 if s.duration_s > 0 else math.nan
    out["orders"] = n_orders
    out["orders_ms_rule"] = s.orders_ms_rule
    out["fills_per_order"] = n_fills / n_orders if n_orders else math.nan
    out["buy_frac"] = float(np.mean(s.signs > 0)) if n_orders else math.nan
    out["size_mean"] = float(np.mean(s.sizes)) if n_fills else math.nan
    out["size_median"] = _q(s.sizes, 0.5)
    out["size_p90"] = _q(s.sizes, 0.9)
    out["size_p99"] = _q(s.sizes, 0.99)
    out["size_tail"] = hill_tail_index(s.sizes)
    g = s.gaps
    out["gap_mean"] = float(np.mean(g)) if len(g) else math.nan
    out["gap_median"] = _q(g, 0.5)
    out["gap_cv"] = _cv(g)
    out["gap_zero_frac"] = float(np.mean(g == 0)) if len(g) else math.nan
    out["order_gap_mean"] = float(np.mean(s.order_gaps)) if len(s.order_gaps) else math.nan
    out["order_gap_cv"] = _cv(s.order_gaps)
    for k in lags:
        out[f"sign_acf_{k}"] = float(s.acf[k]) if k < len(s.acf) else math.nan
    out["sign_gamma"] = s.gamma
    return out


STAT_NAMES = {
    "tick_bp": "tick size (bp of the median trade price)",
    **{f"spread_frac_{k}": f"time at spread = {k} tick{'s' * (k > 1)}"
       for k in range(1, SPREAD_BUCKETS)},
    f"spread_frac_{SPREAD_BUCKETS}plus": f"time at spread >= {SPREAD_BUCKETS} ticks",
    "spread_mean": "spread mean (ticks, time-weighted)",
    "spread_median": "spread median (ticks, time-weighted)",
    "one_sided_frac": "time with a side of the book empty",
    "depth_mean": "top depth bid+ask mean (lots, time-weighted)",
    "depth_median": "top depth median (lots)",
    "depth_p5": "top depth p5 (lots)",
    "depth_p95": "top depth p95 (lots)",
    "fills": "trades (fills)",
    "fill_rate": "trades per minute",
    "orders": "taker orders (sim: order id; real: same ms + side)",
    "orders_ms_rule": "taker orders by the same-ms-same-side rule",
    "fills_per_order": "fills per taker order",
    "buy_frac": "buyer-initiated share of taker orders",
    "size_mean": "trade size mean (lots)",
    "size_median": "trade size median (lots)",
    "size_p90": "trade size p90 (lots)",
    "size_p99": "trade size p99 (lots)",
    "size_tail": "trade size tail exponent (Hill, top 5 %)",
    "gap_mean": "inter-trade time mean (s)",
    "gap_median": "inter-trade time median (s)",
    "gap_cv": "inter-trade time CV (>1: bursty)",
    "gap_zero_frac": "zero inter-trade gaps (same ms)",
    "order_gap_mean": "inter-order time mean (s)",
    "order_gap_cv": "inter-order time CV (>1: bursty)",
    **{f"sign_acf_{k}": f"taker-order sign ACF lag {k}" for k in SIGN_LAGS},
    "sign_gamma": "sign ACF power-law decay exponent",
}


# ------------------------------------------------------------------------------- comparison
def _as_feed(feed) -> Feed:
    return feed if isinstance(feed, Feed) else read_binance_feed(feed)


def tick_comparison(run_dir, feed, after_warmup: bool = True,
                    resolution_ns: int = TIME_RESOLUTION_NS) -> pd.DataFrame:
    """The tick-level statistics of a run (``sim``, :func:`run_tick_frames`) beside those of a
    real feed (``real``: a :class:`Feed`, or a feed file read with :func:`read_binance_feed` and
    BTCUSDT's tick and lot): a DataFrame with columns ``key``, ``name``, ``sim``, ``real``, one
    row per statistic of :data:`STAT_NAMES`."""
    feed = _as_feed(feed)
    sim = tick_stats(*run_tick_frames(run_dir, after_warmup), resolution_ns=resolution_ns)
    real = tick_stats(*feed.tick_frames(), resolution_ns=resolution_ns)
    return pd.DataFrame({"key": list(STAT_NAMES), "name": list(STAT_NAMES.values()),
                         "sim": [sim[k] for k in STAT_NAMES],
                         "real": [real[k] for k in STAT_NAMES]})


def tick_comparison_records(table: pd.DataFrame) -> list[dict]:
    """The table of :func:`tick_comparison` as JSON-ready records (``key``, ``name``, ``sim``,
    ``real``; NaN as None, numbers as Python floats)."""
    def num(v):
        v = float(v)
        return v if math.isfinite(v) else None

    return [{"key": str(r["key"]), "name": str(r["name"]), "sim": num(r["sim"]),
             "real": num(r["real"])} for _, r in table.iterrows()]


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()):
        return f"{int(v):,}"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 0.01:
        return f"{v:.3f}".rstrip("0").rstrip(".") if a < 100 else f"{v:.1f}"
    return f"{v:.2e}"


def format_tick_comparison(table: pd.DataFrame, sim_label: str = "sim",
                           real_label: str = "real") -> str:
    """The table of :func:`tick_comparison` as aligned text: one line per statistic."""
    rows = [(str(r["name"]), _fmt(r["sim"]), _fmt(r["real"])) for _, r in table.iterrows()]
    w0 = max([len("statistic"), *(len(r[0]) for r in rows)])
    w1 = max([len(sim_label), *(len(r[1]) for r in rows)])
    w2 = max([len(real_label), *(len(r[2]) for r in rows)])
    lines = ["Tick level: simulation vs real feed",
             f"{'statistic':<{w0}}  {sim_label:>{w1}}  {real_label:>{w2}}",
             f"{'-' * w0}  {'-' * w1}  {'-' * w2}"]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c:>{w2}}" for a, b, c in rows]
    return "\n".join(lines)
