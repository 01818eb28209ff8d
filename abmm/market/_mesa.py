"""Mesa, imported without its process-wide side effect.

``import mesa`` imports ``mesa.batchrunner``, which calls
``multiprocessing.set_start_method("spawn", force=True)``: every later process of the whole
program would then be spawned, so a plain script that starts worker processes at module level
(SuperSuit's ``concat_vec_envs_v1(..., num_cpus=2)``, for one) re-runs itself in each worker
and crashes. abmm imports mesa through here, which puts the start method back as it was.
"""

from __future__ import annotations

import multiprocessing

_before = multiprocessing.get_start_method(allow_none=True)
import mesa  # noqa: E402

multiprocessing.set_start_method(_before, force=True)

__all__ = ["mesa"]
