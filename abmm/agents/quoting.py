"""Deprecated: moved to ``abmm.policy`` (features, actions) and ``abmm.env`` (spaces, the
action-dict check). Importing this module warns; it goes away in the next release.

* ``FEATURES``, ``N_FEATURES``, ``N_MARKET``, ``MarketFeatures``, ``agent_features`` ->
  ``abmm.policy.features``
* ``DEFAULT_OFFSETS``, ``InvalidActionError``, ``QuoteActions`` (without a gymnasium space),
  ``target_quotes``, ``requote`` -> ``abmm.policy.actions``
* ``check_action_dict`` -> ``abmm.env.actions`` (and ``QuoteActions`` with its ``space``)
"""

from __future__ import annotations

import importlib
import warnings

from abmm.policy.actions import (
    DEFAULT_OFFSETS,
    InvalidActionError,
    QuoteActions,
    requote,
    target_quotes,
)
from abmm.policy.features import FEATURES, N_FEATURES, N_MARKET, MarketFeatures, agent_features

warnings.warn("abmm.agents.quoting is deprecated: import from abmm.policy (features, actions) "
              "or abmm.env.actions (check_action_dict)", DeprecationWarning, stacklevel=2)

__all__ = ["FEATURES", "N_FEATURES", "N_MARKET", "MarketFeatures", "agent_features",
           "DEFAULT_OFFSETS", "InvalidActionError", "QuoteActions", "requote", "target_quotes"]
# ``check_action_dict`` too, through ``__getattr__`` below


def __getattr__(name: str):
    """``check_action_dict``, an env piece, is looked up lazily in ``abmm.env.actions`` (agents
    do not import the env; this alias goes away with the module)."""
    if name == "check_action_dict":
        return importlib.import_module("abmm.env.actions").check_action_dict
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
