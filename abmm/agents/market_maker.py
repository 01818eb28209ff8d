"""Market makers: fixed spread, Avellaneda-Stoikov and GLFT quotes, with ladders and limits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from abmm.agents.base import TraderAgent
from abmm.policy.closed_form import as_quotes, glft_coefficients, glft_quotes
from abmm.policy.detect import DetectModelError, LiveFeatures, load_detect_model
from abmm.schema import SECOND, Duration, GroupBase, WakeCfg
from abmm.signals.volatility import MidVolatility


class MarketMakerGroup(GroupBase):
    """A market maker re-quotes at each wake (fixed interval). Its quote centre and half-spread:

    * ``fixed``: mid ± ``half_spread_ticks``;
    * ``avellaneda_stoikov`` (Avellaneda & Stoikov 2008): reservation price
      r = s − q·γ·σ²·τ and total spread γ·σ²·τ + (2/γ)·ln(1 + γ/k), with τ = ``horizon``
      (a rolling horizon, in seconds);
    * ``glft`` (Guéant, Lehalle & Fernandez-Tapia 2013, closed-form approximation):
      half-spread c1 + σ·c2/2 and skew σ·c2 per unit of inventory, with
      c1 = ln(1 + γ/k)/γ and c2 = sqrt(γ/(2·A·k) · (1 + γ/k)^(k/γ + 1)).

    The formulas live in ``abmm.policy.closed_form``.

    Here s is the mid (ticks), q the inventory in units of ``size``, σ the mid's volatility
    (ticks per √s; ``sigma_ticks`` or, if unset, an EWMA estimate from the mid it observes), k
    the decay of fill intensity with distance (per tick) and A its level (per second).
    It quotes ``levels`` prices per side, ``level_spacing_ticks`` apart, ``size`` lots each, as
    post-only orders (quotes never take); a quote already at a wanted price is left alone, so it
    keeps its queue position. It stops bidding at ``inventory >= max_inventory`` and offering at
    ``<= -max_inventory``.

    Optional learned models (``abmm.policy.detect``; trained by ``abmm.learn.adverse``, see
    ``docs/adverse_selection.md``), both reading market features it computes at each wake:

    * ``detector``: a logistic adverse-selection detector file. With ``withdraw_above: p`` it
      does not quote a side whose probability of an adverse mid move is above ``p``; with
      ``widen_above: p`` it moves that side's quotes ``widen_ticks`` further from the mid.
    * ``spread_model``: an MLP spread predictor file. Its predicted best spread S (ticks)
      replaces the strategy's base spread: ``fixed`` quotes mid +- S/2; AS keeps its
      reservation price and risk term, half-spread S/2 + gamma sigma^2 tau / 2 in place of
      (1/gamma) ln(1 + gamma/k) + gamma sigma^2 tau / 2; GLFT half-spread S/2 + sigma c2 / 2 in
      place of c1 + sigma c2 / 2, skew unchanged.

    The features are computed at the wake time from the market's current state, every wake;
    the wake must be ``fixed`` at the model's decision interval (1 s as trained)."""

    kind: Literal["market_maker"] = "market_maker"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=SECOND)
    strategy: Literal["fixed", "avellaneda_stoikov", "glft"] = "fixed"
    half_spread_ticks: float = Field(2.0, ge=0.5)
    levels: PositiveInt = 1
    level_spacing_ticks: PositiveInt = 1
    size: PositiveInt = 10
    max_inventory: PositiveInt = 500
    gamma: float = Field(0.1, gt=0)
    k: float = Field(1.5, gt=0)
    A: float = Field(1.0, gt=0)
    sigma_ticks: float | None = Field(None, gt=0)
    horizon: Duration = 60 * SECOND
    vol_halflife: PositiveInt = 50  #: EWMA half-life of the σ estimate, in wakes
    max_offset_ticks: float = Field(50.0, gt=0)  #: cap on |quote - mid| (guards a bad σ)
    detector: str | None = Field(None, min_length=1)  #: adverse-selection detector (.npz)
    withdraw_above: float | None = Field(None, ge=0, le=1)
    widen_above: float | None = Field(None, ge=0, le=1)
    widen_ticks: PositiveInt = 2
    spread_model: str | None = Field(None, min_length=1)  #: spread predictor (.npz)

    @field_validator("detector", "spread_model")
    @classmethod
    def _model_file(cls, v, info):
        if v is None:
            return v
        kind = "detector" if info.field_name == "detector" else "spread"
        try:
            load_detect_model(v, kind)
        except DetectModelError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _detector_fields(self):
        if self.detector is None and (self.withdraw_above is not None
                                      or self.widen_above is not None):
            raise ValueError("withdraw_above/widen_above need a detector file (detector: PATH)")
        if self.detector is not None and self.withdraw_above is None \
                and self.widen_above is None:
            raise ValueError("detector is set but neither withdraw_above nor widen_above: say "
                             "what the market maker does with its probability")
        for f in ("detector", "spread_model"):
            path = getattr(self, f)
            if path is None:
                continue
            interval = load_detect_model(path).spec["interval_ns"]
            if self.wake.kind != "fixed" or self.wake.interval != interval:
                raise ValueError(f"{f}: {path} was trained on decisions every "
                                 f"{interval / 1e9:g}s; the market maker's wake must be "
                                 f"fixed at that interval (got {self.wake.kind}, "
                                 f"{self.wake.interval / 1e9:g}s)")
        return self


