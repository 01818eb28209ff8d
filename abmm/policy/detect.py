"""Adverse-selection detector and spread predictor: torch-free models (``.npz``) and the market
features they read, computed the same way live (inside a market maker) and from a run's log.

Features (``FEATURES``), computed at decision times ``t`` every ``interval_ns`` (1 s by
default), from the top of book and the trades up to ``t`` (inclusive):

``spread``         best ask - best bid (ticks), capped at 20 (20 with a one-sided book)
``imbalance``      top-of-book queue imbalance (q_bid - q_ask) / (q_bid + q_ask) (0 if empty)
``ofi``            order-flow imbalance (Cont, Kukanov & Stoikov 2014; ``abmm.signals.OFI``)
                   over the last ``window`` intervals, as sign(x) ln(1 + |x|) of lots
``signed_volume``  taker buys minus taker sells over the window, sign(x) ln(1 + |x|)
``volume``         traded volume over the window, ln(1 + lots)
``vpin``           VPIN (``abmm.signals.VPIN``: bulk volume classification of one bar per
                   interval, ``vpin_bucket``-lot buckets, ``vpin_buckets`` of them; 0 before
                   the first value)
``volatility``     ln(1 + sigma), sigma the EWMA mid volatility (ticks per sqrt(s),
                   ``abmm.signals.MidVolatility``, half-life ``vol_halflife`` intervals)
``mid_change``     mid(t) - mid(t - window intervals) (ticks, clipped to +-20; 0 if either
                   book was one-sided)

The detector is oriented per side: its features are as above for the **ask** (a rising mid is
adverse to a resting ask) and with the signed ones (``SIGNED``) negated for the **bid**, so one
logistic model gives both sides' probability of an adverse move. The spread predictor reads the
features as they are (ask orientation).

``DetectFeatures`` is the one implementation: ``LiveFeatures`` feeds it from a running
``MarketModel`` (its top-of-book history and volume counters), ``log_features`` from a run
directory (``top/`` and the ``FILL`` events), so both give the same numbers at the same times.

Model file (``numpy.load(allow_pickle=False)``): ``config`` (0-d unicode JSON: ``format``
``"abmm.detect"``, ``version`` 1, ``kind`` ``"detector"`` or ``"spread"``, ``features``,
``spec`` (the feature parameters above), ``meta``: training facts) and arrays ``mean``,
``std`` (standardization), for a detector ``coef`` ``(n,)`` and ``intercept`` ``(1,)``, for a
spread model ``layer/I/w`` ``(in, out)`` and ``layer/I/b`` (ReLU hidden layers, a softplus
output of one unit: the predicted spread in ticks).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import deque
from pathlib import Path

import numpy as np

from abmm.errors import AbmmError
from abmm.signals import OFI, VPIN, MidVolatility

__all__ = ["FEATURES", "SIGNED", "DEFAULT_SPEC", "DetectFeatures", "LiveFeatures",
           "log_features", "orient", "DetectorModel", "SpreadModel", "DetectModelError",
           "load_detect_model", "save_detect_model", "FORMAT"]

FORMAT = "abmm.detect"
VERSION = 1
FEATURES = ("spread", "imbalance", "ofi", "signed_volume", "volume", "vpin", "volatility",
            "mid_change")
SIGNED = ("imbalance", "ofi", "signed_volume", "mid_change")
_SIGN_BID = np.array([-1.0 if f in SIGNED else 1.0 for f in FEATURES])
DEFAULT_SPEC = {"interval_ns": 1_000_000_000, "window": 5, "vol_halflife": 30,
                "vpin_bucket": 200, "vpin_buckets": 20}
SPREAD_CAP = 20


class DetectModelError(AbmmError, ValueError):
    """A detector or spread-model file that cannot be used."""


def _slog(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class DetectFeatures:
    """The features of the module docstring, stepped at each decision time.

    ``t0`` and ``top0`` are the state it starts from (the top of book at ``t0``, ``(bid,
    bid_qty, ask, ask_qty)`` with ``None`` for an empty side), ``volume0``/``signed0`` the
    cumulative traded and signed volumes then. ``step`` takes the top-of-book states recorded
    in ``(previous t, t]`` (oldest first), the cumulative volumes and the last trade price at
    ``t``, and the top of book at ``t``; it returns the feature vector (a new array)."""

    def __init__(self, spec: dict, t0: int, top0: tuple, volume0: int = 0, signed0: int = 0):
        self.spec = spec = {**DEFAULT_SPEC, **spec}
        interval = int(spec["interval_ns"])
        self.window = int(spec["window"])
        self.ofi = OFI()
        b, bq, a, aq = top0
        self.ofi.update(b or 0, bq, a or 0, aq)
        self.vpin = VPIN(int(spec["vpin_bucket"]), int(spec["vpin_buckets"]), bar_ns=interval,
                         origin=t0)
        self.vol = MidVolatility(float(spec["vol_halflife"]), interval_ns=interval)
        self.prev_volume, self.prev_signed = volume0, signed0
        self.hist: deque = deque(maxlen=self.window)  # (ofi, dv, ds) per interval
        self.mids: deque = deque(maxlen=self.window + 1)

    def step(self, t: int, tops, volume: int, signed: int, last_price, top: tuple) -> np.ndarray:
        """Advance to time ``t`` (see the class docstring); returns the features."""
        ofi = self.ofi
        ofi.reset()
        for b, bq, a, aq in tops:
            ofi.update(b or 0, bq, a or 0, aq)
        dv, ds = volume - self.prev_volume, signed - self.prev_signed
        self.prev_volume, self.prev_signed = volume, signed
        if dv > 0:
            self.vpin.update(t - 1, last_price, dv)  # one bar per interval
        bid, bq, ask, aq = top
        two = bid is not None and ask is not None
        mid = (bid + ask) / 2 if two else None
        sigma = self.vol.update(mid, t)
        self.hist.append((ofi.value, dv, ds))
        self.mids.append(mid)
        o = sum(h[0] for h in self.hist)
        v = sum(h[1] for h in self.hist)
        s = sum(h[2] for h in self.hist)
        m0 = self.mids[0]
        dm = 0.0 if (mid is None or m0 is None) else max(-20.0, min(20.0, mid - m0))
        vp = self.vpin.value
        return np.array([
            min(ask - bid, SPREAD_CAP) if two else SPREAD_CAP,
            (bq - aq) / (bq + aq) if bq + aq else 0.0,
            _slog(o), _slog(s), math.log1p(v),
            0.0 if vp != vp else vp,
            math.log1p(sigma), dm])


class LiveFeatures:
    """``DetectFeatures`` fed from a running ``MarketModel`` (duck-typed: ``now``, ``top``,
    ``history.since``, ``volume``, ``signed_volume``, ``last_price``); created at the model's
    current time, ``update()`` at each decision."""

    def __init__(self, model, spec: dict):
        self.model = model
        self.prev_t = model.now
        self.features = DetectFeatures(spec, model.now, model.top, model.volume,
                                       model.signed_volume)

    def update(self) -> np.ndarray:
        """The features now."""
        m = self.model
        tops = m.history.since(self.prev_t)
        self.prev_t = m.now
        return self.features.step(m.now, tops, m.volume, m.signed_volume, m.last_price, m.top)


def _as_top(row) -> tuple:
    b, bq, a, aq = (int(x) for x in row)
    return (b or None, bq, a or None, aq)


def log_features(run_dir, times, spec: dict | None = None, t0: int | None = None) -> np.ndarray:
    """The features at each of ``times`` (ns, increasing) rebuilt from a run directory's
    ``top/`` (``logging.top_of_book: true``) and ``FILL`` events; the features start at ``t0``
    (default: the run's start). Returns an ``(len(times), len(FEATURES))`` array."""
    from abmm.signals.run import from_run

    data = from_run(run_dir)
    top = data.top_arrays()
    tr = data.trade_arrays()
    if t0 is None:
        t0 = int(json.loads((Path(run_dir) / "summary.json").read_text())["start_ns"])
    tts = top["ts"]
    rows = np.stack([top["bid"], top["bid_qty"], top["ask"], top["ask_qty"]], axis=1)
    tops = [_as_top(r) for r in rows]
    empty = (None, 0, None, 0)
    xts, qty, price = tr["ts"], tr["qty"], tr["price"]
    cum_v = np.cumsum(qty)
    cum_s = np.cumsum(np.where(tr["side"] == 0, qty, -qty))

    def state(t):
        j = int(np.searchsorted(tts, t, side="right"))
        k = int(np.searchsorted(xts, t, side="right"))
        v = int(cum_v[k - 1]) if k else 0
        s = int(cum_s[k - 1]) if k else 0
        last = int(price[k - 1]) if k else None
        return j, (tops[j - 1] if j else empty), v, s, last

    j0, top0, v0, s0, _ = state(t0)
    f = DetectFeatures(spec or {}, t0, top0, v0, s0)
    out = np.empty((len(times), len(FEATURES)))
    jp = j0
    for i, t in enumerate(times):
        j, cur, v, s, last = state(int(t))
        out[i] = f.step(int(t), tops[jp:j], v, s, last, cur)
        jp = j
    return out


def orient(x: np.ndarray, side: str) -> np.ndarray:
    """Features oriented for a resting ``"ask"`` (as they are) or ``"bid"`` (``SIGNED``
    negated); ``x`` is one vector or rows of them."""
    if side == "ask":
        return x
    if side == "bid":
        return x * _SIGN_BID
    raise ValueError(f"side must be 'ask' or 'bid', got {side!r}")


def _softplus(z):
    return np.logaddexp(0.0, z)


class _Model:
    kind = ""

    def __init__(self, config: dict, arrays: dict):
        self.config = config
        self.spec = {**DEFAULT_SPEC, **config.get("spec", {})}
        self.mean = np.asarray(arrays["mean"], float)
        self.std = np.asarray(arrays["std"], float)

    def _z(self, x):
        return (np.asarray(x, float) - self.mean) / self.std


class DetectorModel(_Model):
    """Logistic adverse-selection detector: ``prob(x)`` = P(adverse move) for features ``x``
    oriented for the quote's side (``orient``); ``side_probs(x)`` = ``(p_bid, p_ask)``."""

    kind = "detector"

    def __init__(self, config, arrays):
        super().__init__(config, arrays)
        self.coef = np.asarray(arrays["coef"], float)
        self.intercept = float(np.asarray(arrays["intercept"]).reshape(-1)[0])

    def logit(self, x):
        """The log-odds of ``x`` (one vector or rows)."""
        return self._z(x) @ self.coef + self.intercept

    def prob(self, x):
        """P(adverse move) for ``x`` oriented for the quote's side."""
        z = self.logit(x)
        return 1.0 / (1.0 + np.exp(-z))

    def side_probs(self, x) -> tuple[float, float]:
        """``(p_bid, p_ask)`` for one feature vector as computed (ask orientation)."""
        return float(self.prob(orient(x, "bid"))), float(self.prob(x))


class SpreadModel(_Model):
    """MLP spread predictor (ReLU hidden layers, softplus output): ``predict(x)`` in ticks."""

    kind = "spread"

    def __init__(self, config, arrays):
        super().__init__(config, arrays)
        n = len(config["hidden"]) + 1
        self.layers = [(np.asarray(arrays[f"layer/{i}/w"], float),
                        np.asarray(arrays[f"layer/{i}/b"], float)) for i in range(n)]

    def predict(self, x):
        """The predicted spread (ticks): a float for one vector, an array for rows."""
        h = self._z(x)
        for w, b in self.layers[:-1]:
            h = np.maximum(h @ w + b, 0.0)
        w, b = self.layers[-1]
        out = _softplus(h @ w + b)[..., 0]
        return float(out) if np.ndim(out) == 0 else out


def _expected_arrays(config: dict) -> dict[str, tuple]:
    n = len(config["features"])
    out = {"mean": (n,), "std": (n,)}
    if config["kind"] == "detector":
        out.update(coef=(n,), intercept=(1,))
    else:
        dims = [n, *[int(h) for h in config["hidden"]], 1]
        for i in range(len(dims) - 1):
            out[f"layer/{i}/w"] = (dims[i], dims[i + 1])
            out[f"layer/{i}/b"] = (dims[i + 1],)
    return out


def save_detect_model(path, kind: str, arrays: dict, spec: dict | None = None,
                      hidden=None, meta: dict | None = None) -> Path:
    """Write a detector (``kind="detector"``) or spread model (``"spread"``) file."""
    config = {"format": FORMAT, "version": VERSION, "kind": kind, "features": list(FEATURES),
              "spec": {**DEFAULT_SPEC, **(spec or {})}, "meta": meta or {}}
    if kind == "spread":
        config["hidden"] = [int(h) for h in hidden]
    arrays = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
    _check(config, arrays, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, config=np.array(json.dumps(config)), **arrays)
    return path


def _check(config, arrays, name):
    if config.get("format") != FORMAT or config.get("kind") not in ("detector", "spread"):
        raise DetectModelError(f"{name}: not an abmm detector/spread model file")
    if int(config.get("version", 0)) > VERSION:
        raise DetectModelError(f"{name}: version {config['version']} is newer than this abmm "
                               f"reads ({VERSION})")
    if list(config.get("features", [])) != list(FEATURES):
        raise DetectModelError(f"{name}: features {config.get('features')} are not this abmm's "
                               f"{list(FEATURES)}")
    if config["kind"] == "spread" and not (isinstance(config.get("hidden"), list) and all(
            isinstance(h, int) and h > 0 for h in config["hidden"])):
        raise DetectModelError(f"{name}: a spread model needs hidden: a list of layer widths")
    want = _expected_arrays(config)
    have = set(arrays)
    if set(want) != have:
        raise DetectModelError(f"{name}: arrays {sorted(have)} do not match the config "
                               f"(expected {sorted(want)})")
    for k, shape in want.items():
        a = arrays[k]
        if a.shape != shape:
            raise DetectModelError(f"{name}: array {k} has shape {a.shape}, expected {shape}")
        if not np.all(np.isfinite(a)):
            raise DetectModelError(f"{name}: array {k} has non-finite values")
    if np.any(arrays["std"] <= 0):
        raise DetectModelError(f"{name}: std must be > 0")


def load_detect_model(path, kind: str | None = None):
    """Load a detector or spread model file (``DetectorModel`` / ``SpreadModel``); ``kind``
    requires one of them. ``DetectModelError`` names the file and the problem."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise DetectModelError(f"{name}: file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DetectModelError(f"{name}: not an .npz model file ({exc})") from None
    if "config" not in arrays:
        raise DetectModelError(f"{name}: no config array (not an abmm detector/spread model)")
    try:
        config = json.loads(str(arrays.pop("config")))
    except ValueError:
        raise DetectModelError(f"{name}: config is not JSON") from None
    if not isinstance(config, dict):
        raise DetectModelError(f"{name}: config is not a JSON object")
    _check(config, arrays, name)
    if kind is not None and config["kind"] != kind:
        raise DetectModelError(f"{name}: is a {config['kind']} model, expected a {kind} model")
    return (DetectorModel if config["kind"] == "detector" else SpreadModel)(config, arrays)
