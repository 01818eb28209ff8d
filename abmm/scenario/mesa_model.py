"""``ScenarioModel``: a scenario as a plain ``mesa.Model`` class, for Mesa's own tools
(``mesa.batch_run``, the visualization, any loop that calls ``step()``).

    import mesa, abmm
    rows = mesa.batch_run(abmm.ScenarioModel,
                          parameters={"scenario": "scenarios/default.yaml", "seed": [1, 2],
                                      "agents.noise.count": [100, 150]},
                          max_steps=600, number_processes=1)

Each keyword argument other than the model's own is a scenario override by key path, so a
parameter grid of ``batch_run`` varies scenario values directly. ``import mesa`` sets
multiprocessing's start method to "spawn": with ``number_processes`` other than 1, put the
``batch_run`` call under ``if __name__ == "__main__":`` (see ``examples/mesa_batch_run.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mesa

from abmm.market.model import MarketModel
from abmm.scenario.builder import build_agents, build_fundamental, market_spec, prepare
from abmm.schema.timing import SECOND

__all__ = ["ScenarioModel", "MODEL_COLUMNS", "AGENT_COLUMNS"]

#: The model-level columns ``ScenarioModel`` collects, with their units.
MODEL_COLUMNS = {
    "time": "clock time, seconds since midnight of the first day",
    "mid": "mid price, price units (NaN with a one-sided book)",
    "spread": "best ask minus best bid, price units (NaN with a one-sided book)",
    "fundamental": "fundamental value, price units",
    "last_price": "last trade price, price units (the reference price before any trade)",
    "volume": "traded volume since the open, cumulative, base units (lots x lot_size)",
    "trades": "number of trades since the open, cumulative",
}
#: The agent-level columns ``ScenarioModel`` collects, with their units.
AGENT_COLUMNS = {
    "group": "the agent's group name",
    "cash": "cash, quote units (price x base units); starts at 0",
    "inventory": "position, base units (lots x lot_size)",
    "pnl": "cash + inventory valued at the mid (else the last trade) - fees, quote units",
}


def _yaml_text(value: Any) -> str:
    """A parameter value as override text (JSON is YAML; numpy scalars become numbers)."""
    return json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))


class ScenarioModel(MarketModel):
    """A market built from a scenario, as a ``mesa.Model`` that ``mesa.batch_run`` can create
    from keyword arguments and drive with ``step()`` (one ``market.step``, 1 s by default).

    ``ScenarioModel(scenario="default", seed=None, *, overrides=None, until=None, out=None,
    collect=True, allow_large=False, **params)``:

    * ``scenario``: a file path, a shipped scenario's name, a dict or a ``Scenario`` (in a
      ``batch_run`` parameter grid, wrap a dict in a list: ``{"scenario": [d]}``);
    * ``seed``: replaces the scenario's seed; same scenario and seed, same run, bit for bit;
    * ``overrides``: ``"key.path=value"`` strings, as ``abmm run --set``;
    * ``**params``: more overrides by key path, with Python values: ``**{"market.close":
      "10:30", "agents.noise.count": 50}`` (applied after ``overrides``);
    * ``until``: stop at this clock time of the first day, as ``abmm run --until``;
    * ``out``: a run directory for the event log; none by default, so a batch of runs writes
      nothing to disk (call :meth:`finish` to complete the directory after a run);
    * ``collect``: collect one row per step (``datacollector``), starting with the state
      before the first step (Step 0), so model and agent rows share their steps.

    Collected columns, all in price units (not the model's internal ticks, lots and ns):
    model rows ``time`` (s since midnight), ``mid``, ``spread``, ``fundamental``,
    ``last_price`` (price units), ``volume`` (cumulative, base units: lots x lot_size),
    ``trades`` (cumulative count); agent rows ``group``, ``cash`` and ``pnl`` (quote units:
    price x base units), ``inventory`` (base units). ``MODEL_COLUMNS`` and ``AGENT_COLUMNS``
    hold the same as dicts. The shock pseudo-agent (group ``shocks``) has rows too.

    ``notes`` lists what loading adjusted (agent windows clipped to a shortened session,
    groups dropped, shocks after ``until`` dropped), as ``Scenario.notes``.
    """

    def __init__(self, scenario="default", seed: int | None = None, *,
                 overrides: list[str] | None = None, until=None, out: str | Path | None = None,
                 collect: bool = True, allow_large: bool = False, **params):
        if isinstance(overrides, str):
            overrides = [overrides]
        extra = [f"{key}={_yaml_text(value)}" for key, value in params.items()]
        scenario, seed, record = prepare(scenario, seed, [*(overrides or []), *extra],
                                         allow_large, until)
        super().__init__(market_spec(scenario), build_fundamental(scenario, seed), seed=seed,
                         out_dir=out, record=record, scenario=scenario)
        build_agents(self, scenario, seed)
        self.begin()
        self.notes = scenario.notes
        price, lot = self.tick_size, self.lot_size
        quote = price * lot

        def _ticks(value):
            return None if value is None else value * price

        self.datacollector = mesa.DataCollector(
            model_reporters={
                "time": lambda m: m.now / SECOND,
                "mid": lambda m: _ticks(m.mid()),
                "spread": lambda m: _ticks(m.spread()),
                "fundamental": lambda m: m.fundamental.value(m.now) * price,
                "last_price": lambda m: m.last_price * price,
                "volume": lambda m: m.volume * lot,
                "trades": "n_trades",
            },
            agent_reporters={
                "group": "group",
                "cash": lambda a: a.cash * quote,
                "inventory": lambda a: a.inventory * lot,
                "pnl": lambda a: a.pnl() * quote,
            },
        )
        self.collect_data = bool(collect)
        if self.collect_data:  # Step 0: the state before the first step, for agents and model
            self.datacollector.collect(self)
