"""Facts of a run's book and order flow, read from its run directory: spread and depth
distributions of ``top/`` (time-weighted over the session) and the long memory of the taker
order signs (Lillo & Farmer 2004, "The long memory of the efficient market"; Bouchaud, Farmer &
Lillo 2009). Informational rows of the scorecard (:mod:`abmm.analysis.scorecard`).

The run is read through :func:`abmm.rundir.open_run`; its session end is the reader's
``now_ns``. Nothing raises on a run without a readable log: the values are NaN (or 0 counts).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from abmm.analysis.bars import trades
from abmm.analysis.estimators import acf, binned_decay_exponent
from abmm.rundir import open_run

log = logging.getLogger(__name__)

__all__ = ["MIN_SIGNS", "book_facts", "order_signs", "order_sign_facts"]

#: Fewer taker orders than this and the sign-memory exponent is not estimated (lags to 100).
MIN_SIGNS = 1000


def _run_end_ns(run) -> int | None:
    """The reader's session end (``now_ns``), or None (with a warning) when it is unknown."""
    try:
        return run.now_ns
    except (OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("%s: session end unknown (%s); the last book state gets no weight",
                    run.path, exc)
        return None


def _wquantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    return float(v[min(np.searchsorted(cw, q * cw[-1]), len(v) - 1)])


def book_facts(run_dir, weighting: str = "time") -> dict:
    """Spread (ticks) and depth (``bid_qty + ask_qty``, lots) distributions of a run's ``top/``.

    With ``weighting="time"`` (default) each book state counts for the time it holds (from its
    row's ``ts`` to the next ``ts``, the last one to the session end; rows sharing a ``ts`` keep
    the last); ``"rows"`` weighs every row equally. Spread and depth are over the two-sided
    states; ``one_sided_frac`` is the weight of the states missing a side. Keys: ``spread_mean,
    spread_median, spread_p5, spread_p95, depth_mean, depth_median, depth_p5, depth_p95,
    one_sided_frac, rows``; NaN values without a readable ``top/``.
    """
    keys = ["spread_mean", "spread_median", "spread_p5", "spread_p95", "depth_mean",
            "depth_median", "depth_p5", "depth_p95", "one_sided_frac"]
    out = {k: math.nan for k in keys} | {"rows": 0}
    try:
        run = open_run(run_dir)
        top = run.top().to_pandas()
    except OSError:
        return out
    out["rows"] = len(top)
    if top.empty:
        return out
    if weighting == "time":
        top = top.drop_duplicates("ts", keep="last")
        ts = top["ts"].to_numpy(dtype=np.int64)
        end = _run_end_ns(run)
        last = max(end - ts[-1], 0) if end is not None else 0
        w = np.append(np.diff(ts), last).astype(float)
        if not w.sum() > 0:
            w = np.ones(len(top))
    elif weighting == "rows":
        w = np.ones(len(top))
    else:
        raise ValueError(f"weighting must be 'time' or 'rows', not {weighting!r}")
    both = ((top["bid"] > 0) & (top["ask"] > 0)).to_numpy()
    out["one_sided_frac"] = float(w[~both].sum() / w.sum())
    wb = w[both]
    if not both.any() or not wb.sum() > 0:
        return out
    spread = (top["ask"] - top["bid"]).to_numpy(dtype=float)[both]
    depth = (top["bid_qty"] + top["ask_qty"]).to_numpy(dtype=float)[both]
    for name, v in (("spread", spread), ("depth", depth)):
        out[f"{name}_mean"] = float(np.average(v, weights=wb))
        out[f"{name}_median"] = _wquantile(v, wb, 0.5)
        out[f"{name}_p5"] = _wquantile(v, wb, 0.05)
        out[f"{name}_p95"] = _wquantile(v, wb, 0.95)
    return out


def order_signs(trades: pd.DataFrame) -> np.ndarray:
    """Taker order signs (+1 buyer-initiated, -1 seller-initiated) from trades with ``side``
    (0 buy, 1 sell): consecutive fills of one incoming order count once -- the same
    ``taker_id`` when the trades have it, else the same ``timestamp`` and side."""
    if trades.empty:
        return np.zeros(0)
    side = trades["side"].to_numpy()
    new = np.ones(len(side), dtype=bool)
    if "taker_id" in trades.columns:
        tid = trades["taker_id"].to_numpy()
        new[1:] = tid[1:] != tid[:-1]
    else:
        ts = pd.to_datetime(trades["timestamp"]).to_numpy()
        new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    return np.where(side[new] == 0, 1.0, -1.0)


def order_sign_facts(run_dir, max_lag: int = 100) -> dict:
    """Order-sign memory of a run: the ACF of the taker signs (``order_signs`` of
    ``abmm.analysis.bars.trades``) over lags ``1..max_lag`` and its power-law decay exponent
    ``gamma`` (``rho(k) ~ k**-gamma``; Lillo & Farmer find ``gamma`` about 0.5), fitted on the
    ACF's means over log-spaced lag bins (``binned_decay_exponent``: ``inf`` when a bin's mean is
    ``<= 0``, i.e. the memory is gone before lag 100). Keys: ``orders, fills, buy_frac, acf_1,
    gamma, acf`` (array, lags 0..max_lag) and ``why`` (the reason for a NaN ``gamma``)."""
    out = {"orders": 0, "fills": 0, "buy_frac": math.nan, "acf_1": math.nan,
           "gamma": math.nan, "acf": np.full(max_lag + 1, math.nan), "why": ""}
    try:
        tr = trades(run_dir)
    except (FileNotFoundError, OSError) as exc:
        out["why"] = f"no trades ({exc})"
        return out
    s = order_signs(tr)
    out["fills"] = len(tr)
    out["orders"] = len(s)
    if len(s) == 0:
        out["why"] = "no trades"
        return out
    out["buy_frac"] = float(np.mean(s > 0))
    rho = acf(s, max_lag)
    out["acf"] = rho
    out["acf_1"] = rho[1]
    if len(s) < MIN_SIGNS:
        out["why"] = f"only {len(s)} taker orders (< {MIN_SIGNS})"
        return out
    out["gamma"] = binned_decay_exponent(rho)
    if out["gamma"] != out["gamma"]:
        out["why"] = "sign ACF not computable (all orders on one side?)"
    return out
