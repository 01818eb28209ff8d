"""Training the adverse-selection detector and the spread predictor (abmm.learn.adverse): known
answers on synthetic data, the negative control, the softplus output, torch-free loading."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from abmm.learn.adverse import (
    auc,
    calibration,
    detector_samples,
    fit_logistic,
    fit_spread_mlp,
    logistic_predict,
    save_detector,
    save_spread_model,
    seed_bootstrap,
)
from abmm.policy.detect import FEATURES, SIGNED, DetectModelError, load_detect_model, orient

N = len(FEATURES)


def synthetic(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N))
    z = 3.0 * X[:, 1] - 2.0 * X[:, 3] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return X, y, np.repeat(np.arange(12), n // 12)


def test_logistic_recovers_a_known_signal_and_shuffled_labels_do_not():
    X, y, g = synthetic()
    Xt, yt, gt = synthetic(seed=1)
    p = logistic_predict(fit_logistic(X, y), Xt)
    assert auc(yt, p) > 0.9
    params = fit_logistic(X, y)
    assert params["coef"][1] > 1 and params["coef"][3] < -1
    # the control: fitted on shuffled labels, scored against shuffled held-out labels
    rng = np.random.default_rng(2)
    pc = logistic_predict(fit_logistic(X, rng.permutation(y)), Xt)
    yts = rng.permutation(yt)
    a = auc(yts, pc)
    lo, hi = seed_bootstrap(auc, gt, [yts, pc], n=200)
    # (a 95 % interval misses 0.5 one time in 20 by chance: allow a hundredth of slack)
    assert abs(a - 0.5) < 0.03 and lo - 0.01 < 0.5 < hi + 0.01


def test_auc_and_calibration_basics():
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(float)
    cal = calibration(y, p)
    assert cal["ece"] < 0.02 and len(cal["bins"]) == 10
    assert sum(b["n"] for b in cal["bins"]) == 20000


def test_detector_samples_orient_the_bid_side():
    X = np.arange(2 * N, dtype=float).reshape(2, N) + 1
    dmid = np.array([2.0, -3.0])
    Xs, y = detector_samples(X, dmid, 2.0)
    assert y.tolist() == [1, 0, 0, 1]
    signed = [FEATURES.index(f) for f in SIGNED]
    np.testing.assert_array_equal(Xs[2:, signed], -X[:, signed])
    np.testing.assert_array_equal(np.delete(Xs[2:], signed, 1), np.delete(X, signed, 1))
    np.testing.assert_array_equal(orient(orient(X, "bid"), "bid"), X)


def test_spread_mlp_softplus_output_is_positive_and_matches_torch(tmp_path):
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, N))
    y = np.abs(2 + X[:, 0]) + 0.1
    arrays = fit_spread_mlp(X, y, hidden=(8, 8), epochs=3)
    save_spread_model(tmp_path / "s.npz", arrays, [8, 8])
    m = load_detect_model(tmp_path / "s.npz", "spread")
    Xe = rng.normal(scale=50, size=(1000, N))  # far outside the training range
    pred = m.predict(Xe)
    assert pred.shape == (1000,) and np.all(pred > 0)
    assert isinstance(m.predict(Xe[0]), float)
    # the numpy forward is the torch network's
    net = torch.nn.Sequential(torch.nn.Linear(N, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                              torch.nn.ReLU(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for i, lin in enumerate([net[0], net[2], net[4]]):
            lin.weight.copy_(torch.tensor(arrays[f"layer/{i}/w"].T))
            lin.bias.copy_(torch.tensor(arrays[f"layer/{i}/b"]))
        z = torch.tensor((Xe[:5] - arrays["mean"]) / arrays["std"], dtype=torch.float32)
        ref = torch.nn.functional.softplus(net(z))[:, 0].numpy()
    np.testing.assert_allclose(pred[:5], ref, rtol=1e-4)


def test_models_load_without_torch(tmp_path):
    X, y, _ = synthetic(600)
    save_detector(tmp_path / "d.npz", fit_logistic(X, y))
    code = f"""
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("blocked")
sys.meta_path.insert(0, _Block())
import numpy as np
from abmm.policy.detect import load_detect_model
import abmm.agents.market_maker
m = load_detect_model({str(tmp_path / "d.npz")!r}, "detector")
pb, pa = m.side_probs(np.ones({N}))
assert 0 < pb < 1 and 0 < pa < 1
assert "torch" not in sys.modules
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(DetectModelError, match="file not found"):
        load_detect_model(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DetectModelError, match="not an .npz"):
        load_detect_model(tmp_path / "junk.npz")
    X, y, _ = synthetic(600)
    p = fit_logistic(X, y)
    p["coef"] = p["coef"][:3]
    with pytest.raises(DetectModelError, match="shape"):
        save_detector(tmp_path / "bad.npz", p)
