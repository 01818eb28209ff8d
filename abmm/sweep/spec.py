"""Sweep files (``SWEEP.yaml``): what to run, read and checked before anything runs.

A sweep file names a scenario, the seeds, and the scenario overrides to vary -- a grid of
values, or a random sample of ranges (docs/sweeps.md)::

    scenario: ../default.yaml     # relative to this file; or a shipped scenario's name
    set: [market.days=1]          # optional: overrides of every run (abmm run --set)
    seeds: "1-20"                 # "1-20", "1,5,9-12", an integer, or a list of integers
    grid:                         # every combination of the values ...
      agents.noise.p_market: [0.05, 0.1, 0.2]
      fundamental.sigma_1h: [50, 100]
    # ... or a sample of N points drawn uniformly from the ranges (log-uniformly with "log"):
    # sample: {n: 16, seed: 0, params: {agents.noise.p_market: [0.02, 0.3],
    #                                   fundamental.sigma_1h: [20, 200, log]}}

Keys are the dotted override paths of ``abmm run --set`` (list items by index, ``name`` or
``kind``). A sampled key whose scenario value is an integer gets integer draws from
``[ceil(lo), floor(hi)]``. Each run is one point x one seed, identified by ``run_id``: a hash of
its override values and seed, so that the same file run again finds its finished runs.

Every problem is a ``SweepError`` (one line: the file, the key, what was wrong and what was
expected), raised before anything runs: the base scenario must be valid, and so must each
point of the grid or sample (each key alone, then every combination; up to
``MAX_CHECKED`` combinations are checked, beyond that each key's values alone).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from abmm.errors import AbmmError
from abmm.resources import scenario_path
from abmm.scenario import ScenarioError, apply_overrides, get_value, load_scenario, yaml_load
from abmm.schema.files import check_depth, read_config_text
from abmm.schema.seeds import parse_seeds

__all__ = ["SweepError", "Sweep", "RunSpec", "load_sweep", "sweep_from_dict", "MAX_RUNS",
           "MAX_CHECKED", "RESERVED"]

#: Most runs one sweep may hold (points x seeds): a typo should not plan a billion runs.
MAX_RUNS = 1_000_000
#: Most combinations checked against the scenario before a sweep starts.
MAX_CHECKED = 2_000
#: Column names of ``results.parquet`` that an override key may not take.
RESERVED = ("run_id", "seed", "status", "error", "wall_s")
_TOP = ("scenario", "set", "seeds", "grid", "sample", "description")
_SAMPLE = ("n", "seed", "params")


class SweepError(AbmmError, ValueError):
    """A sweep file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its ``run_id``, ``seed`` and override ``values`` (key -> value)."""

    run_id: str
    seed: int
    values: dict[str, Any]

    def overrides(self) -> list[str]:
        """The ``KEY=VALUE`` overrides of the run (``abmm run --set`` syntax)."""
        return [f"{k}={yaml_text(v)}" for k, v in self.values.items()]


@dataclass
class Sweep:
    """A checked sweep: the ``scenario`` data (as written, with the file's ``set`` overrides
    applied) and its ``scenario_file``, its
    ``name``, the ``seeds``, the override ``keys`` (file order), the ``mode`` (``"grid"``,
    ``"sample"`` or ``"seeds"``: seeds only), the planned ``runs`` and the scenario's
    ``fingerprint`` (a hash of the resolved scenario: a results folder holds one scenario)."""

    source: str
    scenario: dict
    scenario_file: str
    name: str
    seeds: list[int]
    keys: list[str]
    mode: str
    runs: list[RunSpec] = field(default_factory=list)
    fingerprint: str = ""
    description: str | None = None


def yaml_text(v) -> str:
    """``v`` as YAML text that ``yaml_load`` reads back as ``v`` (``1e-05`` -> ``1.0e-05``, which
    YAML 1.1 reads as a float; ``inf`` -> ``.inf``; strings quoted)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        s = repr(v)
        if "e" in s and "." not in s.split("e")[0]:
            m, e = s.split("e")
            s = f"{m}.0e{e}"
        return s
    return json.dumps(v)  # strings, lists, mappings: JSON is YAML flow style


