"""``abmm run`` under real signals, in real processes: every way a run can end leaves either no
directory or one whose summary.json tells the truth (issue 13). The tests wait on readiness
markers the process writes (the run directory, a summary with a heartbeat), not on sleeps."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from abmm.rundir import open_run

SCENARIO = {"name": "sig", "seed": 1, "market": {"open": "09:30", "close": "16:00"},
            "agents": [{"kind": "noise", "count": 200,
                        "wake": {"kind": "poisson", "interval": "2s"}},
                       {"kind": "market_maker", "levels": 2}]}
#: A scenario whose build takes seconds (many agents): time to signal it mid-build.
SLOW_BUILD = {**SCENARIO, "agents": [{"kind": "noise", "count": 150_000}]}


def _start(tmp_path, scenario) -> tuple[subprocess.Popen, object]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "abmm.cli", "run", str(path), "--out",
                             str(out), "--no-facts"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, out


def _wait(cond, proc, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.02)


def _running(out) -> bool:
    try:
        s = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return s.get("status") == "running" and s.get("now_ns", 0) > s.get("start_ns", 0)


@pytest.mark.parametrize("sig,status", [("SIGTERM", 143), ("SIGINT", 130), ("SIGHUP", 130)])
def test_a_signal_mid_run_stops_it_with_a_truthful_record(tmp_path, sig, status):
    proc, out = _start(tmp_path, SCENARIO)
    _wait(lambda: _running(out), proc, "started running")
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert f"stopped by signal {sig}" in err and "Traceback" not in err
    run = open_run(out)
    assert run.state == "incomplete" and sig in run.summary["error"]
    assert run.events().num_rows == run.summary["events_logged"] > 0  # every row flushed
    assert run.start_ns < run.now_ns < run.end_ns


@pytest.mark.parametrize("sig,status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_during_the_build_leaves_no_directory(tmp_path, sig, status):
    proc, out = _start(tmp_path, SLOW_BUILD)
    _wait(out.exists, proc, "made the run directory")  # made just before the build starts
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "while building the market" in err and "Traceback" not in err
    assert not out.exists()


def test_a_killed_run_is_read_as_killed(tmp_path):
    proc, out = _start(tmp_path, SCENARIO)
    _wait(lambda: _running(out), proc, "started running")
    proc.kill()
    proc.communicate(timeout=60)
    run = open_run(out)
    assert run.summary["status"] == "running"  # the writer never got to say otherwise
    assert run.state == "killed"  # but its pid is gone
    assert run.now_ns == run.logged_until_ns <= run.end_ns  # nothing padded past the log
    assert "killed" in run.describe_incomplete()
