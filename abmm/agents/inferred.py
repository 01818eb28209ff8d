"""Inferred agents: act by a policy recovered by inverse RL (``abmm.learn.irl``; method in
``docs/irl.md``) from another trader's event log -- torch-free, through
``abmm.policy.inferred``.

Scenario groups::

    - kind: inferred
      role: market_maker              # quotes around the mid
      policy: runs/irl/as_mm.npz      # an inferred-policy file (abmm.learn.irl.save_result),
                                      # or a shipped one by name (inferred_as_mm)
      size: 5                         # lots per quote
      max_inventory: 50
      wake: {kind: fixed, interval: 1s}

    - kind: inferred
      role: executor                  # works a parent order
      policy: runs/irl/ac_exec.npz
      side: sell
      quantity: 3000
      start: "10:10"
      duration: 30min
      wake: {kind: fixed, interval: 30s}

A **market maker** re-quotes at each wake: it reads the mid (as of ``now - latency``), updates
its volatility estimate (``MidVolatility(vol_halflife, start="first", cap=25)``, as the
rule-based market maker), and quotes the recovered policy's most likely bid and ask offsets
(half-tick resolution; ``size`` lots, post-only, ``levels`` prices per side
``level_spacing_ticks`` apart), keeping quotes already at a wanted price; it stops bidding at
``inventory >= max_inventory`` and offering at ``<= -max_inventory``.

An **executor** works ``quantity`` lots like the rule-based executor (first wake at ``start``
records the arrival mid; a slice every ``wake.interval``; whatever is left at ``start +
duration``, at the latest one slice before the close, is sent as a market order, retried each
slice): at each slice it sends a child order (``child``: a market order by default, as
``kind: executor``'s ``child`` and ``limit_ticks``) of the recovered policy's multiple of the
adaptive TWAP slice ``remaining / slices left`` (0, 0.5, 1 or 2, or the finer set the policy
file lists, e.g. 0 to 4 in steps of 0.1).

The policy file is checked when the scenario loads: a missing file, one that is not an
inferred policy (e.g. a ``kind: policy`` network) or one of the other role is a one-line
scenario error naming ``policy`` and the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.agents.executor import send_child
from abmm.policy.inferred import InferredPolicyError, load_inferred
from abmm.resources import policy_path
from abmm.schema import SECOND, Duration, GroupBase, WakeCfg
from abmm.signals.volatility import MidVolatility

_CACHE: dict = {}


def _load(path: str, role: str):
    p = policy_path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, role)
    if key not in _CACHE:
        _CACHE[key] = load_inferred(p, role)
    return _CACHE[key]


class InferredGroup(GroupBase):
    """Agents acting by an inverse-RL policy (see the module docstring)."""

    kind: Literal["inferred"] = "inferred"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=SECOND)
    role: Literal["market_maker", "executor"]
    policy: str = Field(min_length=1)
    # market maker
    size: PositiveInt = 10
    max_inventory: PositiveInt = 500
    levels: PositiveInt = 1
    level_spacing_ticks: PositiveInt = 1
    # executor
    side: Literal["buy", "sell"] = "sell"
    quantity: PositiveInt = 10_000
    start: Duration = 37_800_000_000_000  # 10:30
    duration: Duration = 3_600_000_000_000  # 60 min
    #: how child orders are sent, as ``kind: executor``'s ``child`` and ``limit_ticks``
    child: Literal["market", "limit", "ioc"] = "market"
    limit_ticks: int = Field(0, ge=0)

    @field_validator("policy")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not policy_path(v).is_file():
            raise ValueError(f"file {v!r} not found (relative paths are from the "
                             f"current directory, {Path.cwd()}; a shipped policy by name, "
                             f"e.g. inferred_as_mm)")
        return v

    @model_validator(mode="after")
    def _readable(self):
        try:
            _load(self.policy, self.role)
        except InferredPolicyError as exc:
            raise ValueError(f"policy: {exc}") from None
        return self


class InferredAgent(TraderAgent):
    """A market maker or executor acting by a recovered policy (see the module docstring)."""

    kind = "inferred"

    def setup(self) -> None:
        """Load the policy (cached) and the role's state."""
        p = self.params
        self.role = p.role
        self.policy, self.config = _load(p.policy, p.role)
        self.decisions = 0
        if self.role == "market_maker":
            hl = float(self.policy.model.get("vol_halflife", 50.0))
            self.vol = MidVolatility(hl, start="first", cap=25.0)
            return
        self.sign = 1 if p.side == "buy" else -1
        self.side = BUY if p.side == "buy" else SELL
        self.begin = p.start
        self.finish_at = max(p.start, min(p.start + p.duration, self.venue.end - self.wake.interval))
        self.arrival_price: float | None = None
        self.vwap_num = 0.0
        self.done = False
        self.first_slice: int | None = None

    # ------------------------------------------------------------------ schedule
    def first_wake(self, start: int, end: int) -> int | None:
        """Market maker: the wake schedule; executor: ``start``."""
        if self.role == "market_maker":
            return super().first_wake(start, end)
        return max(self.begin, start)

    def next_wake(self, now: int) -> int | None:
        """Market maker: the wake schedule; executor: each slice until done (as the rule-based
        executor)."""
        if self.role == "market_maker":
            return super().next_wake(now)
        if self.done:
            return None
        if now < self.finish_at:
            return min(now + self.wake.interval, self.finish_at)
        return now + self.wake.interval

    def on_fill(self, order_id: int, side: int, price: int, qty: int, maker: bool) -> None:
        """Executor: accumulate ``price * qty`` for the average execution price."""
        if self.role == "executor":
            self.vwap_num += price * qty

    def on_wake(self) -> None:
        """Act by the recovered policy."""
        if self.role == "market_maker":
            self._quote()
        else:
            self._slice()
        self.decisions += 1

    # ------------------------------------------------------------------ market maker
    def _quote(self) -> None:
        p = self.params
        (bb, _, ba, _), last = self.venue.view_at(self.now - self.latency.draw())
        two = bb is not None and ba is not None
        mid = (bb + ba) / 2 if two else last
        self.vol.update(mid if two else None, self.now)
        sigma = self.vol.value
        ob, oa = self.policy.act(self.inventory / p.size, sigma, mid)
        bid = min(math.floor(mid - ob), math.ceil(mid) - 1)
        ask = max(math.ceil(mid + oa), math.floor(mid) + 1)
        self.requote_ladder(bid if self.inventory < p.max_inventory else None,
                            ask if self.inventory > -p.max_inventory else None, p.levels,
                            p.level_spacing_ticks, p.size)

    # ------------------------------------------------------------------ executor
    def _slice(self) -> None:
        p = self.params
        now = self.now
        if self.arrival_price is None:  # the first slice records the arrival mid
            self.arrival_price = self.mid()
            return
        remaining = p.quantity - abs(self.inventory)
        self.cancel_all()
        if remaining <= 0:
            self.done = True
            return
        if now >= self.finish_at:
            self.market_order(self.side, remaining)
            return
        iv = self.wake.interval
        if self.first_slice is None:
            self.first_slice = now
            self.n_slices = max(1, -(-(self.finish_at - now) // iv))
        j = min(int(round((now - self.first_slice) / iv)), self.n_slices - 1)
        a = self.policy.act(remaining / p.quantity, j, self.n_slices)
        qty = min(remaining, int(round(self.policy.multiples[a] * remaining / (self.n_slices - j))))
        if qty > 0:
            send_child(self, self.side, qty, self.params.child, self.params.limit_ticks)

    def summary(self) -> dict:
        """The agent summary plus its role and decisions (executors: the executor columns)."""
        out = super().summary() | {"decisions": self.decisions}
        if self.role == "executor":
            p = self.params
            done = abs(self.inventory)
            avg = self.vwap_num / done if done else None
            arr = self.arrival_price
            out.update({
                "parent_qty": p.quantity, "executed": done, "completion": done / p.quantity,
                "avg_price_ticks": avg, "arrival_price_ticks": arr,
                "shortfall_ticks": None if avg is None or arr is None
                else (avg - arr) * self.sign})
        return out
