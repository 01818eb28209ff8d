"""Multi-agent environments (PettingZoo) for learning agents.

Each environment has one versioned entry module whose docstring is its doc page and which
defines ``parallel_env()``, ``env()`` (AEC) and ``raw_env()``:

* ``abmm.env.market_v0`` -- the agent-based market: the scenario's ``learnable`` agents quote
  among the rule-based crowd (implementation: ``market_env``);
* ``abmm.env.execution_v0`` -- learnable executors work parent orders in the agent-based
  market (implementation: ``execution_env``);
* ``abmm.env.trading_v0`` -- learnable momentum chartists trade directionally (target
  positions with stop-losses) in the agent-based market (implementation: ``trading_env``);
* ``abmm.env.ecology_v0`` -- every learning archetype at once: learnable market makers,
  chartists and executors in one market, each role with its own environment's observations,
  actions and rewards (implementation: ``ecology_env``);
* ``abmm.env.multi_asset_v0`` -- learnable market makers quote several symbols of a
  multi-symbol market and hedge with another (implementation: ``multi_asset_env``);
* ``abmm.env.model_based_v0`` -- market makers in the Avellaneda-Stoikov model-based market:
  an exogenous mid and Poisson fills (implementation: ``model_based_env``; the batched numpy
  market ``ASMarket``: ``model_based_sim``).

Shared pieces: ``actions``, ``observations``, ``rewards``; ``baselines`` -- fixed-spread,
Avellaneda-Stoikov, GLFT and random policies for the market-making environments (their
formulas: ``abmm.policy.closed_form``) and the chartist rules (MA crossover, MACD, RSI, flat,
random) for ``trading_v0``. ``abmm.env.model_based`` is the deprecated old path
of the model-based environment (a ``DeprecationWarning``; removed in the next release).
"""
