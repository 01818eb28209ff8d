"""Scenario files: the schema (:mod:`~abmm.scenario.schema`), the loader with ``--set``
overrides (:mod:`~abmm.scenario.loader`) and the builder that turns a scenario into a running
market (:mod:`~abmm.scenario.builder`).

A scenario is a YAML (or JSON, or a dict) with keys ``name, description, seed, market,
fundamental, agents, shocks, logging`` -- documented key by key in ``scenarios/README.md``.
Every problem in a file is reported at once, each with its key path and what was expected
(``ScenarioError``); unknown keys are errors.
"""

from abmm.scenario.builder import build_agents, build_fundamental, build_model, market_spec
from abmm.scenario.loader import ScenarioError, apply_overrides, load_scenario, yaml_load
from abmm.scenario.schema import (
    AgentGroup,
    FundamentalCfg,
    Jumps,
    Logging,
    Market,
    Regimes,
    Scenario,
    cross_check,
)

__all__ = ["Scenario", "ScenarioError", "load_scenario", "apply_overrides", "yaml_load",
           "build_model", "market_spec", "build_fundamental", "build_agents", "cross_check", "Market", "FundamentalCfg", "Jumps",
           "Regimes", "Logging", "AgentGroup"]
