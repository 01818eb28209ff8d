"""Per-agent and per-group trading metrics, replayed from a run directory's event log.

Every ``FILL`` row of ``events/`` is one trade between a maker (``order_id``/``owner``, the
resting order) and a taker (``other_id``/``other_owner``); ``side`` is the taker's side. Each fill
is booked twice, once per counterparty, as a *ledger* entry with the agent's signed quantity
``q`` (+ bought, − sold, lots) and the trade price ``p`` (ticks). Everything below is computed
from that ledger and the **mark path** of ``top/``, vectorized with numpy.

Conventions (all exact, no sampling unless said):

* **Mark** ``m(t)``: the price the market values inventory at, as ``MarketModel.mark_price()``
  does: the mid of the book in force at ``t`` when both sides are present, else the last trade
  price, else the reference price. "At ``t``" includes every request with timestamp ``<= t``;
  "just before ``t``" (``m(t−)``) only those ``< t``. The price at a fill is ``m(t−)``: the
  prevailing mark when the taker's order arrived.
* **Money** (``pnl``, ``spread_pnl``, ``inventory_pnl``, ``max_drawdown``) is in price units:
  tick·lots × ``tick_size`` × ``lot_size`` (as in ``summary.json``); ``pnl_ticks`` is tick·lots,
  the unit of ``agents.parquet``. **Per-lot** figures (``*_ticks``) are ticks per lot,
  lot-weighted over the fills concerned; ``*_bps`` are basis points of the reference price.
* **PnL** ``= Σ q·(M − p)`` with ``M`` the final mark (= cash + inventory × M; equals
  ``agents.parquet`` ``pnl_ticks``). It splits exactly into
  **spread capture** ``Σ q·(m(t−) − p)`` (the edge of each fill against the mark when it
  happened) and **inventory PnL** ``Σ q·(M − m(t−))`` (= ∫ inventory dm: what holding the
  position earned as the mark moved).
* For a **maker** fill, with ``D = +1`` when the taker bought and ``−1`` when it sold:
  effective half-spread ``D·(p − m(t−))`` (``maker_edge_ticks``), **realized spread** at horizon
  ``h`` ``D·(p − m(t+h))`` and **adverse selection** (price impact) ``D·(m(t+h) − m(t−))``, so
  edge = realized spread + adverse selection. Horizons past the end use the final mark.
* **Taker slippage**: ``s·(p − m(t−))`` per lot, ``s = +1`` for a buy (positive = cost).
* **Inventory distribution**: the position sampled on a grid (``grid``, default every second,
  from the session start to its end, each point after the events at that time): ``inv_mean``,
  ``inv_std``, ``inv_skew`` (population moments), ``inv_map`` (mean absolute position);
  ``inv_max_abs`` is the largest |position| ever held (exact, not sampled).
* **Quoting ratio**: the fraction of time, from the agent's first order to the end of the
  session, during which it had at least one resting bid and one resting ask. An order rests from
  its ``ACCEPTED`` time until the event that brings its open quantity to 0 (a maker fill or a
  cancel with ``remaining`` 0, an expiry, a reject) -- never when its own taker fills exhaust it
  on arrival -- or until the end of the session.
* **Fill ratio**: lots traded (maker and taker) / lots submitted (``ACCEPTED`` quantities).
* **PnL path**: ``cash(t) + inventory(t)·m(t)`` sampled every ``pnl_freq`` (default 1 min) from
  the start to the end. **Sharpe** = mean/std (ddof 1) of its changes × √(periods per session
  day) -- a daily Sharpe ratio, with no risk-free rate; NaN when the path never moves.
  **Max drawdown** = the largest fall of the sampled path below its running maximum (≥ 0).
* **Executors** (kind ``executor``): ``avg_price_ticks`` = VWAP of its fills;
  ``arrival_price_ticks`` = the mark the executor saw at its first decision (the value in
  ``agents.parquet``, else ``m(start − latency)`` from the log); **implementation shortfall**
  ``shortfall_ticks = s·(avg − arrival)`` per lot (positive = cost), ``shortfall_bps`` =
  ``shortfall_ticks / arrival × 10⁴``; **VWAP slippage** ``s·(avg − vwap)`` with ``vwap`` the
  market VWAP of all fills from its first order to its last fill (ticks and bps); completion =
  lots executed / ``parent_qty``.

Public API: :func:`agent_metrics`, :func:`group_metrics`, :func:`pnl_paths`,
:func:`inventory_paths` (each takes a run directory, an :class:`abmm.rundir.RunDir` or a
:class:`LoadedRun` from :func:`load_run`), plus the array-level helpers used by them. The run is
read through :func:`abmm.rundir.open_run`; its session is the reader's ``start_ns`` to
``now_ns``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from abmm.analysis.bars import run_date
from abmm.engine.types import EventKind, OrderType, Side
from abmm.rundir import RunDir, require_complete
from abmm.schema.timing import parse_duration

log = logging.getLogger(__name__)

__all__ = [
    "LoadedRun", "load_run", "agent_metrics", "group_metrics", "pnl_paths", "inventory_paths",
    "step_lookup", "pnl_decomposition", "realized_spread", "price_impact", "sharpe_ratio",
    "max_drawdown", "two_sided_time",
]

ACCEPTED, FILL, CANCELLED = int(EventKind.ACCEPTED), int(EventKind.FILL), int(EventKind.CANCELLED)
EXPIRED, REJECTED = int(EventKind.EXPIRED), int(EventKind.REJECTED)
BUY = int(Side.BUY)
_MAX_CELLS = 4_000_000  # agents x grid points evaluated at once by the path sampler

_EVENT_COLS = ("ts", "order_id", "owner", "other_id", "other_owner", "price", "qty", "remaining",
               "kind", "side", "order_type")


# ---------------------------------------------------------------------------------- array helpers
def step_lookup(times: np.ndarray, values: np.ndarray, t, inclusive: bool = True,
                default: float = np.nan) -> np.ndarray:
    """Value of a step function (``values[i]`` holds from ``times[i]``, ``times`` sorted) at
    ``t``: including a change at exactly ``t`` (``inclusive``) or just before it; ``default``
    before the first change."""
    t = np.asarray(t)
    idx = np.searchsorted(times, t, side="right" if inclusive else "left") - 1
    out = np.asarray(values, dtype=float)[np.clip(idx, 0, None)] if len(times) else \
        np.full(t.shape, default, dtype=float)
    return np.where(idx >= 0, out, default)


def pnl_decomposition(signed_qty, price, mark_at_fill, final_mark):
    """``(spread, inventory, total)`` PnL of fills with signed quantities (+ buy), prices and
    the mark when each happened, marked at ``final_mark``: spread ``Σ q(m − p)``, inventory
    ``Σ q(M − m)``, total ``Σ q(M − p)`` (= spread + inventory)."""
    q = np.asarray(signed_qty, dtype=float)
    p = np.asarray(price, dtype=float)
    m = np.asarray(mark_at_fill, dtype=float)
    spread = float(np.sum(q * (m - p)))
    inventory = float(np.sum(q * (final_mark - m)))
    total = float(np.sum(q * (final_mark - p)))
    return spread, inventory, total


def _taker_sign(taker_side) -> np.ndarray:
    return np.where(np.asarray(taker_side) == BUY, 1.0, -1.0)


def realized_spread(price, taker_side, mark_after) -> np.ndarray:
    """Maker's realized spread per lot: ``D·(p − m(t+h))``, ``D = +1`` when the taker bought
    (the maker sold). Positive: the maker kept an edge after the horizon."""
    return _taker_sign(taker_side) * (np.asarray(price, float) - np.asarray(mark_after, float))


def price_impact(taker_side, mark_before, mark_after) -> np.ndarray:
    """Price impact (the maker's adverse selection) per lot: ``D·(m(t+h) − m(t−))``; positive
    when the mark moved in the taker's favour, against the maker."""
    return _taker_sign(taker_side) * (np.asarray(mark_after, float)
                                      - np.asarray(mark_before, float))


def sharpe_ratio(path, periods_per_day: float) -> float:
    """mean/std (ddof 1) of the changes of a sampled PnL path × √periods_per_day; NaN when
    there are fewer than two changes or the path never moves."""
    d = np.diff(np.asarray(path, dtype=float))
    if len(d) < 2:
        return float("nan")
    sd = d.std(ddof=1)
    if not np.isfinite(sd) or sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return float("nan")
    return float(d.mean() / sd * math.sqrt(periods_per_day))


def max_drawdown(path, axis: int = -1):
    """Largest fall of a path below its running maximum (≥ 0), along ``axis``."""
    p = np.asarray(path, dtype=float)
    if p.shape[axis] == 0:
        return np.zeros(np.delete(p.shape, axis)) if p.ndim > 1 else 0.0
    dd = np.maximum.accumulate(p, axis=axis) - p
    return dd.max(axis=axis)


def two_sided_time(agent, ts, d_bid, d_ask, n_agents: int) -> np.ndarray:
    """Time each agent had ≥ 1 open bid and ≥ 1 open ask, from interval boundary events
    (``d_bid``/``d_ask`` = +1 at an order's start, −1 at its end; every interval closed)."""
    agent = np.asarray(agent, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    if len(agent) == 0:
        return np.zeros(n_agents)
    order = np.lexsort((ts, agent))
    a, t = agent[order], ts[order]
    nb = np.cumsum(np.asarray(d_bid)[order])
    na = np.cumsum(np.asarray(d_ask)[order])
    dt = np.zeros(len(a), dtype=float)
    same = a[1:] == a[:-1]
    dt[:-1] = np.where(same, t[1:] - t[:-1], 0)
    both = (nb > 0) & (na > 0)
    return np.bincount(a, weights=dt * both, minlength=n_agents)


def _wmean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    w = weights[ok].sum()
    return float((values[ok] * weights[ok]).sum() / w) if w > 0 else float("nan")


# ---------------------------------------------------------------------------------- the run
@dataclass
class LoadedRun:
    """A run directory, loaded once for the metrics (events as numpy columns, the mark path, the
    agents); ``run`` is its :class:`abmm.rundir.RunDir`."""

    run: RunDir
    tick: float
    lot: float
    start: int
    end: int
    day_ns: int
    ref_ticks: float
    agents: pd.DataFrame  # agents.parquet, one row per agent, in id order
    ev: dict  # event columns (numpy)
    mark_t: np.ndarray  # mark path: change times ...
    mark_v: np.ndarray  # ... and values (ticks)
    top: pd.DataFrame  # top/ as read (may be empty)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def run_dir(self) -> Path:
        """The run directory's path."""
        return self.run.path

    @property
    def scenario(self) -> dict:
        """The resolved scenario (``scenario.yaml``)."""
        return self.run.scenario

    @property
    def summary(self) -> dict:
        """``summary.json`` (``{}`` when missing)."""
        return self.run.summary

    @property
    def unit(self) -> float:
        """Price units per tick·lot."""
        return self.tick * self.lot

    def mark(self, t, inclusive: bool = True) -> np.ndarray:
        """The mark (ticks) at times ``t``: at or just before each (see the module docstring)."""
        return step_lookup(self.mark_t, self.mark_v, t, inclusive, default=self.ref_ticks)

    @property
    def final_mark(self) -> float:
        """The mark after the last change (ticks)."""
        return float(self.mark(np.int64(np.iinfo(np.int64).max)))

    def grid(self, freq) -> np.ndarray:
        """Sample times (ns) every ``freq`` from the start, the end included."""
        step = parse_duration(freq)
        if step <= 0:
            raise ValueError(f"freq must be positive, got {freq!r}")
        g = np.arange(self.start, self.end + 1, step, dtype=np.int64)
        if g[-1] != self.end:
            g = np.append(g, self.end)
        return g


def load_run(run_dir) -> LoadedRun:
    """Read a run directory (``scenario.yaml``, ``summary.json``, ``agents.parquet``, ``events/``,
    ``top/``) for the metric functions. ``agents.parquet`` is required (a killed run has none)."""
    if isinstance(run_dir, LoadedRun):
        return run_dir
    run = require_complete(run_dir)
    market = run.market
    tick, lot = run.tick_size, run.lot_size
    ref_ticks = float(max(1, round(float(market.get("reference_price", 100.0)) / tick)))
    agents = run.agents()
    table = run.events(list(_EVENT_COLS))
    ev = {c: table.column(c).to_numpy() for c in _EVENT_COLS if c in table.column_names}
    top = run.top().to_pandas()
    mark_t, mark_v = _mark_path(top, ev, ref_ticks)
    return LoadedRun(run, tick, lot, run.start_ns, run.now_ns, run.day_ns, ref_ticks, agents, ev,
                     mark_t, mark_v, top)


def _mark_path(top: pd.DataFrame, ev: dict, ref_ticks: float):
    """The mark as a step function: at each ``ts`` of ``top/`` (last row of a ts), the mid when
    both sides are present, else the last trade price (else the reference price)."""
    fills = ev["kind"] == FILL
    f_ts, f_px = ev["ts"][fills], ev["price"][fills].astype(float)
    if len(top) == 0:  # no top-of-book log: the last trade is all there is
        if len(f_ts):
            keep = np.r_[f_ts[1:] != f_ts[:-1], True]
            return f_ts[keep], f_px[keep]
        return np.zeros(0, np.int64), np.zeros(0)
    ts = top["ts"].to_numpy()
    keep = np.r_[ts[1:] != ts[:-1], True]
    ts = ts[keep]
    bid, ask = top["bid"].to_numpy()[keep], top["ask"].to_numpy()[keep]
    last = step_lookup(f_ts, f_px, ts, inclusive=True, default=ref_ticks)
    both = (bid > 0) & (ask > 0)
    return ts, np.where(both, (bid + ask) / 2.0, last)


# ---------------------------------------------------------------------------------- the ledger
def _agent_index(data: LoadedRun, ids: np.ndarray) -> np.ndarray:
    idx = pd.Index(data.agents["agent_id"].to_numpy()).get_indexer(ids)
    if (idx < 0).any():
        unknown = np.unique(ids[idx < 0])
        raise ValueError(f"event owners not in agents.parquet: {unknown[:10].tolist()}")
    return idx


def _ledger(data: LoadedRun) -> dict:
    """Both sides of every fill, sorted by (agent, time, fill order): agent (row index),
    ts, price, signed qty, maker flag, fill index, taker side, plus per-agent cumulative cash and
    inventory and each agent's first row (``starts``, length n_agents + 1)."""
    if "ledger" in data._cache:
        return data._cache["ledger"]
    ev = data.ev
    f = np.flatnonzero(ev["kind"] == FILL)
    nf = len(f)
    d = _taker_sign(ev["side"][f])
    qty = ev["qty"][f].astype(np.int64)
    agent = _agent_index(data, np.concatenate([ev["owner"][f], ev["other_owner"][f]]))
    sq = np.concatenate([-d * qty, d * qty]).astype(np.int64)
    fill_no = np.concatenate([np.arange(nf), np.arange(nf)])
    maker = np.concatenate([np.ones(nf, bool), np.zeros(nf, bool)])
    order = np.lexsort((~maker, fill_no, agent))
    L = {
        "agent": agent[order], "fill": fill_no[order], "maker": maker[order], "sq": sq[order],
        "ts": np.tile(ev["ts"][f], 2)[order], "price": np.tile(ev["price"][f], 2)[order],
        "taker_side": np.tile(ev["side"][f], 2)[order], "n_fills": nf,
    }
    n = len(data.agents)
    L["starts"] = np.searchsorted(L["agent"], np.arange(n + 1), side="left")
    L["cum_inv"] = _cum_by(L["sq"], L["agent"], L["starts"])
    L["cum_cash"] = _cum_by(-L["sq"] * L["price"], L["agent"], L["starts"])
    data._cache["ledger"] = L
    return L


def _cum_by(x: np.ndarray, key: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``x`` restarting at each key's first row (rows sorted by key)."""
    c = np.cumsum(x)
    if len(c) == 0:
        return c
    before = np.concatenate([[0], c])[starts[:-1]]  # total before each key's first row
    return c - np.repeat(before, np.diff(starts))


def _sample_paths(key: np.ndarray, ts: np.ndarray, starts: np.ndarray, columns: list,
                  grid: np.ndarray):
    """Yield ``(k0, k1, [matrix per column])``: each column's per-key cumulative value (rows
    sorted by key then time) at every grid time (after the rows at that time; 0 before a key's
    first row), for keys ``k0..k1-1``, in chunks bounded by ``_MAX_CELLS``."""
    n = len(starts) - 1
    G = len(grid)
    if n == 0 or G == 0:
        return
    t0 = int(min(grid[0], ts[0])) if len(ts) else int(grid[0])
    t1 = int(max(grid[-1], ts[-1])) if len(ts) else int(grid[-1])
    W = t1 - t0 + 1
    chunk = max(1, min(n, _MAX_CELLS // G, (2**62) // W))
    gg = (grid - t0).astype(np.int64)
    for k0 in range(0, n, chunk):
        k1 = min(n, k0 + chunk)
        r0, r1 = starts[k0], starts[k1]
        local = np.arange(k1 - k0, dtype=np.int64)
        if r1 == r0:
            yield k0, k1, [np.zeros((k1 - k0, G)) for _ in columns]
            continue
        keys = (key[r0:r1] - k0).astype(np.int64) * W + (ts[r0:r1] - t0)
        q = local[:, None] * W + gg[None, :]
        idx = np.searchsorted(keys, q.ravel(), side="right").reshape(q.shape) - 1 + r0
        valid = idx >= starts[k0:k1][:, None]
        safe = np.clip(idx, 0, None)
        yield k0, k1, [np.where(valid, col[safe], 0).astype(float) for col in columns]


# ---------------------------------------------------------------------------------- orders
def _order_table(data: LoadedRun) -> dict:
    """Accepted orders (by id) with their resting interval ``[start, stop)``."""
    if "orders" in data._cache:
        return data._cache["orders"]
    ev = data.ev
    kind, oid = ev["kind"], ev["order_id"]
    n_ids = int(oid.max()) + 1 if len(oid) else 1
    acc = np.flatnonzero(kind == ACCEPTED)
    ids = oid[acc]
    orders = {"ids": ids, "owner": ev["owner"][acc], "side": ev["side"][acc], "ts": ev["ts"][acc],
         "qty": ev["qty"][acc].astype(np.int64), "price": ev["price"][acc]}
    otype = ev.get("order_type")
    orders["type"] = otype[acc] if otype is not None else np.zeros(len(acc), np.int8)
    stop = np.full(n_ids, np.iinfo(np.int64).max, dtype=np.int64)
    term = ((kind == FILL) | (kind == CANCELLED)) & (ev["remaining"] == 0)
    term |= (kind == EXPIRED) | (kind == REJECTED)
    np.minimum.at(stop, oid[term], ev["ts"][term])
    fills = kind == FILL
    taken = np.bincount(ev["other_id"][fills], weights=ev["qty"][fills], minlength=n_ids)
    s = np.minimum(stop[ids], data.end)
    s = np.where((taken[ids] >= orders["qty"]) | (orders["type"] == int(OrderType.MARKET)), orders["ts"], s)
    orders["stop"] = np.maximum(s, orders["ts"])
    data._cache["orders"] = orders
    return orders


# ---------------------------------------------------------------------------------- metrics
def _label(h) -> str:
    if isinstance(h, str):
        return h.strip().replace(" ", "")
    ns = int(h)
    return f"{ns // 1_000_000_000}s" if ns % 1_000_000_000 == 0 else f"{ns}ns"


def _periods_per_day(data: LoadedRun, freq) -> float:
    return data.day_ns / parse_duration(freq)


def _config_for_group(data: LoadedRun, group: str) -> dict:
    for entry in data.scenario.get("agents") or []:
        if (entry.get("name") or entry.get("kind")) == group:
            return entry
    return {}


def agent_metrics(run_dir, horizons=("5s", "60s"), grid="1s", pnl_freq="1min") -> pd.DataFrame:
    """One row per agent (indexed by ``agent_id``; columns ``name, group, kind`` first) with
    the metrics of the module docstring. ``horizons`` (durations) set the realized-spread and
    adverse-selection columns; ``grid`` samples the inventory distribution; ``pnl_freq`` the PnL
    path (Sharpe, drawdown)."""
    data = load_run(run_dir)
    A = data.agents
    n = len(A)
    L = _ledger(data)
    ag, sq, px, ts = L["agent"], L["sq"].astype(float), L["price"].astype(float), L["ts"]
    maker = L["maker"]
    M = data.final_mark
    m0 = data.mark(ts, inclusive=False)
    unit = data.unit

    def bc(w):
        return np.bincount(ag, weights=w, minlength=n)

    absq = np.abs(sq)
    out = pd.DataFrame({"name": A["name"].to_numpy(), "group": A["group"].to_numpy(),
                        "kind": A["kind"].to_numpy()},
                       index=pd.Index(A["agent_id"].to_numpy(), name="agent_id"))
    pnl_ticks = bc(sq * (M - px))
    out["pnl"] = pnl_ticks * unit
    out["spread_pnl"] = bc(sq * (m0 - px)) * unit
    out["inventory_pnl"] = bc(sq * (M - m0)) * unit
    out["pnl_ticks"] = pnl_ticks
    out["inventory"] = np.bincount(ag, weights=sq, minlength=n).round().astype(np.int64)

    # activity
    orders = _order_table(data)
    o_agent = _agent_index(data, orders["owner"])
    out["orders"] = np.bincount(o_agent, minlength=n)
    lots_sub = np.bincount(o_agent, weights=orders["qty"], minlength=n)
    out["lots_submitted"] = lots_sub.round().astype(np.int64)
    out["fills"] = np.bincount(ag, minlength=n)
    out["maker_fills"] = np.bincount(ag[maker], minlength=n)
    out["taker_fills"] = out["fills"] - out["maker_fills"]
    traded = bc(absq)
    maker_lots = bc(absq * maker)
    taker_lots = traded - maker_lots
    out["traded"] = traded.round().astype(np.int64)
    out["maker_lots"] = maker_lots.round().astype(np.int64)
    out["taker_lots"] = taker_lots.round().astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["fill_ratio"] = np.where(lots_sub > 0, traded / lots_sub, np.nan)
        # makers: edge, realized spread and adverse selection per lot; takers: slippage
        d = _taker_sign(L["taker_side"])
        out["maker_edge_ticks"] = bc(absq * maker * d * (px - m0)) / maker_lots
        for h in horizons:
            lab = _label(h)
            th = np.minimum(ts + parse_duration(h), data.end)
            mh = data.mark(th, inclusive=True)
            out[f"realized_spread_{lab}_ticks"] = bc(absq * maker * d * (px - mh)) / maker_lots
            out[f"adverse_selection_{lab}_ticks"] = bc(absq * maker * d * (mh - m0)) / maker_lots
        s = np.sign(sq)
        out["taker_slippage_ticks"] = bc(absq * ~maker * s * (px - m0)) / taker_lots

    # inventory distribution on the grid (exact weighted moments of the step path)
    out = out.join(_inventory_stats(data, L, grid))
    # quoting ratio
    out["quoting_ratio"] = _quoting_ratio(data, orders, o_agent)
    # PnL path: Sharpe and drawdown
    g = data.grid(pnl_freq)
    mark_g = data.mark(g)
    ppd = _periods_per_day(data, pnl_freq)
    sharpe = np.full(n, np.nan)
    mdd = np.zeros(n)
    for k0, k1, (cash, inv) in _sample_paths(ag, ts, L["starts"], [L["cum_cash"], L["cum_inv"]],
                                             g):
        path = (cash + inv * mark_g[None, :]) * unit
        mdd[k0:k1] = max_drawdown(path, axis=1)
        sharpe[k0:k1] = [sharpe_ratio(p, ppd) for p in path]
    out["sharpe"] = sharpe
    out["max_drawdown"] = mdd
    ex = _executor_metrics(data, L, out)
    if ex is not None:
        out = out.join(ex)
    return out


def _inventory_stats(data: LoadedRun, L: dict, grid) -> pd.DataFrame:
    n = len(data.agents)
    g = data.grid(grid)
    G = len(g)
    ag, ts, inv, starts = L["agent"], L["ts"], L["cum_inv"].astype(float), L["starts"]
    # points of the grid at which row j's position holds: ts_j <= g < ts_next (same agent)
    pos = np.searchsorted(g, ts, side="left")
    has = np.diff(starts) > 0
    nxt = np.empty_like(pos)
    if len(pos):
        nxt[:-1] = pos[1:]
        nxt[starts[1:][has] - 1] = G  # an agent's last row holds to the end
    w = (nxt - pos).astype(float)
    zero_pts = np.full(n, float(G))  # position 0 before the agent's first fill
    zero_pts[has] = pos[starts[:-1][has]]
    s1 = np.bincount(ag, weights=w * inv, minlength=n)
    s2 = np.bincount(ag, weights=w * inv**2, minlength=n)
    s3 = np.bincount(ag, weights=w * inv**3, minlength=n)
    sa = np.bincount(ag, weights=w * np.abs(inv), minlength=n)
    total = np.bincount(ag, weights=w, minlength=n) + zero_pts
    mean = s1 / total
    var = np.maximum(s2 / total - mean**2, 0.0)
    std = np.sqrt(var)
    with np.errstate(invalid="ignore", divide="ignore"):
        m3 = s3 / total - 3 * mean * s2 / total + 2 * mean**3
        skew = np.where(std > 1e-12, m3 / std**3, np.nan)
    max_abs = np.zeros(n)
    if len(inv):
        np.maximum.at(max_abs, ag, np.abs(inv))
    return pd.DataFrame({"inv_mean": mean, "inv_std": std, "inv_skew": skew,
                         "inv_map": sa / total, "inv_max_abs": max_abs},
                        index=pd.Index(data.agents["agent_id"].to_numpy(), name="agent_id"))


def _quoting_ratio(data: LoadedRun, orders: dict, o_agent: np.ndarray) -> np.ndarray:
    n = len(data.agents)
    rest = orders["stop"] > orders["ts"]
    a = o_agent[rest]
    is_bid = (orders["side"][rest] == BUY).astype(np.int64)
    one = np.ones(len(a), np.int64)
    both = two_sided_time(np.concatenate([a, a]), np.concatenate([orders["ts"][rest], orders["stop"][rest]]),
                          np.concatenate([is_bid, -is_bid]),
                          np.concatenate([one - is_bid, -(one - is_bid)]), n)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, o_agent, orders["ts"])
    window = (data.end - first).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(window > 0, both / window, np.nan)
    ratio = np.where(first == np.iinfo(np.int64).max, np.nan, ratio)
    return np.clip(ratio, 0.0, 1.0)


def _executor_metrics(data: LoadedRun, L: dict, out: pd.DataFrame) -> pd.DataFrame | None:
    A = data.agents
    rows = np.flatnonzero(A["kind"].to_numpy() == "executor")
    if len(rows) == 0:
        return None
    ev = data.ev
    fills = ev["kind"] == FILL
    f_ts, f_px, f_q = ev["ts"][fills], ev["price"][fills].astype(float), ev["qty"][fills]
    cum_pq = np.concatenate([[0.0], np.cumsum(f_px * f_q)])
    cum_q = np.concatenate([[0.0], np.cumsum(f_q.astype(float))])
    orders = _order_table(data)
    res = {k: np.full(len(rows), np.nan) for k in (
        "parent_qty", "executed", "completion", "avg_price_ticks", "arrival_price_ticks",
        "arrival_price_log_ticks", "shortfall_ticks", "shortfall_bps", "vwap_ticks",
        "vwap_slippage_ticks", "vwap_slippage_bps")}
    for j, r in enumerate(rows):
        aid = int(A["agent_id"].iloc[r])
        cfg = _config_for_group(data, str(A["group"].iloc[r]))
        lo, hi = L["starts"][r], L["starts"][r + 1]
        q, p, t = L["sq"][lo:hi].astype(float), L["price"][lo:hi].astype(float), L["ts"][lo:hi]
        done = abs(q.sum())
        side = cfg.get("side")
        sign = 1.0 if side == "buy" else -1.0 if side == "sell" else float(np.sign(q.sum()) or 1)
        parent = A["parent_qty"].iloc[r] if "parent_qty" in A else cfg.get("quantity", np.nan)
        if pd.isna(parent):
            parent = cfg.get("quantity", np.nan)
        res["parent_qty"][j] = parent
        res["executed"][j] = done
        res["completion"][j] = done / parent if parent and np.isfinite(parent) else np.nan
        # what the executor saw at its first decision: the mark at start - latency
        begin = max(parse_duration(cfg.get("start", data.start)), data.start)
        lat = cfg.get("latency") or {}
        lat_ns = int(lat.get("value", 0)) if lat.get("kind", "constant") == "constant" else 0
        res["arrival_price_log_ticks"][j] = float(data.mark(begin - lat_ns))
        arrival = A["arrival_price_ticks"].iloc[r] if "arrival_price_ticks" in A else np.nan
        if pd.isna(arrival):
            arrival = res["arrival_price_log_ticks"][j]
        res["arrival_price_ticks"][j] = arrival
        if hi == lo:
            continue
        avg = float(np.abs(q) @ p / np.abs(q).sum())
        res["avg_price_ticks"][j] = avg
        res["shortfall_ticks"][j] = sign * (avg - arrival)
        res["shortfall_bps"][j] = sign * (avg - arrival) / arrival * 1e4
        mine = orders["owner"] == aid
        t_first = int(orders["ts"][mine].min()) if mine.any() else int(t.min())
        i0 = np.searchsorted(f_ts, t_first, side="left")
        i1 = np.searchsorted(f_ts, t.max(), side="right")
        vol = cum_q[i1] - cum_q[i0]
        if vol > 0:
            vwap = (cum_pq[i1] - cum_pq[i0]) / vol
            res["vwap_ticks"][j] = vwap
            res["vwap_slippage_ticks"][j] = sign * (avg - vwap)
            res["vwap_slippage_bps"][j] = sign * (avg - vwap) / vwap * 1e4
    return pd.DataFrame(res, index=pd.Index(A["agent_id"].to_numpy()[rows], name="agent_id"))


# ---------------------------------------------------------------------------------- groups
_SUMS = ["pnl", "spread_pnl", "inventory_pnl", "pnl_ticks", "inventory", "orders",
         "lots_submitted", "fills", "maker_fills", "taker_fills", "traded", "maker_lots",
         "taker_lots", "parent_qty", "executed"]
_MEANS = ["fill_ratio", "quoting_ratio", "inv_mean", "inv_std", "inv_skew", "inv_map"]
_WEIGHTS = {"maker_edge_ticks": "maker_lots", "taker_slippage_ticks": "taker_lots",
            "avg_price_ticks": "executed", "arrival_price_ticks": "executed",
            "shortfall_ticks": "executed", "shortfall_bps": "executed",
            "vwap_slippage_ticks": "executed", "vwap_slippage_bps": "executed"}


def group_metrics(run_dir, horizons=("5s", "60s"), grid="1s", pnl_freq="1min",
                  agents: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per group (indexed by ``group``): ``kind``, ``agents``, sums of PnL parts,
    counts and lots; means over the agents of ``fill_ratio``, ``quoting_ratio`` and the
    inventory moments; the largest ``inv_max_abs``; lot-weighted means of the per-lot figures
    (realized spread and adverse selection weighted by maker lots, slippage by taker lots,
    executor figures by executed lots); ``completion`` = Σ executed / Σ parent; ``sharpe`` and
    ``max_drawdown`` of the group's summed PnL path. ``agents``: an :func:`agent_metrics` frame
    already computed for this run."""
    data = load_run(run_dir)
    am = agents if agents is not None else agent_metrics(data, horizons, grid, pnl_freq)
    weights = dict(_WEIGHTS)
    for c in am.columns:
        if c.startswith(("realized_spread_", "adverse_selection_")):
            weights[c] = "maker_lots"
    rows = {}
    for name, g in am.groupby("group", sort=False):
        r = {"kind": g["kind"].iloc[0], "agents": len(g)}
        for c in _SUMS:
            if c in g:
                r[c] = g[c].sum(min_count=1)
        for c in _MEANS:
            if c in g:
                r[c] = g[c].mean()
        r["inv_max_abs"] = g["inv_max_abs"].max()
        for c, w in weights.items():
            if c in g and w in g:
                r[c] = _wmean(g[c].to_numpy(float), g[w].fillna(0).to_numpy(float))
        if "executed" in g and g["parent_qty"].notna().any():
            r["completion"] = g["executed"].sum() / g["parent_qty"].sum()
        rows[name] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    paths = pnl_paths(data, pnl_freq)
    ppd = _periods_per_day(data, pnl_freq)
    out["sharpe"] = [sharpe_ratio(paths[g].to_numpy(), ppd) if g in paths else np.nan
                     for g in out.index]
    out["max_drawdown"] = [float(max_drawdown(paths[g].to_numpy())) if g in paths else np.nan
                           for g in out.index]
    order = [c for c in ["kind", "agents", *_SUMS, "fill_ratio", "quoting_ratio",
                         "maker_edge_ticks"] if c in out]
    order += [c for c in out.columns if c.startswith(("realized_spread_", "adverse_selection_"))]
    order += [c for c in out.columns if c not in order]
    return out[order]


def _group_paths(data: LoadedRun, freq):
    """(grid, group names, cash matrix, inventory matrix) per group over the grid."""
    L = _ledger(data)
    groups = data.agents["group"].to_numpy()
    names = list(dict.fromkeys(groups))  # first-appearance order
    rank = {g: i for i, g in enumerate(names)}
    gidx = np.array([rank[g] for g in groups], dtype=np.int64)
    ga = gidx[L["agent"]]
    order = np.lexsort((L["fill"], L["ts"], ga))
    key, ts, sq = ga[order], L["ts"][order], L["sq"][order]
    cash = -sq * L["price"][order]
    starts = np.searchsorted(key, np.arange(len(names) + 1), side="left")
    cum_inv = _cum_by(sq, key, starts)
    cum_cash = _cum_by(cash, key, starts)
    g = data.grid(freq)
    C = np.zeros((len(names), len(g)))
    Q = np.zeros((len(names), len(g)))
    for k0, k1, (c, q) in _sample_paths(key, ts, starts, [cum_cash, cum_inv], g):
        C[k0:k1], Q[k0:k1] = c, q
    return g, names, C, Q


def _time_index(data: LoadedRun, g: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(run_date(data.run) + pd.to_timedelta(g, "ns"), name="timestamp")


def pnl_paths(run_dir, freq="1min") -> pd.DataFrame:
    """Each group's mark-to-market PnL (price units) every ``freq`` from the session start to
    its end (end included): one column per group, indexed by timestamp (the run's date + ns,
    :func:`abmm.analysis.bars.run_date`)."""
    data = load_run(run_dir)
    g, names, C, Q = _group_paths(data, freq)
    pnl = (C + Q * data.mark(g)[None, :]) * data.unit
    return pd.DataFrame(pnl.T, index=_time_index(data, g), columns=pd.Index(names, name="group"))


def inventory_paths(run_dir, freq="1min") -> pd.DataFrame:
    """Each group's summed position (lots) every ``freq``, like :func:`pnl_paths`."""
    data = load_run(run_dir)
    g, names, _, Q = _group_paths(data, freq)
    return pd.DataFrame(Q.T.round().astype(np.int64), index=_time_index(data, g),
                        columns=pd.Index(names, name="group"))
