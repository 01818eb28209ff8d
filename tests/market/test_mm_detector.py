"""Market makers with an adverse-selection detector or a spread model (abmm.policy.detect):
live features equal the ones rebuilt from the log, the withdraw controls, and schema errors."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from abmm.policy.detect import FEATURES, log_features, save_detect_model
from abmm.scenario import ScenarioError, build_model, load_scenario

N = len(FEATURES)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    det = save_detect_model(d / "det.npz", "detector", {
        "mean": np.zeros(N), "std": np.ones(N), "coef": rng.normal(0, 0.5, N),
        "intercept": [-0.5]})
    spr = save_detect_model(d / "spr.npz", "spread", {
        "mean": np.zeros(N), "std": np.ones(N), "layer/0/w": rng.normal(0, 0.3, (N, 4)),
        "layer/0/b": np.zeros(4), "layer/1/w": rng.normal(0, 0.3, (4, 1)),
        "layer/1/b": [1.0]}, hidden=[4])
    return str(det), str(spr)


def market(mm_extra=None, seed=3):
    mm = {"kind": "market_maker", "name": "mm", "strategy": "avellaneda_stoikov",
          "gamma": 0.05, "k": 0.5, "size": 5, **(mm_extra or {})}
    return {"name": "t", "seed": seed, "market": {"open": "09:30", "close": "09:36"},
            "fundamental": {"sigma_1h": 0.3},
            "agents": [{"kind": "noise", "count": 40, "wake": {"kind": "poisson",
                                                                "interval": "2s"}},
                       {"kind": "informed", "count": 2}, mm],
            "logging": {"top_of_book": True}}


def run(sc, out, record=False):
    m = build_model(sc, out=out)
    ag = m.groups["mm"][0]
    rec = []
    if record:
        orig = ag.features.update

        def update():
            x = orig()
            rec.append((m.now, x.copy()))
            return x
        ag.features.update = update
    m.run()
    return m, ag, rec


def test_live_features_equal_the_log_rebuilt_ones(models, tmp_path):
    det, _ = models
    m, ag, rec = run(market({"detector": det, "withdraw_above": 0.9}), tmp_path / "r", True)
    assert len(rec) > 300
    times = np.array([t for t, _ in rec])
    live = np.array([x for _, x in rec])
    rebuilt = log_features(tmp_path / "r", times)
    np.testing.assert_array_equal(live, rebuilt)
    assert np.ptp(live, axis=0).min() > 0  # every feature moves


def _events(path):
    return pq.read_table(path / "events").drop(["time"])


def test_threshold_one_is_plain_as_and_zero_never_quotes(models, tmp_path):
    det, _ = models
    run(market(), tmp_path / "plain")
    run(market({"detector": det, "withdraw_above": 1.0}), tmp_path / "w1")
    run(market({"detector": det, "widen_above": 1.0}), tmp_path / "v1")
    plain = _events(tmp_path / "plain")
    assert plain.equals(_events(tmp_path / "w1"))
    assert plain.equals(_events(tmp_path / "v1"))
    m, ag, _ = run(market({"detector": det, "withdraw_above": 0.0}), tmp_path / "w0")
    assert ag.last_probs is not None and min(ag.last_probs) > 0
    ev = _events(tmp_path / "w0").to_pandas()
    assert not (ev["owner"] == ag.unique_id).any()  # never quoted
    assert ag.inventory == 0


def test_widen_moves_quotes_out_and_spread_model_sets_the_base(models, tmp_path):
    det, spr = models
    m, ag, _ = run(market({"detector": det, "widen_above": 0.0, "widen_ticks": 3}),
                   tmp_path / "v0")
    mid = m.mid()
    assert all(abs(o[1] - mid) >= 3 for o in ag.open_orders.values())
    m, ag, _ = run(market({"spread_model": spr}), tmp_path / "s")
    assert ag.last_spread is not None and ag.last_spread > 0
    assert ag.open_orders


@pytest.mark.parametrize("extra, msg", [
    ({"detector": "nope.npz", "withdraw_above": 0.5}, "file not found"),
    ({"withdraw_above": 0.5}, "need a detector file"),
    ({"detector": "DET"}, "neither withdraw_above nor widen_above"),
    ({"detector": "SPR", "widen_above": 0.5}, "expected a detector model"),
    ({"spread_model": "DET"}, "expected a spread model"),
    ({"detector": "DET", "withdraw_above": 1.5}, "less than or equal to 1"),
    ({"detector": "DET", "withdraw_above": 0.5, "wake": {"interval": "2s"}},
     "wake must be fixed at that interval"),
    ({"spread_model": "FOREIGN"}, "no config array"),
])
def test_schema_errors(models, tmp_path, extra, msg):
    det, spr = models
    np.savez(tmp_path / "foreign.npz", a=np.zeros(2))
    subst = {"DET": det, "SPR": spr, "FOREIGN": str(tmp_path / "foreign.npz")}
    extra = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}
    with pytest.raises(ScenarioError, match=msg):
        load_scenario(market(extra))
