"""`abmm calibrate` on the command line: outputs, resume, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from abmm.cli import main


def bars_file(path, n=1_000, sd=1.3e-3):
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sd, n)))
    ts = pd.date_range("2024-01-01", periods=n, freq="1min")
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": close, "high": close,
                  "low": close, "close": close, "volume": 1.0}).to_csv(path, index=False)
    return path


def test_calibrate_writes_outputs_and_resumes(tiny, tmp_path, capsys):
    real = bars_file(tmp_path / "bars.csv")
    out = tmp_path / "cal"
    args = ["calibrate", str(tiny), "--real", str(real), "--param",
            "fundamental.sigma_1h=0.3,3,log", "--seeds-per-candidate", "1", "--out", str(out),
            "--json"]
    assert main(args + ["--budget", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["trials"] == 2 and set(first["best_params"]) == {"fundamental.sigma_1h"}
    for name in ("calibrated.yaml", "moments.csv", "calibration.png", "study.db"):
        assert (out / name).is_file(), name
    header = pd.read_csv(out / "moments.csv").columns.tolist()
    assert header == ["moment", "real", "real_lo", "real_hi", "sim_mean", "sim_lo", "sim_hi",
                      "z"]
    assert main(args + ["--budget", "3"]) == 0  # resumes: one more candidate, not three
    assert json.loads(capsys.readouterr().out)["trials"] == 3


def test_calibrate_bad_input_is_one_line_and_writes_nothing(tiny, tmp_path, capsys):
    real = bars_file(tmp_path / "bars.csv")
    cases = [["--param", "fundamental.sigma_1h=3,0.3", "--real", str(real)],
             ["--param", "no.such.key=1,2", "--real", str(real)],
             ["--param", "fundamental.sigma_1h=0.3,3", "--real", str(tmp_path / "nope.csv")]]
    for i, extra in enumerate(cases):
        out = tmp_path / f"c{i}"
        rc = main(["calibrate", str(tiny), "--budget", "2", "--out", str(out), *extra])
        err = capsys.readouterr().err
        assert rc == 2, (extra, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert not out.exists() or not any(out.iterdir()), extra
