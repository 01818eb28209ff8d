"""abmm: an agent-based market simulator.

A compiled continuous double auction (``abmm.engine``) hosts heterogeneous agents; learning market
makers train through a PettingZoo environment. See README.md and docs/.

``abmm.ScenarioModel`` (loaded on first use, so ``import abmm`` stays light) is a scenario as a
``mesa.Model`` class for ``mesa.batch_run``; ``abmm.build_model`` builds a market from a scenario.
"""

import logging

from abmm import _compiled

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
# compiled copies of the hot modules run only while they match their sources (abmm._compiled)
_compiled.install()

_LAZY = {"ScenarioModel": "abmm.scenario.mesa_model", "build_model": "abmm.scenario.builder",
         "load_scenario": "abmm.scenario.loader"}


def __getattr__(name: str):
    """Load ``ScenarioModel``, ``build_model`` and ``load_scenario`` on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'abmm' has no attribute {name!r}")


def __dir__():
    """The module's names, the lazily loaded ones included."""
    return sorted([*globals(), *_LAZY])
