"""A self-contained HTML report of a run: ``write_report(run_dir) -> run_dir/report.html``.

One file, no external assets and no network: every chart is a PNG drawn with matplotlib's Agg
canvas and embedded as base64, the style is inline CSS. Sections (HTML ids):

* ``summary`` -- the figures of ``summary.json`` and its per-group totals;
* ``price`` -- the mid (the mark: the mid, or the last trade on a one-sided book), the
  fundamental and the trades; the spread over time;
* ``depth`` -- the displayed size at the best bid and ask over time, and a heatmap of the resting
  quantity by price level (bids positive, asks negative) on a coarse time grid, reconstructed from
  the order events;
* ``returns`` -- the distribution of 1-minute log returns of the mid against a fitted Gaussian
  (log y-scale);
* ``acf`` -- the autocorrelation of ``r`` and ``|r|`` with the 95 % band ±1.96/√n;
* ``agents`` -- PnL and inventory paths per group and the table of group metrics
  (:mod:`abmm.analysis.metrics`);
* ``scorecard`` -- the stylized-facts scorecard (:mod:`abmm.analysis.facts`), against real bars
  when ``real`` is given;
* ``tick`` (only with ``real_feed``, a recorded exchange feed) -- the run's tick-level
  distributions overlaid on the feed's: spread in ticks and top-of-book depth (time-weighted),
  trade sizes, inter-trade times (log axes) and the taker-order sign ACF, with the table of
  :func:`abmm.analysis.feed.tick_comparison` (the same samples, :func:`abmm.analysis.feed.tick_samples`).

The returns, their kurtosis and ACFs, and the spread's time-weighted mean come from the same
estimators as the scorecard (:mod:`abmm.analysis.estimators`, :mod:`abmm.analysis.run_facts`) on
the same bars (:func:`return_stats`), so the plots agree with the table beside them. The run is
read through :func:`abmm.rundir.open_run` (:func:`abmm.analysis.metrics.load_run`).

Plots are bounded in size whatever the run's length (paths sampled on at most a few thousand
points, the heatmap on at most ``240 × 160`` cells, at most 20,000 trades drawn).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from abmm.analysis import metrics as M
from abmm.analysis.bars import read_ohlcv, run_bars, run_date
from abmm.analysis.estimators import acf, acf_band, excess_kurtosis, log_returns
from abmm.analysis.run_facts import book_facts
from abmm.engine.types import EventKind, OrderType
from abmm.rundir import open_run

log = logging.getLogger(__name__)

__all__ = ["write_report", "depth_heatmap", "return_stats", "FEED_SECTION"]

SECTIONS = ["summary", "price", "depth", "returns", "acf", "agents", "scorecard"]
FEED_SECTION = "tick"  # appended when the report has a real feed
_TITLES = {"summary": "Summary", "price": "Price", "depth": "Depth", "returns": "Returns",
           "acf": "Autocorrelation", "agents": "Agents", "scorecard": "Stylized facts",
           FEED_SECTION: "Tick level vs real feed"}
_MAX_POINTS = 4000  # samples of a path drawn
_MAX_TRADES = 20_000
_HEAT_T, _HEAT_P = 240, 160  # heatmap: time bins, price rows

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;font-size:13px;opacity:.85}
nav{background:#e8edf3;padding:6px 24px;font-size:14px} nav a{margin-right:14px;color:#1f3a5f}
section{background:#fff;margin:16px 24px;padding:8px 20px 16px;border:1px solid #dde3ea;
border-radius:6px}
h2{color:#1f3a5f;font-size:18px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
img{max-width:100%;height:auto;display:block;margin:8px 0}
table.data{border-collapse:collapse;font-size:12px;margin:8px 0}
table.data th,table.data td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
table.data th{background:#f0f3f6} table.data td:first-child,table.data th:first-child{
text-align:left}
.pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600}
.note{color:#666;font-size:13px}
"""


# ---------------------------------------------------------------------------------- helpers
def _png(fig) -> str:
    """An ``<img>`` with the figure embedded as a base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _figure(rows: int = 1, height: float = 3.2, width: float = 11.0, sharex: bool = True):
    """A figure on the Agg canvas (no pyplot: nothing global changes, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    return fig, list(axes)


def _times(data: M.LoadedRun, ns: np.ndarray) -> np.ndarray:
    """``ns`` (since midnight of the run's first day) on the run's date (``run_date``)."""
    base = np.datetime64(run_date(data.run).to_datetime64(), "ns")
    return base + np.asarray(ns).astype("timedelta64[ns]")


def _time_axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))


