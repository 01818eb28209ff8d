"""Torch-free policies: what a quoting agent observes (``features``), how its actions become
quotes (``actions``), the ``Policy`` interface (``base``), numpy inference of the learners'
networks (``numpy_net``, ``tabular``; ``sequence``: conv1d and GRU encoders over a window of
observations, and the per-agent windows), the ``.npz`` policy file (``file``) and the closed-form
strategies (``closed_form``: Avellaneda-Stoikov, GLFT, Cartea-Jaimungal).

Below ``abmm.agents`` and ``abmm.env``, above ``abmm.engine`` and ``abmm.signals``: it imports
numpy, never torch, gymnasium, the market, agents, envs or learners. ``abmm.learn`` trains
and exports into this format (``abmm export``); ``kind: policy`` agents and evaluation act
through it.
"""

from abmm.policy.actions import (
    DEFAULT_OFFSETS,
    InvalidActionError,
    QuoteActions,
    requote,
    target_quotes,
)
from abmm.policy.base import ObsNorm, Policy
from abmm.policy.closed_form import (
    as_offsets,
    as_quotes,
    cartea_jaimungal_h,
    cartea_jaimungal_quotes,
    cartea_jaimungal_value,
    glft_coefficients,
    glft_offsets,
    glft_quotes,
)
from abmm.policy.features import (
    FEATURES,
    N_FEATURES,
    N_MARKET,
    MarketFeatures,
    agent_features,
)
from abmm.policy.file import (
    PolicyFileError,
    build_policy,
    load_policy,
    read_policy_file,
    save_policy,
)
from abmm.policy.numpy_net import (
    ActorCriticPolicy,
    NumpyActorCritic,
    QNetPolicy,
    mlp_forward,
)
from abmm.policy.tabular import TabularPolicy, tabular_state

__all__ = [
    "FEATURES", "N_FEATURES", "N_MARKET", "MarketFeatures", "agent_features",
    "DEFAULT_OFFSETS", "InvalidActionError", "QuoteActions", "requote", "target_quotes",
    "Policy", "ObsNorm", "NumpyActorCritic", "ActorCriticPolicy", "QNetPolicy", "mlp_forward",
    "TabularPolicy", "tabular_state",
    "PolicyFileError", "load_policy", "save_policy", "read_policy_file", "build_policy",
    "as_quotes", "as_offsets", "glft_coefficients", "glft_quotes", "glft_offsets",
    "cartea_jaimungal_h", "cartea_jaimungal_value", "cartea_jaimungal_quotes",
]
