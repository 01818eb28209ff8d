"""Parameter sweeps (``abmm sweep``): a grid or random sample of scenario overrides x seeds, run
in this process, a local process pool, or on Ray (local or a cluster), each run's summary and
stylized-facts scorecard gathered into one table, ``results.parquet`` (docs/sweeps.md).

* :mod:`~abmm.sweep.spec`: the sweep file (``SWEEP.yaml``), checked before anything runs;
* :mod:`~abmm.sweep.runner`: one run, in whichever process runs it;
* :mod:`~abmm.sweep.store`: the results folder (``results.parquet``, ``sweep.json``);
* :mod:`~abmm.sweep.driver`: the resumable loop over the runs.
"""

from abmm.sweep.driver import SweepInterrupted, SweepResult, run_sweep
from abmm.sweep.spec import RunSpec, Sweep, SweepError, load_sweep, sweep_from_dict

__all__ = ["Sweep", "RunSpec", "SweepError", "SweepResult", "SweepInterrupted", "load_sweep",
           "sweep_from_dict", "run_sweep"]
