"""``abmm sweep`` end to end: rows and columns of a grid and a sample, resuming, failed runs,
the same results on every backend and worker count, and the controls: an override with no
effect gives identical statistics across its values, a real one changes them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from abmm.cli import main
from abmm.sweep import load_sweep
from abmm.sweep.spec import run_id

FIXED = ["run_id", "seed"]
MIDDLE = ["status", "error", "wall_s"]


def _sweep(args, capsys) -> tuple[int, dict | None, str]:
    rc = main(["sweep", *map(str, args), "--json"])
    cap = capsys.readouterr()
    out = json.loads(cap.out) if cap.out.strip() else None
    return rc, out, cap.err


def _stats(table):
    """The statistic columns (everything but wall_s), as Python lists."""
    return {c: table.column(c).to_pylist() for c in table.column_names if c != "wall_s"}


def test_grid_gives_one_row_a_run_with_the_documented_columns(sweep_file, tmp_path, capsys):
    path = sweep_file(seeds="1-2", grid={"agents.noise.p_market": [0.1, 0.3],
                                         "fundamental.sigma_1h": [0.5, 2.0]})
    rc, res, err = _sweep([path, "--out", tmp_path / "out", "--workers", "1"], capsys)
    assert rc == 0, err
    assert res["total"] == res["ran"] == res["ok"] == 8 and res["failed"] == 0
    t = pq.read_table(tmp_path / "out" / "results.parquet")
    cols = t.column_names
    assert cols[:7] == FIXED + ["agents.noise.p_market", "fundamental.sigma_1h"] + MIDDLE
    stats = cols[7:]
    assert stats and all(c.startswith(("summary.", "facts.")) for c in stats)
    for c in ("summary.orders", "summary.trades", "summary.final_price",
              "summary.groups.noise.pnl_total", "facts.passed", "facts.kurt",
              "facts.kurt.passed", "facts.spread_mean"):
        assert c in stats, c
    rows = t.to_pylist()
    # plan order: the grid's combinations, seeds within each; ids from the values and seed
    expect = [(p, s, seed) for p in (0.1, 0.3) for s in (0.5, 2.0) for seed in (1, 2)]
    got = [(r["agents.noise.p_market"], r["fundamental.sigma_1h"], r["seed"]) for r in rows]
    assert got == expect
    assert [r["run_id"] for r in rows] == [
        run_id({"agents.noise.p_market": p, "fundamental.sigma_1h": s}, seed)
        for p, s, seed in expect]
    assert all(r["status"] == "ok" and r["error"] is None and r["wall_s"] > 0 for r in rows)
    assert t.schema.field("seed").type == "int64"
    assert t.schema.field("agents.noise.p_market").type == "double"
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert manifest["status"] == "finished" and manifest["ok"] == 8


def test_sample_is_seeded_and_respects_ranges_and_integer_keys(sweep_file, tmp_path, capsys):
    sample = {"n": 3, "params": {"agents.noise.p_market": [0.05, 0.3],
                                 "agents.noise.count": [5, 15],
                                 "fundamental.sigma_1h": [0.2, 5, "log"]}}
    path = sweep_file(seeds=[4], sample=sample)
    a, b = load_sweep(path), load_sweep(path)
    assert [r.values for r in a.runs] == [r.values for r in b.runs]  # reproducible
    other = load_sweep(sweep_file("other.yaml", seeds=[4], sample={**sample, "seed": 1}))
    assert [r.values for r in other.runs] != [r.values for r in a.runs]
    rc, res, err = _sweep([path, "--out", tmp_path / "out", "--workers", "1"], capsys)
    assert rc == 0, err
    t = pq.read_table(tmp_path / "out" / "results.parquet")
    assert t.num_rows == 3 and t.column("seed").to_pylist() == [4, 4, 4]
    assert t.schema.field("agents.noise.count").type == "int64"
    counts = t.column("agents.noise.count").to_pylist()
    assert all(5 <= c <= 15 for c in counts)
    assert all(0.05 <= p <= 0.3 for p in t.column("agents.noise.p_market").to_pylist())
    assert all(0.2 <= s <= 5 for s in t.column("fundamental.sigma_1h").to_pylist())
    # the override reached the run: the noise group has the sampled number of agents
    assert t.column("summary.groups.noise.agents").to_pylist() == counts


def test_resume_skips_finished_runs_and_reruns_failed_ones(sweep_file, tmp_path, capsys):
    out = tmp_path / "out"
    grid = {"agents.noise.count": [10, 1_000_000_000]}  # valid, but too large to build: fails
    rc, res, err = _sweep([sweep_file(seeds="1-2", grid=grid), "--out", out, "--workers", "1"],
                          capsys)
    assert rc == 1 and res["ran"] == 4 and res["ok"] == 2 and res["failed"] == 2
    assert len(err.strip().splitlines()) == 1 and "2 of 4 runs failed" in err
    rows = pq.read_table(out / "results.parquet").to_pylist()
    bad = [r for r in rows if r["status"] == "error"]
    assert [r["agents.noise.count"] for r in bad] == [1_000_000_000] * 2
    assert all("GiB" in r["error"] and "\n" not in r["error"] for r in bad)
    assert all(r["summary.orders"] is None for r in bad)
    first = {r["run_id"]: r for r in rows if r["status"] == "ok"}
    # more seeds: only the new ok runs and the failed ones run again
    rc, res, _ = _sweep([sweep_file(seeds="1-3", grid=grid), "--out", out, "--workers", "1"],
                        capsys)
    assert rc == 1 and res["skipped"] == 2 and res["ran"] == 4 and res["total"] == 6
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert len(rows) == 6
    for r in rows:  # the first call's rows are kept as they were
        if r["run_id"] in first:
            assert r == first[r["run_id"]]
    # nothing left but failures: a rerun runs those only
    rc, res, _ = _sweep([sweep_file(seeds="1-3", grid=grid), "--out", out, "--workers", "1"],
                        capsys)
    assert res["ran"] == 3 and res["skipped"] == 3
    # all ok: nothing runs
    rc, res, _ = _sweep([sweep_file(seeds="1-3", grid={"agents.noise.count": [10]}), "--out", out,
                         "--workers", "1"], capsys)
    assert rc == 0 and res["ran"] == 0 and res["skipped"] == 3


def test_controls_an_override_without_effect_changes_nothing_a_real_one_does(
        sweep_file, tmp_path, capsys):
    path = sweep_file(seeds="1-2", grid={"description": ["a", "b"],
                                         "agents.noise.p_market": [0.05, 0.4]})
    rc, _, err = _sweep([path, "--out", tmp_path / "out", "--workers", "1"], capsys)
    assert rc == 0, err
    rows = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    stat = [c for c in rows[0] if c.startswith(("summary.", "facts."))]

    def pick(desc, p, seed):
        (r,) = [r for r in rows if r["description"] == desc and
                r["agents.noise.p_market"] == p and r["seed"] == seed]
        return [r[c] for c in stat]

    for p in (0.05, 0.4):
        for seed in (1, 2):
            assert pick("a", p, seed) == pick("b", p, seed)  # no effect: identical
    for seed in (1, 2):
        a, b = pick("a", 0.05, seed), pick("a", 0.4, seed)
        assert a != b
        trades = stat.index("summary.trades")  # market orders trade more
        assert a[trades] < b[trades]
    assert pick("a", 0.05, 1) != pick("a", 0.05, 2)  # and the seed matters


def test_two_workers_and_the_pool_give_the_same_results_as_one(sweep_file, tmp_path, capsys):
    path = sweep_file(seeds="1-3", grid={"agents.noise.p_market": [0.1, 0.3]})
    rc, one, err = _sweep([path, "--out", tmp_path / "one", "--workers", "1"], capsys)
    assert rc == 0, err
    rc, two, err = _sweep([path, "--out", tmp_path / "two", "--workers", "2", "--backend",
                           "pool"], capsys)
    assert rc == 0, err
    assert one["backend"] == "this process" and "pool of 2" in two["backend"]
    a = pq.read_table(tmp_path / "one" / "results.parquet")
    b = pq.read_table(tmp_path / "two" / "results.parquet")
    assert a.schema == b.schema
    assert _stats(a) == _stats(b)


def test_ray_gives_the_same_results_as_one_process(sweep_file, tmp_path, capsys, ray_tmp):
    path = sweep_file(seeds="1-2", grid={"agents.noise.p_market": [0.1, 0.3],
                                         "agents.noise.count": [10, 1_000_000_000]})
    rc, one, _ = _sweep([path, "--out", tmp_path / "one", "--workers", "1"], capsys)
    assert rc == 1 and one["failed"] == 4
    rc, ray, err = _sweep([path, "--out", tmp_path / "ray", "--workers", "2", "--backend",
                           "ray"], capsys)
    assert rc == 1, err
    assert "Ray" in ray["backend"] and ray["ok"] == 4 and ray["failed"] == 4
    a = _stats(pq.read_table(tmp_path / "one" / "results.parquet"))
    b = _stats(pq.read_table(tmp_path / "ray" / "results.parquet"))
    # the memory estimate's message quotes the memory available at the time: compare its kind
    for t in (a, b):
        t["error"] = [e and e.split(" GiB")[0] for e in t["error"]]
    assert a == b


def test_a_seeds_only_sweep_runs_the_scenario_over_seeds(sweep_file, tmp_path, capsys):
    rc, res, err = _sweep([sweep_file(seeds="3,1"), "--out", tmp_path / "out", "--workers", "1"],
                          capsys)
    assert rc == 0 and res["ok"] == 2, err
    t = pq.read_table(tmp_path / "out" / "results.parquet")
    assert t.column_names[:5] == FIXED + MIDDLE
    assert t.column("seed").to_pylist() == [3, 1]


def test_set_overrides_every_run(sweep_file, tmp_path, capsys):
    path = sweep_file(set=["market.close=00:20"], seeds="1",
                      grid={"agents.noise.p_market": [0.1, 0.2]})
    rc, res, err = _sweep([path, "--out", tmp_path / "out", "--workers", "1"], capsys)
    assert rc == 0, err
    t = pq.read_table(tmp_path / "out" / "results.parquet")
    assert t.column("summary.end_ns").to_pylist() == [20 * 60 * 10**9] * 2
    assert "market.close" not in t.column_names  # fixed, not a column


def test_the_example_sweep_file_is_valid():
    root = Path(__file__).resolve().parents[2]
    sw = load_sweep(root / "scenarios" / "sweeps" / "example.yaml")
    assert sw.mode == "grid" and len(sw.runs) == len(sw.seeds) * 4


def test_progress_reaches_the_total(sweep_file, tmp_path):
    from abmm.sweep import run_sweep

    seen = []
    res = run_sweep(sweep_file(seeds="1-2"), tmp_path / "out", workers=1,
                    progress=lambda done, total, row: seen.append((done, total)))
    assert res.ok == 2 and seen == [(1, 2), (2, 2)]


def test_address_joins_an_existing_ray_cluster(sweep_file, tmp_path, capsys, ray_tmp):
    """``ray start --head`` (as docs/sweeps.md says), then ``abmm sweep --address HOST:PORT``:
    the cluster runs the sweep, with the results of one process. The head is stopped by its
    own pid (``--block``), not ``ray stop``, which would stop every Ray on the machine."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen([str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--block"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None, "ray start --head exited"
                assert time.monotonic() < deadline, "the Ray head never answered"
                time.sleep(0.2)
        path = sweep_file(seeds="1-2", grid={"agents.noise.p_market": [0.1, 0.3]})
        proc = subprocess.run([sys.executable, "-m", "abmm.cli", "sweep", str(path), "--out",
                               str(tmp_path / "cluster"), "--address", f"127.0.0.1:{port}",
                               "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        res = json.loads(proc.stdout)
        assert res["ok"] == 4 and f"cluster at 127.0.0.1:{port}" in res["backend"]
    finally:
        head.terminate()
        head.wait(timeout=120)
    rc, _, err = _sweep([path, "--out", tmp_path / "one", "--workers", "1"], capsys)
    assert rc == 0, err
    a = pq.read_table(tmp_path / "one" / "results.parquet")
    b = pq.read_table(tmp_path / "cluster" / "results.parquet")
    assert _stats(a) == _stats(b)


def test_an_address_where_nothing_answers_is_one_line(sweep_file, tmp_path, capsys, ray_tmp):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["sweep", str(sweep_file(seeds="1")), "--out", str(tmp_path / "out"),
               "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot join the Ray cluster" in err and "ray start --head" in err
    assert not (tmp_path / "out").exists()
