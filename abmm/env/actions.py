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

Bad actions raise ``InvalidActionError`` naming the agent, the action and what was expected.
"""

from abmm.agents.quoting import (
    DEFAULT_OFFSETS,
    InvalidActionError,
    QuoteActions,
    requote,
    target_quotes,
)

__all__ = ["DEFAULT_OFFSETS", "InvalidActionError", "QuoteActions", "requote", "target_quotes"]
