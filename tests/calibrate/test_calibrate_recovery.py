"""Calibration recovers parameters from a target the simulator itself produced.

The target: the tiny market's moments with ``fundamental.sigma_1h = 1.0`` (and its market
maker's ``half_spread_ticks = 3``) over seeds 101-108.

* One parameter: the calibration searches ``sigma_1h`` in ``[0.3, 3]`` (log scale) with 4 seeds
  per candidate (seeds 1-4) and 20 candidates, and must land within 15 % of the truth. The
  negative control shows the check can fail: with 2 candidates (the same sampler seed's first
  two random draws, 0.50 and 2.23) the best is outside 15 %.
* Two parameters: ``sigma_1h`` and the maker's ``half_spread_ticks`` in ``[1, 10]`` together,
  40 candidates x 4 seeds, each within 15 %. The half-spread is identified by the spread
  moments (``spread_bps``): the negative control runs the same calibration on the same target
  with its spread moments left out, and the half-spread is then not recovered.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time

import pytest

from abmm.analysis.bars import read_ohlcv, run_bars
from abmm.analysis.moments import bar_series
from abmm.calibrate import Target, calibrate
from abmm.calibrate.smm import minute_returns
from abmm.scenario import build_model, load_scenario, yaml_load

PARAM = "fundamental.sigma_1h=0.3,3,log"
KEY = "fundamental.sigma_1h"


def _within(value: float, truth: float, tol: float = 0.15) -> bool:
    return abs(value - truth) <= tol * truth


def test_recovers_sigma_within_15_percent(tiny, target, true_sigma, tmp_path):
    t0 = time.perf_counter()
    res = calibrate(tiny, target, [PARAM], budget=20, seeds_per_candidate=4, out=tmp_path / "c",
                    workers=2, seed=5, command="abmm calibrate tiny_market.yaml (test)")
    wall = time.perf_counter() - t0
    got = res.best_params[KEY]
    print(f"recovered {KEY} = {got:.4f} (truth {true_sigma}), loss {res.loss:.1f}, "
          f"{res.trials} trials, {wall:.1f} s")
    assert res.trials == 20 and res.failed == 0
    assert _within(got, true_sigma), f"{KEY} = {got} is not within 15 % of {true_sigma}"

    # the outputs
    p = res.paths
    assert all(p[k].is_file() for k in ("study", "yaml", "csv", "png", "json"))
    text = p["yaml"].read_text()
    assert text.startswith("# calibrated by abmm.calibrate")
    assert "# command: abmm calibrate tiny_market.yaml (test)" in text
    assert f"{KEY} = {got!r}" in text
    assert 'close: "02:00"' in text  # clock times stay strings for any YAML reader
    sc = load_scenario(yaml_load(text))
    assert sc == load_scenario(tiny, overrides=[f"{KEY}={got!r}"])
    assert sc.fundamental.sigma_1h == pytest.approx(got)
    with open(p["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["moment", "real", "real_lo", "real_hi", "sim_mean", "sim_lo",
                             "sim_hi", "z"]
    sd = next(r for r in rows if r["moment"] == "sd")
    assert float(sd["real_lo"]) < float(sd["real"]) < float(sd["real_hi"])
    assert float(sd["sim_lo"]) < float(sd["sim_mean"]) < float(sd["sim_hi"])
    summary = json.loads(p["json"].read_text())
    assert summary["status"] == "finished" and summary["trials"] == 20
    assert summary["best_params"][KEY] == got and summary["loss"] == res.loss
    assert summary["wall_s"] > 0
    assert p["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_negative_control_two_candidates_miss(tiny, target, true_sigma, tmp_path):
    """The same check with 2 candidates fails: the 15 % band is narrow enough to mean
    something."""
    res = calibrate(tiny, target, [PARAM], budget=2, seeds_per_candidate=4, out=tmp_path / "c",
                    workers=2, seed=5)
    got = res.best_params[KEY]
    assert res.trials == 2
    assert not _within(got, true_sigma), f"{KEY} = {got}: 2 candidates should not recover it"


SPREAD = "agents.2.half_spread_ticks"
TWO = [PARAM, f"{SPREAD}=1,10"]
TRUE_HALF_SPREAD = 3.0


def test_recovers_two_parameters_within_15_percent(tiny, target, true_sigma, tmp_path):
    assert load_scenario(tiny).agents[2].half_spread_ticks == TRUE_HALF_SPREAD  # the truth
    t0 = time.perf_counter()
    res = calibrate(tiny, target, TWO, budget=40, seeds_per_candidate=4, out=tmp_path / "c",
                    workers=2, seed=5)
    got_sigma, got_spread = res.best_params[KEY], res.best_params[SPREAD]
    print(f"recovered {KEY} = {got_sigma:.4f} (truth {true_sigma}), {SPREAD} = "
          f"{got_spread:.3f} (truth {TRUE_HALF_SPREAD}), loss {res.loss:.1f}, {res.trials} "
          f"trials, {time.perf_counter() - t0:.1f} s")
    assert res.trials == 40 and res.failed == 0
    assert _within(got_sigma, true_sigma), f"{KEY} = {got_sigma}"
    assert _within(got_spread, TRUE_HALF_SPREAD), f"{SPREAD} = {got_spread}"
    with open(res.paths["csv"]) as f:
        rows = {r["moment"]: r for r in csv.DictReader(f)}
    assert {"spread_bps", "spread_acf_1", "spread_abs_corr"} <= set(rows)


def test_negative_control_two_parameters_without_spread_moments(tiny, target, tmp_path):
    """The same calibration with the target's spread moments left out: the half-spread,
    which only the spread identifies well, is not recovered."""
    blind = dataclasses.replace(target, mean={
        k: (math.nan if k.startswith("spread_") else v) for k, v in target.mean.items()})
    assert not any(k.startswith("spread_") for k in blind.keys())
    res = calibrate(tiny, blind, TWO, budget=40, seeds_per_candidate=4, out=tmp_path / "c",
                    workers=2, seed=5)
    got = res.best_params[SPREAD]
    assert not _within(got, TRUE_HALF_SPREAD), f"{SPREAD} = {got}: recovered without spreads"


def test_spread_bars_feed_the_same_spread_moments(tiny, tmp_path):
    """A run's bars with ``--spread`` (``run_bars(spread=True)``) give the spreads a
    calibration samples from the model at each minute's end, so a simulated run's bar file is a
    target with spread moments."""
    from abmm.cli import main

    assert main(["run", str(tiny), "--out", str(tmp_path / "run"), "--seed", "3"]) == 0
    bars = run_bars(tmp_path / "run", "1min", spread=True)
    path = tmp_path / "bars.csv"
    bars.to_csv(path, index=False)
    _, _, spread = bar_series(read_ohlcv(path))
    _, _, sampled = minute_returns(build_model(tiny, seed=3))
    # bar i + 1 closes a return; the model's samples start at the end of the 5-minute warm-up
    assert spread[4:4 + 50] == pytest.approx(sampled[:50], abs=1e-9)
    t = Target.from_file(path, length=len(sampled), n_boot=20)
    assert math.isfinite(t.mean["spread_bps"]) and "spread_acf_1" in t.keys()
    plain = tmp_path / "plain.csv"
    bars.drop(columns="spread").to_csv(plain, index=False)
    assert "spread_bps" not in Target.from_file(plain, length=len(sampled), n_boot=20).keys()
