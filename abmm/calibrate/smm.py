"""The simulated method of moments: fit a scenario's parameters to a real 1-minute series.

A candidate (values for the parameters being fitted, ``KEY=LO,HI[,log]`` ranges over scenario
keys) is run for ``K`` seeds -- the same seeds for every candidate (common random numbers, so
two candidates differ by their parameters, not by their luck) -- each over ``days`` days and
measured like ``benchmarks/moment_match.py``: the 1-minute mid returns after the warm-up, their
moment vector (``abmm.analysis.moments.MOMENTS``) on exactly the real piece length. The loss is
the sum of the squared z-scores of the candidate's mean moments against the real ones::

    z_k = (sim_mean_k - real_k) / sqrt(v_k (1 / pieces + 1 / K))

``real_k`` is the mean over the real series' consecutive pieces of the simulated length, and
``v_k`` the variance of one piece's moment -- the one-day moving-block bootstrap's, raised to the
variance across the pieces where that is larger: the joint test's weighting
(``abmm.analysis.moments.joint_test``) with one simplification. The joint test pools in the
simulated seeds' variance too; here ``v_k`` stands for both sides (under a matching candidate
the two are the same process at the same length), so the weights are fixed for a calibration.
Weights that depended on the candidate would reward candidates whose moments vary wildly from
seed to seed (a larger variance shrinks their z-scores); fixed weights make the loss a fixed
quadratic form of the candidate's mean moments (SMM with a diagonal weighting matrix). Moments
not finite (or of zero variance) in the target are left out; a kept moment that is not finite
for a candidate counts ``NAN_Z ** 2``.

Candidates come from optuna (TPE, CMA-ES or random search); the study lives in
``OUT/study.db`` (SQLite), so a killed calibration resumes and runs only the remaining
``budget - finished`` trials. A candidate whose simulation fails is recorded as a failed trial
with its error, and the calibration goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from abmm.analysis.moments import MOMENTS, moment_vector, real_reference
from abmm.parallel import Executor
from abmm.scenario import Scenario, apply_overrides, load_scenario, yaml_load
from abmm.schema.files import read_config_text, write_atomic

__all__ = ["Param", "parse_param", "Target", "CalibrationResult", "calibrate",
           "simulate_moments", "returns_length", "NAN_Z"]

log = logging.getLogger(__name__)

MINUTE = 60_000_000_000
#: The z-score a moment counts with when a candidate's mean of it is not finite.
NAN_Z = 10.0
#: The files a calibration writes in its output directory.
OUTPUTS = ("study.db", "calibration.json", "calibrated.yaml", "moments.csv", "calibration.png")
_STUDY = "calibration"
_Z95 = 1.959963984540054


# --------------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Param:
    """One parameter to fit: the scenario ``key`` (an override path such as
    ``agents.0.p_market``), its range ``[lo, hi]``, whether it is searched on a log scale, and
    whether it takes integer values (set by ``calibrate`` from the scenario's current value)."""

    key: str
    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    def spec(self) -> str:
        """The ``KEY=LO,HI[,log]`` text of the parameter."""
        return f"{self.key}={self.lo:g},{self.hi:g}" + (",log" if self.log else "")

    def override(self, value) -> str:
        """The ``KEY=VALUE`` override setting the parameter to ``value``."""
        return f"{self.key}={int(value) if self.integer else repr(float(value))}"


_FORM = "expected KEY=LO,HI or KEY=LO,HI,log with numbers LO < HI (LO > 0 with log)"


def parse_param(text: str) -> Param:
    """A ``Param`` from ``"KEY=LO,HI"`` or ``"KEY=LO,HI,log"``; ``ValueError`` naming the text
    and the expected form when it is malformed (no key, non-numeric or non-finite bounds,
    ``LO >= HI``, ``log`` with ``LO <= 0``)."""
    def bad(why: str) -> ValueError:
        return ValueError(f"parameter {text!r}: {why}; {_FORM}")

    if not isinstance(text, str) or "=" not in text:
        raise bad("no '='")
    key, rng = (s.strip() for s in text.split("=", 1))
    if not key or any(not k for k in key.split(".")):
        raise bad("no key path before '='")
    parts = [p.strip() for p in rng.split(",")]
    is_log = False
    if len(parts) == 3:
        if parts[2].lower() != "log":
            raise bad(f"third field {parts[2]!r} is not 'log'")
        is_log = True
        parts = parts[:2]
    if len(parts) != 2:
        raise bad(f"{len(parts)} comma-separated field(s) after '='")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise bad("LO and HI must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise bad("LO and HI must be finite")
    if lo >= hi:
        raise bad(f"LO ({lo:g}) must be below HI ({hi:g})")
    if is_log and lo <= 0:
        raise bad(f"a log range needs LO > 0 (got {lo:g})")
    return Param(key, lo, hi, is_log)


def _lookup(data, key: str):
    """The value at the override path ``key`` in a resolved scenario dict (``KeyError``)."""
    node = data
    for part in key.split("."):
        if isinstance(node, list):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            match = [g for g in node if isinstance(g, dict)
                     and (g.get("name") or g.get("kind")) == part]
            if not match:
                raise KeyError(part)
            node = match[0]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def _resolve_param(p: Param, resolved: dict, data: dict, fixed: list[str]) -> Param:
    """``p`` checked against the scenario: the key exists and holds a number, integer fields
    get integer candidates, and both ends of the range give a valid scenario."""
    try:
        current = _lookup(resolved, p.key)
    except KeyError:
        raise ValueError(f"parameter {p.spec()!r}: the scenario has no key {p.key!r}") from None
    if isinstance(current, bool) or not (current is None or isinstance(current, (int, float))):
        raise ValueError(f"parameter {p.spec()!r}: {p.key} is {current!r}, not a number")
    integer = isinstance(current, int)
    if integer:
        lo, hi = math.ceil(p.lo), math.floor(p.hi)
        if lo >= hi:
            raise ValueError(f"parameter {p.spec()!r}: {p.key} is an integer field and the "
                             f"range holds fewer than two integers")
        p = Param(p.key, float(lo), float(hi), p.log, True)
    for end in (p.lo, p.hi):
        try:
            load_scenario(data, overrides=fixed + [p.override(end)])
        except ValueError as exc:
            first = str(exc).splitlines()[-1].strip()
            raise ValueError(f"parameter {p.spec()!r}: {p.key}={end:g} is not a valid "
                             f"scenario value ({first})") from None
    return p


# ------------------------------------------------------------------------------------ target

@dataclass
class Target:
    """The real moments to match: ``mean`` (each moment's mean over the real pieces), ``var``
    (the variance of one piece's moment), ``pieces`` (how many pieces the mean is over),
    ``length`` (returns per piece, when known) and where it came from."""

    mean: dict[str, float]
    var: dict[str, float]
    pieces: int = 1
    length: int | None = None
    source: str = "given"

    @classmethod
    def from_returns(cls, r, length: int, n_boot: int = 200, seed: int = 0,
                     source: str = "returns", volume=None, spread=None) -> Target:
        """The target of a real return series measured at ``length`` returns a piece (the
        simulated length): ``abmm.analysis.moments.real_reference`` (its pieces, and a one-day
        moving-block bootstrap of one piece), each moment's variance being the bootstrap's or
        the pieces', whichever is larger. ``volume`` (per return): the volume moments too;
        ``spread`` (bps at each return's minute end): the spread moments too."""
        pieces, boot = real_reference(r, length, n_boot=n_boot, seed=seed, volume=volume,
                                      spread=spread)
        rp = np.array([[p[k] for k in MOMENTS] for p in pieces], float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN moment stays NaN
            var = np.nanvar(boot, axis=0, ddof=1)
            if len(rp) > 1:
                var = np.fmax(var, np.nanvar(rp, axis=0, ddof=1))
            mean = np.nanmean(rp, axis=0)
        return cls(dict(zip(MOMENTS, map(float, mean), strict=True)),
                   dict(zip(MOMENTS, map(float, var), strict=True)), len(rp), length, source)

    @classmethod
    def from_file(cls, path, length: int, n_boot: int = 200, seed: int = 0) -> Target:
        """The target of a real bar file (CSV or Parquet OHLCV, as ``abmm facts --real``
        reads): its 1-minute log returns and, when the file has them, its volumes, measured by
        ``from_returns``."""
        from abmm.analysis.bars import read_ohlcv
        from abmm.analysis.moments import bar_series

        r, v, sp = bar_series(read_ohlcv(path))
        return cls.from_returns(r, length, n_boot, seed, source=str(path), volume=v, spread=sp)

    @classmethod
    def from_moments(cls, vectors: Sequence[dict], source: str = "moments") -> Target:
        """The target of several moment vectors of one process (e.g. simulated seeds): their
        mean, and their variance across the vectors (``pieces`` = their number)."""
        a = np.array([[v[k] for k in MOMENTS] for v in vectors], float)
        if len(a) < 2:
            raise ValueError("a target from moment vectors needs at least two of them")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN moment stays NaN
            mean, var = np.nanmean(a, axis=0), np.nanvar(a, axis=0, ddof=1)
        return cls(dict(zip(MOMENTS, map(float, mean), strict=True)),
                   dict(zip(MOMENTS, map(float, var), strict=True)), len(a), None, source)

    def keys(self) -> list[str]:
        """The moments the loss uses: finite mean and a finite, positive variance."""
        return [k for k in MOMENTS if math.isfinite(self.mean.get(k, math.nan))
                and math.isfinite(self.var.get(k, math.nan)) and self.var[k] > 0]

    def fingerprint(self) -> str:
        """A short hash of the target's numbers (to tell a resumed calibration's target)."""
        data = [[k, round(self.mean.get(k, math.nan), 12), round(self.var.get(k, math.nan), 15)]
                for k in MOMENTS] + [self.pieces, self.length]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def _target(real, length: int, n_boot: int) -> Target:
    """``real`` as a ``Target``: a bar file path, a ``Target``, or ``(moment dict, covariance)``
    with the covariance of one piece's moments (a square matrix or a vector of variances in
    ``MOMENTS`` order, or a dict of variances; taken as one piece)."""
    if isinstance(real, Target):
        return real
    if isinstance(real, (str, Path)):
        if not Path(real).is_file():
            raise ValueError(f"real data {str(real)!r}: no such file")
        return Target.from_file(real, length, n_boot)
    if isinstance(real, tuple) and len(real) == 2 and isinstance(real[0], dict):
        mean, cov = real
        if isinstance(cov, dict):
            var = {k: float(cov.get(k, math.nan)) for k in MOMENTS}
        else:
            c = np.asarray(cov, float)
            d = np.diag(c) if c.ndim == 2 else c
            if d.shape != (len(MOMENTS),):
                raise ValueError(f"the target covariance must be {len(MOMENTS)} x "
                                 f"{len(MOMENTS)} (MOMENTS order), got shape {c.shape}")
            var = dict(zip(MOMENTS, map(float, d), strict=True))
        return Target({k: float(mean.get(k, math.nan)) for k in MOMENTS}, var, 1, None)
    raise ValueError("real must be a bar file path, a Target or (moment dict, covariance)")


# -------------------------------------------------------------------------------- simulation

def returns_length(scenario: Scenario) -> int:
    """The number of 1-minute returns a run of ``scenario`` gives after its warm-up (the piece
    length its moments are measured on)."""
    m = scenario.market
    total = 0
    for i, (o, c) in enumerate(m.sessions):
        total += (c - o - (m.warmup_ns if i == 0 else 0)) // MINUTE
    return int(total)


def _simulate(args) -> dict[str, float]:
    """One seed of one candidate (a worker process): the moment vector of the run's first
    ``length`` 1-minute log mid returns after the warm-up (none across a night)."""
    data, seed, overrides, length = args
    from abmm.scenario import build_model

    m = build_model(data, seed=seed, overrides=list(overrides))
    rets, vols, spreads = minute_returns(m, length)
    if len(rets) < length:
        raise RuntimeError(f"seed {seed}: {len(rets)} returns, fewer than {length}")
    return moment_vector(np.asarray(rets), np.asarray(vols, float), np.asarray(spreads, float))


def minute_returns(m, length: int | None = None
                   ) -> tuple[list[float], list[int], list[float]]:
    """Run the model ``m`` (released at the end) and sample it every minute after the warm-up:
    the 1-minute log mid returns (none across a night), at most ``length``, the lots traded
    in each return's minute, and the relative quoted spread (bps; NaN with a one-sided book) at
    each return's minute end."""
    rets: list[float] = []
    vols: list[int] = []
    spreads: list[float] = []
    cap = math.inf if length is None else length
    try:
        for i, (o, c) in enumerate(m.sessions):
            t = o + (m.warmup_end - m.start if i == 0 else 0)
            m.run_until(t)
            prev = m.mid() or m.mark_price()
            v0 = m.volume
            while t + MINUTE <= c and len(rets) < cap:
                t += MINUTE
                m.run_until(t)
                cur = m.mid() or m.mark_price()
                rets.append(math.log(cur / prev))
                vols.append(m.volume - v0)
                spread = m.spread()  # a two-sided book: cur is its mid
                spreads.append(math.nan if spread is None else 1e4 * spread / cur)
                prev, v0 = cur, m.volume
    finally:
        m.release()
    return rets, vols, spreads


def simulate_moments(scenario, seeds: Sequence[int], overrides: Sequence[str] = (),
                     days: int | None = None, workers: int = 1, address: str | None = None,
                     backend: str = "auto") -> list[dict[str, float]]:
    """The moment vectors of ``scenario`` (a path, name, dict or ``Scenario``) with
    ``overrides`` over ``seeds``, measured as a calibration measures a candidate (e.g. to make a
    target the simulator itself produced: ``Target.from_moments``); run on the
    :class:`abmm.parallel.Executor` of ``workers``, ``address`` and ``backend``."""
    data, sc = _load(scenario)
    fixed = [f"market.days={days}"] if days else []
    length = returns_length(load_scenario(data, overrides=fixed))
    jobs = [(data, int(s), fixed + list(overrides), length) for s in seeds]
    with Executor(workers, address=address, backend=backend,
                  preload=("abmm.scenario", "abmm.analysis.moments")) as ex:
        return ex.map(_simulate, jobs)


def _load(scenario) -> tuple[dict, Scenario]:
    """The scenario's data as written (a file's YAML, a dict; a ``Scenario``'s resolved form)
    and the validated ``Scenario``."""
    if isinstance(scenario, Scenario):
        return scenario.resolved(), scenario
    if isinstance(scenario, dict):
        return scenario, load_scenario(scenario)
    sc = load_scenario(scenario)
    from abmm.resources import scenario_path

    path = scenario_path(scenario)
    text = read_config_text(path, "scenario file")
    data = json.loads(text) if path.suffix == ".json" else yaml_load(text)
    return data, sc


# ---------------------------------------------------------------------------------- the loss

def _loss(sims: np.ndarray, target: Target, keys: list[str]) -> tuple[float, dict]:
    """The loss of one candidate's seeds' moment rows ``sims`` (``MOMENTS`` columns) and its
    per-moment ``{"sim_mean", "sim_sd", "z"}`` (see the module docstring)."""
    idx = [MOMENTS.index(k) for k in keys]
    s = sims[:, idx]
    k = len(s)
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(c) if np.isfinite(c).any() else math.nan for c in s.T])
        sd = np.array([np.nanstd(c, ddof=1) if np.isfinite(c).sum() > 1 else math.nan
                       for c in s.T])
    real = np.array([target.mean[m] for m in keys])
    var = np.array([target.var[m] for m in keys])
    z = (mean - real) / np.sqrt(var * (1 / target.pieces + 1 / k))
    z = np.where(np.isfinite(z), z, NAN_Z)
    return float(z @ z), {"sim_mean": mean.tolist(), "sim_sd": sd.tolist(), "z": z.tolist()}


# ---------------------------------------------------------------------------------- outputs

@dataclass
class CalibrationResult:
    """What a calibration found: ``best_params`` (key -> value), their ``loss``, the number of
    finished ``trials`` (complete and failed), ``failed`` trials among them, the ``wall_s`` of
    this call, and ``paths`` of the outputs (``study``, ``yaml``, ``csv``, ``png``, ``json``)."""

    best_params: dict[str, float]
    loss: float
    trials: int
    failed: int
    wall_s: float
    paths: dict[str, Path] = field(default_factory=dict)
    moments: list[dict] = field(default_factory=list)


def _setup_id(data: dict, params: list[Param], target: Target, k: int, first_seed: int,
              days) -> str:
    """A hash of what makes two calibrations the same one (resumable into one study)."""
    blob = json.dumps({"scenario": load_scenario(data).resolved(),
                       "params": [p.spec() for p in params], "target": target.fingerprint(),
                       "seeds_per_candidate": k, "first_seed": first_seed, "days": days},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_out(out: Path, setup: str) -> None:
    """Refuse an ``out`` that exists and holds anything but a calibration of the same setup."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"output {out}: exists and is not a directory; choose a new one")
    if not any(out.iterdir()):
        return
    manifest = out / "calibration.json"
    try:
        prior = json.loads(manifest.read_text())
    except (OSError, ValueError):
        raise ValueError(f"output {out}: not empty and holds no calibration; choose a new "
                         "directory") from None
    if not isinstance(prior, dict) or prior.get("setup") != setup:
        raise ValueError(f"output {out}: holds a calibration of another scenario, parameters, "
                         "target or settings; choose a new directory")


def _moment_rows(target: Target, keys: list[str], info: dict | None, k: int) -> list[dict]:
    """The rows of ``moments.csv`` (95 % ranges: the means +- 1.96 standard errors)."""
    rows = []
    for m in MOMENTS:
        real, var = target.mean.get(m, math.nan), target.var.get(m, math.nan)
        se_r = math.sqrt(var / target.pieces) if var >= 0 else math.nan
        row = {"moment": m, "real": real, "real_lo": real - _Z95 * se_r,
               "real_hi": real + _Z95 * se_r, "sim_mean": math.nan, "sim_lo": math.nan,
               "sim_hi": math.nan, "z": math.nan}
        if info is not None and m in keys:
            i = keys.index(m)
            mean, sd = info["sim_mean"][i], info["sim_sd"][i]
            se_s = sd / math.sqrt(k) if sd is not None and math.isfinite(sd) else math.nan
            row.update(sim_mean=mean, sim_lo=mean - _Z95 * se_s, sim_hi=mean + _Z95 * se_s,
                       z=info["z"][i])
        rows.append(row)
    return rows


def _csv_bytes(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    cols = ["moment", "real", "real_lo", "real_hi", "sim_mean", "sim_lo", "sim_hi", "z"]
    w = csv.DictWriter(buf, cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: (r[c] if c == "moment" else f"{r[c]:.10g}") for c in cols})
    return buf.getvalue().encode()


def _plot(path: Path, losses: list[tuple[int, float]], rows: list[dict]) -> None:
    """``calibration.png``: the loss per trial with the running best (left), and the best
    candidate's z-score per moment with the +-1.96 band (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [1, 1.1]})
    if losses:
        n, v = zip(*losses, strict=True)
        a.scatter(n, v, s=12, color="tab:gray", label="trial loss")
        a.step(n, np.minimum.accumulate(v), where="post", color="tab:red", label="running best")
        if min(v) > 0:
            a.set_yscale("log")
        a.legend()
    a.set_xlabel("trial")
    a.set_ylabel("loss (sum of squared z-scores)")
    a.set_title("loss per trial")
    shown = [r for r in rows if math.isfinite(r["z"])]
    y = np.arange(len(shown))
    zs = np.clip([r["z"] for r in shown], -NAN_Z, NAN_Z)
    b.barh(y, zs, color=["tab:red" if abs(z) > _Z95 else "tab:blue" for z in zs])
    b.axvspan(-_Z95, _Z95, color="0.9", zorder=0)
    b.set_yticks(y, [r["moment"] for r in shown], fontsize=7)
    b.invert_yaxis()
    b.set_xlabel("z = (sim mean - real) / standard error (clipped at +-10)")
    b.set_title("best candidate: simulated vs real moments")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    write_atomic(path, buf.getvalue())


class _Dumper(yaml.SafeDumper):
    """YAML out with clock times quoted (``"10:30"``), so that YAML 1.1 readers do not take
    them for base-60 integers."""


_Dumper.add_representer(str, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style='"' if ":" in v else None))


def _yaml_bytes(data: dict, params: list[Param], best: dict, loss: float, df: int,
                command: str | None, days) -> bytes:
    """The calibrated scenario (``data`` with the best values set) under a header comment."""
    new = apply_overrides(data, [p.override(best[p.key]) for p in params])
    load_scenario(new)  # valid, as every candidate was
    head = ["# calibrated by abmm.calibrate (simulated method of moments)",
            f"# command: {command or '(not given)'}",
            f"# loss: {loss:.6g} (sum of squared z-scores over {df} moments"
            + (f", {days}-day runs)" if days else ")")]
    head += [f"#   {p.key} = {best[p.key]!r}  (searched {p.lo:g} .. {p.hi:g}"
             + (", log)" if p.log else ")") for p in params]
    body = yaml.dump(new, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return ("\n".join(head) + "\n" + body).encode()


# ------------------------------------------------------------------------------ calibration

def _sampler(name: str, seed: int):
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name in ("cmaes", "cma-es", "cma"):
        try:
            import cmaes  # noqa: F401 - optuna's CmaEsSampler needs it
        except ImportError:
            raise ValueError("sampler 'cmaes' needs the cmaes package (pip install cmaes)") from None
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise ValueError(f"sampler {name!r}: expected 'tpe', 'cmaes' or 'random'")


def _distribution(p: Param):
    from optuna.distributions import FloatDistribution, IntDistribution

    if p.integer:
        return IntDistribution(int(p.lo), int(p.hi), log=p.log)
    return FloatDistribution(p.lo, p.hi, log=p.log)


def _finished(study) -> list:
    """The study's finished trials: complete, or failed by their candidate (with an "error";
    a trial a killed calibration left running is marked failed without one, and not counted)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False)
            if t.state == TrialState.COMPLETE
            or (t.state == TrialState.FAIL and "error" in t.user_attrs)]


def calibrate(scenario, real, params: Sequence[Param | str], budget: int,
              seeds_per_candidate: int, out, workers: int = 1, days: int | None = None,
              sampler: str = "tpe", seed: int = 0,
              progress: Callable[[int, int, float | None, float | None], None] | None = None,
              command: str | None = None, first_seed: int = 1,
              n_boot: int = 200, address: str | None = None,
              backend: str = "auto") -> CalibrationResult:
    """Fit ``params`` of ``scenario`` to ``real`` by the simulated method of moments.

    ``scenario``: a path, shipped name, dict or ``Scenario``. ``real``: a bar file (CSV or
    Parquet OHLCV), a ``Target``, or ``(moment dict, covariance of one piece's moments)``.
    ``params``: ``Param`` or ``"KEY=LO,HI[,log]"`` texts; integer scenario fields get integer
    candidates. ``budget``: the total number of finished trials wanted in the study (a resumed
    calibration runs ``budget - finished``). Each candidate runs seeds ``first_seed ..
    first_seed + seeds_per_candidate - 1`` (the same for every candidate) on the backend of
    :mod:`abmm.parallel` (``workers`` processes or Ray CPUs, ``address`` of a Ray cluster,
    ``backend``: ``"auto"`` -- Ray when installed, else a process pool; 1 worker or 1 seed:
    in this process), each over ``days`` days (default the scenario's). ``sampler``:
    ``"tpe"`` (seeded with ``seed`` plus the trials already finished, so a resumed run does
    not repeat the first one's draws), ``"cmaes"`` or ``"random"``.
    ``progress(finished, budget, loss or None, best or None)`` is called after every trial.
    ``command`` goes into ``calibrated.yaml``'s header. Writes into ``out`` (refused when it
    holds anything but a calibration of the same setup): ``study.db``, and after every trial
    ``calibration.json``, ``calibrated.yaml``, ``moments.csv``, ``calibration.png``.
    ``ValueError`` for bad arguments, a bad scenario or parameter, or a budget with no
    successful trial."""
    import optuna

    t0 = time.perf_counter()
    if budget < 1 or seeds_per_candidate < 1 or workers < 1:
        raise ValueError(f"budget ({budget}), seeds_per_candidate ({seeds_per_candidate}) and "
                         f"workers ({workers}) must be at least 1")
    if days is not None and days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    params = [parse_param(p) if isinstance(p, str) else p for p in params]
    # the backend is checked (Ray installed for an address) before anything is written
    ex = Executor(min(workers, seeds_per_candidate), address=address, backend=backend,
                  preload=("abmm.scenario", "abmm.analysis.moments"))
    keys_seen = [p.key for p in params]
    if not params or len(set(keys_seen)) != len(keys_seen):
        raise ValueError(f"parameters {keys_seen}: expected at least one, each key once")
    data, _ = _load(scenario)
    fixed = [f"market.days={days}"] if days else []
    sc = load_scenario(data, overrides=fixed)
    resolved = sc.resolved()
    params = [_resolve_param(p, resolved, data, fixed) for p in params]
    length = returns_length(sc)
    if length < 101:
        raise ValueError(f"a run gives {length} 1-minute returns; the moments need more than "
                         "100 (lengthen the session or days)")
    target = _target(real, length, n_boot)
    keys = target.keys()
    if not keys:
        raise ValueError("the target has no finite moment with a positive variance")
    dropped = [k for k in MOMENTS if k not in keys]
    if dropped:
        log.info("moments left out (not finite in the target): %s", ", ".join(dropped))
    out = Path(out)
    setup = _setup_id(data, params, target, seeds_per_candidate, first_seed, days)
    _check_out(out, setup)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    try:  # the trials already finished (to seed the sampler past them)
        n_done = len(_finished(optuna.load_study(study_name=_STUDY, storage=storage)))
    except KeyError:  # no study yet (a new calibration, or one killed before its first trial)
        n_done = 0
    study = optuna.create_study(study_name=_STUDY, storage=storage, direction="minimize",
                                sampler=_sampler(sampler, seed + n_done), load_if_exists=True)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)  # no "error": not counted
        log.warning("trial %d was interrupted; marked failed and not counted", t.number)
    dists = {p.key: _distribution(p) for p in params}
    seeds = list(range(first_seed, first_seed + seeds_per_candidate))
    paths = {"study": out / "study.db", "json": out / "calibration.json",
             "yaml": out / "calibrated.yaml", "csv": out / "moments.csv",
             "png": out / "calibration.png"}
    manifest = {"setup": setup, "scenario": sc.name, "params": [p.spec() for p in params],
                "target": target.source, "seeds": seeds, "days": days, "length": length}
    if not paths["json"].exists():
        write_atomic(paths["json"], json.dumps({**manifest, "status": "running"}).encode())
    log.info("calibrating %s: %d parameters, %d moments, %d of %d trials done, %d seeds x "
             "%d returns a candidate", sc.name, len(params), len(keys), n_done, budget,
             len(seeds), length)
    with ex:
        while n_done < budget:
            trial = study.ask(dists)
            over = [p.override(trial.params[p.key]) for p in params]
            jobs = [(data, s, fixed + over, length) for s in seeds]
            loss = None
            try:
                sims = ex.map(_simulate, jobs)
                rows = np.array([[v[m] for m in MOMENTS] for v in sims], float)
                loss, info = _loss(rows, target, keys)
            except Exception as exc:  # noqa: BLE001 - a failed candidate must not stop the run
                msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                log.warning("trial %d (%s) failed: %s", trial.number, " ".join(over), msg)
                trial.set_user_attr("error", msg)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                trial.set_user_attr("moments", info)
                study.tell(trial, loss)
            n_done += 1
            best = _best(study)
            _write(paths, study, target, keys, params, data, manifest, command, days,
                   len(seeds), t0, n_done)
            if progress is not None:
                progress(n_done, budget, loss, best.value if best else None)
    result = _write(paths, study, target, keys, params, data, manifest, command, days,
                    len(seeds), t0, n_done, final=True)
    if result is None:
        raise ValueError(f"calibration in {out}: no trial succeeded (see the failed trials' "
                         "errors in calibration.json)")
    return result


def _best(study):
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(done, key=lambda t: t.value) if done else None


def _write(paths, study, target, keys, params, data, manifest, command, days, k, t0, n_done,
           final: bool = False) -> CalibrationResult | None:
    """Write the outputs for the study so far; the result (``None`` without a success)."""
    from optuna.trial import TrialState

    trials = _finished(study)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    best = _best(study)
    wall = time.perf_counter() - t0
    summary = {**manifest, "status": "finished" if final else "running", "trials": len(trials),
               "failed": len(failed), "wall_s": round(wall, 3),
               "errors": {str(t.number): t.user_attrs.get("error") for t in failed[-20:]}}
    if best is None:
        write_atomic(paths["json"], json.dumps(summary, indent=1).encode())
        return None
    best_params = {p.key: (int(best.params[p.key]) if p.integer else float(best.params[p.key]))
                   for p in params}
    info = best.user_attrs.get("moments")
    rows = _moment_rows(target, keys, info, k)
    summary.update(best_params=best_params, loss=best.value, best_trial=best.number,
                   df=len(keys))
    write_atomic(paths["json"], json.dumps(summary, indent=1, default=str).encode())
    write_atomic(paths["yaml"], _yaml_bytes(data, params, best_params, best.value, len(keys),
                                            command, days))
    write_atomic(paths["csv"], _csv_bytes(rows))
    losses = [(t.number, t.value) for t in trials if t.state == TrialState.COMPLETE]
    if final or len(trials) % 10 == 0:
        _plot(paths["png"], losses, rows)
    return CalibrationResult(best_params, float(best.value), len(trials), len(failed), wall,
                             dict(paths), rows)
