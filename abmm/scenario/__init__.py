"""Scenario files: the schema (:mod:`~abmm.scenario.schema`), the loader with ``--set``
overrides (:mod:`~abmm.scenario.loader`) and the builder that turns a scenario into a running
market (:mod:`~abmm.scenario.builder`).

A scenario is a YAML (or JSON, or a dict) with keys ``name, description, seed, market,
fundamental, agents, shocks, logging`` -- documented key by key in ``scenarios/README.md``.
Every problem in a file is reported at once, each with its key path and what was expected
(``ScenarioError``); unknown keys are errors. ``ScenarioModel`` is a scenario as a plain
``mesa.Model`` class (``mesa.batch_run``; :mod:`~abmm.scenario.mesa_model`).
"""

from abmm.scenario.builder import build_agents, build_fundamental, build_model, market_spec
from abmm.scenario.loader import (
    ScenarioError,
    apply_overrides,
    apply_until,
    get_value,
    load_scenario,
    yaml_load,
)
from abmm.scenario.mesa_model import ScenarioModel
from abmm.scenario.schema import (
    AgentGroup,
    FundamentalCfg,
    Jumps,
    Logging,
    Market,
    Regimes,
    Scenario,
    cross_check,
    fit_windows,
)

__all__ = ["Scenario", "ScenarioError", "ScenarioModel", "load_scenario", "apply_overrides",
           "apply_until", "yaml_load", "get_value", "build_model", "market_spec",
           "build_fundamental", "build_agents", "cross_check", "fit_windows", "Market",
           "FundamentalCfg", "Jumps", "Regimes", "Logging", "AgentGroup"]
