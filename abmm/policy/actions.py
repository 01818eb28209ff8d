"""Quote actions of a market-making policy: decoding an action into quotes around the mid
(``QuoteActions``), the wanted quotes (``target_quotes``) and sending them (``requote``).

No gymnasium here: ``QuoteActions.spec()`` describes the action space (``{"discrete": n}`` or
``{"box": 4, "low": [...], "high": [...]}``) and the environment builds its gymnasium space
from it (``abmm.env.actions``). The conventions are documented in ``abmm.env.actions``.
"""

from __future__ import annotations

import math

import numpy as np

from abmm.engine.types import OrderType
from abmm.errors import AbmmError

__all__ = ["DEFAULT_OFFSETS", "InvalidActionError", "QuoteActions", "target_quotes", "requote",
           "check_discrete"]

DEFAULT_OFFSETS = (1, 2, 3, 5, 8)


class InvalidActionError(AbmmError, ValueError):
    """An action outside the agent's action space (wrong type, shape, NaN, out of bounds), or
    an action for an agent that is done or unknown."""


def check_discrete(agent: str, act, n: int) -> int:
    """A discrete action (an int, a numpy integer or a 0-d array) as an int in ``[0, n)``, else
    ``InvalidActionError`` naming the agent, the action and what was expected."""
    if isinstance(act, np.ndarray) and act.shape == ():
        act = act.item()
    if isinstance(act, np.integer):
        act = int(act)
    if isinstance(act, bool) or not isinstance(act, int) or not 0 <= act < n:
        raise InvalidActionError(f"{agent}: action {act!r}: expected an int in [0, {n})")
    return act