def run_id(values: dict[str, Any], seed: int) -> str:
    """The stable id of a run: 12 hex digits of a hash of its override values and seed."""
    blob = json.dumps({"seed": int(seed), "set": values}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _err(src: str, key: str, what: str, expected: str) -> SweepError:
    return SweepError(f"{src}: {key}: {what}; expected {expected}")


def _problems(exc: ScenarioError) -> str:
    return "; ".join(f"{p or '(top level)'}: {m}" for p, m in exc.problems)


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load_sweep(path) -> Sweep:
    """The checked sweep of the file ``path`` (YAML or JSON); ``SweepError`` otherwise."""
    src = str(path)
    try:
        text = read_config_text(path, "sweep file")
    except OSError as exc:
        raise SweepError(f"{src}: cannot read the file ({exc.strerror}); expected a sweep "
                         "file (docs/sweeps.md)") from None
    except ValueError as exc:
        raise SweepError(str(exc)) from None
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"{src}: not valid YAML ({' '.join(str(exc).split())}); expected a "
                         "sweep file (docs/sweeps.md)") from None
    except RecursionError:
        raise SweepError(f"{src}: nested too deeply; expected a sweep file") from None
    try:
        check_depth(data, src)
    except ValueError as exc:
        raise SweepError(str(exc)) from None
    return sweep_from_dict(data, source=src, base=Path(path).resolve().parent)


def _resolve_scenario(src: str, value, base: Path | None) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _err(src, "scenario", f"{value!r}", "a scenario file (relative to the sweep file) "
                                                 "or a shipped scenario's name")
    p = Path(value)
    if not p.is_absolute() and base is not None and (base / p).is_file():
        return base / p
    found = scenario_path(value)
    if not Path(found).is_file():
        raise _err(src, "scenario", f"{value!r}: no such file (looked beside the sweep file "
                                    "and in the working folder) or shipped scenario",
                   "a scenario file or a shipped name (abmm scenarios lists them)")
    return Path(found)


def _seeds(src: str, value, default: int) -> list[int]:
    if value is None:
        return [default]
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            seeds = parse_seeds(str(value))
        elif isinstance(value, str):
            seeds = parse_seeds(value)
        elif isinstance(value, list) and value and all(
                isinstance(s, int) and not isinstance(s, bool) for s in value):
            seeds = parse_seeds(",".join(map(str, value)))
        else:
            raise ValueError
    except ValueError:
        raise _err(src, "seeds", f"{value!r} is not a seed list",
                   'a range such as "1-20", a list such as "1,5,9-12" or [1, 5], or an '
                   "integer (seeds >= 0)") from None
    return list(dict.fromkeys(seeds))  # each seed once, in order


def _check_key(src: str, where: str, key) -> str:
    if not isinstance(key, str) or not key or any(not k for k in key.split(".")):
        raise _err(src, where, f"key {key!r} is not a dotted scenario key",
                   "a key path such as agents.noise.p_market")
    if key in RESERVED or key.split(".")[0] in ("summary", "facts"):
        raise _err(src, f"{where}.{key}", "a results column's name, not a scenario key to vary",
                   "seeds under seeds:, and scenario keys here")
    return key


def _grid(src: str, grid) -> dict[str, list]:
    if not isinstance(grid, dict) or not grid:
        raise _err(src, "grid", f"{grid!r}", "a mapping KEY: [values, ...] with at least one key")
    out = {}
    for key, values in grid.items():
        key = _check_key(src, "grid", key)
        if not isinstance(values, list) or not values:
            raise _err(src, f"grid.{key}", f"{values!r}", "a non-empty list of values")
        texts = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(texts)) != len(texts):
            raise _err(src, f"grid.{key}", f"{values!r} repeats a value", "each value once")
        out[key] = values
    return out