class MarketMakerAgent(TraderAgent):
    """A rule-based market maker quoting by its group's strategy (see ``MarketMakerGroup``)."""

    kind = "market_maker"

    def setup(self) -> None:
        """Initial volatility estimate and the strategy's constants."""
        p = self.params
        self._tau = p.horizon / SECOND
        self._glft = glft_coefficients(p.gamma, p.k, p.A) if p.strategy == "glft" else None
        # sigma: fixed by ``sigma_ticks``, else an EWMA of squared mid changes per second from
        # two-sided books only (a mid that falls back to the last trade is not a price move),
        # each observation capped at 25x the current variance so one gap cannot blow the quotes
        # out (abmm.signals.MidVolatility's market-maker rule)
        self._sigma_fixed = None if p.sigma_ticks is None else math.sqrt(p.sigma_ticks ** 2)
        self.vol = MidVolatility(p.vol_halflife, start="first", cap=25.0)
        self.detector = None if p.detector is None else _model(p.detector, "detector")
        self.spread_model = None if p.spread_model is None else _model(p.spread_model, "spread")
        self.features = None
        if self.detector is not None or self.spread_model is not None:
            spec = (self.detector or self.spread_model).spec
            other = self.spread_model if self.detector is not None else None
            if other is not None and other.spec != spec:
                raise ValueError(f"{self.name}: the detector and the spread model were trained "
                                 "with different feature settings")
            self.features = LiveFeatures(self.venue, spec)
        #: the last wake's learned outputs: (p_bid, p_ask) and the predicted spread (or None)
        self.last_probs: tuple[float, float] | None = None
        self.last_spread: float | None = None

    def sigma(self) -> float:
        """The mid's volatility in ticks per square root of a second (0 before an estimate)."""
        return self.vol.value if self._sigma_fixed is None else self._sigma_fixed

    def _update_vol(self, mid: float, two_sided: bool = True) -> None:
        """Feed the volatility estimate the mid seen at this wake (one-sided books skipped)."""
        if self._sigma_fixed is None:
            self.vol.update(mid if two_sided else None, self.now)

    def quotes(self, mid: float) -> tuple[float, float]:
        """(bid, ask) prices, in fractional ticks, before rounding and laddering."""
        p = self.params
        q = self.inventory / p.size
        S = self.last_spread
        if p.strategy == "fixed":
            h = p.half_spread_ticks if S is None else S / 2
            return mid - h, mid + h
        sigma = self.sigma()
        if p.strategy == "avellaneda_stoikov":
            b, a = as_quotes(mid, q, p.gamma, sigma, p.k, self._tau)
            if S is not None:  # replace the base half-spread (1/gamma) ln(1 + gamma/k) by S/2
                d = math.log1p(p.gamma / p.k) / p.gamma - S / 2
                b, a = b + d, a - d
            return b, a
        c1, c2 = self._glft
        return glft_quotes(mid, q, sigma, c1 if S is None else S / 2, c2)

    def on_wake(self) -> None:
        """Re-estimate the volatility and re-quote (keeping quotes already at a wanted price)."""
        p = self.params
        (bb, _, ba, _), last = self.venue.view_at(self.now - self.latency.draw())
        two_sided = bb is not None and ba is not None
        mid = (bb + ba) / 2 if two_sided else last
        self._update_vol(mid, two_sided)
        quote_bid = self.inventory < p.max_inventory
        quote_ask = self.inventory > -p.max_inventory
        widen_b = widen_a = 0
        if self.features is not None:
            x = self.features.update()
            if self.spread_model is not None:
                self.last_spread = self.spread_model.predict(x)
            if self.detector is not None:
                pb, pa = self.last_probs = self.detector.side_probs(x)
                if p.withdraw_above is not None:
                    quote_bid = quote_bid and not pb > p.withdraw_above
                    quote_ask = quote_ask and not pa > p.withdraw_above
                if p.widen_above is not None:
                    widen_b = p.widen_ticks if pb > p.widen_above else 0
                    widen_a = p.widen_ticks if pa > p.widen_above else 0
        b, a = self.quotes(mid)
        cap = p.max_offset_ticks
        b, a = max(b, mid - cap), min(a, mid + cap)
        bid = min(math.floor(b), math.ceil(mid) - 1) - widen_b
        ask = max(math.ceil(a), math.floor(mid) + 1) + widen_a
        self.requote_ladder(bid if quote_bid else None, ask if quote_ask else None, p.levels,
                            p.level_spacing_ticks, p.size)

_MODELS: dict = {}


def _model(path: str, kind: str):
    """A detector or spread model, loaded once per (path, kind) and process."""
    p = Path(path).resolve()
    key = (str(p), p.stat().st_mtime_ns, kind)
    if key not in _MODELS:
        _MODELS[key] = load_detect_model(path, kind)
    return _MODELS[key]