class QuoteActions:
    """Decodes actions into ``(bid offset, bid size, ask offset, ask size)``.

    ``mode="discrete"``: ints in ``[0, n)``, ``n = len(offsets)**2 + 1`` (the last one,
    ``no_quote``, pulls both quotes); ``mode="continuous"``: 4 floats in [-1, 1] (``shape``).
    """

    def __init__(self, mode: str, quote_size: int, max_size: int, max_offset: float,
                 offsets=DEFAULT_OFFSETS):
        if mode not in ("discrete", "continuous"):
            raise ValueError(f"action_mode must be 'discrete' or 'continuous', not {mode!r}")
        offsets = tuple(float(o) for o in offsets)
        if not offsets or any(not o > 0 for o in offsets):
            raise ValueError(f"offsets must be positive tick distances, got {offsets}")
        if quote_size < 1 or max_size < 1:
            raise ValueError(f"quote_size and max_size must be >= 1 lot, got {quote_size}, "
                             f"{max_size}")
        if not max_offset > 0.5:
            raise ValueError(f"max_offset must be > 0.5 ticks, got {max_offset}")
        self.mode = mode
        self.quote_size = int(quote_size)
        self.max_size = int(max_size)
        self.max_offset = float(max_offset)
        self.offsets = offsets
        k = len(offsets)
        self.no_quote = k * k
        #: number of discrete actions (``None`` in continuous mode)
        self.n: int | None = k * k + 1 if mode == "discrete" else None
        #: shape of a continuous action (``None`` in discrete mode)
        self.shape: tuple[int, ...] | None = (4,) if mode == "continuous" else None

    def spec(self) -> dict:
        """The action space as data: ``{"discrete": n}`` or ``{"box": 4, "low", "high"}``."""
        if self.mode == "discrete":
            return {"discrete": self.n}
        return {"box": 4, "low": [-1.0] * 4, "high": [1.0] * 4}

    def discrete_index(self, bid_offset: float, ask_offset: float) -> int:
        """The discrete action whose offsets are nearest to the given ones (ticks)."""
        o = np.asarray(self.offsets)
        return int(np.argmin(np.abs(o - bid_offset)) * len(o) + np.argmin(np.abs(o - ask_offset)))

    def continuous_action(self, bid_offset: float, ask_offset: float, bid_size: float,
                          ask_size: float) -> np.ndarray:
        """The continuous action for offsets (ticks) and sizes (lots), clipped to the space."""
        lo, hi = 0.5, self.max_offset

        def inv(x, a, b):
            return float(np.clip(2 * (x - a) / (b - a) - 1, -1, 1))

        return np.array([inv(bid_offset, lo, hi), inv(ask_offset, lo, hi),
                         inv(bid_size, 0, self.max_size), inv(ask_size, 0, self.max_size)],
                        np.float32)

    def decode(self, name: str, action) -> tuple[float, int, float, int]:
        """``(bid offset, bid size, ask offset, ask size)``; a size of 0 means no quote."""
        if self.mode == "discrete":
            if isinstance(action, np.ndarray) and action.shape == () or \
                    isinstance(action, np.integer):
                action = action.item()
            if isinstance(action, bool) or not isinstance(action, int):
                raise InvalidActionError(
                    f"{name}: action {action!r} ({type(action).__name__}): expected an int in "
                    f"[0, {self.n})")
            if not 0 <= action < self.n:
                raise InvalidActionError(
                    f"{name}: action {action} is out of bounds: expected an int in "
                    f"[0, {self.n}) ({self.no_quote} = don't quote)")
            if action == self.no_quote:
                return 0.0, 0, 0.0, 0
            k = len(self.offsets)
            return self.offsets[action // k], self.quote_size, self.offsets[action % k], \
                self.quote_size
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidActionError(f"{name}: action {action!r}: expected 4 floats in "
                                     "[-1, 1]") from None
        if a.shape != (4,):
            raise InvalidActionError(f"{name}: action has shape {a.shape}: expected (4,) = "
                                     "[bid offset, ask offset, bid size, ask size] in [-1, 1]")
        if not np.isfinite(a).all():
            raise InvalidActionError(f"{name}: action {a.tolist()} has NaN or infinite values")
        if (np.abs(a) > 1 + 1e-6).any():
            raise InvalidActionError(f"{name}: action {a.tolist()} is out of bounds: expected "
                                     "every value in [-1, 1]")
        a = np.clip(a, -1, 1)
        lo, hi = 0.5, self.max_offset
        off_b = lo + (a[0] + 1) / 2 * (hi - lo)
        off_a = lo + (a[1] + 1) / 2 * (hi - lo)
        size_b = int(round((a[2] + 1) / 2 * self.max_size))
        size_a = int(round((a[3] + 1) / 2 * self.max_size))
        return float(off_b), size_b, float(off_a), size_a


    def decode_batch(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``decode`` for a whole batch at once: ``actions`` of shape ``(n,)`` (discrete) or
        ``(n, 4)`` (continuous) gives four arrays ``(bid offset, bid size, ask offset, ask
        size)`` of length ``n``; ``InvalidActionError`` names the first bad row."""
        a = np.asarray(actions)
        if self.mode == "discrete":
            if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
                raise InvalidActionError(f"discrete actions must be a 1-d integer array, got "
                                         f"shape {a.shape} dtype {a.dtype}")
            bad = np.flatnonzero((a < 0) | (a >= self.n))
            if bad.size:
                i = int(bad[0])
                raise InvalidActionError(f"row {i}: action {int(a[i])} is out of bounds: "
                                         f"expected an int in [0, {self.n})")
            k = len(self.offsets)
            o = np.asarray(self.offsets, np.float64)
            quote = a != self.no_quote
            ai = np.where(quote, a, 0)
            size = np.where(quote, self.quote_size, 0)
            return o[ai // k], size, o[ai % k], size
        if a.ndim != 2 or a.shape[1] != 4:
            raise InvalidActionError(f"continuous actions must have shape (n, 4), got "
                                     f"{a.shape}")
        a = np.array(a, np.float64)
        if not np.abs(a).max(initial=0.0) <= 1 + 1e-6:  # (NaN compares false: caught too)
            i = int(np.flatnonzero(~(np.abs(a).max(axis=1) <= 1 + 1e-6))[0])
            raise InvalidActionError(f"row {i}: action {a[i].tolist()}: expected 4 finite "
                                     "values in [-1, 1]")
        np.clip(a, -1, 1, out=a)
        lo, hi = 0.5, self.max_offset
        off = lo + (a[:, :2] + 1) / 2 * (hi - lo)
        size = np.rint((a[:, 2:] + 1) / 2 * self.max_size).astype(np.int64)
        return off[:, 0], size[:, 0], off[:, 1], size[:, 1]


def target_quotes(mid: float, bid_offset: float, bid_size: int, ask_offset: float,
                  ask_size: int, inventory: int, max_inventory: int) -> list:
    """``[(side, price, size), ...]`` of the wanted quotes around ``mid`` (ticks)."""
    out = []
    if bid_size > 0 and inventory < max_inventory:
        price = min(math.floor(mid - bid_offset), math.ceil(mid) - 1)
        if price >= 1:
            out.append((0, price, bid_size))
    if ask_size > 0 and inventory > -max_inventory:
        out.append((1, max(math.ceil(mid + ask_offset), math.floor(mid) + 1), ask_size))
    return out


def requote(agent, targets: list) -> int:
    """Cancel the agent's resting orders that are not wanted and send the missing quotes;
    returns the number of orders and cancels sent (the order-management count)."""
    want = {(s, p): q for s, p, q in targets}
    have = set()
    sent = 0
    for oid, o in list(agent.open_orders.items()):
        key = (o[0], o[1])
        w = want.get(key)
        if w is not None and o[2] <= w and key not in have:
            have.add(key)
        else:
            agent.cancel(oid)
            sent += 1
    for (side, price), qty in want.items():
        if (side, price) not in have:
            agent.limit(side, price, qty, order_type=OrderType.POST_ONLY)
            sent += 1
    return sent
