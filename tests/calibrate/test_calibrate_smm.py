"""abmm.calibrate: parameter parsing, output-directory refusal, resuming, failed candidates and
a bar-file target. The runs here are one seed a candidate and a handful of candidates."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest

from abmm.calibrate import Param, Target, calibrate, parse_param, returns_length, smm
from abmm.scenario import load_scenario

SIGMA = "fundamental.sigma_1h=0.3,3,log"


# ------------------------------------------------------------------------------ parse_param

def test_parse_param_forms():
    assert parse_param("fundamental.sigma_1h=0.1,2") == Param("fundamental.sigma_1h", 0.1, 2.0)
    assert parse_param(" agents.0.p_market = 0.01 , 0.5 , log ") == Param(
        "agents.0.p_market", 0.01, 0.5, True)
    assert parse_param("agents.noise.count=10,30").spec() == "agents.noise.count=10,30"


@pytest.mark.parametrize("text, why", [
    ("fundamental.sigma_1h", "no '='"),
    ("=0.1,2", "no key path"),
    ("a..b=0.1,2", "no key path"),
    ("x=1", "1 comma-separated"),
    ("x=1,2,3,4", "4 comma-separated"),
    ("x=a,2", "must be numbers"),
    ("x=1,inf", "must be finite"),
    ("x=2,1", "must be below HI"),
    ("x=1,1", "must be below HI"),
    ("x=0,1,log", "needs LO > 0"),
    ("x=-1,1,log", "needs LO > 0"),
    ("x=1,2,linear", "is not 'log'"),
])
def test_parse_param_errors_name_the_text_and_the_form(text, why):
    with pytest.raises(ValueError) as exc:
        parse_param(text)
    msg = str(exc.value)
    assert repr(text) in msg and why in msg and "expected KEY=LO,HI" in msg
    assert "\n" not in msg


def test_integer_fields_get_integer_candidates(tiny):
    data, _ = smm._load(tiny)
    resolved = load_scenario(data).resolved()
    p = smm._resolve_param(parse_param("agents.0.count=10.5,30.2"), resolved, data, [])
    assert p.integer and (p.lo, p.hi) == (11, 30)
    assert p.override(17.0) == "agents.0.count=17"
    assert isinstance(smm._distribution(p), optuna.distributions.IntDistribution)
    by_name = smm._resolve_param(parse_param("agents.noise.count=5,9"), resolved, data, [])
    assert by_name.integer
    f = smm._resolve_param(parse_param(SIGMA), resolved, data, [])
    assert not f.integer and f.override(0.5) == "fundamental.sigma_1h=0.5"
    with pytest.raises(ValueError, match="fewer than two integers"):
        smm._resolve_param(parse_param("agents.0.count=10.2,10.8"), resolved, data, [])
    with pytest.raises(ValueError, match="no key 'agents.0.nope'"):
        smm._resolve_param(parse_param("agents.0.nope=1,2"), resolved, data, [])
    with pytest.raises(ValueError, match="p_market=1.5 is not a valid scenario value"):
        smm._resolve_param(parse_param("agents.0.p_market=0.1,1.5"), resolved, data, [])
    with pytest.raises(ValueError, match="not a number"):
        smm._resolve_param(parse_param("market.symbol=1,2"), resolved, data, [])


# ---------------------------------------------------------------------- output directories

def test_refuses_an_out_holding_something_else(tiny, target, tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no calibration") as exc:
        calibrate(tiny, target, [SIGMA], budget=1, seeds_per_candidate=1, out=out)
    assert "\n" not in str(exc.value)
    assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 1
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        calibrate(tiny, target, [SIGMA], budget=1, seeds_per_candidate=1, out=afile)


def test_resume_runs_only_the_remaining_trials_and_refuses_another_setup(tiny, target,
                                                                         tmp_path):
    out = tmp_path / "c"
    seen = []
    r1 = calibrate(tiny, target, [SIGMA], budget=2, seeds_per_candidate=1, out=out,
                   progress=lambda n, b, loss, best: seen.append(n))
    assert r1.trials == 2 and seen == [1, 2]
    storage = f"sqlite:///{out / 'study.db'}"
    # a calibration killed mid-trial leaves that trial running: it is not counted
    study = optuna.load_study(study_name="calibration", storage=storage)
    study.ask({"fundamental.sigma_1h": optuna.distributions.FloatDistribution(0.3, 3, log=True)})
    seen.clear()
    r2 = calibrate(tiny, target, [SIGMA], budget=4, seeds_per_candidate=1, out=out,
                   progress=lambda n, b, loss, best: seen.append(n))
    assert seen == [3, 4] and r2.trials == 4
    trials = optuna.load_study(study_name="calibration", storage=storage).get_trials()
    states = [t.state for t in trials]
    assert len(trials) == 5  # 2 + the interrupted one + 2
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4
    assert states[2] == optuna.trial.TrialState.FAIL and "error" not in trials[2].user_attrs
    assert r2.loss <= r1.loss
    # a budget already spent runs nothing
    seen.clear()
    r3 = calibrate(tiny, target, [SIGMA], budget=3, seeds_per_candidate=1, out=out,
                   progress=lambda n, b, loss, best: seen.append(n))
    assert seen == [] and r3.trials == 4 and r3.best_params == r2.best_params
    # another parameter range, seed count or target is another calibration
    for kwargs in ({"params": ["fundamental.sigma_1h=0.3,2,log"]},
                   {"seeds_per_candidate": 2}):
        args = {"params": [SIGMA], "seeds_per_candidate": 1, **kwargs}
        with pytest.raises(ValueError, match="holds a calibration of another"):
            calibrate(tiny, target, budget=5, out=out, **args)
    other = Target(dict(target.mean), {k: 2 * v for k, v in target.var.items()}, target.pieces)
    with pytest.raises(ValueError, match="holds a calibration of another"):
        calibrate(tiny, other, [SIGMA], budget=5, seeds_per_candidate=1, out=out)


# ------------------------------------------------------------------------ failed candidates

def test_a_failing_candidate_is_a_failed_trial_and_the_run_goes_on(tiny, target, tmp_path,
                                                                    monkeypatch):
    real_simulate = smm._simulate

    def flaky(args):
        data, seed, overrides, length = args
        sigma = float(next(o for o in overrides if o.startswith("fundamental.sigma_1h"))
                      .split("=")[1])
        if sigma > 1.2:
            raise RuntimeError(f"boom at sigma {sigma:.3f}")
        return real_simulate(args)

    monkeypatch.setattr(smm, "_simulate", flaky)
    # sampler seed 5 draws 0.50, then 2.23 (fails), then ...
    res = calibrate(tiny, target, [SIGMA], budget=3, seeds_per_candidate=1,
                    out=tmp_path / "c", seed=5)
    assert res.trials == 3 and 1 <= res.failed < 3
    assert res.best_params["fundamental.sigma_1h"] <= 1.2
    trials = optuna.load_study(study_name="calibration",
                               storage=f"sqlite:///{tmp_path / 'c' / 'study.db'}").get_trials()
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == res.failed
    assert all(t.user_attrs["error"].startswith("RuntimeError: boom at sigma") for t in failed)
    summary = json.loads((tmp_path / "c" / "calibration.json").read_text())
    assert summary["failed"] == res.failed and "boom" in next(iter(summary["errors"].values()))


def test_every_candidate_failing_is_an_error(tiny, target, tmp_path, monkeypatch):
    def broken(args):
        raise RuntimeError("no market today")

    monkeypatch.setattr(smm, "_simulate", broken)
    with pytest.raises(ValueError, match="no trial succeeded"):
        calibrate(tiny, target, [SIGMA], budget=2, seeds_per_candidate=1, out=tmp_path / "c")


# ---------------------------------------------------------------------------- real targets

def test_a_bar_file_target(tiny, tmp_path):
    """A real bar file is measured at the simulated length (its pieces and bootstrap)."""
    length = returns_length(load_scenario(tiny))
    rng = np.random.default_rng(0)
    n = 8 * length + 1
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1.3e-3, n)))
    ts = pd.date_range("2024-01-01", periods=n, freq="1min")
    bars = pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": close,
                         "high": close, "low": close, "close": close, "volume": 1.0})
    path = tmp_path / "bars.csv"
    bars.to_csv(path, index=False)
    t = Target.from_file(path, length, n_boot=50)
    assert t.pieces == 8 and t.length == length
    assert t.mean["sd"] == pytest.approx(1.3e-3, rel=0.05) and t.var["sd"] > 0
    res = calibrate(tiny, str(path), [SIGMA], budget=2, seeds_per_candidate=1,
                    out=tmp_path / "c", n_boot=50)
    assert res.trials == 2 and np.isfinite(res.loss)
    summary = json.loads(res.paths["json"].read_text())
    assert summary["target"] == str(path) and summary["length"] == length
    with pytest.raises(ValueError, match="no such file"):
        calibrate(tiny, str(tmp_path / "nope.csv"), [SIGMA], budget=1, seeds_per_candidate=1,
                  out=tmp_path / "d")


def test_a_moment_dict_and_covariance_target(tiny, target, tmp_path):
    cov = np.diag([target.var[k] for k in smm.MOMENTS])
    res = calibrate(tiny, (dict(target.mean), cov), [SIGMA], budget=1, seeds_per_candidate=1,
                    out=tmp_path / "c")
    assert res.trials == 1 and np.isfinite(res.loss)
    with pytest.raises(ValueError, match="covariance must be"):
        calibrate(tiny, (dict(target.mean), np.eye(3)), [SIGMA], budget=1,
                  seeds_per_candidate=1, out=tmp_path / "d")
