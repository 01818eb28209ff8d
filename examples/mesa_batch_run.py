"""Mesa's ``batch_run`` over abmm scenarios: two seeds x two crowd sizes, two simulated minutes
each (max_steps), summarized with pandas.

    python examples/mesa_batch_run.py

``abmm.ScenarioModel`` is an ordinary ``mesa.Model`` class: every parameter that is not one of
its own (``scenario``, ``seed``, ``overrides``, ``until``, ``out``, ``collect``) is a scenario
override by key path, here ``agents.noise.count``. Collected prices are in price units, volumes
in base units (see ``abmm.scenario.mesa_model``). ``import mesa`` sets multiprocessing's start
method to "spawn", so the ``if __name__ == "__main__":`` guard below is required as soon as
``number_processes`` is not 1 (each worker re-imports this file).
"""

import mesa
import pandas as pd

import abmm

PARAMETERS = {
    "scenario": "default",  # a shipped scenario's name or a file path (a dict: wrap it, [d])
    "seed": [1, 2],
    "agents.noise.count": [50, 150],  # the crowd of noise traders
    "until": "09:40",  # a quick run: stop at 09:40 of the first day
}


def main(number_processes: int = 1) -> pd.DataFrame:
    """Run the grid and return one summary row per run (the last step of each)."""
    rows = mesa.batch_run(abmm.ScenarioModel, parameters=PARAMETERS, max_steps=120,
                          number_processes=number_processes, data_collection_period=1,
                          display_progress=False)
    df = pd.DataFrame(rows)
    model = df.drop_duplicates(["RunId", "Step"])  # agent rows repeat the model's columns
    summary = model.groupby(["seed", "agents.noise.count"]).agg(
        steps=("Step", "max"), mid_last=("mid", "last"), mid_std=("mid", "std"),
        spread_mean=("spread", "mean"), volume=("volume", "last"), trades=("trades", "last"))
    mm = df[df["group"].str.startswith("mm_")].groupby(
        ["seed", "agents.noise.count", "Step"])["pnl"].sum()
    summary["mm_pnl"] = mm.groupby(level=[0, 1]).last()
    return summary


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", None)
    print(main())
