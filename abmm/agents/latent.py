"""The latent order book: slow liquidity that is revealed only near the price (Toth et al. 2011;
Donier, Bonart, Mastromatteo & Bouchaud 2015)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.schema import Duration, GroupBase, WakeCfg


class LatentGroup(GroupBase):
    """The intentions of slow traders who would buy below the price or sell above it but do not
    show their orders until the price comes close (Toth et al. 2011). Each agent of the group
    holds a whole latent book: a quantity per price level on each side. Its shape relaxes, with
    the time constant ``memory``, towards a V around the current mid: ``density`` lots per tick
    per tick of distance (``density * d`` lots at the level ``d`` ticks away), flat beyond
    ``width_ticks``. At each wake the levels within ``reveal_ticks`` of the mid are shown as
    limit orders (a buyer whose level the price has fallen through takes); fills consume the
    latent quantity for good, and only the relaxation refills it.

    A metaorder that pushes the price ``D`` ticks in less than ``memory`` meets the liquidity
    it has uncovered, ``density * D**2 / 2`` lots, so ``D`` grows as the square root of its size
    -- the square-root impact law. Over times longer than ``memory`` the book re-forms around
    the new price and the move is kept: the memory sets how long impact is concave."""

    kind: Literal["latent"] = "latent"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=1_000_000_000)
    density: float = Field(1.0, gt=0)
    width_ticks: int = Field(300, ge=1, le=100_000)
    memory: Duration = 3_600_000_000_000
    reveal_ticks: int = Field(5, ge=1, le=1_000)
    min_qty: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self):
        if self.memory <= 0:
            raise ValueError("memory must be positive")
        return self


class LatentAgent(TraderAgent):
    """A whole latent book on both sides (see ``LatentGroup``)."""

    kind = "latent"

    def setup(self) -> None:
        """No latent book yet: it is laid out at the first wake, around the mid then."""
        self.base = 0  # absolute tick of index 0 of the level arrays
        self.bids = np.zeros(0)  # latent (unshown) buy lots per level
        self.asks = np.zeros(0)
        self.last = None  # time of the last relaxation (ns)

    def _lay_out(self, mid: float) -> None:
        p = self.params
        n = 8 * (p.width_ticks + p.reveal_ticks) + 16
        self.base = int(mid) - n // 2
        y = self.base + np.arange(n)
        d = np.clip(mid - y, 0, p.width_ticks)
        self.bids = p.density * d
        self.asks = p.density * np.clip(y - mid, 0, p.width_ticks)

    def _ensure(self, mid: float) -> None:
        """Keep the mid in the middle half of the arrays (re-lay them out when it leaves)."""
        n = len(self.bids)
        i = int(mid) - self.base
        if n and n // 4 <= i < 3 * n // 4:
            return
        if not n:
            self._lay_out(mid)
            return
        shift = i - n // 2  # move the window by `shift` levels; new levels start at their target
        p = self.params
        new_base = self.base + shift
        y = new_base + np.arange(n)
        nb = p.density * np.clip(mid - y, 0, p.width_ticks)
        na = p.density * np.clip(y - mid, 0, p.width_ticks)
        lo, hi = max(0, shift), min(n, n + shift)  # overlap, in old indices
        if lo < hi:
            nb[lo - shift:hi - shift] = self.bids[lo:hi]
            na[lo - shift:hi - shift] = self.asks[lo:hi]
        self.base, self.bids, self.asks = new_base, nb, na

    def on_wake(self) -> None:
        """Relax the latent book towards its V around the mid, then show the levels near the
        mid as limit orders (see ``LatentGroup``)."""
        p = self.params
        bid, _, ask, _ = self.quote()
        mid = self.mid()
        if mid is None or (isinstance(mid, float) and math.isnan(mid)):
            return
        self._ensure(mid)
        base = self.base
        # what is shown now goes back into the latent book for the accounting below
        shown: dict[tuple[int, int], int] = {}
        for o in self.open_orders.values():
            key = (o[0], o[1])
            shown[key] = shown.get(key, 0) + o[2]
        now = self.now
        if self.last is not None:
            f = 1.0 - math.exp(-(now - self.last) / p.memory)
            w = p.width_ticks + p.reveal_ticks + 1
            i0 = max(0, int(mid) - base - w)
            i1 = min(len(self.bids), int(mid) - base + w + 1)
            y = base + np.arange(i0, i1)
            tb = p.density * np.clip(mid - y, 0, p.width_ticks)
            ta = p.density * np.clip(y - mid, 0, p.width_ticks)
            for (side, price), q in shown.items():  # shown lots count towards the target
                j = price - base
                if i0 <= j < i1:
                    (tb if side == BUY else ta)[j - i0] -= q
            b = self.bids[i0:i1]
            a = self.asks[i0:i1]
            b += f * (np.maximum(tb, 0.0) - b)
            a += f * (np.maximum(ta, 0.0) - a)
        self.last = now
        lo = int(math.floor(mid)) - p.reveal_ticks
        hi = int(math.ceil(mid)) + p.reveal_ticks
        # withdraw shown orders that are now out of the reveal zone (their lots go back)
        for oid, o in list(self.open_orders.items()):
            side, price, q = o[0], o[1], o[2]
            if (side == BUY and price < lo) or (side == SELL and price > hi):
                self.cancel(oid)
                arr = self.bids if side == BUY else self.asks
                j = price - base
                if 0 <= j < len(arr):
                    arr[j] += q
        # show the latent lots of the levels in the zone: buyers from `lo` up (a level at or
        # above the ask crosses and takes), sellers from `hi` down
        mq = p.min_qty
        top_b = len(self.bids)
        for j in range(max(0, lo - base), top_b):
            q = int(self.bids[j])
            if q >= mq:
                self.bids[j] -= q
                self.limit(BUY, base + j, q)
            if ask is not None and base + j >= ask + p.reveal_ticks:
                break
            if ask is None and base + j >= hi:
                break
        for j in range(min(top_b - 1, hi - base), -1, -1):
            q = int(self.asks[j])
            if q >= mq:
                self.asks[j] -= q
                self.limit(SELL, base + j, q)
            if bid is not None and base + j <= bid - p.reveal_ticks:
                break
            if bid is None and base + j <= lo:
                break
