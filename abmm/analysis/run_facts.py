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

__all__ = ["MIN_SIGNS", "book_facts", "book_states", "order_signs", "order_sign_facts",
           "order_starts", "sign_memory", "time_weights", "weighted_summary"]

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


def time_weights(ts: np.ndarray, windows) -> np.ndarray:
    """How long each state of a step function holds inside ``windows``: state ``i`` holds from
    ``ts[i]`` to ``ts[i + 1]`` (the last one without end) and weighs its overlap with the
    ``[(start, end), ...]`` windows (ns; a state that began before a window counts from the
    window's start)."""
    ts = np.asarray(ts, dtype=np.int64)
    w = np.zeros(len(ts))
    if not len(ts):
        return w
    nxt = np.append(ts[1:], np.iinfo(np.int64).max)
    for start, end in windows:
        lo = np.maximum(ts, int(start))
        hi = np.minimum(nxt, int(end))
        w += np.clip(hi - lo, 0, None).astype(float)
    return w


def book_states(top: pd.DataFrame, end_ns: int | None = None, weighting: str = "time",
                windows=None) -> dict:
    """The two-sided book states of a top-of-book frame (``ts``, ``bid``, ``ask`` in ticks, 0 =
    no such side; ``bid_qty``, ``ask_qty`` in lots) and their weights: ``spread`` (ticks),
    ``depth`` (``bid_qty + ask_qty``, lots), ``weight`` (arrays over the two-sided states) and
    ``one_sided_frac`` (the weight of the states missing a side).

    With ``weighting="time"`` rows sharing a ``ts`` keep the last, and each state weighs the
    time it holds inside ``windows`` (:func:`time_weights`; default one window from the first
    row to ``end_ns``, or to the last row when ``end_ns`` is None, so the last state then gets no
    weight; when every weight is then 0 the states count equally -- not so with ``windows``
    given: no time inside them, no weight). ``"rows"`` weighs every row equally."""
    empty = np.zeros(0)
    out = {"spread": empty, "depth": empty, "weight": empty, "one_sided_frac": math.nan}
    if top.empty:
        return out
    if weighting == "time":
        top = top.drop_duplicates("ts", keep="last")
        ts = top["ts"].to_numpy(dtype=np.int64)
        given = windows is not None
        if not given:
            windows = [(ts[0], max(end_ns if end_ns is not None else ts[-1], ts[-1]))]
        w = time_weights(ts, windows)
        if not w.sum() > 0 and not given:
            w = np.ones(len(top))
    elif weighting == "rows":
        w = np.ones(len(top))
    else:
        raise ValueError(f"weighting must be 'time' or 'rows', not {weighting!r}")
    both = ((top["bid"] > 0) & (top["ask"] > 0)).to_numpy()
    out["one_sided_frac"] = float(w[~both].sum() / w.sum()) if w.sum() > 0 else math.nan
    out["spread"] = (top["ask"] - top["bid"]).to_numpy(dtype=float)[both]
    out["depth"] = (top["bid_qty"] + top["ask_qty"]).to_numpy(dtype=float)[both]
    out["weight"] = w[both]
    return out


def weighted_summary(values: np.ndarray, weights: np.ndarray) -> dict:
    """``mean``, ``median``, ``p5`` and ``p95`` of ``values`` under ``weights`` (NaN when no
    weight)."""
    if not len(values) or not weights.sum() > 0:
        return {k: math.nan for k in ("mean", "median", "p5", "p95")}
    return {"mean": float(np.average(values, weights=weights)),
            "median": _wquantile(values, weights, 0.5),
            "p5": _wquantile(values, weights, 0.05), "p95": _wquantile(values, weights, 0.95)}


def book_facts(run_dir, weighting: str = "time") -> dict:
    """Spread (ticks) and depth (``bid_qty + ask_qty``, lots) distributions of a run's ``top/``.

    With ``weighting="time"`` (default) each book state counts for the time it holds (from its
    row's ``ts`` to the next ``ts``, the last one to the session end; rows sharing a ``ts`` keep
    the last); ``"rows"`` weighs every row equally (:func:`book_states`). Spread and depth are
    over the two-sided states; ``one_sided_frac`` is the weight of the states missing a side.
    Keys: ``spread_mean, spread_median, spread_p5, spread_p95, depth_mean, depth_median,
    depth_p5, depth_p95, one_sided_frac, rows``; NaN values without a readable ``top/``.
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
    end = _run_end_ns(run) if weighting == "time" else None
    st = book_states(top, end, weighting)
    out["one_sided_frac"] = st["one_sided_frac"]
    for name in ("spread", "depth"):
        for stat, v in weighted_summary(st[name], st["weight"]).items():
            out[f"{name}_{stat}"] = v
    return out


def order_starts(trades: pd.DataFrame) -> np.ndarray:
    """Which trades begin a new taker order (a boolean mask): consecutive fills of one incoming
    order belong together -- the same ``taker_id`` when the trades have it, else the same
    ``timestamp`` and ``side``."""
    new = np.ones(len(trades), dtype=bool)
    if trades.empty:
        return new
    if "taker_id" in trades.columns:
        tid = trades["taker_id"].to_numpy()
        new[1:] = tid[1:] != tid[:-1]
    else:
        side = trades["side"].to_numpy()
        ts = pd.to_datetime(trades["timestamp"]).to_numpy()
        new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    return new


def order_signs(trades: pd.DataFrame) -> np.ndarray:
    """Taker order signs (+1 buyer-initiated, -1 seller-initiated) from trades with ``side``
    (0 buy, 1 sell): consecutive fills of one incoming order count once -- the same
    ``taker_id`` when the trades have it, else the same ``timestamp`` and side
    (:func:`order_starts`)."""
    if trades.empty:
        return np.zeros(0)
    side = trades["side"].to_numpy()
    return np.where(side[order_starts(trades)] == 0, 1.0, -1.0)


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
    rho, gamma = sign_memory(s, max_lag)
    out["acf"] = rho
    out["acf_1"] = rho[1]
    if len(s) < MIN_SIGNS:
        out["why"] = f"only {len(s)} taker orders (< {MIN_SIGNS})"
        return out
    out["gamma"] = gamma
    if out["gamma"] != out["gamma"]:
        out["why"] = "sign ACF not computable (all orders on one side?)"
    return out


def sign_memory(signs, max_lag: int = 100) -> tuple[np.ndarray, float]:
    """The ACF of a sign series at lags ``0..max_lag`` and its power-law decay exponent
    ``gamma`` (``rho(k) ~ k**-gamma``; the scorecard's binned fit,
    ``abmm.analysis.estimators.binned_decay_exponent``)."""
    rho = acf(np.asarray(signs, dtype=float), max_lag)
    return rho, binned_decay_exponent(rho)