def _table(df: pd.DataFrame, index: bool = True, table_id: str | None = None) -> str:
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "" if np.isnan(v) else str(v)
            a = abs(v)
            return f"{v:,.0f}" if a >= 1e5 else f"{v:.4g}" if a < 1e-3 and a else f"{v:,.4f}" \
                if a < 10 else f"{v:,.2f}"
        return str(v)

    text = df.to_html(index=index, classes="data", border=0, na_rep="",
                      formatters={c: fmt for c in df.columns}, table_id=table_id)
    return text


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _grid(data: M.LoadedRun, points: int = _MAX_POINTS) -> np.ndarray:
    n = max(2, min(points, int((data.end - data.start) // 1_000_000) + 1))
    return np.linspace(data.start, data.end, n).astype(np.int64)


# ---------------------------------------------------------------------------------- depth
def depth_heatmap(data: M.LoadedRun, time_bins: int = _HEAT_T, price_rows: int = _HEAT_P):
    """Resting quantity by price level on a coarse grid: ``(grid ns, price edges in ticks,
    matrix [time, price row])``, bids positive and asks negative, each cell the lots resting in
    its price bucket just after the grid time. Replayed from the order events: ``ACCEPTED``
    adds an order's size at its price; its taker fills, maker fills, cancels, expiry or reject
    remove lots (market orders never rest and are skipped). The price range covers the mark
    path ± 10 ticks (quantity outside is left out); buckets are whole ticks, several per row when
    the range is wider than ``price_rows``."""
    ev = data.ev
    kind, oid = ev["kind"], ev["order_id"]
    n_ids = int(oid.max()) + 1 if len(oid) else 1
    acc = kind == int(EventKind.ACCEPTED)
    price_of = np.zeros(n_ids, np.int64)
    side_of = np.zeros(n_ids, np.int8)
    market = np.ones(n_ids, bool)
    price_of[oid[acc]] = ev["price"][acc]
    side_of[oid[acc]] = ev["side"][acc]
    otype = ev.get("order_type")
    market[oid[acc]] = (otype[acc] == int(OrderType.MARKET)) if otype is not None else \
        (ev["price"][acc] == 0)
    fill = kind == int(EventKind.FILL)
    gone = np.isin(kind, [int(EventKind.CANCELLED), int(EventKind.EXPIRED),
                          int(EventKind.REJECTED)])
    # (order, ts, signed lots): + accepted, - everything that takes lots off the book
    o = np.concatenate([oid[acc], oid[fill], ev["other_id"][fill], oid[gone]])
    t = np.concatenate([ev["ts"][acc], ev["ts"][fill], ev["ts"][fill], ev["ts"][gone]])
    q = np.concatenate([ev["qty"][acc], -ev["qty"][fill], -ev["qty"][fill], -ev["qty"][gone]])
    keep = ~market[o]
    o, t, q = o[keep], t[keep], q[keep]
    grid = np.linspace(data.start, data.end, max(2, time_bins)).astype(np.int64)
    marks = data.mark(grid)
    lo = int(math.floor(np.nanmin(marks))) - 10 if len(marks) else 0
    hi = int(math.ceil(np.nanmax(marks))) + 10 if len(marks) else 1
    width = max(1, math.ceil((hi - lo + 1) / price_rows))
    rows = math.ceil((hi - lo + 1) / width)
    edges = lo + width * np.arange(rows + 1)
    p = price_of[o]
    inside = (p >= lo) & (p < lo + rows * width)
    b = np.searchsorted(grid, t, side="left")
    inside &= b < len(grid)
    mat = np.zeros((len(grid), rows))
    sign = np.where(side_of[o] == 0, 1.0, -1.0)
    np.add.at(mat, (b[inside], (p[inside] - lo) // width), (q * sign)[inside])
    return grid, edges, np.cumsum(mat, axis=0)


# ---------------------------------------------------------------------------------- sections
def _section_summary(data: M.LoadedRun) -> str:
    s = data.summary
    scalars = {k: v for k, v in s.items() if not isinstance(v, (dict, list))}
    parts = []
    if s.get("status") != "complete":
        parts.append(_note(f"status: {s.get('status')!r} -- this run is not a full session"))
    df = pd.DataFrame({"value": [("" if v is None else v) for v in scalars.values()]},
                      index=pd.Index(list(scalars))).astype(str)
    parts.append(_table(df))
    groups = s.get("groups")
    if groups:
        parts.append("<h3>Groups (summary.json, PnL in price units)</h3>")
        parts.append(_table(pd.DataFrame.from_dict(groups, orient="index")))
    return "".join(parts)


def _section_price(data: M.LoadedRun, trades: pd.DataFrame, fundamental: pd.DataFrame | None):
    g = _grid(data)
    fig, (ax, ax2) = _figure(2, height=3.0)
    x = _times(data, g)
    ax.plot(x, data.mark(g) * data.tick, drawstyle="steps-post", lw=0.9, color="#1f3a5f",
            label="mid")
    if fundamental is not None and len(fundamental):
        f = fundamental
        if len(f) > _MAX_POINTS:
            f = f.iloc[np.linspace(0, len(f) - 1, _MAX_POINTS).astype(int)]
        ax.plot(_times(data, f["ts"].to_numpy()), f["value"].to_numpy(), lw=0.9, color="#d4a017",
                label="fundamental")
    if len(trades):
        tr = trades
        if len(tr) > _MAX_TRADES:
            tr = tr.iloc[np.linspace(0, len(tr) - 1, _MAX_TRADES).astype(int)]
        buy = tr["side"].to_numpy() == 0
        tx = _times(data, tr["ts"].to_numpy())
        px = tr["price"].to_numpy() * data.tick
        ax.scatter(tx[buy], px[buy], s=3, color="#1a7f37", alpha=0.5, label="buyer-initiated")
        ax.scatter(tx[~buy], px[~buy], s=3, color="#cf222e", alpha=0.5,
                   label="seller-initiated")
    ax.set_ylabel("price")
    ax.legend(loc="best", fontsize=8, markerscale=3)
    ax.grid(alpha=0.3)
    top = data.top
    if len(top):
        ts = top["ts"].to_numpy()
        both = (top["bid"].to_numpy() > 0) & (top["ask"].to_numpy() > 0)
        spread = np.where(both, top["ask"].to_numpy() - top["bid"].to_numpy(), np.nan)
        sp = M.step_lookup(ts, spread, g)
        ax2.plot(x, sp, drawstyle="steps-post", lw=0.7, color="#6f42c1")
        tw = book_facts(data.run)["spread_mean"]
        if np.isfinite(tw):
            ax2.set_title(f"spread (ticks); time-weighted mean {tw:.2f}", fontsize=9)
    ax2.set_ylabel("spread (ticks)")
    ax2.grid(alpha=0.3)
    _time_axis(ax2)
    return _png(fig)


def _section_depth(data: M.LoadedRun) -> str:
    top = data.top
    if not len(top):
        return _note("no top-of-book log (logging.top_of_book: false)")
    g = _grid(data)
    fig, (ax, ax2) = _figure(2, height=3.2)
    ts = top["ts"].to_numpy()
    keep = np.r_[ts[1:] != ts[:-1], True]
    x = _times(data, g)
    for col, color in (("bid_qty", "#1a7f37"), ("ask_qty", "#cf222e")):
        v = M.step_lookup(ts[keep], top[col].to_numpy()[keep], g, default=0)
        ax.plot(x, v, drawstyle="steps-post", lw=0.7, color=color, label=col)
    ax.set_ylabel("lots at best")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    grid, edges, mat = depth_heatmap(data)
    vmax = float(np.nanpercentile(np.abs(mat), 99)) if mat.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    tx = _times(data, np.append(grid, grid[-1] + max(1, (grid[-1] - grid[0]) // max(len(grid) - 1, 1))))
    mesh = ax2.pcolormesh(tx, edges * data.tick, mat.T, cmap="RdBu", vmin=-vmax, vmax=vmax,
                          shading="flat")
    ax2.plot(_times(data, g), data.mark(g) * data.tick, color="k", lw=0.6)
    ax2.set_ylabel("price")
    ax2.set_title("resting lots by price (bids > 0, asks < 0) and the mid", fontsize=9)
    fig.colorbar(mesh, ax=[ax, ax2], shrink=0.45, pad=0.01, anchor=(0.0, 0.05), label="lots")
    _time_axis(ax2)
    return _png(fig)


def return_stats(bars: pd.DataFrame, nlags: int = 30) -> dict:
    """What the returns and ACF sections draw, from the scorecard's estimators on ``bars``:
    ``r`` (log returns, :func:`~abmm.analysis.estimators.log_returns`), ``kurtosis``
    (:func:`~abmm.analysis.estimators.excess_kurtosis`), ``acf_r`` and ``acf_abs`` (the ACF of
    ``r`` and ``|r|`` at lags ``0..nlags``, NaN at lags ``>= n``) and ``band`` (1.96/sqrt(n))."""
    r = log_returns(bars).to_numpy(dtype=float) if bars is not None and len(bars) \
        else np.zeros(0)
    return {"r": r, "kurtosis": excess_kurtosis(r), "acf_r": acf(r, nlags),
            "acf_abs": acf(np.abs(r), nlags), "band": acf_band(len(r))}


def _section_returns(stats: dict, freq: str) -> str:
    r = stats["r"]
    if len(r) < 3:
        return _note(f"too few {freq} returns ({len(r)}) for a distribution")
    fig, (ax,) = _figure(1, height=3.6, width=8)
    mu, sd = float(r.mean()), float(r.std(ddof=1))
    bins = min(80, max(10, int(math.sqrt(len(r)) * 2)))
    dens, edges = np.histogram(r, bins=bins, density=True)
    mids = 0.5 * (edges[1:] + edges[:-1])
    ax.bar(mids, np.where(dens > 0, dens, np.nan), width=np.diff(edges), color="#1f3a5f",
           alpha=0.6, label=f"{freq} log returns (n={len(r)})")
    if sd > 0:
        xs = np.linspace(edges[0], edges[-1], 400)
        gauss = np.exp(-0.5 * ((xs - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        ax.plot(xs, gauss, color="#cf222e", lw=1.2, label=f"Gaussian (mu={mu:.2e}, sd={sd:.2e})")
        ax.set_title(f"excess kurtosis {stats['kurtosis']:.2f}", fontsize=9)
    ax.set_yscale("log")
    ax.set_xlabel("log return")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _section_acf(stats: dict) -> str:
    n = len(stats["r"])
    if n < 5:
        return _note(f"too few returns ({n}) for an autocorrelation")
    nlags = min(len(stats["acf_r"]) - 1, n - 2)
    band = stats["band"]
    fig, axes = _figure(2, height=2.6, width=9)
    lags = np.arange(1, nlags + 1)
    for ax, rho, name in ((axes[0], stats["acf_r"], "r"), (axes[1], stats["acf_abs"], "|r|")):
        ax.bar(lags, rho[1:nlags + 1], width=0.6, color="#1f3a5f")
        ax.axhspan(-band, band, color="#cf222e", alpha=0.12, label="95 % band ±1.96/√n")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel(f"ACF of {name}")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
    axes[1].set_xlabel("lag (bars)")
    return _png(fig)


_GROUP_COLUMNS = ["kind", "agents", "pnl", "spread_pnl", "inventory_pnl", "inventory", "orders",
                  "fills", "traded", "fill_ratio", "quoting_ratio", "maker_edge_ticks"]


def _section_agents(data: M.LoadedRun, freq: str):
    am = M.agent_metrics(data)
    gm = M.group_metrics(data, agents=am, pnl_freq=freq)
    # paths drawn on about 500 points (whole seconds), whatever the session's length
    step = f"{max(1, (data.end - data.start) // 500 // 1_000_000_000)}s"
    pnl = M.pnl_paths(data, step)
    inv = M.inventory_paths(data, step)
    fig, (ax, ax2) = _figure(2, height=3.0)
    for name in pnl.columns:
        ax.plot(pnl.index.to_numpy(), pnl[name].to_numpy(), lw=1.0, label=str(name))
        ax2.plot(inv.index.to_numpy(), inv[name].to_numpy(), lw=1.0, label=str(name))
    ax.set_ylabel("PnL (price units)")
    ax.legend(fontsize=8, ncol=min(6, len(pnl.columns)) or 1)
    ax2.set_ylabel("inventory (lots)")
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.axhline(0, color="k", lw=0.5)
    _time_axis(ax2)
    cols = [c for c in gm.columns if c in _GROUP_COLUMNS
            or c.startswith(("realized_spread_", "adverse_selection_"))]
    cols += [c for c in ("taker_slippage_ticks", "inv_map", "inv_max_abs", "sharpe",
                         "max_drawdown", "completion", "shortfall_ticks", "shortfall_bps",
                         "vwap_slippage_ticks") if c in gm.columns]
    parts = [_png(fig), "<h3>Group metrics</h3>",
             _note("PnL in price units; *_ticks per lot; ratios are means over the group's "
                   "agents; sharpe and max_drawdown of the group's PnL path sampled every "
                   f"{freq} (Sharpe scaled to a session day). Definitions: "
                   "abmm.analysis.metrics."),
             _table(gm[cols].T, table_id="group-metrics")]
    ex = am[am["kind"] == "executor"]
    if len(ex):
        ecols = [c for c in ("name", "parent_qty", "executed", "completion", "avg_price_ticks",
                             "arrival_price_ticks", "shortfall_ticks", "shortfall_bps",
                             "vwap_ticks", "vwap_slippage_ticks", "vwap_slippage_bps")
                 if c in ex.columns]
        parts += ["<h3>Executors</h3>", _table(ex[ecols], table_id="executor-metrics")]
    return "".join(parts)


def _section_scorecard(bars: pd.DataFrame, real, run) -> str:
    try:
        from abmm.analysis import facts
    except ImportError as exc:  # pragma: no cover - the module ships with abmm
        log.warning("stylized-facts scorecard unavailable: %s", exc)
        return _note(f"scorecard unavailable: {exc}")
    real_bars = None
    if real is not None:
        real_bars = real if isinstance(real, pd.DataFrame) else read_ohlcv(real)
    try:
        card = facts.scorecard(bars, real=real_bars, run_dir=run)
        frame = card.to_frame()
    except Exception as exc:  # a report keeps its other sections
        log.exception("stylized-facts scorecard failed")
        return _note(f"scorecard failed: {type(exc).__name__}: {exc}")
    if real_bars is None and "real" in frame.columns and frame["real"].isna().all():
        frame = frame.drop(columns="real")
    frame["passed"] = [("info" if p is None or (isinstance(p, float) and math.isnan(p))
                        else "PASS" if p else "FAIL") for p in frame["passed"]]
    checked = frame["passed"] != "info"
    ok = int((frame["passed"] == "PASS").sum())
    verdict = "pass" if card.passed else "fail"
    head = (f'<p>Overall: <span class="{verdict}">{verdict.upper()}</span> '
            f"({ok}/{int(checked.sum())} checks pass)</p>")
    text = _table(frame, index=False, table_id="scorecard-table")
    text = text.replace("<td>PASS</td>", '<td class="pass">PASS</td>')
    text = text.replace("<td>FAIL</td>", '<td class="fail">FAIL</td>')
    return head + text


_SIM, _REAL = "#1f3a5f", "#d4a017"


def _ccdf(ax, x: np.ndarray, label: str, color: str, weights: np.ndarray | None = None):
    """Draw ``P(X >= x)`` (weighted when ``weights`` is given) on log-log axes."""
    x = np.asarray(x, float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    ok = (x > 0) & np.isfinite(x)
    x, w = x[ok], w[ok]
    if not len(x) or not w.sum() > 0:
        return
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    ux, first = np.unique(x, return_index=True)
    tail = np.cumsum(w[::-1])[::-1] / w.sum()  # P(X >= x[i])
    ux, p = ux, tail[first]
    if len(ux) > _MAX_POINTS:
        pick = np.unique(np.geomspace(1, len(ux), _MAX_POINTS).astype(int) - 1)
        ux, p = ux[pick], p[pick]
    ax.step(ux, p, where="post", color=color, lw=1.2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")


def _section_tick(run, real_feed) -> str:
    from abmm.analysis import feed as FD

    try:
        feed = real_feed if isinstance(real_feed, FD.Feed) else FD.read_binance_feed(real_feed)
        sim = FD.tick_samples(*FD.run_tick_frames(run))
        real = FD.tick_samples(*feed.tick_frames())
    except (OSError, ValueError) as exc:
        log.warning("tick-level comparison failed: %s", exc)
        return _note(f"tick-level comparison unavailable: {type(exc).__name__}: {exc}")
    s_stats, r_stats = FD.tick_stats(sim), FD.tick_stats(real)
    lab_s = f"sim ({len(sim.sizes):,} fills)"
    lab_r = f"real {feed.path.name if feed.path else 'feed'} ({len(real.sizes):,} fills)"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 10.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 2).ravel()
    # spread: fraction of time at 1..9 and >= 10 ticks
    ax = axes[0]
    k = np.arange(1, FD.SPREAD_BUCKETS + 1)
    keys = [f"spread_frac_{i}" for i in k[:-1]] + [f"spread_frac_{FD.SPREAD_BUCKETS}plus"]
    for off, st, color, lab in ((-0.2, s_stats, _SIM, "sim"), (0.2, r_stats, _REAL, "real")):
        ax.bar(k + off, [st[key] for key in keys], width=0.4, color=color, label=lab)
    ax.set_xticks(k, [str(i) for i in k[:-1]] + [f">={FD.SPREAD_BUCKETS}"])
    ax.set_yscale("log")
    ax.set_xlabel("spread (ticks)")
    ax.set_ylabel("fraction of time")
    ax.set_title(f"spread: mean {s_stats['spread_mean']:.2f} (sim) vs "
                 f"{r_stats['spread_mean']:.2f} (real) ticks", fontsize=9)
    # depth at the top (time-weighted CCDF)
    ax = axes[1]
    _ccdf(ax, sim.depth, lab_s, _SIM, sim.weight)
    _ccdf(ax, real.depth, lab_r, _REAL, real.weight)
    ax.set_xlabel("bid_qty + ask_qty at the top (lots)")
    ax.set_ylabel("fraction of time >= x")
    ax.set_title("top-of-book depth (time-weighted)", fontsize=9)
    # trade sizes
    ax = axes[2]
    _ccdf(ax, sim.sizes, lab_s, _SIM)
    _ccdf(ax, real.sizes, lab_r, _REAL)
    ax.set_xlabel("trade size (lots)")
    ax.set_ylabel("P(size >= x)")
    ax.set_title(f"trade sizes: Hill tail {s_stats['size_tail']:.2f} (sim) vs "
                 f"{r_stats['size_tail']:.2f} (real)", fontsize=9)
    # inter-trade times: density on log bins (zero gaps left out and reported)
    ax = axes[3]
    pos = [g[g > 0] for g in (sim.gaps, real.gaps)]
    both = np.concatenate(pos)
    if len(both):
        # log bins aligned on whole milliseconds (the resolution): no empty sub-ms bins
        ms = np.unique(np.ceil(np.geomspace(1, both.max() * 1e3 + 1, 60)))
        edges = (ms - 0.5) / 1e3
        for g, st, color, lab in ((pos[0], s_stats, _SIM, "sim"), (pos[1], r_stats, _REAL,
                                                                    "real")):
            if len(g):
                dens, _ = np.histogram(g, bins=edges, density=True)
                ax.step(edges[:-1], np.where(dens > 0, dens, np.nan), where="post", color=color,
                        lw=1.2, label=f"{lab}: CV {st['gap_cv']:.2f}, "
                                      f"{st['gap_zero_frac']:.0%} zero gaps")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("inter-trade time (s), gaps > 0")
    ax.set_ylabel("density")
    ax.set_title("inter-trade times (ms resolution)", fontsize=9)
    # sign ACF
    ax = axes[4]
    for st, smp, color, lab in ((s_stats, sim, _SIM, "sim"), (r_stats, real, _REAL, "real")):
        lags = np.arange(1, len(smp.acf))
        ax.plot(lags, smp.acf[1:], color=color, lw=1.2,
                label=f"{lab}: gamma {st['sign_gamma']:.2f}, {len(smp.signs):,} orders")
        band = acf_band(len(smp.signs))
        if np.isfinite(band):
            ax.axhspan(-band, band, color=color, alpha=0.10)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("lag (taker orders)")
    ax.set_ylabel("ACF of taker-order signs")
    ax.set_title("trade-sign autocorrelation (bands: 95 % i.i.d.)", fontsize=9)
    # inter-order times (CCDF)
    ax = axes[5]
    _ccdf(ax, sim.order_gaps, f"sim ({len(sim.signs):,} orders)", _SIM)
    _ccdf(ax, real.order_gaps, f"real ({len(real.signs):,} orders)", _REAL)
    ax.set_xlabel("time between taker orders (s)")
    ax.set_ylabel("P(gap >= x)")
    ax.set_title(f"inter-order times: CV {s_stats['order_gap_cv']:.2f} (sim) vs "
                 f"{r_stats['order_gap_cv']:.2f} (real)", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    table = pd.DataFrame({"sim": [s_stats[k] for k in FD.STAT_NAMES],
                          "real": [r_stats[k] for k in FD.STAT_NAMES]},
                         index=pd.Index(list(FD.STAT_NAMES.values()), name="statistic"))
    c = feed.counts
    note = _note(
        f"Real: {feed.path} ({c.get('trades', 0):,} trades, {c.get('book_tickers', 0):,} "
        f"book tickers, {c.get('malformed', 0)} malformed lines skipped), tick "
        f"{feed.tick_size:g}, lot {feed.lot_size:g}; sim: the run after its warm-up, in its own "
        "ticks and lots. A trade is one fill; times are read at 1 ms. Taker orders: the run's "
        "order ids; the feed has none, so its fills with the same ms and side are one order. "
        "Definitions: abmm.analysis.feed.")
    return _png(fig) + note + _table(table, table_id="tick-table")


# ---------------------------------------------------------------------------------- the report
def write_report(run_dir, out=None, real=None, freq: str = "1min", real_feed=None) -> Path:
    """Write the HTML report of a run directory and return its path: ``out`` (a ``.html``
    file, or a folder to hold ``report.html``; default the run directory). ``real``: real OHLCV
    bars (a DataFrame, or a CSV/Parquet path read with :func:`abmm.analysis.bars.read_ohlcv`) for
    the scorecard; ``freq``: the bar interval of the returns, ACF and scorecard; ``real_feed``: a
    recorded exchange feed (an :class:`abmm.analysis.feed.Feed`, or a Binance feed file read
    with :func:`abmm.analysis.feed.read_binance_feed`) for the tick-level section ``tick``.
    A feed file that cannot be read raises before anything is written (``ValueError``,
    ``FileNotFoundError``)."""
    run = open_run(run_dir)  # keeps how it was opened (allow_incomplete)
    run_dir = Path(run_dir)
    if out is None:
        path = run_dir / "report.html"
    else:
        out = Path(out)
        path = out if out.suffix.lower() in (".html", ".htm") else out / "report.html"
    if real_feed is not None:
        from abmm.analysis.feed import Feed, read_binance_feed

        if not isinstance(real_feed, Feed):
            real_feed = read_binance_feed(real_feed)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = M.load_run(run)
    ev = data.ev
    fills = ev["kind"] == int(EventKind.FILL)
    trades = pd.DataFrame({"ts": ev["ts"][fills], "price": ev["price"][fills],
                           "qty": ev["qty"][fills], "side": ev["side"][fills]})
    fundamental = data.run.fundamental()
    bars = run_bars(data.run, freq, after_warmup=True)  # returns, ACF, scorecard: after warm-up
    stats = return_stats(bars)

    bodies = {}
    builders = {
        "summary": lambda: _section_summary(data),
        "price": lambda: _section_price(data, trades, fundamental),
        "depth": lambda: _section_depth(data),
        "returns": lambda: _section_returns(stats, freq),
        "acf": lambda: _section_acf(stats),
        "agents": lambda: _section_agents(data, freq),
        "scorecard": lambda: _section_scorecard(bars, real, data.run),
        FEED_SECTION: lambda: _section_tick(data.run, real_feed),
    }
    sections_ = SECTIONS + ([FEED_SECTION] if real_feed is not None else [])
    for sid in sections_:
        bodies[sid] = builders[sid]()
    s = data.summary
    title = f"abmm report: {s.get('scenario', data.scenario.get('name', run_dir.name))}"
    sub = (f"{html.escape(str(run_dir))} &middot; seed {s.get('seed', data.scenario.get('seed'))}"
           f" &middot; status {html.escape(str(s.get('status', '?')))} &middot; "
           f"{s.get('trades', len(trades))} trades, {s.get('volume_lots', '?')} lots")
    nav = " ".join(f'<a href="#{sid}">{_TITLES[sid]}</a>' for sid in sections_)
    sections = "\n".join(f'<section id="{sid}"><h2>{_TITLES[sid]}</h2>{bodies[sid]}</section>'
                         for sid in sections_)
    doc = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
           f"<header><h1>{html.escape(title)}</h1><p>{sub}</p></header><nav>{nav}</nav>\n"
           f"{sections}\n<footer class=\"note\" style=\"margin:16px 24px\">"
           f"scenario: <code>{html.escape(json.dumps(data.scenario.get('name')))}</code>; "
           f"tick size {data.tick}, lot size {data.lot}</footer></body></html>\n")
    path.write_text(doc, encoding="utf-8")
    log.info("report written to %s", path)
    return path
