"""Actions of the market-making environment: quotes relative to the mid, and how they are sent.

Two action modes (``action_mode=``):

``"discrete"``
    ``Discrete(len(OFFSETS)**2 + 1)``: action ``i < len(OFFSETS)**2`` quotes a bid
    ``OFFSETS[i // n]`` ticks below the mid and an ask ``OFFSETS[i % n]`` ticks above it
    (``n = len(OFFSETS)``), ``quote_size`` lots each; the last action, ``NO_QUOTE``, pulls both
    quotes. ``OFFSETS`` defaults to ``(1, 2, 3, 5, 8)`` (ticks; ``offsets=`` changes it).

``"continuous"``
    ``Box(-1, 1, (4,), float32)``: ``[bid offset, ask offset, bid size, ask size]``, each mapped
    linearly from [-1, 1]: offsets to ``[0.5, max_offset]`` ticks from the mid, sizes to
    ``[0, max_size]`` lots (rounded; 0 pulls that side).

A quote is a post-only limit order at ``floor(mid - bid offset)`` / ``ceil(mid + ask
offset)`` (never through the mid; a quote that would cross the book on arrival is rejected, it
never takes). A resting quote already at the wanted price, with no more than the wanted size
open (a partly filled quote), is left alone, so it keeps its queue position; anything else is
cancelled and replaced. No bid is sent at ``inventory >=
max_inventory``, no ask at ``<= -max_inventory``. Orders and cancels travel with the agent's
latency, as every agent's do.

Bad actions raise ``InvalidActionError`` naming the agent, the action and what was expected;
``check_action_dict`` checks a ``step``'s action dict (keys must be live agents).

The decoding itself is torch- and gymnasium-free in ``abmm.policy.actions`` (agents driven by
a saved policy use it); this module adds the gymnasium spaces.
"""

from __future__ import annotations

import numpy as np

from abmm.policy.actions import DEFAULT_OFFSETS, InvalidActionError, requote, target_quotes
from abmm.policy.actions import QuoteActions as _QuoteActions

__all__ = ["DEFAULT_OFFSETS", "InvalidActionError", "QuoteActions", "action_space",
           "check_action_dict", "requote", "target_quotes"]


def action_space(spec: dict):
    """The gymnasium space of an action spec (``{"discrete": n}`` or ``{"box": d, "low",
    "high"}``, as ``abmm.policy.QuoteActions.spec()`` gives)."""
    from gymnasium import spaces  # here, not at import: abmm run need not load gymnasium

    if "discrete" in spec:
        return spaces.Discrete(int(spec["discrete"]))
    return spaces.Box(np.asarray(spec["low"], np.float32), np.asarray(spec["high"], np.float32),
                      (int(spec["box"]),), np.float32)


class QuoteActions(_QuoteActions):
    """``abmm.policy.QuoteActions`` with its gymnasium space (``space``) for the envs."""

    def __init__(self, mode: str, quote_size: int, max_size: int, max_offset: float,
                 offsets=DEFAULT_OFFSETS):
        super().__init__(mode, quote_size, max_size, max_offset, offsets)
        self.space = action_space(self.spec())


def check_action_dict(actions, live: list, possible: list) -> None:
    """An env ``step``'s ``actions``: a dict whose keys are live agents, else
    ``InvalidActionError`` saying which key and why."""
    if not isinstance(actions, dict):
        raise InvalidActionError(f"actions must be a dict {{agent: action}}, got "
                                 f"{type(actions).__name__}")
    alive = set(live)
    for name in actions:
        if name not in alive:
            why = "is done" if name in possible else "is not an agent of this env"
            raise InvalidActionError(f"action for {name!r}, which {why}; live agents: {live}")
