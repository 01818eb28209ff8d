"""Stable random streams: one per named consumer, derived from the scenario seed and the name.

``stream(seed, "value", 7)`` always gives the same generator for agent 7 of group "value", whatever
else the scenario contains, so adding or removing a group leaves every other agent's draws alone.
Names are hashed with BLAKE2b (Python's ``hash`` is salted per process).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _word(part) -> int:
    if isinstance(part, int) and not isinstance(part, bool) and 0 <= part < 2**63:
        return part
    return int.from_bytes(hashlib.blake2b(str(part).encode(), digest_size=8).digest(), "little")


def stream(seed: int, *name) -> np.random.Generator:
    """An independent ``numpy`` Generator for ``name`` (strings and ints) under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & (2**64 - 1),
                                                        *[_word(p) for p in name]]))