def _sample(src: str, sample, resolved: dict) -> tuple[int, int, dict[str, tuple]]:
    if not isinstance(sample, dict):
        raise _err(src, "sample", f"{sample!r}", "a mapping {n: N, seed: S, params: {KEY: "
                                                 "[lo, hi]}}")
    for k in sample:
        if k not in _SAMPLE:
            raise _err(src, f"sample.{k}", "unknown key", "n, seed or params")
    n, seed = sample.get("n"), sample.get("seed", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise _err(src, "sample.n", f"{n!r}", "the number of points, an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _err(src, "sample.seed", f"{seed!r}", "the sampler's seed, an integer >= 0")
    params = sample.get("params")
    if not isinstance(params, dict) or not params:
        raise _err(src, "sample.params", f"{params!r}",
                   "a mapping KEY: [lo, hi] (or [lo, hi, log]) with at least one key")
    out = {}
    for key, rng in params.items():
        key = _check_key(src, "sample.params", key)
        where = f"sample.params.{key}"
        expected = "[lo, hi] or [lo, hi, log] with finite numbers lo < hi (lo > 0 with log)"
        if not isinstance(rng, list) or len(rng) not in (2, 3):
            raise _err(src, where, f"{rng!r}", expected)
        is_log = len(rng) == 3
        if is_log and rng[2] != "log":
            raise _err(src, where, f"third item {rng[2]!r} is not 'log'", expected)
        lo, hi = rng[0], rng[1]
        if not (_numeric(lo) and _numeric(hi)):
            raise _err(src, where, f"{rng!r}: lo and hi must be finite numbers", expected)
        if lo >= hi:
            raise _err(src, where, f"lo ({lo:g}) is not below hi ({hi:g})", expected)
        if is_log and lo <= 0:
            raise _err(src, where, f"a log range needs lo > 0 (got {lo:g})", expected)
        try:
            current = get_value(resolved, key)
        except KeyError:
            current = None  # the check against the scenario reports an unknown key
        integer = isinstance(current, int) and not isinstance(current, bool)
        if integer:
            lo, hi = math.ceil(lo), math.floor(hi)
            if lo >= hi:
                raise _err(src, where, f"{key} is an integer and {rng!r} holds fewer than two "
                                       "integers", "a range of at least two integers")
        out[key] = (lo, hi, is_log, integer)
    return n, seed, out


def _draw(n: int, seed: int, params: dict[str, tuple]) -> list[dict[str, Any]]:
    """``n`` points drawn from the ranges by a generator seeded with ``seed``: the same file
    gives the same points."""
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        p = {}
        for key, (lo, hi, is_log, integer) in params.items():
            if integer:
                if is_log:
                    v = round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
                    p[key] = int(min(max(v, lo), hi))
                else:
                    p[key] = int(rng.integers(lo, hi + 1))
            elif is_log:
                p[key] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            else:
                p[key] = float(rng.uniform(lo, hi))
        points.append(p)
    return points


def _check_points(src: str, data: dict, resolved: dict, where: str, points: list[dict],
                  singles: dict[str, list]) -> None:
    """Every key's values alone, then every point (up to ``MAX_CHECKED``), against the
    scenario schema."""
    for key, values in singles.items():
        for v in values:
            try:
                load_scenario(data, overrides=[f"{key}={yaml_text(v)}"])
            except ScenarioError as exc:
                try:
                    get_value(resolved, key)
                    what = f"{v!r} is not accepted by the scenario"
                except KeyError:
                    what = "not a key of the scenario"
                raise _err(src, f"{where}.{key}", f"{what} ({_problems(exc)})",
                           "a key of the scenario and a value it accepts") from None
    if len(singles) < 2:
        return
    for p in points[:MAX_CHECKED]:
        try:
            load_scenario(data, overrides=[f"{k}={yaml_text(v)}" for k, v in p.items()])
        except ScenarioError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in p.items())
            raise _err(src, where, f"the combination {shown} is not a valid scenario "
                                   f"({_problems(exc)})",
                       "values that the scenario accepts together") from None


def sweep_from_dict(data, source: str = "sweep", base: Path | None = None) -> Sweep:
    """The checked sweep of a parsed sweep file ``data``; ``base``: the folder a relative
    ``scenario`` path is looked up in first. ``SweepError`` naming ``source`` otherwise."""
    src = source
    if not isinstance(data, dict):
        raise SweepError(f"{src}: expected a mapping with keys scenario, seeds and grid or "
                         f"sample at the top level, got {type(data).__name__}")
    for k in data:
        if k not in _TOP:
            raise _err(src, str(k), "unknown key", "scenario, set, seeds, grid, sample or "
                                                   "description")
    if "scenario" not in data:
        raise _err(src, "scenario", "missing", "the scenario to sweep: a file or a shipped "
                                               "scenario's name")
    if "grid" in data and "sample" in data:
        raise _err(src, "grid/sample", "both given", "one of grid or sample (or neither: "
                                                     "seeds only)")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise _err(src, "description", f"{description!r}", "a string")
    path = _resolve_scenario(src, data["scenario"], base)
    try:
        text = read_config_text(path, "scenario file")
        scen = json.loads(text) if path.suffix == ".json" else yaml_load(text)
        sc = load_scenario(scen)
    except ScenarioError as exc:
        raise _err(src, "scenario", f"{path} is not a valid scenario ({_problems(exc)})",
                   "a scenario that abmm run accepts") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _err(src, "scenario", f"{path} cannot be read ({' '.join(str(exc).split())})",
                   "a YAML or JSON scenario file") from None
    fixed = data.get("set") or []
    if isinstance(fixed, str):
        fixed = [fixed]
    if not isinstance(fixed, list) or not all(isinstance(x, str) for x in fixed):
        raise _err(src, "set", f"{fixed!r}", "a list of KEY=VALUE overrides of every run")
    if fixed:
        try:
            sc = load_scenario(scen, overrides=fixed)
            scen = apply_overrides(scen, fixed)
        except ScenarioError as exc:
            raise _err(src, "set", f"{fixed!r} is not accepted by the scenario "
                                   f"({_problems(exc)})",
                       "KEY=VALUE overrides the scenario accepts") from None
    resolved = sc.resolved()
    seeds = _seeds(src, data.get("seeds"), sc.seed)
    if "grid" in data:
        mode = "grid"
        grid = _grid(src, data["grid"])
        keys = list(grid)
        points = [dict(zip(keys, combo, strict=True)) for combo in
                  itertools.product(*grid.values())]
        singles = grid
        where = "grid"
    elif "sample" in data:
        mode = "sample"
        n, seed, params = _sample(src, data["sample"], resolved)
        keys = list(params)
        points = _draw(n, seed, params)
        singles = {k: [lo, hi] for k, (lo, hi, _, _) in params.items()}
        where = "sample.params"
    else:
        mode, keys, points, singles, where = "seeds", [], [{}], {}, "grid"
    total = len(points) * len(seeds)
    if total > MAX_RUNS:
        raise _err(src, where if keys else "seeds", f"{total:,} runs planned",
                   f"at most {MAX_RUNS:,} runs (points x seeds)")
    _check_points(src, scen, resolved, where, points, singles)
    runs: dict[str, RunSpec] = {}
    for p in points:
        for s in seeds:
            rid = run_id(p, s)
            runs.setdefault(rid, RunSpec(rid, s, p))  # a sampled point drawn twice runs once
    fingerprint = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str)
                                 .encode()).hexdigest()[:16]
    return Sweep(src, scen, str(path), sc.name, seeds, keys, mode, list(runs.values()),
                 fingerprint, description)
