"""Deprecated: the model-based market moved; this path goes away in the next release.

* the environment: ``abmm.env.model_based_v0`` (``parallel_env``, ``env``, ``raw_env``) and
  ``abmm.env.model_based_env.ModelBasedEnv``;
* the batched market: ``abmm.env.model_based_sim`` (``ASMarket``, ``AS2008``);
* the closed forms: ``abmm.policy.closed_form`` (``as_offsets``, ``glft_offsets``,
  ``cartea_jaimungal_value``).

Importing this module emits a ``DeprecationWarning``; its names work as before.
"""

from __future__ import annotations

import warnings

import numpy as np

from abmm.env.model_based_env import ModelBasedEnv
from abmm.env.model_based_sim import AS2008, ASMarket
from abmm.env.model_based_v0 import env, parallel_env, raw_env
from abmm.policy.closed_form import as_offsets, cartea_jaimungal_value
from abmm.policy.closed_form import glft_offsets as glft_quotes

warnings.warn("abmm.env.model_based is deprecated: use abmm.env.model_based_v0 (the "
              "environment), abmm.env.model_based_sim (ASMarket, AS2008) and "
              "abmm.policy.closed_form (the quotes, cartea_jaimungal_value)",
              DeprecationWarning, stacklevel=2)

__all__ = ["ASMarket", "ModelBasedEnv", "parallel_env", "env", "raw_env", "as_quotes",
           "glft_quotes", "cartea_jaimungal_value", "AS2008"]


def as_quotes(s, q, t, gamma, sigma, k, T):
    """Deprecated: ``abmm.policy.closed_form.as_offsets(q, gamma, sigma, k, max(T - t, 0), s)``."""
    return as_offsets(q, gamma, sigma, k, np.maximum(T - t, 0.0), s)
