"""``abmm sweep`` refuses bad input in one line, exit 2, before anything is written; a SIGTERM
or Ctrl-C saves the finished runs in a consistent results.parquet, and the same command
resumes."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from abmm.cli import main


def _one_line_exit_2(args, capsys) -> str:
    rc = main(["sweep", *map(str, args)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


NO = "<no such key>"
BAD = [  # (sweep file's keys beside "scenario: tiny.yaml", what the message must name)
    ({"scenario": None}, ["scenario"]),
    ({"scenario": NO, "grid": {"agents.noise.p_market": [0.1]}}, ["scenario", "missing"]),
    ({"scenario": "no_such_scenario_file.yaml"}, ["scenario", "no such file"]),
    ({"seeds": "5-1"}, ["seeds", "5-1"]),
    ({"seeds": "one"}, ["seeds"]),
    ({"seeds": [1, "x"]}, ["seeds"]),
    ({"grid": {"agents.noise.p_mark": [0.1, 0.2]}}, ["grid.agents.noise.p_mark",
                                                      "not a key of the scenario"]),
    ({"grid": {"agents.nois.p_market": [0.1]}}, ["grid.agents.nois.p_market"]),
    ({"grid": {"agents.noise.p_market": [0.1, 7]}}, ["grid.agents.noise.p_market", "7"]),
    ({"grid": {"agents.noise.p_market": []}}, ["grid.agents.noise.p_market", "non-empty"]),
    ({"grid": {"agents.noise.p_market": 0.1}}, ["grid.agents.noise.p_market", "list"]),
    ({"grid": {"agents.noise.p_market": [0.1, 0.1]}}, ["repeats"]),
    ({"grid": {"seed": [1, 2]}}, ["grid.seed"]),
    ({"grid": {"agents.noise.p_market": [0.1]}, "sample": {"n": 2}}, ["grid/sample"]),
    ({"sample": {"n": 2, "params": {"agents.noise.p_market": [0.3, 0.1]}}},
     ["sample.params.agents.noise.p_market", "lo (0.3) is not below hi (0.1)"]),
    ({"sample": {"n": 2, "params": {"fundamental.sigma_1h": [0, 1, "log"]}}},
     ["sample.params.fundamental.sigma_1h", "log"]),
    ({"sample": {"n": 0, "params": {"agents.noise.p_market": [0.1, 0.3]}}}, ["sample.n"]),
    ({"sample": {"n": 2, "params": {"agents.noise.p_market": [0.1, 3]}}},
     ["sample.params.agents.noise.p_market", "3"]),
    ({"sample": {"n": 2, "param": {}}}, ["sample.param", "unknown key"]),
    ({"grids": {}}, ["grids", "unknown key"]),
    ({"set": ["agents.noise.p_market=7"]}, ["set", "p_market"]),
    ({"set": {"market.days": 1}}, ["set", "KEY=VALUE"]),
]


@pytest.mark.parametrize("keys,names", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_sweep_file_is_one_line_naming_the_file_and_key(tiny, tmp_path, capsys, keys,
                                                              names):
    data = {k: v for k, v in {"scenario": tiny.name, **keys}.items() if v != NO}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    err = _one_line_exit_2([path, "--out", out, "--workers", "1"], capsys)
    assert err.startswith("abmm sweep: ") and str(path) in err, err
    for name in names:
        assert name in err, (name, err)
    assert "expected" in err
    assert not out.exists()


def test_unreadable_or_non_yaml_sweep_files(tmp_path, capsys):
    out = tmp_path / "out"
    err = _one_line_exit_2([tmp_path / "missing.yaml", "--out", out], capsys)
    assert "missing.yaml" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: [unclosed\n")
    assert "not valid YAML" in _one_line_exit_2([bad, "--out", out], capsys)
    bad.write_text("- a list\n")
    assert "mapping" in _one_line_exit_2([bad, "--out", out], capsys)
    assert not out.exists()


def test_an_invalid_scenario_is_named(sweep_file, tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmarket: {tick_size: -1}\n")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"scenario": "broken.yaml"}))
    err = _one_line_exit_2([path, "--out", tmp_path / "out"], capsys)
    assert "scenario" in err and "broken.yaml" in err and "tick_size" in err


def test_a_combination_the_scenario_refuses_is_named(tmp_path, capsys):
    # each value alone is valid; together the window closes before it opens
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump({"name": "w", "market": {"open": "09:30", "close": "10:00"},
                                    "agents": [{"kind": "noise", "count": 2}]}))
    path = tmp_path / "sw.yaml"
    path.write_text(yaml.safe_dump({"scenario": "s.yaml", "grid": {
        "market.open": ["09:00", "09:50"], "market.close": ["09:40", "10:00"]}}))
    err = _one_line_exit_2([path, "--out", tmp_path / "out"], capsys)
    assert "combination" in err or "grid.market" in err


def test_out_must_be_new_empty_or_this_sweeps(sweep_file, tmp_path, capsys):
    path = sweep_file(seeds="1")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    err = _one_line_exit_2([path, "--out", other, "--workers", "1"], capsys)
    assert "holds no sweep" in err and (other / "notes.txt").read_text() == "mine"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a directory" in _one_line_exit_2([path, "--out", afile], capsys)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    # the scenario changed: its results would mix with the old ones
    changed = yaml.safe_load((tmp_path / "tiny.yaml").read_text())
    changed["fundamental"]["sigma_1h"] = 3.0
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(changed))
    assert "another scenario" in _one_line_exit_2([path, "--out", out, "--workers", "1"], capsys)


def test_address_without_ray_says_to_install_the_extra(sweep_file, tmp_path, capsys,
                                                       monkeypatch):
    import abmm.parallel

    monkeypatch.setattr(abmm.parallel, "ray_available", lambda: False)
    out = tmp_path / "out"
    for extra in (["--address", "auto"], ["--backend", "ray"]):
        err = _one_line_exit_2([sweep_file(seeds="1"), "--out", out, *extra], capsys)
        assert "abmm[distributed]" in err
    err = _one_line_exit_2([sweep_file(seeds="1"), "--out", out, "--address", "auto",
                            "--backend", "pool"], capsys)
    assert "Ray" in err
    assert _one_line_exit_2([sweep_file(seeds="1"), "--out", out, "--workers", "0"], capsys)
    assert not out.exists()


# ------------------------------------------------------------------------------ signals

ROOT = Path(__file__).resolve().parents[2]


def subprocess_env() -> dict:
    """The environment of an ``abmm`` subprocess: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _start(args, tmpdir=None) -> subprocess.Popen:
    env = subprocess_env()
    if tmpdir is not None:  # where the runs' scratch directories go
        env["TMPDIR"] = str(tmpdir)
    return subprocess.Popen([sys.executable, "-m", "abmm.cli", "sweep", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        ps = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True)
        kids = [int(x) for x in ps.stdout.split()]
        out += kids
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _rows(path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize("sig,status,workers", [
    ("SIGTERM", 143, ["--workers", "1"]),
    ("SIGINT", 130, ["--workers", "1"]),
    ("SIGTERM", 143, ["--workers", "2", "--backend", "pool"]),
    ("SIGTERM", 143, ["--workers", "2", "--backend", "ray"]),
])
def test_a_signal_saves_the_finished_runs_and_the_same_command_resumes(
        sweep_file, tmp_path, sig, status, workers):
    if "ray" in workers and importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'abmm[distributed]')")
    path = sweep_file(seeds="1-40")
    out = tmp_path / "out"
    results = out / "results.parquet"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = _start([path, "--out", out, *workers], tmpdir=scratch)
    deadline = time.monotonic() + 120
    while _rows(results) < 2:  # results are saved as runs finish (at most every second)
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no runs recorded"
        time.sleep(0.05)
    family = _descendants(proc.pid)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert f"stopped by {sig}" in err and "the same command resumes" in err
    assert "Traceback" not in err
    rows = pq.read_table(results).to_pylist()
    assert 2 <= len(rows) < 40 and all(r["status"] == "ok" for r in rows)
    assert json.loads((out / "sweep.json").read_text())["status"] == "interrupted"
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]  # no half-written file
    if "pool" in workers or "ray" in workers:
        assert family  # the fork server and the pool's workers, or Ray's processes ...
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in family):  # ... went with the sweep
        assert time.monotonic() < deadline, [p for p in family if _alive(p)]
        time.sleep(0.1)
    # ... and so did the scratch run directories of the runs in flight
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("abmm-sweep-")]
    if "pool" not in workers:
        return
    # the same command resumes: only the runs not yet done run
    proc = _start([path, "--out", out, "--workers", "2", "--backend", "pool", "--json"])
    so, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    res = json.loads(so)
    assert res["skipped"] == len(rows) and res["ran"] == 40 - len(rows) and res["ok"] == 40
    final = pq.read_table(results).to_pylist()
    assert [r["seed"] for r in final] == list(range(1, 41))
    kept = {r["run_id"]: r for r in rows}
    for r in final:
        if r["run_id"] in kept:
            assert r == kept[r["run_id"]]


def test_scratch_left_by_a_killed_process_is_removed_by_the_next_run(tmp_path):
    from abmm.sweep.runner import remove_stale_scratch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a PID that no process has now
    gone = tmp_path / f"abmm-sweep-0123456789ab-{dead.pid}-x1y2z3"
    live = tmp_path / f"abmm-sweep-0123456789ab-{os.getppid()}-a1b2c3"  # a live process's
    mine = tmp_path / f"abmm-sweep-0123456789ab-{os.getpid()}-d4e5f6"
    other = tmp_path / "abmm-sweep-not-ours"
    for d in (gone, live, mine, other):
        (d / "run").mkdir(parents=True)
    assert remove_stale_scratch(tmp_path) == 1
    assert not gone.exists() and live.exists() and mine.exists() and other.exists()
    assert remove_stale_scratch(tmp_path) == 0
