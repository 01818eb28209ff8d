"""Multi-agent environments (PettingZoo) for learning agents.

* ``abmm.env.market_v0`` -- the agent-based market: the scenario's ``learnable`` agents quote
  among the rule-based crowd (``parallel_env()``, ``env()``).
* ``abmm.env.model_based`` -- the Avellaneda-Stoikov model-based market: an exogenous mid and
  Poisson fills, batched in numpy (``ASMarket``) and as a PettingZoo env.
* ``abmm.env.baselines`` -- fixed-spread, Avellaneda-Stoikov, GLFT and random policies for both.
"""
